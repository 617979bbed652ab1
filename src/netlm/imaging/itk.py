"""SimpleITK images and the grids of :class:`~netlm.volume.ImageVolume`.

Which file names SimpleITK reads (NIfTI, NRRD, MetaImage) and reading them;
conversion between SimpleITK images and :class:`~netlm.volume.ImageVolume`;
continuous voxel indices to LPS points and back; the frame-of-reference check;
and :func:`resample_to`, a volume on the grid of another (physical LPS space),
re-exported by :mod:`netlm.imaging.io`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows

from netlm.errors import GeometryError
from netlm.imaging.errors import ImagingError, _first_line, _fmt_point
from netlm.imaging.limits import itk_file_problem
from netlm.volume import ImageVolume

__all__ = ["resample_to"]


#: File name endings read through SimpleITK, and the format each one is.
_ITK_FORMATS: Final[dict[str, str]] = {
    ".nii.gz": "NIfTI",
    ".nii": "NIfTI",
    ".nrrd": "NRRD",
    ".nhdr": "NRRD",
    ".mha": "MetaImage",
    ".mhd": "MetaImage",
}


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, fmt in _ITK_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return None


def _direction_matrix(volume: ImageVolume) -> np.ndarray:
    return np.asarray(volume.direction, dtype=float).reshape(3, 3)


def _index_to_lps(volume: ImageVolume, ijk: np.ndarray) -> np.ndarray:
    """LPS points (n, 3) of continuous indices (n, 3) in (i, j, k) order."""
    scaled = ijk * np.asarray(volume.spacing_mm, dtype=float)
    result: np.ndarray = scaled @ _direction_matrix(volume).T + np.asarray(volume.origin_mm)
    return result


def _lps_to_index(volume: ImageVolume, points: np.ndarray) -> np.ndarray:
    """Continuous (i, j, k) indices (n, 3) of LPS points (n, 3)."""
    inverse = np.linalg.inv(_direction_matrix(volume))
    result: np.ndarray = ((points - np.asarray(volume.origin_mm)) @ inverse.T) / np.asarray(
        volume.spacing_mm, dtype=float
    )
    return result


def _to_sitk(volume: ImageVolume) -> Any:
    array = volume.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    image: Any = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing([float(v) for v in volume.spacing_mm])
    image.SetOrigin([float(v) for v in volume.origin_mm])
    image.SetDirection([float(v) for v in volume.direction])
    return image


def _geometry_from_sitk(
    image: Any,
) -> tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, ...]]:
    sx, sy, sz = (float(v) for v in image.GetSpacing())
    ox, oy, oz = (float(v) for v in image.GetOrigin())
    direction = tuple(float(v) for v in image.GetDirection())
    return (sx, sy, sz), (ox, oy, oz), direction


def _frames_differ(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a != b


def _check_frame_of_reference(
    what: str, frame_of_reference_uid: str | None, reference: ImageVolume
) -> None:
    if _frames_differ(frame_of_reference_uid, reference.frame_of_reference_uid):
        raise GeometryError(
            f"{what}: frame of reference {frame_of_reference_uid} differs from the reference "
            f"image's {reference.frame_of_reference_uid}; the two were not acquired in one "
            "patient coordinate system (register them first)"
        )


def _read_itk(source: Path) -> Any:
    problem = itk_file_problem(source)  # size and completeness, from the header
    if problem is not None:
        raise ImagingError(f"{source}: {problem}")
    try:
        return sitk.ReadImage(str(source))
    except RuntimeError as exc:
        raise ImagingError(f"{source}: cannot be read: {_first_line(exc)}") from exc


def _is_slicer_segmentation(image: Any) -> bool:
    return any(re.fullmatch(r"Segment\d+_Name", key) for key in image.GetMetaDataKeys())


# =========================================================================== resampling
def _extent_overlaps(volume: ImageVolume, reference: ImageVolume) -> bool:
    """Whether the boxes covered by the two grids' voxels intersect."""
    ni, nj, nk = volume.shape_ijk
    corners = np.array(
        [[i, j, k] for i in (-0.5, ni - 0.5) for j in (-0.5, nj - 0.5) for k in (-0.5, nk - 0.5)]
    )
    inside = _lps_to_index(reference, _index_to_lps(volume, corners))
    low, high = inside.min(axis=0), inside.max(axis=0)
    limits = np.asarray(reference.shape_ijk, dtype=float) - 0.5
    return bool(np.all(high > -0.5) and np.all(low < limits))


