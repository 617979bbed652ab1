"""Reading images and masks into :class:`~netlm.volume.ImageVolume`; resampling; activity.

Everything that leaves this module is on an LPS grid (DICOM patient
coordinates): NIfTI files, which are RAS, are converted by SimpleITK when they
are read; DICOM geometry is taken from Image Position/Orientation (Patient).

Readers
-------
:func:`read_image`
    NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``), MetaImage
    (``.mha``, ``.mhd``) and DICOM: a folder holding one series (CT, PET, MR...,
    one slice a file), or one multi-frame file (NM SPECT reconstructions,
    enhanced multi-frame images, RT Dose).  PET values are in ``Bq/mL`` when
    Units is ``BQML``, with the decay-correction reference time and the
    radiopharmaceutical in ``metadata``; CT values are in ``HU``; NM values in
    ``counts`` unless the file says otherwise.
:func:`read_masks`
    3D Slicer ``.seg.nrrd`` segmentations, label maps (NIfTI, NRRD,
    MetaImage), DICOM Segmentation objects (highdicom) and RT Structure Sets
    (contours rasterised onto the reference grid).  Masks are boolean
    volumes with unit ``"label"``, keyed by segment name.

Errors name the file: an unreadable or non-image file, a folder with more than
one series, a series with a missing slice (the missing position is named),
pixel data in a transfer syntax no installed decoder handles.  Errors about
input are :class:`ImagingError`; errors about grids and frames of reference
are :class:`~netlm.errors.GeometryError`.  Both are ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from netlm.errors import GeometryError, NetlmError, UnitError
from netlm.imaging.limits import dicom_problem, itk_file_problem, label_count_problem
from netlm.sirt.physics import decay_factor, hours_between
from netlm.units import S_PER_H, convert
from netlm.volume import ImageVolume

__all__ = [
    "ImagingError",
    "ImagingWarning",
    "decay_correct",
    "dicom_files",
    "read_image",
    "read_masks",
    "resample_to",
    "to_bq_per_ml",
]


class ImagingError(NetlmError, ValueError):
    """An image or mask file cannot be read, or holds something netlm cannot use.

    The message names the file (or folder) and says what is wrong with it.
    """


class ImagingWarning(UserWarning):
    """An image or mask was read, but something about it deserves a look.

    For example a mask part of which lies outside the reference image (the
    outside part is dropped), or segments with the same name.
    """


#: File name endings read through SimpleITK, and the format each one is.
_ITK_FORMATS: Final[dict[str, str]] = {
    ".nii.gz": "NIfTI",
    ".nii": "NIfTI",
    ".nrrd": "NRRD",
    ".nhdr": "NRRD",
    ".mha": "MetaImage",
    ".mhd": "MetaImage",
}

#: DICOM PET Units (0054,1001) and the netlm unit they mean.
_DICOM_UNITS: Final[dict[str, str]] = {
    "BQML": "Bq/mL",
    "CNTS": "counts",
    "GML": "g/mL",
}

#: Spellings of activity-concentration units and the factor to Bq/mL (from
#: netlm.units, the one unit table).
_CONCENTRATION_TO_BQ_PER_ML: Final[dict[str, float]] = {
    spelling: convert(1.0, canonical, "Bq/mL", analyte="activity_concentration")
    for spelling, canonical in (
        ("bq/ml", "Bq/mL"),
        ("bqml", "Bq/mL"),
        ("bq/cc", "Bq/mL"),
        ("bq/cm3", "Bq/mL"),
        ("kbq/ml", "kBq/mL"),
        ("kbq/cc", "kBq/mL"),
        ("mbq/ml", "MBq/mL"),
        ("mbq/cc", "MBq/mL"),
    )
}

#: Spellings of activity per voxel and the factor to Bq (netlm.units).
_ACTIVITY_TO_BQ: Final[dict[str, float]] = {
    spelling: convert(1.0, spelling, "Bq", analyte="voxel_activity")
    for spelling in ("bq", "kbq", "mbq")
}

_COUNT_UNITS: Final[frozenset[str]] = frozenset({"counts", "cnts", "count"})

#: Tolerances of the geometry checks.
_ORIENTATION_TOL: Final = 1e-4  # direction cosines
_SPACING_TOL_MM: Final = 1e-3  # pixel spacing, positions
_IN_PLANE_TOL_MM: Final = 1e-2  # how far a slice may sit beside the stack axis
_SLICE_STEP_RTOL: Final = 1e-2  # slice steps differing by more than 1 % are not uniform

_RTSTRUCT_SOP_CLASS: Final = "1.2.840.10008.5.1.4.1.1.481.3"
_SEG_SOP_CLASS: Final = "1.2.840.10008.5.1.4.1.1.66.4"
_DICOMDIR_SOP_CLASS: Final = "1.2.840.10008.1.3.10"


# =========================================================================== helpers
def _fmt(value: float) -> str:
    """A coordinate in mm for a message: three decimals at most, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _fmt_point(point: Iterable[float]) -> str:
    return "(" + ", ".join(_fmt(float(v)) for v in point) + ")"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # SimpleITK puts the useful sentence last, after the source location.
    return lines[-1] if lines else type(exc).__name__


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


# =========================================================================== read_image
def read_image(
    path: str | Path,
    *,
    unit: str | None = None,
    series_uid: str | None = None,
    timezone: dt.tzinfo | None = None,
) -> ImageVolume:
    """Read a 3-D image into an :class:`ImageVolume` in LPS.

    Parameters
    ----------
    path
        A NIfTI, NRRD or MetaImage file; a DICOM file (multi-frame NM, enhanced
        multi-frame, RT Dose, or a single slice); or a folder holding a DICOM
        series (searched recursively; files that are not DICOM images are
        skipped and listed in ``metadata["skipped_files"]``).
    unit
        The unit of the values where the file records none (NIfTI, NRRD,
        MetaImage, NM without Units): e.g. ``"Bq/mL"`` for the 90Y PET NRRD
        files of 3D Slicer.  Where a DICOM file states its unit, ``unit`` must
        agree with it.
    series_uid
        Which series to read when a folder holds more than one.
    timezone
        The time zone of DICOM dates and times, used when a file carries no
        Timezone Offset From UTC (0008,0201).  Without either, the image has no
        ``reference_time`` and the local time is kept in
        ``metadata["reference_time_local"]``.

    Returns
    -------
    ImageVolume
        ``metadata`` holds ``format``, ``source`` and, for DICOM, ``modality``,
        ``series_instance_uid``, ``study_instance_uid``, ``sop_class_uid``,
        ``series_description``, ``transfer_syntax``; for PET also
        ``decay_correction``, ``reference_time_basis``, ``radiopharmaceutical``,
        ``radionuclide``, ``radionuclide_half_life_s``, ``injected_activity_bq``
        and ``administration_time`` when the file has them.

    Raises
    ------
    ImagingError
        The path does not exist, is not an image netlm reads, is unreadable,
        holds more than one series, or its pixel data cannot be decoded.
    GeometryError
        The slices of a DICOM series do not form a regular grid (a missing
        slice, two slices at one position, mixed orientations, gantry tilt).
    """
    source = Path(path)
    if not source.exists():
        raise ImagingError(f"{source}: no such file or folder")
    if source.is_dir():
        return _read_dicom_folder(source, unit=unit, series_uid=series_uid, timezone=timezone)
    fmt = _format_of(source)
    if fmt is not None:
        return _read_itk_image(source, fmt, unit=unit)
    header = _read_dicom_header(source)
    if header is None:
        raise ImagingError(
            f"{source}: not an image netlm reads (NIfTI .nii/.nii.gz, NRRD .nrrd/.nhdr, "
            "MetaImage .mha/.mhd, or DICOM)"
        )
    if not _is_image(header):
        what = str(header.get("Modality", "") or "") or "DICOM"
        raise ImagingError(
            f"{source}: a {what} file without an image (no Rows/Columns: not an image "
            "object, or the file is truncated)"
        )
    if series_uid is not None and str(header.get("SeriesInstanceUID", "")) != series_uid:
        raise ImagingError(
            f"{source}: belongs to series {header.get('SeriesInstanceUID')!s}, not {series_uid}"
        )
    return _read_dicom_series([(source, header)], source, unit=unit, timezone=timezone, skipped=[])


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


