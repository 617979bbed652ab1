"""The web tumour-board page and the API show what an assessment assumed absent (#10)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from conftest import DELETE, edited
from netlm.api import create_app
from netlm.store.repository import Role, Store

PASSWORD = "board-assumptions-passphrase-7"


def test_board_page_and_api_list_assumptions(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'registry.db'}")
    store.create_user("clin", PASSWORD, Role.CLINICIAN, actor="test")
    app = create_app(
        store, secret_key="test-secret-of-at-least-thirty-two-bytes", files_dir=tmp_path / "files"
    )
    api = TestClient(app)
    token = api.post("/api/v1/auth/token", json={"username": "clin", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    pid = api.post("/api/v1/patients", json={"external_id": "MD-1"}, headers=headers).json()["id"]
    case = json.loads(
        json.dumps(
            edited(
                liver__biliary_dilatation=DELETE,
                history__contrast_allergy=DELETE,
                history__irreversible_coagulopathy=DELETE,
            ),
            default=str,
        )
    )
    case["patient"]["id"] = "MD-1"
    assert api.put(f"/api/v1/patients/{pid}/case", json=case, headers=headers).status_code == 201
    created = api.post(f"/api/v1/patients/{pid}/assessments", headers=headers)
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    assert result["provenance"]["missing_findings"] == "assume_absent"
    assert {a["field"] for a in result["assumptions"]} == {
        "liver.biliary_dilatation",
        "history.contrast_allergy",
        "history.irreversible_coagulopathy",
    }
    browser = TestClient(app)
    form = browser.get("/login").text
    csrf = re.search(r'name="login_csrf" value="([^"]+)"', form)
    assert csrf is not None
    login = browser.post(
        "/login",
        data={"username": "clin", "password": PASSWORD, "login_csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert login.status_code == 303
    page = browser.get(f"/patients/{pid}")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert 'class="effect-assumption"' in text
    assert "absent: intrahepatic biliary dilatation" in text
    assert "absent: irreversible coagulopathy" in text
    assert "confirm at the pre-procedure allergy check" in text
