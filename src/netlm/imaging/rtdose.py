"""Writing an absorbed-dose image as a DICOM RT Dose object.

The file holds one grid-based dose (``DoseType`` PHYSICAL, ``DoseUnits`` GY)
that refers to no RT Plan unless one is named (Dose Summation Type
PLAN_OVERVIEW with a Plan Overview Sequence; PLAN with ``plan_uid``),
as 32-bit unsigned integers times Dose Grid Scaling, with the modules of the
RT Dose IOD (PS3.3 A.18): Patient, General Study, RT Series, Frame of
Reference, General Equipment, General Image, Image Plane, Image Pixel,
Multi-frame, RT Dose and SOP Common.  Treatment planning systems and viewers
(3D Slicer, MIM, Eclipse, ...) read it over the CT or PET it was computed on.

The grid is written right-handed (slice normal = row × column direction, as
Grid Frame Offset Vector needs): a left-handed grid, such as a SPECT whose
slices run towards the feet, is stored with its slices in reverse order, which
is the same dose in space.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    RE_VALID_UID,
    ExplicitVRLittleEndian,
    generate_uid,
)
from pydicom.valuerep import DSfloat

from netlm import __version__
from netlm.errors import GeometryError, UnitError
from netlm.imaging.dicom import _files_below, _read_dicom_header
from netlm.imaging.errors import ImagingError
from netlm.volume import ImageVolume

__all__ = [
    "RT_DOSE_STORAGE",
    "RT_PLAN_STORAGE",
    "reference_header",
    "referenced_images_of",
    "write_rt_dose",
]

#: SOP Class UID of RT Dose Storage.
RT_DOSE_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.481.2"

#: Patient attributes copied from a reference image, and the ``patient`` keys for them.
_PATIENT_KEYS: Final[dict[str, str]] = {
    "name": "PatientName",
    "id": "PatientID",
    "birth_date": "PatientBirthDate",
    "sex": "PatientSex",
}
_STUDY_ATTRIBUTES: Final = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)

#: SOP Class UID of RT Plan Storage, the class the Referenced RT Plan Sequence names.
RT_PLAN_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.481.5"


def _ds(value: float) -> DSfloat:
    """A decimal string of at most 16 characters for ``value``."""
    return DSfloat(float(value), auto_format=True)


def reference_header(reference_dicom: str | Path) -> Dataset:
    """The header of the first DICOM file of ``reference_dicom`` (a file or a folder).

    Raises
    ------
    ImagingError
        No such file or folder, no DICOM file in it, or a header whose Study
        Instance UID is empty: an RT Dose must be filed in its images' study.
    """
    path = Path(reference_dicom)
    if not path.exists():
        raise ImagingError(f"{path}: no such file or folder")
    files = _files_below(path) if path.is_dir() else [path]
    for file in files:
        header = _read_dicom_header(file)
        if header is not None:
            if not str(header.get("StudyInstanceUID", "") or ""):
                raise ImagingError(
                    f"{file}: StudyInstanceUID is empty; an RT Dose made on it would not be "
                    "in the images' study (give the series its study UID)"
                )
            return header
    raise ImagingError(f"{path}: holds no DICOM file")


def _patient_attributes(patient: Mapping[str, object]) -> dict[str, str]:
    unknown = sorted(set(patient) - set(_PATIENT_KEYS))
    if unknown:
        raise ImagingError(
            f"Argument 'patient' has unknown keys {unknown}; known are {sorted(_PATIENT_KEYS)}"
        )
    attributes = {}
    for key, keyword in _PATIENT_KEYS.items():
        if key not in patient:
            continue
        value = patient[key]
        if key == "birth_date" and isinstance(value, dt.date):
            text = value.strftime("%Y%m%d")
        else:
            text = "" if value is None else str(value)
        if key == "sex" and text not in {"", "M", "F", "O"}:
            raise ImagingError(f"Argument 'patient': sex must be 'M', 'F' or 'O', not {text!r}")
        attributes[keyword] = text
    return attributes


def _right_handed(dose: ImageVolume) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Array (k, j, i), origin, and row and column cosines of the grid, made right-handed."""
    direction = np.asarray(dose.direction, dtype=float).reshape(3, 3)
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-6):
        raise GeometryError("write_rt_dose: the dose grid's direction is not orthonormal")
    row, column, slice_axis = direction[:, 0], direction[:, 1], direction[:, 2]
    normal = np.cross(row, column)
    array = dose.array
    origin = np.asarray(dose.origin_mm, dtype=float)
    if float(normal @ slice_axis) < 0:
        nk = array.shape[0]
        origin = origin + (nk - 1) * dose.spacing_mm[2] * slice_axis
        array = array[::-1]
    return array, origin, row, column