def _read_itk_image(source: Path, fmt: str, *, unit: str | None) -> ImageVolume:
    image = _read_itk(source)
    if image.GetNumberOfComponentsPerPixel() != 1:
        if _is_slicer_segmentation(image):
            raise ImagingError(f"{source}: is a 3D Slicer segmentation; read it with read_masks")
        raise ImagingError(
            f"{source}: has {image.GetNumberOfComponentsPerPixel()} values per voxel; "
            "netlm reads scalar images only"
        )
    if image.GetDimension() != 3:
        raise ImagingError(f"{source}: is {image.GetDimension()}-D; netlm reads 3-D images")
    spacing, origin, direction = _geometry_from_sitk(image)
    return ImageVolume(
        array=sitk.GetArrayFromImage(image),
        spacing_mm=spacing,
        origin_mm=origin,
        direction=direction,
        unit=unit or "",
        metadata={"format": fmt, "source": str(source)},
    )


# --------------------------------------------------------------------------- DICOM files
def _read_dicom_header(source: Path) -> Dataset | None:
    """The header of a DICOM file; ``None`` when the file is not DICOM."""
    try:
        return pydicom.dcmread(source, stop_before_pixels=True)
    except InvalidDicomError:
        return None
    except Exception as exc:  # pydicom raises many types for a damaged file
        raise ImagingError(f"{source}: unreadable DICOM file: {exc}") from exc


