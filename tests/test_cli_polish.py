"""CLI polish (issue 11): plain ``error:`` lines on a non-terminal stderr, and
``--voxel-mm`` given as one value or three (``--voxel-mm 2 3 4``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netlm.cli import main
from netlm.commands.common import spread_option_values

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# --- no raw rich markup on stderr -----------------------------------------------------------


def test_error_is_plain_text_when_stderr_is_captured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kernel", "Y-90", "--voxel-mm", "4", "--density", "99"]) == 2
    err = capsys.readouterr().err
    assert "error: Argument 'density_g_per_ml' must be between 0.001 and 25" in err
    assert "[bold red]" not in err and "[/]" not in err


def test_input_error_lists_fields_in_plain_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("schema: netlm/response/v1\ntimepoints: []\n")
    assert main(["response", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid response file\n")
    assert "[" not in err.splitlines()[0]


def test_error_through_a_pipe_has_no_markup_or_escape_codes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from netlm.cli import main; "
            "sys.exit(main(['kernel', 'Y-90', '--voxel-mm', '4', '--density', '99']))",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "error: Argument 'density_g_per_ml'" in done.stderr
    assert "[bold red]" not in done.stderr and "\x1b[" not in done.stderr


# --- --voxel-mm: one value or three ----------------------------------------------------------


def _kernel_json(capsys: pytest.CaptureFixture[str], *voxel: str) -> dict[str, object]:
    args = ["kernel", "Y-90", *voxel, "--histories", "1000", "--format", "json"]
    assert main(args) == 0, capsys.readouterr().err
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


def test_voxel_mm_takes_three_values(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _kernel_json(capsys, "--voxel-mm", "2", "3", "4")
    assert doc["voxel_mm"] == [2.0, 3.0, 4.0]
    # The kernel is longer (in voxels) along the smaller voxel edge: shape is [k, j, i].
    shape = doc["shape"]
    assert isinstance(shape, list) and shape[2] > shape[0]


def test_voxel_mm_one_value_and_the_repeated_form_still_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _kernel_json(capsys, "--voxel-mm", "3")["voxel_mm"] == [3.0, 3.0, 3.0]
    repeated = _kernel_json(capsys, "--voxel-mm", "2", "--voxel-mm", "3", "--voxel-mm", "4")
    assert repeated["voxel_mm"] == [2.0, 3.0, 4.0]


@pytest.mark.parametrize("values", [["2", "3"], ["2", "3", "4", "--voxel-mm", "5"]])
def test_voxel_mm_two_or_four_values_are_refused(
    values: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kernel", "Y-90", "--voxel-mm", *values, "--histories", "1000"]) == 2
    err = capsys.readouterr().err
    assert "--voxel-mm: give one value or three (i j k)" in err


def test_spread_option_values_moves_only_numbers_after_the_option() -> None:
    opts = ["--voxel-mm"]
    assert spread_option_values(["--voxel-mm", "2", "3", "4"], opts) == [
        "--voxel-mm",
        "2",
        "--voxel-mm",
        "3",
        "--voxel-mm",
        "4",
    ]
    # At most three values; a fourth number stays a positional argument.
    assert spread_option_values(["--voxel-mm", "1", "2", "3", "9"], opts)[-1] == "9"
    assert spread_option_values(["--voxel-mm", "2", "-3"], opts) == ["--voxel-mm", "2", "-3"]
    assert spread_option_values(["--", "--voxel-mm", "2", "3"], opts) == [
        "--",
        "--voxel-mm",
        "2",
        "3",
    ]
    assert spread_option_values(["--voxel-mm", "2", "Y-90"], opts) == ["--voxel-mm", "2", "Y-90"]
