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
is refused if it comes back: :func:`check_usable_transform`).  A confirmation
or rejection first takes the proposal for itself, so that of two at once (a
double click, a client's retry, a confirm racing a reject) only one acts and
the other finds nothing waiting.  A new proposal for the same pair of images
replaces the one pending; :func:`pending_proposals` lists those waiting, and
:func:`proposal_volume` finds a check volume.  The web pages
(:mod:`netlm.api.pages.images`) and the REST API (:mod:`netlm.api.routes.images`)
both call these functions.  Proposals, confirmations and rejections are audited.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from pydantic import ValidationError

from netlm.errors import InputError, NetlmError, NotFoundError
from netlm.store.repository import ImageOut, Store
from netlm.workflows.images import DoseRequest, compute_patient_dose, image_file
from netlm.workflows.proposals import (
    PROPOSAL_FILE,
    check_usable_transform,
    pending_proposals,
    proposal_folder,
    read_proposal,
    write_record,
)

if TYPE_CHECKING:  # SimpleITK is imported when a dose is computed
    from netlm.imaging.limits import ImageLimits

__all__ = [
    "PROPOSAL_FILE",
    "PROPOSAL_LAYERS",
    "DoseStart",
    "RegistrationProposal",
    "check_usable_transform",
    "confirm_registration",
    "frames_differ",
    "pending_proposals",
    "proposal_folder",
    "proposal_volume",
    "propose_ct_registration",
    "read_proposal",
    "reject_registration",
    "start_dose",
]

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
    """What :func:`start_dose` did: computed a dose, or stored a registration proposal.

    Attributes
    ----------
    dose_image_id, statistics
        The new ``rtdose`` image record's id and its statistics document, when a
        dose was computed.
    proposal_id
        The stored proposal, when the CT must be registered first.
    """

    dose_image_id: int | None = None
    proposal_id: str | None = None
    statistics: dict[str, Any] | None = None


def _drop_volumes(folder: Path) -> None:
    for layer in PROPOSAL_LAYERS:
        (folder / f"{layer}.nii.gz").unlink(missing_ok=True)


def proposal_volume(files_dir: Path, patient_id: int, proposal_id: str, layer: str) -> Path:
    """The NIfTI file of one check volume of a pending proposal (see :data:`PROPOSAL_LAYERS`).

    Raises
    ------
    InputError
        (``layer``) Not one of :data:`PROPOSAL_LAYERS`.
    NotFoundError
        No such proposal waiting, or its volume is gone.
    """
    if layer not in PROPOSAL_LAYERS:
        raise InputError([("layer", f"use one of {', '.join(PROPOSAL_LAYERS)}, not {layer!r}")])
    read_proposal(files_dir, patient_id, proposal_id)
    path = proposal_folder(files_dir, patient_id, proposal_id) / f"{layer}.nii.gz"
    if not path.is_file():
        raise NotFoundError(f"the registration has no {layer} volume")
    return path


#: A proposal's record while one confirmation or rejection works on it (renamed from
#: :data:`PROPOSAL_FILE`, atomically: a second one finds no proposal waiting).
_CLAIMED_FILE: Final = f"{PROPOSAL_FILE}.claimed"


@contextlib.contextmanager
def _claimed(files_dir: Path, patient_id: int, proposal_id: str) -> Iterator[dict[str, Any]]:
    """Take a pending proposal for this request alone; give it back if the block fails.

    Yields the record.  On success the block has removed or rewritten the
    proposal; on an error the record is put back, still pending.

    Raises
    ------
    NotFoundError
        No such proposal waiting, or another request holds it.
    """
    folder = proposal_folder(files_dir, patient_id, proposal_id)
    claim = folder / _CLAIMED_FILE
    try:
        (folder / PROPOSAL_FILE).rename(claim)
    except FileNotFoundError:
        if claim.exists():
            raise NotFoundError(
                f"no registration {proposal_id} waits for confirmation: another request is "
                "confirming or rejecting it"
            ) from None
        read_proposal(files_dir, patient_id, proposal_id)  # raises: there is none
        raise NotFoundError(  # pragma: no cover - it came back in between
            f"no registration {proposal_id} waits for confirmation"
        ) from None
    try:
        record = json.loads(claim.read_text("utf-8"))
        pending = isinstance(record, dict) and record.get("status", "pending") == "pending"
    except (OSError, ValueError):
        pending = False
    if not pending:
        with contextlib.suppress(FileNotFoundError):
            claim.rename(folder / PROPOSAL_FILE)
        read_proposal(files_dir, patient_id, proposal_id)  # raises, saying why
        raise NotFoundError(f"no registration {proposal_id} waits for confirmation")
    try:
        yield record
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            claim.rename(folder / PROPOSAL_FILE)
        raise
    claim.unlink(missing_ok=True)


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
    folder = proposal_folder(files_dir, patient_id, proposal_id)
    with _claimed(files_dir, patient_id, proposal_id) as record:
        record.update(
            status="rejected",
            rejected_by=actor,
            rejected_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            reason=reason.strip()[:1000],
        )
        write_record(folder, record)
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
    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS, image_limits

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
            with image_limits(limits or DEFAULT_IMAGE_LIMITS):
                proposal = propose_ct_registration(activity, ct, folder)
            if proposal is not None:
                record = {
                    "status": "pending",
                    "request": request.model_dump(mode="json"),
                    "transform": proposal.transform,
                    "proposed_by": actor,
                    "proposed_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                }
                write_record(folder, record)
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
    image, statistics = compute_patient_dose(
        store,
        files_dir,
        patient_id,
        request,
        actor=actor,
        kernel_cache_dir=kernel_cache_dir,
        limits=limits,
    )
    return DoseStart(dose_image_id=image.id, statistics=statistics)


def confirm_registration(
    store: Store,
    files_dir: Path,
    patient_id: int,
    proposal_id: str,
    *,
    actor: str,
    kernel_cache_dir: Path | None = None,
    limits: ImageLimits | None = None,
) -> tuple[ImageOut, dict[str, Any]]:
    """Compute the dose of a proposed registration, now confirmed by ``actor``.

    The dose records the transform with ``confirmed_by``; the proposal is removed.
    Of two confirmations at once only one computes a dose; a failed one leaves
    the proposal pending.

    Returns
    -------
    tuple
        The new ``rtdose`` image record and its statistics document, as
        :func:`netlm.workflows.images.compute_patient_dose` returns them.

    Raises
    ------
    NotFoundError
        No such proposal waiting (confirmed, rejected or replaced already, or
        being confirmed or rejected by another request).
    """
    with _claimed(files_dir, patient_id, proposal_id) as proposal:
        transform = dict(proposal["transform"], confirmed_by=actor)
        try:
            request = DoseRequest.model_validate(
                {**proposal["request"], "ct_registration": transform}
            )
        except ValidationError as exc:  # pragma: no cover - written from a validated request
            raise InputError([("registration", str(exc))]) from None
        image, document = compute_patient_dose(
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
    return image, document
