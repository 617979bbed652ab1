"""PDF and HTML reports: the text a reader sees, page images, escaping, no network."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import socket
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import make_case
from netlm import __version__
from netlm.case import Case, parse_case
from netlm.eligibility import Assessor
from netlm.eligibility.result import Assessment, Verdict
from netlm.report import html as report_html
from netlm.report import pdf as report_pdf
from netlm.report.html import (
    VERDICT_MARK,
    board_context,
    jinja_environment,
    plan_context,
    render_board_html,
    render_plan_html,
)
from netlm.report.pdf import ReportError, board_pdf, html_to_pdf, plan_pdf
from netlm.sirt.plan import Plan, plan_from_mapping
from netlm.sirt.planner import PlanResult, solve
from netlm.voxel.dose import dose_ldm
from netlm.voxel.dvh import DvhCurve, dvh_curve
from netlm.voxel.phantom import liver_phantom

PRINTED = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
OVERRIDE_REASON = "Salvage treatment agreed at the tumour board of 2026-11-28; lung dose accepted."
OVERRIDE_BY = "Dr A. Example (authorised user)"
SIGNER = "Dr B. Signer"

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) is not installed",
)


# ---------------------------------------------------------------------------- helpers
def _example(name: str) -> str:
    return resources.files("netlm").joinpath("examples", name).read_text(encoding="utf-8")


def pdf_pages(path: Path) -> list[str]:
    """The text of each page (pdftotext, reading order)."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def squash(text: str) -> str:
    """``text`` without any whitespace: table cells and wrapped lines compare equal."""
    return re.sub(r"\s+", "", text)


def page_images(path: Path, folder: Path) -> list[Path]:
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", str(path), str(folder / "page")],
        check=True,
        capture_output=True,
    )
    return sorted(folder.glob("page*.png"))


def assert_pages_look_printed(pdf: Path, folder: Path, pages: int) -> None:
    images = page_images(pdf, folder)
    assert len(images) == pages
    for image in images:
        grey = np.asarray(Image.open(image).convert("L"), dtype=np.float64)
        # A4 at 50 dpi is 413 x 585 pixels.
        assert grey.shape[0] > grey.shape[1] > 350
        assert grey.var() > 0, f"{image.name} is blank"
        assert (grey < 200).mean() > 0.0005, f"{image.name} holds almost no ink"


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def board_case() -> Case:
    return parse_case(_example("case-bilobar-tare.yaml"))


@pytest.fixture(scope="module")
def assessment(board_case: Case) -> Assessment:
    return Assessor().assess(board_case)


def _override_plan(**override: Any) -> Plan:
    """The bundled glass partition plan with a lung shunt that breaks 30 Gy, overridden."""
    doc = yaml.safe_load(_example("plan-partition-glass.yaml"))
    doc["lung_shunt_fraction"] = 0.25
    doc["override"] = {"reason": OVERRIDE_REASON, "approved_by": OVERRIDE_BY, **override}
    return plan_from_mapping(doc)


@pytest.fixture(scope="module")
def glass_plan() -> Plan:
    return _override_plan()


@pytest.fixture(scope="module")
def plan_result(glass_plan: Plan) -> PlanResult:
    return solve(glass_plan)


@pytest.fixture(scope="module")
def dvh_curves() -> list[DvhCurve]:
    phantom = liver_phantom(fwhm_mm=10.0)
    dose = dose_ldm(phantom.activity)
    names = ("tumour_1", "tumour_2", "normal_liver", "lung")
    top = max(float(dose.array[phantom.masks[n].array.astype(bool)].max()) for n in names)
    levels = np.linspace(0.0, top, 201)
    return [dvh_curve(dose, phantom.masks[n], levels, label=n) for n in names]


@pytest.fixture(scope="module")
def board_file(
    tmp_path_factory: pytest.TempPathFactory, assessment: Assessment, board_case: Case
) -> Path:
    path = tmp_path_factory.mktemp("board") / "board.pdf"
    return board_pdf(assessment, path, case=board_case, generated_at=PRINTED)


@pytest.fixture(scope="module")
def plan_file(
    tmp_path_factory: pytest.TempPathFactory,
    plan_result: PlanResult,
    glass_plan: Plan,
    dvh_curves: list[DvhCurve],
) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.pdf"
    return plan_pdf(
        plan_result,
        path,
        plan=glass_plan,
        dvh_curves=dvh_curves,
        approved_by=SIGNER,
        generated_at=PRINTED,
    )


# ---------------------------------------------------------------------------- board PDF
@needs_poppler
def test_board_pdf_text(board_file: Path, assessment: Assessment) -> None:
    pages = pdf_pages(board_file)
    text = squash("".join(pages))
    assert 2 <= len(pages) <= 8
    assert "EX-001" in text
    for option in assessment.options:
        assert squash(option.label) in text, option.label
    for verdict in Verdict:
        n = sum(o.verdict is verdict for o in assessment.options)
        badge = squash(f"{VERDICT_MARK[verdict]} {verdict.value.replace('_', ' ')}")
        # one badge per modality, plus one in the overview when the verdict occurs
        assert text.count(badge) == (n + 1 if n else 0), verdict
    cited = {s.cite() for o in assessment.options for f in o.findings for s in f.sources}
    cited |= {s.cite() for w in assessment.workup for s in w.sources}
    assert cited
    for citation in cited:
        assert squash(citation) in text, citation
    for item in assessment.workup:
        assert squash(item.message) in text
    assert "Sourcescited" in text
    assert assessment.provenance.inputs_digest in text
    assert assessment.provenance.profile.digest in text


