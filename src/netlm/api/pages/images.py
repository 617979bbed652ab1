"""A patient's images on the web: upload, voxel dose, CT registration to confirm.

On the tumour-board page (``partials/image_tools.html``) a writer

- uploads a study (DICOM files, a zip of a DICOM series, or one NIfTI/NRRD
  file) and its masks (:func:`netlm.api.pages.uploads.store_upload`); each
  becomes an image record of the patient, as an upload through
  ``POST /api/v1/patients/{id}/images`` would;
- computes a voxel dose (functional image, CT, masks, local deposition or
  kernel, activity and times as the API's
  :class:`~netlm.workflows.images.DoseRequest` takes them) and sees it in the
  image viewer.  When the CT comes in another frame of reference than the
  functional image, :func:`netlm.workflows.registration.start_dose` first
  stores a proposed rigid registration, shown here (the viewer with the
  registered CT under the activity image, the transform and its Mattes
  metric); nothing is computed until the user confirms it
  (:func:`netlm.workflows.registration.confirm_registration`), and the
  confirmed transform, with who confirmed it, is recorded with the dose; or
  the user rejects it (:func:`netlm.workflows.registration.reject_registration`)
  and no dose is ever computed with it;
- sends a computed dose's RT Dose, SEG, SR and PDF report to the PACS
  (:func:`netlm.workflows.pacs.send_dose_to_pacs`).

Every page declares its roles (writers for everything that changes or sends
anything), every form carries the session's CSRF token, and every write and
every sending is audited.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from netlm.api.config import StoreDep, config_of, dose_work
from netlm.api.limits import under_image_limits
from netlm.api.middleware import VIEWER_CONTENT_SECURITY_POLICY
from netlm.api.pages.board import viewer_headers, voxel_doses
from netlm.api.pages.common import FormDep, PatientId, RecordId, pacs_of, redirect
from netlm.api.pages.uploads import store_upload
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.schemas import ProposalId
from netlm.api.templating import render
from netlm.errors import InputError, NotFoundError
from netlm.workflows.images import DoseRequest
from netlm.workflows.pacs import send_dose_to_pacs
from netlm.workflows.registration import (
    confirm_registration,
    proposal_volume,
    read_proposal,
    reject_registration,
    start_dose,
)

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)

#: Image kinds offered as the functional (activity) image of a dose.
ACTIVITY_KINDS: Final = ("y90_pet", "y90_spect", "maa_spect", "pet", "spect")
#: The dose form's inputs that are fields of the dose request as they are.
_DOSE_FIELDS: Final = (
    "activity_image_id",
    "ct_image_id",
    "method",
    "activity_gbq",
    "implant_time",
    "scan_time",
)


def dose_request_from_form(form: dict[str, str], mask_ids: Sequence[str]) -> DoseRequest:
    """The :class:`~netlm.workflows.images.DoseRequest` of the dose form (empty fields left out).

    Raises
    ------
    InputError
        One problem per field the request model refuses.
    """
    values: dict[str, Any] = {k: form[k].strip() for k in _DOSE_FIELDS if form.get(k, "").strip()}
    values["mask_image_ids"] = [m for m in mask_ids if m.strip()]
    values["assume_implant_time_reference"] = form.get("assume_implant_time_reference") == "on"
    try:
        return DoseRequest.model_validate(values)
    except ValidationError as exc:
        raise InputError(
            [(".".join(str(p) for p in e["loc"]) or "form", str(e["msg"])) for e in exc.errors()]
        ) from None


def _degrees(values: Sequence[float]) -> list[float]:
    return [math.degrees(float(v)) for v in values]


@router.post("/patients/{patient_id}/images/upload", **allow(WRITERS))
async def upload(request: Request, user: UserDep, patient_id: PatientId, form: FormDep) -> Response:
    """Upload a study (DICOM files, a zip, NIfTI or NRRD) and masks."""
    posted = await request.form()
    study = [f for f in posted.getlist("files") if isinstance(f, UploadFile)]
    masks = [f for f in posted.getlist("mask_files") if isinstance(f, UploadFile)]
    config = config_of(request)
    added = await run_in_threadpool(
        store_upload,
        config,
        patient_id,
        kind=form.get("kind", ""),
        description=form.get("description", "").strip()[:10_000],
        study=study,
        masks=masks,
        actor=user.username,
    )
    return redirect(f"/patients/{patient_id}?images={len(added)}#images")


@router.post("/patients/{patient_id}/dose", **allow(WRITERS))
async def compute_dose(
    request: Request, user: UserDep, patient_id: PatientId, form: FormDep
) -> Response:
    """Compute a voxel dose from the form, or propose a CT registration first."""
    posted = await request.form()
    masks = [m for m in posted.getlist("mask_image_ids") if isinstance(m, str)]
    body = dose_request_from_form(form, masks)
    started = await run_in_threadpool(
        dose_work(request, start_dose, patient_id, body, actor=user.username)
    )
    if started.proposal_id is not None:
        return redirect(f"/patients/{patient_id}/registrations/{started.proposal_id}")
    return redirect(f"/patients/{patient_id}/doses/{started.dose_image_id}")


@router.get(
    "/patients/{patient_id}/doses/{image_id}", response_class=HTMLResponse, **allow(ALL_ROLES)
)
def dose_page(
    request: Request,
    store: StoreDep,
    user: UserDep,
    patient_id: PatientId,
    image_id: RecordId,
    sent: Annotated[int | None, Query(ge=0, le=100_000)] = None,
) -> Response:
    """A computed dose: statistics, DVH, the viewer, and "send to PACS"."""
    patient = store.get_patient(patient_id)
    voxel = [v for v in voxel_doses(store, patient_id) if v["image"].id == image_id]
    if not voxel:
        raise NotFoundError(f"patient {patient_id} has no computed dose {image_id}")
    store.record_read(patient_id, actor=user.username, what="dose page")
    return render(
        request,
        "image_dose.html",
        headers=viewer_headers(voxel),
        title=f"Voxel dose #{image_id} · {patient.external_id}",
        patient=patient,
        v=voxel[0],
        pacs=config_of(request).pacs,
        sent=sent,
    )


@router.post("/patients/{patient_id}/doses/{image_id}/send", **allow(WRITERS))
async def send_dose(
    request: Request, user: UserDep, patient_id: PatientId, image_id: RecordId, form: FormDep
) -> Response:
    """Send the dose's RT Dose, SEG, SR and PDF report to the PACS (its images read
    within the server's image limits)."""
    config = config_of(request)
    count = await run_in_threadpool(
        under_image_limits(
            config.image_limits,
            functools.partial(
                send_dose_to_pacs,
                pacs_of(config),
                config.store,
                config.files_dir,
                patient_id,
                image_id,
                actor=user.username,
            ),
        )
    )
    return redirect(f"/patients/{patient_id}/doses/{image_id}?sent={count}")


