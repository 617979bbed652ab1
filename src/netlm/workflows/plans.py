"""Stored plans: solving one in the registry, and the inputs and PDFs of plan and board reports.

The API and the web pages call these functions; they raise netlm errors (never
HTTP errors), which each front door turns into its own answer: solving a plan
that carries a safety override without the right to apply it is a
:class:`~netlm.errors.PermissionDeniedError`, a report of a plan that has no
result yet a :class:`~netlm.errors.StoreError` (the API answers 403 and 409).
"""

from __future__ import annotations

from pathlib import Path

from netlm.errors import PermissionDeniedError, StoreError
from netlm.store.repository import PlanOut, PlanResultOut, Store
from netlm.voxel.dvh import DvhCurve, compartment_dvh

__all__ = [
    "OVERRIDE_SOLVE_REFUSED",
    "plan_report_inputs",
    "solve_stored_plan",
    "write_assessment_report",
    "write_plan_report",
]

#: Why a plan with a safety override is not solved for someone who may not apply one.
OVERRIDE_SOLVE_REFUSED = "only a physicist can apply a safety override; ask one to solve"


def solve_stored_plan(
    store: Store, plan_id: int, *, actor: str, may_override: bool
) -> PlanResultOut:
    """Solve a stored plan as ``actor`` and store the result.

    Solving a plan that carries a safety override applies (and audits) the
    override, so only a user who ``may_override`` (a physicist: the front door
    decides by the user's role) solves one.

    Raises
    ------
    PermissionDeniedError
        The plan carries an override and ``may_override`` is false.
    UnsafePlanError
        The plan breaks a hard safety limit without an override.
    """
    if store.get_plan(plan_id).document.get("override") and not may_override:
        raise PermissionDeniedError(OVERRIDE_SOLVE_REFUSED)
    return store.solve_plan(plan_id, actor=actor)


def plan_report_inputs(
    store: Store, plan_id: int
) -> tuple[PlanOut, PlanResultOut | None, list[DvhCurve]]:
    """A plan, the result its report shows (the approved one, else the latest) and its DVHs.

    The result is ``None`` (and there are no curves) while the plan is unsolved.
    """
    plan = store.get_plan(plan_id)
    result_id = plan.approved_result_id or plan.latest_result_id
    if result_id is None:
        return plan, None, []
    result = store.get_plan_result(result_id)
    return plan, result, compartment_dvh(result.to_result())


def write_plan_report(store: Store, plan_id: int, path: Path) -> Path:
    """Write the dosimetry report of the plan's approved (else latest) result as a PDF.

    Raises
    ------
    NotFoundError
        There is no such plan.
    StoreError
        The plan has no result yet (solve it first); nothing is written.
    """
    from netlm.report.pdf import plan_pdf

    plan, result, curves = plan_report_inputs(store, plan_id)
    if result is None:
        raise StoreError(f"plan {plan_id} has no result yet: solve it first")
    plan_pdf(
        result.to_result(),
        path,
        plan=plan.to_plan(),
        dvh_curves=curves,
        approved_by=plan.approved_by,
        approved_at=plan.approved_at,
    )
    return path


def write_assessment_report(store: Store, assessment_id: int, path: Path) -> Path:
    """Write the tumour-board summary of a stored assessment (with its case) as a PDF.

    Raises
    ------
    NotFoundError
        There is no such assessment.
    """
    from netlm.report.pdf import board_pdf

    record = store.get_assessment(assessment_id)
    case = store.case_version(record.patient_id, record.case_version).to_case()
    board_pdf(record.to_assessment(), path, case=case)
    return path