@needs_poppler
def test_board_pdf_footer_on_every_page(board_file: Path, assessment: Assessment) -> None:
    pages = pdf_pages(board_file)
    for number, page in enumerate(pages, start=1):
        flat = squash(page)
        assert squash(f"Page {number} of {len(pages)}") in flat
        assert squash(f"Case {assessment.case_id}") in flat
        assert squash(f"netlm {__version__}") in flat
        assert assessment.provenance.inputs_digest[:12] in flat


@needs_poppler
def test_board_pdf_page_images(board_file: Path, tmp_path: Path) -> None:
    assert_pages_look_printed(board_file, tmp_path, len(pdf_pages(board_file)))


# ---------------------------------------------------------------------------- plan PDF
@needs_poppler
def test_plan_pdf_text(plan_file: Path, plan_result: PlanResult) -> None:
    pages = pdf_pages(plan_file)
    text = squash("".join(pages))
    assert 2 <= len(pages) <= 8
    assert "EX-001" in text
    assert f"{plan_result.injected_activity_gbq:.3f}GBq" in text
    assert f"{plan_result.vial_activity_gbq:.3f}" in text
    assert "49.67" in text and "Gy·kg/GBq" in text
    for check in plan_result.checks:
        assert check.id in text
        assert squash(check.description) in text
        for citation in check.sources:
            assert squash(citation) in text
    assert any(c.overridden for c in plan_result.checks)
    assert "OVERRIDDEN" in text
    assert squash(OVERRIDE_REASON) in text
    assert squash(OVERRIDE_BY) in text
    assert "Signature" in text and "Approvedby" in text and squash(SIGNER) in text
    best = plan_result.vial_order[0].glass_options[0]
    assert f"{best.activity_at_infusion_gbq:.3f}" in text
    for label in ("Inputs", "Modelandconstants", "Activity", "Vialorder", "Absorbeddoses"):
        assert label in text
    assert "Dose-volumehistograms" in text
    for name in ("tumour_1", "tumour_2", "normal_liver", "lung"):
        assert name in text


@needs_poppler
def test_plan_pdf_footer_and_images(
    plan_file: Path, plan_result: PlanResult, tmp_path: Path
) -> None:
    pages = pdf_pages(plan_file)
    for number, page in enumerate(pages, start=1):
        flat = squash(page)
        assert squash(f"Page {number} of {len(pages)}") in flat
        assert "CaseEX-001" in flat and plan_result.inputs_digest[:12] in flat
    assert_pages_look_printed(plan_file, tmp_path, len(pages))


@needs_poppler
def test_plan_pdf_without_plan_or_figure(plan_result: PlanResult, tmp_path: Path) -> None:
    path = plan_pdf(plan_result, tmp_path / "bare.pdf", generated_at=PRINTED)
    text = squash("".join(pdf_pages(path)))
    assert plan_result.inputs_digest in text  # the inputs are named by their digest
    assert "Dose-volumehistograms" not in text
    assert "Approvedby" in text


# ---------------------------------------------------------------------------- HTML
def test_html_escapes_case_id_and_override_reason(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    a = Assessor().assess(make_case(patient__id=evil))
    page = render_board_html(a, generated_at=PRINTED)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    result = solve(_override_plan(reason=f"{evil} <img src='http://example.invalid/x.png'>"))
    page = render_plan_html(result, approved_by=f"{evil}", generated_at=PRINTED)
    assert "<script" not in page and "<img src='http" not in page
    assert page.count("&lt;script&gt;") >= 2
    if shutil.which("pdftotext"):
        text = "".join(pdf_pages(html_to_pdf(page, tmp_path / "escaped.pdf")))
        assert evil in text  # shown as text, not run


def test_partials_render_in_another_page(assessment: Assessment, plan_result: PlanResult) -> None:
    env = jinja_environment()
    page = env.from_string(
        '<main>{% include "partials/verdicts.html" %}{% include "partials/workup.html" %}</main>'
    ).render(board_context(assessment))
    for option in assessment.options:
        assert option.label in page
    page = env.from_string(
        '{% include "partials/plan_doses.html" %}{% include "partials/checks.html" %}'
        '{% include "partials/override.html" %}'
    ).render(plan_context(plan_result))
    assert all(c.id in page for c in plan_result.checks)
    assert "Override of hard safety limits" in page


def test_report_css_is_local() -> None:
    css = report_html.report_css()
    assert "@page" in css
    assert not re.search(r"url\(|@import|https?:", css)


# ---------------------------------------------------------------------------- network
@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any socket use; record every URL the report's fetcher is asked for."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access during rendering: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    asked: list[str] = []
    check = report_pdf._check_url

    def record(url: str, folder: Path) -> None:
        asked.append(url)
        check(url, folder)

    monkeypatch.setattr(report_pdf, "_check_url", record)
    return asked


def test_rendering_fetches_nothing_but_data_urls(
    offline: list[str],
    tmp_path: Path,
    assessment: Assessment,
    plan_result: PlanResult,
    dvh_curves: list[DvhCurve],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        board_pdf(assessment, tmp_path / "b.pdf", generated_at=PRINTED)
        plan_pdf(plan_result, tmp_path / "p.pdf", dvh_curves=dvh_curves, generated_at=PRINTED)
    assert offline, "the DVH figure is fetched as a data: URL"
    assert all(url.startswith(("data:", "file:")) for url in offline)
    assert not [r for r in caplog.records if r.name.startswith("weasyprint")]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.invalid/logo.png",
        "https://fonts.example.invalid/x.woff2",
        "file:///etc/hostname",
    ],
)
def test_remote_or_outside_resources_are_refused(
    offline: list[str], tmp_path: Path, url: str
) -> None:
    page = f'<!DOCTYPE html><html><body><p>x</p><img src="{url}"></body></html>'
    with pytest.raises(ReportError, match="may not load"):
        html_to_pdf(page, tmp_path / "refused.pdf")
    assert offline == [url]
