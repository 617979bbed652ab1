"""Radioembolization plans, their dose results and their approval.

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from netlm.case import case_from_mapping
from netlm.errors import InputError, NotFoundError, PermissionDeniedError, StoreError
from netlm.sirt.plan import Plan, plan_from_mapping
from netlm.sirt.planner import solve, with_case_history
from netlm.store import tables as m
from netlm.store.base import StoreBase, _patient_document
from netlm.store.checks import _check_actor, _check_id
from netlm.store.digests import _plan_digest, document_digest
from netlm.store.models import (
    PlanOut,
    PlanResultOut,
    Role,
    _plan_out,
    _plan_result_out,
)


class PlansMixin(StoreBase):
    """Radioembolization plans, their dose results and the physicist's approval."""

    def save_plan(self, patient_id: int, plan: Plan, *, actor: str) -> PlanOut:
        """Store a radioembolization plan for the patient (plans are never edited).

        Raises
        ------
        InputError
            If ``plan.case`` names another patient.
        """
        actor = _check_actor(actor)
        if not isinstance(plan, Plan):
            raise InputError([("plan", f"must be a netlm Plan, not {type(plan).__name__}")])
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            document = _patient_document(
                patient, plan, kind="plan", field="case", named=plan.case, read=plan_from_mapping
            )
            row = m.SirtPlan(
                patient_id=patient.id,
                document=document,
                plan_digest=_plan_digest(plan),
                device=plan.device,
                method=plan.method,
            )
            self._insert(
                session,
                row,
                actor=actor,
                action="create",
                record_type="plan",
                patient_id=patient.id,
                details={
                    "device": plan.device,
                    "method": plan.method,
                    "plan_digest": row.plan_digest,
                    "override_reason": plan.override.reason if plan.override else None,
                },
            )
            return _plan_out(session, row)

    def _plan_row(self, session: Session, plan_id: int) -> m.SirtPlan:
        plan_id = _check_id(plan_id, "plan_id")
        row = session.get(m.SirtPlan, plan_id)
        if row is None:
            raise NotFoundError(f"plan {plan_id} not found")
        return row

    def get_plan(self, plan_id: int) -> PlanOut:
        """One stored plan with its status.

        Raises
        ------
        NotFoundError
            If there is no plan ``plan_id``.
        """
        with self._read() as session:
            return _plan_out(session, self._plan_row(session, plan_id))

    def list_plans(self, patient_id: int) -> list[PlanOut]:
        """The patient's plans, oldest first."""
        with self._read() as session:
            patient = self._patient_row(session, patient_id)
            rows = session.scalars(
                sa.select(m.SirtPlan)
                .where(m.SirtPlan.patient_id == patient.id)
                .order_by(m.SirtPlan.id)
            ).all()
            return [_plan_out(session, r) for r in rows]

    def solve_plan(self, plan_id: int, *, actor: str) -> PlanResultOut:
        """Solve a stored plan and store its dose result with the constants used.

        The patient's latest case version (if any) adds its history (prior
        radioembolization, PRRT, prior lung dose) to the plan, and is recorded.
        A safety override carried by the plan is written to the audit log with
        its reason (action ``safety_override``).

        Raises
        ------
        UnsafePlanError
            If the plan breaks a hard limit without an override; nothing is stored.
        PlanError
            If the plan cannot be solved; nothing is stored.
        """
        actor = _check_actor(actor)
        with self._read() as session:
            plan_row = self._plan_row(session, plan_id)
            latest = self._latest_version(session, plan_row.patient_id)
            case_row = (
                None
                if latest is None
                else self._case_version_row(session, plan_row.patient_id, latest)
            )
        plan = plan_from_mapping(plan_row.document)
        if case_row is not None:
            plan = with_case_history(plan, case_from_mapping(case_row.document))
        solved = solve(plan)
        result = solved.model_dump(mode="json")
        override = result["override"]
        with self._write() as session:
            patient = self._patient_row(session, plan_row.patient_id, for_write=True)
            row = m.PlanResultRecord(
                plan_id=plan_row.id,
                case_version_id=case_row.id if case_row is not None else None,
                result=result,
                result_digest=document_digest(result),
                constants=result["constants"],
                inputs_digest=solved.inputs_digest,
                netlm_version=solved.netlm_version,
                override=override,
            )
            self._insert(
                session,
                row,
                actor=actor,
                action="solve",
                record_type="plan_result",
                patient_id=patient.id,
                details={
                    "plan_id": plan_row.id,
                    "case_version": None if case_row is None else case_row.version,
                    "injected_activity_gbq": solved.injected_activity_gbq,
                    "result_digest": row.result_digest,
                },
            )
            if override is not None:
                self._audit(
                    session,
                    at=row.created_at,
                    actor=actor,
                    action="safety_override",
                    record_type="plan_result",
                    record_id=row.id,
                    patient_id=patient.id,
                    details={
                        "plan_id": plan_row.id,
                        "reason": override["reason"],
                        "approved_by": override["approved_by"],
                        "limits": override.get("limits") or [],
                        "overridden_checks": [
                            f"{c['id']}" + (f" ({c['territory']})" if c["territory"] else "")
                            for c in result["checks"]
                            if c["overridden"]
                        ],
                    },
                )
            return _plan_result_out(row, patient.id)

    def plan_results(self, plan_id: int) -> list[PlanResultOut]:
        """Every stored dose result of a plan, oldest first."""
        with self._read() as session:
            plan_row = self._plan_row(session, plan_id)
            rows = session.scalars(
                sa.select(m.PlanResultRecord)
                .where(m.PlanResultRecord.plan_id == plan_row.id)
                .order_by(m.PlanResultRecord.id)
            )
            return [_plan_result_out(r, plan_row.patient_id) for r in rows]

    def get_plan_result(self, result_id: int) -> PlanResultOut:
        """One stored dose result.

        Raises
        ------
        NotFoundError
            If there is no result ``result_id``.
        """
        result_id = _check_id(result_id, "result_id")
        with self._read() as session:
            row = session.get(m.PlanResultRecord, result_id)
            if row is None:
                raise NotFoundError(f"plan result {result_id} not found")
            return _plan_result_out(row, self._plan_row(session, row.plan_id).patient_id)

    def approve_plan(
        self,
        plan_id: int,
        *,
        actor: str,
        result_id: int | None = None,
        allow_own_override: bool = False,
    ) -> PlanOut:
        """A physicist signs off the plan's latest dose result (once per plan).

        Parameters
        ----------
        result_id
            The result the physicist reviewed: it must be the plan's latest, so
            that a result solved after the review is never signed unseen.
        allow_own_override
            Let a physicist approve a result whose safety override they wrote
            into the plan themselves (a centre's setting; off by default: a
            second physicist signs an override).

        Raises
        ------
        PermissionDeniedError
            If ``actor`` is not a registered user with the physicist role, or
            wrote the plan's safety override (unless ``allow_own_override``).
        StoreError
            If the plan has no dose result yet, is already approved, or
            ``result_id`` is not its latest result.
        """
        actor = _check_actor(actor)
        if result_id is not None:
            result_id = _check_id(result_id, "result_id")
        with self._write() as session:
            role = session.scalar(sa.select(m.User.role).where(m.User.username == actor))
            if role != Role.PHYSICIST.value:
                who = f"has the role {role}" if role else "is not a registered user"
                raise PermissionDeniedError(
                    f"approving a radioembolization plan needs the physicist role; {actor!r} {who}"
                )
            plan_row = self._plan_row(session, plan_id)
            patient = self._patient_row(session, plan_row.patient_id, for_write=True)
            approved = session.scalars(
                sa.select(m.PlanApproval).where(m.PlanApproval.plan_id == plan_row.id)
            ).one_or_none()
            if approved is not None:
                raise StoreError(
                    f"plan {plan_row.id} was already approved by {approved.created_by} "
                    f"at {approved.created_at.isoformat()}"
                )
            latest = session.scalars(
                sa.select(m.PlanResultRecord)
                .where(m.PlanResultRecord.plan_id == plan_row.id)
                .order_by(m.PlanResultRecord.id.desc())
                .limit(1)
            ).one_or_none()
            if latest is None:
                raise StoreError(f"plan {plan_row.id} has no dose result: solve it before approval")
            if result_id is not None and result_id != latest.id:
                raise StoreError(
                    f"result {result_id} is not the latest result of plan {plan_row.id} "
                    f"(that is result {latest.id}): review the latest result and approve it"
                )
            if latest.override and plan_row.created_by == actor and not allow_own_override:
                raise PermissionDeniedError(
                    f"{actor!r} wrote the safety override of plan {plan_row.id}; another "
                    "physicist approves it (unless the centre allows self-approval)"
                )
            approval = m.PlanApproval(
                plan_id=plan_row.id,
                plan_result_id=latest.id,
            )
            self._insert(
                session,
                approval,
                actor=actor,
                action="approve",
                record_type="plan",
                record_id=plan_row.id,
                patient_id=patient.id,
                details={
                    "plan_result_id": latest.id,
                    "result_digest": latest.result_digest,
                    "override_reason": latest.override["reason"] if latest.override else None,
                },
            )
            return _plan_out(session, plan_row)
