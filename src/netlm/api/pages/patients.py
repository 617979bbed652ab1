"""``/patients``: the patient list and search, a new patient, the tumour-board page, deletion.

The board page (``/patients/{id}``) shows the latest assessment's answer,
scores, verdicts and work-up (the report partials of
:mod:`netlm.report.html`, so the page and the PDF say the same thing), the
treatment timeline (:mod:`netlm.workflows.board`), the response chart, the
doses and the images (:mod:`netlm.api.pages.board`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import StoreDep, config_of
from netlm.api.pages.board import dose_summary, response_chart, viewer_headers
from netlm.api.pages.common import FormDep, PatientId, redirect
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.templating import render, render_partials
from netlm.errors import InputError, StoreError
from netlm.report.board import board_summary, headline
from netlm.report.html import board_context
from netlm.store.repository import TREATMENT_MODALITIES
from netlm.workflows.board import timeline
from netlm.workflows.registration import pending_proposals

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/patients", response_class=HTMLResponse, **allow(ALL_ROLES))
def patients(
    request: Request,
    store: StoreDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return render(
        request,
        "patients.html",
        title="Patients",
        patients=store.list_patients(q or None),
        q=q,
    )


@router.post("/patients", **allow(WRITERS))
def create_patient(request: Request, store: StoreDep, user: UserDep, form: FormDep) -> Response:
    external_id = form.get("external_id", "").strip()
    try:
        patient = store.create_patient(external_id, actor=user.username)
    except (InputError, StoreError) as exc:
        message = "; ".join(m for _, m in exc.problems) if isinstance(exc, InputError) else str(exc)
        return render(
            request,
            "patients.html",
            422 if isinstance(exc, InputError) else 409,
            title="Patients",
            patients=store.list_patients(),
            error=f"Patient not created: {message}",
            external_id=external_id,
        )
    return redirect(f"/patients/{patient.id}/case")


@router.get("/patients/{patient_id}", response_class=HTMLResponse, **allow(ALL_ROLES))
def board(
    request: Request,
    store: StoreDep,
    user: UserDep,
    patient_id: PatientId,
    saved: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> Response:
    patient = store.get_patient(patient_id)
    store.record_read(patient_id, actor=user.username, what="board page")
    versions = store.case_versions(patient_id)
    case = versions[-1].to_case() if versions else None
    assessments = store.assessments(patient_id)
    latest = assessments[-1] if assessments else None
    plans = store.list_plans(patient_id)
    context: dict[str, Any] = {
        "title": f"Tumour board · {patient.external_id}",
        "patient": patient,
        "versions": versions,
        "case": case,
        "saved": saved,
        "latest": latest,
        "stale": latest is not None and latest.case_version != patient.latest_version,
        "plans": plans,
        "timeline": timeline(store, patient_id, case, plans),
        "responses": store.response_timepoints(patient_id),
        "toxicities": store.toxicity_events(patient_id),
        "images": store.images(patient_id),
        "registrations": pending_proposals(config_of(request).files_dir, patient_id),
        "dose": dose_summary(store, patient_id, plans),
        "modalities": sorted(TREATMENT_MODALITIES),
        "today": dt.date.today().isoformat(),
    }
    if latest is not None:
        assessment = latest.to_assessment()
        assessed_case = next(
            (v.to_case() for v in versions if v.version == latest.case_version), None
        )
        bctx = board_context(assessment, case=assessed_case)
        context["scores"] = headline(assessment)[1:]
        context["summary"] = board_summary(assessment, bctx)
        context["verdicts_html"] = render_partials(("verdicts",), bctx)
        context["workup_html"] = render_partials(("workup", "references"), bctx)
    context["chart"] = response_chart(context["responses"])
    headers = viewer_headers(context["dose"].voxel)
    return render(request, "board_page.html", headers=headers, **context)


@router.post("/patients/{patient_id}/delete", **allow(WRITERS))
def delete_patient(
    store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
) -> Response:
    store.soft_delete_patient(patient_id, form.get("reason", ""), actor=user.username)
    return redirect("/patients")
