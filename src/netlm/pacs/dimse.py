"""A PACS over DIMSE (C-FIND, C-MOVE, C-STORE) with pynetdicom, for sites without DICOMweb.

The same operations as :mod:`netlm.pacs.client`, over the DICOM upper-layer
protocol: :func:`find_studies` and :func:`find_series` (C-FIND, Study Root),
:func:`pull_series` (C-MOVE to netlm itself: a Storage SCP is started on
``DimseConfig.move_port`` for the retrieval, and the PACS must know netlm's
AE title at that host and port), :func:`push_files` (C-STORE).  Every failure
of the association or a refused request is a :class:`~netlm.pacs.PacsError`
naming the peer and the DIMSE status.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import RE_VALID_UID

from netlm.errors import InputError
from netlm.pacs.client import PacsError, SeriesInfo, StudyInfo

__all__ = [
    "DimseConfig",
    "find_series",
    "find_studies",
    "parse_address",
    "pull_series",
    "push_files",
]

#: Study Root Query/Retrieve Information Model - FIND and - MOVE (PS3.4 C.6.2).
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"

#: DIMSE statuses that mean "more answers follow" (C-FIND/C-MOVE pending).
_PENDING = frozenset({0xFF00, 0xFF01})


def _valid_aet(value: str) -> bool:
    return 0 < len(value) <= 16 and value.isascii() and "\\" not in value and value.strip() != ""


@dataclass(frozen=True)
class DimseConfig:
    """Where the PACS's DICOM service is and who netlm is to it.

    Attributes
    ----------
    host, port
        The PACS's DICOM service.
    called_aet
        The PACS's AE title.
    calling_aet
        netlm's AE title (the PACS must know it, at ``move_port``, for C-MOVE).
    move_port
        Port of the Storage SCP netlm runs during a C-MOVE (``pull_series``).
    timeout_s
        Seconds to wait for the association and for each answer.
    """

    host: str
    port: int
    called_aet: str
    calling_aet: str = "NETLM"
    move_port: int | None = None
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if not self.host:
            problems.append(("dimse", "give the PACS as HOST:PORT"))
        if not 0 < self.port < 65536:
            problems.append(("dimse", f"port {self.port} is not 1 to 65535"))
        for field, value in (("called_aet", self.called_aet), ("aet", self.calling_aet)):
            if not _valid_aet(value):
                problems.append((field, f"{value!r} is not an AE title (1 to 16 ASCII characters)"))
        if self.move_port is not None and not 0 < self.move_port < 65536:
            problems.append(("move_port", f"port {self.move_port} is not 1 to 65535"))
        if not self.timeout_s > 0:
            problems.append(("timeout_s", f"must be positive, not {self.timeout_s}"))
        if problems:
            raise InputError(problems)

    @property
    def peer(self) -> str:
        return f"{self.called_aet}@{self.host}:{self.port}"


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` as ``(host, port)``.

    Examples
    --------
    >>> parse_address("pacs.local:104")
    ('pacs.local', 104)
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError([("dimse", f"{address!r} is not HOST:PORT")])
    return host, int(port)


def _ae(config: DimseConfig, contexts: Sequence[str] = ()) -> Any:
    from pynetdicom import AE

    ae = AE(ae_title=config.calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = config.timeout_s
    for context in contexts:
        ae.add_requested_context(context)
    return ae


@contextmanager
def _association(config: DimseConfig, ae: Any, what: str) -> Iterator[Any]:
    assoc = ae.associate(config.host, config.port, ae_title=config.called_aet)
    if not assoc.is_established:
        raise PacsError(f"{config.peer}: {what}: no association (rejected, aborted or no answer)")
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def _status(config: DimseConfig, what: str, status: Dataset | None) -> int:
    if status is None or "Status" not in status:
        raise PacsError(f"{config.peer}: {what}: no answer (timeout or aborted association)")
    return int(status.Status)


def _find(config: DimseConfig, query: Dataset, what: str) -> list[Dataset]:
    found: list[Dataset] = []
    with _association(config, _ae(config, [STUDY_ROOT_FIND]), what) as assoc:
        for status, identifier in assoc.send_c_find(query, STUDY_ROOT_FIND):
            code = _status(config, what, status)
            if code in _PENDING and identifier is not None:
                found.append(identifier)
            elif code != 0x0000:
                raise PacsError(f"{config.peer}: {what} failed: status 0x{code:04X}")
    return found


def find_studies(
    config: DimseConfig,
    *,
    patient_id: str | None = None,
    accession_number: str | None = None,
    study_uid: str | None = None,
) -> list[StudyInfo]:
    """Studies matching the patient ID, accession number or study UID (C-FIND, STUDY level)."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid or ""
    query.PatientID = patient_id or ""
    query.AccessionNumber = accession_number or ""
    query.PatientName = ""
    query.StudyDate = ""
    query.StudyDescription = ""
    return [StudyInfo.of(ds) for ds in _find(config, query, "study search")]


