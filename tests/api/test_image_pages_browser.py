"""Upload, registration and dose from the board page in a real headless Chromium, offline.

A physicist logs in, uploads on the tumour-board page a 90Y PET (DICOM files of
the liver phantom) with its masks and a CT of the phantom in another frame of
reference, asks for the dose with the CT, sees the proposed registration in
the viewer (the registered CT under the PET; the shift the CT was written with
recovered), confirms it and sees the dose drawn on the anatomy; or rejects it
with the Reject button, and no dose is computed.  Screenshots
go to ``test-artefacts/browser/image-pages-registration.png`` and
``image-pages-dose.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.uid import generate_uid
from test_browser import ARTEFACTS, CHROMIUM, offline_page, serving, sign_in, sync_api
from test_image_pages import CT_SHIFT_MM, phantom_ct_series
from test_viewer_browser import drawn_fraction, hue_counts

from netlm.api import create_app
from netlm.imaging.io import write_image
from netlm.store.repository import Role, Store
from netlm.voxel.phantom import liver_phantom
from pacs.series import PHANTOM_SHAPE, pet_series

PASSWORD = "image-pages-browser-pw"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, int, dict[str, list[Path]], Store]]:
    phantom = liver_phantom(shape_ijk=PHANTOM_SHAPE, spacing_mm=(6.0, 6.0, 6.0), seed=0)
    study = generate_uid()
    files = {
        "pet": sorted(pet_series(tmp_path / "pet", phantom, study).iterdir()),
        "ct": sorted(phantom_ct_series(tmp_path / "ct", phantom, study).iterdir()),
        "masks": [
            write_image(phantom.masks[key], tmp_path / f"{name}.nii.gz")
            for key, name in {"liver": "liver", "tumour_1": "tumour", "lung": "lung"}.items()
        ],
    }
    store = Store(f"sqlite:///{tmp_path / 'browser.db'}")
    store.create_user("physicist1", PASSWORD, Role.PHYSICIST, actor="test")
    pid = store.create_patient("IMG-BROWSER", actor="test").id
    try:
        app = create_app(store, secret_key="image-browser-" * 4, files_dir=tmp_path / "f")
        with serving(app) as url:
            yield url, pid, files, store
    finally:
        store.close()


def wait_for_viewer(page: Any, section: Any) -> None:
    section.scroll_into_view_if_needed()
    page.wait_for_selector("section[data-viewer][data-ready]", state="attached", timeout=60_000)
    assert section.get_attribute("data-ready") == "1", section.locator(
        ".viewer-status"
    ).text_content()


def upload_and_ask_for_a_dose_with_the_ct(
    page: Any, url: str, pid: int, files: dict[str, list[Path]], store: Store
) -> None:
    """Sign in, upload the PET series with its masks and then the CT series, and ask for a
    dose with the CT, which comes in another frame: the page shows the registration first."""
    sign_in(page, url, "physicist1", PASSWORD)
    page.goto(f"{url}/patients/{pid}")
    page.set_input_files("#upload-files", [str(f) for f in files["pet"]])
    page.set_input_files("#upload-masks", [str(f) for f in files["masks"]])
    page.select_option("#upload-kind", "y90_pet")
    page.click("#upload-submit")
    page.wait_for_url(re.compile(rf".*/patients/{pid}\?images=4"))
    page.locator("#upload-images summary").click()
    page.set_input_files("#upload-files", [str(f) for f in files["ct"]])
    page.select_option("#upload-kind", "ct")
    page.click("#upload-submit")
    page.wait_for_url(re.compile(rf".*/patients/{pid}\?images=1"))
    sync_api.expect(page.locator("#image-list tbody tr")).to_have_count(5)
    ct_id = next(i.id for i in store.images(pid) if i.kind == "ct")
    page.select_option("#dose-ct", str(ct_id))
    page.click("#dose-submit")
    page.wait_for_url(re.compile(rf".*/patients/{pid}/registrations/[0-9a-f]{{16}}$"))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_upload_confirm_registration_and_see_the_dose(
    site: tuple[str, int, dict[str, list[Path]], Store],
) -> None:
    url, pid, files, store = site
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with offline_page(url) as (page, problems):
        upload_and_ask_for_a_dose_with_the_ct(page, url, pid, files, store)
        assert not [i for i in store.images(pid) if i.kind == "rtdose"]
        viewer = page.locator("section[data-viewer]")
        wait_for_viewer(page, viewer)
        canvas = viewer.locator("canvas")
        shot = canvas.screenshot()
        assert drawn_fraction(shot) > 0.01  # the CT and the PET are drawn
        viewer.screenshot(path=str(ARTEFACTS / "image-pages-registration.png"))
        shift = [float(v) for v in (page.text_content("#translation") or "").split(",")]
        np.testing.assert_allclose(shift, CT_SHIFT_MM, atol=3.0)

        page.click("#confirm-registration")
        page.wait_for_url(re.compile(rf".*/patients/{pid}/doses/\d+$"), timeout=120_000)
        sync_api.expect(page.locator("[data-registration]")).to_contain_text(
            "confirmed by physicist1"
        )
        viewer = page.locator("section[data-viewer]")
        wait_for_viewer(page, viewer)
        canvas = viewer.locator("canvas")
        for _ in range(50):  # the first frames may still be blank
            shot = canvas.screenshot()
            if hue_counts(shot)[1] > 50:
                break
            page.wait_for_timeout(200)
        viewer.screenshot(path=str(ARTEFACTS / "image-pages-dose.png"))
        # The dose wash over the liver (about 44 Gy: the blue end) is drawn on the CT.
        assert hue_counts(shot)[1] > 50, hue_counts(shot)
        assert "120 Gy" in (viewer.locator(".viewer-legend").text_content() or "")
        sync_api.expect(page.locator("#dose-statistics")).to_contain_text("liver")
    assert not problems, problems


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_a_proposed_registration_is_rejected_with_a_click(
    site: tuple[str, int, dict[str, list[Path]], Store],
) -> None:
    """The Reject button: back on the patient page, no dose, the rejection audited."""
    url, pid, files, store = site
    with offline_page(url) as (page, problems):
        upload_and_ask_for_a_dose_with_the_ct(page, url, pid, files, store)
        proposal = page.url.rsplit("/", 1)[1]

        page.fill("#reject-form input[name=reason]", "misaligned at the dome")
        page.click("#reject-registration")
        page.wait_for_url(re.compile(rf".*/patients/{pid}\?registration=rejected#images$"))
        assert page.goto(f"{url}/patients/{pid}/registrations/{proposal}").status == 404
    assert not [i for i in store.images(pid) if i.kind == "rtdose"]
    rejected = [e for e in store.audit_log(patient_id=pid) if e.action == "reject"]
    assert [(e.actor, e.details["proposal"]) for e in rejected] == [("physicist1", proposal)]
    assert not [p for p in problems if "404" not in p], problems