def _files_below(folder: Path) -> list[Path]:
    """Every file below ``folder`` (subfolders too) by path, hidden files and folders skipped."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def dicom_files(folder: str | Path) -> list[Path]:
    """The DICOM files below ``folder`` (in subfolders too), sorted by path.

    Files and folders whose name starts with a dot are skipped, and so are files
    that are not DICOM (no DICOM preamble or header); only the headers are read.

    Raises
    ------
    ImagingError
        A DICOM file's header cannot be read (the message names the file).
    """
    return [f for f in _files_below(Path(folder)) if _read_dicom_header(f) is not None]


def _is_image(header: Dataset) -> bool:
    sop_class = str(header.get("SOPClassUID", "")) or str(
        getattr(header.get("file_meta"), "MediaStorageSOPClassUID", "")
    )
    return (
        "Rows" in header
        and "Columns" in header
        and sop_class not in {_DICOMDIR_SOP_CLASS, _SEG_SOP_CLASS}
        and str(header.get("Modality", "")) != "SEG"
    )


def _read_dicom_folder(
    folder: Path, *, unit: str | None, series_uid: str | None, timezone: dt.tzinfo | None
) -> ImageVolume:
    series: dict[str, list[tuple[Path, Dataset]]] = {}
    skipped: list[str] = []
    for file in _files_below(folder):
        header = _read_dicom_header(file)
        if header is None or not _is_image(header):
            skipped.append(str(file))
            continue
        series.setdefault(str(header.get("SeriesInstanceUID", "")), []).append((file, header))
    if not series:
        raise ImagingError(f"{folder}: holds no DICOM image ({len(skipped)} other files)")
    if series_uid is not None:
        if series_uid not in series:
            raise ImagingError(
                f"{folder}: has no series {series_uid}; it holds " + _describe_series(series)
            )
        chosen = series[series_uid]
    elif len(series) > 1:
        raise ImagingError(
            f"{folder}: holds more than one series: {_describe_series(series)}; "
            "choose one with series_uid="
        )
    else:
        chosen = next(iter(series.values()))
    return _read_dicom_series(chosen, folder, unit=unit, timezone=timezone, skipped=skipped)


def _describe_series(series: Mapping[str, list[tuple[Path, Dataset]]]) -> str:
    parts = []
    for uid, files in series.items():
        header = files[0][1]
        description = str(header.get("SeriesDescription", "")).strip()
        parts.append(
            f"{uid or '(no Series Instance UID)'} ({header.get('Modality', '?')!s}, "
            f"{len(files)} files{', ' + repr(description) if description else ''}, "
            f"e.g. {files[0][0].name})"
        )
    return "; ".join(parts)


@dataclasses.dataclass
class _Frame:
    """One 2-D frame of a DICOM series and where it lies."""

    file: Path
    index: int | None  # frame within a multi-frame file; None for a single-frame file
    position: np.ndarray
    row_cosine: np.ndarray  # direction of increasing column index (i)
    column_cosine: np.ndarray  # direction of increasing row index (j)
    pixel_spacing: tuple[float, float]  # (between rows, between columns) in mm
    rows: int
    columns: int
    slope: float = 1.0
    intercept: float = 0.0


def _floats(value: Any, count: int, what: str, file: Path) -> np.ndarray:
    # pydicom gives a multi-valued element holding one value as that value.
    values = value if isinstance(value, list | tuple | MultiValue) else [value]
    try:
        numbers = np.asarray([float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ImagingError(f"{file}: {what} is not {count} numbers: {value!r}") from exc
    if numbers.shape != (count,) or not np.all(np.isfinite(numbers)):
        raise ImagingError(f"{file}: {what} is not {count} numbers: {value!r}")
    return numbers


def _orientation(value: Any, file: Path) -> tuple[np.ndarray, np.ndarray]:
    cosines = _floats(value, 6, "Image Orientation (Patient)", file)
    row, column = cosines[:3], cosines[3:]
    if (
        abs(np.linalg.norm(row) - 1.0) > 1e-3
        or abs(np.linalg.norm(column) - 1.0) > 1e-3
        or abs(float(row @ column)) > 1e-3
    ):
        raise GeometryError(
            f"{file}: Image Orientation (Patient) {list(cosines)} is not two orthogonal "
            "unit vectors"
        )
    return row / np.linalg.norm(row), column / np.linalg.norm(column)


def _rescale(item: Dataset) -> tuple[float, float]:
    slope = item.get("RescaleSlope")
    intercept = item.get("RescaleIntercept")
    return (
        1.0 if slope in (None, "") else float(slope),
        0.0 if intercept in (None, "") else float(intercept),
    )


def _required(header: Dataset, keyword: str, file: Path) -> Any:
    value = header.get(keyword)
    if value is None or value == "":
        raise ImagingError(f"{file}: has no {keyword}; not a slice of a 3-D image")
    return value


def _frames_of(file: Path, header: Dataset) -> list[_Frame]:
    """The frames of one DICOM file with their geometry (no pixel data read)."""
    modality = str(header.get("Modality", ""))
    rows, columns = int(header.Rows), int(header.Columns)
    n_frames = int(header.get("NumberOfFrames", 1) or 1)
    if int(header.get("SamplesPerPixel", 1) or 1) != 1:
        raise ImagingError(f"{file}: is a colour image; netlm reads greyscale volumes only")

    if "PerFrameFunctionalGroupsSequence" in header:
        return _enhanced_frames(file, header, rows, columns, n_frames)

    if modality == "NM":
        return _nm_frames(file, header, rows, columns, n_frames)

    row, column = _orientation(_required(header, "ImageOrientationPatient", file), file)
    position = _floats(_required(header, "ImagePositionPatient", file), 3, "Image Position", file)
    spacing = _floats(_required(header, "PixelSpacing", file), 2, "Pixel Spacing", file)
    base = _Frame(file, None, position, row, column, (spacing[0], spacing[1]), rows, columns)

    if modality == "RTDOSE":
        offsets = _floats(
            _required(header, "GridFrameOffsetVector", file),
            n_frames,
            "Grid Frame Offset Vector",
            file,
        )
        normal = np.cross(row, column)
        if offsets[0] != 0.0:  # absolute z positions, allowed for axial grids only
            if not np.allclose(normal, (0.0, 0.0, 1.0), atol=_ORIENTATION_TOL):
                raise GeometryError(
                    f"{file}: Grid Frame Offset Vector holds absolute positions on an "
                    "oblique grid, which the standard does not allow"
                )
            offsets = offsets - position[2]
        scaling = float(_required(header, "DoseGridScaling", file))
        return [
            dataclasses.replace(
                base, index=k, position=position + off * normal, slope=scaling, intercept=0.0
            )
            for k, off in enumerate(offsets)
        ]
    if n_frames != 1:
        raise ImagingError(
            f"{file}: a {modality or 'DICOM'} multi-frame image without per-frame geometry "
            "(no Per-frame Functional Groups); netlm cannot place its frames"
        )
    slope, intercept = _rescale(header)
    return [dataclasses.replace(base, slope=slope, intercept=intercept)]


def _nm_frames(file: Path, header: Dataset, rows: int, columns: int, n_frames: int) -> list[_Frame]:
    image_type = [str(v).upper() for v in header.get("ImageType", [])]
    if len(image_type) > 2 and image_type[2] not in {"RECON TOMO", "RECON GATED TOMO"}:
        raise ImagingError(
            f"{file}: NM image of type {image_type[2]!r} is not a reconstructed volume "
            "(projections, planar or whole-body images cannot be read as 3-D)"
        )
    time_slots = int(header.get("NumberOfTimeSlots", 1) or 1)
    if time_slots > 1:
        raise ImagingError(f"{file}: gated NM reconstruction with {time_slots} time slots")
    detector = header.get("DetectorInformationSequence")
    source: Dataset = header
    if "ImagePositionPatient" not in header and detector:
        source = detector[0]
    row, column = _orientation(_required(source, "ImageOrientationPatient", file), file)
    position = _floats(_required(source, "ImagePositionPatient", file), 3, "Image Position", file)
    spacing = _floats(_required(header, "PixelSpacing", file), 2, "Pixel Spacing", file)
    step = header.get("SpacingBetweenSlices") or header.get("SliceThickness")
    if step in (None, "") or float(step) == 0.0:
        raise ImagingError(f"{file}: NM volume without Spacing Between Slices")
    normal = np.cross(row, column)
    slope, intercept = _rescale(header)
    return [
        _Frame(
            file,
            k,
            position + k * abs(float(step)) * normal,
            row,
            column,
            (spacing[0], spacing[1]),
            rows,
            columns,
            slope,
            intercept,
        )
        for k in range(n_frames)
    ]


def _functional(groups: Sequence[Dataset], sequence: str, keyword: str) -> Any:
    """The first value of ``keyword`` inside ``sequence`` in the first group that has it."""
    for group in groups:
        items = group.get(sequence)
        if items and keyword in items[0]:
            return items[0].get(keyword)
    return None


def _enhanced_frames(
    file: Path, header: Dataset, rows: int, columns: int, n_frames: int
) -> list[_Frame]:
    shared = header.get("SharedFunctionalGroupsSequence")
    shared_group: list[Dataset] = [shared[0]] if shared else []
    per_frame = header.PerFrameFunctionalGroupsSequence
    if len(per_frame) != n_frames:
        raise ImagingError(
            f"{file}: {len(per_frame)} per-frame functional groups for {n_frames} frames"
        )
    frames = []
    for k, group in enumerate(per_frame):
        groups = [group, *shared_group]
        position = _functional(groups, "PlanePositionSequence", "ImagePositionPatient")
        orientation = _functional(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = _functional(groups, "PixelMeasuresSequence", "PixelSpacing")
        if position is None or orientation is None or spacing is None:
            raise ImagingError(f"{file}: frame {k + 1} has no plane position/orientation/spacing")
        slope = _functional(groups, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _functional(groups, "PixelValueTransformationSequence", "RescaleIntercept")
        row, column = _orientation(orientation, file)
        pixel = _floats(spacing, 2, "Pixel Spacing", file)
        frames.append(
            _Frame(
                file,
                k,
                _floats(position, 3, "Image Position", file),
                row,
                column,
                (pixel[0], pixel[1]),
                rows,
                columns,
                1.0 if slope is None else float(slope),
                0.0 if intercept is None else float(intercept),
            )
        )
    return frames


def _decode(file: Path, n_frames_used: int) -> tuple[np.ndarray, bool]:
    """Pixel data of a file as (frames, rows, columns); whether it is already rescaled.

    pydicom decodes first; compressed data it has no plugin for goes to GDCM
    (inside SimpleITK), which returns rescaled values.
    """
    try:
        dataset = pydicom.dcmread(file)
    except Exception as exc:  # pydicom raises many types for a damaged file
        raise ImagingError(f"{file}: unreadable DICOM file: {exc}") from exc
    if "PixelData" not in dataset:
        raise ImagingError(f"{file}: has no pixel data")
    syntax = UID(str(getattr(dataset.file_meta, "TransferSyntaxUID", "1.2.840.10008.1.2")))
    try:
        pixels = np.asarray(dataset.pixel_array)
    except Exception as exc:  # decoder plugins raise their own types
        if not syntax.is_compressed:
            raise ImagingError(f"{file}: pixel data cannot be read: {exc}") from exc
        first_error = exc
    else:
        return pixels.reshape((-1, *pixels.shape[-2:])), False

    # No pydicom decoder: try GDCM, which SimpleITK carries.
    if n_frames_used > 1 and "PerFrameFunctionalGroupsSequence" in dataset:
        gdcm_error: str = "multi-frame images with per-frame rescaling are not decoded by GDCM here"
    else:
        try:
            image = sitk.ReadImage(str(file))
        except RuntimeError as exc:
            gdcm_error = _first_line(exc)
        else:
            pixels = sitk.GetArrayFromImage(image)
            # GDCM applies Rescale Slope/Intercept, but not Dose Grid Scaling.
            rescaled = str(dataset.get("Modality", "")) != "RTDOSE"
            return pixels.reshape((-1, *pixels.shape[-2:])), rescaled
    raise ImagingError(
        f"{file}: pixel data in transfer syntax {syntax.name} ({syntax}) cannot be decoded: "
        f"pydicom: {_first_line(first_error)}; GDCM: {gdcm_error}. Install a decoder "
        "(e.g. pylibjpeg with pylibjpeg-libjpeg and pylibjpeg-openjpeg, or python-gdcm) or "
        "convert the series to an uncompressed transfer syntax (gdcmconv --raw, dcmdjpeg)"
    ) from first_error


def _check_frames_agree(frames: Sequence[_Frame]) -> None:
    first = frames[0]
    for frame in frames[1:]:
        what = None
        if (frame.rows, frame.columns) != (first.rows, first.columns):
            what = f"size {frame.rows}x{frame.columns} (rows x columns)"
            was = f"{first.rows}x{first.columns}"
        elif not (
            np.allclose(frame.row_cosine, first.row_cosine, atol=_ORIENTATION_TOL)
            and np.allclose(frame.column_cosine, first.column_cosine, atol=_ORIENTATION_TOL)
        ):
            what = "orientation " + _fmt_point([*frame.row_cosine, *frame.column_cosine])
            was = _fmt_point([*first.row_cosine, *first.column_cosine])
        elif not np.allclose(frame.pixel_spacing, first.pixel_spacing, atol=_SPACING_TOL_MM):
            what = f"pixel spacing {frame.pixel_spacing}"
            was = f"{first.pixel_spacing}"
        if what is not None:
            raise GeometryError(
                f"{frame.file}: {what} differs from {was} in {first.file.name}; "
                "the files are not one volume (mixed series?)"
            )


def _frame_name(frame: _Frame) -> str:
    return frame.file.name if frame.index is None else f"{frame.file.name} frame {frame.index + 1}"


def _stack(frames: list[_Frame], source: Path) -> tuple[list[_Frame], float]:
    """Frames sorted along the slice normal, and the uniform slice step in mm."""
    first = frames[0]
    normal = np.cross(first.row_cosine, first.column_cosine)
    distance = np.array([float(f.position @ normal) for f in frames])
    order = np.argsort(distance, kind="stable")
    frames = [frames[k] for k in order]
    distance = distance[order]
    # Every slice must lie on the axis through the first along the normal.
    for frame, d in zip(frames, distance, strict=True):
        off_axis = frame.position - frames[0].position - (d - distance[0]) * normal
        if float(np.linalg.norm(off_axis)) > _IN_PLANE_TOL_MM:
            raise GeometryError(
                f"{frame.file}: slice at {_fmt_point(frame.position)} is shifted "
                f"{_fmt(float(np.linalg.norm(off_axis)))} mm within its plane from the stack "
                "(gantry tilt or a sheared grid), which netlm does not resample"
            )
    if len(frames) == 1:
        return frames, 0.0
    steps = np.diff(distance)
    for k, gap in enumerate(steps):
        if gap < _SPACING_TOL_MM:
            raise GeometryError(
                f"{source}: two slices at one position {_fmt_point(frames[k + 1].position)}: "
                f"{_frame_name(frames[k])} and {_frame_name(frames[k + 1])} "
                "(more than one acquisition in the series?)"
            )
    step = float(np.min(steps))
    tolerance = max(_SLICE_STEP_RTOL * step, _SPACING_TOL_MM)
    problems = []
    for k, gap in enumerate(steps):
        if abs(gap - step) <= tolerance:
            continue
        multiple = gap / step
        between = f"between {_frame_name(frames[k])} and {_frame_name(frames[k + 1])}"
        if abs(multiple - round(multiple)) * step <= tolerance:
            missing = [
                _fmt_point(frames[k].position + q * step * normal)
                for q in range(1, round(multiple))
            ]
            problems.append(f"missing slice(s) at {', '.join(missing)} mm (LPS) {between}")
        else:
            problems.append(f"a step of {_fmt(gap)} mm instead of {_fmt(step)} mm {between}")
    if problems:
        raise GeometryError(
            f"{source}: slice spacing is not uniform: "
            + "; ".join(problems[:5])
            + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        )
    return frames, float(np.mean(steps))


def _pixels(frames: Sequence[_Frame]) -> np.ndarray:
    """The frames' values after rescaling, stacked in order, as (k, j, i)."""
    used: dict[Path, int] = {}
    for frame in frames:
        used[frame.file] = used.get(frame.file, 0) + 1
    decoded = {file: _decode(file, count) for file, count in used.items()}
    slopes = {f.slope for f in frames}
    intercepts = {f.intercept for f in frames}
    integral = all(float(s).is_integer() for s in slopes | intercepts) and all(
        np.issubdtype(pixels.dtype, np.integer) for pixels, _ in decoded.values()
    )
    out = np.empty(
        (len(frames), frames[0].rows, frames[0].columns),
        dtype=np.int64 if integral else np.float64,
    )
    for k, frame in enumerate(frames):
        pixels, rescaled = decoded[frame.file]
        plane = pixels[0 if frame.index is None else frame.index]
        if plane.shape != (frame.rows, frame.columns):
            raise ImagingError(
                f"{frame.file}: pixel data of {plane.shape} does not match "
                f"Rows x Columns {frame.rows}x{frame.columns}"
            )
        if rescaled:
            out[k] = plane
        elif integral:
            out[k] = plane.astype(np.int64) * int(frame.slope) + int(frame.intercept)
        else:
            out[k] = plane.astype(np.float64) * frame.slope + frame.intercept
    if integral:
        for candidate in (np.int16, np.int32):
            info = np.iinfo(candidate)
            if out.size == 0 or (out.min() >= info.min and out.max() <= info.max):
                return out.astype(candidate)
    return out


