"""An API client proposes, reads, confirms or rejects a CT registration, as the pages do (#14).

Through the live app with bearer tokens (no CSRF token: that is for browser
sessions) against a real SQLite registry.  The phantom's CT lies CT_SHIFT_MM
from its 90Y PET in another frame of reference, so ``POST .../dose`` with it
computes nothing and answers ``202`` with the proposal; confirmed through
``POST .../registrations/{pid}/confirm`` the dose records the transform and who
confirmed it; rejected, it can no longer be confirmed; a viewer can do neither.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_image_pages import (
    CT_SHIFT_MM,
    Site,
    bearer,
    ids_of,
    make_site,
    upload_pet_and_other_frame_ct,
)

from netlm.api.roles import ROLES_KEY
from netlm.store.repository import Role
from netlm.voxel.phantom import Phantom, liver_phantom
from pacs.series import PHANTOM_SHAPE

WRITER_ROLES = ["admin", "clinician", "physicist"]


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=PHANTOM_SHAPE, spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture
def uploaded(phantom: Phantom, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A patient with PET, masks and a CT in another frame uploaded; the dose request."""
    site = make_site(tmp_path)
    client, pid, body = upload_pet_and_other_frame_ct(site, phantom, tmp_path, "IMG-API-REG")
    try:
        yield {"site": site, "pid": pid, "body": body, "session": client}
    finally:
        site.store.close()


def _propose(uploaded: dict[str, Any]) -> tuple[TestClient, dict[str, str], dict[str, Any]]:
    """``POST .../dose`` with the CT of another frame, as a physicist's API client."""
    site, pid = uploaded["site"], uploaded["pid"]
    api, headers = TestClient(site.app), bearer(site, Role.PHYSICIST)
    r = api.post(f"/api/v1/patients/{pid}/dose", json=uploaded["body"], headers=headers)
    assert r.status_code == 202, r.text
    proposal: dict[str, Any] = r.json()
    assert r.headers["location"] == f"/api/v1/patients/{pid}/registrations/{proposal['id']}"
    return api, headers, proposal


def _decisions(site: Site, pid: int) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.actor, str(e.details.get("proposal")))
        for e in site.store.audit_log(patient_id=pid)
        if e.details.get("what") == "registration"
    ]


