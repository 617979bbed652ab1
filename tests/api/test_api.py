"""The web API and pages through FastAPI's test client: CRUD, roles, refusals, errors, logs.

Every route of the app is enumerated (``netlm.api.roles.iter_api_routes``): each
one is refused without credentials, and each one that declares roles is
refused (403) for every other role.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import BASE, edited
from netlm.api import create_app
from netlm.api.config import CSRF_HEADER
from netlm.api.roles import ALL_ROLES, ROLES_KEY, iter_api_routes, route_roles
from netlm.examples import bundled_examples
from netlm.store.repository import Role, Store

PASSWORDS = {role: f"{role.value[::-1]}-password-1" for role in Role}
#: A distinctive patient identifier: it must never reach a log line.
PHI_ID = "Doe-Jane-PHI-8841"


def example(prefix: str, name: str) -> dict[str, Any]:
    """A bundled example as the JSON an API client sends (dates as ISO text)."""
    text = dict(bundled_examples(prefix))[name]
    data: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(text), default=str))
    return data


def case_for(external_id: str, **changes: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(edited(**changes), default=str))
    doc["patient"]["id"] = external_id
    return doc


@dataclass
class World:
    app: FastAPI
    store: Store
    client: TestClient
    tokens: dict[Role, dict[str, str]]
    ids: dict[str, int]
    files: Path

    def as_(self, role: Role) -> dict[str, str]:
        return self.tokens[role]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("api")
    store = Store(f"sqlite:///{folder / 'registry.db'}")
    for role in Role:
        store.create_user(role.value, PASSWORDS[role], role, actor="test")
    app = create_app(store, secret_key="test-secret-" * 4, files_dir=folder / "files")
    client = TestClient(app)
    tokens = {}
    for role in Role:
        r = client.post(
            "/api/v1/auth/token", json={"username": role.value, "password": PASSWORDS[role]}
        )
        assert r.status_code == 200, r.text
        tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    clin = tokens[Role.CLINICIAN]
    pid = client.post("/api/v1/patients", json={"external_id": "EX-001"}, headers=clin).json()["id"]
    case = example("case-", "case-bilobar-tare.yaml")
    assert client.put(f"/api/v1/patients/{pid}/case", json=case, headers=clin).status_code == 201
    aid = client.post(f"/api/v1/patients/{pid}/assessments", headers=clin).json()["id"]
    plan = example("plan-", "plan-partition-glass.yaml")
    plid = client.post(f"/api/v1/patients/{pid}/plans", json=plan, headers=clin).json()["id"]
    assert client.post(f"/api/v1/plans/{plid}/solve", headers=clin).status_code == 201
    upload = client.post(
        f"/api/v1/patients/{pid}/images",
        data={"kind": "ct", "description": "test"},
        files={"file": ("ct.bin", b"not really an image", "application/octet-stream")},
        headers=clin,
    )
    assert upload.status_code == 201, upload.text
    ids = {
        "patient_id": pid,
        "assessment_id": aid,
        "plan_id": plid,
        "image_id": upload.json()["id"],
    }
    yield World(app, store, client, tokens, ids, folder / "files")
    client.close()
    store.close()


def concrete(path: str, ids: dict[str, int]) -> str:
    values: dict[str, Any] = {**ids, "username": "admin", "token_id": 1, "layer": "dose"}
    values["proposal_id"] = "0123456789abcdef"  # a registration waiting for confirmation
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def routes(app: FastAPI) -> list[tuple[str, str, frozenset[Role] | None]]:
    return [
        (method, r.path, route_roles(r))
        for r in iter_api_routes(app)
        for method in sorted(r.methods or ())
        if method != "HEAD"
    ]


def login_csrf(client: TestClient) -> str:
    """The pre-session token of a fresh log-in form (its cookie goes into ``client``)."""
    match = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert match is not None
    return match.group(1)


def session_client(app: FastAPI, role: Role) -> TestClient:
    """A browser-like client logged in through the log-in form."""
    client = TestClient(app)
    r = client.post(
        "/login",
        data={
            "username": role.value,
            "password": PASSWORDS[role],
            "login_csrf": login_csrf(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def csrf_of(client: TestClient) -> str:
    page = client.get("/patients")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


# --------------------------------------------------------------------------- service
def test_health_needs_no_authentication(world: World) -> None:
    r = world.client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_lists_every_operation_with_its_roles(world: World) -> None:
    r = world.client.get("/api/v1/openapi.json", headers=world.as_(Role.VIEWER))
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert "bearerAuth" in doc["components"]["securitySchemes"]
    operations = [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]
    api_routes = [(m, p) for m, p, _ in routes(world.app) if p.startswith("/api/v1")]
    assert {(m, p) for m, p, _ in operations} >= set(api_routes) - {
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/docs"),
    }
    public = {"/api/v1/health", "/api/v1/auth/token"}
    for method, path, op in operations:
        if path in public:
            assert ROLES_KEY not in op
        else:
            assert op[ROLES_KEY], (method, path)
            assert op["security"], (method, path)
    assert not any(p.startswith("/patients") for p in doc["paths"])  # pages are not API


def test_token_refused_for_a_wrong_password(world: World) -> None:
    r = world.client.post("/api/v1/auth/token", json={"username": "admin", "password": "nope"})
    assert r.status_code == 401
    r = world.client.post("/api/v1/auth/token", json={"username": "ghost", "password": "x"})
    assert r.status_code == 401


def test_api_docs_for_logged_in_users(world: World) -> None:
    page = session_client(world.app, Role.VIEWER).get("/api/v1/docs")
    assert (
        page.status_code == 200 and "<code>/api/v1/patients/{patient_id}/case</code>" in page.text
    )
    assert "<script" not in page.text and "cdn" not in page.text.lower()  # served from netlm
    assert "script-src 'none'" in page.headers["content-security-policy"]


def test_me_reports_the_role(world: World) -> None:
    r = world.client.get("/api/v1/auth/me", headers=world.as_(Role.PHYSICIST))
    assert r.json() == {
        "username": "physicist",
        "role": "physicist",
        "can_write": True,
        "can_approve": True,
    }


# --------------------------------------------------------------------------- refusals
PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/login"),
    ("POST", "/login"),
}


def test_every_route_declares_roles_unless_public(world: World) -> None:
    found = routes(world.app)
    assert len(found) > 50
    for method, path, roles in found:
        if (method, path) in PUBLIC:
            assert roles is None
        else:
            assert roles, (method, path)


@pytest.mark.parametrize(
    "credentials",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRtaW46eA=="}],
    ids=["none", "bad-token", "basic"],
)
def test_every_route_refuses_anonymous_callers(world: World, credentials: dict[str, str]) -> None:
    client = TestClient(world.app)  # no cookies
    checked = 0
    for method, path, _ in routes(world.app):
        if (method, path) in PUBLIC:
            continue
        url = concrete(path, world.ids)
        r = client.request(method, url, headers=credentials, follow_redirects=False)
        if path.startswith("/api/") and path != "/api/v1/docs":  # the docs are a page
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers.get("www-authenticate") == "Bearer"
        elif method == "GET":
            assert r.status_code == 303 and r.headers["location"] == "/login", (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code)
        checked += 1
    assert checked > 50
    # the API's description and an unknown path are refused too
    assert client.get("/api/v1/openapi.json", headers=credentials).status_code == 401
    docs = client.get("/api/v1/docs", headers=credentials, follow_redirects=False)
    assert docs.status_code == 303
    assert client.get("/api/v1/nothing-here", headers=credentials).status_code == 401


def test_every_route_refuses_the_wrong_roles(world: World) -> None:
    sessions = {role: session_client(world.app, role) for role in Role}
    refused = 0
    for method, path, roles in routes(world.app):
        if roles is None:
            continue
        url = concrete(path, world.ids)
        for role in ALL_ROLES - roles:
            if path.startswith("/api/"):
                r = world.client.request(method, url, headers=world.as_(role))
            else:
                r = sessions[role].request(method, url, follow_redirects=False)
            assert r.status_code == 403, (method, path, role, r.status_code, r.text[:200])
            refused += 1
    assert refused >= 40
    for client in sessions.values():
        client.close()


def test_allowed_roles_can_read(world: World) -> None:
    for method, path, roles in routes(world.app):
        if method != "GET" or roles is None or path.endswith(".pdf"):
            continue
        if "/viewer/" in path:  # needs a computed dose: tests/api/test_viewer.py
            continue
        if "/doses/" in path or "/registrations/" in path:  # tests/api/test_image_pages.py
            continue
        url = concrete(path, world.ids)
        for role in roles:
            r = world.client.get(url, headers=world.as_(role), follow_redirects=False)
            assert r.status_code in (200, 303), (path, role, r.status_code, r.text[:300])


def test_a_viewer_cannot_write_anything(world: World) -> None:
    viewer = world.as_(Role.VIEWER)
    pid = world.ids["patient_id"]
    writes = [
        ("POST", "/api/v1/patients", {"external_id": "V-1"}),
        ("PUT", f"/api/v1/patients/{pid}/case", case_for("EX-001")),
        ("POST", f"/api/v1/patients/{pid}/assessments", None),
        ("POST", f"/api/v1/patients/{pid}/labs", None),
    ]
    before = len(world.store.audit_log())
    for method, url, body in writes:
        assert world.client.request(method, url, json=body, headers=viewer).status_code == 403
    assert len(world.store.audit_log()) == before


# --------------------------------------------------------------------------- CRUD
def test_patient_crud_and_search(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    r = world.client.post("/api/v1/patients", json={"external_id": "CRUD-7"}, headers=clin)
    assert r.status_code == 201
    patient = r.json()
    assert patient["created_by"] == "clinician" and patient["latest_version"] is None
    again = world.client.post("/api/v1/patients", json={"external_id": "CRUD-7"}, headers=clin)
    assert again.status_code == 409
    found = world.client.get(
        "/api/v1/patients", params={"search": "crud"}, headers=world.as_(Role.VIEWER)
    ).json()
    assert [p["external_id"] for p in found] == ["CRUD-7"]
    url = f"/api/v1/patients/{patient['id']}"
    assert world.client.get(url, headers=clin).json()["external_id"] == "CRUD-7"
    r = world.client.request("DELETE", url, json={"reason": "entered twice"}, headers=clin)
    assert r.status_code == 200 and r.json()["deleted"] is True
    listed = world.client.get("/api/v1/patients", params={"search": "CRUD"}, headers=clin)
    assert listed.json() == []
    everyone = world.client.get(
        "/api/v1/patients", params={"search": "CRUD", "include_deleted": True}, headers=clin
    )
    assert [p["id"] for p in everyone.json()] == [patient["id"]]
    late = world.client.post(f"{url}/assessments", headers=clin)
    assert late.status_code in (404, 409)


def test_case_versions_and_validation_messages(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    pid = world.client.post(
        "/api/v1/patients", json={"external_id": "CASE-1"}, headers=clin
    ).json()["id"]
    url = f"/api/v1/patients/{pid}/case"
    assert world.client.get(url, headers=clin).status_code == 404
    bad = case_for("CASE-1", labs__bilirubin={"value": 40, "unit": "mg/dL"}, patient__ecog=7)
    r = world.client.put(url, json=bad, headers=clin)
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert {"labs.bilirubin.value", "patient.ecog"} <= fields
    other = world.client.put(url, json=case_for("SOMEONE-ELSE"), headers=clin)
    assert other.status_code == 422
    assert other.json()["problems"][0]["field"] == "patient.id"
    assert world.client.put(url, json=case_for("CASE-1"), headers=clin).json()["version"] == 1
    second = world.client.put(url, json=case_for("CASE-1", patient__ecog=2), headers=clin)
    assert second.json()["version"] == 2
    versions = world.client.get(f"{url}/versions", headers=clin).json()
    assert [v["version"] for v in versions] == [1, 2]
    first = world.client.get(url, params={"version": 1}, headers=clin).json()
    assert first["document"]["patient"]["ecog"] == BASE["patient"]["ecog"]
    assert world.client.get(url, headers=clin).json()["document"]["patient"]["ecog"] == 2


def test_assessment_is_stored_reproducible_and_printable(world: World) -> None:
    aid = world.ids["assessment_id"]
    viewer = world.as_(Role.VIEWER)
    record = world.client.get(f"/api/v1/assessments/{aid}", headers=viewer).json()
    verdicts = {o["modality"]: o["verdict"] for o in record["result"]["options"]}
    assert len(verdicts) == 15 and record["case_version"] == 1
    r = world.client.get(f"/api/v1/assessments/{aid}/reproduce", headers=viewer)
    assert r.json() == {"assessment_id": aid, "reproducible": True}
    pdf = world.client.get(f"/api/v1/assessments/{aid}/report.pdf", headers=viewer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    listed = world.client.get(
        f"/api/v1/patients/{world.ids['patient_id']}/assessments", headers=viewer
    ).json()
    assert aid in [a["id"] for a in listed]


def test_plan_solve_and_approval_roles(world: World) -> None:
    clin, phys = world.as_(Role.CLINICIAN), world.as_(Role.PHYSICIST)
    pid = world.ids["patient_id"]
    plan = example("plan-", "plan-partition-glass.yaml")
    plid = world.client.post(f"/api/v1/patients/{pid}/plans", json=plan, headers=clin).json()["id"]
    early = world.client.post(f"/api/v1/plans/{plid}/approve", json={"result_id": 1}, headers=phys)
    assert early.status_code == 409  # nothing solved yet
    solved = world.client.post(f"/api/v1/plans/{plid}/solve", headers=clin)
    assert solved.status_code == 201
    assert solved.json()["result"]["injected_activity_gbq"] > 0
    reviewed = {"result_id": solved.json()["id"]}
    for role in (Role.VIEWER, Role.CLINICIAN, Role.ADMIN):
        r = world.client.post(
            f"/api/v1/plans/{plid}/approve", json=reviewed, headers=world.as_(role)
        )
        assert r.status_code == 403
        assert world.client.get(f"/api/v1/plans/{plid}", headers=clin).json()["status"] == "solved"
    r = world.client.post(f"/api/v1/plans/{plid}/approve", json=reviewed, headers=phys)
    assert r.status_code == 200
    assert r.json()["status"] == "approved" and r.json()["approved_by"] == "physicist"
    again = world.client.post(f"/api/v1/plans/{plid}/approve", json=reviewed, headers=phys)
    assert again.status_code == 409
    pdf = world.client.get(f"/api/v1/plans/{plid}/report.pdf", headers=world.as_(Role.VIEWER))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    results = world.client.get(f"/api/v1/plans/{plid}/results", headers=clin).json()
    assert len(results) == 1


def test_approval_names_the_reviewed_result(world: World) -> None:
    """A result solved after the review is never signed unseen (409, nothing approved)."""
    clin, phys = world.as_(Role.CLINICIAN), world.as_(Role.PHYSICIST)
    pid = world.ids["patient_id"]
    plan = example("plan-", "plan-partition-glass.yaml")
    plid = world.client.post(f"/api/v1/patients/{pid}/plans", json=plan, headers=clin).json()["id"]
    seen = world.client.post(f"/api/v1/plans/{plid}/solve", headers=clin).json()["id"]
    newer = world.client.post(f"/api/v1/plans/{plid}/solve", headers=clin).json()["id"]
    url = f"/api/v1/plans/{plid}/approve"
    stale = world.client.post(url, json={"result_id": seen}, headers=phys)
    assert stale.status_code == 409 and f"that is result {newer}" in stale.json()["detail"]
    assert world.client.get(f"/api/v1/plans/{plid}", headers=clin).json()["status"] == "solved"
    missing = world.client.post(url, headers=phys)
    assert missing.status_code == 422
    ok = world.client.post(url, json={"result_id": newer}, headers=phys)
    assert ok.status_code == 200 and ok.json()["approved_result_id"] == newer
    page = session_client(world.app, Role.PHYSICIST).get(f"/plans/{plid}")
    assert page.status_code == 200


def test_unsafe_plan_is_refused_with_its_violations(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    pid = world.ids["patient_id"]
    plan = example("plan-", "plan-partition-glass.yaml") | {"lung_shunt_fraction": 0.3}
    plid = world.client.post(f"/api/v1/patients/{pid}/plans", json=plan, headers=clin).json()["id"]
    r = world.client.post(f"/api/v1/plans/{plid}/solve", headers=clin)
    assert r.status_code == 409
    body = r.json()
    assert body["detail"] == "unsafe plan refused" and body["violations"]
    assert any("lung" in v for v in body["violations"])
    assert world.client.get(f"/api/v1/plans/{plid}/results", headers=clin).json() == []
    no_result = world.client.get(f"/api/v1/plans/{plid}/report.pdf", headers=clin)
    assert no_result.status_code == 409


def test_only_a_physicist_records_an_override(world: World) -> None:
    pid = world.ids["patient_id"]
    plan = example("plan-", "plan-partition-glass.yaml") | {
        "lung_shunt_fraction": 0.3,
        "override": {
            "reason": "Palliation of refractory carcinoid syndrome, discussed at board",
            "approved_by": "physicist",
        },
    }
    url = f"/api/v1/patients/{pid}/plans"
    for role in (Role.CLINICIAN, Role.ADMIN, Role.VIEWER):
        refused = world.client.post(url, json=plan, headers=world.as_(role))
        assert refused.status_code == 403
    r = world.client.post(url, json=plan, headers=world.as_(Role.PHYSICIST))
    assert r.status_code == 201
    by_clinician = world.client.post(
        f"/api/v1/plans/{r.json()['id']}/solve", headers=world.as_(Role.CLINICIAN)
    )
    assert by_clinician.status_code == 403  # applying the override is the physicist's
    solved = world.client.post(
        f"/api/v1/plans/{r.json()['id']}/solve", headers=world.as_(Role.PHYSICIST)
    )
    assert solved.status_code == 201
    assert solved.json()["override"]["approved_by"] == "physicist"
    actions = [e.action for e in world.store.audit_log(patient_id=pid)]
    assert "safety_override" in actions


def test_bad_plan_names_its_fields(world: World) -> None:
    pid = world.ids["patient_id"]
    plan = example("plan-", "plan-partition-glass.yaml") | {"lung_shunt_fraction": 1.5}
    r = world.client.post(
        f"/api/v1/patients/{pid}/plans", json=plan, headers=world.as_(Role.CLINICIAN)
    )
    assert r.status_code == 422
    assert "lung_shunt_fraction" in {p["field"] for p in r.json()["problems"]}


def test_not_found_is_404(world: World) -> None:
    viewer = world.as_(Role.VIEWER)
    for url in (
        "/api/v1/patients/999999",
        "/api/v1/assessments/999999",
        "/api/v1/plans/999999",
        "/api/v1/patients/999999/case",
        f"/api/v1/patients/{world.ids['patient_id']}/images/999999/file",
    ):
        assert world.client.get(url, headers=viewer).status_code == 404, url


def test_clinical_record(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    pid = world.ids["patient_id"]
    base = f"/api/v1/patients/{pid}"
    r = world.client.post(
        f"{base}/treatments",
        json={"modality": "tare_glass", "date": "2026-02-01", "details": {"activity_gbq": 2.4}},
        headers=clin,
    )
    assert r.status_code == 201
    r = world.client.post(
        f"{base}/labs",
        json={"date": "2026-02-15", "analyte": "bilirubin", "value": 1.1, "unit": "mg/dL"},
        headers=clin,
    )
    assert r.status_code == 201
    bad = world.client.post(
        f"{base}/labs",
        json={"date": "2026-02-15", "analyte": "unobtainium", "value": 1, "unit": "mg/dL"},
        headers=clin,
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "analyte"
    r = world.client.post(
        f"{base}/toxicities",
        json={"date": "2026-02-20", "term": "Fatigue", "grade": 1},
        headers=clin,
    )
    assert r.status_code == 201
    r = world.client.post(
        f"{base}/response-timepoints",
        json={"date": "2026-05-01", "criterion": "mrecist", "overall": "PR"},
        headers=clin,
    )
    assert r.status_code == 201
    viewer = world.as_(Role.VIEWER)
    assert world.client.get(f"{base}/treatments", headers=viewer).json()[-1]["modality"] == (
        "tare_glass"
    )
    assert world.client.get(f"{base}/labs", headers=viewer).json()[-1]["value"] == 1.1
    assert world.client.get(f"{base}/toxicities", headers=viewer).json()[-1]["grade"] == 1
    export = world.client.get(f"{base}/export", headers=viewer).json()
    assert export["schema"] == "netlm/patient-export/v1"
    assert export["treatments"] and export["labs"] and export["toxicity_events"]


def test_response_file_is_assessed_and_recorded(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    pid = world.ids["patient_id"]
    document = example("response-", "response-recist.yaml")
    before = len(
        world.client.get(f"/api/v1/patients/{pid}/response-timepoints", headers=clin).json()
    )
    r = world.client.post(f"/api/v1/patients/{pid}/response", json=document, headers=clin)
    assert r.status_code == 201
    report = r.json()
    criteria = [x["criterion"] for x in report["results"]]
    assert criteria == document["criteria"]
    points = world.client.get(f"/api/v1/patients/{pid}/response-timepoints", headers=clin).json()
    follow_ups = len(document["timepoints"]) - 1
    assert len(points) - before == follow_ups * len(criteria)
    recist = [p for p in points if p["criterion"] == "recist1.1"][-follow_ups:]
    assert [p["overall"] for p in recist] == [
        t["overall"] for t in report["results"][0]["timepoints"][1:]
    ]
    wrong = copy.deepcopy(document) | {"case": "NOT-THIS-PATIENT"}
    assert (
        world.client.post(f"/api/v1/patients/{pid}/response", json=wrong, headers=clin).status_code
        == 422
    )


def test_images_upload_dose_and_rt_dose_download(world: World, tmp_path: Path) -> None:
    from netlm.imaging.io import write_image
    from netlm.voxel.phantom import liver_phantom

    clin = world.as_(Role.CLINICIAN)
    pid = world.client.post(
        "/api/v1/patients", json={"external_id": "DOSE-1"}, headers=clin
    ).json()["id"]
    phantom = liver_phantom(seed=0)
    uploads: dict[str, int] = {}
    files = {"activity": phantom.activity} | {
        name: phantom.masks[name] for name in ("liver", "tumour_1", "lung")
    }
    for name, volume in files.items():
        path = write_image(volume, tmp_path / f"{name}.nii.gz")
        kind = "y90_pet" if name == "activity" else "segmentation"
        r = world.client.post(
            f"/api/v1/patients/{pid}/images",
            data={"kind": kind, "description": name},
            files={"file": (path.name, path.read_bytes(), "application/gzip")},
            headers=clin,
        )
        assert r.status_code == 201, r.text
        uploads[name] = r.json()["id"]
    stored = world.client.get(
        f"/api/v1/patients/{pid}/images/{uploads['liver']}/file", headers=world.as_(Role.VIEWER)
    )
    assert stored.content == (tmp_path / "liver.nii.gz").read_bytes()
    r = world.client.post(
        f"/api/v1/patients/{pid}/dose",
        json={
            "activity_image_id": uploads["activity"],
            "mask_image_ids": [uploads["liver"], uploads["tumour_1"], uploads["lung"]],
            "activity_gbq": 2.0,
        },
        headers=clin,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    vois = body["statistics"]["vois"]
    assert set(vois) == {"liver", "tumour_1", "lung"}
    assert vois["tumour_1"]["mean_gy"] > vois["liver"]["mean_gy"] > 0
    rtdose = world.client.get(
        f"/api/v1/patients/{pid}/images/{body['rtdose_image_id']}/file", headers=clin
    )
    assert rtdose.status_code == 200 and rtdose.headers["content-type"] == "application/dicom"
    ds = pydicom.dcmread(io.BytesIO(rtdose.content))
    assert ds.Modality == "RTDOSE" and ds.DoseUnits == "GY"
    wrong = world.client.post(
        f"/api/v1/patients/{pid}/dose",
        json={"activity_image_id": 999999, "mask_image_ids": [uploads["liver"]]},
        headers=clin,
    )
    assert wrong.status_code == 422
    assert wrong.json()["problems"][0]["field"] == "activity_image_id"
    board = session_client(world.app, Role.VIEWER).get(f"/patients/{pid}")
    assert board.status_code == 200 and "Voxel dose" in board.text


def test_upload_refuses_empty_files_and_unknown_kinds(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    url = f"/api/v1/patients/{world.ids['patient_id']}/images"
    empty = world.client.post(
        url,
        data={"kind": "ct"},
        files={"file": ("x.nii", b"", "application/octet-stream")},
        headers=clin,
    )
    assert empty.status_code == 422
    odd = world.client.post(
        url,
        data={"kind": "xray-vision"},
        files={"file": ("x.nii", b"1", "text/plain")},
        headers=clin,
    )
    assert odd.status_code == 422
    assert not any(p.name.endswith("x.nii") for p in world.files.rglob("*"))


def test_users_and_audit_are_for_admins(world: World) -> None:
    admin = world.as_(Role.ADMIN)
    r = world.client.post(
        "/api/v1/users",
        json={"username": "nurse.k", "password": "long-enough-pw", "role": "viewer"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["role"] == "viewer"
    short = world.client.post(
        "/api/v1/users",
        json={"username": "x.y", "password": "short", "role": "viewer"},
        headers=admin,
    )
    assert short.status_code == 422
    assert "nurse.k" in [
        u["username"] for u in world.client.get("/api/v1/users", headers=admin).json()
    ]
    audit = world.client.get("/api/v1/audit", params={"limit": 5}, headers=admin).json()
    assert len(audit) == 5 and all("action" in e for e in audit)


# --------------------------------------------------------------------------- sessions
def test_cookie_sessions_need_the_csrf_token_to_write(world: World) -> None:
    client = session_client(world.app, Role.CLINICIAN)
    cookie = client.cookies.get("netlm_session")
    assert cookie
    browser = TestClient(world.app)
    login = browser.post(
        "/login",
        data={
            "username": "clinician",
            "password": PASSWORDS[Role.CLINICIAN],
            "login_csrf": login_csrf(browser),
        },
        follow_redirects=False,
    )
    set_cookie = login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert client.get("/api/v1/auth/me").json()["username"] == "clinician"
    refused = client.post("/api/v1/patients", json={"external_id": "CSRF-1"})
    assert refused.status_code == 403
    ok = client.post(
        "/api/v1/patients", json={"external_id": "CSRF-1"}, headers={CSRF_HEADER: csrf_of(client)}
    )
    assert ok.status_code == 201
    form_without_token = client.post(
        "/patients", data={"external_id": "CSRF-2"}, follow_redirects=False
    )
    assert form_without_token.status_code == 403
    tampered = TestClient(world.app, cookies={"netlm_session": cookie[:-4] + "AAAA"})
    assert tampered.get("/patients", follow_redirects=False).status_code == 303
    out = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"


def test_login_page(world: World) -> None:
    client = TestClient(world.app)
    assert "Log in" in client.get("/login").text
    wrong = client.post(
        "/login", data={"username": "admin", "password": "wrong", "login_csrf": login_csrf(client)}
    )
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    r = client.post(
        "/login",
        data={
            "username": "viewer",
            "password": PASSWORDS[Role.VIEWER],
            "next": "//evil.example",
            "login_csrf": login_csrf(client),
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/patients"


def test_login_csrf_needs_the_pre_session_token(world: World) -> None:
    """A cross-site form cannot log a browser into the attacker's account."""
    form = {"username": "viewer", "password": PASSWORDS[Role.VIEWER]}
    bare = TestClient(world.app).post("/login", data=form, follow_redirects=False)
    assert bare.status_code == 403 and "netlm_session" not in bare.headers.get("set-cookie", "")
    client = TestClient(world.app)
    token = login_csrf(client)
    forged = client.post("/login", data={**form, "login_csrf": token[:-2] + "xx"})
    assert forged.status_code == 403
    other = TestClient(world.app)
    stolen = other.post("/login", data={**form, "login_csrf": token}, follow_redirects=False)
    assert stolen.status_code == 403  # a token without its cookie
    good = client.post(
        "/login", data={**form, "login_csrf": login_csrf(client)}, follow_redirects=False
    )
    assert good.status_code == 303 and "netlm_session" in good.headers["set-cookie"]


