"""The web pages of a patient's images: upload, voxel dose, registration, PACS.

On the tumour-board page (``partials/image_tools.html``) a writer

- uploads a study (DICOM files, a zip of a DICOM series, or one NIfTI/NRRD
  file) and its masks; each becomes an image record of the patient, as an
  upload through ``POST /api/v1/patients/{id}/images`` would;
- computes a voxel dose (functional image, CT, masks, local deposition or
  kernel, activity and times as the API takes them) through the same function
  as ``POST /api/v1/patients/{id}/dose``
  (:func:`netlm.api.app.compute_patient_dose`, which calls
  :func:`netlm.workflows.dose.compute_dose`) and sees it in the image viewer.
  When the CT comes in another frame of reference than the functional image,
  the page first shows the proposed rigid registration
  (:func:`netlm.workflows.registration.propose_ct_registration`: the viewer
  with the registered CT under the activity image, the transform and its
  Mattes metric) and computes nothing until the user confirms it; the
  confirmed transform, with who confirmed it, is recorded with the dose;
- imports series from the server's DICOMweb PACS (``netlm serve --pacs-url``),
  found by the patient's identifier or an accession number
  (:func:`netlm.workflows.pacs.pull_chosen_series`), and sends a computed
  dose's RT Dose, SEG, SR and PDF report back to its study
  (:func:`netlm.workflows.pacs.send_dose_results`).

Every page declares its roles (writers for everything that changes or sends
anything), every form carries the session's CSRF token, and every write and
every sending is audited.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Final, cast

import fastapi
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from netlm.api.config import ApiConfig, StoreDep, config_of
from netlm.api.files import safe_filename, save_upload
from netlm.api.limits import check_upload
from netlm.api.pages import FormDep, viewer_headers, voxel_doses
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.templating import render
from netlm.errors import InputError, NetlmError, NotFoundError
from netlm.store.repository import IMAGE_KINDS, ImageOut
from netlm.workflows.images import (
    DoseRequest,
    compute_patient_dose,
    image_file,
    patient_files_dir,
)

__all__ = [
    "ACTIVITY_KINDS",
    "MASK_KINDS",
    "build_image_page_router",
    "install",
    "study_kind_for",
]

PatientId = Annotated[int, PathParam(ge=1, le=2**62)]
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]
ProposalId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")]

#: Image kinds offered as the functional (activity) image of a dose.
ACTIVITY_KINDS: Final = ("y90_pet", "y90_spect", "maa_spect", "pet", "spect")
#: Image kinds offered as masks of a dose.
MASK_KINDS: Final = ("segmentation", "rtstruct")
#: Kinds a study upload may take (computed results and masks have their own ways in).
STUDY_KINDS: Final = tuple(sorted(IMAGE_KINDS - {"rtdose", "dose_map", "segmentation", "rtstruct"}))
#: Most files one zip (or one upload of DICOM files) may hold.
MAX_SERIES_FILES: Final = 5000
#: The kind a PACS series becomes by its DICOM Modality (others: ``other``).
MODALITY_KINDS: Final = {
    "CT": "ct",
    "MR": "mr",
    "PT": "y90_pet",
    "NM": "spect",
    "SEG": "segmentation",
    "RTSTRUCT": "rtstruct",
    "RTDOSE": "rtdose",
    "US": "ultrasound",
    "XA": "angiography",
}
_PROPOSAL = "proposal.json"


def study_kind_for(modality: str) -> str:
    """The image kind a PACS series of ``modality`` is stored as.

    Examples
    --------
    >>> study_kind_for("PT"), study_kind_for("SEG"), study_kind_for("OT")
    ('y90_pet', 'segmentation', 'other')
    """
    return MODALITY_KINDS.get(modality.upper(), "other")


def _save(upload: UploadFile, folder: Path, limit_bytes: int) -> Path:
    """:func:`~netlm.api.app.save_upload` for a file of a form read by Starlette."""
    return save_upload(cast(fastapi.UploadFile, upload), folder, limit_bytes)


def _limits(config: ApiConfig) -> contextlib.AbstractContextManager[object]:
    """Image reads under the server's limits (``netlm serve --max-image-*``)."""
    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS, image_limits

    return image_limits(config.image_limits or DEFAULT_IMAGE_LIMITS)


