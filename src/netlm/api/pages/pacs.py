"""``/patients/{id}/pacs``: import a study from the server's DICOMweb PACS.

Search by the patient's identifier or an accession number
(:func:`netlm.workflows.pacs.find_pacs_studies`), pick series and their kinds,
and store them as the patient's images
(:func:`netlm.workflows.pacs.import_pacs_series`, all or nothing).  Without a
PACS (``netlm serve --pacs-url``) the page says so.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from netlm.api.config import StoreDep, config_of
from netlm.api.limits import under_image_limits
from netlm.api.pages.common import FormDep, PatientId, pacs_of, redirect
from netlm.api.roles import WRITERS, GuardedRoute, UserDep, allow
from netlm.api.templating import render
from netlm.pacs import PacsError
from netlm.store.repository import IMAGE_KINDS
from netlm.workflows.pacs import find_pacs_studies, import_pacs_series, study_kind_for

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


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
            studies = find_pacs_studies(
                config.pacs, patient_id=pacs_patient_id, accession=accession
            )
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
    """Pull the chosen series and store them as the patient's images (each read within
    the server's image limits before it is kept)."""
    posted = await request.form()
    chosen = [s for s in posted.getlist("series") if isinstance(s, str)]
    kinds = {k[len("kind-") :]: v for k, v in form.items() if k.startswith("kind-")}
    config = config_of(request)
    added = await run_in_threadpool(
        under_image_limits(
            config.image_limits,
            functools.partial(
                import_pacs_series,
                pacs_of(config),
                config.store,
                config.files_dir,
                patient_id,
                chosen,
                kinds,
                actor=user.username,
            ),
        )
    )
    return redirect(f"/patients/{patient_id}?images={len(added)}#images")