# --------------------------------------------------------------------------- pages
def test_case_form_shows_each_problem_next_to_its_field(world: World) -> None:
    client = session_client(world.app, Role.CLINICIAN)
    token = csrf_of(client)
    created = client.post(
        "/patients", data={"external_id": "FORM-1", "csrf_token": token}, follow_redirects=False
    )
    assert created.status_code == 303
    case_url = created.headers["location"]
    form = client.get(case_url)
    assert form.status_code == 200 and 'value="FORM-1"' in form.text
    fields = {
        "csrf_token": token,
        "patient.id": "FORM-1",
        "patient.age_years": "sixty",
        "patient.ecog": "1",
        "labs.bilirubin.value": "40",
        "labs.bilirubin.unit": "mg/dL",
        "extra_yaml": "liver:\n  lesions:\n    - {id: L1, segment: 12}\n",
    }
    r = client.post(case_url, data=fields)
    assert r.status_code == 422
    for name, words in (
        ("patient.age_years", "must be a number"),
        ("labs.bilirubin.value", "implausible"),
    ):
        block = re.search(
            rf'<div class="field has-error" data-field="{re.escape(name)}">(.*?)</div>\s*</div>',
            r.text,
            re.S,
        )
        assert block is not None, name
        assert words in r.text[block.start() : block.end() + 400], name
    assert "liver.lesions[0].segment" in r.text
    fields |= {
        "patient.age_years": "61",
        "labs.bilirubin.value": "0.9",
        "extra_yaml": "liver:\n  lesions:\n    - {id: L1, segment: 7}\n",
    }
    saved = client.post(case_url, data=fields, follow_redirects=False)
    assert saved.status_code == 303
    pid = int(case_url.split("/")[2])
    case = world.store.current_case(pid)
    assert case.patient.age_years == 61 and case.liver.lesions[0].segment == 7
    assert case.labs.bilirubin is not None and case.labs.bilirubin.value == 0.9
    again = client.get(case_url)
    assert 'value="61"' in again.text
    # the recorded lesion is shown in the lesion table (no longer in the YAML box)
    segment = re.search(r'name="liver\.lesions\[0\]\.segment".*?</select>', again.text, re.S)
    assert segment is not None and '<option value="7" selected>' in segment.group(0)
    assert 'name="liver.lesions[0].id" value="L1"' in again.text
    assert "segment: 7" not in again.text


