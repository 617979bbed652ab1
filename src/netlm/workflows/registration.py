"""A registration to confirm before a dose uses a CT from another frame of reference.

:func:`propose_ct_registration` is the first half of the web app's dose with a
CT: when the CT and the activity image come in different DICOM frames of
reference it registers the CT rigidly onto the activity image
(:func:`netlm.imaging.registration.register_rigid`) and writes what a person
looks at before confirming — the activity image and the CT resampled through
the proposed transform, on the activity grid, as NIfTI for the image viewer.
The dose is computed only with the confirmed transform
(:func:`netlm.workflows.dose.compute_dose`, ``ct_registration``), which records it.

:func:`start_dose` is the web app's "compute dose" on a patient's stored
images: it computes the dose at once, or stores a proposal (the request, the
transform and the check volumes in the patient's folder) and computes nothing;
:func:`confirm_registration` computes the dose of a stored proposal once a
person has confirmed it, and removes the proposal; :func:`reject_registration`
rejects it instead (its record is kept, marked rejected, so that its transform
is refused if it comes back: :func:`check_usable_transform`).  A new proposal
for the same pair of images replaces the one pending; :func:`pending_proposals`
lists those waiting.  Proposals, confirmations and rejections are audited.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from pydantic import ValidationError

from netlm.errors import InputError, NetlmError, NotFoundError
from netlm.store.repository import Store
from netlm.workflows.images import DoseRequest, compute_patient_dose, image_file, patient_files_dir

if TYPE_CHECKING:  # SimpleITK is imported when a dose is computed
    from netlm.imaging.limits import ImageLimits

__all__ = [
    "PROPOSAL_LAYERS",
    "DoseStart",
    "RegistrationProposal",
    "check_usable_transform",
    "confirm_registration",
    "frames_differ",
    "pending_proposals",
    "proposal_folder",
    "propose_ct_registration",
    "read_proposal",
    "reject_registration",
    "start_dose",
]

#: The file of a stored proposal: the dose request, the transform and who proposed it.
PROPOSAL_FILE: Final = "proposal.json"

#: The volumes written for the viewer: the activity image and the registered CT.
PROPOSAL_LAYERS: Final = ("activity", "ct")


@dataclass(frozen=True)
class RegistrationProposal:
    """A proposed CT registration and the files written to check it.

    Attributes
    ----------
    transform
        Activity (fixed) -> CT (moving), not confirmed.
    layers
        ``{"activity": path, "ct": path}``: NIfTI volumes on the activity grid.
    """

    transform: dict[str, object]
    layers: dict[str, Path]


def frames_differ(a: str | None, b: str | None) -> bool:
    """Whether two Frame of Reference UIDs are both known and different.

    Examples
    --------
    >>> frames_differ("1.2.3", "1.2.4"), frames_differ("1.2.3", None)
    (True, False)
    """
    return bool(a) and bool(b) and a != b


def propose_ct_registration(
    activity_path: Path, ct_path: Path, folder: Path
) -> RegistrationProposal | None:
    """Register the CT onto the activity image when their frames of reference differ.

    Parameters
    ----------
    activity_path, ct_path
        The activity image (90Y PET or SPECT) and the CT (files or DICOM folders).
    folder
        Where the check volumes are written (``activity.nii.gz``, ``ct.nii.gz``).

    Returns
    -------
    RegistrationProposal or None
        ``None`` when both share one frame of reference (or either does not
        say): the CT is then used as it is.

    Raises
    ------
    InputError
        (``ct_image_id``) The images cannot be read or registered.
    """
    from netlm.imaging.io import read_image, write_image
    from netlm.imaging.registration import apply_rigid, register_rigid

    try:
        activity = read_image(activity_path)
        ct = read_image(ct_path)
        if not frames_differ(activity.frame_of_reference_uid, ct.frame_of_reference_uid):
            return None
        transform = register_rigid(activity, ct)
        registered = apply_rigid(ct, activity, transform, kind="linear")
    except NetlmError as exc:
        raise InputError([("ct_image_id", f"the CT could not be registered: {exc}")]) from None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    layers = {
        "activity": write_image(
            activity.with_array(np.asarray(activity.array, dtype=np.float32)),
            folder / "activity.nii.gz",
        ),
        "ct": write_image(
            registered.with_array(np.asarray(registered.array, dtype=np.float32)),
            folder / "ct.nii.gz",
        ),
    }
    return RegistrationProposal(transform=transform.as_dict(), layers=layers)


@dataclass(frozen=True)
class DoseStart:
    """What :func:`start_dose` did: computed a dose, or stored a registration proposal."""

    dose_image_id: int | None = None
    proposal_id: str | None = None


def proposal_folder(files_dir: Path, patient_id: int, proposal_id: str) -> Path:
    """The folder of a proposed registration (its request, transform and check volumes)."""
    return patient_files_dir(files_dir, patient_id) / f"registration-{proposal_id}"


def _stored(files_dir: Path, patient_id: int, proposal_id: str) -> dict[str, Any] | None:
    """The stored record of a proposal, whatever its status; ``None`` when there is none."""
    try:
        text = (proposal_folder(files_dir, patient_id, proposal_id) / PROPOSAL_FILE).read_text(
            "utf-8"
        )
        record = json.loads(text)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _records(files_dir: Path, patient_id: int) -> list[tuple[str, dict[str, Any]]]:
    """Every stored proposal record of the patient (pending or rejected), oldest first."""
    folder = patient_files_dir(files_dir, patient_id)
    found = []
    for sub in sorted(folder.glob("registration-*")) if folder.is_dir() else []:
        proposal_id = sub.name.removeprefix("registration-")
        record = _stored(files_dir, patient_id, proposal_id)
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
    record = _stored(files_dir, patient_id, proposal_id)
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
        for proposal_id, record in _records(files_dir, patient_id)
        if record.get("status", "pending") == "pending"
    ]


def _same_transform(a: dict[str, Any], b: dict[str, Any]) -> bool:
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
    for proposal_id, record in _records(files_dir, patient_id):
        if record.get("status") == "rejected" and _same_transform(
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


def _drop_volumes(folder: Path) -> None:
    for layer in PROPOSAL_LAYERS:
        (folder / f"{layer}.nii.gz").unlink(missing_ok=True)


def reject_registration(
    store: Store,
    files_dir: Path,
    patient_id: int,
    proposal_id: str,
    *,
    actor: str,
    reason: str = "",
) -> dict[str, Any]:
    """Reject a proposed registration: no dose is computed with it, now or later.

    The record stays in the patient's folder marked ``rejected`` (with who, when
    and why; its check volumes are removed), so that the same transform given
    again is refused (:func:`check_usable_transform`).  The rejection is audited.

    Returns
    -------
    dict
        The rejected record, with its ``id``.

    Raises
    ------
    NotFoundError
        No such patient, or no such proposal waiting (confirmed, rejected or
        replaced already).
    """
    store.get_patient(patient_id)
    record = read_proposal(files_dir, patient_id, proposal_id)
    folder = proposal_folder(files_dir, patient_id, proposal_id)
    record.update(
        status="rejected",
        rejected_by=actor,
        rejected_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        reason=reason.strip()[:1000],
    )
    (folder / PROPOSAL_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    _drop_volumes(folder)
    store.record_decision(
        patient_id,
        actor=actor,
        decision="reject",
        what="registration",
        details=_audit_details(proposal_id, record),
    )
    return {"id": proposal_id, **record}


def _audit_details(proposal_id: str, record: dict[str, Any]) -> dict[str, Any]:
    request = record.get("request") or {}
    return {
        "proposal": proposal_id,
        "activity_image_id": request.get("activity_image_id"),
        "ct_image_id": request.get("ct_image_id"),
    }


def start_dose(
    store: Store,
    files_dir: Path,
    patient_id: int,
    request: DoseRequest,
    *,
    actor: str,
    kernel_cache_dir: Path | None = None,
    limits: ImageLimits | None = None,
) -> DoseStart:
    """Compute the dose, or first propose a CT registration.

    A CT in the functional image's frame of reference (or without one) is used
    as it is and the dose is computed now
    (:func:`netlm.workflows.images.compute_patient_dose`); a CT in another
    frame is registered, the proposal stored (:func:`read_proposal`), and
    nothing is computed until the registration is confirmed.

    Raises
    ------
    NotFoundError
        No such patient.
    InputError
        An image is not the patient's (naming the request field), or the
        images cannot be registered or used.
    """
    store.get_patient(patient_id)
    if request.ct_image_id is not None and request.ct_registration is None:

        def path_of(image_id: int, field: str) -> Path:
            try:
                return image_file(store, files_dir, patient_id, image_id)[1]
            except NotFoundError as exc:
                raise InputError([(field, str(exc))]) from None

        activity = path_of(request.activity_image_id, "activity_image_id")
        ct = path_of(request.ct_image_id, "ct_image_id")
        proposal_id = uuid.uuid4().hex[:16]
        folder = proposal_folder(files_dir, patient_id, proposal_id)
        try:
            proposal = propose_ct_registration(activity, ct, folder)
            if proposal is not None:
                record = {
                    "status": "pending",
                    "request": request.model_dump(mode="json"),
                    "transform": proposal.transform,
                    "proposed_by": actor,
                    "proposed_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                }
                (folder / PROPOSAL_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if proposal is not None:
            # A new proposal for the same pair of images replaces the one pending.
            replaced = [
                p["id"]
                for p in pending_proposals(files_dir, patient_id)
                if p["id"] != proposal_id
                and (p["request"].get("activity_image_id"), p["request"].get("ct_image_id"))
                == (request.activity_image_id, request.ct_image_id)
            ]
            for old in replaced:
                shutil.rmtree(proposal_folder(files_dir, patient_id, old), ignore_errors=True)
            store.record_decision(
                patient_id,
                actor=actor,
                decision="propose",
                what="registration",
                details={**_audit_details(proposal_id, record), "replaces": replaced},
            )
            return DoseStart(proposal_id=proposal_id)
    image, _ = compute_patient_dose(
        store,
        files_dir,
        patient_id,
        request,
        actor=actor,
        kernel_cache_dir=kernel_cache_dir,
        limits=limits,
    )
    return DoseStart(dose_image_id=image.id)


def confirm_registration(
    store: Store,
    files_dir: Path,
    patient_id: int,
    proposal_id: str,
    *,
    actor: str,
    kernel_cache_dir: Path | None = None,
    limits: ImageLimits | None = None,
) -> int:
    """Compute the dose of a proposed registration, now confirmed by ``actor``: the RT Dose id.

    The dose records the transform with ``confirmed_by``; the proposal is removed.

    Raises
    ------
    NotFoundError
        No such proposal (or it was confirmed already).
    """
    proposal = read_proposal(files_dir, patient_id, proposal_id)
    transform = dict(proposal["transform"], confirmed_by=actor)
    try:
        request = DoseRequest.model_validate({**proposal["request"], "ct_registration": transform})
    except ValidationError as exc:  # pragma: no cover - written from a validated request
        raise InputError([("registration", str(exc))]) from None
    image, _ = compute_patient_dose(
        store,
        files_dir,
        patient_id,
        request,
        actor=actor,
        kernel_cache_dir=kernel_cache_dir,
        limits=limits,
    )
    shutil.rmtree(proposal_folder(files_dir, patient_id, proposal_id), ignore_errors=True)
    store.record_decision(
        patient_id,
        actor=actor,
        decision="confirm",
        what="registration",
        details={**_audit_details(proposal_id, proposal), "rtdose_image_id": image.id},
    )
    return image.id
