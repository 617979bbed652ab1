"""A DICOMweb client for a PACS: find (QIDO-RS), pull (WADO-RS), push (STOW-RS).

Built on ``dicomweb-client``.  Authentication is a bearer token or a user name
and password (HTTP basic); TLS certificates are verified against the
certificate authorities requests ships (certifi), a CA bundle given, or not at
all when asked (``verify=False``, for test servers only).  The choice is never
overridden by the environment: requests would otherwise take
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` over a session's CA bundle, and
credentials from ``~/.netrc``; only proxies (``HTTPS_PROXY``, ``NO_PROXY``, ...)
are taken from it.  Every failure of the network or the server is a
:class:`PacsError` naming the URL and what the server said.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import RE_VALID_UID

from netlm.errors import InputError, NetlmError

__all__ = [
    "PacsConfig",
    "PacsError",
    "SeriesInfo",
    "StudyInfo",
    "find_series",
    "find_studies",
    "pull_series",
    "push_files",
    "study_attributes",
]


class PacsError(NetlmError):
    """The PACS could not be reached, refused a request or answered something unusable."""


@dataclass(frozen=True)
class PacsConfig:
    """Where the PACS's DICOMweb service is and how to authenticate.

    Attributes
    ----------
    url
        Base URL of the DICOMweb service (e.g. ``https://pacs/dicom-web``).
    token
        Bearer token (``Authorization: Bearer ...``); not with ``username``.
    username, password
        HTTP basic authentication.
    verify
        ``True``: verify TLS certificates against the authorities requests
        ships (certifi); a path: against that CA bundle only; ``False``: do
        not verify (test servers only).  ``REQUESTS_CA_BUNDLE`` and
        ``CURL_CA_BUNDLE`` do not change it.
    timeout_s
        Seconds to wait for each answer.
    max_attempts
        Tries of each request when the server is unreachable or busy (HTTP
        408, 429, 503, 504), with exponential back-off from 0.5 s.
    """

    url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    verify: bool | Path = True
    timeout_s: float = 60.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        if not self.url.startswith(("http://", "https://")):
            problems.append(("pacs.url", f"{self.url!r} is not an http:// or https:// URL"))
        if self.token and self.username:
            problems.append(("pacs.token", "give a token or a user name, not both"))
        if (self.username is None) != (self.password is None):
            problems.append(("pacs.password", "basic authentication needs user and password"))
        if isinstance(self.verify, Path) and not self.verify.is_file():
            problems.append(("pacs.ca_bundle", f"{self.verify}: no such file"))
        if not self.timeout_s > 0:
            problems.append(("pacs.timeout_s", f"must be positive, not {self.timeout_s}"))
        if not 1 <= self.max_attempts <= 10:
            problems.append(("pacs.max_attempts", f"must be 1 to 10, not {self.max_attempts}"))
        if problems:
            raise InputError(problems)


@dataclass(frozen=True)
class StudyInfo:
    """One study a QIDO-RS search found."""

    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession_number: str
    description: str

    @classmethod
    def of(cls, ds: Dataset) -> StudyInfo:
        """The study a search answer (QIDO-RS or C-FIND identifier) describes."""
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            study_date=_text(ds, "StudyDate"),
            accession_number=_text(ds, "AccessionNumber"),
            description=_text(ds, "StudyDescription"),
        )


@dataclass(frozen=True)
class SeriesInfo:
    """One series a QIDO-RS search found."""

    study_uid: str
    series_uid: str
    modality: str
    description: str
    number_of_instances: int | None

    @classmethod
    def of(cls, ds: Dataset, study_uid: str) -> SeriesInfo:
        """The series of ``study_uid`` a search answer (QIDO-RS or C-FIND) describes."""
        count = ds.get("NumberOfSeriesRelatedInstances")
        return cls(
            study_uid=study_uid,
            series_uid=_text(ds, "SeriesInstanceUID"),
            modality=_text(ds, "Modality"),
            description=_text(ds, "SeriesDescription"),
            number_of_instances=int(count) if count not in (None, "") else None,
        )


def _text(item: Dataset, keyword: str) -> str:
    value = item.get(keyword, "")
    return "" if value is None else str(value)


def _client(config: PacsConfig) -> Any:
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    # trust_env would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the CA bundle chosen
    # (requests' merge_environment_settings) and ~/.netrc add credentials: off.  Proxies
    # from the environment are still honoured, for this URL (NO_PROXY applies).
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(config.url))
    if config.token:
        session.headers["Authorization"] = f"Bearer {config.token}"
    elif config.username is not None and config.password is not None:
        session.auth = (config.username, config.password)
    session.verify = str(config.verify) if isinstance(config.verify, Path) else config.verify
    # dicomweb-client has no per-call timeout: set it on every request of the session.
    send = session.request

    def request(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", config.timeout_s)
        return send(*args, **kwargs)

    session.request = request  # type: ignore[method-assign]
    client = DICOMwebClient(url=config.url.rstrip("/"), session=session)
    client.set_http_retry_params(
        retry=config.max_attempts > 1,
        max_attempts=config.max_attempts,
        wait_exponential_multiplier=500,
    )
    return client


@contextmanager
def _errors(config: PacsConfig, what: str) -> Iterator[None]:
    import requests

    try:
        yield
    except requests.HTTPError as error:
        response = error.response
        status = f"HTTP {response.status_code} {response.reason}" if response is not None else ""
        raise PacsError(f"{config.url}: {what} failed: {status or error}") from None
    except requests.RequestException as error:
        raise PacsError(f"{config.url}: {what} failed: {error}") from None


def _datasets(found: Sequence[dict[str, Any]]) -> list[Dataset]:
    return [Dataset.from_json(item) for item in found]


def find_studies(
    config: PacsConfig,
    *,
    patient_id: str | None = None,
    accession_number: str | None = None,
    study_uid: str | None = None,
) -> list[StudyInfo]:
    """Studies matching the patient ID, accession number or study UID (QIDO-RS)."""
    filters = {
        keyword: value
        for keyword, value in (
            ("PatientID", patient_id),
            ("AccessionNumber", accession_number),
            ("StudyInstanceUID", study_uid),
        )
        if value
    }
    client = _client(config)
    with _errors(config, "study search"):
        found = client.search_for_studies(search_filters=filters)
    return [StudyInfo.of(ds) for ds in _datasets(found)]


def study_attributes(config: PacsConfig, study_uid: str) -> Dataset:
    """Patient and study attributes of one study (QIDO-RS), for objects made in it.

    Raises
    ------
    InputError
        (``study``) The PACS has no such study.
    """
    client = _client(config)
    with _errors(config, f"search of study {study_uid}"):
        found = client.search_for_studies(search_filters={"StudyInstanceUID": study_uid})
    matches = [ds for ds in _datasets(found) if _text(ds, "StudyInstanceUID") == study_uid]
    if not matches:
        raise InputError([("study", f"{config.url} has no study {study_uid}")])
    return matches[0]


def find_series(
    config: PacsConfig,
    study_uid: str,
    *,
    modality: str | None = None,
    series_uid: str | None = None,
) -> list[SeriesInfo]:
    """Series of a study, optionally of one modality or one series UID (QIDO-RS)."""
    filters = {
        keyword: value
        for keyword, value in (("Modality", modality), ("SeriesInstanceUID", series_uid))
        if value
    }
    client = _client(config)
    with _errors(config, f"series search in study {study_uid}"):
        found = client.search_for_series(study_instance_uid=study_uid, search_filters=filters)
    series = [SeriesInfo.of(ds, study_uid) for ds in _datasets(found)]
    # Filters a server may ignore are applied again here.
    return [
        s
        for s in series
        if (modality is None or s.modality == modality)
        and (series_uid is None or s.series_uid == series_uid)
    ]


def pull_series(config: PacsConfig, study_uid: str, series_uid: str, folder: Path) -> list[Path]:
    """Retrieve every instance of a series (WADO-RS) into ``folder``; the files written.

    Files are named by SOP Instance UID; the folder is created and must not
    hold other DICOM files of another series (readers take a folder as one
    series).
    """
    client = _client(config)
    with _errors(config, f"retrieval of series {series_uid}"):
        # In the transfer syntax stored (``*``): a server need not transcode (Orthanc
        # cannot transcode JPEG 2000), and pydicom decodes what netlm reads.
        instances = client.retrieve_series(
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            media_types=(("application/dicom", "*"),),
        )
    if not instances:
        raise PacsError(f"{config.url}: series {series_uid} of study {study_uid} has no instance")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for ds in instances:
        if str(ds.get("SeriesInstanceUID", "")) != series_uid:
            raise PacsError(
                f"{config.url}: asked for series {series_uid}, got an instance of "
                f"{ds.get('SeriesInstanceUID')}"
            )
        instance_uid = str(ds.get("SOPInstanceUID", ""))
        if len(instance_uid) > 64 or RE_VALID_UID.match(instance_uid) is None:
            # The UID names the file: never let a server choose a path.
            raise PacsError(f"{config.url}: an instance has an invalid SOP Instance UID")
        path = folder / f"{instance_uid}.dcm"
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def push_files(config: PacsConfig, files: Sequence[Path]) -> list[str]:
    """Send DICOM files to the PACS (STOW-RS); the SOP Instance UIDs it stored.

    Files of one study are sent in one request.

    Raises
    ------
    InputError
        A file is missing or not DICOM.
    PacsError
        The server refused the request or reported a failed instance.
    """
    datasets: dict[str, list[Dataset]] = {}
    problems: list[tuple[str, str]] = []
    for file in files:
        try:
            ds = pydicom.dcmread(file)
        except (OSError, InvalidDicomError) as error:
            problems.append((f"files.{file.name}", f"not a readable DICOM file ({error})"))
            continue
        datasets.setdefault(str(ds.get("StudyInstanceUID", "")), []).append(ds)
    if problems:
        raise InputError(problems)
    client = _client(config)
    stored: list[str] = []
    for study_uid, group in datasets.items():
        with _errors(config, f"storing {len(group)} instances"):
            answer = client.store_instances(datasets=group, study_instance_uid=study_uid or None)
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            reasons = ", ".join(
                f"{item.get('ReferencedSOPInstanceUID')} (reason {item.get('FailureReason')})"
                for item in failed
            )
            raise PacsError(f"{config.url}: the server refused {reasons}")
        stored.extend(str(ds.SOPInstanceUID) for ds in group)
    return stored