def _read_dicom_series(
    files: list[tuple[Path, Dataset]],
    source: Path,
    *,
    unit: str | None,
    timezone: dt.tzinfo | None,
    skipped: list[str],
) -> ImageVolume:
    problem = dicom_problem(h for _, h in files)  # size, from the headers
    if problem is not None:
        raise ImagingError(f"{source}: {problem}")
    modalities = {str(h.get("Modality", "")) for _, h in files}
    if len(modalities) > 1:
        examples = {str(h.get("Modality", "")): f.name for f, h in files}
        raise ImagingError(
            f"{source}: mixes modalities "
            + ", ".join(f"{m or '(none)'} (e.g. {name})" for m, name in sorted(examples.items()))
        )
    frames = [frame for file, header in files for frame in _frames_of(file, header)]
    _check_frames_agree(frames)
    frames, step = _stack(frames, source)
    header = files[0][1]
    if len(frames) == 1:
        thickness = header.get("SpacingBetweenSlices") or header.get("SliceThickness")
        if thickness in (None, "") or float(thickness) <= 0:
            raise ImagingError(f"{source}: a single slice without a slice thickness")
        step = abs(float(thickness))
    first = frames[0]
    normal = np.cross(first.row_cosine, first.column_cosine)
    direction = tuple(
        float(v) + 0.0
        for v in np.column_stack([first.row_cosine, first.column_cosine, normal]).ravel()
    )
    array = _pixels(frames)

    modality = next(iter(modalities))
    metadata: dict[str, object] = {
        "format": "DICOM",
        "source": str(source),
        "modality": modality,
        "series_instance_uid": str(header.get("SeriesInstanceUID", "")),
        "study_instance_uid": str(header.get("StudyInstanceUID", "")),
        "sop_class_uid": str(
            header.get("SOPClassUID", "")
            or getattr(header.get("file_meta"), "MediaStorageSOPClassUID", "")
        ),
        "series_description": str(header.get("SeriesDescription", "")),
        "transfer_syntax": str(getattr(header.get("file_meta"), "TransferSyntaxUID", "")),
        "n_files": len(files),
    }
    if skipped:
        metadata["skipped_files"] = skipped
    stated, reference_time = _dicom_unit_and_time(
        modality, [h for _, h in files], timezone, metadata, source
    )
    if stated is not None and unit is not None and unit != stated:
        raise ImagingError(f"{source}: the file states values in {stated!r}, not {unit!r}")
    final_unit = stated if stated is not None else (unit or _default_unit(modality))
    return ImageVolume(
        array=array,
        spacing_mm=(float(first.pixel_spacing[1]), float(first.pixel_spacing[0]), float(step)),
        origin_mm=(float(first.position[0]), float(first.position[1]), float(first.position[2])),
        direction=direction,
        unit=final_unit,
        frame_of_reference_uid=str(header.get("FrameOfReferenceUID", "")) or None,
        reference_time=reference_time,
        metadata=metadata,
    )


def _default_unit(modality: str) -> str:
    return {"NM": "counts"}.get(modality, "")


# --------------------------------------------------------------------------- DICOM times
def _tz_from_offset(offset: str) -> dt.tzinfo | None:
    match = re.fullmatch(r"([+-])(\d{2})(\d{2})", offset.strip())
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _parse_datetime(
    date: Any, time: Any, datetime_value: Any, tz: dt.tzinfo | None
) -> dt.datetime | None:
    """A DICOM moment from a DT value, or a DA and a TM; naive when no zone is known."""
    try:
        if datetime_value:
            moment = pydicom.valuerep.DT(str(datetime_value))
            result = dt.datetime(
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
                moment.microsecond,
                tzinfo=moment.tzinfo,
            )
        elif date and time:
            day = pydicom.valuerep.DA(str(date))
            clock = pydicom.valuerep.TM(str(time))
            result = dt.datetime.combine(
                dt.date(day.year, day.month, day.day),
                dt.time(clock.hour, clock.minute, clock.second, clock.microsecond),
            )
        else:
            return None
    except (ValueError, TypeError):
        return None
    if result.tzinfo is None and tz is not None:
        result = result.replace(tzinfo=tz)
    return result


def _dicom_unit_and_time(
    modality: str,
    headers: Sequence[Dataset],
    timezone: dt.tzinfo | None,
    metadata: dict[str, object],
    source: Path,
) -> tuple[str | None, dt.datetime | None]:
    """The unit the files state (or None) and the time the values refer to."""
    header = headers[0]
    offset = str(header.get("TimezoneOffsetFromUTC", "") or "")
    tz = _tz_from_offset(offset) if offset else timezone

    def acquisition_start() -> dt.datetime | None:
        moments = [
            _parse_datetime(
                h.get("AcquisitionDate"), h.get("AcquisitionTime"), h.get("AcquisitionDateTime"), tz
            )
            for h in headers
        ]
        known = [m for m in moments if m is not None]
        if not known:
            return None
        try:
            return min(known)
        except TypeError:  # naive and aware mixed: DT values with and without offsets
            return known[0]

    stated: str | None = None
    moment: dt.datetime | None = None
    basis = ""
    if modality == "CT":
        rescale_type = str(header.get("RescaleType", "HU") or "HU")
        if rescale_type.upper() not in {"HU", "US"}:
            raise ImagingError(f"{source}: CT values of Rescale Type {rescale_type!r}, not HU")
        stated = "HU"
    elif modality == "RTDOSE":
        units = str(header.get("DoseUnits", "")).upper()
        stated = {"GY": "Gy"}.get(units, units or None)
        metadata["dose_type"] = str(header.get("DoseType", ""))
        metadata["dose_summation_type"] = str(header.get("DoseSummationType", ""))
    elif modality in {"PT", "NM"}:
        units = str(header.get("Units", "") or "")
        if units:
            stated = _DICOM_UNITS.get(units.upper(), units)
        _radiopharmaceutical(header, tz, metadata)
        correction = str(header.get("DecayCorrection", "") or "").upper()
        if correction:
            metadata["decay_correction"] = correction
        if modality == "PT" and correction == "ADMIN":
            moment = _parse_datetime(None, None, metadata.get("administration_time_dicom"), tz)
            if moment is None:
                moment = _administration_from_time(header, tz)
            basis = "administration (Decay Correction ADMIN)"
        elif modality == "PT" and correction == "START":
            series = _parse_datetime(header.get("SeriesDate"), header.get("SeriesTime"), None, tz)
            start = acquisition_start()
            moment, basis = series, "series date/time (Decay Correction START)"
            if series is None or (start is not None and _later(series, start)):
                # A re-processed series carries a later Series Time (QIBA SUV advice).
                moment, basis = start, "earliest acquisition (Decay Correction START)"
        else:
            moment = acquisition_start()
            basis = "acquisition start" + (" (no decay correction)" if correction == "NONE" else "")
        metadata.pop("administration_time_dicom", None)
    if moment is not None:
        metadata["reference_time_basis"] = basis
        if moment.tzinfo is None:
            metadata["reference_time_local"] = moment.isoformat()
            metadata["reference_time_note"] = (
                "the DICOM times carry no time zone; pass timezone= to read_image"
            )
            moment = None
    return stated, moment


