"""The web application in a real headless Chromium (Debian's, through Playwright).

A uvicorn server runs in a background thread on 127.0.0.1 (a free port) over a
temporary SQLite registry.  The flow: log in, create a patient, enter a case
(first with a mistake, whose message must appear next to its field), run the
assessment and see the verdicts, enter and solve a plan, record a follow-up
(response chart), be refused approval as a viewer, approve it as a physicist.
Screenshots of the key pages go to ``test-artefacts/browser/`` in the
repository (printed at the end).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from netlm.api import create_app
from netlm.store.repository import Role, Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "browser"
PASSWORDS = {role: f"{role.value}-browser-pw" for role in Role}
TIMEOUT_MS = 20_000

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; stop it afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    store = Store(f"sqlite:///{tmp_path / 'browser.db'}")
    for role in Role:
        store.create_user(f"{role.value}1", PASSWORDS[role], role, actor="test")
    try:
        with serving(
            create_app(store, secret_key="browser-test-" * 4, files_dir=tmp_path / "f")
        ) as url:
            yield url
    finally:
        store.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, through Playwright."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (:func:`launch_chromium`), closed afterwards."""
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, width: int, height: int, **options: Any) -> Any:
    """A page of a new context of ``browser`` with that viewport (and ``options``)."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@contextmanager
def offline_page(base_url: str) -> Iterator[tuple[Any, list[str]]]:
    """A page of a new headless Chromium (1400 x 1000) that may not leave ``base_url``.

    Yields the page and the console and page errors seen.  Requests to any other
    address are aborted; on leaving, none may have been made and no Content
    Security Policy violation reported.
    """
    outside: list[str] = []
    problems: list[str] = []
    with chromium() as browser:
        page = new_page(browser, 1400, 1000)

        def route(request: Any) -> None:
            if not request.request.url.startswith(base_url):
                outside.append(request.request.url)
                request.abort()
            else:
                request.continue_()

        page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        yield page, problems
    assert outside == [], f"requests left the server: {outside}"
    assert not [m for m in problems if "Content Security Policy" in m], problems


def registry_with_case(db: Path, external_id: str) -> tuple[Store, int]:
    """A registry with a ``<role>1`` user of every role (:data:`PASSWORDS`) and one
    patient ``external_id`` whose case is the bundled bilobar TARE example."""
    from netlm.case import parse_case
    from netlm.examples import bundled_examples

    store = Store(f"sqlite:///{db}")
    for role in Role:
        store.create_user(f"{role.value}1", PASSWORDS[role], role, actor="test")
    patient = store.create_patient(external_id, actor="test")
    text = dict(bundled_examples("case-"))["case-bilobar-tare.yaml"]
    case = parse_case(re.sub(r"(?m)^(\s*)id: .*$", rf"\1id: {external_id}", text, count=1))
    store.save_case(patient.id, case, actor="test")
    return store, patient.id


def fresh_folder(folder: Path) -> Path:
    """``folder`` (for screenshots), emptied."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot(page: Any, name: str) -> Path:
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in through the login form; the patient list follows."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/patients$"))


def log_in(page: Any, base_url: str, role: Role) -> None:
    """Log in as the ``<role>1`` user of :data:`PASSWORDS`; the header names the role."""
    sign_in(page, base_url, f"{role.value}1", PASSWORDS[role])
    sync_api.expect(page.locator("#current-user")).to_contain_text(role.value)


def log_out(page: Any) -> None:
    page.click("header .who button")
    page.wait_for_url(re.compile(r".*/login$"))


def follow_up(external_id: str) -> str:
    """The bundled RECIST example, for this patient."""
    from netlm.examples import bundled_examples

    text = dict(bundled_examples("response-"))["response-recist.yaml"]
    return re.sub(r"(?m)^case: .*$", f"case: {external_id}", text)


def field(page: Any, name: str) -> Any:
    return page.locator(f'[name="{name}"]')


