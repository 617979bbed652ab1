"""The dose viewer in a real headless Chromium, offline: the bundled 90Y PET with its dose.

The server computes a dose from the bundled Y-90 PET and its segmentation; a
viewer logs in, opens the tumour-board page, and the vendored NiiVue must draw
the PET with the dose wash, isodose lines and VOI outlines on its canvas (no
request leaves 127.0.0.1).  The screenshot goes to
``test-artefacts/browser/viewer-y90-pet-dose.png``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_browser import ARTEFACTS, CHROMIUM, offline_page, serving, sign_in, sync_api
from test_viewer import PET, upload

from netlm.api import create_app
from netlm.store.repository import Role, Store

PASSWORD = "viewer-browser-pw"


@pytest.fixture
def dosed_url(tmp_path: Path) -> Iterator[tuple[str, int]]:
    store = Store(f"sqlite:///{tmp_path / 'viewer.db'}")
    store.create_user("clinician1", PASSWORD, Role.CLINICIAN, actor="test")
    store.create_user("viewer1", PASSWORD, Role.VIEWER, actor="test")
    app = create_app(store, secret_key="viewer-browser-" * 4, files_dir=tmp_path / "f")
    try:
        with TestClient(app) as client:
            token = client.post(
                "/api/v1/auth/token", json={"username": "clinician1", "password": PASSWORD}
            ).json()["access_token"]
            clin = {"Authorization": f"Bearer {token}"}
            pid = client.post(
                "/api/v1/patients", json={"external_id": "VW-BROWSER"}, headers=clin
            ).json()["id"]
            pet = upload(client, pid, "y90_pet", PET / "patient_1_Y90_PET.nrrd", clin)
            seg = upload(client, pid, "segmentation", PET / "patient_1_Segmentation.seg.nrrd", clin)
            r = client.post(
                f"/api/v1/patients/{pid}/dose",
                json={"activity_image_id": pet, "mask_image_ids": [seg], "activity_gbq": 1.4},
                headers=clin,
            )
            assert r.status_code == 201, r.text
        with serving(app) as url:
            yield url, pid
    finally:
        store.close()


def drawn_fraction(png: bytes) -> float:
    """Share of the canvas's pixels that are not black (the background)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    return float((pixels.sum(axis=2) > 30).mean())


def hue_counts(png: bytes) -> tuple[int, int]:
    """Red and blue pixels: the high and low end of the dose wash and isodose lines.

    (The crosshair is green and the PET grey, so neither counts.)
    """
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = (r > 180) & (g < 110) & (b < 90)
    blue = (b > 180) & (r < 90)
    return int(red.sum()), int(blue.sum())


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_viewer_draws_the_y90_pet_with_its_dose_offline(dosed_url: tuple[str, int]) -> None:
    url, pid = dosed_url
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with offline_page(url) as (page, problems):
        sign_in(page, url, "viewer1", PASSWORD)
        page.goto(f"{url}/patients/{pid}")
        viewer = page.locator("section[data-viewer]")
        sync_api.expect(viewer).to_have_count(1)
        viewer.scroll_into_view_if_needed()
        # (wait_for_function would eval a string, which the page's policy refuses)
        page.wait_for_selector("section[data-viewer][data-ready]", state="attached", timeout=60_000)
        assert viewer.get_attribute("data-ready") == "1", (
            page.locator(".viewer-status").text_content(),
            problems,
        )
        canvas = viewer.locator("canvas")
        shot = b""
        for _ in range(50):  # the first frames may still be blank
            shot = canvas.screenshot()
            if min(hue_counts(shot)) > 50:
                break
            page.wait_for_timeout(200)
        viewer.screenshot(path=str(ARTEFACTS / "viewer-y90-pet-dose.png"))
        assert drawn_fraction(shot) > 0.005  # not blank
        red, blue = hue_counts(shot)
        assert red > 50 and blue > 50, (red, blue)  # the dose is drawn on the image
        legend = viewer.locator(".viewer-legend").text_content() or ""
        assert "Gy" in legend
        # Controls: one view, another window; the canvas still draws.
        viewer.locator("[data-view=axial]").click()
        viewer.locator("[data-control=window-max]").fill("1000")
        viewer.locator("[data-control=window-max]").dispatch_event("change")
        page.wait_for_timeout(300)
        assert min(hue_counts(canvas.screenshot())) > 50
