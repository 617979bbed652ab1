"""A registry patient, or a case file and its plans, as a FHIR R4 Bundle (:mod:`netlm.fhir`).

``GET /api/v1/patients/{id}/fhir`` and ``netlm fhir export PATIENT_ID`` call
:func:`export_patient_bundle`; ``netlm fhir export --case`` calls
:func:`case_and_plans_bundle`; :func:`registry_bundle` turns an export document
(:meth:`netlm.store.Store.export_patient`) into the Bundle, so the FHIR adapter
itself needs no registry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.bundle import Bundle

from netlm.errors import NotFoundError
from netlm.fhir.export import PlannedSession, RecordedLab, RecordedTreatment, case_bundle

if TYPE_CHECKING:  # the registry (SQLAlchemy) is imported by the registry's use cases only
    from netlm.case.model import Case
    from netlm.eligibility.profile import RuleProfile
    from netlm.store.repository import Store

__all__ = ["case_and_plans_bundle", "export_patient_bundle", "registry_bundle"]


def case_and_plans_bundle(
    case: Case, plans: Sequence[Path] = (), *, profile: RuleProfile | None = None
) -> Bundle:
    """A case, its board assessment and its plan files' solved sessions as a FHIR Bundle.

    ``netlm fhir export --case``: each plan file is read with the case's treatment
    history (:func:`netlm.sirt.planner.with_case_history`) and solved; the case is
    assessed with ``profile`` (default: netlm's).
    """
    from netlm.eligibility import Assessor, default_profile
    from netlm.sirt.plan import load_plan
    from netlm.sirt.planner import solve, with_case_history

    sessions = []
    for path in plans:
        plan = with_case_history(load_plan(path), case)
        sessions.append(PlannedSession(plan=plan, result=solve(plan)))
    assessment = Assessor(profile or default_profile()).assess(case)
    return case_bundle(case, assessment=assessment, sessions=sessions)


def export_patient_bundle(store: Store, patient_id: int, *, actor: str) -> Bundle:
    """Export a registry patient (audited as an export by ``actor``) as a FHIR Bundle.

    Raises
    ------
    NotFoundError
        There is no such patient, or the patient has no case version.
    """
    return registry_bundle(store.export_patient(patient_id, actor=actor))


def registry_bundle(document: Mapping[str, Any], *, timestamp: dt.datetime | None = None) -> Bundle:
    """The Bundle of a registry export (:meth:`netlm.store.Store.export_patient`).

    Uses the latest case version, the latest assessment made on it (or none),
    for each plan its approved result (else its latest result), and the
    recorded treatments and laboratory values.

    Raises
    ------
    netlm.errors.NotFoundError
        If the patient has no case version (nothing to export).
    """
    from netlm.store.repository import (
        AssessmentOut,
        CaseVersionOut,
        LabOut,
        PlanOut,
        PlanResultOut,
        TreatmentOut,
    )

    versions = [CaseVersionOut.model_validate(v) for v in document["case_versions"]]
    patient = document["patient"]
    if not versions:
        raise NotFoundError(f"patient {patient['id']} has no case to export")
    latest = versions[-1]
    case = latest.to_case()
    assessments = [
        AssessmentOut.model_validate({k: v for k, v in a.items() if k != "profile"})
        for a in document["assessments"]
    ]
    current = [a for a in assessments if a.case_version_id == latest.id]
    assessment = current[-1] if current else None
    sessions = []
    for raw in document["plans"]:
        plan = PlanOut.model_validate({k: v for k, v in raw.items() if k != "results"})
        results = [PlanResultOut.model_validate(r) for r in raw["results"]]
        chosen_id = plan.approved_result_id or plan.latest_result_id
        chosen = [r for r in results if r.id == chosen_id]
        if not chosen:
            continue
        approved = plan.approved_result_id == chosen[0].id
        sessions.append(
            PlannedSession(
                plan=plan.to_plan(),
                result=chosen[0].to_result(),
                result_id=chosen[0].id,
                plan_id=plan.id,
                approved_by=plan.approved_by if approved else None,
                approved_at=plan.approved_at if approved else None,
            )
        )
    treatments = [
        RecordedTreatment(t.modality, t.date, t.details)
        for t in (TreatmentOut.model_validate(x) for x in document["treatments"])
    ]
    labs = [
        RecordedLab(x.analyte, x.date, x.value, x.unit, x.uln, x.lln)
        for x in (LabOut.model_validate(r) for r in document["labs"])
    ]
    return case_bundle(
        case,
        assessment=assessment.to_assessment() if assessment else None,
        labs=labs,
        assessed_at=assessment.created_at if assessment else None,
        sessions=sessions,
        treatments=treatments,
        registry_id=int(patient["id"]),
        timestamp=timestamp,
    )