def _check_limits(config: ApiConfig, path: Path, kind: str, field: str) -> None:
    """An uploaded file over an image limit: ``413`` naming it; a damaged one: ``field``."""
    from netlm.imaging.limits import ImageLimitError

    try:
        check_upload(path, kind, config.image_limits)
    except ImageLimitError as exc:
        raise InputError([(field, message) for _, message in exc.problems]) from None


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --------------------------------------------------------------------------- storing uploads
def _check_image(path: Path, field: str) -> None:
    """Refuse (by ``field``) a file or folder netlm cannot read as a 3-D image."""
    from netlm.imaging.io import read_image

    try:
        read_image(path)
    except (NetlmError, OSError, ValueError, RuntimeError) as exc:
        raise InputError([(field, f"not a readable image or DICOM series: {exc}")]) from None


def _check_masks(path: Path, field: str) -> None:
    """Refuse (by ``field``) a file that holds no mask netlm can read."""
    from netlm.imaging.io import read_masks

    try:
        if not read_masks(path):
            raise InputError([(field, f"{path.name} holds no mask")])
    except InputError:
        raise
    except (NetlmError, OSError, ValueError, RuntimeError) as exc:
        raise InputError([(field, f"{path.name}: not a readable mask file: {exc}")]) from None


def _extract_zip(archive: Path, target: Path, limit_bytes: int) -> None:
    """Unpack ``archive``'s files flat into ``target`` (names sanitised, sizes limited)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if not members:
                raise InputError([("files", "the zip file holds no file")])
            if len(members) > MAX_SERIES_FILES:
                raise InputError([("files", f"the zip file holds over {MAX_SERIES_FILES} files")])
            if sum(m.file_size for m in members) > limit_bytes:
                raise InputError([("files", f"the zip file unpacks to over {limit_bytes} bytes")])
            target.mkdir(mode=0o700)
            for n, member in enumerate(members):
                name = f"{n:05d}-{safe_filename(member.filename, 'file')}"
                with zipped.open(member) as source, (target / name).open("xb") as out:
                    shutil.copyfileobj(source, out)
    except zipfile.BadZipFile:
        raise InputError([("files", "not a readable zip file")]) from None


def store_study_files(config: ApiConfig, patient_id: int, uploads: Sequence[UploadFile]) -> Path:
    """Store an uploaded study in the patient's folder: the path an image record names.

    One NIfTI, NRRD or DICOM file is stored as it is; a zip file is unpacked
    and several files are gathered into one folder (a DICOM series).  The
    result must read as one 3-D image, else nothing is kept.

    Raises
    ------
    InputError
        (``files``) No file, an unreadable zip, or no readable image.
    """
    files = [u for u in uploads if u.filename]
    if not files:
        raise InputError([("files", "choose the study's files (DICOM, a zip, NIfTI or NRRD)")])
    if len(files) > MAX_SERIES_FILES:
        raise InputError([("files", f"at most {MAX_SERIES_FILES} files at once")])
    root = patient_files_dir(config.files_dir, patient_id)
    saved = [_save(u, root, config.max_upload_bytes) for u in files]
    try:
        if len(saved) == 1 and saved[0].suffix.lower() == ".zip":
            path = saved[0].parent / "series"
            _extract_zip(saved[0], path, config.max_upload_bytes)
            saved[0].unlink()
            inside = sorted(path.iterdir())
            if len(inside) == 1:
                path = inside[0]
        elif len(saved) == 1:
            path = saved[0]
        else:
            path = saved[0].parent / "series"
            path.mkdir(mode=0o700)
            for n, file in enumerate(saved):
                file.rename(path / f"{n:05d}-{file.name}")
        with _limits(config):
            if path.is_file():
                _check_limits(config, path, "activity", "files")
            _check_image(path, "files")
    except BaseException:
        for file in saved:
            shutil.rmtree(file.parent, ignore_errors=True)
        raise
    for file in saved[1:]:
        shutil.rmtree(file.parent, ignore_errors=True)
    return path


def store_upload(
    config: ApiConfig,
    patient_id: int,
    *,
    kind: str,
    description: str,
    study: Sequence[UploadFile],
    masks: Sequence[UploadFile],
    actor: str,
) -> list[ImageOut]:
    """Store an uploaded study and its masks as image records (all or nothing).

    Raises
    ------
    InputError
        Bad kind (``kind``), no or unreadable study (``files``), an unreadable
        mask (``mask_files``); nothing is stored then.
    """
    store = config.store
    store.get_patient(patient_id)
    study = [u for u in study if u.filename]
    masks = [u for u in masks if u.filename]
    if not study and not masks:
        raise InputError([("files", "choose a study or mask files to upload")])
    if study and kind not in STUDY_KINDS:
        raise InputError([("kind", f"unknown kind {kind!r}; use one of {', '.join(STUDY_KINDS)}")])
    written: list[Path] = []
    try:
        study_path = store_study_files(config, patient_id, study) if study else None
        if study_path is not None:
            written.append(study_path)
        mask_paths: list[Path] = []
        for upload in masks:
            path = _save(
                upload, patient_files_dir(config.files_dir, patient_id), config.max_upload_bytes
            )
            written.append(path)
            with _limits(config):
                _check_limits(config, path, "segmentation", "mask_files")
                _check_masks(path, "mask_files")
            mask_paths.append(path)
        added: list[ImageOut] = []
        if study_path is not None:
            added.append(
                store.add_image(
                    patient_id,
                    kind=kind,
                    path=str(study_path),
                    description=description or f"uploaded {study_path.name}",
                    actor=actor,
                )
            )
        for path in mask_paths:
            added.append(
                store.add_image(
                    patient_id,
                    kind="segmentation",
                    path=str(path),
                    description=f"masks {path.name}",
                    actor=actor,
                )
            )
    except BaseException:
        root = patient_files_dir(config.files_dir, patient_id)
        for path in written:  # each upload lives in its own folder under the patient's
            shutil.rmtree(root / path.relative_to(root).parts[0], ignore_errors=True)
        raise
    return added


# --------------------------------------------------------------------------- dose and registration
_DOSE_FIELDS: Final = (
    "activity_image_id",
    "ct_image_id",
    "method",
    "activity_gbq",
    "implant_time",
    "scan_time",
)


def dose_request_from_form(form: dict[str, str], mask_ids: Sequence[str]) -> DoseRequest:
    """The API's :class:`~netlm.api.app.DoseRequest` from the dose form (empty fields left out).

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