def test_board_page_shows_scores_verdicts_timeline_response_and_dose(world: World) -> None:
    pid = world.ids["patient_id"]
    clin = world.as_(Role.CLINICIAN)
    world.client.post(
        f"/api/v1/patients/{pid}/response",
        json=example("response-", "response-recist.yaml"),
        headers=clin,
    )
    page = session_client(world.app, Role.VIEWER).get(f"/patients/{pid}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "WHO 2019 grade",
        "Child-Pugh",
        "Treatment options",
        "Radioembolization, resin microspheres",
        "Work-up still needed",
        "Treatment timeline",
        "lu177 dotatate",
        "<svg",
        "Dose summary",
        "Dose-volume histograms",
        "Absorbed doses",
    ):
        assert expected in text, expected
    assert 'id="run-assessment"' not in text  # a viewer gets no write buttons


def test_pages_refuse_viewers_with_a_page(world: World) -> None:
    viewer = session_client(world.app, Role.VIEWER)
    r = viewer.get(f"/patients/{world.ids['patient_id']}/case")
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"] and "Not allowed" in r.text
    plan = viewer.get(f"/plans/{world.ids['plan_id']}")
    assert plan.status_code == 200 and 'id="approve-plan"' not in plan.text


# --------------------------------------------------------------------------- logs
def test_logs_carry_no_patient_data(world: World, caplog: pytest.LogCaptureFixture) -> None:
    clin = world.as_(Role.CLINICIAN)
    caplog.set_level(logging.DEBUG)
    r = world.client.post("/api/v1/patients", json={"external_id": PHI_ID}, headers=clin)
    pid = r.json()["id"]
    world.client.post("/api/v1/patients", json={"external_id": PHI_ID}, headers=clin)  # 409
    world.client.get("/api/v1/patients", params={"search": PHI_ID}, headers=clin)
    bad = case_for(PHI_ID, patient__sex=f"{PHI_ID}-sex")
    assert (
        world.client.put(f"/api/v1/patients/{pid}/case", json=bad, headers=clin).status_code == 422
    )
    world.client.put(f"/api/v1/patients/{pid}/case", json=case_for(PHI_ID), headers=clin)
    world.client.post(f"/api/v1/patients/{pid}/assessments", headers=clin)
    world.client.put(f"/api/v1/patients/{pid}/case", json=case_for("Other-PHI"), headers=clin)
    session = session_client(world.app, Role.CLINICIAN)
    session.get(f"/patients/{pid}")
    session.get("/patients", params={"q": PHI_ID})
    session.post(
        f"/patients/{pid}/case",
        data={"csrf_token": csrf_of(session), "patient.id": PHI_ID, "patient.sex": PHI_ID},
    )
    # the server's records (the test's own HTTP client logs its request URLs)
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    messages = "\n".join(r.getMessage() for r in server)
    assert "netlm.api" in {r.name for r in server}
    assert "/api/v1/patients/{patient_id}/case" in messages
    assert PHI_ID not in messages
    assert PHI_ID.lower() not in messages.lower()
    assert "Other-PHI" not in messages