def test_propose_read_and_confirm_through_the_api(uploaded: dict[str, Any]) -> None:
    site, pid = uploaded["site"], uploaded["pid"]
    api, headers, proposal = _propose(uploaded)
    pid_ = proposal["id"]
    url = f"/api/v1/patients/{pid}/registrations/{pid_}"
    assert ids_of(site, pid, "rtdose") == []  # nothing computed before confirmation
    assert (proposal["status"], proposal["proposed_by"]) == ("pending", "physicist")
    assert proposal["request"]["ct_image_id"] == uploaded["body"]["ct_image_id"]
    # Known truth: the CT lies CT_SHIFT_MM from the PET, unrotated.
    np.testing.assert_allclose(proposal["transform"]["translation_mm"], CT_SHIFT_MM, atol=3.0)
    assert proposal["transform"]["confirmed_by"] is None
    assert proposal["layers"] == {k: f"{url}/viewer/{k}.nii.gz" for k in ("activity", "ct")}

    r = api.get(url, headers=headers)
    assert r.status_code == 200 and r.json() == proposal
    listed = api.get(f"/api/v1/patients/{pid}/registrations", headers=headers).json()
    assert listed == [proposal]
    grids = {}
    for layer, layer_url in proposal["layers"].items():
        r = api.get(layer_url, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/gzip"
        grids[layer] = nib.Nifti1Image.from_bytes(gzip.decompress(r.content)).shape
    assert grids["ct"] == grids["activity"]  # the CT resampled onto the activity grid
    assert api.get(f"{url}/viewer/dose.nii.gz", headers=headers).status_code == 422

    # A viewer can neither read nor confirm it.
    viewer = bearer(site, Role.VIEWER)
    assert api.get(url, headers=viewer).status_code == 403
    assert api.get(proposal["layers"]["ct"], headers=viewer).status_code == 403
    assert api.post(f"{url}/confirm", headers=viewer).status_code == 403
    # A browser session must send its CSRF token to the API; a bearer token needs none.
    assert uploaded["session"].post(f"{url}/confirm").status_code == 403
    assert ids_of(site, pid, "rtdose") == []

    r = api.post(f"{url}/confirm", headers=headers)
    assert r.status_code == 201, r.text
    dose = r.json()
    assert ids_of(site, pid, "rtdose") == [dose["rtdose_image_id"]]
    recorded = dose["statistics"]["registration"]["ct"]
    assert recorded["confirmed_by"] == "physicist"
    for key in ("translation_mm", "rotation_rad"):
        np.testing.assert_allclose(recorded[key], proposal["transform"][key], rtol=0, atol=1e-9)
    # The dose is the one of POST .../dose given that transform, confirmed: one pipeline.
    given = {**proposal["transform"], "confirmed_by": "physicist"}
    r = api.post(
        f"/api/v1/patients/{pid}/dose",
        json={**uploaded["body"], "ct_registration": given},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    direct_id, direct = r.json()["rtdose_image_id"], r.json()["statistics"]["vois"]
    assert set(direct) == set(dose["statistics"]["vois"]) >= {"liver", "tumour"}
    for name, stats in direct.items():
        assert dose["statistics"]["vois"][name]["mean_gy"] == pytest.approx(
            stats["mean_gy"], rel=1e-12
        )
    rtdose = api.get(
        f"/api/v1/patients/{pid}/images/{dose['rtdose_image_id']}/file", headers=headers
    )
    assert rtdose.status_code == 200 and rtdose.headers["content-type"] == "application/dicom"

    # Confirmed once: gone, and not confirmed twice.
    assert api.get(url, headers=headers).status_code == 404
    assert api.get(proposal["layers"]["ct"], headers=headers).status_code == 404
    assert api.post(f"{url}/confirm", headers=headers).status_code == 404
    assert api.get(f"/api/v1/patients/{pid}/registrations", headers=headers).json() == []
    assert ids_of(site, pid, "rtdose") == [dose["rtdose_image_id"], direct_id]
    assert _decisions(site, pid) == [
        ("propose", "physicist", pid_),
        ("confirm", "physicist", pid_),
    ]
    reads = {
        str(e.details.get("what"))
        for e in site.store.audit_log(patient_id=pid)
        if e.action == "read" and e.actor == "physicist"
    }
    assert {"registration proposal", "registration ct", "registration activity"} <= reads


def test_a_rejected_proposal_cannot_be_confirmed(uploaded: dict[str, Any]) -> None:
    site, pid = uploaded["site"], uploaded["pid"]
    api, headers, proposal = _propose(uploaded)
    url = f"/api/v1/patients/{pid}/registrations/{proposal['id']}"
    r = api.post(f"{url}/reject", json={"reason": "liver misaligned"}, headers=headers)
    assert r.status_code == 200 and r.json()["layers"] == {}
    r = api.post(f"{url}/confirm", headers=headers)
    assert r.status_code == 404 and "rejected by physicist" in r.text
    assert api.get(url, headers=headers).status_code == 404
    assert api.get(proposal["layers"]["ct"], headers=headers).status_code == 404
    assert ids_of(site, pid, "rtdose") == []
    assert [d[0] for d in _decisions(site, pid)] == ["propose", "reject"]


def test_unknown_patient_or_proposal_is_not_found(uploaded: dict[str, Any]) -> None:
    site, pid = uploaded["site"], uploaded["pid"]
    api, headers = TestClient(site.app), bearer(site, Role.PHYSICIST)
    for url in (
        f"/api/v1/patients/{pid}/registrations/0123456789abcdef",
        f"/api/v1/patients/{pid + 1}/registrations/0123456789abcdef",
    ):
        assert api.get(url, headers=headers).status_code == 404
        assert api.post(f"{url}/confirm", headers=headers).status_code == 404
    r = api.post(f"/api/v1/patients/{pid}/registrations/not-hex/confirm", headers=headers)
    assert r.status_code == 422


def test_the_openapi_document_lists_the_registration_routes(uploaded: dict[str, Any]) -> None:
    site = uploaded["site"]
    doc = (
        TestClient(site.app)
        .get("/api/v1/openapi.json", headers=bearer(site, Role.VIEWER))
        .json()["paths"]
    )
    base = "/api/v1/patients/{patient_id}/registrations/{proposal_id}"
    for method, path in (
        ("get", base),
        ("get", f"{base}/viewer/{{layer}}.nii.gz"),
        ("post", f"{base}/confirm"),
        ("post", f"{base}/reject"),
        ("get", "/api/v1/patients/{patient_id}/registrations"),
    ):
        assert doc[path][method][ROLES_KEY] == WRITER_ROLES, (method, path)
    dose = doc["/api/v1/patients/{patient_id}/dose"]["post"]["responses"]
    assert dose["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/DoseOut")
    assert dose["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/RegistrationOut")
    confirmed = doc[f"{base}/confirm"]["post"]["responses"]["201"]
    assert confirmed["content"]["application/json"]["schema"]["$ref"].endswith("/DoseOut")
