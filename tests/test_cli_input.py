"""Input that must be refused, not believed: every document-reading command
exits 2 with the field or line on stderr, never a traceback (issue #10)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

import netlm
from netlm.cli import main
from netlm.commands import common
from netlm.documents import MAX_DOCUMENT_BYTES

EXAMPLES = Path(netlm.__file__).parent / "examples"
CASE = EXAMPLES / "case-bilobar-tare.yaml"
PROFILE_HEAD = "schema: netlm/rule-profile/v1\nid: c\nname: c\nversion: '1'\nextends: default\n"

BAD_DOCUMENTS: dict[str, tuple[bytes, str]] = {
    "duplicate key": (b"schema: x\na: 1\na: 2\n", "duplicate key 'a' at line 3"),
    "python tag": (b"a: !!python/object/apply:os.system ['true']\n", "line 1: not valid YAML"),
    "bool tag": (b"a: !!bool xx\n", "tags such as '!!bool'"),
    "timestamp tag": (b"a: !!timestamp x\n", "tags such as '!!timestamp'"),
    "alias bomb": (
        b"a: &a [l, l, l, l, l, l, l, l, l]\n"
        + b"".join(
            f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n".encode()
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "once aliases are expanded",
    ),
    "deep nesting": (
        b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "nest",
    ),  # ours at 64 levels, or libyaml's own limit
    "non-utf8": (b"schema: x\nname: caf\xe9\n", "line 2: not UTF-8"),
    "malformed": (b"schema: [\n", "not valid YAML"),
    "two documents": (b"a: 1\n---\nb: 2\n", "second document"),
    "cycle": (b"a: &x [*x]\n", "a cycle"),
    "list at top": (b"- a\n- b\n", "mapping"),
    "scalar at top": (b"42\n", "mapping"),
    "empty": (b"", "mapping"),
}


def _commands(path: Path) -> dict[str, list[str]]:
    return {
        "assess": ["assess", str(path)],
        "sirt plan": ["sirt", "plan", str(path)],
        "response": ["response", str(path)],
        "--profile": ["assess", str(CASE), "--profile", str(path)],
        "sirt plan --case": ["sirt", "plan", str(EXAMPLES / "plan-bsa-resin-bilobar.yaml"),
                             "--case", str(path)],
    }  # fmt: skip


@pytest.mark.parametrize("kind", sorted(BAD_DOCUMENTS))
@pytest.mark.parametrize(
    "command", ["assess", "sirt plan", "response", "--profile", "sirt plan --case"]
)
def test_bad_documents_exit_2_with_the_reason(
    kind: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, fragment = BAD_DOCUMENTS[kind]
    path = tmp_path / "doc.yaml"
    path.write_bytes(data)
    assert main(_commands(path)[command]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert fragment in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("command", ["assess", "sirt plan", "response", "--profile"])
def test_oversized_files_exit_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * MAX_DOCUMENT_BYTES)
    assert main(_commands(path)[command]) == 2
    assert "larger than 4 MiB" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body",
    [
        "parameters: [1, 2]\n",
        "parameters: {albi_coefficient: {value: -0.085, sources: 5}}\n",
        "parameters: {albi_coefficient: {value: -0.085, sources: [[1]]}}\n",
        "parameters: {albi_coefficient: {value: -0.085, unit: [1]}}\n",
        "parameters: {albi_coefficient: {value: -0.085, note: {a: 1}}}\n",
        "parameters: {albi_coefficient: {value: -0.085, alternatives: [x]}}\n",
        "parameters: {albi_coefficient: {value: [1]}}\n",
        "parameters: {1: 2}\n",
    ],
)
def test_malformed_profiles_exit_2(
    body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Today several of these raise TypeError or pydantic's ValidationError.
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE_HEAD + body)
    assert main(["assess", str(CASE), "--profile", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err


@pytest.mark.parametrize(
    "document",
    [
        "schema: netlm/sirt-plan/v1\n",
        "schema: netlm/sirt-plan/v1\ndevice: glass\nmethod: bsa\npatient: [1]\n",
        "schema: netlm/sirt-plan/v1\n1: 2\n",
        "schema: netlm/response/v1\n",
        "schema: netlm/response/v1\ncase: A\ntimepoints: {a: 1}\n",
        "schema: netlm/response/v1\ncase: A\ntimepoints: [{date: 2026-01-01, lesions: [1]}]\n",
        "schema: netlm/response/v1\ncase: A\ntimepoints: [{date: 2026-01-01, lesions: abc}]\n",
        "schema: netlm/response/v1\ncase: A\ntimepoints: [7]\n",
    ],
)
def test_wrong_shapes_in_plans_and_response_files_exit_2(
    document: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(document)
    command = ["sirt", "plan"] if "sirt-plan" in document else ["response"]
    assert main([*command, str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_stdin_is_read_by_the_same_reader(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CASE.read_bytes() + b"patient: {id: X}\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert main(["assess", "-"]) == 2
    assert "duplicate key 'patient'" in capsys.readouterr().err


# --------------------------------------------------------------------------- dates in the future
def test_future_dates_in_a_case_exit_2_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(common, "today", lambda: dt.date(2026, 6, 1))
    path = tmp_path / "case.yaml"
    path.write_text("schema: netlm/case/v1\npatient: {id: F1}\nlabs: {date: 2026-06-02}\n")
    assert main(["assess", str(path)]) == 2
    err = capsys.readouterr().err
    assert "labs.date" in err and "in the future" in err
    path.write_text("schema: netlm/case/v1\npatient: {id: F1}\nlabs: {date: 2026-06-01}\n")
    assert main(["assess", str(path), "--format", "json"]) == 0


def test_cli_checks_case_dates_against_the_real_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("schema: netlm/case/v1\npatient: {id: F2}\nworkup: {maa_date: 2999-01-01}\n")
    plan = EXAMPLES / "plan-bsa-resin-bilobar.yaml"
    for command in (["assess", str(path)], ["sirt", "plan", str(plan), "--case", str(path)]):
        assert main(command) == 2
        assert "workup.maa_date" in capsys.readouterr().err


def test_future_scan_dates_in_a_response_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from netlm.errors import ResponseError
    from netlm.response.io import parse_response

    text = (EXAMPLES / "response-recist.yaml").read_text(encoding="utf-8")
    last = "2026-07-01"
    assert last in text
    on_the_day = dt.date(2026, 7, 1)
    assert parse_response(text, today=on_the_day).timepoints[-1].date == on_the_day
    with pytest.raises(ResponseError) as info:
        parse_response(text, today=on_the_day - dt.timedelta(days=1))
    assert [f for f, _ in info.value.problems] == ["timepoints[2].date"]
    monkeypatch.setattr(common, "today", lambda: dt.date(2026, 6, 30))
    assert main(["response", str(EXAMPLES / "response-recist.yaml")]) == 2
    assert "timepoints[2].date: 2026-07-01 is in the future" in capsys.readouterr().err


def test_negative_uncertainty_seed_is_a_plan_error_not_a_numpy_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    doc = yaml.safe_load((EXAMPLES / "plan-bsa-resin-bilobar.yaml").read_text(encoding="utf-8"))
    doc["uncertainty"] = {"volume_relative_sd": 0.1, "seed": -1}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["sirt", "plan", str(path)]) == 2
    assert "uncertainty.seed" in capsys.readouterr().err