#: Negative dose down to this fraction of the largest dose is rounding noise of a
#: convolution (clipped to 0); below it the dose is wrong and is refused.
_NEGATIVE_NOISE: Final = 1e-6


def _stored_values(array: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Dose as unsigned integers of ``bits`` bits and the Dose Grid Scaling (Gy per unit)."""
    values = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ImagingError("write_rt_dose: the dose holds NaN or infinite values")
    high = float(values.max()) if values.size else 0.0
    low = float(values.min()) if values.size else 0.0
    if low < 0:
        if low < -_NEGATIVE_NOISE * max(high, 0.0) or high <= 0:
            raise ImagingError(
                f"write_rt_dose: the dose has negative values (down to {low:g} Gy), "
                "which a PHYSICAL RT Dose cannot hold"
            )
        values = np.clip(values, 0.0, None)  # rounding noise of a convolution
    # Leave headroom (7 %) below the largest integer: Dose Grid Scaling is a
    # decimal string, rounded to 16 characters, and may round down.
    top = 2**bits - 1
    scaling = float(_ds(high / (0.93 * top))) if high > 0 else 1.0
    stored = np.clip(np.rint(values / scaling), 0, top)
    return stored.astype(np.uint32 if bits == 32 else np.uint16), scaling


def _plan_overview(referenced_images: Sequence[tuple[str, str]]) -> Dataset:
    """The Plan Overview item of a dose that belongs to no RT Plan object (one 90Y implant)."""
    item = Dataset()
    if referenced_images:
        refs = []
        for class_uid, instance_uid in referenced_images:
            ref = Dataset()
            ref.ReferencedSOPClassUID = class_uid
            ref.ReferencedSOPInstanceUID = instance_uid
            refs.append(ref)
        item.ReferencedImageSequence = refs
    item.CurrentFractionNumber = 1
    item.RTPlanLabel = "90Y implant"
    item.PrescriptionOverviewSequence = []
    item.PlanOverviewIndex = 1
    item.NumberOfFractionsIncluded = 1
    item.TreatmentSite = "liver"
    item.TreatmentSiteCodeSequence = []
    return item


def referenced_images_of(source: str | Path) -> list[tuple[str, str]]:
    """``(SOP Class UID, SOP Instance UID)`` of every DICOM image in a file or folder.

    A UID empty in the dataset is taken from the file meta (Media Storage SOP
    Class / Instance UID).  Returns an empty list for files that are not DICOM
    (NIfTI, NRRD).
    """
    path = Path(source)
    files = _files_below(path) if path.is_dir() else [path]
    found: list[tuple[str, str]] = []
    for file in files:
        header = _read_dicom_header(file)
        if header is None:
            continue
        # An export may keep the two UIDs only in the file meta (the bundled CT does).
        meta = header.get("file_meta")
        class_uid = str(header.get("SOPClassUID", "") or "") or str(
            getattr(meta, "MediaStorageSOPClassUID", "") or ""
        )
        instance_uid = str(header.get("SOPInstanceUID", "") or "") or str(
            getattr(meta, "MediaStorageSOPInstanceUID", "") or ""
        )
        if RE_VALID_UID.match(class_uid) and RE_VALID_UID.match(instance_uid):
            found.append((class_uid, instance_uid))
    return found


def write_rt_dose(
    dose: ImageVolume,
    path: str | Path,
    *,
    reference_dicom: str | Path | None = None,
    patient: Mapping[str, object] | None = None,
    description: str = "netlm 90Y absorbed dose",
    plan_uid: str | None = None,
    bits_allocated: Literal[16, 32] = 32,
    content_time: dt.datetime | None = None,
    referenced_images: Sequence[tuple[str, str]] = (),
    comments: str | None = None,
) -> Path:
    """Write ``dose`` as a DICOM RT Dose file.

    Parameters
    ----------
    dose
        Absorbed dose on any 3-D grid, unit ``"Gy"``.  Negative values are an
        error, except rounding noise (down to -1e-6 × the maximum), which is
        written as 0.
    path
        The file to write; its folder must exist.
    reference_dicom
        A DICOM file, or a folder of them, of the image the dose was computed
        on: patient, study and frame of reference are copied from it, so that
        viewers overlay the dose on that image; its Study Instance UID must
        not be empty.  Without it a new study and frame of reference are made
        (unless ``dose`` has a frame of reference).
    patient
        Patient attributes to write, overriding the reference: keys ``name``,
        ``id``, ``birth_date`` (``datetime.date`` or ``YYYYMMDD``), ``sex``
        (``M``, ``F``, ``O``).
    description
        Series Description and Dose Comment.
    plan_uid
        SOP Instance UID of an existing RT Plan object the dose belongs to
        (Dose Summation Type PLAN with a Referenced RT Plan Sequence).  Give it
        only when that object exists.  Radioembolization has no DICOM RT Plan:
        by default (``None``) the dose is written with Dose Summation Type
        PLAN_OVERVIEW and a Plan Overview Sequence (one administration, label
        "90Y implant", Referenced Image Sequence from ``referenced_images``),
        which refers to no plan object.
    bits_allocated
        32 (default; dose resolution maximum / 4e9) or 16 (maximum / 6e4), for
        readers and validators that handle 16-bit pixel data only.
    content_time
        Content and instance creation date/time; the current time by default.
    referenced_images
        ``(SOP Class UID, SOP Instance UID)`` of the images the dose was
        computed from (e.g. the 90Y PET series), for the Plan Overview.
    comments
        Free text written to Image Comments (up to 10240 characters), e.g.
        the activity's unit, reference time and decay-correction factor.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    UnitError
        ``dose`` is not in Gy.
    GeometryError
        The dose's frame of reference differs from the reference image's; the
        grid's direction is not orthonormal.
    ImagingError
        NaN, infinite or negative doses; a bad ``patient`` mapping; a bad
        ``plan_uid`` or ``bits_allocated``; an unreadable ``reference_dicom``
        or one with an empty Study Instance UID.
    """
    if dose.unit != "Gy":
        raise UnitError(f"Argument 'dose' must be in 'Gy', not {dose.unit!r}")
    if bits_allocated not in (16, 32):
        raise ImagingError(f"Argument 'bits_allocated' must be 16 or 32, not {bits_allocated!r}")
    if plan_uid is not None and (len(plan_uid) > 64 or RE_VALID_UID.match(plan_uid) is None):
        raise ImagingError(f"Argument 'plan_uid' is not a valid UID: {plan_uid!r}")
    for n, pair in enumerate(referenced_images):
        if len(pair) != 2 or any(len(uid) > 64 or RE_VALID_UID.match(uid) is None for uid in pair):
            raise ImagingError(
                f"Argument 'referenced_images'[{n}] is not a pair of valid UIDs: {pair!r}"
            )
    target = Path(path)
    if not target.parent.is_dir():
        raise ImagingError(f"{target}: folder {target.parent} does not exist")
    patient_attributes = _patient_attributes(patient or {})
    reference = None if reference_dicom is None else reference_header(reference_dicom)

    frame_of_reference = dose.frame_of_reference_uid
    if reference is not None:
        reference_frame = str(reference.get("FrameOfReferenceUID", "")) or None
        if frame_of_reference and reference_frame and frame_of_reference != reference_frame:
            raise GeometryError(
                f"{reference_dicom}: frame of reference {reference_frame} differs from the "
                f"dose's {frame_of_reference}"
            )
        frame_of_reference = frame_of_reference or reference_frame

    now = content_time or dt.datetime.now(dt.UTC).astimezone()
    array, origin, row, column = _right_handed(dose)
    stored, scaling = _stored_values(array, bits_allocated)
    nk, nj, ni = stored.shape
    sx, sy, sz = (float(v) for v in dose.spacing_mm)

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    # SOP Common
    ds.SOPClassUID = RT_DOSE_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    if now.utcoffset() is not None:
        ds.TimezoneOffsetFromUTC = now.strftime("%z")
    # Patient
    ds.PatientName = ""
    ds.PatientID = ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    # General Study
    ds.StudyInstanceUID = ""
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    if reference is not None:
        for keyword in (*_PATIENT_KEYS.values(), *_STUDY_ATTRIBUTES):
            value = reference.get(keyword)
            if value not in (None, ""):
                setattr(ds, keyword, value)
    for keyword, text in patient_attributes.items():
        setattr(ds, keyword, text)
    if not ds.StudyInstanceUID:
        ds.StudyInstanceUID = generate_uid()  # no reference image: a study of its own
    # RT Series
    ds.Modality = "RTDOSE"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 1
    ds.SeriesDate = now.strftime("%Y%m%d")
    ds.SeriesTime = now.strftime("%H%M%S")
    ds.SeriesDescription = description[:64]
    ds.OperatorsName = ""
    # Frame of Reference
    ds.FrameOfReferenceUID = frame_of_reference or generate_uid()
    ds.PositionReferenceIndicator = ""
    if reference is not None and reference.get("PositionReferenceIndicator"):
        ds.PositionReferenceIndicator = reference.PositionReferenceIndicator
    # General Equipment
    ds.Manufacturer = "netlm"
    ds.ManufacturerModelName = "netlm"
    ds.SoftwareVersions = __version__
    # General Image
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    # Image Plane
    ds.PixelSpacing = [_ds(sy), _ds(sx)]
    ds.ImageOrientationPatient = [_ds(v) for v in (*row, *column)]
    ds.ImagePositionPatient = [_ds(v) for v in origin]
    ds.SliceThickness = _ds(sz)
    # Image Pixel, Multi-frame, RT Dose
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = nj
    ds.Columns = ni
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_allocated
    ds.HighBit = bits_allocated - 1
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = nk
    ds.FrameIncrementPointer = pydicom.tag.Tag("GridFrameOffsetVector")
    ds.GridFrameOffsetVector = [_ds(k * sz) for k in range(nk)]
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    if plan_uid is not None:
        ds.DoseSummationType = "PLAN"
        plan = Dataset()
        plan.ReferencedSOPClassUID = RT_PLAN_STORAGE
        plan.ReferencedSOPInstanceUID = plan_uid
        ds.ReferencedRTPlanSequence = [plan]
    else:
        # No RT Plan object exists: describe the treatment in a Plan Overview
        # (PS3.3 C.8.8.3, Dose Summation Type PLAN_OVERVIEW) that references the
        # images the dose was computed from, instead of a plan UID nothing has.
        ds.DoseSummationType = "PLAN_OVERVIEW"
        ds.PlanOverviewSequence = [_plan_overview(referenced_images)]
    ds.DoseComment = description[:64]
    if comments:
        ds.ImageComments = comments[:10240]
    ds.DoseGridScaling = _ds(scaling)
    ds.PixelData = np.ascontiguousarray(stored).astype(f"<u{bits_allocated // 8}").tobytes()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"NETLM_{__version__}"[:16]
    ds.file_meta = meta
    ds.save_as(target, enforce_file_format=True)
    return target
