"""Benchmark: ``netlm dose images`` on the bundled 90Y PET, before and after #16.

Run with ``python benchmarks/bench_dose_images.py [--repeats 3] [--method ldm]``.

*Before* is the earlier pipeline reproduced here: every segment of the
``.seg.nrrd`` made a full-resolution boolean mask, checked voxel by voxel
against the PET grid and resampled on its own; the dose map gzipped
(``dose.nii.gz``).  *After* is :func:`netlm.workflows.dose.compute_dose` as
shipped: each label layer resampled once and split afterwards, with the
default gzipped dose map and with ``--no-compress`` (``dose.nii``).  Both write every output
(dose map, RT Dose, DVH CSV and PNG, statistics).  Reported from runs
interleaved in one process (best of ``--repeats``): the whole use case, the
mask reading alone, and the peak memory of reading the masks (tracemalloc).
Compare ratios, not seconds, between machines.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from netlm.imaging import io
from netlm.volume import ImageVolume
from netlm.workflows import dose as workflow

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "shared" / "data"
PET = DATA / "y90-pet-maa-spect" / "patient_1_Y90_PET.nrrd"
SEG = DATA / "y90-pet-maa-spect" / "patient_1_Segmentation.seg.nrrd"
READ_MASKS = io.read_masks


def masks_one_by_one(
    path: str | Path, reference: ImageVolume | None = None, **_: Any
) -> dict[str, ImageVolume]:
    """The earlier ``read_masks``: each segment checked and resampled on its own."""
    masks = READ_MASKS(path)
    if reference is None:
        return masks
    return {
        name: io._fit(mask, reference, f"{path}: segment {name!r}", "warn")
        for name, mask in masks.items()
    }


@contextlib.contextmanager
def before() -> Iterator[None]:
    io.read_masks = masks_one_by_one  # type: ignore[assignment]
    try:
        yield
    finally:
        io.read_masks = READ_MASKS


def command(method: str, compress: bool, out: Path) -> Callable[[], object]:
    def run() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return workflow.compute_dose(
                PET,
                [SEG],
                out,
                method=method,
                activity_unit="Bq/mL",
                assume_implant_time_reference=True,
                compress=compress,
            )

    return run


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--method", choices=("ldm", "dvk"), default="ldm")
    args = parser.parse_args(argv)
    reference = io.read_image(PET, unit="Bq/mL")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        command(args.method, False, out / "warm")()  # imports, kernel cache
        best = {
            k: math.inf
            for k in ("before", "after", "after, no-compress", "masks before", "masks after")
        }
        for _ in range(args.repeats):
            with before():
                best["before"] = min(best["before"], seconds(command(args.method, True, out / "b")))
                best["masks before"] = min(
                    best["masks before"], seconds(lambda: io.read_masks(SEG, reference=reference))
                )
            best["after"] = min(best["after"], seconds(command(args.method, True, out / "a")))
            best["after, no-compress"] = min(
                best["after, no-compress"], seconds(command(args.method, False, out / "n"))
            )
            best["masks after"] = min(
                best["masks after"], seconds(lambda: io.read_masks(SEG, reference=reference))
            )
        with before():
            peak_before = peak(lambda: io.read_masks(SEG, reference=reference))
        peak_after = peak(lambda: io.read_masks(SEG, reference=reference))
        size = {p.name: p.stat().st_size for p in (out / "b").iterdir()}
        size.update({p.name: p.stat().st_size for p in (out / "n").iterdir()})
    print(f"netlm dose images ({args.method}) on {PET.name} + {SEG.name}")
    print(
        f"  whole use case: before {best['before']:.2f} s, after {best['after']:.2f} s, "
        f"ratio {best['after'] / best['before']:.2f}"
    )
    print(
        f"  whole use case with --no-compress: {best['after, no-compress']:.2f} s, ratio "
        f"{best['after, no-compress'] / best['before']:.2f}"
    )
    print(
        f"  reading the masks: before {best['masks before']:.2f} s, after "
        f"{best['masks after']:.2f} s, ratio {best['masks after'] / best['masks before']:.2f}; "
        f"peak {peak_before / 2**20:.0f} MiB -> {peak_after / 2**20:.0f} MiB "
        f"({peak_after / peak_before:.2f})"
    )
    print(
        f"  dose map: dose.nii.gz {size['dose.nii.gz'] / 1e6:.2f} MB, dose.nii "
        f"{size['dose.nii'] / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
