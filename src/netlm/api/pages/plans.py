"""Plans: ``/patients/{id}/plans`` (new, save) and ``/plans/{id}`` (review, solve, approve).

The plan form is generated from the plan model (:mod:`netlm.api.forms.plan`);
solving runs :func:`netlm.workflows.plans.solve_stored_plan` and a refused
(unsafe) plan is shown with its violations (409); only a physicist approves,
and only the result that was reviewed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources

import yaml
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import StoreDep, config_of
from netlm.api.forms.inputs import place_problems
from netlm.api.forms.plan import (
    PLAN_EXTRA_FIELD,
    SPARE_ROWS,
    TERRITORIES,
    TUMOURS,
    override_rows,
    plan_form_names,
    plan_form_values,
    plan_from_form,
    plan_sections,
)
from netlm.api.pages.board import viewer_headers, voxel_doses
from netlm.api.pages.common import FormDep, PatientId, RecordId, redirect
from netlm.api.roles import (
    ALL_ROLES,
    OVERRIDE_REFUSED,
    PHYSICISTS,
    WRITERS,
    GuardedRoute,
    Principal,
    UserDep,
    allow,
    principal_of,
)
from netlm.api.templating import render, render_partials
from netlm.documents import parse_document
from netlm.errors import InputError, PermissionDeniedError, PlanError, StoreError, UnsafePlanError
from netlm.report.html import plan_context
from netlm.store.repository import PatientOut, Store
from netlm.workflows.plans import plan_report_inputs, solve_stored_plan

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def _plan_form(
    request: Request,
    patient: PatientOut,
    values: Mapping[str, str],
    extra: str,
    problems: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
) -> HTMLResponse:
    """The plan form (:mod:`netlm.api.forms`), each problem next to its input."""
    territory_rows = TERRITORIES.rows(values) + SPARE_ROWS
    tumour_rows = TUMOURS.rows(values) + SPARE_ROWS
    names = plan_form_names(territory_rows=territory_rows, tumour_rows=tumour_rows)
    by_field, rest = place_problems(problems, names)
    user = principal_of(request)
    return render(
        request,
        "plan_form.html",
        status_code,
        title=f"New plan · {patient.external_id}",
        patient=patient,
        sections=plan_sections(),
        override_rows=override_rows() if user is not None and user.can_approve else (),
        values=values,
        extra=extra,
        extra_field=PLAN_EXTRA_FIELD,
        errors=by_field,
        tables=((TERRITORIES, territory_rows), (TUMOURS, tumour_rows)),
        other_problems=rest,
        problem_count=len(problems),
    )


def _plan_page(
    request: Request,
    store: Store,
    plan_id: int,
    *,
    violations: Sequence[str] = (),
    status_code: int = 200,
) -> HTMLResponse:
    plan, result, curves = plan_report_inputs(store, plan_id)
    patient = store.get_patient(plan.patient_id)
    sections = None
    if result is not None:
        context = plan_context(
            result.to_result(), plan=plan.to_plan(), dvh_curves=curves, approved_by=plan.approved_by
        )
        sections = render_partials(
            (
                "plan_summary",
                "override",
                "plan_inputs",
                "plan_activity",
                "plan_vials",
                "plan_doses",
                "checks",
                "plan_notes",
                "dvh",
                "references",
            ),
            context,
        )
    user: Principal | None = principal_of(request)
    voxel = voxel_doses(store, patient.id)
    return render(
        request,
        "plan_review.html",
        status_code,
        viewer_headers(voxel),
        title=f"Plan #{plan.id} · {patient.external_id}",
        plan=plan,
        patient=patient,
        result=result,
        sections=sections,
        voxel=voxel,
        violations=list(violations),
        document=yaml.safe_dump(plan.document, sort_keys=False, allow_unicode=True),
        can_approve=user is not None and user.can_approve,
        approved_now=request.query_params.get("approved") == "1",
    )


def example_plan(external_id: str) -> str:
    """A plan to start from: the bundled partition-model example, for this patient."""
    text = (
        resources.files("netlm")
        .joinpath("examples", "plan-partition-glass.yaml")
        .read_text(encoding="utf-8")
    )
    lines = []
    for line in text.splitlines():
        if line.startswith("case:"):
            line = f"case: {json.dumps(external_id)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@router.get("/patients/{patient_id}/plans/new", response_class=HTMLResponse, **allow(WRITERS))
def new_plan(request: Request, store: StoreDep, patient_id: PatientId) -> Response:
    patient = store.get_patient(patient_id)
    values, extra = plan_form_values(parse_document(example_plan(patient.external_id)))
    return _plan_form(request, patient, values, extra)


@router.post("/patients/{patient_id}/plans", response_class=HTMLResponse, **allow(WRITERS))
def save_plan(
    request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
) -> Response:
    patient = store.get_patient(patient_id)
    plan, read = plan_from_form(form)
    problems = read.problems
    if plan is not None:
        if plan.override is not None and not user.can_approve:
            raise HTTPException(403, OVERRIDE_REFUSED)
        try:
            saved = store.save_plan(patient_id, plan, actor=user.username)
        except InputError as exc:
            problems = [read.place(p) for p in exc.problems]
        else:
            return redirect(f"/plans/{saved.id}")
    return _plan_form(
        request, patient, form, form.get(PLAN_EXTRA_FIELD, ""), problems, status_code=422
    )


@router.get("/plans/{plan_id}", response_class=HTMLResponse, **allow(ALL_ROLES))
def plan_page(request: Request, store: StoreDep, plan_id: RecordId) -> Response:
    return _plan_page(request, store, plan_id)


@router.post("/plans/{plan_id}/solve", response_class=HTMLResponse, **allow(WRITERS))
def solve(
    request: Request, store: StoreDep, user: UserDep, plan_id: RecordId, form: FormDep
) -> Response:
    try:
        solve_stored_plan(store, plan_id, actor=user.username, may_override=user.can_approve)
    except UnsafePlanError as exc:
        return _plan_page(request, store, plan_id, violations=exc.violations, status_code=409)
    except (PlanError, StoreError) as exc:
        return _plan_page(request, store, plan_id, violations=[str(exc)], status_code=409)
    return redirect(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/approve", response_class=HTMLResponse, **allow(PHYSICISTS))
def approve(
    request: Request, store: StoreDep, user: UserDep, plan_id: RecordId, form: FormDep
) -> Response:
    reviewed = form.get("result_id", "")
    try:
        if not reviewed.isdigit():
            raise StoreError("the form does not say which result was reviewed; reload the plan")
        store.approve_plan(
            plan_id,
            actor=user.username,
            result_id=int(reviewed),
            allow_own_override=config_of(request).allow_own_override_approval,
        )
    except PermissionDeniedError:
        raise
    except StoreError as exc:
        return _plan_page(request, store, plan_id, violations=[str(exc)], status_code=409)
    return redirect(f"/plans/{plan_id}?approved=1")
