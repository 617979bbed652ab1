"""The board page and the board PDF of the same assessment carry the same facts (issue #15).

For every bundled case, stored and assessed in a live app: the patient line of
the page is in the PDF's case header, label and value; the options the page
offers are the PDF's offerable rows of the recommended order, in that order,
with the same rank and verdict; the options waiting for information and the
collapsed unsuitable or contraindicated ones are the PDF's rows of those
verdicts, in order; and the page lists the same assumptions to confirm as the
PDF, as many and in the same words.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_api import PASSWORDS, session_client

from netlm.api import create_app
from netlm.case import parse_case
from netlm.examples import bundled_examples
from netlm.store.repository import Role, Store

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed"
)

#: Verdicts as the PDF prints them, by the page's badge class.
VERDICT_WORDS = {
    "eligible": "eligible",
    "eligible_with_caution": "eligible with caution",
    "needs_information": "needs information",
    "not_suitable": "not suitable",
    "contraindicated": "contraindicated",
}
OFFERABLE = ("eligible", "eligible with caution")
UNAVAILABLE = ("not suitable", "contraindicated")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes, path: Path) -> str:
    path.write_bytes(data)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout.replace("\f", "\n")
    # the running header and footer of each page break the text of a table across pages
    out = re.sub(r"(?m)^(Patient ID .*|Case .* · netlm .*|Page \d+ of \d+)$", "", out)
    return re.sub(r"\s+", " ", out)


def pdf_order(text: str) -> list[tuple[int, str, str]]:
    """(rank, option, verdict) of each row of the PDF's recommended order."""
    section = text.split("Recommended order # Option Verdict Why it sits here ", 1)[1]
    section = section.split(" Assumptions to confirm ", 1)[0]
    verdicts = "|".join(sorted(VERDICT_WORDS.values(), key=len, reverse=True))
    rows: list[tuple[int, str, str]] = []
    position = 0
    # rows numbered 1, 2, ...: rank, option, verdict, and the reason, which repeats the verdict
    while found := re.compile(rf"(?:^| ){len(rows) + 1} (.+?) ({verdicts}) \2").search(
        section, position
    ):
        rows.append((len(rows) + 1, found.group(1), found.group(2)))
        position = found.end()
    return rows


def pdf_assumptions(text: str) -> list[str]:
    section = text.split(" Assumptions to confirm ", 1)[1].split(" Treatment options ", 1)[0]
    return [re.sub(r" \[[\d, –-]+\]$", "", item.strip()) for item in section.split("•")[1:]]


@dataclass
class PageFacts:
    """What the board page's answer shows."""

    line: list[tuple[str, str]]
    offered: list[tuple[int, str, str]]
    pending: list[str]
    unavailable: list[tuple[str, str]]
    assumptions: list[str]
    assumption_count: int


def page_facts(html: str) -> PageFacts:
    text = html
    line = re.findall(r'<span class="fact"><span class="key">([^<]+)</span> ([^<]*)</span>', text)
    offered = re.findall(
        r'<li id="offer-[a-z_]+">\s*<span class="rank">(\d+)</span>\s*'
        r'<a class="offer-link"[^>]*>([^<]+)</a>\s*<span class="badge verdict-([a-z_]+)">',
        text,
    )
    pending = re.findall(r'<li id="pending-[a-z_]+"><strong>([^<]+)</strong>', text)
    unavailable = re.findall(
        r'<li id="unavailable-[a-z_]+"><strong>([^<]+)</strong> '
        r'<span class="badge verdict-([a-z_]+)">',
        text,
    )
    block = re.search(r'<details class="unavailable" id="assumptions">(.*?)</details>', text, re.S)
    count = re.search(r'<span id="assumptions-count">(\d+)</span>', text)
    return PageFacts(
        line=[(unescape(k), unescape(v)) for k, v in line],
        offered=[(int(r), unescape(label), VERDICT_WORDS[v]) for r, label, v in offered],
        pending=[unescape(label) for label in pending],
        unavailable=[(unescape(label), VERDICT_WORDS[v]) for label, v in unavailable],
        assumptions=[unescape(a) for a in re.findall(r"<li>([^<]+)</li>", block.group(1))]
        if block
        else [],
        assumption_count=int(count.group(1)) if count else 0,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store]]:
    """A clinician's browser session on a live app, and its registry."""
    folder = tmp_path_factory.mktemp("board-facts")
    store = Store(f"sqlite:///{folder / 'registry.db'}")
    store.create_user(Role.CLINICIAN.value, PASSWORDS[Role.CLINICIAN], Role.CLINICIAN, actor="t")
    app = create_app(store, secret_key="board-pdf-facts-" * 3, files_dir=folder / "files")
    try:
        yield session_client(app, Role.CLINICIAN), store
    finally:
        store.close()


@pytest.mark.parametrize("name", sorted(n for n, _ in bundled_examples("case-")))
def test_board_page_and_board_pdf_carry_the_same_facts(
    world: tuple[TestClient, Store], name: str, tmp_path: Path
) -> None:
    client, store = world
    case = parse_case(dict(bundled_examples("case-"))[name])
    patient = store.create_patient(case.patient.id, actor="test")
    store.save_case(patient.id, case, actor="test")
    assessment = store.run_assessment(patient.id, actor="test")
    page = client.get(f"/patients/{patient.id}")
    assert page.status_code == 200
    pdf = client.get(f"/api/v1/assessments/{assessment.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content, tmp_path / "board.pdf")
    facts = page_facts(page.text)

    # the patient line: every fact, label and value, is in the PDF's case header
    assert len(facts.line) >= 6
    for label, value in facts.line:
        assert squash(f"{label}{value}") in squash(text), (label, value)

    # the options: offered in the PDF's order with rank and verdict, then the others
    order = pdf_order(text)
    assert len(order) == len(assessment.result["options"])
    assert facts.offered == [row for row in order if row[2] in OFFERABLE]
    assert facts.pending == [label for _, label, v in order if v == "needs information"]
    assert facts.unavailable == [(label, v) for _, label, v in order if v in UNAVAILABLE]

    # the assumptions to confirm: as many, in the same words
    printed = pdf_assumptions(text)
    assert facts.assumption_count == len(printed) == len(assessment.result["assumptions"])
    assert [squash(a) for a in facts.assumptions] == [squash(a) for a in printed]