def _later(a: dt.datetime, b: dt.datetime) -> bool:
    try:
        return a > b
    except TypeError:
        return False


def _radiopharmaceutical(
    header: Dataset, tz: dt.tzinfo | None, metadata: dict[str, object]
) -> None:
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return
    item = sequence[0]
    if item.get("Radiopharmaceutical"):
        metadata["radiopharmaceutical"] = str(item.Radiopharmaceutical)
    codes = item.get("RadionuclideCodeSequence")
    if codes and codes[0].get("CodeMeaning"):
        metadata["radionuclide"] = str(codes[0].CodeMeaning)
    if item.get("RadionuclideHalfLife") not in (None, ""):
        metadata["radionuclide_half_life_s"] = float(item.RadionuclideHalfLife)
    if item.get("RadionuclideTotalDose") not in (None, ""):
        metadata["injected_activity_bq"] = float(item.RadionuclideTotalDose)
    start = item.get("RadiopharmaceuticalStartDateTime")
    if start:
        metadata["administration_time_dicom"] = str(start)
    moment = _parse_datetime(None, None, start, tz) if start else None
    if moment is None:
        moment = _administration_from_time(header, tz)
    if moment is not None:
        metadata["administration_time"] = moment.isoformat()


def _administration_from_time(header: Dataset, tz: dt.tzinfo | None) -> dt.datetime | None:
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    if not sequence or not sequence[0].get("RadiopharmaceuticalStartTime"):
        return None
    date = header.get("SeriesDate") or header.get("StudyDate")
    return _parse_datetime(date, sequence[0].RadiopharmaceuticalStartTime, None, tz)


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
        resampler: Any = sitk.ResampleImageFilter()  # type: ignore[no-untyped-call]
        resampler.SetSize([int(n) for n in reference.shape_ijk])
        resampler.SetOutputSpacing([float(v) for v in reference.spacing_mm])
        resampler.SetOutputOrigin([float(v) for v in reference.origin_mm])
        resampler.SetOutputDirection([float(v) for v in reference.direction])
        resampler.SetDefaultPixelValue(0)
        if kind == "label":
            resampler.SetInterpolator(sitk.sitkNearestNeighbor)
        else:
            resampler.SetInterpolator(sitk.sitkLinear)
            resampler.SetOutputPixelType(sitk.sitkFloat64)
        array = sitk.GetArrayFromImage(resampler.Execute(_to_sitk(volume)))
        if volume.array.dtype == np.bool_:
            array = array.astype(bool)
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


# =========================================================================== read_masks
def read_masks(
    path: str | Path,
    reference: ImageVolume | None = None,
    *,
    labels: Mapping[int, str] | None = None,
    outside: Literal["warn", "raise"] = "warn",
) -> dict[str, ImageVolume]:
    """Read the segments of a segmentation as boolean masks keyed by name.

    Parameters
    ----------
    path
        A 3D Slicer ``.seg.nrrd`` (names from the ``Segment{N}_Name`` fields;
        each segment is ``layer == label value``, so overlapping segments on
        separate layers are kept apart); a label map (NIfTI, NRRD, MetaImage:
        one mask per non-zero label); a DICOM Segmentation (names from the
        Segment Labels; fractional segments are thresholded at 0.5); or an RT
        Structure Set (closed planar contours, rasterised onto ``reference``).
        A folder must hold exactly one DICOM SEG or RTSTRUCT.
    reference
        The image the masks are for.  When given, each mask is checked against
        it and resampled onto its grid (nearest neighbour); required for an RT
        Structure Set.
    labels
        For a label map: ``{label value: name}``.  Only the labels named are
        returned, and only those present in the image; two labels given one
        name are joined into one mask.  Without it every non-zero label ``n``
        is returned as ``str(n)``.
    outside
        What to do when part of a mask lies outside ``reference``: ``"warn"``
        (an :class:`ImagingWarning`; that part is dropped) or ``"raise"``
        (a :class:`GeometryError`).  A mask that lies wholly outside is
        always a :class:`GeometryError`.

    Returns
    -------
    dict[str, ImageVolume]
        Boolean arrays, unit ``"label"``; on the grid of ``reference`` when one
        is given, else on the segmentation's own grid.

    Raises
    ------
    ImagingError
        The file is unreadable or not a segmentation; an RT Structure Set
        without ``reference``; contours not parallel to the reference slices.
    GeometryError
        The masks' frame of reference differs from the reference image's; a
        mask lies outside the reference image (wholly, or partly when
        ``outside="raise"``).

    Notes
    -----
    RT Structure Set contours are filled per slice with even-odd rule (a
    contour inside another in the same plane is a hole); each contour plane
    goes to the nearest reference slice, and reference slices without a
    contour stay empty (no interpolation between contour planes).  A voxel
    belongs to a contour when its centre lies inside the polygon.  A
    degenerate contour (fewer than three points, e.g. a single point, or
    points on one line: zero area) is skipped with an :class:`ImagingWarning`
    naming the ROI and the contour; the rest of the file is read.

    NIfTI, NRRD and MetaImage files carry no frame of reference: their masks
    are taken to be in the reference image's patient coordinates (3D Slicer
    keeps the LPS positions of the image it segmented), so only their extent
    is checked.
    """
    if outside not in ("warn", "raise"):
        raise ImagingError(f"Argument 'outside' must be 'warn' or 'raise', not {outside!r}")
    source = Path(path)
    if not source.exists():
        raise ImagingError(f"{source}: no such file or folder")
    if source.is_dir():
        source = _single_mask_file(source)
    fmt = _format_of(source)
    if fmt is not None:
        image = _read_itk(source)
        if _is_slicer_segmentation(image):
            if labels is not None:
                raise ImagingError(
                    f"{source}: Argument 'labels' applies to label maps; a 3D Slicer "
                    "segmentation names its segments itself"
                )
            grid, layers, segments = _slicer_segments(image, source)
        else:
            grid, layers, segments = _label_segments(image, source, fmt, labels)
        if reference is None:
            return _split_layers(grid, layers, segments)
        # Resample each label layer once and split it afterwards: nearest neighbour
        # picks the same source voxel for every segment, so the masks are those of
        # resampling each segment alone, at a fraction of the time and memory.
        return _fit_layers(grid, layers, segments, reference, source, outside)
    else:
        header = _read_dicom_header(source)
        modality = "" if header is None else str(header.get("Modality", ""))
        if labels is not None:
            raise ImagingError(f"{source}: Argument 'labels' applies to label maps only")
        if modality == "SEG":
            masks, frame = _dicom_seg_masks(source)
        elif modality == "RTSTRUCT":
            if reference is None:
                raise ImagingError(
                    f"{source}: an RT Structure Set holds contours, not a grid; "
                    "pass the image they were drawn on as reference="
                )
            return _rtstruct_masks(source, reference, outside)
        else:
            raise ImagingError(
                f"{source}: not a segmentation netlm reads (3D Slicer .seg.nrrd, a label map "
                "in NIfTI/NRRD/MetaImage, DICOM SEG or RTSTRUCT)"
            )
    if reference is None:
        return masks
    _check_frame_of_reference(str(source), frame, reference)
    return {
        name: _fit(mask, reference, f"{source}: segment {name!r}", outside)
        for name, mask in masks.items()
    }


