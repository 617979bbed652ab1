"""RTSTRUCT contours that enclose no area (a single point, two points, points on one
line) are skipped with a warning naming the ROI and the contour (issue 11); the
structure sets are real DICOM files built as in ``test_io.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from test_io import CT_DICOM, _rtstruct, _square

from netlm.imaging.io import ImagingError, ImagingWarning, read_image, read_masks
from netlm.volume import ImageVolume


@pytest.fixture(scope="module")
def ct() -> ImageVolume:
    return read_image(CT_DICOM)


def _with_contour_numbers(path: Path) -> Path:
    ds = pydicom.dcmread(path)
    for item in ds.ROIContourSequence:
        for number, contour in enumerate(item.ContourSequence, start=1):
            contour.ContourNumber = number
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (lambda z: [10.0, -250.0, z], "has 1 point "),
        (lambda z: [10.0, -250.0, z, 20.0, -250.0, z], "has 2 points"),
        (lambda z: [0.0, -250.0, z, 10.0, -250.0, z, 30.0, -250.0, z], "on one line"),
        (lambda z: [5.0, -250.0, z] * 4, "on one line"),
    ],
    ids=["single-point", "two-points", "collinear", "repeated-point"],
)
def test_rtstruct_degenerate_contour_is_skipped_with_a_warning(
    ct: ImageVolume, tmp_path: Path, bad: Callable[[float], list[float]], why: str
) -> None:
    z = [ct.origin_mm[2] + k * ct.spacing_mm[2] for k in (4, 5)]
    frame = ct.frame_of_reference_uid or ""
    square = _square((-50, 50), (-300, -200), z[0])
    path = _with_contour_numbers(
        _rtstruct(
            tmp_path / "rs.dcm",
            frame,
            {"liver": [square, bad(z[1])], "marker": [bad(z[0])]},
        )
    )
    with pytest.warns(ImagingWarning) as caught:
        masks = read_masks(path, ct)
    messages = [str(w.message) for w in caught]
    assert any("ROI 'liver' contour 2" in m and why in m and "skipped" in m for m in messages)
    assert any("ROI 'marker' contour 1" in m and why in m for m in messages)
    # The good contour of the same ROI is read as if the degenerate one were not there.
    alone = _rtstruct(tmp_path / "alone.dcm", frame, {"liver": [square]})
    expected = read_masks(alone, ct)["liver"].array
    assert np.array_equal(masks["liver"].array, expected) and expected.sum() > 0
    # An ROI made only of degenerate contours has no mask, and the warning says so.
    assert "marker" not in masks
    assert any("skipped: marker" in m for m in messages)


def test_rtstruct_contour_with_a_broken_point_is_still_refused(
    ct: ImageVolume, tmp_path: Path
) -> None:
    z = ct.origin_mm[2] + 4 * ct.spacing_mm[2]
    frame = ct.frame_of_reference_uid or ""
    broken = _square((-50, 50), (-300, -200), z)[:-1]  # 11 values: not whole points
    path = _rtstruct(tmp_path / "b.dcm", frame, {"liver": [broken]})
    with pytest.raises(ImagingError, match="ROI 'liver' has a contour of 11 values"):
        read_masks(path, ct)