def proposal_folder(config: ApiConfig, patient_id: int, proposal_id: str) -> Path:
    """The folder of a proposed registration (its request, transform and check volumes)."""
    return patient_files_dir(config.files_dir, patient_id) / f"registration-{proposal_id}"


def read_proposal(config: ApiConfig, patient_id: int, proposal_id: str) -> dict[str, Any]:
    """A proposed registration waiting for confirmation.

    Raises
    ------
    NotFoundError
        No such proposal for this patient (or it was confirmed already).
    """
    try:
        text = (proposal_folder(config, patient_id, proposal_id) / _PROPOSAL).read_text("utf-8")
        proposal: dict[str, Any] = json.loads(text)
    except (OSError, ValueError):
        raise NotFoundError(f"no registration {proposal_id} waits for confirmation") from None
    return proposal


def start_dose(config: ApiConfig, patient_id: int, body: DoseRequest, *, actor: str) -> str:
    """Compute the dose, or first propose a CT registration: the page to go to next.

    A CT in the functional image's frame of reference (or without one) is used
    as it is and the dose is computed now; a CT in another frame is
    registered, and nothing is computed until the registration is confirmed.
    """
    from netlm.workflows.registration import propose_ct_registration

    store = config.store
    store.get_patient(patient_id)
    if body.ct_image_id is not None and body.ct_registration is None:

        def path_of(image_id: int, field: str) -> Path:
            try:
                return image_file(config.store, config.files_dir, patient_id, image_id)[1]
            except NotFoundError as exc:
                raise InputError([(field, str(exc))]) from None

        activity = path_of(body.activity_image_id, "activity_image_id")
        ct = path_of(body.ct_image_id, "ct_image_id")
        proposal_id = uuid.uuid4().hex[:16]
        folder = proposal_folder(config, patient_id, proposal_id)
        try:
            proposal = propose_ct_registration(activity, ct, folder)
            if proposal is not None:
                record = {
                    "request": body.model_dump(mode="json"),
                    "transform": proposal.transform,
                    "proposed_by": actor,
                }
                (folder / _PROPOSAL).write_text(json.dumps(record, indent=2), encoding="utf-8")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if proposal is not None:
            store.record_read(patient_id, actor=actor, what="registration proposed")
            return f"/patients/{patient_id}/registrations/{proposal_id}"
    return f"/patients/{patient_id}/doses/{_dose(config, patient_id, body, actor)}"


