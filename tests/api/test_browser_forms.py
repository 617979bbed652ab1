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


def test_case_form_lesions_and_labs_by_keyboard(
    world: tuple[str, Store, int], artefacts: Path
) -> None:
    url, store, patient_id = world
    expect = sync_api.expect
    with chromium() as browser:
        page = new_page(browser, 1280, 900, locale="en-US")
        log_in(page, url, Role.CLINICIAN)
        page.goto(f"{url}/patients/{patient_id}/case")
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate(SMALLEST_TEXT) >= 16
        # laboratory values: value, unit (the recorded one chosen, no blank unit), ULN
        expect(page.locator('[name="labs.bilirubin.value"]')).to_have_value("0.7")
        expect(page.locator('[name="labs.bilirubin.unit"]')).to_have_value("mg/dL")
        assert page.locator('[name="labs.bilirubin.unit"] option[value=""]').count() == 0
        expect(page.locator('[name="labs.ast.uln"]')).to_have_attribute(
            "aria-label", "AST upper limit of normal"
        )
        # the lesions are rows of the shared table; L3's abutted vessel is in its cell
        expect(page.locator('[name="liver.lesions[2].abuts"]')).to_have_value("left_portal_vein")

        page.focus('[name="labs.bilirubin.value"]')
        _type_into(page, "25")
        page.keyboard.press("Tab")
        assert _focused(page) == "labs.bilirubin.unit"
        page.keyboard.type("u")  # µmol/L, from the keyboard
        expect(page.locator('[name="labs.bilirubin.unit"]')).to_have_value("umol/L")
        page.focus('[name="liver.lesions[3].id"]')
        page.keyboard.type("L4")
        page.keyboard.press("Tab")
        assert _focused(page) == "liver.lesions[3].segment"
        page.keyboard.type("6")
        page.focus('[name="liver.lesions[3].abuts"]')
        page.keyboard.type("hepatic_vein, liver_capsule")
        page.keyboard.press("Enter")
        cell = page.locator('[data-field="liver.lesions[3].abuts"]')
        expect(cell.locator(".field-error")).to_contain_text("liver_capsule: choose from")
        expect(page.locator('[name="liver.lesions[3].abuts"]')).to_have_attribute(
            "aria-invalid", "true"
        )
        expect(page.locator("#form-errors")).to_be_visible()
        cell.scroll_into_view_if_needed()
        page.screenshot(path=str(artefacts / "03-case-lesion-error.png"), full_page=True)
        assert len(store.case_versions(patient_id)) == 1  # nothing saved

        page.focus('[name="liver.lesions[3].abuts"]')
        _type_into(page, "hepatic_vein, capsule")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/patients/\d+\?saved=2$"))
    case = store.current_case(patient_id)
    assert case.labs.bilirubin is not None
    assert (case.labs.bilirubin.value, case.labs.bilirubin.unit) == (25, "umol/L")
    lesion = case.liver.lesions[-1]
    assert (lesion.id, lesion.segment) == ("L4", 6)
    assert [s.value for s in lesion.abuts] == ["hepatic_vein", "capsule"]


def test_follow_up_form_shows_the_recorded_series(
    world: tuple[str, Store, int], artefacts: Path
) -> None:
    from netlm.workflows.response import record_response

    url, store, patient_id = world
    expect = sync_api.expect
    baseline = [("L1", 58), ("L2", 41), ("L3", 33)]
    record_response(
        store,
        patient_id,
        {
            "schema": "netlm/response/v1",
            "case": "FORMS-001",
            "timepoints": [
                {
                    "date": "2026-01-05",
                    "lesions": [
                        {"id": i, "organ": "liver", "role": "target", "longest_mm": mm}
                        for i, mm in baseline
                    ],
                },
                {
                    "date": "2026-04-02",
                    "lesions": [{"id": i, "longest_mm": mm - 8} for i, mm in baseline],
                },
            ],
        },
        actor="test",
    )
    assert len(store.response_timepoints(patient_id)) == 1
    with chromium() as browser:
        page = new_page(browser, 1280, 900, locale="en-US")
        log_in(page, url, Role.CLINICIAN)
        page.goto(f"{url}/patients/{patient_id}/response/new")
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate(SMALLEST_TEXT) >= 16
        listed = page.locator("#recorded tbody tr")
        expect(listed).to_have_count(2)
        expect(listed.nth(0)).to_contain_text("2026-01-05")
        expect(listed.nth(1)).to_contain_text("RECIST 1.1: SD")
        expect(page.locator("#timepoint-1 legend")).to_have_text("Follow-up 1 · recorded")
        expect(page.locator('[name="timepoints[1].lesions[0].longest_mm"]')).to_have_value("50")
        expect(page.locator('[name="timepoints[2].lesions[2].id"]')).to_have_value("L3")

        # a change to the recorded follow-up is refused, named at its date
        page.focus('[name="timepoints[1].lesions[0].longest_mm"]')
        _type_into(page, "52")
        page.focus("#save-response")
        page.keyboard.press("Enter")
        error = page.locator('[data-field="timepoints[1].date"] .field-error')
        expect(error).to_contain_text("2026-04-02 is already recorded with other measurements")
        page.screenshot(path=str(artefacts / "04-follow-up-recorded-refused.png"), full_page=True)
        assert len(store.response_timepoints(patient_id)) == 1

        # the next time point, typed into the empty block, is recorded; the old one not again
        page.goto(f"{url}/patients/{patient_id}/response/new")
        page.focus('[name="timepoints[2].date"]')
        page.keyboard.type("07012026")
        for row, mm in enumerate((30, 20, 15)):
            page.focus(f'[name="timepoints[2].lesions[{row}].longest_mm"]')
            page.keyboard.type(str(mm))
        page.focus("#save-response")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/patients/\d+#response$"))
    recorded = sorted(
        (r.date.isoformat(), r.overall) for r in store.response_timepoints(patient_id)
    )
    # 132 mm -> 108 mm (-18 %): SD; -> 65 mm (-51 %): PR
    assert recorded == [("2026-04-02", "SD"), ("2026-07-01", "PR")]
