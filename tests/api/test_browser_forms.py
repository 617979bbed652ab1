"""The plan and follow-up forms (issue #15) in a real headless Chromium, by keyboard.

Uses the server and browser set-up of :mod:`test_browser` (Debian's chromium
through Playwright).  Every input of both forms has a label (``<label for>``
or an ``aria-label``); the plan form is corrected and saved from the keyboard
alone, a field's problem is announced next to it; the follow-up form names the
case's lesions, and its measurements, typed in, reach the board's response
table.  Screenshots go to ``test-artefacts/browser-forms/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import (
    CHROMIUM,
    chromium,
    fresh_folder,
    log_in,
    new_page,
    registry_with_case,
    serving,
)

from netlm.store.repository import Role, Store

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "browser-forms"

#: Every form control with no accessible name: neither a <label for> nor an aria-label.
UNLABELLED = """
() => [...document.querySelectorAll(
    'main form input:not([type=hidden]), main form select, main form textarea')]
  .filter(e => !e.getAttribute('aria-label') && !(e.labels && e.labels.length))
  .map(e => e.name)
"""
#: The smallest computed font size (px) of any visible text of the form.
SMALLEST_TEXT = """
() => Math.min(...[...document.querySelectorAll('main form *')]
  .filter(e => e.offsetParent !== null && [...e.childNodes].some(
      n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => parseFloat(getComputedStyle(e).fontSize)))
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[str, Store, int]]:
    """A server over a registry holding one patient with a case (three liver lesions)."""
    from netlm.api import create_app

    store, patient_id = registry_with_case(tmp_path / "forms.db", "FORMS-001")
    try:
        with serving(
            create_app(store, secret_key="browser-forms-" * 4, files_dir=tmp_path / "f")
        ) as url:
            yield url, store, patient_id
    finally:
        store.close()


@pytest.fixture(scope="module")
def artefacts() -> Path:
    """The screenshot folder, emptied once for this module's tests."""
    return fresh_folder(ARTEFACTS)


def _focused(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.name"))


def _type_into(page: Any, text: str) -> None:
    """Replace the focused input's text by ``text``, from the keyboard."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def test_plan_form_by_keyboard(world: tuple[str, Store, int], artefacts: Path) -> None:
    url, store, patient_id = world
    expect = sync_api.expect
    with chromium() as browser:
        page = new_page(browser, 1280, 900, locale="en-US")
        log_in(page, url, Role.PHYSICIST)
        page.goto(f"{url}/patients/{patient_id}/plans/new")
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate(SMALLEST_TEXT) >= 16  # readable on a projector
        expect(page.locator('[name="device"]')).to_have_value("glass")
        expect(page.locator('[name="territories[0].volume_ml"]')).to_have_value("1050")

        # the label leads to its input; Tab walks the section in its order
        page.click('label[for="whole_liver_volume_ml"]')
        assert _focused(page) == "whole_liver_volume_ml"
        _type_into(page, "lots")
        page.keyboard.press("Tab")
        assert _focused(page) == "whole_liver_tumour_volume_ml"
        _type_into(page, "400")
        page.keyboard.press("Enter")  # submits the form
        volume = page.locator('[data-field="whole_liver_volume_ml"]')
        expect(volume.locator(".field-error")).to_have_text("must be a number")
        expect(page.locator('[name="whole_liver_volume_ml"]')).to_have_attribute(
            "aria-invalid", "true"
        )
        expect(page.locator("#plan-errors")).to_be_visible()
        volume.scroll_into_view_if_needed()
        page.screenshot(path=str(artefacts / "01-plan-form-error.png"), full_page=True)
        assert store.list_plans(patient_id) == []

        # corrected from the keyboard: the volume, a territory's own prescription
        page.focus('[name="whole_liver_volume_ml"]')
        _type_into(page, "1700")
        page.focus('[name="territories[0].tumour_to_normal_ratio"]')
        page.keyboard.press("Tab")
        assert _focused(page) == "territories[0].prescription_target"
        page.keyboard.type("perfused")  # picks the option by its words
        page.keyboard.press("Tab")
        _type_into(page, "150")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/plans/\d+$"))
    (plan,) = store.list_plans(patient_id)
    assert plan.document["whole_liver_volume_ml"] == 1700
    assert plan.document["whole_liver_tumour_volume_ml"] == 400
    own = plan.document["territories"][0]["prescription"]
    assert {k: v for k, v in own.items() if v is not None} == {"perfused_dose_gy": 150}
    assert plan.document["case"] == "FORMS-001"


def test_follow_up_form_by_keyboard(world: tuple[str, Store, int], artefacts: Path) -> None:
    url, store, patient_id = world
    expect = sync_api.expect
    with chromium() as browser:
        page = new_page(browser, 1280, 900, locale="en-US")
        log_in(page, url, Role.CLINICIAN)
        page.goto(f"{url}/patients/{patient_id}")
        page.focus("#new-response")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/response/new$"))
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate(SMALLEST_TEXT) >= 16
        # the case's lesions are named at baseline and follow-up
        for row, lesion in enumerate(("L1", "L2", "L3")):
            for t in (0, 1):
                name = f"timepoints[{t}].lesions[{row}].id"
                expect(page.locator(f'[name="{name}"]')).to_have_value(lesion)

        page.focus('[name="criteria.mrecist"]')
        page.keyboard.press("Space")
        sizes = {0: ("2026-01-05", (58, 41, 33)), 1: ("2026-04-02", (50, 35, 25))}
        viable = {0: (50, 41, 30), 1: (10, 0, 8)}
        for t, (date, diameters) in sizes.items():
            page.focus(f'[name="timepoints[{t}].date"]')
            year, month, day = date.split("-")
            page.keyboard.type(month + day + year)  # the en-US date input's order
            for row, mm in enumerate(diameters):
                page.focus(f'[name="timepoints[{t}].lesions[{row}].status"]')
                page.keyboard.press("Tab")  # to the longest diameter
                assert _focused(page) == f"timepoints[{t}].lesions[{row}].longest_mm"
                page.keyboard.type(str(mm))
                for _ in range(3):  # short axis, perpendicular, to the enhancing diameter
                    page.keyboard.press("Tab")
                assert _focused(page) == f"timepoints[{t}].lesions[{row}].viable_mm"
                page.keyboard.type(str(viable[t][row]))
        page.locator("#timepoint-1").scroll_into_view_if_needed()
        page.screenshot(path=str(artefacts / "02-follow-up-form.png"), full_page=True)
        page.focus("#save-response")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/patients/\d+#response$"))
        expect(page.locator("#response table.responses tbody tr")).to_have_count(2)
        expect(page.locator("#response")).to_contain_text("mRECIST")
    recorded = {r.criterion: r for r in store.response_timepoints(patient_id)}
    assert set(recorded) == {"recist1.1", "mrecist"}
    # RECIST: 110 mm from 132 mm (-17 %): stable; mRECIST: 18 mm from 121 mm (-85 %): partial
    assert recorded["recist1.1"].overall == "SD"
    assert recorded["mrecist"].overall == "PR"
    assert [x["id"] for x in recorded["mrecist"].details["lesions"]] == ["L1", "L2", "L3"]
