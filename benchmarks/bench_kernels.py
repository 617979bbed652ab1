"""Benchmark: 90Y dose-voxel kernels, computed versus read from the cache.

Run with ``python benchmarks/bench_kernels.py [HISTORIES]``.  Works in a
temporary cache directory (the user's cache is not touched) and reports, in
the same run:

* the first kernel: Monte Carlo transport of the dose point kernel (DPK) plus
  the voxelisation;
* a kernel for a new voxel size, whose DPK is already cached: voxelisation only;
* a cache hit: reading the kernel file.

The ratios against the cache hit, not the absolute times, are what to compare
between machines.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from netlm.voxel.kernels import DEFAULT_HISTORIES, y90_kernel

#: Voxel sizes (mm) asked for after the first kernel: each is new to the cache.
NEW_SIZES: tuple[float | tuple[float, float, float], ...] = (
    2.0,
    3.0,
    4.42,
    (4.0, 4.0, 6.0),
    (2.0, 2.0, 3.27),
    1.0,
)


def _seconds(voxel_mm: float | tuple[float, float, float], histories: int, cache: Path) -> float:
    """Wall time of one y90_kernel call (density 1.03 g/mL)."""
    t0 = time.perf_counter()
    y90_kernel(voxel_mm, density_g_per_ml=1.03, histories=histories, cache_dir=cache)
    return time.perf_counter() - t0


def main(histories: int = DEFAULT_HISTORIES) -> None:
    with tempfile.TemporaryDirectory(prefix="netlm-bench-kernels-") as tmp:
        cache = Path(tmp)
        first = _seconds(4.0, histories, cache)
        new_size = {str(size): _seconds(size, histories, cache) for size in NEW_SIZES}
        hits = [_seconds(4.0, histories, cache) for _ in range(20)]

    hit = statistics.median(hits)
    median_new = statistics.median(new_size.values())
    print(f"histories: {histories}, density 1.03 g/mL")
    print(f"first kernel (transport + voxelisation): {first:8.3f} s")
    for size, seconds in new_size.items():
        print(f"new voxel size {size:>20} mm:    {seconds:8.3f} s")
    print(f"cache hit (median of {len(hits)}):            {hit * 1e3:8.2f} ms (baseline)")
    print(f"first kernel / cache hit:    {first / hit:10.0f}x")
    print(f"new voxel size / cache hit:  {median_new / hit:10.0f}x (median over sizes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_HISTORIES)
