"""Benchmark: dose-voxel-kernel convolution (``netlm.voxel.dose.dose_dvk``) on the CPU.

Run with ``python benchmarks/bench_dose.py [--sizes 128 256] [--repeats 5]
[--workers N]``.  For each cubic grid (float64 activity, as PET readers give
it) and an 11³ 90Y kernel it reports, from runs in the same process:

* ``dvk``: ``dose_dvk`` (float32 FFT path) end to end — cast, kernel
  spectrum, transforms, crop;
* ``floor``: one float32 forward + inverse real FFT (``scipy.fft.rfftn`` +
  ``irfftn``) of the same padded grid — the least any FFT convolution does;
* ``baseline``: ``scipy.signal.fftconvolve(mode="same")`` in float64;

the ratios dvk / floor (target <= 1.5) and baseline / dvk (target >= 2), both
with one thread and with ``--workers`` threads (default all CPUs), and the
peak memory ``dose_dvk`` allocates (tracemalloc: numpy arrays, as a multiple
of the float64 input).  Times are the best of ``--repeats`` interleaved runs.
Compare ratios, not seconds, between machines.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sfft
from scipy import signal

from netlm.sirt.physics import Physics
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryWarning, dose_dvk

VOXEL_MM = 4.42  # one of the Lanconelli 2012 voxel sizes


@dataclass(frozen=True)
class _GaussianKernel:
    """Stand-in with the DoseKernel shape when netlm.voxel.kernels is not there."""

    values: np.ndarray
    voxel_mm: tuple[float, float, float]
    density_g_per_ml: float = 1.03
    source: str = "Gaussian stand-in, 11x11x11"
    metadata: dict[str, object] = field(default_factory=dict)

    def energy_fraction(self) -> float:
        return 1.0


def make_kernel(voxel_mm: float) -> Any:
    """A real 90Y kernel for the voxel when netlm.voxel.kernels has one, else a stand-in."""
    try:
        from netlm.voxel import kernels
    except ImportError:
        pass
    else:
        if hasattr(kernels, "y90_kernel"):
            return kernels.y90_kernel((voxel_mm,) * 3, density_g_per_ml=1.03)
    r = np.arange(-5, 6) * voxel_mm
    z, y, x = np.meshgrid(r, r, r, indexing="ij")
    g = np.exp(-(x**2 + y**2 + z**2) / (2.0 * 2.0**2))
    physics = Physics()
    joule = physics.dose_constant_gy_kg_per_gbq / (
        1e9 * physics.y90_half_life_h * 3600.0 / math.log(2.0)
    )
    voxel_kg = 1.03 * voxel_mm**3 / 1e6
    return _GaussianKernel(g / g.sum() * joule * 1e9 / voxel_kg, (voxel_mm,) * 3)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def peak_bytes(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def bench(n: int, kernel: Any, repeats: int, workers: int) -> None:
    rng = np.random.default_rng(0)
    activity = ImageVolume(rng.random((n, n, n)) * 1e5, (VOXEL_MM,) * 3, unit="Bq/mL")
    kernel_values = np.asarray(kernel.values, dtype=np.float64)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DosimetryWarning)
        reference = dose_dvk(activity, kernel, workers=1)
    padded = tuple(int(p) for p in reference.metadata["padded_shape"])  # type: ignore[union-attr]
    grid = np.zeros(padded, dtype=np.float32)
    grid[:n, :n, :n] = activity.array

    def dvk(w: int) -> Callable[[], object]:
        def run() -> object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DosimetryWarning)
                return dose_dvk(activity, kernel, workers=w)

        return run

    def floor(w: int) -> Callable[[], object]:
        return lambda: sfft.irfftn(sfft.rfftn(grid, workers=w), s=padded, workers=w)

    def baseline(w: int) -> Callable[[], object]:
        def run() -> object:
            with sfft.set_workers(w):
                return signal.fftconvolve(activity.array, kernel_values, mode="same")

        return run

    # Accuracy of the float32 path against the float64 one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DosimetryWarning)
        exact = dose_dvk(activity, kernel, dtype=np.float64, workers=workers)
    error = float(np.max(np.abs(reference.array - exact.array)) / np.max(exact.array))

    print(f"\n{n}^3 grid, kernel {kernel_values.shape} ({kernel.source}), padded to {padded}")
    print(f"  float32 result vs float64: max relative error {error:.1e}")
    print(
        f"  {'threads':>7} {'clock':>5} {'dvk s':>8} {'floor s':>8} {'baseline s':>10} "
        f"{'dvk/floor':>9} {'baseline/dvk':>12}"
    )
    for w in sorted({1, workers}):
        # Interleaved, best of each: a busy machine slows all three alike.
        runs = {"dvk": dvk(w), "floor": floor(w), "baseline": baseline(w)}
        wall = dict.fromkeys(runs, math.inf)
        cpu = dict.fromkeys(runs, math.inf)
        for _ in range(repeats):
            for name, run in runs.items():
                t_wall, t_cpu = timed(run)
                wall[name] = min(wall[name], t_wall)
                cpu[name] = min(cpu[name], t_cpu)
        # CPU time is steadier on a shared machine, but only comparable with one thread.
        clocks = {"wall": wall, "cpu": cpu} if w == 1 else {"wall": wall}
        for clock, t in clocks.items():
            print(
                f"  {w:>7} {clock:>5} {t['dvk']:>8.3f} {t['floor']:>8.3f} {t['baseline']:>10.3f} "
                f"{t['dvk'] / t['floor']:>9.2f} {t['baseline'] / t['dvk']:>12.2f}"
            )
    peak = peak_bytes(dvk(workers))
    base_peak = peak_bytes(baseline(workers))
    size = activity.array.nbytes
    print(
        f"  peak memory allocated: dvk {peak / 2**20:.0f} MiB ({peak / size:.2f}x the float64 "
        f"input), baseline {base_peak / 2**20:.0f} MiB ({base_peak / size:.2f}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    kernel = make_kernel(VOXEL_MM)
    print(f"netlm dose_dvk benchmark: {os.cpu_count()} CPUs, numpy {np.__version__}")
    for n in args.sizes:
        bench(n, kernel, args.repeats, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
