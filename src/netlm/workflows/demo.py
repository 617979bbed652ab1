"""Demo seeding: the bundled example patients in a registry.

``netlm serve --demo`` and ``netlm demo --seed-db`` call :func:`seed_demo`; the
examples come from :mod:`netlm.examples`.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import yaml

from netlm.case import parse_case
from netlm.errors import NotFoundError, UnsafePlanError
from netlm.examples import bundled_examples
from netlm.sirt.plan import parse_plan
from netlm.workflows.response import record_response

if TYPE_CHECKING:
    from netlm.store.repository import PatientOut, Store

__all__ = ["DEMO_ACTOR", "seed_demo"]

#: Who the demo data is recorded as, in the audit log.
DEMO_ACTOR = "netlm-demo"


def _document(text: str) -> Any:
    """A YAML example as JSON-compatible data (dates as ISO text), as an API client sends it."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def seed_demo(store: Store, *, actor: str = DEMO_ACTOR) -> list[PatientOut]:
    """Put the bundled example patients into ``store``: cases, assessments, plans, follow-up.

    For each example case (``netlm/examples/case-*.yaml``) the patient and its
    case are stored and assessed; each example plan is stored for the patient
    it names and solved (a plan that breaks a hard limit stays a draft); each
    example response file is assessed and its time points recorded.  Patients
    already in the registry are left as they are, so seeding twice adds nothing.

    Returns the patients that were added.
    """
    added: list[PatientOut] = []
    for _, text in bundled_examples("case-"):
        case = parse_case(text)
        try:
            store.find_patient(case.patient.id)
        except NotFoundError:
            version = store.import_case(case, actor=actor, source="netlm demo")
            store.run_assessment(version.patient_id, actor=actor)
            added.append(store.get_patient(version.patient_id))
    new_ids = {p.id for p in added}
    for _, text in bundled_examples("plan-"):
        plan = parse_plan(text)
        if plan.case is None:
            continue
        try:
            patient = store.find_patient(plan.case)
        except NotFoundError:
            continue
        if patient.id not in new_ids:
            continue
        saved = store.save_plan(patient.id, plan, actor=actor)
        with contextlib.suppress(UnsafePlanError):  # stays a draft, refused
            store.solve_plan(saved.id, actor=actor)
    for _, text in bundled_examples("response-"):
        document = _document(text)
        case_id = document.get("case") if isinstance(document, dict) else None
        if not isinstance(case_id, str):
            continue
        try:
            patient = store.find_patient(case_id)
        except NotFoundError:
            continue
        if patient.id in new_ids:
            record_response(store, patient.id, document, actor=actor)
    return added
