"""``/plans``: radioembolization plans, solving, a physicist's approval and the dosimetry PDF."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from netlm.api.config import API_PREFIX, StoreDep, config_of
from netlm.api.files import PDF_RESPONSES, temporary_file_response
from netlm.api.roles import (
    ALL_ROLES,
    OVERRIDE_REFUSED,
    PHYSICISTS,
    WRITERS,
    GuardedRoute,
    UserDep,
    allow,
)
from netlm.api.schemas import ApprovalIn, Document, PatientId, RecordId
from netlm.sirt.plan import plan_from_mapping
from netlm.store.repository import PlanOut, PlanResultOut
from netlm.workflows.plans import solve_stored_plan, write_plan_report

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.post("/patients/{patient_id}/plans", tags=["plans"], status_code=201, **allow(WRITERS))
def save_plan(store: StoreDep, user: UserDep, patient_id: PatientId, body: Document) -> PlanOut:
    """Store a ``netlm/sirt-plan/v1`` plan; one with an ``override`` needs a physicist."""
    plan = plan_from_mapping(body)
    if plan.override is not None and not user.can_approve:
        raise HTTPException(403, OVERRIDE_REFUSED)
    return store.save_plan(patient_id, plan, actor=user.username)


@router.get("/patients/{patient_id}/plans", tags=["plans"], **allow(ALL_ROLES))
def list_plans(store: StoreDep, patient_id: PatientId) -> list[PlanOut]:
    """The patient's plans, oldest first."""
    return store.list_plans(patient_id)


@router.get("/plans/{plan_id}", tags=["plans"], **allow(ALL_ROLES))
def get_plan(store: StoreDep, plan_id: RecordId) -> PlanOut:
    """One plan with its status (draft, solved, approved)."""
    return store.get_plan(plan_id)


@router.post(
    "/plans/{plan_id}/solve",
    tags=["plans"],
    status_code=201,
    responses={409: {"description": "The plan breaks a hard safety limit (violations)."}},
    **allow(WRITERS),
)
def solve_plan(store: StoreDep, user: UserDep, plan_id: RecordId) -> PlanResultOut:
    """Solve a plan (activity, doses, checks, vials) and store the result.

    Solving a plan that carries a safety override applies (and audits) the
    override, so it needs a physicist.
    """
    return solve_stored_plan(store, plan_id, actor=user.username, may_override=user.can_approve)


@router.get("/plans/{plan_id}/results", tags=["plans"], **allow(ALL_ROLES))
def plan_results(store: StoreDep, plan_id: RecordId) -> list[PlanResultOut]:
    """Every stored result of a plan, oldest first."""
    return store.plan_results(plan_id)


@router.post(
    "/plans/{plan_id}/approve",
    tags=["plans"],
    responses={409: {"description": "Not the latest result, no result, or approved."}},
    **allow(PHYSICISTS),
)
def approve_plan(
    request: Request, store: StoreDep, user: UserDep, plan_id: RecordId, body: ApprovalIn
) -> PlanOut:
    """A physicist signs off the result they reviewed (once per plan).

    ``result_id`` must be the plan's latest result; if a newer one exists
    the answer is 409 and nothing is approved.  A physicist does not approve
    a plan whose safety override they wrote (403), unless the server allows it.
    """
    return store.approve_plan(
        plan_id,
        actor=user.username,
        result_id=body.result_id,
        allow_own_override=config_of(request).allow_own_override_approval,
    )


@router.get(
    "/plans/{plan_id}/report.pdf",
    tags=["reports"],
    response_class=FileResponse,
    responses=PDF_RESPONSES,
    **allow(ALL_ROLES),
)
def plan_report_pdf(store: StoreDep, plan_id: RecordId) -> FileResponse:
    """The dosimetry report of the approved (else the latest) result as a PDF."""
    return temporary_file_response(
        lambda path: write_plan_report(store, plan_id, path),
        f"plan-{plan_id}.pdf",
        "application/pdf",
    )
