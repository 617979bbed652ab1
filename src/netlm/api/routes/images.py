"""``/patients/{id}/images``, ``/dose`` and ``/registrations``: uploads, downloads, viewer
volumes, voxel dose, and the CT registrations to confirm before a dose uses them.

A dose asked with a CT in another frame of reference than the activity image
(and no ``ct_registration``) is not computed: ``POST .../dose`` answers ``202``
with the proposed registration (:func:`netlm.workflows.registration.start_dose`,
as the web pages do), which a writer reads (``GET .../registrations/{pid}``
and its check volumes), then confirms (``POST .../confirm``: the dose is
computed with it and records who confirmed it) or rejects.
"""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse

from netlm.api.config import API_PREFIX, StoreDep, config_of, dose_work
from netlm.api.files import save_upload, temporary_file_response
from netlm.api.limits import check_upload, image_reads
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.schemas import (
    DoseOut,
    PatientId,
    ProposalId,
    RecordId,
    RegistrationOut,
    RejectIn,
)
from netlm.errors import InputError, NotFoundError
from netlm.store.repository import IMAGE_KINDS, ImageOut
from netlm.workflows.images import DoseRequest, image_file, patient_files_dir
from netlm.workflows.registration import (
    PROPOSAL_LAYERS,
    confirm_registration,
    pending_proposals,
    proposal_volume,
    read_proposal,
    reject_registration,
    start_dose,
)

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.post("/patients/{patient_id}/images", tags=["images"], status_code=201, **allow(WRITERS))
def upload_image(
    request: Request,
    store: StoreDep,
    user: UserDep,
    patient_id: PatientId,
    kind: Annotated[str, Form(max_length=32, json_schema_extra={"enum": sorted(IMAGE_KINDS)})],
    file: Annotated[UploadFile | None, File(description="The image or mask file.")] = None,
    series_uid: Annotated[str | None, Form(max_length=64)] = None,
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> ImageOut:
    """Upload an image or mask file (NIfTI, NRRD, DICOM, SEG, RTSTRUCT) or register a
    DICOM series by its Series Instance UID."""
    config = config_of(request)
    store.get_patient(patient_id)
    if kind not in IMAGE_KINDS:
        raise InputError([("kind", f"unknown kind {kind!r}; use one of {sorted(IMAGE_KINDS)}")])
    path = None
    if file is not None and (file.filename or file.size):
        path = save_upload(
            file, patient_files_dir(config.files_dir, patient_id), config.max_upload_bytes
        )
    try:
        if path is not None:  # over an image limit: 413 naming it; damaged: 422
            check_upload(path, kind, config.image_limits)
        return store.add_image(
            patient_id,
            kind=kind,
            path=None if path is None else str(path),
            series_uid=series_uid or None,
            description=description,
            actor=user.username,
        )
    except BaseException:
        if path is not None:
            shutil.rmtree(path.parent, ignore_errors=True)
        raise


@router.get("/patients/{patient_id}/images", tags=["images"], **allow(ALL_ROLES))
def list_images(store: StoreDep, patient_id: PatientId) -> list[ImageOut]:
    """The patient's images, masks and computed doses."""
    return store.images(patient_id)


@router.get(
    "/patients/{patient_id}/images/{image_id}/file",
    tags=["images"],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    **allow(ALL_ROLES),
)
def download_image(request: Request, patient_id: PatientId, image_id: RecordId) -> FileResponse:
    """Download an uploaded file or a computed RT Dose (``application/dicom``); a DICOM
    series stored as a folder comes as a zip file."""
    config = config_of(request)
    image, path = image_file(config.store, config.files_dir, patient_id, image_id)
    if path.is_dir():
        return temporary_file_response(
            lambda target: shutil.make_archive(str(target.with_suffix("")), "zip", path),
            f"image-{image_id}.zip",
            "application/zip",
        )
    media = "application/dicom" if image.kind == "rtdose" else "application/octet-stream"
    return FileResponse(path, media_type=media, filename=path.name)


@router.get(
    "/patients/{patient_id}/images/{image_id}/viewer/{layer}.nii.gz",
    tags=["images"],
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}}},
    **allow(ALL_ROLES),
)
def viewer_volume(
    request: Request,
    user: UserDep,
    patient_id: PatientId,
    image_id: RecordId,
    layer: Annotated[
        str, PathParam(description="ct, activity, dose, vois (outlines) or isodose (outlines).")
    ],
    levels: Annotated[
        str | None,
        Query(max_length=200, description="Isodose levels in Gy, comma-separated."),
    ] = None,
) -> FileResponse:
    """One volume of a computed dose for the image viewer, as NIfTI (the read is audited).

    Each file is read only within the server's image limits (``netlm serve
    --max-image-voxels/--max-image-bytes``), checked from its header: over one,
    ``413`` naming it."""
    from netlm.api.viewer import VIEWER_LAYERS, parse_levels, write_layer

    config = config_of(request)
    if layer not in VIEWER_LAYERS:
        raise InputError([("layer", f"use one of {', '.join(VIEWER_LAYERS)}, not {layer!r}")])
    chosen = parse_levels(levels)
    image, path = image_file(config.store, config.files_dir, patient_id, image_id)
    if image.kind != "rtdose":
        raise NotFoundError(f"image {image_id} is not a computed dose")
    config.store.record_read(patient_id, actor=user.username, what=f"dose viewer {layer}")
    with image_reads(config.image_limits) as limits:
        return temporary_file_response(
            lambda target: write_layer(
                config.files_dir, path, layer, target, levels=chosen, limits=limits
            ),
            f"{layer}.nii.gz",
            "application/gzip",
        )


