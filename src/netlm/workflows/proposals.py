"""The stored proposals of CT registrations, in a patient's folder, and the check a dose runs.

A proposal (:mod:`netlm.workflows.registration`) is kept as ``proposal.json`` in
``registration-<id>/`` of the patient's folder (:func:`patient_files_dir`): the dose request,
the transform, who proposed it, and once rejected who rejected it.  This module reads
those records and holds :func:`check_usable_transform`, which every dose on stored images
runs (:func:`netlm.workflows.images.compute_patient_dose`): a transform nobody confirmed,
or one a person rejected for this patient, is never used.  It imports neither the image
nor the registration workflow, both of which use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import numpy as np

from netlm.errors import InputError, NotFoundError

__all__ = [
    "PROPOSAL_FILE",
    "check_usable_transform",
    "patient_files_dir",
    "pending_proposals",
    "proposal_folder",
    "proposal_records",
    "read_proposal",
    "same_transform",
    "stored_record",
    "write_record",
]


def patient_files_dir(files_dir: Path, patient_id: int) -> Path:
    """The folder of a patient's uploads and computed files, inside ``files_dir``."""
    return files_dir / f"patient-{patient_id}"


#: The file of a stored proposal: the dose request, the transform and who proposed it.
PROPOSAL_FILE: Final = "proposal.json"


def proposal_folder(files_dir: Path, patient_id: int, proposal_id: str) -> Path:
    """The folder of a proposed registration (its request, transform and check volumes)."""
    return patient_files_dir(files_dir, patient_id) / f"registration-{proposal_id}"


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """Write a proposal's record into ``folder`` atomically (a temporary file, flushed to disk,
    then renamed over :data:`PROPOSAL_FILE`): a crash leaves the old record or the new one,
    never a broken file (a rejected proposal must stay readable, or its transform could come
    back: :func:`check_usable_transform`)."""
    temporary = folder / f".{PROPOSAL_FILE}.{os.getpid()}.tmp"
    try:
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(record, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / PROPOSAL_FILE)
    finally:
        temporary.unlink(missing_ok=True)


def stored_record(files_dir: Path, patient_id: int, proposal_id: str) -> dict[str, Any] | None:
    """The stored record of a proposal, whatever its status; ``None`` when there is none."""
    try:
        text = (proposal_folder(files_dir, patient_id, proposal_id) / PROPOSAL_FILE).read_text(
            "utf-8"
        )
        record = json.loads(text)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def proposal_records(files_dir: Path, patient_id: int) -> list[tuple[str, dict[str, Any]]]:
    """Every stored proposal record of the patient (pending or rejected), oldest first."""
    folder = patient_files_dir(files_dir, patient_id)
    found = []
    for sub in sorted(folder.glob("registration-*")) if folder.is_dir() else []:
        proposal_id = sub.name.removeprefix("registration-")
        record = stored_record(files_dir, patient_id, proposal_id)
        if record is not None:
            found.append((proposal_id, record))
    return sorted(found, key=lambda item: str(item[1].get("proposed_at", "")))


def read_proposal(files_dir: Path, patient_id: int, proposal_id: str) -> dict[str, Any]:
    """A proposed registration waiting for confirmation.

    Raises
    ------
    NotFoundError
        No such proposal for this patient (or it was confirmed, rejected or
        replaced already).
    """
    record = stored_record(files_dir, patient_id, proposal_id)
    if record is None:
        raise NotFoundError(f"no registration {proposal_id} waits for confirmation")
    if record.get("status", "pending") != "pending":
        raise NotFoundError(
            f"no registration {proposal_id} waits for confirmation: it was rejected by "
            f"{record.get('rejected_by')} at {record.get('rejected_at')}"
        )
    return record


def pending_proposals(files_dir: Path, patient_id: int) -> list[dict[str, Any]]:
    """The patient's registrations waiting for confirmation, oldest first.

    Each item is the stored record with its ``id``: ``request`` (the dose
    request), ``transform``, ``proposed_by``, ``proposed_at``.
    """
    return [
        {"id": proposal_id, **record}
        for proposal_id, record in proposal_records(files_dir, patient_id)
        if record.get("status", "pending") == "pending"
    ]


def same_transform(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two transform records move points alike (matrices within 1e-6 mm)."""
    from netlm.imaging.registration import RigidTransform

    try:
        ma = RigidTransform.from_mapping(a).matrix()
        mb = RigidTransform.from_mapping(b).matrix()
    except InputError:
        return False
    return bool(np.allclose(ma, mb, rtol=0.0, atol=1e-6))


def check_usable_transform(files_dir: Path, patient_id: int, transform: dict[str, Any]) -> None:
    """Refuse a CT registration a dose must not use: unconfirmed, or rejected for this patient.

    Raises
    ------
    InputError
        (``ct_registration``) The transform names no one who confirmed it
        (``confirmed_by``), or it is the transform of a proposal of this
        patient that was rejected.
    """
    if not str(transform.get("confirmed_by") or "").strip():
        raise InputError(
            [
                (
                    "ct_registration",
                    "the transform is not confirmed (no confirmed_by): confirm the proposed "
                    "registration on its page, or give who checked it "
                    "('netlm dose register --confirmed-by')",
                )
            ]
        )
    for proposal_id, record in proposal_records(files_dir, patient_id):
        if record.get("status") == "rejected" and same_transform(
            record.get("transform") or {}, transform
        ):
            raise InputError(
                [
                    (
                        "ct_registration",
                        f"this transform is registration {proposal_id}, rejected by "
                        f"{record.get('rejected_by')} at {record.get('rejected_at')}",
                    )
                ]
            )
