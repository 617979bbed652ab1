"""``netlm demo`` end to end (issue #15): the PDFs it writes and the way into the web app it prints.

The board PDF of every bundled case, the dosimetry PDF of every bundled plan
and the voxel-dose PDF of the phantom must exist and render (``pdftotext``
reads the patient id, the status and the decision block, and the numbers the
demo's JSON holds); the command the demo prints at the end is run as printed
(on a free port), and the admin it names logs in and reaches a demo patient's
board page.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from netlm.cli import main
from netlm.examples import bundled_examples

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed"
)


def pdf_text(path: Path) -> str:
    """The text of a PDF (fails if poppler cannot read it), whitespace collapsed."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\s+", " ", out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_as_printed(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the printed ``netlm serve`` command: the ``netlm`` beside this Python, or the
    same CLI through ``python -c`` where no script is installed."""
    assert command[0] == "netlm", command
    script = shutil.which("netlm", path=str(Path(sys.executable).parent))
    launcher = (
        [script]
        if script is not None
        else [sys.executable, "-c", "import sys; from netlm.cli import main; sys.exit(main())"]
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [*launcher, *command[1:]], stdout=out, stderr=subprocess.STDOUT, env=env
        )


def test_demo_writes_readable_pdfs_and_a_working_way_into_the_web_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out

    first_choice: dict[str, str] = {}
    # board PDFs: the patient on every page, the first recommended option, the decision block
    for name, _ in bundled_examples("case-"):
        stem = Path(name).stem
        assessment = json.loads((out / f"{stem}.assessment.json").read_text())
        text = pdf_text(out / f"{stem}.board.pdf")
        case_id = assessment["case_id"]
        pages = text.count(f"Patient ID {case_id}")
        assert pages >= 1 and f"of {pages}" in text, stem  # the id heads every page
        assert "draft — not approved" in text
        assert "Tumour-board decision and sign-off" in text and "Decision of the board" in text
        label = assessment["recommended_order"][0]["label"]
        first_choice[case_id] = assessment["recommended_order"][0]["modality"]
        assert re.search(rf"Recommended order # Option Verdict .*? 1 {re.escape(label)}", text), (
            stem,
            label,
        )
    # dosimetry PDFs: the patient, the injected activity of the JSON, the approval block
    for name, _ in bundled_examples("plan-"):
        stem = Path(name).stem
        result = json.loads((out / f"{stem}.json").read_text())
        text = pdf_text(out / f"{stem}.pdf")
        assert f"Patient ID {result['case']}" in text, stem
        assert f"{result['injected_activity_gbq']:.3f} GBq" in text, stem
        assert "Approved by" in text and "draft — not approved" in text
    # the voxel-dose PDF of the phantom: its liver mean dose as the statistics say
    statistics = json.loads((out / "voxel-phantom" / "dose-statistics.json").read_text())
    text = pdf_text(out / "voxel-phantom" / "voxel-dose.pdf")
    assert "Patient ID PHANTOM" in text and "Voxel dosimetry report" in text
    liver_gy = statistics["statistics"]["ldm"]["liver"]["mean_gy"]
    assert f"{liver_gy:.1f}" in text

    # the way into the web app, run as printed
    (line,) = [x for x in printed.splitlines() if " netlm serve " in x]
    words = shlex.split(line)
    env = dict(os.environ, NETLM_DATA_DIR=str(tmp_path / "data"))
    while "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    password = env["NETLM_ADMIN_PASSWORD"]
    user = re.search(r"as user (\S+) with that password", printed)
    assert user is not None and words[-2:] == ["--create-admin", user.group(1)]
    port = free_port()
    log = tmp_path / "serve.log"
    process = serve_as_printed([*words, "--port", str(port), "--log-level", "warning"], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/login").text
            token = re.search(r'name="login_csrf" value="([^"]+)"', form)
            assert token is not None
            r = client.post(
                "/login",
                data={"username": user.group(1), "password": password, "login_csrf": token[1]},
            )
            assert r.status_code == 303, r.text
            patients = client.get("/patients").text
            link = re.search(r'href="/patients/(\d+)"[^>]*>\s*EX-001', patients)
            assert link is not None, patients
            board = client.get(f"/patients/{link[1]}")
            assert board.status_code == 200
            assert '<span id="patient-id">EX-001</span>' in board.text
            # the page leads with the option the demo's board PDF of EX-001 recommends first
            offered = re.findall(r'<li id="offer-([a-z_]+)">', board.text)
            assert offered and offered[0] == first_choice["EX-001"]
    finally:
        process.terminate()
        process.wait(timeout=30)
