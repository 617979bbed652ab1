"""The Python API in a notebook (issue 15): results have ``to_dict()`` / ``to_pandas()``
that agree with the result objects and the CLI's JSON, and plot functions return a
matplotlib Figure, saving only when given a path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from netlm import examples
from netlm.case import parse_case
from netlm.cli import main
from netlm.eligibility import Assessor
from netlm.eligibility.result import Assessment, Verdict
from netlm.report import figures, response_plots
from netlm.response.io import parse_response
from netlm.response.report import ResponseReport, assess_response
from netlm.sirt.plan import parse_plan
from netlm.sirt.planner import solve
from netlm.volume import ImageVolume
from netlm.voxel import dose as vd
from netlm.voxel import dvh
from netlm.voxel.phantom import Phantom, liver_phantom

EXAMPLES = Path(examples.__file__).parent


@pytest.fixture(scope="module")
def assessment() -> Assessment:
    return Assessor().assess(parse_case(examples.read_text("case-bilobar-tare.yaml")))


def test_assessment_to_dict_is_the_cli_json(
    assessment: Assessment, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["assess", str(EXAMPLES / "case-bilobar-tare.yaml"), "-f", "json"]) == 0
    assert assessment.to_dict() == json.loads(capsys.readouterr().out)
    json.dumps(assessment.to_dict())  # plain JSON values


def test_assessment_table_is_one_row_per_option_in_the_recommended_order(
    assessment: Assessment,
) -> None:
    table = assessment.to_pandas()
    assert isinstance(table, pd.DataFrame)
    assert len(table) == len(assessment.options)
    assert list(table["modality"]) == [r.modality.value for r in assessment.recommended_order]
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    for row in table.itertuples():
        option = assessment.option(row.modality)
        assert row.verdict == option.verdict.value
        assert row.findings == len(option.findings)
    # The first option is one that can be offered.
    assert Verdict(table["verdict"].iloc[0]) in {Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_CAUTION}


@pytest.mark.parametrize("name", examples.names("plan-"))
def test_plan_table_is_one_row_per_territory(name: str) -> None:
    result = solve(parse_plan(examples.read_text(name)))
    assert result.to_dict() == json.loads(result.model_dump_json())
    table = result.to_pandas()
    assert list(table["territory"]) == [t.name for t in result.territories]
    assert table["injected_activity_gbq"].sum() == pytest.approx(result.injected_activity_gbq)
    for row, territory in zip(table.itertuples(), result.territories, strict=True):
        assert row.lung_dose_gy == territory.doses_gy.lung
        assert row.perfused_dose_gy == territory.doses_gy.perfused


@pytest.fixture(scope="module")
def response_report() -> ResponseReport:
    return assess_response(parse_response(examples.read_text("response-recist.yaml")))


def test_response_table_is_one_row_per_criterion_and_time_point(
    response_report: ResponseReport, capsys: pytest.CaptureFixture[str]
) -> None:
    table = response_report.to_pandas()
    assert len(table) == sum(len(r.timepoints) for r in response_report.results)
    assert set(table["criterion"]) == {r.criterion for r in response_report.results}
    recist = table[table["criterion"] == "recist1.1"]
    result = response_report.result("recist1.1")
    assert list(recist["overall"]) == [p.overall.value for p in result.timepoints]
    assert set(recist["best_overall"]) == {result.best_overall.response.value}
    assert main(["response", str(EXAMPLES / "response-recist.yaml"), "-f", "json"]) == 0
    assert response_report.to_dict() == json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def phantom_dose() -> tuple[Phantom, ImageVolume]:
    phantom = liver_phantom(seed=0)
    density = vd.uniform_density(phantom.activity, lung_mask=phantom.masks["lung"])
    return phantom, vd.dose_ldm(phantom.activity, density=density)


def test_dose_statistics_and_dvh_tables(phantom_dose: tuple[Phantom, ImageVolume]) -> None:
    phantom, dose = phantom_dose
    names = ["liver", "tumour_1", "tumour_2"]
    stats = {n: dvh.dose_statistics(dose, phantom.masks[n], name=n) for n in names}
    table = dvh.statistics_frame(stats)
    assert list(table["voi"]) == names
    assert list(table["mean_gy"]) == [stats[n].mean_gy for n in names]
    assert stats["liver"].to_pandas()["d70_gy"].iloc[0] == stats["liver"].d70_gy
    curve = dvh.dvh_curve(dose, phantom.masks["tumour_1"], label="tumour_1")
    points = curve.to_pandas()
    assert list(points.columns) == ["voi", "dose_gy", "volume_percent"]
    assert np.array_equal(points["dose_gy"].to_numpy(), curve.dose_gy)
    assert points["volume_percent"].iloc[0] == pytest.approx(100.0)
    assert bool(np.all(np.diff(points["volume_percent"].to_numpy()) <= 0))
    assert curve.to_dict()["volume_ml"] == pytest.approx(curve.volume_ml)


def test_plot_functions_return_a_figure_and_save_only_when_asked(
    phantom_dose: tuple[Phantom, ImageVolume], response_report: ResponseReport, tmp_path: Path
) -> None:
    phantom, dose = phantom_dose
    curve = dvh.dvh_curve(dose, phantom.masks["tumour_1"], label="tumour_1")
    assert isinstance(figures.plot_dvh([curve]), Figure)
    assert isinstance(response_plots.waterfall([response_report]), Figure)
    assert isinstance(response_plots.spider([response_report]), Figure)
    assert not list(tmp_path.iterdir())
    saved = response_plots.waterfall([response_report], tmp_path / "w.png")
    assert isinstance(saved, Figure) and (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    response_plots.spider([response_report], str(tmp_path / "s.svg"))
    assert b"<svg" in (tmp_path / "s.svg").read_bytes()[:400]
