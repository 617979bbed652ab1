"""Reading DICOM images into :class:`~netlm.volume.ImageVolume` in LPS.

A folder holding one series (CT, PET, MR..., one slice a file) or one
multi-frame file (NM SPECT reconstructions, enhanced multi-frame images, RT
Dose): headers, frames and their geometry (Image Position/Orientation
(Patient)), stacking into a regular grid (a missing slice, two slices at one
position, mixed orientations and gantry tilt are :class:`~netlm.errors.GeometryError`),
pixel decoding and rescaling.  Also the unit the files state (PET Units) and
the times the values refer to (decay-correction reference, administration of
the radiopharmaceutical), with DICOM dates, times and time zones.

:func:`netlm.imaging.io.read_image` is the reader to call; :func:`dicom_files`
lists the DICOM files of a folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pydicom
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID

from netlm.errors import GeometryError
from netlm.imaging.errors import ImagingError, _first_line, _fmt, _fmt_point
from netlm.imaging.limits import dicom_problem
from netlm.volume import ImageVolume

__all__ = ["dicom_files"]


#: DICOM PET Units (0054,1001) and the netlm unit they mean.
_DICOM_UNITS: Final[dict[str, str]] = {
    "BQML": "Bq/mL",
    "CNTS": "counts",
    "GML": "g/mL",
}

#: Tolerances of the geometry checks.
_ORIENTATION_TOL: Final = 1e-4  # direction cosines
_SPACING_TOL_MM: Final = 1e-3  # pixel spacing, positions
_IN_PLANE_TOL_MM: Final = 1e-2  # how far a slice may sit beside the stack axis
_SLICE_STEP_RTOL: Final = 1e-2  # slice steps differing by more than 1 % are not uniform

_RTSTRUCT_SOP_CLASS: Final = "1.2.840.10008.5.1.4.1.1.481.3"
_SEG_SOP_CLASS: Final = "1.2.840.10008.5.1.4.1.1.66.4"
_DICOMDIR_SOP_CLASS: Final = "1.2.840.10008.1.3.10"


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
