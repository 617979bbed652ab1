"""Reports a physicist can sign and file: identifiers, status, sign-off, PDF/A, new reports."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from netlm import __version__
from netlm.case import Case, parse_case
from netlm.cli import main
from netlm.eligibility import Assessor
from netlm.eligibility.result import Assessment
from netlm.errors import InputError
from netlm.imaging.io import write_image
from netlm.report.html import DRAFT, render_board_html
from netlm.report.imaging import fused_slice_uri, response_context
from netlm.report.pdf import (
    ReportError,
    board_pdf,
    html_to_pdf,
    plan_pdf,
    response_pdf,
    voxel_dose_pdf,
)
from netlm.response.io import load_response
from netlm.response.report import ResponseReport, assess_response
from netlm.sirt.plan import parse_plan
from netlm.sirt.planner import PlanResult, solve
from netlm.voxel.phantom import Phantom, liver_phantom
from netlm.voxel.result import DoseResult
from netlm.workflows.dose import compute_dose

PRINTED = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
APPROVED_AT = dt.datetime(2026, 12, 2, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
APPROVER = "Dr C. Physicist"
IMPLANT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
RESPONSE_FILE = Path(__file__).parents[1] / "data" / "shared" / "examples" / "response-recist.yaml"

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
    reason="poppler-utils (pdftotext, pdfinfo) is not installed",
)


def _example(name: str) -> str:
    return resources.files("netlm").joinpath("examples", name).read_text(encoding="utf-8")


def pdf_pages(path: Path) -> list[str]:
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def xmp(path: Path) -> str:
    return subprocess.run(
        ["pdfinfo", "-meta", str(path)], check=True, capture_output=True, text=True
    ).stdout


def assert_every_page(path: Path, *texts: str) -> list[str]:
    """Every page holds each of ``texts`` and "Page n of N"; returns the pages."""
    pages = pdf_pages(path)
    assert pages
    for number, page in enumerate(pages, start=1):
        flat = squash(page)
        assert squash(f"Page {number} of {len(pages)}") in flat, number
        assert squash(f"netlm {__version__}") in flat, number
        for text in texts:
            assert squash(text) in flat, (number, text)
    return pages


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def board_case() -> Case:
    return parse_case(_example("case-bilobar-tare.yaml"))


@pytest.fixture(scope="module")
def assessment(board_case: Case) -> Assessment:
    return Assessor().assess(board_case)


@pytest.fixture(scope="module")
def draft_board(
    tmp_path_factory: pytest.TempPathFactory, assessment: Assessment, board_case: Case
) -> Path:
    path = tmp_path_factory.mktemp("board") / "board.pdf"
    return board_pdf(assessment, path, case=board_case, generated_at=PRINTED)


@pytest.fixture(scope="module")
def plan_result() -> PlanResult:
    return solve(parse_plan(_example("plan-bsa-resin-bilobar.yaml")))


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=(40, 32, 48), spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture(scope="module")
def phantom_files(phantom: Phantom, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The activity image, then the masks (liver, tumour, lung)."""
    folder = tmp_path_factory.mktemp("phantom")
    names = {"liver": "liver", "tumour_1": "tumour", "lung": "lung"}
    activity = write_image(phantom.activity, folder / "pet.nii.gz")
    return [activity] + [
        write_image(phantom.masks[k], folder / f"{v}.nii.gz") for k, v in names.items()
    ]


@pytest.fixture(scope="module")
def dose_result(phantom_files: list[Path]) -> DoseResult:
    return compute_dose(
        phantom_files[0],
        phantom_files[1:],
        None,
        activity_unit="Bq/mL",
        implant_time=IMPLANT,
        scan_time=IMPLANT,
    )


@pytest.fixture(scope="module")
def response_report() -> ResponseReport:
    return assess_response(load_response(RESPONSE_FILE))


# ---------------------------------------------------------------------------- board
def test_board_pages_carry_two_identifiers_and_the_draft_status(
    draft_board: Path, assessment: Assessment
) -> None:
    digest = assessment.provenance.inputs_digest
    pages = assert_every_page(
        draft_board, f"Patient ID {assessment.case_id}", f"case sha256 {digest[:16]}", DRAFT
    )
    assert len(pages) >= 2
    assert "approvedby" not in squash("".join(pages))


def test_board_carries_the_recommended_order_assumptions_and_sign_off(
    draft_board: Path, assessment: Assessment
) -> None:
    text = squash("".join(pdf_pages(draft_board)))
    assert assessment.recommended_order and assessment.assumptions
    assert "Recommendedorder" in text
    # the options appear in the recommended order, each with its reason
    start = text.index("Recommendedorder")
    positions = []
    for ranked in assessment.recommended_order:
        at = text.index(squash(ranked.label), start)
        positions.append(at)
        assert squash(ranked.reason) in text
    assert positions == sorted(positions)
    assert "Assumptionstoconfirm" in text
    for assumption in assessment.assumptions:
        assert squash(assumption.statement) in text
    for label in ("Tumour-boarddecisionandsign-off", "Chairofthetumourboard", "Signature"):
        assert label in text


def test_approved_board_names_the_approver_and_time_on_every_page(
    tmp_path: Path, assessment: Assessment
) -> None:
    path = board_pdf(
        assessment,
        tmp_path / "approved.pdf",
        generated_at=PRINTED,
        approved_by=APPROVER,
        approved_at=APPROVED_AT,
        pdfa=False,
    )
    pages = assert_every_page(
        path,
        f"approved by {APPROVER}, 2026-12-02 14:05 UTC+01:00",
        f"Patient ID {assessment.case_id}",
    )
    assert squash(DRAFT) not in squash("".join(pages))