def find_series(
    config: DimseConfig, study_uid: str, *, modality: str | None = None
) -> list[SeriesInfo]:
    """Series of a study, optionally of one modality (C-FIND, SERIES level)."""
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = ""
    query.Modality = modality or ""
    query.SeriesDescription = ""
    query.NumberOfSeriesRelatedInstances = ""
    series = [
        SeriesInfo.of(ds, study_uid)
        for ds in _find(config, query, f"series search in study {study_uid}")
    ]
    return [s for s in series if modality is None or s.modality == modality]


def pull_series(config: DimseConfig, study_uid: str, series_uid: str, folder: Path) -> list[Path]:
    """Retrieve a series by C-MOVE to netlm's own Storage SCP into ``folder``; the files written.

    Files are named by SOP Instance UID (a UID that is not one is refused:
    the sender never chooses a path); instances of another series are refused.

    Raises
    ------
    InputError
        (``move_port``) No port to receive on.
    PacsError
        The association failed, the PACS refused the move or sent nothing.
    """
    from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    if config.move_port is None:
        raise InputError([("move_port", "C-MOVE needs the port netlm receives on (--move-port)")])
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    refused: list[str] = []
    lock = threading.Lock()

    def store(event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        uid = str(ds.get("SOPInstanceUID", ""))
        if str(ds.get("SeriesInstanceUID", "")) != series_uid:
            with lock:
                refused.append(f"{uid} is of another series")
            return 0xA700
        if len(uid) > 64 or RE_VALID_UID.match(uid) is None:
            with lock:
                refused.append("an instance with an invalid SOP Instance UID")
            return 0xA700
        path = folder / f"{uid}.dcm"
        ds.save_as(path, enforce_file_format=True)
        with lock:
            written.append(path)
        return 0x0000

    scp = _ae(config)
    # Every transfer syntax: a PACS sends what it stores (JPEG 2000...) and may not transcode.
    for context in AllStoragePresentationContexts:
        scp.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    server = scp.start_server(
        ("", config.move_port), block=False, evt_handlers=[(evt.EVT_C_STORE, store)]
    )
    try:
        query = Dataset()
        query.QueryRetrieveLevel = "SERIES"
        query.StudyInstanceUID = study_uid
        query.SeriesInstanceUID = series_uid
        what = f"retrieval of series {series_uid}"
        with _association(config, _ae(config, [STUDY_ROOT_MOVE]), what) as assoc:
            for status, _ in assoc.send_c_move(query, config.calling_aet, STUDY_ROOT_MOVE):
                code = _status(config, what, status)
                if code not in _PENDING and code != 0x0000:
                    raise PacsError(f"{config.peer}: {what} failed: status 0x{code:04X}")
    finally:
        server.shutdown()
    if refused:
        raise PacsError(f"{config.peer}: refused {', '.join(refused[:5])}")
    if not written:
        raise PacsError(f"{config.peer}: series {series_uid} of study {study_uid} sent no instance")
    return sorted(written)


def push_files(config: DimseConfig, files: Sequence[Path]) -> list[str]:
    """Send DICOM files to the PACS (C-STORE); the SOP Instance UIDs it stored.

    Raises
    ------
    InputError
        A file is missing or not DICOM.
    PacsError
        The association failed or the PACS refused an instance.
    """
    from pynetdicom.presentation import build_context

    datasets: list[Dataset] = []
    problems: list[tuple[str, str]] = []
    for file in files:
        try:
            datasets.append(pydicom.dcmread(file))
        except (OSError, InvalidDicomError) as error:
            problems.append((f"files.{file.name}", f"not a readable DICOM file ({error})"))
    if problems:
        raise InputError(problems)
    pairs = {(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets}
    if len(pairs) > 128:
        raise InputError([("files", f"{len(pairs)} kinds of instance; send at most 128 at once")])
    ae = _ae(config)
    ae.requested_contexts = [build_context(sop, syntax) for sop, syntax in sorted(pairs)]
    stored: list[str] = []
    with _association(config, ae, f"storing {len(datasets)} instances") as assoc:
        for ds in datasets:
            what = f"storing {ds.SOPInstanceUID}"
            code = _status(config, what, assoc.send_c_store(ds))
            if code != 0x0000 and not 0xB000 <= code <= 0xBFFF:  # Bxxx: stored with a warning
                raise PacsError(f"{config.peer}: {what} failed: status 0x{code:04X}")
            stored.append(str(ds.SOPInstanceUID))
    return stored