def _single_mask_file(folder: Path) -> Path:
    found = []
    for file in _files_below(folder):
        header = _read_dicom_header(file)
        if header is not None and str(header.get("Modality", "")) in {"SEG", "RTSTRUCT"}:
            found.append(file)
    if len(found) != 1:
        raise ImagingError(
            f"{folder}: holds {len(found)} DICOM SEG/RTSTRUCT files; give the file itself"
            + (": " + ", ".join(f.name for f in found[:5]) if found else "")
        )
    return found[0]


def _mask_volume(
    array: np.ndarray,
    geometry: ImageVolume,
    *,
    frame: str | None,
    metadata: dict[str, object],
) -> ImageVolume:
    return ImageVolume(
        array=np.asarray(array, dtype=bool),
        spacing_mm=geometry.spacing_mm,
        origin_mm=geometry.origin_mm,
        direction=geometry.direction,
        unit="label",
        frame_of_reference_uid=frame,
        metadata=metadata,
    )


def _unique_name(name: str, taken: Mapping[str, object], tag: str, source: Path) -> str:
    if name not in taken:
        return name
    renamed = f"{name} [{tag}]"
    warnings.warn(
        f"{source}: two segments are named {name!r}; the second is returned as {renamed!r}",
        ImagingWarning,
        stacklevel=4,
    )
    return renamed


def _grid_of(image: Any) -> ImageVolume:
    spacing, origin, direction = _geometry_from_sitk(image)
    return ImageVolume(
        array=np.zeros((1, 1, 1), dtype=bool),
        spacing_mm=spacing,
        origin_mm=origin,
        direction=direction,
    )


@dataclasses.dataclass(frozen=True)
class _Segment:
    """One segment of a label-layer file: ``layers[layer]`` in ``values``."""

    name: str
    layer: int
    values: tuple[int, ...]
    metadata: dict[str, object]


def _select(layer: np.ndarray, values: Sequence[int]) -> np.ndarray:
    return np.isin(layer, values) if len(values) > 1 else layer == values[0]


def _split_layers(
    grid: ImageVolume, layers: Sequence[np.ndarray], segments: Sequence[_Segment]
) -> dict[str, ImageVolume]:
    return {
        s.name: _mask_volume(
            _select(layers[s.layer], s.values), grid, frame=None, metadata=s.metadata
        )
        for s in segments
    }


def _fit_layers(
    grid: ImageVolume,
    layers: Sequence[np.ndarray],
    segments: Sequence[_Segment],
    reference: ImageVolume,
    source: Path,
    outside: str,
) -> dict[str, ImageVolume]:
    """The segments on ``reference``'s grid, each label layer resampled once.

    Gives the masks of :func:`_fit` on each segment alone (same outside
    checks and messages, same nearest-neighbour voxels).
    """
    fitted: dict[str, ImageVolume] = {}
    for index, layer in enumerate(layers):
        mine = [s for s in segments if s.layer == index]
        if not mine:
            continue
        if any(0 in s.values for s in mine):  # 0 is also the value outside the grid
            for s in mine:
                mask = _mask_volume(_select(layer, s.values), grid, frame=None, metadata=s.metadata)
                fitted[s.name] = _fit(mask, reference, f"{source}: segment {s.name!r}", outside)
            continue
        volume = dataclasses.replace(grid, array=layer)
        target = grid
        if not volume.same_grid(reference):
            _report_layer_outside(volume, mine, reference, source, outside)
            layer, target = resample_to(volume, reference, kind="label").array, reference
        for s in mine:
            fitted[s.name] = _mask_volume(
                _select(layer, s.values),
                target,
                frame=reference.frame_of_reference_uid,
                metadata=s.metadata,
            )
    return {s.name: fitted[s.name] for s in segments}


def _report_layer_outside(
    layer: ImageVolume,
    segments: Sequence[_Segment],
    reference: ImageVolume,
    source: Path,
    outside: str,
) -> None:
    """:func:`_report_outside` for every segment of one label layer."""
    k, j, i = np.nonzero(layer.array)
    if not k.size:
        return
    limits = np.asarray(reference.shape_ijk, dtype=float) - 0.5
    # The reference grid's box is convex and the index map affine: when the
    # corners of the labelled voxels' bounding box lie inside, every voxel does.
    low, high = (i.min(), j.min(), k.min()), (i.max(), j.max(), k.max())
    corners = np.array(
        [
            [a, b, c]
            for a in (low[0], high[0])
            for b in (low[1], high[1])
            for c in (low[2], high[2])
        ],
        dtype=float,
    )
    index = _lps_to_index(reference, _index_to_lps(layer, corners))
    if np.all((index >= -0.5) & (index < limits)):
        return
    index = _lps_to_index(reference, _index_to_lps(layer, np.column_stack([i, j, k]).astype(float)))
    inside = np.all((index >= -0.5) & (index < limits), axis=1)
    values = layer.array[k, j, i]
    for s in segments:
        selected = _select(values, s.values)
        n_total = int(selected.sum())
        if n_total:
            n_outside = int((selected & ~inside).sum())
            _report_outside(f"{source}: segment {s.name!r}", n_outside, n_total, outside)


def _slicer_segments(
    image: Any, source: Path
) -> tuple[ImageVolume, list[np.ndarray], list[_Segment]]:
    if image.GetDimension() != 3:
        raise ImagingError(f"{source}: a {image.GetDimension()}-D segmentation; expected 3-D")
    meta = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    numbers = sorted(
        int(match.group(1))
        for key in meta
        if (match := re.fullmatch(r"Segment(\d+)_Name", key)) is not None
    )
    array = sitk.GetArrayFromImage(image)
    n_layers = 1 if array.ndim == 3 else array.shape[3]
    layers = [array] if array.ndim == 3 else [array[..., n] for n in range(n_layers)]
    segments: list[_Segment] = []
    taken: dict[str, object] = {}
    for number in numbers:
        prefix = f"Segment{number}_"
        name = meta[prefix + "Name"].strip()
        # Files from Slicer before 4.11 have one segment per layer, value 1.
        layer = int(meta.get(prefix + "Layer", number if n_layers > 1 else 0))
        label = int(meta.get(prefix + "LabelValue", 1))
        if layer >= n_layers:
            raise ImagingError(
                f"{source}: segment {name!r} is on layer {layer}, but the file has {n_layers}"
            )
        name = _unique_name(name, taken, meta.get(prefix + "ID", str(number)), source)
        taken[name] = None
        segments.append(
            _Segment(
                name=name,
                layer=layer,
                values=(label,),
                metadata={
                    "source": str(source),
                    "segment_id": meta.get(prefix + "ID", ""),
                    "layer": layer,
                    "label_value": label,
                },
            )
        )
    return _grid_of(image), layers, segments


def _label_segments(
    image: Any, source: Path, fmt: str, labels: Mapping[int, str] | None
) -> tuple[ImageVolume, list[np.ndarray], list[_Segment]]:
    if image.GetNumberOfComponentsPerPixel() != 1 or image.GetDimension() != 3:
        raise ImagingError(f"{source}: a label map must be a 3-D scalar image")
    array = sitk.GetArrayFromImage(image)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(np.mod(array, 1) == 0):
            raise ImagingError(f"{source}: not a label map (non-integer values)")
        array = array.astype(np.int64)
    if array.size and array.min() >= 0 and array.max() < 2**24:
        counts = np.bincount(array.ravel().astype(np.int64))
        present = [int(v) for v in np.nonzero(counts)[0] if v != 0]
    else:
        present = [int(v) for v in np.unique(array) if v != 0]
    problem = label_count_problem(len(present))
    if problem is not None:
        raise ImagingError(f"{source}: {problem}")
    if labels is None:
        wanted: dict[str, list[int]] = {str(v): [v] for v in present}
    else:
        wanted = {}
        for value, name in labels.items():
            if int(value) in present:
                wanted.setdefault(str(name), []).append(int(value))
    segments = [
        _Segment(
            name=name,
            layer=0,
            values=tuple(values),
            metadata={"source": str(source), "format": fmt, "label_values": values},
        )
        for name, values in wanted.items()
    ]
    return _grid_of(image), [array], segments