@router.get(
    "/patients/{patient_id}/registrations/{proposal_id}",
    response_class=HTMLResponse,
    **allow(WRITERS),
)
def registration_page(
    request: Request,
    store: StoreDep,
    user: UserDep,
    patient_id: PatientId,
    proposal_id: ProposalId,
) -> Response:
    """The proposed CT registration: viewer, transform, metric and "confirm"."""

    patient = store.get_patient(patient_id)
    proposal = read_proposal(config_of(request).files_dir, patient_id, proposal_id)
    store.record_read(patient_id, actor=user.username, what="registration page")
    transform = proposal["transform"]
    return render(
        request,
        "image_registration.html",
        headers={"content-security-policy": VIEWER_CONTENT_SECURITY_POLICY},
        title=f"Confirm the CT registration · {patient.external_id}",
        patient=patient,
        proposal_id=proposal_id,
        request_=proposal["request"],
        transform=transform,
        rotation_deg=_degrees(transform.get("rotation_rad") or (0, 0, 0)),
    )


@router.get(
    "/patients/{patient_id}/registrations/{proposal_id}/{layer}.nii.gz",
    response_class=FileResponse,
    **allow(WRITERS),
)
def registration_volume(
    request: Request,
    user: UserDep,
    patient_id: PatientId,
    proposal_id: ProposalId,
    layer: Annotated[str, PathParam(pattern=r"^(ct|activity)$")],
) -> FileResponse:
    """One volume of a proposed registration for the viewer (the read is audited)."""
    config = config_of(request)
    path = proposal_volume(config.files_dir, patient_id, proposal_id, layer)
    config.store.record_read(patient_id, actor=user.username, what=f"registration {layer}")
    return FileResponse(path, media_type="application/gzip", filename=path.name)


@router.post("/patients/{patient_id}/registrations/{proposal_id}/confirm", **allow(WRITERS))
async def confirm(
    request: Request,
    user: UserDep,
    patient_id: PatientId,
    proposal_id: ProposalId,
    form: FormDep,
) -> Response:
    """Confirm the registration and compute the dose with it."""
    image, _ = await run_in_threadpool(
        dose_work(request, confirm_registration, patient_id, proposal_id, actor=user.username)
    )
    return redirect(f"/patients/{patient_id}/doses/{image.id}")


@router.post("/patients/{patient_id}/registrations/{proposal_id}/reject", **allow(WRITERS))
async def reject(
    request: Request,
    user: UserDep,
    patient_id: PatientId,
    proposal_id: ProposalId,
    form: FormDep,
) -> Response:
    """Reject the registration: nothing is computed, the rejection is recorded and audited."""
    config = config_of(request)
    await run_in_threadpool(
        functools.partial(
            reject_registration,
            config.store,
            config.files_dir,
            patient_id,
            proposal_id,
            actor=user.username,
            reason=form.get("reason", ""),
        )
    )
    return redirect(f"/patients/{patient_id}?registration=rejected#images")
