"""The registry on SQLite and on a real PostgreSQL server (every test runs on both)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher

from netlm import __version__
from netlm.case import case_from_mapping
from netlm.eligibility import Assessment, default_profile, load_profile
from netlm.errors import (
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    UnsafePlanError,
)
from netlm.sirt.plan import Plan, plan_from_mapping
from netlm.store import EXPORT_SCHEMA, PlanStatus, Role, Store, db, repository
from netlm.store.tables import APPEND_ONLY_TABLES, Base

DAY = dt.date(2026, 3, 2)
OVERRIDE = {
    "reason": "palliation of refractory carcinoid syndrome, board 2026-11-20",
    "approved_by": "Dr A. Physicist",
}


def example(name: str) -> dict[str, Any]:
    text = resources.files("netlm").joinpath("examples", name).read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def case_doc(**patient: Any) -> dict[str, Any]:
    doc = example("case-bilobar-tare.yaml")  # patient EX-001
    doc["patient"].update(patient)
    return doc


def glass_plan(**changes: Any) -> Plan:
    doc = example("plan-partition-glass.yaml")  # case EX-001
    doc.update(changes)
    return plan_from_mapping(doc)


def unsafe_resin_plan(**changes: Any) -> Plan:
    """Resin with a lung shunt fraction of 21 %: above the 20 % hard limit."""
    return glass_plan(
        **{
            "device": "resin",
            "lung_shunt_fraction": 0.21,
            "prescription": {"tumour_dose_gy": 60},
            **changes,
        }
    )


def count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


@pytest.fixture
def patient_id(store: Store) -> int:
    pid = store.create_patient("EX-001", actor="dr.a").id
    store.save_case(pid, case_from_mapping(case_doc()), actor="dr.a")
    return pid


# ---------------------------------------------------------------------------- cases
def test_every_edit_is_a_new_version_and_old_versions_stay_intact(store: Store) -> None:
    pid = store.create_patient("EX-001", actor="dr.a").id
    first = store.save_case(pid, case_from_mapping(case_doc(ecog=1)), actor="dr.a")
    second = store.save_case(pid, case_from_mapping(case_doc(ecog=2)), actor="dr.b")
    assert (first.version, second.version) == (1, 2)
    versions = store.case_versions(pid)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].document["patient"]["ecog"] == 1
    assert versions[0].to_case().patient.ecog == 1
    assert versions[0].case_digest != versions[1].case_digest
    assert store.current_case(pid).patient.ecog == 2
    assert store.case_version(pid, 1) == first
    assert store.get_patient(pid).latest_version == 2
    audit = store.audit_log(record_type="case_version")
    assert [(a.actor, a.record_id, a.details["version"]) for a in audit] == [
        ("dr.a", first.id, 1),
        ("dr.b", second.id, 2),
    ]


def test_a_stale_edit_is_refused_and_stores_nothing(store: Store) -> None:
    pid = store.create_patient("EX-001", actor="dr.a").id
    first = store.save_case(pid, case_from_mapping(case_doc(ecog=1)), actor="dr.a", base_version=0)
    assert first.version == 1
    mine = store.save_case(pid, case_from_mapping(case_doc(ecog=2)), actor="dr.a", base_version=1)
    with pytest.raises(StoreError, match="now at version 2; this edit started from version 1"):
        store.save_case(pid, case_from_mapping(case_doc(ecog=0)), actor="dr.b", base_version=1)
    assert [v.version for v in store.case_versions(pid)] == [1, 2]
    assert store.current_case(pid).patient.ecog == 2 and mine.version == 2
    with pytest.raises(InputError, match="base_version: must be a version number"):
        store.save_case(pid, case_from_mapping(case_doc()), actor="dr.b", base_version=-1)
    assert store.save_case(pid, case_from_mapping(case_doc()), actor="dr.b").version == 3


def test_a_stored_case_reads_back_equal(store: Store) -> None:
    pid = store.create_patient("EX-001", actor="dr.a").id
    case = case_from_mapping(case_doc())
    store.save_case(pid, case, actor="dr.a")
    assert store.current_case(pid) == case
    assert store.case_version(pid).case_digest == repository.case_digest(case)


def test_a_case_of_another_patient_is_refused(store: Store) -> None:
    pid = store.create_patient("EX-002", actor="dr.a").id
    with pytest.raises(InputError, match=r"patient\.id: the case is for 'EX-001'"):
        store.save_case(pid, case_from_mapping(case_doc()), actor="dr.a")
    assert store.case_versions(pid) == []


@pytest.mark.parametrize("call", ["get_patient", "case_versions", "current_case", "list_plans"])
def test_unknown_patient_is_not_found_by_id(store: Store, call: str) -> None:
    with pytest.raises(NotFoundError, match="patient 4711 not found"):
        getattr(store, call)(4711)


def test_a_patient_without_a_case_has_no_current_case(store: Store) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    with pytest.raises(NotFoundError, match=f"patient {pid} has no case yet"):
        store.current_case(pid)


def test_duplicate_external_id_is_refused(store: Store) -> None:
    store.create_patient("P-1", actor="dr.a")
    with pytest.raises(StoreError, match="'P-1' already exists"):
        store.create_patient("P-1", actor="dr.b")


def test_list_and_search_patients(store: Store) -> None:
    for ext in ("NET-001", "NET-002", "OTHER_1", "x%y"):
        store.create_patient(ext, actor="dr.a")
    assert [p.external_id for p in store.list_patients()] == [
        "NET-001",
        "NET-002",
        "OTHER_1",
        "x%y",
    ]
    assert [p.external_id for p in store.list_patients("net-")] == ["NET-001", "NET-002"]
    assert [p.external_id for p in store.list_patients("_")] == ["OTHER_1"]
    assert [p.external_id for p in store.list_patients("%")] == ["x%y"]
    assert store.find_patient("NET-002").external_id == "NET-002"


# ---------------------------------------------------------------------------- assessments
def test_assessment_carries_its_provenance(store: Store, patient_id: int) -> None:
    stored = store.run_assessment(patient_id, actor="dr.a")
    case_version = store.case_version(patient_id)
    profile = default_profile()
    assert stored.case_version == 1 and stored.case_version_id == case_version.id
    assert stored.inputs_digest == case_version.case_digest
    assert stored.netlm_version == __version__
    assert (stored.profile_id, stored.profile_version, stored.profile_digest) == (
        profile.id,
        profile.version,
        profile.digest,
    )
    assert stored.result_digest == repository.document_digest(stored.result)
    assessment = stored.to_assessment()
    assert isinstance(assessment, Assessment)
    assert assessment.provenance.inputs_digest == stored.inputs_digest
    assert store.get_assessment(stored.id) == stored


def test_an_old_assessment_is_reproduced_exactly(
    store: Store, patient_id: int, tmp_path: Path
) -> None:
    centre = tmp_path / "centre.yaml"
    centre.write_text(
        "schema: netlm/rule-profile/v1\nid: centre-x\nname: Centre X\nversion: '2026-1'\n"
        "extends: default\nparameters: {tare_bilirubin_limit_mg_dl: 3.0}\n"
    )
    old = store.run_assessment(patient_id, actor="dr.a", profile=load_profile(centre))
    # the case changes later, and the default profile is used from then on
    store.save_case(patient_id, case_from_mapping(case_doc(ecog=3)), actor="dr.b")
    new = store.run_assessment(patient_id, actor="dr.b")
    assert (old.profile_id, new.profile_id) == ("centre-x", "default")
    assert (old.case_version, new.case_version) == (1, 2)
    assert old.result != new.result
    assert store.reproduce_assessment(old.id) is True
    assert store.reproduce_assessment(new.id) is True
    assert [a.id for a in store.assessments(patient_id)] == [old.id, new.id]


def test_reproduction_notices_a_different_result(
    store: Store, patient_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = store.run_assessment(patient_id, actor="dr.a")
    monkeypatch.setattr("netlm.eligibility.engine.__version__", "99.0")
    assert store.reproduce_assessment(stored.id) is False


def test_assessing_an_older_version(store: Store, patient_id: int) -> None:
    store.save_case(patient_id, case_from_mapping(case_doc(ecog=3)), actor="dr.a")
    old = store.run_assessment(patient_id, actor="dr.a", version=1)
    assert old.case_version == 1
    with pytest.raises(NotFoundError, match="no case version 9"):
        store.run_assessment(patient_id, actor="dr.a", version=9)


# ---------------------------------------------------------------------------- plans
def test_plan_is_solved_stored_and_approved_by_a_physicist(store: Store, patient_id: int) -> None:
    for name, role in [("viewer1", Role.VIEWER), ("clin1", "clinician"), ("phys1", "physicist")]:
        store.create_user(name, "correct horse battery", role, actor="admin")
    plan = store.save_plan(patient_id, glass_plan(), actor="phys1")
    assert plan.status is PlanStatus.DRAFT
    with pytest.raises(StoreError, match="no dose result: solve it"):
        store.approve_plan(plan.id, actor="phys1")

    result = store.solve_plan(plan.id, actor="phys1")
    assert result.plan_id == plan.id and result.override is None
    assert result.constants["dose_constant_gy_kg_per_gbq"] == 49.67
    assert result.constants == result.result["constants"]
    assert result.netlm_version == __version__
    assert result.case_version_id == store.case_version(patient_id).id
    solved = result.to_result()
    assert solved.injected_activity_gbq > 0 and solved.inputs_digest == result.inputs_digest
    assert store.get_plan(plan.id).status is PlanStatus.SOLVED

    for who in ("viewer1", "clin1", "nobody"):
        with pytest.raises(PermissionDeniedError, match="physicist"):
            store.approve_plan(plan.id, actor=who)
    approved = store.approve_plan(plan.id, actor="phys1")
    assert approved.status is PlanStatus.APPROVED
    assert (approved.approved_by, approved.approved_result_id) == ("phys1", result.id)
    with pytest.raises(StoreError, match="already approved by phys1"):
        store.approve_plan(plan.id, actor="phys1")
    assert store.list_plans(patient_id) == [approved]
    [entry] = store.audit_log(record_type="plan", record_id=plan.id)[-1:]
    assert (entry.action, entry.actor, entry.details["plan_result_id"]) == (
        "approve",
        "phys1",
        result.id,
    )


def test_plan_for_another_patient_is_refused(store: Store, patient_id: int) -> None:
    with pytest.raises(InputError, match="the plan is for 'EX-005'"):
        store.save_plan(patient_id, glass_plan(case="EX-005"), actor="dr.a")


def test_override_is_audited_with_its_reason(store: Store, patient_id: int) -> None:
    # An overridden resin LSF limit needs an explicitly prescribed activity (issue #11).
    unsafe = unsafe_resin_plan(override=OVERRIDE, prescription={"activity_gbq": 1.2})
    plan = store.save_plan(patient_id, unsafe, actor="phys1")
    result = store.solve_plan(plan.id, actor="phys1")
    assert result.override is not None and result.override["reason"] == OVERRIDE["reason"]
    [entry] = [a for a in store.audit_log(patient_id=patient_id) if a.action == "safety_override"]
    assert entry.actor == "phys1"
    assert (entry.record_type, entry.record_id) == ("plan_result", result.id)
    assert entry.details["reason"] == OVERRIDE["reason"]
    assert entry.details["approved_by"] == "Dr A. Physicist"
    assert entry.details["overridden_checks"] == ["resin_lsf"]


def test_own_override_needs_a_second_physicist(store: Store, patient_id: int) -> None:
    for name in ("phys1", "phys2"):
        store.create_user(name, "correct horse battery", Role.PHYSICIST, actor="admin")
    plan = store.save_plan(
        patient_id,
        unsafe_resin_plan(override=OVERRIDE, prescription={"activity_gbq": 1.2}),
        actor="phys1",
    )
    result = store.solve_plan(plan.id, actor="phys1")
    with pytest.raises(PermissionDeniedError, match="'phys1' wrote the safety override"):
        store.approve_plan(plan.id, actor="phys1", result_id=result.id)
    assert store.get_plan(plan.id).status is PlanStatus.SOLVED
    approved = store.approve_plan(plan.id, actor="phys2", result_id=result.id)
    assert approved.approved_by == "phys2"
    second = store.save_plan(
        patient_id,
        unsafe_resin_plan(override=OVERRIDE, prescription={"activity_gbq": 1.2}),
        actor="phys1",
    )
    own = store.solve_plan(second.id, actor="phys1")
    allowed = store.approve_plan(
        second.id, actor="phys1", result_id=own.id, allow_own_override=True
    )
    assert allowed.approved_by == "phys1"


def test_approval_of_a_result_that_is_not_the_latest_is_refused(
    store: Store, patient_id: int
) -> None:
    store.create_user("phys1", "correct horse battery", Role.PHYSICIST, actor="admin")
    plan = store.save_plan(patient_id, glass_plan(), actor="phys1")
    first = store.solve_plan(plan.id, actor="phys1")
    latest = store.solve_plan(plan.id, actor="phys1")
    with pytest.raises(StoreError, match=f"result {first.id} is not the latest"):
        store.approve_plan(plan.id, actor="phys1", result_id=first.id)
    assert store.get_plan(plan.id).status is PlanStatus.SOLVED
    approved = store.approve_plan(plan.id, actor="phys1", result_id=latest.id)
    assert approved.approved_result_id == latest.id


def test_unsafe_plan_stores_nothing(store: Store, patient_id: int) -> None:
    plan = store.save_plan(patient_id, unsafe_resin_plan(), actor="phys1")
    audit_before = store.audit_log()
    with pytest.raises(UnsafePlanError, match="resin_lsf"):
        store.solve_plan(plan.id, actor="phys1")
    assert store.plan_results(plan.id) == []
    assert count(store, "plan_results") == 0
    assert store.audit_log() == audit_before
    assert store.get_plan(plan.id).status is PlanStatus.DRAFT


# ---------------------------------------------------------------------------- soft delete
def test_soft_delete_hides_the_patient_but_export_still_works(
    store: Store, patient_id: int
) -> None:
    other = store.create_patient("EX-009", actor="dr.a").id
    with pytest.raises(InputError, match="reason: must not be empty"):
        store.soft_delete_patient(patient_id, "  ", actor="dr.a")
    store.soft_delete_patient(patient_id, "duplicate of EX-009", actor="dr.a")
    assert [p.id for p in store.list_patients()] == [other]
    assert [p.id for p in store.list_patients(include_deleted=True)] == [patient_id, other]
    patient = store.get_patient(patient_id)
    assert patient.deleted and patient.deleted_reason == "duplicate of EX-009"
    exported = store.export_patient(patient_id)
    assert exported["patient"]["deleted"] is True
    assert exported["patient"]["deleted_reason"] == "duplicate of EX-009"
    assert exported["patient"]["deleted_by"] == "dr.a"
    assert len(exported["case_versions"]) == 1
    assert exported["audit"][-1]["action"] == "soft_delete"
    assert exported["audit"][-1]["details"] == {"reason": "duplicate of EX-009"}
    with pytest.raises(StoreError, match="is deleted"):
        store.save_case(patient_id, store.current_case(patient_id), actor="dr.a")
    with pytest.raises(StoreError, match="is deleted"):
        store.soft_delete_patient(patient_id, "again", actor="dr.a")
    with pytest.raises(StoreError, match="is deleted"):
        store.add_lab(patient_id, date=DAY, analyte="inr", value=1.1, unit="1", actor="dr.a")


# ---------------------------------------------------------------------------- audit log
@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_append_only_tables_refuse_update_and_delete(
    store: Store, patient_id: int, table: str
) -> None:
    store.run_assessment(patient_id, actor="dr.a")
    store.create_user("phys1", "correct horse battery", Role.PHYSICIST, actor="admin")
    plan = store.save_plan(patient_id, glass_plan(), actor="phys1")
    store.solve_plan(plan.id, actor="phys1")
    store.approve_plan(plan.id, actor="phys1")
    before = count(store, table)
    assert before > 0
    statements = [f"UPDATE {table} SET created_by = 'mallory'", f"DELETE FROM {table}"]
    if table == "audit_log":
        statements[0] = "UPDATE audit_log SET actor = 'mallory'"
    if store.engine.dialect.name == "postgresql":
        statements.append(f"TRUNCATE {table} CASCADE")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert count(store, table) == before


def test_every_write_is_audited_with_actor_time_and_record(store: Store) -> None:
    start = dt.datetime.now(dt.UTC)
    pid = store.create_patient("P-1", actor="dr.a").id
    lab = store.add_lab(pid, date=DAY, analyte="albumin", value=38, unit="g/L", actor="nurse.b")
    [entry] = store.audit_log(record_type="lab", record_id=lab.id)
    assert (entry.actor, entry.action, entry.patient_id) == ("nurse.b", "create", pid)
    assert entry.at.tzinfo is not None and entry.at.utcoffset() == dt.timedelta(0)
    assert start <= entry.at <= dt.datetime.now(dt.UTC)
    assert lab.created_at == entry.at
    assert [a.actor for a in store.audit_log(actor="dr.a")] == ["dr.a"]
    assert len(store.audit_log(limit=1)) == 1
    assert not hasattr(store, "delete_audit") and not hasattr(store, "update_audit")


def test_a_failing_write_leaves_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    audit_before = store.audit_log()

    def broken_audit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_audit", broken_audit)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.add_lab(pid, date=DAY, analyte="inr", value=1.1, unit="1", actor="dr.a")
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.import_case(case_from_mapping(case_doc(id="NEW-1")), actor="dr.a")
    monkeypatch.undo()
    assert store.labs(pid) == []
    assert count(store, "lab_results") == 0
    assert [p.external_id for p in store.list_patients()] == ["P-1"]
    assert store.audit_log() == audit_before


def test_import_creates_patient_and_version_in_one_step(store: Store) -> None:
    case = case_from_mapping(case_doc(id="NEW-1"))
    first = store.import_case(case, actor="etl", source="a.yaml")
    again = store.import_case(case, actor="etl", source="a.yaml")
    assert (first.version, again.version) == (1, 2)
    assert first.patient_id == again.patient_id == store.find_patient("NEW-1").id
    assert first.source == "a.yaml"


# ---------------------------------------------------------------------------- export
def test_export_is_the_whole_record_and_survives_a_json_round_trip(
    store: Store, patient_id: int
) -> None:
    store.save_case(patient_id, case_from_mapping(case_doc(ecog=2)), actor="dr.b")
    assessment = store.run_assessment(patient_id, actor="dr.a")
    plan = store.save_plan(patient_id, glass_plan(), actor="phys1")
    plan_result = store.solve_plan(plan.id, actor="phys1")
    store.add_image(patient_id, kind="maa_spect", series_uid="1.2.826.0.1.3680043.2.1", actor="x")
    store.add_image(patient_id, kind="ct", path="/pacs/EX-001/ct.nii.gz", actor="x")
    store.add_treatment(
        patient_id,
        modality="tare_glass",
        date=DAY,
        details={"activity_gbq": 2.4, "plan_id": plan.id},
        actor="x",
    )
    store.add_lab(patient_id, date=DAY, analyte="bilirubin", value=0.7, unit="mg/dL", actor="x")
    store.add_response_timepoint(
        patient_id,
        date=DAY + dt.timedelta(days=90),
        criterion="recist1.1",
        overall="PR",
        details={"sum_mm": 41.5},
        actor="x",
    )
    store.add_toxicity_event(
        patient_id, date=DAY, term="Fatigue", grade=1, ctcae_version="5.0", actor="x"
    )

    exported = store.export_patient(patient_id, actor="auditor")
    text = json.dumps(exported, allow_nan=False)
    assert json.loads(text) == exported
    assert exported["schema"] == EXPORT_SCHEMA
    assert [v["version"] for v in exported["case_versions"]] == [1, 2]
    cases = [case_from_mapping(v["document"]) for v in exported["case_versions"]]
    assert cases == [v.to_case() for v in store.case_versions(patient_id)]
    [exported_assessment] = exported["assessments"]
    assert exported_assessment["result"] == assessment.result
    assert exported_assessment["profile"]["id"] == "default"
    assert Assessment.model_validate(exported_assessment["result"]) == assessment.to_assessment()
    [exported_plan] = exported["plans"]
    assert exported_plan["results"][0]["result"] == plan_result.result
    assert plan_from_mapping(exported_plan["document"]) == glass_plan()
    assert [i["kind"] for i in exported["images"]] == ["maa_spect", "ct"]
    assert exported["images"][1]["path"] == "/pacs/EX-001/ct.nii.gz"
    assert exported["treatments"][0]["details"] == {"activity_gbq": 2.4, "plan_id": plan.id}
    assert exported["labs"][0]["value"] == 0.7
    assert exported["response_timepoints"][0]["overall"] == "PR"
    assert exported["toxicity_events"][0]["grade"] == 1
    actions = [a["action"] for a in exported["audit"]]
    assert actions[0] == "create" and actions[-1] == "export"
    # patient, 2 case versions, assessment, plan, solve, 6 clinical records, export
    assert len(actions) == 13
    assert dt.datetime.fromisoformat(exported["patient"]["created_at"]).tzinfo is not None


def test_unknown_patient_export_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="patient 12 not found"):
        store.export_patient(12)


# ---------------------------------------------------------------------------- clinical record
def test_clinical_record_lists_by_date(store: Store) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    for day, value in [(DAY + dt.timedelta(days=30), 1.4), (DAY, 0.8)]:
        store.add_lab(
            pid, date=day, analyte="bilirubin", value=value, unit="mg/dL", uln=1.2, actor="x"
        )
    store.add_lab(pid, date=DAY, analyte="albumin", value=40, unit="g/L", actor="x")
    assert [x.value for x in store.labs(pid, "bilirubin")] == [0.8, 1.4]
    assert [x.analyte for x in store.labs(pid)] == ["bilirubin", "albumin", "bilirubin"]
    lab = store.labs(pid)[0]
    assert (lab.uln, lab.lln, lab.date) == (1.2, None, DAY)
    image = store.add_image(pid, kind="y90_pet", path="does/not/exist.nii.gz", actor="x")
    assert store.images(pid) == [image]  # a reference: nothing is read or copied


@pytest.mark.parametrize("value", [0.1 + 0.2, 5e-324, 1.7976931348623157e308, 1 / 3, 0.0])
def test_numbers_read_back_exactly(store: Store, value: float) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    store.add_lab(
        pid, date=DAY, analyte="egfr", value=value, unit="mL/min", uln=value + 1, actor="x"
    )
    store.add_treatment(
        pid, modality="prrt", date=DAY, details={"activity_gbq": value, "é": "ü"}, actor="x"
    )
    [lab] = store.labs(pid)
    [treatment] = store.treatments(pid)
    assert lab.value == value and lab.uln == value + 1
    assert treatment.details == {"activity_gbq": value, "é": "ü"}


@pytest.mark.parametrize("grade", [0, 5])
def test_toxicity_grade_boundaries_are_accepted(store: Store, grade: int) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    event = store.add_toxicity_event(
        pid, date=DAY, term="Nausea", grade=grade, ctcae_version="6.0", actor="x"
    )
    assert store.toxicity_events(pid) == [event]


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("add_toxicity_event", {"grade": 6}, "grade: must be a CTCAE grade 0-5"),
    ("add_toxicity_event", {"grade": -1}, "grade: must be a CTCAE grade 0-5"),
    ("add_toxicity_event", {"grade": True}, "grade: must be a CTCAE grade 0-5"),
    ("add_toxicity_event", {"ctcae_version": "4.03"}, "ctcae_version: unknown value '4.03'"),
    ("add_toxicity_event", {"term": ""}, "term: must not be empty"),
    ("add_lab", {"analyte": "bilirubine"}, "analyte: unknown value 'bilirubine'"),
    ("add_lab", {"value": float("nan")}, "value: must be finite"),
    ("add_lab", {"value": "1.2"}, "value: must be a number, not str"),
    ("add_lab", {"value": -1}, "value: must not be negative"),
    ("add_lab", {"uln": 1.0, "lln": 2.0}, "lln: must be below uln"),
    ("add_lab", {"date": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, "date: must be a date"),
    ("add_lab", {"date": "2026-01-01"}, "date: must be a date"),
    ("add_lab", {"unit": ""}, "unit: must not be empty"),
    ("add_lab", {"actor": ""}, "actor: must not be empty"),
    ("add_image", {"path": None, "series_uid": None}, "give a path or a series_uid"),
    ("add_image", {"series_uid": "1.02.3"}, "series_uid: '1.02.3' is not a DICOM UID"),
    ("add_image", {"kind": "xray"}, "kind: unknown value 'xray'"),
    ("add_treatment", {"modality": "radiotherapy"}, "modality: unknown value 'radiotherapy'"),
    ("add_treatment", {"details": {"when": {1, 2}}}, "details: must be JSON-serialisable"),
    ("add_response_timepoint", {"criterion": "recist"}, "criterion: unknown value 'recist'"),
    ("add_response_timepoint", {"overall": "CMR"}, "overall: unknown value 'CMR'"),
]

GOOD_INPUTS: dict[str, dict[str, Any]] = {
    "add_toxicity_event": {"date": DAY, "term": "Fatigue", "grade": 1, "ctcae_version": "5.0"},
    "add_lab": {"date": DAY, "analyte": "bilirubin", "value": 1.0, "unit": "mg/dL"},
    "add_image": {"kind": "ct", "path": "/data/ct.nii.gz"},
    "add_treatment": {"modality": "tare_resin", "date": DAY, "details": {}},
    "add_response_timepoint": {"date": DAY, "criterion": "mrecist", "overall": "SD", "details": {}},
}


@pytest.mark.parametrize(("method", "change", "message"), BAD_INPUTS)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    store: Store, method: str, change: dict[str, Any], message: str
) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    audit_before = store.audit_log()
    arguments = {"actor": "dr.a", **GOOD_INPUTS[method], **change}
    with pytest.raises(InputError, match=message):
        getattr(store, method)(pid, **arguments)
    assert store.audit_log() == audit_before


def test_unknown_patient_record_write_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="patient 77 not found"):
        store.add_lab(77, actor="x", **GOOD_INPUTS["add_lab"])


# ---------------------------------------------------------------------------- users
def test_users_passwords_and_tokens(store: Store) -> None:
    user = store.create_user("dr.a", "correct horse battery", "clinician", actor="admin")
    assert user.role is Role.CLINICIAN and store.get_user("dr.a") == user
    assert store.authenticate("dr.a", "correct horse battery") == user
    assert store.authenticate("dr.a", "wrong horse battery") is None
    assert store.authenticate("nobody", "correct horse battery") is None
    token = store.create_token("dr.a", actor="dr.a")
    assert store.user_for_token(token) == user
    assert store.user_for_token(token + "x") is None
    with store.engine.connect() as conn:
        hashes = conn.execute(sa.text("SELECT password_hash FROM users")).scalars().all()
        tokens = conn.execute(sa.text("SELECT token_sha256 FROM api_tokens")).scalars().all()
    assert hashes[0].startswith("$argon2id$") and "correct horse" not in hashes[0]
    assert token not in tokens and len(tokens[0]) == 64
    assert store.revoke_token(token, actor="admin") is True
    assert store.user_for_token(token) is None
    assert store.revoke_token(token, actor="admin") is False
    with pytest.raises(StoreError, match=r"'dr\.a' already exists"):
        store.create_user("dr.a", "another password", "viewer", actor="admin")
    with pytest.raises(NotFoundError, match="user 'ghost' not found"):
        store.get_user("ghost")
    with pytest.raises(PermissionDeniedError, match="has the role clinician"):
        store.require_role("dr.a", Role.ADMIN)
    assert store.require_role("dr.a", "clinician", "admin") == user


def test_expired_token_is_refused(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.create_user("dr.a", "correct horse battery", "viewer", actor="admin")
    token = store.create_token("dr.a", actor="admin", ttl=dt.timedelta(minutes=5))
    assert store.user_for_token(token) is not None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    monkeypatch.setattr(store, "_now", lambda: later)
    assert store.user_for_token(token) is None


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("dr.a", "short", "viewer", "password: must be at least 12"),
        ("dr a", "long enough pw", "viewer", "username: 'dr a' is not a username"),
        ("dr.a", "long enough pw", "surgeon", "role: unknown value 'surgeon'"),
    ],
)
def test_bad_user_input_is_refused(
    store: Store, username: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        store.create_user(username, password, role, actor="admin")
    assert store.list_users() == []


def test_default_argon2_parameters(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        store.create_user("dr.a", "correct horse battery", Role.ADMIN, actor="setup")
        assert store.authenticate("dr.a", "correct horse battery") is not None
        with store.engine.connect() as conn:
            stored = conn.scalar(sa.text("SELECT password_hash FROM users"))
    defaults = PasswordHasher()
    assert f"m={defaults.memory_cost},t={defaults.time_cost}" in str(stored)


# ---------------------------------------------------------------------------- concurrency
def test_concurrent_writers_lose_nothing(db_url: str) -> None:
    threads_n, writes = 8, 20
    with Store(db_url) as setup:
        pid = setup.create_patient("EX-001", actor="setup").id
    case = case_from_mapping(case_doc())
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Store(db_url, upgrade=False) as own:  # one engine per thread: like processes
                for i in range(writes):
                    if i % 2:
                        own.save_case(pid, case, actor=f"w{n}")
                    else:
                        own.add_lab(
                            pid, date=DAY, analyte="inr", value=n + i / 100, unit="1", actor=f"w{n}"
                        )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(db_url) as check:
        versions = [v.version for v in check.case_versions(pid)]
        assert versions == list(range(1, threads_n * writes // 2 + 1))
        assert len(check.labs(pid)) == threads_n * writes // 2
        assert len(check.audit_log(patient_id=pid)) == 1 + threads_n * writes


def test_shared_store_across_threads(store: Store) -> None:
    pid = store.create_patient("P-1", actor="dr.a").id
    threads = [
        threading.Thread(
            target=lambda n=n: [
                store.add_toxicity_event(
                    pid, date=DAY, term=f"t{n}", grade=n % 6, ctcae_version="5.0", actor="x"
                )
                for _ in range(10)
            ]
        )
        for n in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.toxicity_events(pid)) == 80


# ---------------------------------------------------------------------------- migrations
def test_upgrade_creates_the_schema_and_is_idempotent(db_url: str) -> None:
    db.upgrade(db_url)
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        assert db.current_revision(engine) == db.head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []  # the migration builds exactly what the models describe
    finally:
        engine.dispose()


def test_a_store_refuses_an_unmigrated_database_without_upgrade(db_url: str) -> None:
    if db_url.startswith("sqlite"):  # a missing file is named, and not created
        path = db_url.removeprefix("sqlite:///")
        with pytest.raises(StoreError, match=f"no netlm registry at {path}: create it with"):
            Store(db_url, upgrade=False)
        assert not Path(path).parent.exists()
        db.make_engine(db_url).dispose()  # an empty file
    with pytest.raises(StoreError, match="run `netlm db upgrade`"):
        Store(db_url, upgrade=False)
    with Store(db_url) as store:
        store.create_patient("P-1", actor="x")
    with Store(db_url, upgrade=False) as store:
        assert [p.external_id for p in store.list_patients()] == ["P-1"]


def test_timestamps_are_utc_and_aware(store: Store) -> None:
    patient = store.create_patient("P-1", actor="x")
    again = store.get_patient(patient.id)
    assert again.created_at == patient.created_at
    assert again.created_at.utcoffset() == dt.timedelta(0)


# ---------------------------------------------------------------------------- embedded default
def test_default_database_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NETLM_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert db.default_database_url() == f"sqlite:///{tmp_path}/home/.local/share/netlm/netlm.db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert db.default_database_url() == f"sqlite:///{tmp_path}/xdg/netlm/netlm.db"
    monkeypatch.setenv("NETLM_DATA_DIR", str(tmp_path / "data"))
    assert db.default_database_url() == f"sqlite:///{tmp_path}/data/netlm.db"
    assert not (tmp_path / "data").exists()  # created on first use, not when asked


def test_embedded_sqlite_is_created_on_first_use_in_wal_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NETLM_DATABASE_URL", raising=False)
    monkeypatch.setenv("NETLM_DATA_DIR", str(tmp_path / "data"))
    with Store() as store:
        store.create_patient("P-1", actor="x")
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    assert (tmp_path / "data" / "netlm.db").is_file()


def test_database_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("NETLM_DATABASE_URL", sqlite_url)
    assert db.resolve_database_url() == sqlite_url
    assert db.resolve_database_url("sqlite://") == "sqlite://"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:secret@host/db", "unsupported database 'mysql'"),
        ("not a url", "not a database URL"),
    ],
)
def test_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        db.make_engine(url)
    assert "secret" not in str(info.value)


def test_postgres_urls_use_psycopg() -> None:
    assert db.parse_database_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert db.parse_database_url("postgres://u@h/d").drivername == "postgresql+psycopg"


def test_an_unusable_database_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StoreError, match="cannot create the database folder"):
        Store(f"sqlite:///{tmp_path}/a-file/netlm.db")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(StoreError, match="cannot upgrade the database"):
        Store(f"sqlite:///{tmp_path}/a-folder")
