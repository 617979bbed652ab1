"""FHIR export of a registry patient: a real SQLite registry file, the CLI and the API route."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from netlm.api import create_app
from netlm.case import case_from_mapping
from netlm.cli import app as cli_app
from netlm.fhir import codes, import_bundle
from netlm.sirt.plan import plan_from_mapping
from netlm.store import Role, Store
from netlm.store.repository import LAB_ANALYTES
from netlm.workflows.fhir import registry_bundle

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PASSWORD = "fhir-test-password-1"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        resources.files("netlm").joinpath("examples", name).read_text()
    )
    return data


@dataclass
class Registry:
    url: str
    store: Store
    patient_id: int
    empty_patient_id: int
    plan_id: int


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    folder = tmp_path_factory.mktemp("fhir-registry")
    url = f"sqlite:///{folder / 'registry.db'}"
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    store = Store(url, password_hasher=hasher)
    for role in Role:
        store.create_user(role.value, PASSWORD, role, actor="test")
    case = case_from_mapping(example("case-bilobar-tare.yaml"))
    version = store.import_case(case, actor="clinician")
    pid = version.patient_id
    store.run_assessment(pid, actor="clinician")
    plan = store.save_plan(
        pid, plan_from_mapping(example("plan-partition-glass.yaml")), actor="physicist"
    )
    store.solve_plan(plan.id, actor="physicist")
    store.approve_plan(plan.id, actor="physicist")
    store.add_treatment(
        pid,
        modality="tare_glass",
        date=dt.date(2026, 2, 3),
        details={"activity_gbq": 3.1, "device": "glass microspheres", "territory": "right"},
        actor="clinician",
    )
    store.add_lab(
        pid,
        date=dt.date(2026, 2, 1),
        analyte="bilirubin",
        value=25.65,
        unit="µmol/L",
        uln=20.52,
        actor="clinician",
    )
    store.add_lab(
        pid, date=dt.date(2026, 2, 1), analyte="ldh", value=310, unit="U/L", actor="clinician"
    )
    empty = store.create_patient("NO-CASE-1", actor="clinician")
    yield Registry(url, store, pid, empty.id, plan.id)
    store.close()


def resources_of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def check_bundle(bundle: dict[str, Any], registry: Registry) -> None:
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    (patient,) = resources_of(bundle, "Patient")
    assert {"system": "urn:netlm:fhir:patient-id:registry", "value": str(registry.patient_id)} in (
        patient["identifier"]
    )
    (summary,) = [
        p
        for p in resources_of(bundle, "Procedure")
        if MCODE + "mcode-radiotherapy-course-summary" in p.get("meta", {}).get("profile", [])
    ]
    assert summary["status"] == "preparation"
    assert any("approved by physicist" in n["text"] for n in summary["note"])
    assert any(f"plan {registry.plan_id}" in n["text"] for n in summary["note"])
    recorded = [p for p in resources_of(bundle, "Procedure") if p is not summary]
    tare = [p for p in recorded if p["code"]["coding"][0]["code"] == "tare_glass"]
    assert tare and tare[0]["performedDateTime"] == "2026-02-03"
    assert tare[0]["extension"][0]["valueQuantity"]["value"] == 3.1
    (report,) = resources_of(bundle, "DiagnosticReport")
    assert report["status"] == "preliminary" and "effectiveDateTime" in report


def test_registry_bundle_uses_the_stored_assessment_and_approved_plan(registry: Registry) -> None:
    store = registry.store
    document = store.export_patient(registry.patient_id)
    bundle = json.loads(registry_bundle(document).model_dump_json(exclude_none=True))
    check_bundle(bundle, registry)
    stored = store.assessments(registry.patient_id)[-1].to_assessment()
    (report,) = resources_of(bundle, "DiagnosticReport")
    assert len(report["result"]) == len(stored.options)
    approved = store.get_plan(registry.plan_id)
    result = store.get_plan_result(approved.approved_result_id or 0).to_result()
    (summary,) = [p for p in resources_of(bundle, "Procedure") if p.get("meta", {}).get("profile")]
    activity = [x for x in summary["extension"] if x["url"] == "urn:netlm:fhir:extension:activity"]
    assert activity[0]["valueQuantity"]["value"] == result.injected_activity_gbq


def test_registry_labs_are_exported_and_read_back(registry: Registry) -> None:
    document = registry.store.export_patient(registry.patient_id)
    bundle = json.loads(registry_bundle(document).model_dump_json(exclude_none=True))
    observations = resources_of(bundle, "Observation")
    (bili,) = [
        o
        for o in observations
        if o["code"]["coding"][0]["code"] == "14631-6"  # the molar code for a µmol/L value
    ]
    assert bili["effectiveDateTime"] == "2026-02-01"
    assert bili["valueQuantity"]["code"] == "umol/L" and bili["valueQuantity"]["value"] == 25.65
    (ldh,) = [o for o in observations if o["code"]["coding"][0]["code"] == "lab-ldh"]
    assert ldh["code"]["coding"][0]["system"] == codes.NETLM_SYSTEM

    case = registry.store.current_case(registry.patient_id)
    result = import_bundle(bundle, case)
    assert result.case.labs.bilirubin_mg_dl == 1.5  # the dated registry value is the newest
    assert result.case.labs.date is not None and result.case.labs.date.isoformat() == "2026-02-01"
    assert any("not a case field" in line for line in result.skipped)  # LDH


def test_every_lab_code_names_a_registry_analyte() -> None:
    assert {lab.analyte for lab in codes.LABS} <= LAB_ANALYTES


def test_cli_exports_a_registry_patient_and_audits_it(registry: Registry, tmp_path: Path) -> None:
    before = len(registry.store.audit_log(patient_id=registry.patient_id))
    out = tmp_path / "bundle.json"
    r = CliRunner().invoke(
        cli_app,
        [
            "fhir",
            "export",
            str(registry.patient_id),
            "--db",
            registry.url,
            "--actor",
            "viewer",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    check_bundle(json.loads(out.read_text()), registry)
    log = registry.store.audit_log(patient_id=registry.patient_id)
    assert len(log) == before + 1
    assert log[-1].action == "export" and log[-1].actor == "viewer"

    r = CliRunner().invoke(
        cli_app, ["fhir", "export", "EX-001", "--external", "--db", registry.url]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["resourceType"] == "Bundle"

    r = CliRunner().invoke(
        cli_app, ["fhir", "export", str(registry.empty_patient_id), "--db", registry.url]
    )
    assert r.exit_code == 2 and "no case" in r.stderr


@pytest.fixture(scope="module")
def client(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    application = create_app(
        registry.store,
        secret_key="fhir-test-secret-key-of-at-least-32-bytes",
        files_dir=tmp_path_factory.mktemp("fhir-files"),
    )
    with TestClient(application) as c:
        yield c


def token(client: TestClient, role: Role) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": role.value, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.parametrize("role", list(Role))
def test_api_route_for_every_reading_role(
    client: TestClient, registry: Registry, role: Role
) -> None:
    before = len(registry.store.audit_log(patient_id=registry.patient_id))
    r = client.get(f"/api/v1/patients/{registry.patient_id}/fhir", headers=token(client, role))
    assert r.status_code == 200, r.text
    check_bundle(r.json(), registry)
    log = registry.store.audit_log(patient_id=registry.patient_id)
    assert len(log) == before + 1
    assert (log[-1].action, log[-1].actor) == ("export", role.value)


def test_api_route_refusals(client: TestClient, registry: Registry) -> None:
    path = f"/api/v1/patients/{registry.patient_id}/fhir"
    assert client.get(path).status_code == 401
    viewer = token(client, Role.VIEWER)
    assert client.get("/api/v1/patients/999999/fhir", headers=viewer).status_code == 404
    r = client.get(f"/api/v1/patients/{registry.empty_patient_id}/fhir", headers=viewer)
    assert r.status_code == 404 and "no case" in r.text
