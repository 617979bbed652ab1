"""A PDF report as a DICOM Encapsulated PDF object (PS3.3 A.45.1), with pydicom.

:func:`write_encapsulated_pdf` wraps a PDF (the board summary or the
dosimetry report of :mod:`netlm.report`) in an Encapsulated PDF instance of
the study it reports on: patient and study are copied from a reference
instance of that study (the activity image, the RT Dose), the PDF's
document is referenced to the instances it was made from (Source Instance
Sequence), and its Frame of Reference is named in Referenced Series of the
source instances, so that a PACS files and shows it with the images.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from netlm import __version__
from netlm.imaging.errors import ImagingError

__all__ = ["ENCAPSULATED_PDF_STORAGE", "read_encapsulated_pdf", "write_encapsulated_pdf"]

#: SOP Class UID of Encapsulated PDF Storage.
ENCAPSULATED_PDF_STORAGE: Final = "1.2.840.10008.5.1.4.1.1.104.1"

_COPIED: Final = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)


def write_encapsulated_pdf(
    pdf: str | Path,
    path: str | Path,
    *,
    sources: Sequence[Dataset] = (),
    study: Dataset | None = None,
    title: str,
    series_number: int = 4,
    content_time: dt.datetime | None = None,
) -> Path:
    """Write the PDF file ``pdf`` as a DICOM Encapsulated PDF instance.

    Parameters
    ----------
    pdf
        The PDF file (must begin with ``%PDF-``).
    path
        The DICOM file to write.
    sources
        Instances the report was made from (RT Dose, SEG, SR...), all of one
        study: patient and study are copied from the first, and every one is
        listed in the Source Instance Sequence.
    study
        Patient and study attributes (e.g. a QIDO-RS study result) for a
        report made from no DICOM instance, such as the tumour-board summary;
        with ``sources``, it must be their study.
    title
        Document Title.
    series_number
        Series Number of the new series.
    content_time
        Content date/time; the current time by default.

    Raises
    ------
    ImagingError
        Not a PDF, neither sources nor study, sources of several studies.
    """
    data = Path(pdf).read_bytes()
    if not data.startswith(b"%PDF-"):
        raise ImagingError(f"{pdf}: is not a PDF file")
    if not sources and study is None:
        raise ImagingError("write_encapsulated_pdf: give the source instances or the study")
    studies = {str(s.get("StudyInstanceUID", "")) for s in (*sources, *([study] if study else []))}
    if len(studies) != 1 or "" in studies:
        raise ImagingError(f"write_encapsulated_pdf: the sources are of studies {sorted(studies)}")
    first = study if study is not None else sources[0]
    now = content_time or dt.datetime.now(dt.UTC).astimezone()

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    if now.utcoffset() is not None:
        ds.TimezoneOffsetFromUTC = now.strftime("%z")
    for keyword in _COPIED:
        setattr(ds, keyword, first.get(keyword, "") or "")
    # Encapsulated Document Series
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = title[:64]
    # General Equipment, SC Equipment
    ds.Manufacturer = "netlm"
    ds.ManufacturerModelName = "netlm"
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"
    # Encapsulated Document
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"
    ds.RecognizableVisualFeatures = "NO"
    ds.DocumentTitle = title[:64]
    ds.ConceptNameCodeSequence = []
    references = []
    for source in sources:
        item = Dataset()
        item.ReferencedSOPClassUID = source.SOPClassUID
        item.ReferencedSOPInstanceUID = source.SOPInstanceUID
        references.append(item)
    if references:
        ds.SourceInstanceSequence = references
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # Odd lengths are padded with a NUL; the length attribute keeps the PDF's own.
    ds.EncapsulatedDocumentLength = len(data)
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"NETLM_{__version__}"[:16]
    ds.file_meta = meta
    target = Path(path)
    if not target.parent.is_dir():
        raise ImagingError(f"{target}: folder {target.parent} does not exist")
    ds.save_as(target, enforce_file_format=True)
    return target


def read_encapsulated_pdf(path: str | Path) -> bytes:
    """The PDF held by an Encapsulated PDF file (without its padding)."""
    ds = pydicom.dcmread(path)
    if ds.SOPClassUID != ENCAPSULATED_PDF_STORAGE:
        raise ImagingError(f"{path}: is not an Encapsulated PDF ({ds.SOPClassUID})")
    data = bytes(ds.EncapsulatedDocument)
    length = ds.get("EncapsulatedDocumentLength")
    return data[: int(length)] if length else data
