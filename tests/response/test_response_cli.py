"""netlm response: the report over criteria, CLI contract, bad input, plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SHARED
from netlm.cli import main
from netlm.errors import ResponseError
from netlm.response.io import response_from_mapping
from netlm.response.report import ENGINES, assess_response
from netlm.response.result import Response

EXAMPLE = SHARED / "examples" / "response-recist.yaml"


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc.update(changes)
    return doc


def test_every_criterion_has_an_engine_with_cited_thresholds() -> None:
    assert set(ENGINES) == {"recist1.1", "mrecist", "who", "easl", "choi", "mchoi", "percist1.0"}
    for cid, engine in ENGINES.items():
        assert engine.id == cid
        assert engine.version
        assert engine.thresholds
        assert all(t.rule and t.source for t in engine.thresholds)


def test_report_runs_the_files_criteria_and_recist_is_primary() -> None:
    report = assess_response(response_from_mapping(_doc()))
    assert [r.criterion for r in report.results] == ["recist1.1", "mrecist", "who", "choi"]
    primary = [r.criterion for r in report.results if r.primary]
    assert primary == ["recist1.1"]
    for r in report.results:
        assert len(r.timepoints) == 3
        assert r.timepoints[0].date.isoformat() == "2026-01-05"


def test_unknown_criterion_is_refused() -> None:
    with pytest.raises(ResponseError, match="unknown criterion"):
        assess_response(response_from_mapping(_doc()), ["recist2"])


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["response", str(EXAMPLE), "--format", "json", "-c", "recist1.1"]) == 0
    out = json.loads(capsys.readouterr().out)
    result = out["results"][0]
    assert result["criterion"] == "recist1.1"
    for point in result["timepoints"]:
        assert {
            "date",
            "measure",
            "change_from_baseline_percent",
            "change_from_nadir_percent",
            "target",
            "non_target",
            "new_lesions",
            "overall",
        } <= set(point)
    assert result["best_overall"]["response"] in {r.value for r in Response}


def test_cli_text_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["response", str(EXAMPLE)]) == 0
    assert "RECIST 1.1" in capsys.readouterr().out
    assert main(["response", str(EXAMPLE), "--format", "markdown"]) == 0
    assert "best overall response" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["timepoints"][1]["lesions"].append({"id": "ZZ", "longest_mm": 10}), "ZZ"),
        (lambda d: d["timepoints"][0]["lesions"][0].pop("longest_mm"), "T1"),
        (lambda d: d["timepoints"].reverse(), "out of order"),
        (
            lambda d: d["timepoints"][0]["lesions"][2].update(
                {"short_axis_mm": None, "longest_mm": 20}
            ),
            "short axis",
        ),
    ],
)
def test_bad_files_exit_2_naming_lesion_and_time_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Any, fragment: str
) -> None:
    doc = _doc()
    mutate(doc)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["response", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err


def test_plots_are_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = tmp_path / "second.yaml"
    doc = _doc(case="EX-009")
    doc["timepoints"][1]["lesions"][0]["longest_mm"] = 70
    second.write_text(yaml.safe_dump(doc))
    wf, sp = tmp_path / "w.png", tmp_path / "s.svg"
    assert (
        main(
            [
                "response",
                str(EXAMPLE),
                str(second),
                "--waterfall",
                str(wf),
                "--spider",
                str(sp),
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert wf.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in sp.read_bytes()[:500]
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_plot_needs_png_or_svg(tmp_path: Path) -> None:
    assert main(["response", str(EXAMPLE), "--waterfall", str(tmp_path / "w.pdf")]) == 2
