"""DICOM series for the PACS tests: the bundled CT and a 90Y PET of the liver phantom."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from conftest import SHARED
from netlm.sirt.physics import Physics
from netlm.volume import ImageVolume
from netlm.voxel.phantom import Phantom

CT_DICOM = SHARED / "data" / "abdomen-ct" / "ct-dicom"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
PHYSICS = Physics()
HALF_LIFE_H = PHYSICS.y90_half_life_h
IMPLANT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
DCIODVFY = shutil.which("dciodvfy")
PATIENT = "NETLM-PACS-1"
#: The phantom of the tests (i, j, k voxels of 6 mm) and its number of slices.
PHANTOM_SHAPE = (40, 32, 48)
NK = PHANTOM_SHAPE[2]


def dicom_time(moment: dt.datetime) -> tuple[str, str]:
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def study_attributes(ds: Dataset, study: str) -> None:
    ds.PatientID, ds.PatientName = PATIENT, "Pacs^Test"
    ds.PatientBirthDate, ds.PatientSex = "19600101", "F"
    ds.StudyInstanceUID, ds.StudyID, ds.AccessionNumber = study, "1", "ACC-PACS-1"
    ds.StudyDate, ds.StudyTime = dicom_time(IMPLANT)
    ds.ReferringPhysicianName = ""


def ct_series(folder: Path, study: str) -> Path:
    """The bundled CT, in ``study``."""
    folder.mkdir(parents=True)
    series = generate_uid()
    for file in sorted(CT_DICOM.iterdir()):
        ds = pydicom.dcmread(file)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series
        study_attributes(ds, study)
        ds.save_as(folder / f"{file.name}.dcm")
    return folder


def slice_geometry(
    ds: Dataset, volume: ImageVolume, k: int, shift_mm: Sequence[float] = (0.0, 0.0, 0.0)
) -> None:
    """Position, orientation and spacing of slice ``k`` of ``volume`` (moved by ``shift_mm``)."""
    ds.ImagePositionPatient = [
        volume.origin_mm[0] + shift_mm[0],
        volume.origin_mm[1] + shift_mm[1],
        volume.origin_mm[2] + shift_mm[2] + k * volume.spacing_mm[2],
    ]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [volume.spacing_mm[1], volume.spacing_mm[0]]
    ds.SliceThickness = volume.spacing_mm[2]


def save_slice(ds: Dataset, stored: np.ndarray, sop_class: str, path: Path) -> None:
    """Write ``ds`` as a new ``sop_class`` instance with the 16-bit pixels ``stored``."""
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = stored.tobytes()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def pet_series(
    folder: Path,
    phantom: Phantom,
    study: str,
    *,
    delay_h: float = 24.0,
    correction: str | None = "START",
    timezone_offset: str | None = "+0100",
    half_life_s: float = HALF_LIFE_H * 3600.0,
    injected_bq: float | None = None,
    administration: bool = True,
) -> Path:
    """A 90Y PET of the phantom ``delay_h`` after the implant.

    Values are decay-corrected as ``correction`` says: ADMIN to the administration,
    START to the series start, NONE (or ``None``: no Decay Correction) as measured
    at the scan.  ``timezone_offset``, ``injected_bq`` (Radionuclide Total Dose) and
    ``administration`` (Radiopharmaceutical Start DateTime) are left out when
    ``None`` / ``False``.
    """
    folder.mkdir(parents=True)
    scan = IMPLANT + dt.timedelta(hours=delay_h)
    truth = np.asarray(phantom.activity.array, dtype=np.float64)
    values = truth if correction == "ADMIN" else truth * 2.0 ** (-delay_h / HALF_LIFE_H)
    volume = phantom.activity
    series, frame = generate_uid(), generate_uid()
    for k in range(values.shape[0]):
        ds = Dataset()
        study_attributes(ds, study)
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "PT", 7, k + 1
        ds.SeriesDescription = "90Y PET"
        ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series, frame
        slice_geometry(ds, volume, k)
        top = float(values[k].max())
        slope = top / 60000.0 if top > 0 else 1.0
        ds.RescaleSlope, ds.RescaleIntercept = slope, 0
        ds.Units = "BQML"
        if correction is not None:
            ds.DecayCorrection = correction
        ds.SeriesDate, ds.SeriesTime = dicom_time(scan)
        ds.AcquisitionDate, ds.AcquisitionTime = dicom_time(scan)
        if timezone_offset:
            ds.TimezoneOffsetFromUTC = timezone_offset
        info = Dataset()
        info.Radiopharmaceutical = "Y-90 microspheres"
        info.RadionuclideHalfLife = half_life_s
        if injected_bq is not None:
            info.RadionuclideTotalDose = injected_bq
        if administration:
            info.RadiopharmaceuticalStartDateTime = IMPLANT.strftime("%Y%m%d%H%M%S")
        ds.RadiopharmaceuticalInformationSequence = [info]
        stored = np.rint(values[k] / slope).astype("<u2")
        save_slice(ds, stored, PET_STORAGE, folder / f"slice{k:03d}.dcm")
    return folder


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy prints for ``path`` (it must read the file to the end)."""
    assert DCIODVFY is not None
    done = subprocess.run(
        [DCIODVFY, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    report = done.stdout + done.stderr
    assert "Abort" not in report, report
    return [line for line in report.splitlines() if line.startswith("Error")]


def referenced_uids(ds: Dataset) -> tuple[set[str], set[str]]:
    """Every Referenced SOP Instance UID and every series UID of a Referenced Series
    Sequence item anywhere in ``ds`` (nested sequences and SR content included)."""
    instances: set[str] = set()
    series: set[str] = set()

    def walk(item: Dataset) -> None:
        for element in item:
            if element.keyword == "ReferencedSOPInstanceUID":
                instances.add(str(element.value))
            elif element.VR == "SQ":
                for child in element.value:
                    if (
                        element.keyword == "ReferencedSeriesSequence"
                        and "SeriesInstanceUID" in child
                    ):
                        series.add(str(child.SeriesInstanceUID))
                    walk(child)

    walk(ds)
    return instances, series
