"""The board's screen in a real headless Chromium: the answer first, at projector,
tablet and keyboard; the user administration; the lesion table's field errors.

Uses the server and browser set-up of :mod:`test_browser` (Debian's chromium through
Playwright).  Screenshots go to ``test-artefacts/browser-board/``.
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
    log_out,
    new_page,
    registry_with_case,
    serving,
)

from netlm.eligibility.result import Verdict
from netlm.store.repository import Role, Store

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "browser-board"
OFFERABLE = {Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_CAUTION}
UNAVAILABLE = {Verdict.NOT_SUITABLE, Verdict.CONTRAINDICATED}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[str, Store, int]]:
    """A server over a registry holding one assessed patient (the bilobar TARE example)."""
    from netlm.api import create_app

    store, patient_id = registry_with_case(tmp_path / "board.db", "BOARD-001")
    store.run_assessment(patient_id, actor="test")
    try:
        with serving(
            create_app(store, secret_key="browser-board-" * 4, files_dir=tmp_path / "f")
        ) as url:
            yield url, store, patient_id
    finally:
        store.close()


@pytest.fixture(scope="module")
def artefacts() -> Path:
    """The screenshot folder, emptied once for this module's tests."""
    return fresh_folder(ARTEFACTS)


@pytest.fixture
def browser(artefacts: Path) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=full_page)


