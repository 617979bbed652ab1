"""The volumes of interest of a dose as a DICOM Segmentation (SEG), with highdicom.

:func:`write_seg` writes the masks used for a dose (on the dose grid, which is
the activity image's grid) as one BINARY SEG whose source images are the
activity series (PET/SPECT) the dose was computed from: patient, study and
Frame of Reference are that series', and every frame references it, so that
viewers and :mod:`netlm.imaging.sr` place the contours with the dose.

Segment codes (:data:`SEGMENT_CODES`): SNOMED CT (SCT) where one exists —
liver 10200004, lung 39607008, neoplasm 108369006 (tumours, lesions) — and
the private scheme ``99NETLM`` (:data:`NETLM_SCHEME`) for what SNOMED has no
concept for (perfused territory, any other VOI).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from netlm import __version__
from netlm.errors import GeometryError
from netlm.imaging.dicom import _files_below, _read_dicom_header
from netlm.imaging.errors import ImagingError
from netlm.volume import ImageVolume

__all__ = [
    "NETLM_SCHEME",
    "SEG_STORAGE",
    "private_code",
    "read_source_series",
    "save_derived",
    "segment_code",
    "write_seg",
]

#: SOP Class UID of Segmentation Storage.
SEG_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.66.4"

#: Private coding scheme of netlm's own concepts: (designator, name, version).
NETLM_SCHEME: Final = ("99NETLM", "netlm private codes", __version__)


#: Type 2 Patient and General Study attributes that objects derived from a series copy.
_TYPE2_COPIED: Final = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def private_code(value: str, meaning: str) -> Code:
    """A concept of netlm's private scheme ``99NETLM`` (:data:`NETLM_SCHEME`)."""
    return Code(value, NETLM_SCHEME[0], meaning)