def _resampled_array(
    volume: ImageVolume, reference: ImageVolume, kind: str, transform: Any = None
) -> np.ndarray:
    """``volume``'s values on ``reference``'s grid (0 outside it), through a SimpleITK
    ``transform`` (reference point -> volume point) when one is given: nearest neighbour for
    ``kind == "label"`` (a boolean mask stays boolean), else linear in float64."""
    resampler: Any = sitk.ResampleImageFilter()  # type: ignore[no-untyped-call]
    resampler.SetSize([int(n) for n in reference.shape_ijk])
    resampler.SetOutputSpacing([float(v) for v in reference.spacing_mm])
    resampler.SetOutputOrigin([float(v) for v in reference.origin_mm])
    resampler.SetOutputDirection([float(v) for v in reference.direction])
    resampler.SetDefaultPixelValue(0)
    if transform is not None:
        resampler.SetTransform(transform)
    if kind == "label":
        resampler.SetInterpolator(sitk.sitkNearestNeighbor)
    else:
        resampler.SetInterpolator(sitk.sitkLinear)
        resampler.SetOutputPixelType(sitk.sitkFloat64)
    array: np.ndarray = sitk.GetArrayFromImage(resampler.Execute(_to_sitk(volume)))
    return array.astype(bool) if volume.array.dtype == np.bool_ else array


def resample_to(
    volume: ImageVolume, reference: ImageVolume, *, kind: Literal["label", "linear"]
) -> ImageVolume:
    """``volume`` on the grid of ``reference`` (SimpleITK, physical LPS space).

    Parameters
    ----------
    volume
        The image to resample.  Its values, unit, reference time and metadata
        are kept.
    reference
        The grid to resample onto.
    kind
        ``"label"``: nearest neighbour, for masks and label maps (a boolean
        volume stays boolean); ``"linear"``: trilinear, for activity
        concentration, dose and CT.  Linear resampling preserves
        concentrations, not totals: multiply by the new voxel volume to sum
        activity.

    Raises
    ------
    GeometryError
        The two frames of reference differ, or the grids do not overlap at all.
        Voxels of ``reference`` outside ``volume`` get 0.
    ImagingError
        ``kind`` is neither ``"label"`` nor ``"linear"``.
    """
    if kind not in ("label", "linear"):
        raise ImagingError(f"Argument 'kind' must be 'label' or 'linear', not {kind!r}")
    _check_frame_of_reference("resample_to", volume.frame_of_reference_uid, reference)
    if not _extent_overlaps(volume, reference):
        raise GeometryError(
            "resample_to: the image and the reference grid do not overlap "
            f"(image origin {_fmt_point(volume.origin_mm)} mm, reference origin "
            f"{_fmt_point(reference.origin_mm)} mm)"
        )
    if volume.same_grid(reference):
        array = volume.array.copy()
    else:
        array = _resampled_array(volume, reference, kind)
    return ImageVolume(
        array=array,
        spacing_mm=reference.spacing_mm,
        origin_mm=reference.origin_mm,
        direction=reference.direction,
        unit=volume.unit,
        frame_of_reference_uid=volume.frame_of_reference_uid or reference.frame_of_reference_uid,
        reference_time=volume.reference_time,
        metadata=dict(volume.metadata),
    )
