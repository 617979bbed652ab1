"""``netlm outcomes`` runs the outcomes workflows: one read of the folder, the core's
numbers unchanged, the plot only once every number is computed (issue #13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netlm.cli import main
from netlm.cohort.synthetic import SyntheticCohort, generate_cohort
from netlm.outcomes import dose_response, survival
from netlm.outcomes.io import load_cohort_data
from netlm.workflows.outcomes import dose_response_analysis, survival_analysis


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCohort:
    return generate_cohort(tmp_path_factory.mktemp("outcomes"), 80, seed=5)


def test_cli_survival_prints_the_cores_km_and_cox(
    cohort: SyntheticCohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "km.png"
    args = ["outcomes", "survival", str(cohort.root), "--strata", "grade", "--cox"]
    assert main([*args, "--plot", str(plot)]) == 0
    printed = json.loads(capsys.readouterr().out)
    data = load_cohort_data(cohort.root)
    assert printed["kaplan_meier"] == json.loads(
        survival.kaplan_meier(data, "os", "grade").model_dump_json()
    )
    assert printed["cox"] == json.loads(survival.cox(data, "os").model_dump_json())
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_survival_without_cox_has_no_cox(cohort: SyntheticCohort) -> None:
    assert set(survival_analysis(cohort.root).to_dict()) == {"kaplan_meier"}


def test_a_failed_analysis_writes_no_plot(
    cohort: SyntheticCohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "km.png"
    code = main(["outcomes", "survival", str(cohort.root), "--strata", "eye_colour"])
    assert code == 2 and "strata" in capsys.readouterr().err
    args = ["outcomes", "survival", str(cohort.root), "--endpoint", "nope", "--plot", str(plot)]
    assert main(args) == 2
    assert not plot.exists()


def test_dose_response_is_the_cores(cohort: SyntheticCohort, tmp_path: Path) -> None:
    plot = tmp_path / "dr.svg"
    found = dose_response_analysis(cohort.root, "recist", n_bootstrap=40, plot=plot)
    expected = dose_response.tumour_dose_response(
        load_cohort_data(cohort.root), "recist", n_bootstrap=40
    )
    assert found.model_dump() == expected.model_dump()
    assert plot.read_text(encoding="utf-8").lstrip().startswith("<?xml")
