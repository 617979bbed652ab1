"""Benchmark: ``dose_dvk(device="cuda")`` on a GPU (torch or cupy), against the CPU path.

Run with ``python benchmarks/bench_dose_gpu.py [--sizes 256 512] [--repeats 5]``
on a machine with an NVIDIA GPU and torch (or cupy) built for CUDA.  Without
one it says so and exits with status 0.

For each cubic grid (float32 activity, 4.42 mm voxels, 11³ kernel) it prints:

* ``gpu e2e``: ``dose_dvk(device="cuda")`` end to end — host-to-device copy,
  kernel spectrum, transforms, device-to-host copy;
* ``gpu floor``: one float32 forward + inverse real FFT of the padded grid on
  the device, data already there (synchronised);
* ``copies``: the host-to-device and device-to-host copies of the grid alone;
* ``cpu``: ``dose_dvk`` on the CPU with every core (``--cpu-repeats`` runs);

and the ratios e2e / floor and cpu / e2e.  Times are the best of the repeats.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dose import VOXEL_MM, make_kernel  # this folder, put on the path above

from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryWarning, dose_dvk


def gpu_backend() -> tuple[str, Any] | None:
    """torch or cupy with a CUDA device, or None."""
    for name in ("torch", "cupy"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        try:
            if name == "torch" and module.cuda.is_available():
                return name, module
            if name == "cupy" and module.cuda.runtime.getDeviceCount() > 0:
                return name, module
        except Exception:  # a broken driver means no GPU here
            continue
    return None


def best(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def device_tools(backend: tuple[str, Any]) -> tuple[Callable[[], None], str]:
    """(synchronise, device name) of the backend."""
    name, xp = backend
    if name == "torch":
        return xp.cuda.synchronize, str(xp.cuda.get_device_name(0))
    props = xp.cuda.runtime.getDeviceProperties(0)
    return xp.cuda.runtime.deviceSynchronize, props["name"].decode()


def bench(n: int, backend: tuple[str, Any], repeats: int, cpu_repeats: int) -> None:
    name, xp = backend
    sync, _ = device_tools(backend)
    kernel = make_kernel(VOXEL_MM)
    rng = np.random.default_rng(0)
    host = (rng.random((n, n, n), dtype=np.float32) * 1e5).astype(np.float32)
    activity = ImageVolume(host, (VOXEL_MM,) * 3, unit="Bq/mL")

    def gpu_e2e() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DosimetryWarning)
            return dose_dvk(activity, kernel, device="cuda")

    first = gpu_e2e()
    padded = tuple(int(p) for p in first.metadata["padded_shape"])  # type: ignore[union-attr]
    if not str(first.metadata["device"]).startswith("cuda"):
        print(f"  dose_dvk ran on {first.metadata['device']}, not the GPU")
        return

    if name == "torch":
        grid = xp.zeros(padded, dtype=xp.float32, device="cuda")

        def floor() -> object:
            out = xp.fft.irfftn(xp.fft.rfftn(grid), s=padded)
            sync()
            return out

        def copies() -> object:
            device = xp.from_numpy(host).to("cuda")
            back = device.cpu().numpy()
            sync()
            return back
    else:
        grid = xp.zeros(padded, dtype=xp.float32)

        def floor() -> object:
            out = xp.fft.irfftn(xp.fft.rfftn(grid), s=padded)
            sync()
            return out

        def copies() -> object:
            back = xp.asnumpy(xp.asarray(host))
            sync()
            return back

    floor()  # plans and warm-up
    t_e2e = best(repeats, gpu_e2e)
    t_floor = best(repeats, floor)
    t_copies = best(repeats, copies)

    def cpu() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DosimetryWarning)
            return dose_dvk(activity, kernel, workers=os.cpu_count() or 1)

    reference = cpu()
    t_cpu = best(cpu_repeats, cpu)
    error = float(
        np.max(np.abs(np.asarray(first.array) - reference.array)) / np.max(reference.array)
    )
    print(
        f"  {n:>4}^3 padded {padded}: gpu e2e {t_e2e:.3f} s, gpu floor {t_floor:.4f} s, "
        f"copies {t_copies:.3f} s, cpu ({os.cpu_count()} cores) {t_cpu:.3f} s; "
        f"e2e/floor {t_e2e / t_floor:.1f}, cpu/e2e {t_cpu / t_e2e:.1f}; "
        f"gpu vs cpu max relative difference {error:.1e}"
    )
    if not math.isfinite(error) or error > 1e-4:
        print("  WARNING: the GPU and CPU results differ more than float32 rounding")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu-repeats", type=int, default=2)
    args = parser.parse_args(argv)
    backend = gpu_backend()
    if backend is None:
        print("no GPU: neither torch nor cupy with a CUDA device is available; nothing to run")
        return 0
    _, device = device_tools(backend)
    print(f"netlm dose_dvk GPU benchmark: {backend[0]} on {device}")
    for n in args.sizes:
        bench(n, backend, args.repeats, args.cpu_repeats)
        if backend[0] == "torch":
            backend[1].cuda.empty_cache()
        else:
            backend[1].get_default_memory_pool().free_all_blocks()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
