"""``/patients/{id}/images``, ``/dose`` and ``/registrations``: uploads, downloads, viewer
volumes, voxel dose, and the CT registrations proposed by the web app (listed, rejected)."""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

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
from netlm.workflows.images import DoseRequest, compute_patient_dose, image_file, patient_files_dir
from netlm.workflows.registration import pending_proposals, reject_registration

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


@router.post("/patients/{patient_id}/dose", tags=["images"], status_code=201, **allow(WRITERS))
def compute_dose(
    request: Request, user: UserDep, patient_id: PatientId, body: DoseRequest
) -> DoseOut:
    """Voxel dosimetry (local deposition or kernel) on the patient's uploaded images.

    Writes an RT Dose (a new image record of kind ``rtdose``, downloadable),
    the statistics of every mask and their DVHs.
    """
    image, statistics = dose_work(
        request, compute_patient_dose, patient_id, body, actor=user.username
    )()
    return DoseOut(rtdose_image_id=image.id, statistics=statistics)


@router.get("/patients/{patient_id}/registrations", tags=["images"], **allow(WRITERS))
def list_registrations(
    request: Request, store: StoreDep, user: UserDep, patient_id: PatientId
) -> list[RegistrationOut]:
    """The CT registrations proposed for the patient's doses and waiting for confirmation."""
    config = config_of(request)
    store.get_patient(patient_id)
    store.record_read(patient_id, actor=user.username, what="registrations")
    return [
        RegistrationOut.model_validate(p) for p in pending_proposals(config.files_dir, patient_id)
    ]


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
    return RegistrationOut.model_validate(record)
