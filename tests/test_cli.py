"""The command line: output contract, exit codes, no tracebacks for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import SHARED, edited
from netlm.cli import main
from netlm.eligibility import Modality, Verdict, all_rules
from netlm.examples import bundled_examples


def _write(tmp_path: Path, doc: object, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc) if name.endswith(".yaml") else json.dumps(doc))
    return path


def test_assess_json_has_the_documented_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["assess", str(SHARED / "examples" / "case-bilobar-tare.yaml"), "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["case_id"] == "EX-001"
    assert out["grade"]["grade"] == "NET G2"  # Ki-67 8 %, 3 mitoses: both G2
    cp = out["liver_function"]["child_pugh"]
    assert (cp["score"], cp["class"]) == (5, "A")
    assert out["liver_function"]["albi"]["grade"] in (1, 2, 3)
    assert out["tumour_burden_percent"] == pytest.approx(100 * 410 / 1650)
    assert [o["modality"] for o in out["options"]] == [m.value for m in Modality]
    for option in out["options"]:
        assert option["verdict"] in {v.value for v in Verdict}
        for finding in option["findings"]:
            assert finding["rule_id"] and finding["message"] and finding["sources"]
            assert finding["population"]
    assert isinstance(out["workup"], list)
    assert out["provenance"]["profile"]["id"] == "default"
    assert out["provenance"]["netlm_version"]


def test_assess_reads_json_case_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, edited(), "case.json")
    assert main(["assess", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["case_id"] == "T-1"


def test_text_and_markdown_show_every_modality(capsys: pytest.CaptureFixture[str]) -> None:
    case = str(SHARED / "examples" / "case-oligometastatic.yaml")
    assert main(["assess", case]) == 0
    text = capsys.readouterr().out
    assert "Radiofrequency ablation" in text and "Work-up still needed" in text
    assert main(["assess", case, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    for m in Modality:
        assert f"`{m.value}`" in md


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"labs__bilirubin": {"value": 40, "unit": "mg/dL"}}, "labs.bilirubin.value"),
        ({"tumour__ki67_percent": 140}, "tumour.ki67_percent"),
        ({"workup__lung_shunt_fraction": 1.4}, "workup.lung_shunt_fraction"),
        ({"liver__tumour_volume_ml": 5000}, "liver.tumour_volume_ml"),
        ({"tumour__differentiation": "moderate"}, "tumour.differentiation"),
        ({"labs__albumin": {"value": 3.5, "unit": "mg/L"}}, "labs.albumin.unit"),
    ],
)
def test_bad_case_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, object], field: str
) -> None:
    path = _write(tmp_path, edited(**changes))
    assert main(["assess", str(path)]) == 2
    captured = capsys.readouterr()
    assert field in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""


def test_unreadable_and_malformed_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["assess", str(tmp_path / "nope.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: [")
    assert main(["assess", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "not valid YAML" in err


def test_bad_profile_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "schema: netlm/rule-profile/v1\nid: c\nname: c\nversion: '1'\nextends: default\n"
        "parameters: {tare_bilirubin_limt_mg_dl: 3}\n"
    )
    case = _write(tmp_path, edited())
    assert main(["assess", str(case), "--profile", str(profile)]) == 2
    assert "tare_bilirubin_limt_mg_dl" in capsys.readouterr().err


def test_profile_option_changes_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _write(tmp_path, edited(labs__bilirubin={"value": 2.5, "unit": "mg/dL"}))
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "schema: netlm/rule-profile/v1\nid: centre-3\nname: c\nversion: '1'\nextends: default\n"
        "parameters: {tare_bilirubin_limit_mg_dl: 3.0}\n"
    )

    def verdict(*extra: str) -> str:
        assert main(["assess", str(case), "--format", "json", *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        return next(o["verdict"] for o in out["options"] if o["modality"] == "tare_resin")

    assert verdict() == "contraindicated"
    assert verdict("--profile", str(profile)) != "contraindicated"


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "x.yaml", "--format", "pdf"]) == 2


def test_rules_lists_every_rule_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in out["rules"]} == {r.id for r in all_rules()}
    for record in out["rules"]:
        assert record["sources"] and all(s["citation"] for s in record["sources"])
        assert record["effect"] and record["modalities"]
    assert main(["rules"]) == 0
    assert "tare.bilirubin" in capsys.readouterr().out


def test_demo_writes_results_for_every_bundled_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    names = [Path(n).stem for n, _ in bundled_examples()]
    assert len(names) >= 4
    for stem in names:
        data = json.loads((out / f"{stem}.assessment.json").read_text())
        assert len(data["options"]) == len(Modality)
        assert (out / f"{stem}.assessment.md").read_text().startswith("# netlm")
    assert str(out.resolve()) in capsys.readouterr().out.replace("\n", "")


def test_bundled_examples_include_the_shared_ones_unchanged() -> None:
    bundled = dict(bundled_examples())
    for path in (SHARED / "examples").glob("case-*.yaml"):
        assert yaml.safe_load(bundled[path.name]) == yaml.safe_load(path.read_text())


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("netlm ")


def test_pdf_reports_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import subprocess

    board, plan = tmp_path / "board.pdf", tmp_path / "plan.pdf"
    assert (
        main(
            [
                "assess",
                str(SHARED / "examples" / "case-bilobar-tare.yaml"),
                "--format",
                "json",
                "--pdf",
                str(board),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "sirt",
                "plan",
                str(SHARED / "examples" / "sirt-plan-partition-glass.yaml"),
                "--format",
                "json",
                "--pdf",
                str(plan),
            ]
        )
        == 0
    )
    assert board.read_bytes()[:5] == b"%PDF-"
    assert plan.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(board), "-"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        assert "EX-001" in text