def test_an_approval_time_without_an_approver_is_refused(assessment: Assessment) -> None:
    with pytest.raises(InputError) as info:
        render_board_html(assessment, approved_at=APPROVED_AT)
    assert info.value.fields == ["approved_at"]


# ---------------------------------------------------------------------------- plan
def test_plan_status_draft_without_approver_and_approved_with_one(
    tmp_path: Path, plan_result: PlanResult
) -> None:
    ids = (f"Patient ID {plan_result.case}", f"plan sha256 {plan_result.inputs_digest[:16]}")
    draft = plan_pdf(plan_result, tmp_path / "draft.pdf", generated_at=PRINTED, pdfa=False)
    assert_every_page(draft, *ids, DRAFT)
    approved = plan_pdf(
        plan_result,
        tmp_path / "approved.pdf",
        generated_at=PRINTED,
        approved_by=APPROVER,
        approved_at=APPROVED_AT,
        pdfa=False,
    )
    pages = assert_every_page(approved, *ids, f"approved by {APPROVER}, 2026-12-02 14:05")
    assert squash(DRAFT) not in squash("".join(pages))


# ---------------------------------------------------------------------------- PDF/A
def test_reports_are_pdfa_3b_by_default_and_plain_on_request(
    draft_board: Path, tmp_path: Path, plan_result: PlanResult
) -> None:
    meta = xmp(draft_board)
    assert re.search(r'pdfaid:part(="|>)3', meta), meta
    assert re.search(r'pdfaid:conformance(="|>)B', meta), meta
    plain = plan_pdf(plan_result, tmp_path / "plain.pdf", generated_at=PRINTED, pdfa=False)
    assert "pdfaid" not in xmp(plain)


def test_an_unwritable_path_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="cannot write"):
        html_to_pdf("<p>x</p>", blocker / "report.pdf")


# ---------------------------------------------------------------------------- voxel dose
def test_voxel_dose_pdf_on_a_phantom(dose_result: DoseResult, tmp_path: Path) -> None:
    path = voxel_dose_pdf(
        dose_result, tmp_path / "voxel.pdf", patient_id="PH-7", generated_at=PRINTED
    )
    pages = assert_every_page(path, "Patient ID PH-7", "dose statistics sha256", DRAFT)
    text = squash("".join(pages))
    vois = dose_result.document["vois"]
    assert {"liver", "tumour", "lung"} <= set(vois)
    for name, stats in vois.items():
        row = squash(f"{name} {stats['volume_ml']:.1f} {stats['mean_gy']:.1f} {stats['sd_gy']:.1f}")
        assert row in text, name
    assert vois["tumour"]["mean_gy"] > vois["liver"]["mean_gy"] > vois["lung"]["mean_gy"] > 0
    assert "Dose-volumehistograms" in text and "axialslice" in text
    assert f"{dose_result.document['total_activity_gbq']:.3f}GBq" in text
    assert re.search(r'pdfaid:part(="|>)3', xmp(path))


def test_fused_slice_is_the_slice_of_largest_dose(dose_result: DoseResult) -> None:
    assert dose_result.activity is not None
    assert dose_result.activity.array.shape == dose_result.dose.array.shape
    uri, k = fused_slice_uri(dose_result.dose, dose_result.masks, dose_result.activity)
    sums = np.asarray(dose_result.dose.array).sum(axis=(1, 2))
    assert k == int(np.argmax(sums))
    assert sums[k] > 0
    assert uri.startswith("data:image/svg+xml;base64,")


# ---------------------------------------------------------------------------- response
def test_response_pdf_on_the_example_file(response_report: ResponseReport, tmp_path: Path) -> None:
    path = response_pdf(response_report, tmp_path / "response.pdf", generated_at=PRINTED)
    assert response_report.case
    pages = assert_every_page(
        path,
        f"Patient ID {response_report.case}",
        f"response file sha256 {response_report.inputs_digest[:16]}",
        DRAFT,
    )
    text = squash("".join(pages))
    for result in response_report.results:
        assert squash(result.label) in text
        assert squash(f"best overall response: {result.best_overall.response.value}") in text
        for point in result.timepoints:
            assert point.date.isoformat() in text


def test_response_context_has_waterfall_and_spider(response_report: ResponseReport) -> None:
    context = response_context(response_report)
    primary = next(c for c in context["criteria"] if c["result"].primary)
    assert len(primary["result"].timepoints) > 1
    assert primary["waterfall"].startswith("data:image/svg+xml;base64,")
    assert primary["spider"].startswith("data:image/svg+xml;base64,")


# ---------------------------------------------------------------------------- CLI
def test_cli_dose_images_and_response_write_pdfs(
    phantom_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voxel = tmp_path / "voxel.pdf"
    args = ["dose", "images", "--activity", str(phantom_files[0]), "--out", str(tmp_path / "d")]
    for mask in phantom_files[1:]:
        args += ["--masks", str(mask)]
    args += ["--activity-unit", "Bq/mL", "--implant-time", IMPLANT.isoformat()]
    args += ["--scan-time", IMPLANT.isoformat(), "--pdf", str(voxel), "--patient-id", "PH-9"]
    assert main(args) == 0
    pages = assert_every_page(voxel, "Patient ID PH-9", DRAFT)
    assert "Voxeldosimetryreport" in squash(pages[0])
    report = tmp_path / "response.pdf"
    assert main(["response", str(RESPONSE_FILE), "--pdf", str(report)]) == 0
    assert "Responseassessment" in squash("".join(pdf_pages(report)))
    capsys.readouterr()
