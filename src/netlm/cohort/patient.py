"""One patient of a cohort run: its input digest, the task run on it, its outcome.

:func:`run_patient` hashes the documents the task reads (and parses them from
the bytes it hashed), fingerprints every image by path, size and modification
time (:func:`_fingerprint`), skips the patient whose digest matches the stored
one, runs the task and turns every exception into a failed
:class:`PatientOutcome`.  It is what one Dask task runs on a worker.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import (
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from netlm import __version__
from netlm.cohort.errors import CohortInputError
from netlm.cohort.manifest import PatientEntry
from netlm.cohort.tasks import CohortTask, PatientInputs, Scalar, _scalar
from netlm.errors import InputError

#: v2: image inputs are fingerprinted by path, size and modification time (v1 hashed
#: their bytes, so every image was read twice per task and again by every re-run).
DIGEST_SCHEMA: Final = "netlm/cohort-digest/v2"
_HASH_CHUNK: Final = 1 << 20
#: Input fields whose file is parsed from the bytes that were hashed.
_DOCUMENT_FIELDS: Final = frozenset({"case", "plan", "response"})


@dataclass(frozen=True)
class PatientOutcome:
    """What one patient's task returned to the driver.

    ``status`` is ``ok`` (``result`` holds the row), ``failed`` (``error_type``,
    ``fields`` and ``message`` say why), ``skipped`` (the digest matched the
    stored one; nothing was computed) or ``not_applicable`` (the manifest gives
    the patient no file of a kind the task needs, e.g. no plan for a patient
    treated by chemoembolization; ``message`` says which).
    """

    patient_id: str
    status: Literal["ok", "failed", "skipped", "not_applicable"]
    input_digest: str | None
    result: dict[str, Scalar] | None = None
    error_type: str | None = None
    fields: tuple[str, ...] = ()
    message: str | None = None
    seconds: float = 0.0


def _hash_file(path: Path, keep: bool) -> tuple[str, bytes | None]:
    h = hashlib.sha256()
    if keep:
        data = path.read_bytes()
        h.update(data)
        return h.hexdigest(), data
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest(), None


def _input_files(task: CohortTask, entry: PatientEntry) -> tuple[list[tuple[str, Path]], list[str]]:
    """``(field, path)`` of every file the task reads, and the required fields the row lacks."""
    files: list[tuple[str, Path]] = []
    missing: list[str] = []
    for name in (*task.inputs, *task.optional_inputs):
        if name == "masks":
            files.extend((f"masks.{voi}", path) for voi, path in entry.masks)
            found = bool(entry.masks)
        else:
            path = entry.path_of(name)
            if path is not None:
                files.append((name, path))
            found = path is not None
        if not found and name in task.inputs:
            missing.append(name)
    return files, missing


def input_digest(task: CohortTask, patient_id: str, file_digests: Mapping[str, str]) -> str:
    """The input digest: SHA-256 over task, versions, patient id and each file's SHA-256.

    Examples
    --------
    >>> from netlm.cohort.tasks import TASKS
    >>> t = TASKS["assess"]
    >>> a = input_digest(t, "P1", {"case": "00" * 32})
    >>> a == input_digest(t, "P1", {"case": "00" * 32}), a == input_digest(t, "P1", {})
    (True, False)
    """
    canonical = json.dumps(
        {
            "schema": DIGEST_SCHEMA,
            "task": task.name,
            "task_version": task.version,
            "netlm_version": __version__,
            "patient_id": patient_id,
            "files": dict(sorted(file_digests.items())),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _failure(
    entry: PatientEntry, exc: BaseException, digest: str | None, started: float
) -> PatientOutcome:
    fields = tuple(exc.fields) if isinstance(exc, InputError) else ()
    return PatientOutcome(
        patient_id=entry.patient_id,
        status="failed",
        input_digest=digest,
        error_type=type(exc).__name__,
        fields=fields,
        message=str(exc) or type(exc).__name__,
        seconds=time.perf_counter() - started,
    )


def _not_applicable(entry: PatientEntry, missing: Sequence[str]) -> PatientOutcome:
    return PatientOutcome(
        entry.patient_id,
        "not_applicable",
        None,
        message=f"the manifest gives no {' and no '.join(missing)} for this patient",
    )


def _fingerprint(path: Path) -> str:
    """SHA-256 of an image input's path, size and modification time (ns), not its bytes.

    A folder (a DICOM series) is fingerprinted by every file below it.  The
    image is then read only by the task itself, and a re-run decides what is
    done from ``stat`` calls alone.  A file rewritten with the same size and
    modification time is not noticed (``retry_failed`` or a new results folder
    recomputes).
    """
    if path.is_dir():
        items = [
            (str(p.relative_to(path)), st.st_size, st.st_mtime_ns)
            for p in sorted(path.rglob("*"))
            if p.is_file() and (st := p.stat())
        ]
    else:
        st = path.stat()
        if not path.is_file():
            raise IsADirectoryError(f"{path} is not a file")
        items = [("", st.st_size, st.st_mtime_ns)]
    payload = json.dumps([str(path.resolve()), items], separators=(",", ":"))
    return "stat:" + hashlib.sha256(payload.encode()).hexdigest()


def _read_inputs(
    task: CohortTask, entry: PatientEntry, files: Sequence[tuple[str, Path]], keep: bool
) -> tuple[str, dict[str, bytes], dict[str, str]]:
    """The input digest, (with ``keep``) the documents' bytes, and the images' fingerprints.

    Documents (``case``, ``plan``, ``response``) are hashed by their bytes and
    parsed from those same bytes; images by :func:`_fingerprint`.
    """
    hashes: dict[str, str] = {}
    documents: dict[str, bytes] = {}
    images: dict[str, str] = {}
    for name, path in files:
        try:
            if name in _DOCUMENT_FIELDS:
                hashes[name], data = _hash_file(path, keep=keep)
            else:
                hashes[name] = images[name] = _fingerprint(path)
                data = None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise CohortInputError([(name, f"cannot read {path}: {reason}")]) from None
        if data is not None:
            documents[name] = data
    return input_digest(task, entry.patient_id, hashes), documents, images


def _images_unchanged(files: Sequence[tuple[str, Path]], before: Mapping[str, str]) -> None:
    """Raise when an image changed while the task read it (the result would not match)."""
    for name, path in files:
        if name in before:
            try:
                same = _fingerprint(path) == before[name]
            except OSError:
                same = False
            if not same:
                raise CohortInputError(
                    [(name, f"{path} changed while the task ran; run the patient again")]
                )


def _triage(
    task: CohortTask, entry: PatientEntry, done_digest: str | None
) -> PatientOutcome | None:
    """``not_applicable`` or ``skipped`` when that can be told here, else None (to compute).

    Runs on the driver, so that a re-run with nothing to do starts no cluster;
    files the driver cannot read are left to the worker.
    """
    files, missing = _input_files(task, entry)
    if missing:
        return _not_applicable(entry, missing)
    if done_digest is None:
        return None
    try:
        digest, _, _ = _read_inputs(task, entry, files, keep=False)
    except CohortInputError:
        return None
    return PatientOutcome(entry.patient_id, "skipped", digest) if digest == done_digest else None


def run_patient(
    task: CohortTask, entry: PatientEntry, done_digest: str | None, shared: Any = None
) -> PatientOutcome:
    """Run ``task`` on one patient; never raises (a failure is returned).

    Computes the input digest (documents by their bytes, which are kept;
    images by :func:`_fingerprint`), returns ``skipped`` when it equals
    ``done_digest``, and otherwise runs the task function on the document bytes
    that were hashed (and ``shared``, :attr:`PatientInputs.shared`).  Each image
    is read once, by the task; an image whose fingerprint changed meanwhile
    makes the patient a failure.
    """
    started = time.perf_counter()
    digest: str | None = None
    try:
        files, missing = _input_files(task, entry)
        if missing:
            return _not_applicable(entry, missing)
        try:
            digest, documents, images = _read_inputs(task, entry, files, keep=True)
        except CohortInputError as exc:
            return _failure(entry, exc, None, started)
        if digest == done_digest:
            return PatientOutcome(entry.patient_id, "skipped", digest)
        row = task.function(
            PatientInputs(entry=entry, documents=MappingProxyType(documents), shared=shared)
        )
        result = {str(k): _scalar(v) for k, v in row.items()}
        _images_unchanged(files, images)
    except Exception as exc:  # one patient's failure, whatever it is, never stops the run
        return _failure(entry, exc, digest, started)
    return PatientOutcome(
        patient_id=entry.patient_id,
        status="ok",
        input_digest=digest,
        result=result,
        seconds=time.perf_counter() - started,
    )