def _dose(config: ApiConfig, patient_id: int, body: DoseRequest, actor: str) -> int:
    """The API's dose workflow on the patient's stored images: the new RT Dose's image id."""
    from netlm.voxel.kernels import default_kernel_cache_dir

    image, _ = compute_patient_dose(
        config.store,
        config.files_dir,
        patient_id,
        body,
        actor=actor,
        kernel_cache_dir=default_kernel_cache_dir(os.environ, Path.home()),
        limits=config.image_limits,
    )
    return image.id


def confirm_registration(
    config: ApiConfig, patient_id: int, proposal_id: str, *, actor: str
) -> int:
    """Compute the dose of a proposed registration, now confirmed by ``actor``: the RT Dose id.

    The dose records the transform with ``confirmed_by``; the proposal is removed.
    """
    proposal = read_proposal(config, patient_id, proposal_id)
    transform = dict(proposal["transform"], confirmed_by=actor)
    try:
        body = DoseRequest.model_validate({**proposal["request"], "ct_registration": transform})
    except ValidationError as exc:  # pragma: no cover - written from a validated request
        raise InputError([("registration", str(exc))]) from None
    image_id = _dose(config, patient_id, body, actor)
    shutil.rmtree(proposal_folder(config, patient_id, proposal_id), ignore_errors=True)
    return image_id


def _degrees(values: Sequence[float]) -> list[float]:
    return [float(v) * 180.0 / 3.141592653589793 for v in values]


# --------------------------------------------------------------------------- PACS
def _pacs_of(config: ApiConfig) -> Any:
    if config.pacs is None:
        raise InputError(
            [("pacs", "no PACS is configured for this server (netlm serve --pacs-url URL)")]
        )
    return config.pacs


def find_pacs_studies(
    config: ApiConfig, *, patient_id: str | None, accession: str | None
) -> list[dict[str, Any]]:
    """Studies (each with its series) of the PACS matching a patient id or accession number."""
    from netlm.pacs import find_series, find_studies

    pacs = _pacs_of(config)
    if not (patient_id or accession):
        raise InputError([("patient_id", "give the patient's identifier or an accession number")])
    found = []
    for study in find_studies(
        pacs, patient_id=patient_id or None, accession_number=accession or None
    ):
        series = find_series(pacs, study.study_uid)
        found.append({"study": study, "series": series})
    return found