def _dicom_seg_masks(source: Path) -> tuple[dict[str, ImageVolume], str | None]:
    import highdicom as hd  # imported here: highdicom takes a second to import

    try:
        segmentation = hd.seg.segread(source)
        volume = segmentation.get_volume(combine_segments=False, skip_overlap_checks=True)
    except Exception as exc:  # highdicom raises ValueError, RuntimeError, AttributeError...
        raise ImagingError(f"{source}: cannot read the DICOM Segmentation: {exc}") from exc
    if volume is None:
        raise ImagingError(f"{source}: the segmentation frames do not form a regular 3-D grid")
    affine = np.asarray(volume.affine, dtype=float)
    # highdicom arrays are (slice, row, column); netlm's (k, j, i) are the same axes.
    axes = [affine[:3, 2], affine[:3, 1], affine[:3, 0]]
    spacing = [float(np.linalg.norm(a)) for a in axes]
    direction = np.column_stack([a / s for a, s in zip(axes, spacing, strict=True)])
    grid = ImageVolume(
        array=np.zeros((1, 1, 1), dtype=bool),
        spacing_mm=(spacing[0], spacing[1], spacing[2]),
        origin_mm=(float(affine[0, 3]), float(affine[1, 3]), float(affine[2, 3])),
        direction=tuple(float(v) for v in direction.ravel()),
    )
    frame = str(segmentation.get("FrameOfReferenceUID", "")) or None
    fractional = str(segmentation.get("SegmentationType", "")) == "FRACTIONAL"
    array = np.asarray(volume.array)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    masks: dict[str, ImageVolume] = {}
    numbers = list(segmentation.segment_numbers)
    for channel, number in enumerate(numbers):
        description = segmentation.get_segment_description(number)
        name = str(description.segment_label).strip() or f"segment {number}"
        values = array[..., channel]
        mask = values >= 0.5 if fractional else values > 0
        name = _unique_name(name, masks, str(number), source)
        masks[name] = _mask_volume(
            mask,
            grid,
            frame=frame,
            metadata={"source": str(source), "segment_number": number},
        )
    return masks, frame


def _fit(mask: ImageVolume, reference: ImageVolume, what: str, outside: str) -> ImageVolume:
    """``mask`` on the grid of ``reference``, after checking that it lies inside it."""
    if not mask.same_grid(reference):
        k, j, i = np.nonzero(mask.array)
        if k.size:
            points = _index_to_lps(mask, np.column_stack([i, j, k]).astype(float))
            index = _lps_to_index(reference, points)
            limits = np.asarray(reference.shape_ijk, dtype=float) - 0.5
            inside = np.all((index >= -0.5) & (index < limits), axis=1)
            _report_outside(what, int(inside.size - inside.sum()), int(inside.size), outside)
        mask = resample_to(mask, reference, kind="label")
    return dataclasses.replace(
        mask,
        frame_of_reference_uid=reference.frame_of_reference_uid or mask.frame_of_reference_uid,
    )


def _report_outside(what: str, n_outside: int, n_total: int, outside: str) -> None:
    if n_outside == 0:
        return
    if n_outside == n_total:
        raise GeometryError(f"{what}: lies wholly outside the reference image")
    message = (
        f"{what}: {n_outside} of {n_total} voxels ({100.0 * n_outside / n_total:.1f} %) lie "
        "outside the reference image"
    )
    if outside == "raise":
        raise GeometryError(message)
    warnings.warn(message + "; that part is dropped", ImagingWarning, stacklevel=4)


# --------------------------------------------------------------------------- RTSTRUCT
def _rtstruct_masks(source: Path, reference: ImageVolume, outside: str) -> dict[str, ImageVolume]:
    from matplotlib.path import Path as Polygon  # matplotlib is slow to import

    full = pydicom.dcmread(source)
    frames_of_roi: dict[int, str] = {}
    names: dict[int, str] = {}
    for roi in full.get("StructureSetROISequence", []):
        names[int(roi.ROINumber)] = str(roi.get("ROIName", "")).strip() or f"ROI {roi.ROINumber}"
        frames_of_roi[int(roi.ROINumber)] = str(roi.get("ReferencedFrameOfReferenceUID", ""))
    for item in full.get("ReferencedFrameOfReferenceSequence", []):
        _check_frame_of_reference(str(source), str(item.get("FrameOfReferenceUID", "")), reference)

    ni, nj, nk = reference.shape_ijk
    masks: dict[str, ImageVolume] = {}
    skipped: list[str] = []
    for roi_contour in full.get("ROIContourSequence", []):
        number = int(roi_contour.ReferencedROINumber)
        name = names.get(number, f"ROI {number}")
        _check_frame_of_reference(f"{source}: ROI {name!r}", frames_of_roi.get(number), reference)
        # Contours in one plane combine even-odd (holes); planes mapped to one slice are joined.
        planes: dict[tuple[int, float], np.ndarray] = {}
        n_inside = n_outside = 0
        closed = 0
        for position, contour in enumerate(roi_contour.get("ContourSequence", []), start=1):
            if str(contour.get("ContourGeometricType", "")) != "CLOSED_PLANAR":
                continue
            points = np.asarray([float(v) for v in contour.get("ContourData", [])], dtype=float)
            if points.size % 3:
                raise ImagingError(f"{source}: ROI {name!r} has a contour of {points.size} values")
            index = _lps_to_index(reference, points.reshape(-1, 3))
            k_values = index[:, 2]
            if index.shape[0] >= 3 and float(k_values.max() - k_values.min()) > 0.1:
                raise ImagingError(
                    f"{source}: ROI {name!r} has a contour that is not parallel to the slices "
                    "of the reference image; oblique contours are not supported"
                )
            degenerate = _degenerate_contour(index)
            if degenerate is not None:
                number_tag = contour.get("ContourNumber")
                label = f"contour {number_tag}" if number_tag is not None else "a contour"
                warnings.warn(
                    f"{source}: ROI {name!r} {label} (item {position} of its ContourSequence) "
                    f"{degenerate}: it encloses no area and is skipped",
                    ImagingWarning,
                    stacklevel=3,
                )
                continue
            closed += 1
            plane_k = float(k_values.mean())
            k = round(plane_k)
            fill, i0, j0 = _fill_polygon(Polygon, index[:, :2])
            if fill.size == 0:
                continue
            # Count the filled voxel centres inside and outside the reference grid.
            jj, ii = np.nonzero(fill)
            ii, jj = ii + i0, jj + j0
            in_plane = (ii >= 0) & (ii < ni) & (jj >= 0) & (jj < nj)
            in_slice = 0 <= k < nk
            n_in = int(in_plane.sum()) if in_slice else 0
            n_inside += n_in
            n_outside += int(ii.size) - n_in
            if not n_in:
                continue
            key = (k, round(plane_k, 3))
            plane = planes.get(key)
            if plane is None:
                plane = planes[key] = np.zeros((nj, ni), dtype=bool)
            plane[jj[in_plane], ii[in_plane]] ^= True
        if closed == 0:
            skipped.append(name)
            continue
        _report_outside(f"{source}: ROI {name!r}", n_outside, n_inside + n_outside, outside)
        array = np.zeros(reference.array.shape, dtype=bool)
        for (k, _), plane in planes.items():
            array[k] |= plane
        name = _unique_name(name, masks, str(number), source)
        masks[name] = _mask_volume(
            array,
            reference,
            frame=reference.frame_of_reference_uid or (frames_of_roi.get(number) or None),
            metadata={"source": str(source), "roi_number": number},
        )
    if skipped:
        warnings.warn(
            f"{source}: ROIs without closed planar contours are skipped: {', '.join(skipped)}",
            ImagingWarning,
            stacklevel=3,
        )
    return masks


def _degenerate_contour(index: np.ndarray) -> str | None:
    """Why a closed planar contour (vertices as continuous (i, j, k)) has no area, or None.

    Fewer than three points, or points on one line (shoelace area below 1e-9
    pixel²), enclose nothing; RT Structure Sets from some systems hold such
    contours (a single point marking a slice).
    """
    n = int(index.shape[0])
    if n < 3:
        return f"has {n} point{'s' if n != 1 else ''} (a closed contour needs at least 3)"
    i, j = index[:, 0], index[:, 1]
    area = 0.5 * abs(float(np.dot(i, np.roll(j, -1)) - np.dot(j, np.roll(i, -1))))
    if area < 1e-9:
        return f"has {n} points on one line (zero area)"
    return None


