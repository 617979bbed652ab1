"""A proposed CT registration can be rejected; a new one replaces the pending one (#14).

Through the live app (session cookie and CSRF token for the page, bearer token
for the API) against a real SQLite registry: the phantom's CT lies in another
frame of reference than its 90Y PET, so asking for the dose with it stores a
proposal and computes nothing.  Rejected — from the page or through
``POST /api/v1/patients/{id}/registrations/{pid}/reject`` — it can no longer be
shown or confirmed, its transform is refused when given again, no dose is ever
computed with it, and the decision is in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api import session_client
from test_image_pages import (
    Site,
    bearer,
    dose_form,
    ids_of,
    make_site,
    upload_pet_and_other_frame_ct,
)

from netlm.store.repository import Role
from netlm.voxel.phantom import Phantom, liver_phantom
from pacs.series import PHANTOM_SHAPE


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=PHANTOM_SHAPE, spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture
def proposed(phantom: Phantom, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A patient with PET, masks and CT uploaded, and one proposal for (PET, CT)."""
    site = make_site(tmp_path)
    client, pid, form = upload_pet_and_other_frame_ct(site, phantom, tmp_path, "IMG-REJECT")
    r = dose_form(client, pid, **form)
    assert r.status_code == 303 and "/registrations/" in r.headers["location"], r.text
    try:
        yield {
            "site": site,
            "client": client,
            "pid": pid,
            "form": form,
            "url": r.headers["location"],
        }
    finally:
        site.store.close()


def _api(site: Site, role: Role = Role.PHYSICIST) -> tuple[TestClient, dict[str, str]]:
    return TestClient(site.app), bearer(site, role)


def _pending(site: Site, pid: int) -> list[dict[str, Any]]:
    api, headers = _api(site)
    r = api.get(f"/api/v1/patients/{pid}/registrations", headers=headers)
    assert r.status_code == 200, r.text
    listed: list[dict[str, Any]] = r.json()
    return listed


def _decisions(site: Site, pid: int) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.actor, str(e.details.get("proposal")))
        for e in site.store.audit_log(patient_id=pid)
        if e.details.get("what") == "registration"
    ]


def test_a_new_proposal_for_the_same_pair_replaces_the_pending_one(
    proposed: dict[str, Any],
) -> None:
    site, client, pid = proposed["site"], proposed["client"], proposed["pid"]
    first = proposed["url"].rsplit("/", 1)[1]
    assert [p["id"] for p in _pending(site, pid)] == [first]
    r = dose_form(client, pid, **proposed["form"])
    assert r.status_code == 303, r.text
    second = r.headers["location"].rsplit("/", 1)[1]
    assert second != first
    listed = _pending(site, pid)
    assert [p["id"] for p in listed] == [second]
    assert listed[0]["status"] == "pending" and listed[0]["proposed_by"] == "physicist"
    assert listed[0]["request"]["ct_image_id"] == proposed["form"]["ct_image_id"]
    assert client.get(proposed["url"]).status_code == 404  # the replaced one is gone
    board = client.get(f"/patients/{pid}").text
    assert f"/registrations/{second}" in board and f"/registrations/{first}" not in board
    assert client.get(r.headers["location"]).status_code == 200
    assert _decisions(site, pid) == [
        ("propose", "physicist", first),
        ("propose", "physicist", second),
    ]
    replaced = [e for e in site.store.audit_log(patient_id=pid) if e.action == "propose"]
    assert replaced[-1].details["replaces"] == [first]
    assert ids_of(site, pid, "rtdose") == []


def test_rejected_from_the_page_it_is_never_used_for_a_dose(proposed: dict[str, Any]) -> None:
    site, client, pid, url = proposed["site"], proposed["client"], proposed["pid"], proposed["url"]
    proposal_id = url.rsplit("/", 1)[1]
    page = client.get(url)
    assert 'id="reject-registration"' in page.text
    transform = _pending(site, pid)[0]["transform"]

    # Without the session's CSRF token, and for a viewer, nothing happens.
    assert client.post(f"{url}/reject", data={}, follow_redirects=False).status_code == 403
    viewer = session_client(site.app, Role.VIEWER)
    assert viewer.post(f"{url}/reject", data={}, follow_redirects=False).status_code == 403
    assert [p["id"] for p in _pending(site, pid)] == [proposal_id]

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        f"{url}/reject",
        data={"csrf_token": token.group(1), "reason": "liver misaligned"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/patients/{pid}?")
    assert _pending(site, pid) == []
    assert 'id="pending-registrations"' not in client.get(f"/patients/{pid}").text
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/ct.nii.gz").status_code == 404
    r = client.post(f"{url}/confirm", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert r.status_code == 404
    assert _decisions(site, pid) == [
        ("propose", "physicist", proposal_id),
        ("reject", "physicist", proposal_id),
    ]

    # The same transform given to the API, even marked confirmed, is refused by field.
    api, headers = _api(site)
    body = {
        "activity_image_id": proposed["form"]["activity_image_id"],
        "ct_image_id": proposed["form"]["ct_image_id"],
        "mask_image_ids": proposed["form"]["mask_image_ids"],
        "ct_registration": {**transform, "confirmed_by": "someone"},
    }
    r = api.post(f"/api/v1/patients/{pid}/dose", json=body, headers=headers)
    assert (
        r.status_code == 422 and "ct_registration" in r.text and "rejected by physicist" in r.text
    )
    assert ids_of(site, pid, "rtdose") == []


def test_rejected_through_the_api_and_unconfirmed_transforms_refused(
    proposed: dict[str, Any],
) -> None:
    site, pid, url = proposed["site"], proposed["pid"], proposed["url"]
    proposal_id = url.rsplit("/", 1)[1]
    api, headers = _api(site)
    transform = _pending(site, pid)[0]["transform"]
    body = {
        "activity_image_id": proposed["form"]["activity_image_id"],
        "ct_image_id": proposed["form"]["ct_image_id"],
        "mask_image_ids": proposed["form"]["mask_image_ids"],
        "ct_registration": transform,  # as proposed: nobody confirmed it
    }
    r = api.post(f"/api/v1/patients/{pid}/dose", json=body, headers=headers)
    assert r.status_code == 422 and "not confirmed" in r.text, r.text

    reject = f"/api/v1/patients/{pid}/registrations/{proposal_id}/reject"
    _, viewer = _api(site, Role.VIEWER)
    assert api.post(reject, json={}, headers=viewer).status_code == 403
    assert api.post(reject, json={"reason": "x" * 1001}, headers=headers).status_code == 422
    r = api.post(reject, json={"reason": "breath hold"}, headers=headers)
    assert r.status_code == 200, r.text
    record = r.json()
    assert (record["id"], record["status"], record["rejected_by"], record["reason"]) == (
        proposal_id,
        "rejected",
        "physicist",
        "breath hold",
    )
    assert api.post(reject, json={}, headers=headers).status_code == 404  # once only
    assert _pending(site, pid) == []
    assert _decisions(site, pid)[-1] == ("reject", "physicist", proposal_id)
    assert ids_of(site, pid, "rtdose") == []