_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def import_pacs_series(
    config: ApiConfig,
    patient_id: int,
    chosen: Sequence[str],
    kinds: dict[str, str],
    *,
    actor: str,
) -> list[ImageOut]:
    """Pull the chosen ``"<study UID>/<series UID>"`` series and store them as image records.

    Each series is kept as a folder of DICOM files (a SEG or RTSTRUCT as its
    one file) and must read as an image (a mask series: as masks); nothing is
    stored unless every series does.
    """
    from netlm.workflows.pacs import pull_chosen_series

    pacs = _pacs_of(config)
    config.store.get_patient(patient_id)
    by_study: dict[str, list[str]] = {}
    for value in chosen:
        study_uid, _, series_uid = value.partition("/")
        if not (_UID.match(study_uid) and _UID.match(series_uid)):
            raise InputError([("series", f"{value!r} is not a study/series UID pair")])
        by_study.setdefault(study_uid, []).append(series_uid)
    if not by_study:
        raise InputError([("series", "choose at least one series to import")])
    work = patient_files_dir(config.files_dir, patient_id) / f"pacs-{uuid.uuid4().hex[:16]}"
    pending: list[tuple[str, Path, str, str]] = []
    try:
        for study_uid, series_uids in by_study.items():
            for info, folder in pull_chosen_series(pacs, study_uid, tuple(series_uids), work):
                kind = kinds.get(info.series_uid) or study_kind_for(info.modality)
                if kind not in IMAGE_KINDS:
                    raise InputError([(f"kind-{info.series_uid}", f"unknown kind {kind!r}")])
                files = sorted(p for p in folder.iterdir() if p.is_file())
                path = files[0] if kind in MASK_KINDS and len(files) == 1 else folder
                if kind in MASK_KINDS:
                    if kind == "segmentation":
                        _check_masks(path, "series")
                else:
                    _check_image(path, "series")
                text = f"PACS {info.modality} series: {info.description or 'no description'}"
                pending.append((kind, path, info.series_uid, text))
        return [
            config.store.add_image(
                patient_id,
                kind=kind,
                path=str(path),
                series_uid=series_uid,
                description=text,
                actor=actor,
            )
            for kind, path, series_uid, text in pending
        ]
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def send_dose_to_pacs(config: ApiConfig, patient_id: int, image_id: int, *, actor: str) -> int:
    """Send a computed dose's RT Dose, SEG, SR and PDF report to the PACS: instances stored.

    The dose must have been computed from a DICOM series the server holds for
    this patient (the results go to that series' study).  The sending is audited.
    """
    from netlm.api.viewer import dose_document
    from netlm.workflows.pacs import send_dose_results

    pacs = _pacs_of(config)
    image, rtdose = image_file(config.store, config.files_dir, patient_id, image_id)
    if image.kind != "rtdose":
        raise NotFoundError(f"image {image_id} is not a computed dose")
    document = dose_document(rtdose)
    activity = str(document.get("activity_image") or "")
    source = next(
        (i for i in config.store.images(patient_id) if i.path is not None and i.path == activity),
        None,
    )
    if source is None:
        raise InputError([("activity", "the dose's activity image is no longer held")])
    sent = send_dose_results(pacs, rtdose.parent, Path(activity))
    config.store.record_sent(
        patient_id,
        actor=actor,
        what="dose results to PACS",
        details={
            "rtdose_image_id": image_id,
            "activity_image_id": source.id,
            "pacs": pacs.url,
            "instances": len(sent),
        },
    )
    return len(sent)