def test_unexpected_errors_are_500_without_details(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom with {PHI_ID}")

    monkeypatch.setattr(world.store, "list_patients", explode)
    caplog.set_level(logging.DEBUG)
    r = world.client.get("/api/v1/patients", headers=world.as_(Role.VIEWER))
    assert r.status_code == 500
    assert PHI_ID not in r.text and r.json()["error_id"]
    logged = "\n".join(x.getMessage() for x in caplog.records)
    assert r.json()["error_id"] in logged and "RuntimeError" in logged
    assert PHI_ID not in logged


def test_date_fields_are_dates(world: World) -> None:
    clin = world.as_(Role.CLINICIAN)
    r = world.client.post(
        f"/api/v1/patients/{world.ids['patient_id']}/treatments",
        json={"modality": "tace", "date": "not-a-date"},
        headers=clin,
    )
    assert r.status_code == 422


def test_answers_carry_security_headers(world: World) -> None:
    for url in ("/login", "/api/v1/health"):
        headers = world.client.get(url).headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert "script-src 'none'" in headers["content-security-policy"]
    assert "no-store" not in world.client.get("/static/netlm.css").headers.get("cache-control", "")


def test_expired_session_on_a_form_gets_a_log_in_page(world: World) -> None:
    client = TestClient(world.app, cookies={"netlm_session": "expired.or.forged"})
    r = client.post("/patients", data={"external_id": "X"}, follow_redirects=False)
    assert r.status_code == 401 and "text/html" in r.headers["content-type"]
    assert 'href="/login"' in r.text


# --------------------------------------------------------------------------- serve helpers
def test_seed_demo_adds_the_examples_once(tmp_path: Path) -> None:
    from netlm.workflows.demo import seed_demo

    with Store(f"sqlite:///{tmp_path / 'demo.db'}") as store:
        added = seed_demo(store)
        ids = {p.external_id for p in added}
        assert {"EX-001", "EX-002", "EX-003", "EX-004"} <= ids
        ex1 = store.find_patient("EX-001").id
        assert store.assessments(ex1) and store.list_plans(ex1)
        assert store.response_timepoints(ex1)
        assert seed_demo(store) == []


def test_first_admin_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netlm.commands.serve import ADMIN_PASSWORD_ENV, database_url, ensure_admin

    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "from-the-environment")
    url = database_url(str(tmp_path / "admin.db"))
    assert url is not None and url.startswith("sqlite:////")
    with Store(url) as store:
        assert ensure_admin(store, "root", None) is True
        assert ensure_admin(store, "root", None) is False
        user = store.authenticate("root", "from-the-environment")
        assert user is not None and user.role is Role.ADMIN
