"""The worked examples of ``docs/`` run (issue 15), and what they write agrees with the
core functions computed here on the same inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netlm import examples
from netlm.case import parse_case
from netlm.eligibility import Assessor
from netlm.imaging.io import read_image
from netlm.outcomes.io import load_cohort_data
from netlm.outcomes.survival import kaplan_meier
from netlm.response.io import parse_response
from netlm.response.report import assess_response
from netlm.sirt.plan import parse_plan, plan_from_mapping
from netlm.sirt.planner import solve
from netlm.voxel.workup import maa_workup, plan_from_workup
from netlm.workflows.dose import load_masks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
IMAGES = ROOT / "tests" / "data" / "shared" / "data" / "y90-pet-maa-spect"


def run_script(name: str, out: Path) -> dict[str, Any]:
    """Run ``docs/NAME OUT`` in a new interpreter; its ``summary.json``."""
    path = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(DOCS / name), str(out)],
        capture_output=True,
        text=True,
        cwd=out.parent,
        env={**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def is_pdf(path: Path) -> bool:
    return path.read_bytes()[:5] == b"%PDF-"


def is_png(path: Path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


def test_every_script_is_listed_in_the_docs_readme() -> None:
    readme = (DOCS / "README.md").read_text()
    scripts = sorted(p.name for p in DOCS.glob("*.py"))
    assert scripts == ["01_board_case.py", "02_plan_from_images.py", "03_cohort_analysis.py"]
    assert all(f"({name})" in readme for name in scripts)
    assert "docs/README.md" in (ROOT / "README.md").read_text()


def test_board_case(tmp_path: Path) -> None:
    out = tmp_path / "01"
    summary = run_script("01_board_case.py", out)
    assessment = Assessor().assess(parse_case(examples.read_text("case-bilobar-tare.yaml")))
    assert summary["case_id"] == assessment.case_id
    assert summary["verdicts"] == {o.modality.value: o.verdict.value for o in assessment.options}
    assert summary["first_option"] == assessment.recommended_order[0].modality.value
    plan = solve(parse_plan(examples.read_text("plan-partition-glass.yaml")))
    assert summary["injected_activity_gbq"] == plan.injected_activity_gbq
    assert summary["session_lung_dose_gy"] == plan.session_lung_dose_gy
    report = assess_response(parse_response(examples.read_text("response-recist.yaml")))
    assert summary["best_overall_recist"] == report.result("recist1.1").best_overall.response
    assert is_pdf(out / "board.pdf") and is_pdf(out / "plan.pdf")
    assert is_png(out / "waterfall.png")


def test_plan_from_images(tmp_path: Path) -> None:
    out = tmp_path / "02"
    summary = run_script("02_plan_from_images.py", out)
    # The plan: the same work-up and prescription give the same activity.
    spect = read_image(IMAGES / "patient_2_SPECT.nrrd", unit="counts")
    masks = load_masks([IMAGES / "patient_2_Segmentation.seg.nrrd"], spect)
    workup = maa_workup(
        spect,
        liver=masks["liver"],
        tumours={n: masks[n] for n in ("Tumor 1", "Tumor 2")},
        lung_shunt_fraction=0.05,
        lung_shunt_method="planar",
    )
    plan = solve(
        plan_from_mapping(
            plan_from_workup(workup, device="glass", prescription={"tumour_dose_gy": 150.0})
        )
    )
    assert summary["planned_activity_gbq"] == pytest.approx(plan.injected_activity_gbq)
    assert summary["tumour_to_normal"] == {
        t.name: pytest.approx(t.tumour_to_normal_ratio) for t in workup.volumetry.tumours
    }
    # The dose: the table the script printed is the statistics file the workflow wrote.
    written = json.loads((out / "dose" / "dose-statistics.json").read_text())
    assert summary["mean_dose_gy"] == {
        name: pytest.approx(voi["mean_gy"]) for name, voi in written["vois"].items()
    }
    # About 1.12 GBq in the PET's field of view (tests/data/README.md).
    assert summary["pet_activity_gbq"] == pytest.approx(1.12, rel=0.05)
    assert (out / "dose" / "rtdose.dcm").is_file()
    assert is_pdf(out / "voxel-dose.pdf") and is_png(out / "dvh.png")


def test_cohort_analysis(tmp_path: Path) -> None:
    out = tmp_path / "03"
    summary = run_script("03_cohort_analysis.py", out)
    low, high = summary["dose_at_50_percent_ci_gy"]
    assert low <= summary["planted_threshold_gy"] <= high  # the planted truth is recovered
    assert 0.5 < summary["auc"] <= 1.0
    results = (out / "plans" / "results.csv").read_text().strip().splitlines()
    assert summary["plans_solved"] == len(results) - 1 > 0
    survival = kaplan_meier(load_cohort_data(out / "cohort"), "os", strata="grade")
    assert summary["median_os_months"] == {g.label: g.median_months for g in survival.groups}
    assert summary["km_rows"] == sum(len(g.table) for g in survival.groups)
    assert is_png(out / "km-os-by-grade.png") and is_png(out / "dose-response.png")