def test_board_screen_leads_with_the_answer(world: tuple[str, Store, int], browser: Any) -> None:
    expect = sync_api.expect
    url, store, pid = world
    assessment = store.assessments(pid)[-1].to_assessment()
    offered = [o.modality.value for o in assessment.options if o.verdict in OFFERABLE]
    unavailable = [o.modality.value for o in assessment.options if o.verdict in UNAVAILABLE]
    assert offered and unavailable  # the example has both kinds
    ranks = {r.modality.value: r.rank for r in assessment.recommended_order}

    page = new_page(browser, 1280, 720)
    log_in(page, url, Role.VIEWER)
    page.goto(f"{url}/patients/{pid}")
    shot(page, "01-board-first-screen-1280x720")

    # the offerable options, in the recommended order, all on the first screen
    items = page.locator("#offered > li")
    expect(items).to_have_count(len(offered))
    shown = [i.removeprefix("offer-") for i in items.evaluate_all("els => els.map(e => e.id)")]
    assert shown == sorted(offered, key=ranks.__getitem__)
    for n in range(len(offered)):
        box = items.nth(n).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 720, shown[n]
    expect(page.locator("#patient-line")).to_contain_text("Ki-67")
    expect(page.locator("#patient-line")).to_contain_text("Child-Pugh")

    # the unsuitable and contraindicated ones: collapsed, with their count
    expect(page.locator("#unavailable-count")).to_have_text(str(len(unavailable)))
    expect(page.locator("#unavailable > ul > li")).to_have_count(len(unavailable))
    expect(page.locator(f"#unavailable-{unavailable[0]}")).to_be_hidden()
    page.click("#unavailable summary")
    expect(page.locator(f"#unavailable-{unavailable[0]}")).to_be_visible()

    # no text below 16 px on the page (the response chart's SVG text aside)
    smallest = page.evaluate(
        """() => {
          let least = 1000, where = '';
          for (const el of document.querySelectorAll('body *')) {
            if (el.closest('svg')) continue;
            const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
            if (!own || !el.getClientRects().length) continue;
            const size = parseFloat(getComputedStyle(el).fontSize);
            if (size < least) { least = size; where = el.tagName + '.' + el.className; }
          }
          return [least, where];
        }"""
    )
    assert smallest[0] >= 16, smallest

    # keyboard: the skip link comes first, and Tab reaches the offered options
    page.goto(f"{url}/patients/{pid}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    reached = None
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.closest('li')?.id ?? ''")
        if focused.startswith("offer-"):
            reached = focused
            break
    assert reached == f"offer-{shown[0]}"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")  # the option's link leads to its key reasons
    assert page.url.endswith(f"#why-{shown[0]}")
    expect(page.locator(f"#why-{shown[0]}")).to_be_in_viewport()

    # printable: the answer is printed, the navigation and forms are not
    page.emulate_media(media="print")
    expect(page.locator("#offered")).to_be_visible()
    expect(page.locator("header.top")).to_be_hidden()
    page.emulate_media(media="screen")

    # tablet width: nothing wider than the window
    tablet = new_page(browser, 768, 1024)
    log_in(tablet, url, Role.CLINICIAN)
    for path in (
        f"/patients/{pid}",
        f"/patients/{pid}/case",
        f"/patients/{pid}/plans/new",
        f"/patients/{pid}/response/new",
        "/patients",
    ):
        tablet.goto(f"{url}{path}")
        overflow = tablet.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    tablet.goto(f"{url}/patients/{pid}")
    shot(tablet, "02-board-tablet-768", full_page=True)


def test_lesion_table_shows_the_field_error(world: tuple[str, Store, int], browser: Any) -> None:
    expect = sync_api.expect
    url, store, pid = world
    page = new_page(browser, 1280, 900)
    log_in(page, url, Role.CLINICIAN)
    page.goto(f"{url}/patients/{pid}/case")
    recorded = store.current_case(pid).liver.lesions
    first_free = len(recorded)
    assert recorded  # the example's lesions are in the table, not in the YAML box
    expect(page.locator('[name="liver.lesions[0].id"]')).to_have_value(recorded[0].id)
    bad = f"liver.lesions[{first_free}].longest_diameter_mm"
    page.fill(f'[name="liver.lesions[{first_free}].id"]', "L-NEW")
    page.select_option(f'[name="liver.lesions[{first_free}].segment"]', "6")
    page.fill(f'[name="{bad}"]', "-5")
    page.click("#save-case")
    cell = page.locator(f'[data-field="{bad}"]')
    expect(cell.locator(".field-error")).to_contain_text("greater than 0")
    expect(page.locator(f'[name="{bad}"]')).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-errors")).to_be_visible()
    cell.scroll_into_view_if_needed()
    shot(page, "03-lesion-field-error")
    assert len(store.case_versions(pid)) == 1  # nothing saved

    page.fill(f'[name="{bad}"]', "24")
    page.click("#save-case")
    page.wait_for_url(re.compile(r".*/patients/\d+\?saved=2$"))
    lesions = store.current_case(pid).liver.lesions
    assert len(lesions) == len(recorded) + 1
    assert (lesions[-1].id, lesions[-1].segment, lesions[-1].longest_diameter_mm) == (
        "L-NEW",
        6,
        24.0,
    )


def test_admin_creates_a_user_who_logs_in_and_changes_password(
    world: tuple[str, Store, int], browser: Any
) -> None:
    expect = sync_api.expect
    url, store, _ = world
    page = new_page(browser, 1280, 900)
    log_in(page, url, Role.ADMIN)
    page.click("header nav >> text=Users")
    page.wait_for_url(re.compile(r".*/admin/users$"))
    page.fill("#new-username", "newbie")
    page.fill("#new-password", "short")
    page.select_option("#new-role", "clinician")
    page.click("#create-user")
    expect(page.locator("#error-password")).to_be_visible()  # the policy, next to the field
    page.fill("#new-password", "orchid-lantern-93")
    page.click("#create-user")
    expect(page.locator("#users-notice")).to_contain_text("newbie")
    expect(page.locator("#user-newbie")).to_contain_text("clinician")
    shot(page, "04-admin-users", full_page=True)
    log_out(page)

    def log_in_as(password: str) -> None:
        page.goto(f"{url}/login")
        page.fill("#username", "newbie")
        page.fill("#password", password)
        page.click("button[type=submit]")

    log_in_as("orchid-lantern-93")
    page.wait_for_url(re.compile(r".*/patients$"))
    expect(page.locator("#current-user")).to_contain_text("newbie (clinician)")
    page.click("header nav >> text=Password")
    page.fill("#current_password", "wrong-password-here")
    page.fill("#new_password", "basalt-meridian-57")
    page.fill("#confirm_password", "basalt-meridian-57")
    page.click("#change-password")
    expect(page.locator("#error-current_password")).to_contain_text("wrong")
    page.fill("#current_password", "orchid-lantern-93")
    page.fill("#new_password", "basalt-meridian-57")
    page.fill("#confirm_password", "basalt-meridian-57")
    page.click("#change-password")
    page.wait_for_url(re.compile(r".*/login\?changed=1$"))
    expect(page.locator("#login-notice")).to_contain_text("Password changed")
    log_in_as("orchid-lantern-93")
    expect(page.locator(".flash.error")).to_contain_text("Wrong user name or password")
    log_in_as("basalt-meridian-57")
    page.wait_for_url(re.compile(r".*/patients$"))
    log_out(page)

    # the admin disables the user: no more log-in
    log_in(page, url, Role.ADMIN)
    page.goto(f"{url}/admin/users")
    page.select_option("#status-newbie", "disabled")
    page.click("#user-newbie button[type=submit]")
    expect(page.locator("#user-newbie")).to_contain_text("disabled")
    log_out(page)
    log_in_as("basalt-meridian-57")
    expect(page.locator(".flash.error")).to_be_visible()
    assert not store.get_user("newbie").active