# --------------------------------------------------------------------------- the pages
def build_image_page_router() -> APIRouter:
    """The image, dose, registration and PACS pages of a patient."""
    router = APIRouter(route_class=GuardedRoute, include_in_schema=False)

    @router.post("/patients/{patient_id}/images/upload", **allow(WRITERS))
    async def upload(
        request: Request, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
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
        return _redirect(f"/patients/{patient_id}?images={len(added)}#images")

    @router.post("/patients/{patient_id}/dose", **allow(WRITERS))
    async def compute_dose(
        request: Request, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        """Compute a voxel dose from the form, or propose a CT registration first."""
        posted = await request.form()
        masks = [m for m in posted.getlist("mask_image_ids") if isinstance(m, str)]
        body = dose_request_from_form(form, masks)
        target = await run_in_threadpool(
            start_dose, config_of(request), patient_id, body, actor=user.username
        )
        return _redirect(target)

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
        """Send the dose's RT Dose, SEG, SR and PDF report to the PACS."""
        count = await run_in_threadpool(
            send_dose_to_pacs, config_of(request), patient_id, image_id, actor=user.username
        )
        return _redirect(f"/patients/{patient_id}/doses/{image_id}?sent={count}")

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
        from netlm.api.middleware import VIEWER_CONTENT_SECURITY_POLICY

        patient = store.get_patient(patient_id)
        proposal = read_proposal(config_of(request), patient_id, proposal_id)
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
        read_proposal(config, patient_id, proposal_id)
        path = proposal_folder(config, patient_id, proposal_id) / f"{layer}.nii.gz"
        if not path.is_file():
            raise NotFoundError(f"the registration has no {layer} volume")
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
        dose_id = await run_in_threadpool(
            confirm_registration, config_of(request), patient_id, proposal_id, actor=user.username
        )
        return _redirect(f"/patients/{patient_id}/doses/{dose_id}")

    @router.get("/patients/{patient_id}/pacs", response_class=HTMLResponse, **allow(WRITERS))
    def pacs_page(
        request: Request,
        store: StoreDep,
        user: UserDep,
        patient_id: PatientId,
        pacs_patient_id: Annotated[str | None, Query(max_length=64)] = None,
        accession: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        """Import a study from the PACS: search by patient id or accession number, pick series."""
        from netlm.pacs import PacsError

        config = config_of(request)
        patient = store.get_patient(patient_id)
        studies: list[dict[str, Any]] | None = None
        error = None
        status_code = 200
        searched = pacs_patient_id is not None or accession is not None
        if config.pacs is None:
            error = "No PACS is configured for this server (netlm serve --pacs-url URL)."
        elif searched:
            store.record_read(patient_id, actor=user.username, what="PACS search")
            try:
                studies = find_pacs_studies(config, patient_id=pacs_patient_id, accession=accession)
            except PacsError as exc:
                error, status_code = f"The PACS could not be searched: {exc}", 502
        return render(
            request,
            "image_pacs.html",
            status_code,
            title=f"Import from PACS · {patient.external_id}",
            patient=patient,
            pacs=config.pacs,
            studies=studies,
            error=error,
            pacs_patient_id=patient.external_id if pacs_patient_id is None else pacs_patient_id,
            accession=accession or "",
            kinds=sorted(IMAGE_KINDS),
            kind_for=study_kind_for,
        )

    @router.post("/patients/{patient_id}/pacs/import", **allow(WRITERS))
    async def pacs_import(
        request: Request, user: UserDep, patient_id: PatientId, form: FormDep
    ) -> Response:
        """Pull the chosen series and store them as the patient's images."""
        posted = await request.form()
        chosen = [s for s in posted.getlist("series") if isinstance(s, str)]
        kinds = {k[len("kind-") :]: v for k, v in form.items() if k.startswith("kind-")}
        added = await run_in_threadpool(
            import_pacs_series, config_of(request), patient_id, chosen, kinds, actor=user.username
        )
        return _redirect(f"/patients/{patient_id}?images={len(added)}#images")

    return router


def install(app: FastAPI) -> APIRouter:
    """Add the image pages to ``app``; returns their router (for the role checks)."""
    router = build_image_page_router()
    app.include_router(router)
    return router