def _fill_polygon(polygon_class: Any, vertices: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Voxel centres inside a polygon given in continuous (i, j); the box's corner (i0, j0)."""
    i0 = math.ceil(float(vertices[:, 0].min()))
    i1 = math.floor(float(vertices[:, 0].max()))
    j0 = math.ceil(float(vertices[:, 1].min()))
    j1 = math.floor(float(vertices[:, 1].max()))
    if i1 < i0 or j1 < j0:
        return np.zeros((0, 0), dtype=bool), i0, j0
    jj, ii = np.mgrid[j0 : j1 + 1, i0 : i1 + 1]
    centres = np.column_stack([ii.ravel(), jj.ravel()]).astype(float)
    inside = polygon_class(vertices, closed=False).contains_points(centres)
    return np.asarray(inside, dtype=bool).reshape(ii.shape), i0, j0


# =========================================================================== activity
def _require_aware(name: str, when: object) -> dt.datetime:
    if not isinstance(when, dt.datetime):
        raise ImagingError(f"Argument {name!r} must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ImagingError(
            f"Argument {name!r} ({when.isoformat()}) has no time zone; give one "
            "(e.g. +01:00 or Z) so that decay is computed over the right interval"
        )
    return when


def to_bq_per_ml(
    volume: ImageVolume,
    *,
    unit: str | None = None,
    calibration_bq_per_count: float | None = None,
) -> ImageVolume:
    """The same image with values in Bq/mL.

    Parameters
    ----------
    volume
        An activity image: concentration (``Bq/mL``, ``kBq/mL``, ``MBq/mL``,
        DICOM ``BQML``), activity per voxel (``Bq``, ``kBq``, ``MBq``) or
        ``counts`` per voxel.
    unit
        The unit of ``volume``'s values when ``volume.unit`` is empty (NRRD,
        NIfTI); when both are given they must agree.
    calibration_bq_per_count
        For counts: the activity in Bq that one count stands for (from a
        phantom, or the administered activity over the counts in the field of
        view).  Bq/mL = counts × calibration / voxel volume in mL.

    Raises
    ------
    UnitError
        The unit is unknown or not an activity; counts without calibration; a
        calibration for values that are not counts; ``unit`` disagrees with
        ``volume.unit``.

    Examples
    --------
    >>> import numpy as np
    >>> v = ImageVolume(np.full((1, 1, 1), 2.0), (10.0, 10.0, 10.0), unit="kBq/mL")
    >>> float(to_bq_per_ml(v).array[0, 0, 0])
    2000.0
    >>> c = ImageVolume(np.full((1, 1, 1), 50.0), (10.0, 10.0, 10.0), unit="counts")
    >>> float(to_bq_per_ml(c, calibration_bq_per_count=4.0).array[0, 0, 0])
    200.0
    """
    given = (unit or "").strip()
    stated = volume.unit.strip()
    if given and stated and given.lower() != stated.lower():
        raise UnitError(f"Argument 'unit' is {given!r}, but the volume is in {stated!r}")
    source_unit = stated or given
    if not source_unit:
        raise UnitError("the volume has no unit; give it with Argument 'unit' (e.g. 'Bq/mL')")
    key = source_unit.lower().replace(" ", "")
    if calibration_bq_per_count is not None and key not in _COUNT_UNITS:
        raise UnitError(
            f"Argument 'calibration_bq_per_count' applies to counts, not to {source_unit!r}"
        )
    values = volume.array.astype(np.float64)
    metadata = dict(volume.metadata)
    metadata["converted_from_unit"] = source_unit
    if key in _CONCENTRATION_TO_BQ_PER_ML:
        values *= _CONCENTRATION_TO_BQ_PER_ML[key]
    elif key in _ACTIVITY_TO_BQ:
        values *= _ACTIVITY_TO_BQ[key] / volume.voxel_volume_ml
    elif key in _COUNT_UNITS:
        if calibration_bq_per_count is None:
            raise UnitError(
                "counts need Argument 'calibration_bq_per_count' (Bq per count, from a phantom "
                "or the administered activity)"
            )
        if not math.isfinite(calibration_bq_per_count) or calibration_bq_per_count <= 0:
            raise UnitError(
                "Argument 'calibration_bq_per_count' must be a positive number, "
                f"not {calibration_bq_per_count}"
            )
        values *= calibration_bq_per_count / volume.voxel_volume_ml
        metadata["calibration_bq_per_count"] = calibration_bq_per_count
    else:
        raise UnitError(
            f"{source_unit!r} is not an activity unit netlm converts to Bq/mL "
            "(Bq/mL, kBq/mL, MBq/mL, BQML, Bq, kBq, MBq, counts)"
        )
    return dataclasses.replace(volume, array=values, unit="Bq/mL", metadata=metadata)


def decay_correct(
    volume: ImageVolume, to_time: dt.datetime, half_life_h: float | None = None
) -> ImageVolume:
    """The activity image at ``to_time`` instead of ``volume.reference_time``.

    Same semantics as :func:`netlm.sirt.physics.activity_at`: values scale by
    ``2 ** (-(to_time - reference_time) / half_life)``, both ways in time, with
    the interval computed in UTC.

    Parameters
    ----------
    volume
        An activity image (``Bq/mL``, ``kBq/mL``, ``MBq/mL``, ``Bq``, ``counts``)
        with a time-zone aware ``reference_time``.
    to_time
        The moment the values should refer to; time-zone aware.
    half_life_h
        Half-life in hours; by default the one the DICOM file gave
        (``metadata["radionuclide_half_life_s"]``).

    Raises
    ------
    ImagingError
        A naive datetime (the message names the argument); no reference time;
        no half-life; a half-life that is not a positive number.
    UnitError
        ``volume`` is not an activity image.

    Examples
    --------
    >>> import numpy as np
    >>> t0 = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    >>> v = ImageVolume(np.full((1, 1, 1), 8.0), (1.0, 1.0, 1.0), unit="Bq/mL", reference_time=t0)
    >>> later = decay_correct(v, t0 + dt.timedelta(hours=3 * 64.1), half_life_h=64.1)
    >>> round(float(later.array[0, 0, 0]), 12)
    1.0
    >>> later.reference_time == t0 + dt.timedelta(hours=192.3)
    True
    """
    _require_aware("to_time", to_time)
    if volume.reference_time is None:
        note = volume.metadata.get("reference_time_note")
        raise ImagingError(
            "Argument 'volume' has no reference_time, the moment its values refer to"
            + (f" ({note})" if note else "; set it with dataclasses.replace(volume, ...)")
        )
    _require_aware("volume.reference_time", volume.reference_time)
    key = volume.unit.lower().replace(" ", "")
    if not (key in _CONCENTRATION_TO_BQ_PER_ML or key in _ACTIVITY_TO_BQ or key in _COUNT_UNITS):
        raise UnitError(
            f"decay correction applies to activity images, not to values in {volume.unit!r}"
            + (" (give the unit when reading, e.g. unit='Bq/mL')" if not volume.unit else "")
        )
    if half_life_h is None:
        from_file = volume.metadata.get("radionuclide_half_life_s")
        if not isinstance(from_file, int | float):
            raise ImagingError(
                "Argument 'half_life_h' is needed: the volume does not record its radionuclide's "
                "half-life"
            )
        half_life_h = float(from_file) / S_PER_H
    if not math.isfinite(half_life_h) or half_life_h <= 0:
        raise ImagingError(f"Argument 'half_life_h' must be a positive number, not {half_life_h}")
    factor = decay_factor(hours_between(volume.reference_time, to_time), half_life_h)
    metadata = dict(volume.metadata)
    metadata["decay_corrected_from"] = volume.reference_time.isoformat()
    metadata["decay_half_life_h"] = half_life_h
    return dataclasses.replace(
        volume,
        array=volume.array.astype(np.float64) * factor,
        reference_time=to_time,
        metadata=metadata,
    )


def write_image(volume: ImageVolume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI (``.nii``/``.nii.gz``), NRRD or MetaImage.

    SimpleITK converts the LPS geometry to the file's own convention (RAS for
    NIfTI), so :func:`read_image` gives the same grid back.
    """
    out = Path(path)
    name = out.name.lower()
    if not name.endswith((".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")):
        raise ImagingError(f"{out}: write .nii, .nii.gz, .nrrd, .mha or .mhd")
    out.parent.mkdir(parents=True, exist_ok=True)
    array = volume.array.astype(np.uint8) if volume.array.dtype == np.bool_ else volume.array
    sitk.WriteImage(_to_sitk(volume.with_array(array)), str(out), True)
    return out