#: (category, type) codes of a segment, by the kind of VOI.
SEGMENT_CODES: Final = {
    "liver": (codes.SCT.AnatomicalStructure, codes.SCT.Liver),
    "lung": (codes.SCT.AnatomicalStructure, codes.SCT.Lung),
    "tumour": (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
    "perfused": (codes.SCT.Tissue, private_code("perfused-territory", "Perfused territory")),
    "other": (codes.SCT.Tissue, private_code("voi", "Volume of interest")),
}


def segment_code(name: str) -> tuple[Code, Code]:
    """The (category, type) codes of a VOI by its name.

    Examples
    --------
    >>> [segment_code(n)[1].value for n in ("Liver", "tumour_2", "perfused", "lungs", "x")]
    ['10200004', '108369006', 'perfused-territory', '39607008', 'voi']
    """
    key = name.strip().lower()
    if key.startswith(("tumour", "tumor", "lesion")):
        return SEGMENT_CODES["tumour"]
    if "perfus" in key or "territor" in key:
        return SEGMENT_CODES["perfused"]
    if "lung" in key:
        return SEGMENT_CODES["lung"]
    if "liver" in key:
        return SEGMENT_CODES["liver"]
    return SEGMENT_CODES["other"]


def _instance_uids(ds: Dataset, file: Path) -> None:
    """Fill an empty SOP Class / Instance UID from the file meta, or refuse the file.

    Some exports (the bundled CT among them) keep the two UIDs only in the file
    meta (Media Storage SOP Class / Instance UID), with empty Type 1 elements
    in the dataset; derived objects reference images by them.
    """
    meta = getattr(ds, "file_meta", None)
    for keyword, meta_keyword in (
        ("SOPClassUID", "MediaStorageSOPClassUID"),
        ("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
    ):
        if str(ds.get(keyword, "") or ""):
            continue
        value = str(getattr(meta, meta_keyword, "") or "") if meta is not None else ""
        if not value:
            raise ImagingError(f"{file}: {keyword} is empty in the dataset and the file meta")
        setattr(ds, keyword, value)


def read_source_series(source: str | Path) -> list[Dataset]:
    """The DICOM images of a series (a folder or one multi-frame file), with pixel data.

    An empty SOP Class or Instance UID is taken from the file meta (Media
    Storage SOP Class / Instance UID); empty Type 2 patient and study
    attributes that derived objects copy are added empty.

    Raises
    ------
    ImagingError
        The path holds no DICOM image, or images of more than one series; an
        image has an empty (or no) Study or Series Instance UID — an object
        derived from it could name neither its study nor its source series,
        so it is refused rather than written into a study of its own.
    """
    path = Path(source)
    files = _files_below(path) if path.is_dir() else [path]
    images: list[Dataset] = []
    for file in files:
        if _read_dicom_header(file) is None:
            continue
        ds = pydicom.dcmread(file)
        if "PixelData" not in ds:
            continue
        _instance_uids(ds, file)
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
            if not str(ds.get(keyword, "") or ""):
                raise ImagingError(
                    f"{file}: {keyword} is empty; give the series its study and series UIDs "
                    "(a PACS does on storing) before deriving SEG, SR or RT Dose from it"
                )
        images.append(ds)
    if not images:
        raise ImagingError(f"{path}: holds no DICOM image")
    series = {str(ds.SeriesInstanceUID) for ds in images}
    if len(series) != 1:
        raise ImagingError(f"{path}: holds images of {len(series)} series; give one series")
    for image in images:
        # Type 2 attributes (present, possibly empty) that derived objects copy.
        for keyword in _TYPE2_COPIED:
            if keyword not in image:
                setattr(image, keyword, "")
    return images


def _geometry(volume: ImageVolume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin, row/column cosines (i, j) and slice step (mm, LPS) of the grid."""
    direction = np.asarray(volume.direction, dtype=float).reshape(3, 3)
    origin = np.asarray(volume.origin_mm, dtype=float)
    step = direction[:, 2] * float(volume.spacing_mm[2])
    return origin, direction[:, :2], step


def _check_source_grid(grid: ImageVolume, source: str | Path) -> None:
    """Refuse masks that are not on the source series' own voxel grid.

    Each frame of the SEG references the source image at its position, so the
    masks must lie on that grid: they are never resampled here (resample or
    register them first, and record it, as :func:`netlm.workflows.dose.compute_dose` does).
    """
    from netlm.imaging.io import read_image

    image = read_image(source)
    if not grid.same_grid(image, tolerance_mm=0.01):
        raise GeometryError(
            "write_seg: the masks are not on the grid of the source series "
            f"(masks {grid.array.shape} voxels of {tuple(grid.spacing_mm)} mm at "
            f"{tuple(round(v, 2) for v in grid.origin_mm)}; source {image.array.shape} of "
            f"{tuple(image.spacing_mm)} mm at {tuple(round(v, 2) for v in image.origin_mm)}); "
            "netlm does not resample them silently"
        )


def write_seg(
    masks: Mapping[str, ImageVolume],
    source: str | Path,
    path: str | Path,
    *,
    description: str = "netlm dosimetry VOIs",
    series_number: int = 2,
) -> Path:
    """Write the VOIs ``masks`` (all on one grid) as a BINARY DICOM SEG.

    Parameters
    ----------
    masks
        Binary masks by VOI name, on the grid of the source series (as
        :func:`netlm.workflows.dose.compute_dose` returns them); each becomes
        one segment, labelled with its name and coded by :func:`segment_code`.
    source
        The DICOM series the masks were drawn on / resampled to (the activity
        image of the dose): its patient, study and Frame of Reference are
        used and each frame refers to it.
    path
        The file to write.
    description
        Series Description.
    series_number
        Series Number of the new series.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ImagingError
        No mask, empty masks, no DICOM source.
    GeometryError
        Masks on different grids, masks not on the source series' grid (they
        are never resampled), or a grid whose Frame of Reference differs from
        the source's.
    """
    import highdicom as hd

    if not masks:
        raise ImagingError("write_seg: no mask given")
    names = list(masks)
    grid = masks[names[0]]
    for name in names[1:]:
        if not masks[name].same_grid(grid):
            raise GeometryError(f"write_seg: mask {name!r} is not on the grid of {names[0]!r}")
    images = read_source_series(source)
    _check_source_grid(grid, source)
    frame = str(images[0].get("FrameOfReferenceUID", "")) or None
    if grid.frame_of_reference_uid and frame and grid.frame_of_reference_uid != frame:
        raise GeometryError(
            f"write_seg: the masks' frame of reference {grid.frame_of_reference_uid} differs "
            f"from the source series' {frame}"
        )
    stack = np.stack([np.asarray(masks[n].array) > 0 for n in names], axis=-1)
    empty = [n for n, m in zip(names, np.moveaxis(stack, -1, 0), strict=True) if not m.any()]
    if empty:
        raise ImagingError(f"write_seg: masks {empty} select no voxel")

    origin, cosines, step = _geometry(grid)
    sx, sy, sz = (float(v) for v in grid.spacing_mm)
    positions = [
        hd.PlanePositionSequence(
            coordinate_system="PATIENT", image_position=[float(v) for v in origin + k * step]
        )
        for k in range(stack.shape[0])
    ]
    orientation = hd.PlaneOrientationSequence(
        coordinate_system="PATIENT",
        image_orientation=[float(v) for v in (*cosines[:, 0], *cosines[:, 1])],
    )
    measures = hd.PixelMeasuresSequence(pixel_spacing=[sy, sx], slice_thickness=sz)
    descriptions = []
    for number, name in enumerate(names, start=1):
        category, kind = segment_code(name)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name[:64],
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                tracking_id=name[:64],
                tracking_uid=generate_uid(),
            )
        )
    seg = hd.seg.Segmentation(
        source_images=images,
        pixel_array=stack.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="netlm",
        manufacturer_model_name="netlm",
        software_versions=__version__,
        device_serial_number="0",
        series_description=description[:64],
        content_description=description[:64],
        content_label="VOIS",
        pixel_measures=measures,
        plane_orientation=orientation,
        plane_positions=positions,
        omit_empty_frames=False,
    )
    return save_derived(seg, path)


def save_derived(ds: Dataset, path: str | Path) -> Path:
    """Write an object netlm made (SEG, SR) to ``path``, the ``99NETLM`` scheme declared.

    Raises
    ------
    ImagingError
        The folder of ``path`` does not exist.
    """
    _declare_private_scheme(ds)
    target = Path(path)
    if not target.parent.is_dir():
        raise ImagingError(f"{target}: folder {target.parent} does not exist")
    ds.save_as(target)
    return target


def _declare_private_scheme(ds: Dataset) -> None:
    """Add the ``99NETLM`` scheme to the Coding Scheme Identification Sequence."""
    item = Dataset()
    item.CodingSchemeDesignator = NETLM_SCHEME[0]
    item.CodingSchemeName = NETLM_SCHEME[1]
    item.CodingSchemeVersion = NETLM_SCHEME[2]
    item.CodingSchemeResponsibleOrganization = "netlm"
    existing = list(ds.get("CodingSchemeIdentificationSequence", []))
    if all(getattr(e, "CodingSchemeDesignator", "") != NETLM_SCHEME[0] for e in existing):
        ds.CodingSchemeIdentificationSequence = [*existing, item]
