"""Benchmark: dose-voxel-kernel convolution (``netlm.voxel.dose.dose_dvk``) on the CPU.

Run with ``python benchmarks/bench_dose.py [--sizes 128 256] [--repeats 5]
[--workers N]``.  For each cubic grid (float64 activity, as PET readers give
it) and an 11³ 90Y kernel it reports, from runs in the same process:

* ``dvk``: ``dose_dvk`` (float32 FFT path) end to end — cast, kernel
  spectrum, transforms, crop;
* ``floor``: one float32 forward + inverse real FFT (``scipy.fft.rfftn`` +
  ``irfftn``) of the same padded grid — the least any FFT convolution does;
* ``baseline``: ``scipy.signal.fftconvolve(mode="same")`` in float64;

* ``old``: ``dose_dvk`` with the whole-array first and last passes it had
  before #16 (reproduced here, :func:`old_fft_convolve_cpu`);

the ratios dvk / floor (target <= 1.5), baseline / dvk (target >= 2) and
dvk / old, both with one thread and with ``--workers`` threads (default all
CPUs), the thread speed-up (1-thread time / ``--workers``-thread time) of dvk,
old and floor, and the peak memory ``dose_dvk`` allocates, slab-wise and old
(tracemalloc: numpy arrays, as a multiple of the float64 input).  Times are
the best of ``--repeats`` interleaved runs.  ``--no-baseline`` skips the slow
float64 ``fftconvolve``.  Compare ratios, not seconds, between machines.
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
from netlm.voxel import dose as vd
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


def old_fft_convolve_cpu(
    activity: np.ndarray,
    make_spectrum: Callable[[], np.ndarray],
    padded: tuple[int, int, int],
    *,
    dtype: np.dtype[Any],
    workers: int,
    density_scale: Any = None,
) -> np.ndarray:
    """The whole-array passes of dose_dvk before #16 (spectrum computed first)."""
    spectrum = make_spectrum()
    nk, nj, ni = activity.shape
    pk, pj, pi = padded
    x = np.zeros((nk, nj, pi), dtype=dtype)
    x[:, :, :ni] = activity
    spec = np.zeros((pk, pj, pi // 2 + 1), dtype=np.result_type(dtype, np.complex64))
    spec[:nk, :nj] = sfft.rfft(x, axis=2, workers=workers)
    del x
    slab = spec[:nk]
    vd._in_place(sfft.fft(slab, axis=1, workers=workers, overwrite_x=True), slab)
    vd._in_place(sfft.fft(spec, axis=0, workers=workers, overwrite_x=True), spec)
    vd._apply_spectrum_planes(spec, spectrum, (0, pk))
    vd._in_place(sfft.ifft(spec, axis=0, workers=workers, overwrite_x=True), spec)
    vd._in_place(sfft.ifft(slab, axis=1, workers=workers, overwrite_x=True), slab)
    out = sfft.irfft(slab[:, :nj], n=pi, axis=2, workers=workers)
    dose = np.ascontiguousarray(out[:, :, :ni])
    if density_scale is not None:
        dose = (dose * density_scale(0, nk)).astype(dtype, copy=False)
    return dose


def old_dose_dvk(*args: Any, **kwargs: Any) -> Any:
    new = vd._fft_convolve_cpu
    vd._fft_convolve_cpu = old_fft_convolve_cpu  # type: ignore[assignment]
    try:
        return dose_dvk(*args, **kwargs)
    finally:
        vd._fft_convolve_cpu = new


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


def bench(n: int, kernel: Any, repeats: int, workers: int, baseline_too: bool = True) -> None:
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

    def old(w: int) -> Callable[[], object]:
        def run() -> object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DosimetryWarning)
                return old_dose_dvk(activity, kernel, workers=w)

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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DosimetryWarning)
        same = np.array_equal(reference.array, old_dose_dvk(activity, kernel, workers=1).array)
    print(f"  float32 result vs float64: max relative error {error:.1e}")
    print(f"  slab-wise passes bit-identical to the old whole-array ones: {same}")
    print(
        f"  {'threads':>7} {'clock':>5} {'dvk s':>8} {'old s':>8} {'floor s':>8} "
        f"{'baseline s':>10} {'dvk/floor':>9} {'baseline/dvk':>12} {'dvk/old':>8}"
    )
    walls: dict[int, dict[str, float]] = {}
    for w in sorted({1, workers}):
        # Interleaved, best of each: a busy machine slows all alike.
        runs = {"dvk": dvk(w), "old": old(w), "floor": floor(w)}
        if baseline_too:
            runs["baseline"] = baseline(w)
        wall = dict.fromkeys(runs, math.inf)
        cpu = dict.fromkeys(runs, math.inf)
        for _ in range(repeats):
            for name, run in runs.items():
                t_wall, t_cpu = timed(run)
                wall[name] = min(wall[name], t_wall)
                cpu[name] = min(cpu[name], t_cpu)
        walls[w] = wall
        # CPU time is steadier on a shared machine, but only comparable with one thread.
        clocks = {"wall": wall, "cpu": cpu} if w == 1 else {"wall": wall}
        for clock, t in clocks.items():
            base = t.get("baseline", math.nan)
            print(
                f"  {w:>7} {clock:>5} {t['dvk']:>8.3f} {t['old']:>8.3f} {t['floor']:>8.3f} "
                f"{base:>10.3f} {t['dvk'] / t['floor']:>9.2f} {base / t['dvk']:>12.2f} "
                f"{t['dvk'] / t['old']:>8.2f}"
            )
    if workers > 1:
        one, many = walls[1], walls[workers]
        print(
            f"  {workers} threads vs 1 (wall): dvk {one['dvk'] / many['dvk']:.2f}x, old "
            f"{one['old'] / many['old']:.2f}x, floor {one['floor'] / many['floor']:.2f}x"
        )
    peak = peak_bytes(dvk(workers))
    old_peak = peak_bytes(old(workers))
    size = activity.array.nbytes
    line = (
        f"  peak memory allocated: dvk {peak / 2**20:.0f} MiB ({peak / size:.2f}x the float64 "
        f"input), old {old_peak / 2**20:.0f} MiB ({old_peak / size:.2f}x)"
    )
    if baseline_too:
        base_peak = peak_bytes(baseline(workers))
        line += f", baseline {base_peak / 2**20:.0f} MiB ({base_peak / size:.2f}x)"
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-baseline", action="store_true", help="skip scipy fftconvolve")
    args = parser.parse_args(argv)
    kernel = make_kernel(VOXEL_MM)
    print(f"netlm dose_dvk benchmark: {os.cpu_count()} CPUs, numpy {np.__version__}")
    for n in args.sizes:
        bench(n, kernel, args.repeats, args.workers, not args.no_baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