def test_board_flow_in_chromium(base_url: str) -> None:
    expect = sync_api.expect
    fresh_folder(ARTEFACTS)
    with chromium() as browser:
        page = new_page(browser, 1280, 900)

        # log in as a clinician
        page.goto(f"{base_url}/patients")
        page.wait_for_url(re.compile(r".*/login$"))
        shot(page, "01-login")
        page.fill("#username", "clinician1")
        page.fill("#password", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator(".flash.error")).to_contain_text("Wrong user name or password")
        log_in(page, base_url, Role.CLINICIAN)

        # create a patient
        page.fill("#external_id", "BROWSER-001")
        page.click("text=Create patient")
        page.wait_for_url(re.compile(r".*/patients/\d+/case$"))
        patient_url = page.url.removesuffix("/case")

        # enter a case with an implausible bilirubin: the message sits by the field
        expect(field(page, "patient.id")).to_have_value("BROWSER-001")
        field(page, "patient.age_years").fill("62")
        field(page, "patient.sex").select_option("female")
        field(page, "patient.ecog").fill("1")
        field(page, "patient.height_cm").fill("164")
        field(page, "patient.weight_kg").fill("70")
        field(page, "tumour.primary_site").select_option("pancreas")
        field(page, "tumour.differentiation").select_option("well")
        field(page, "tumour.ki67_percent").fill("8")
        field(page, "tumour.extrahepatic_disease").select_option("none")
        field(page, "tumour.liver_disease_course").select_option("progressive")
        field(page, "liver.volume_ml").fill("1650")
        field(page, "liver.tumour_volume_ml").fill("410")
        field(page, "liver.distribution").select_option("bilobar")
        field(page, "liver.lesion_count").fill("9")
        field(page, "liver.portal_vein_thrombosis").select_option("false")
        field(page, "liver.ascites").select_option("none")
        field(page, "liver.encephalopathy").select_option("none")
        field(page, "labs.bilirubin.value").fill("40")
        field(page, "labs.bilirubin.unit").select_option("mg/dL")
        field(page, "labs.albumin.value").fill("3.8")
        field(page, "labs.albumin.unit").select_option("g/dL")
        field(page, "labs.inr").fill("1.1")
        field(page, "labs.platelets_10e9_per_l").fill("215")
        field(page, "workup.lung_shunt_fraction").fill("0.07")
        page.fill(
            "#extra_yaml",
            "liver:\n  lesions:\n    - {id: L1, segment: 7, longest_diameter_mm: 58}\n",
        )
        page.click("#save-case")
        bilirubin = page.locator('[data-field="labs.bilirubin.value"]')
        expect(bilirubin.locator(".field-error")).to_contain_text("implausible")
        expect(page.locator("#form-errors")).to_be_visible()
        bilirubin.scroll_into_view_if_needed()
        shot(page, "02-case-form-validation")

        field(page, "labs.bilirubin.value").fill("0.7")
        page.click("#save-case")
        page.wait_for_url(re.compile(r".*/patients/\d+\?saved=1$"))
        expect(page.locator("#saved")).to_contain_text("Case version 1 saved")

        # run the assessment and read the verdicts
        page.click("#run-assessment")
        page.wait_for_url(re.compile(r".*/patients/\d+#verdicts$"))
        rows = page.locator("table.verdicts tbody tr")
        expect(rows).to_have_count(15)
        expect(page.locator("#option-tare_resin")).to_contain_text(
            "Radioembolization, resin microspheres"
        )
        expect(page.locator("#option-tare_resin .badge")).to_be_visible()
        expect(page.locator("#scores")).to_contain_text("Child-Pugh")
        expect(page.locator("#workup")).to_contain_text("Work-up still needed")
        shot(page, "03-tumour-board")

        # enter and solve a radioembolization plan
        page.click("#new-plan")
        expect(page.locator('[name="device"]')).to_have_value("glass")  # the example plan
        page.click("#save-plan")
        page.wait_for_url(re.compile(r".*/plans/\d+$"))
        plan_url = page.url
        page.click("#solve-plan")
        page.wait_for_url(re.compile(r".*/plans/\d+$"))
        expect(page.locator("#plan-status")).to_have_text("solved")
        expect(page.locator("section.checks")).to_be_visible()
        expect(page.locator("#approval-note")).to_contain_text("physicist")
        expect(page.locator("#approve-plan")).to_have_count(0)
        shot(page, "04-plan-review-clinician")
        page.goto(patient_url)
        page.click("#response summary")
        page.fill('#response textarea[name="document"]', follow_up("BROWSER-001"))
        page.click("#response button[type=submit]")
        page.wait_for_url(re.compile(r".*/patients/\d+#response$"))
        expect(page.locator("#response svg")).to_be_visible()
        expect(page.locator("#response table.responses tbody tr")).to_have_count(8)
        expect(page.locator("#dose")).to_contain_text("Absorbed doses")
        expect(page.locator("#dose img")).to_have_count(1)  # the DVH figure
        page.locator("#dose").scroll_into_view_if_needed()
        shot(page, "05-tumour-board-response-and-dose")
        log_out(page)

        # a viewer sees the plan but is refused its approval
        log_in(page, base_url, Role.VIEWER)
        page.goto(plan_url)
        expect(page.locator("#approve-plan")).to_have_count(0)
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        refused = page.request.post(
            f"{plan_url}/approve", form={"csrf_token": token or ""}, max_redirects=0
        )
        assert refused.status == 403
        assert "physicist" in refused.text()
        page.goto(f"{patient_url}/case")
        expect(page.locator("#error-message")).to_contain_text("viewer")
        shot(page, "06-viewer-refused")
        page.goto(plan_url)
        expect(page.locator("#plan-status")).to_have_text("solved")
        log_out(page)

        # a physicist approves it
        log_in(page, base_url, Role.PHYSICIST)
        page.goto(plan_url)
        page.click("#approve-plan")
        page.wait_for_url(re.compile(r".*/plans/\d+\?approved=1$"))
        expect(page.locator("#plan-status")).to_have_text("approved")
        expect(page.locator("#approved-by")).to_contain_text("physicist1")
        shot(page, "07-plan-approved")

        page.goto(f"{base_url}/patients?q=browser")
        expect(page.locator("#patients tbody tr")).to_have_count(1)
        shot(page, "08-patient-list")
    taken = sorted(p.name for p in ARTEFACTS.glob("*.png"))
    assert len(taken) == 8
    print(f"\nscreenshots: {ARTEFACTS}")
