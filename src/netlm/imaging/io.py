"""The image facade: reading and writing images and masks as :class:`~netlm.volume.ImageVolume`.

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

Writer: :func:`write_image` (NIfTI, NRRD, MetaImage).  The rest of the public
names are re-exported from their homes: :func:`resample_to`
(:mod:`netlm.imaging.itk`), :func:`dicom_files` (:mod:`netlm.imaging.dicom`,
the DICOM series reader), :func:`read_masks` (:mod:`netlm.imaging.masks`),
:func:`to_bq_per_ml` and :func:`decay_correct` (:mod:`netlm.imaging.activity`),
:class:`ImagingError` and :class:`ImagingWarning` (:mod:`netlm.imaging.errors`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows

from netlm.imaging.activity import decay_correct, to_bq_per_ml
from netlm.imaging.dicom import (
    _is_image,
    _read_dicom_folder,
    _read_dicom_header,
    _read_dicom_series,
    dicom_files,
)
from netlm.imaging.errors import ImagingError, ImagingWarning
from netlm.imaging.itk import (
    _format_of,
    _geometry_from_sitk,
    _is_slicer_segmentation,
    _read_itk,
    _to_sitk,
    resample_to,
)
from netlm.imaging.masks import read_masks
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