def _registration_out(patient_id: int, record: dict[str, Any]) -> RegistrationOut:
    """The API's view of a stored proposal: a pending one with its check-volume URLs."""
    out = RegistrationOut.model_validate(record)
    if out.status != "pending":
        return out
    base = f"{API_PREFIX}/patients/{patient_id}/registrations/{out.id}/viewer"
    return out.model_copy(update={"layers": {k: f"{base}/{k}.nii.gz" for k in PROPOSAL_LAYERS}})


@router.post(
    "/patients/{patient_id}/dose",
    tags=["images"],
    status_code=201,
    response_model=DoseOut,
    responses={
        202: {
            "model": RegistrationOut,
            "description": "The CT is in another frame of reference than the activity image: "
            "nothing is computed; the registration is proposed for confirmation "
            "(``Location``: the proposal).",
        }
    },
    **allow(WRITERS),
)
def compute_dose(
    request: Request, user: UserDep, patient_id: PatientId, body: DoseRequest
) -> DoseOut | JSONResponse:
    """Voxel dosimetry (local deposition or kernel) on the patient's uploaded images.

    Writes an RT Dose (a new image record of kind ``rtdose``, downloadable),
    the statistics of every mask and their DVHs (``201``).

    A CT in another frame of reference than the activity image, given without
    ``ct_registration``, is registered onto it (rigid, Mattes mutual
    information) and nothing is computed: ``202`` with the stored proposal
    (its ``id``, ``transform`` and check-volume URLs in ``layers``), to confirm
    with ``POST .../registrations/{id}/confirm`` or reject, as on the web page.
    """
    started = dose_work(request, start_dose, patient_id, body, actor=user.username)()
    if started.proposal_id is not None:
        config = config_of(request)
        record = read_proposal(config.files_dir, patient_id, started.proposal_id)
        out = _registration_out(patient_id, {"id": started.proposal_id, **record})
        return JSONResponse(
            out.model_dump(mode="json"),
            status_code=202,
            headers={
                "Location": f"{API_PREFIX}/patients/{patient_id}/registrations/{out.id}",
            },
        )
    if started.dose_image_id is None or started.statistics is None:  # pragma: no cover
        raise RuntimeError("start_dose neither computed a dose nor proposed a registration")
    return DoseOut(rtdose_image_id=started.dose_image_id, statistics=started.statistics)


