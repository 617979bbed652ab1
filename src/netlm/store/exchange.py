"""A patient's whole record as one document (export).

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from netlm import __version__
from netlm.store import tables as m
from netlm.store.base import StoreBase, _patient_rows, _Row
from netlm.store.checks import _check_actor
from netlm.store.models import (
    EXPORT_SCHEMA,
    _assessment_out,
    _audit_out,
    _case_version_out,
    _image_out,
    _lab_out,
    _patient_out,
    _plan_out,
    _plan_result_out,
    _response_out,
    _toxicity_out,
    _treatment_out,
)


class ExchangeMixin(StoreBase):
    """A patient's whole record as one JSON-able document."""

    def export_patient(self, patient_id: int, *, actor: str | None = None) -> dict[str, Any]:
        """The patient's whole record as one JSON-able document (:data:`EXPORT_SCHEMA`).

        Deleted patients export too (``patient.deleted`` and the reason say so).
        Every case version, assessment (with provenance), plan with its dose
        results and approval, image reference, treatment, lab value, response
        time point, toxicity event and audit entry is included.  With ``actor``
        the export itself is written to the audit log first.
        """
        if actor is not None:
            actor = _check_actor(actor)
            with self._write() as session:
                patient = self._patient_row(session, patient_id)
                self._audit(
                    session,
                    at=self._now(),
                    actor=actor,
                    action="export",
                    record_type="patient",
                    record_id=patient.id,
                    patient_id=patient.id,
                )
        with self._read(snapshot=True) as session:
            patient = self._patient_row(session, patient_id)
            pid = patient.id
            versions = session.scalars(
                sa.select(m.CaseVersion)
                .where(m.CaseVersion.patient_id == pid)
                .order_by(m.CaseVersion.version)
            ).all()
            number = {v.id: v.version for v in versions}
            assessments = session.scalars(
                sa.select(m.AssessmentRecord)
                .where(m.AssessmentRecord.patient_id == pid)
                .order_by(m.AssessmentRecord.id)
            ).all()
            plans = session.scalars(
                sa.select(m.SirtPlan).where(m.SirtPlan.patient_id == pid).order_by(m.SirtPlan.id)
            ).all()
            plan_docs = []
            for plan in plans:
                results = session.scalars(
                    sa.select(m.PlanResultRecord)
                    .where(m.PlanResultRecord.plan_id == plan.id)
                    .order_by(m.PlanResultRecord.id)
                )
                plan_docs.append(
                    _plan_out(session, plan).model_dump(mode="json")
                    | {
                        "results": [
                            _plan_result_out(r, pid).model_dump(mode="json") for r in results
                        ]
                    }
                )

            def rows(model: type[_Row]) -> list[_Row]:
                return _patient_rows(session, model, pid)

            document = {
                "schema": EXPORT_SCHEMA,
                "exported_at": self._now().isoformat(),
                "netlm_version": __version__,
                "patient": _patient_out(
                    patient, versions[-1].version if versions else None
                ).model_dump(mode="json"),
                "case_versions": [_case_version_out(v).model_dump(mode="json") for v in versions],
                "assessments": [
                    _assessment_out(a, number[a.case_version_id]).model_dump(mode="json")
                    | {"profile": a.profile_document}
                    for a in assessments
                ],
                "plans": plan_docs,
                "images": [_image_out(r).model_dump(mode="json") for r in rows(m.Image)],
                "treatments": [
                    _treatment_out(r).model_dump(mode="json") for r in rows(m.Treatment)
                ],
                "labs": [_lab_out(r).model_dump(mode="json") for r in rows(m.LabResult)],
                "response_timepoints": [
                    _response_out(r).model_dump(mode="json") for r in rows(m.ResponseTimepoint)
                ],
                "toxicity_events": [
                    _toxicity_out(r).model_dump(mode="json") for r in rows(m.ToxicityEvent)
                ],
                "audit": [_audit_out(r).model_dump(mode="json") for r in rows(m.AuditEntry)],
            }
        return document