@router.get("/patients/{patient_id}/registrations", tags=["images"], **allow(WRITERS))
def list_registrations(
    request: Request, store: StoreDep, user: UserDep, patient_id: PatientId
) -> list[RegistrationOut]:
    """The CT registrations proposed for the patient's doses and waiting for confirmation."""
    config = config_of(request)
    store.get_patient(patient_id)
    store.record_read(patient_id, actor=user.username, what="registrations")
    return [
        _registration_out(patient_id, p) for p in pending_proposals(config.files_dir, patient_id)
    ]


@router.get("/patients/{patient_id}/registrations/{proposal_id}", tags=["images"], **allow(WRITERS))
def get_registration(
    request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, proposal_id: ProposalId
) -> RegistrationOut:
    """A proposed CT registration waiting for confirmation: the dose request, the transform
    (activity -> CT; its Mattes metric) and the URLs of its check volumes (the read is
    audited).  ``404`` once it was confirmed, rejected or replaced."""
    config = config_of(request)
    store.get_patient(patient_id)
    record = read_proposal(config.files_dir, patient_id, proposal_id)
    store.record_read(patient_id, actor=user.username, what="registration proposal")
    return _registration_out(patient_id, {"id": proposal_id, **record})


@router.get(
    "/patients/{patient_id}/registrations/{proposal_id}/viewer/{layer}.nii.gz",
    tags=["images"],
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}}},
    **allow(WRITERS),
)
def registration_volume(
    request: Request,
    user: UserDep,
    patient_id: PatientId,
    proposal_id: ProposalId,
    layer: Annotated[
        str,
        PathParam(
            pattern=r"^(ct|activity)$",
            description="activity, or ct (the CT resampled through the proposed transform).",
        ),
    ],
) -> FileResponse:
    """One check volume of a proposed registration, as NIfTI on the activity image's grid
    (the read is audited)."""
    config = config_of(request)
    config.store.get_patient(patient_id)
    path = proposal_volume(config.files_dir, patient_id, proposal_id, layer)
    config.store.record_read(patient_id, actor=user.username, what=f"registration {layer}")
    return FileResponse(path, media_type="application/gzip", filename=path.name)


@router.post(
    "/patients/{patient_id}/registrations/{proposal_id}/confirm",
    tags=["images"],
    status_code=201,
    **allow(WRITERS),
)
def confirm(
    request: Request, user: UserDep, patient_id: PatientId, proposal_id: ProposalId
) -> DoseOut:
    """Confirm a proposed CT registration and compute its dose with it.

    The RT Dose and its statistics are those of ``POST .../dose`` with the
    transform as ``ct_registration``, recorded with ``confirmed_by`` (the
    caller) in ``statistics.registration.ct``; the proposal is then gone
    (``404`` when confirmed again, rejected or replaced).  The confirmation is
    audited."""
    config_of(request).store.get_patient(patient_id)
    image, statistics = dose_work(
        request, confirm_registration, patient_id, proposal_id, actor=user.username
    )()
    return DoseOut(rtdose_image_id=image.id, statistics=statistics)


@router.post(
    "/patients/{patient_id}/registrations/{proposal_id}/reject", tags=["images"], **allow(WRITERS)
)
def reject(
    request: Request,
    user: UserDep,
    patient_id: PatientId,
    proposal_id: ProposalId,
    body: RejectIn | None = None,
) -> RegistrationOut:
    """Reject a proposed CT registration: no dose is computed with it, and its transform is
    refused if given again (the rejection is audited)."""
    config = config_of(request)
    record = reject_registration(
        config.store,
        config.files_dir,
        patient_id,
        proposal_id,
        actor=user.username,
        reason="" if body is None else body.reason,
    )
    return _registration_out(patient_id, record)
