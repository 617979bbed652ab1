"""CLI polish (issues 11 and 15): plain ``error:`` lines on a non-terminal stderr,
``--voxel-mm`` given as one value or three (``--voxel-mm 2 3 4``), and one shape for
every command: ``--db``, ``--format``, completion, warnings, unwritable paths, width,
and the kernel density default."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

import netlm
import netlm.cli
from netlm.cli import main
from netlm.commands.common import spread_option_values
from netlm.sirt.physics import Physics
from netlm.voxel.kernels import dose_point_kernel, y90_kernel

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


# --- issue 15: one shape for every command ---------------------------------------------------

EXAMPLES = Path(netlm.__file__).parent / "examples"
CASE = EXAMPLES / "case-bilobar-tare.yaml"
PET_DIR = Path(__file__).resolve().parent / "data" / "shared" / "data" / "y90-pet-maa-spect"
PET = PET_DIR / "patient_1_Y90_PET.nrrd"
SEG = PET_DIR / "patient_1_Segmentation.seg.nrrd"
DOSE_ARGS = [
    "dose", "images", "--activity", str(PET), "--activity-unit", "Bq/mL",
    "--masks", str(SEG), "--assume-implant-time-reference",
]  # fmt: skip


def all_commands() -> dict[str, Any]:
    """Every ``netlm`` command by its full name (``"dose images"``), from the Typer app.

    (Typer brings its own copy of click: the objects are typed by what they have.)
    """
    found: dict[str, Any] = {}

    def walk(command: Any, name: str) -> None:
        if hasattr(command, "commands"):
            for sub_name, sub in command.commands.items():
                walk(sub, f"{name} {sub_name}".strip())
        else:
            found[name] = command

    walk(typer.main.get_command(netlm.cli.build_app()), "")
    return found


def option(command: Any, flag: str) -> Any:
    return next((p for p in command.params if flag in getattr(p, "opts", ())), None)


def netlm_subprocess(
    args: list[str], tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(SRC), "XDG_CACHE_HOME": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "netlm.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=300,
        check=False,
    )


def test_every_db_option_reads_a_path_or_a_url(tmp_path: Path) -> None:
    commands = all_commands()
    with_db = {
        name: p
        for name, c in commands.items()
        for p in [option(c, "--db") or option(c, "--seed-db")]
        if p is not None
    }
    expected = {"serve", "import", "db upgrade", "db export", "users create", "fhir export"}
    assert expected | {"demo"} <= set(with_db)
    path = tmp_path / "registry.sqlite"
    for name, param in with_db.items():
        ctx = typer.Context(commands[name])
        assert param.process_value(ctx, str(path)) == f"sqlite:///{path}", name
        assert param.process_value(ctx, f"sqlite:///{path}") == f"sqlite:///{path}", name
        url = "postgresql://netlm@db.example.org/netlm"
        assert param.process_value(ctx, url) == url, name


def test_a_registry_given_as_a_path_is_the_one_given_as_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "registry.sqlite"
    assert main(["db", "upgrade", "--db", str(path)]) == 0
    assert main(["import", str(CASE), "--db", f"sqlite:///{path}", "--actor", "t"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--db", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    patient = yaml.safe_load(CASE.read_text())["patient"]["id"]
    out = tmp_path / "x.json"
    assert main(["db", "export", patient, "--external", "--db", str(path), "-o", str(out)]) == 0
    assert patient in out.read_text()


def test_every_format_option_is_a_closed_choice() -> None:
    seen = {}
    for name, command in all_commands().items():
        param = option(command, "--format")
        if param is not None:
            seen[name] = {m.value for m in param.type_descriptor.annotation}
            ctx = typer.Context(command)
            with pytest.raises(typer.BadParameter, match="'xml' is not one of 'text', 'json'"):
                param.process_value(ctx, "xml")
    markdown = {name for name, choices in seen.items() if "markdown" in choices}
    assert markdown == {"assess", "rules", "sirt plan", "response"}
    closed = ({"text", "json"}, {"text", "json", "markdown"})
    assert all(choices in closed for choices in seen.values())
    assert {"kernel", "dose images", "cohort run", "users list", "import"} <= set(seen)


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["kernel", "Y-90", "--voxel-mm", "4", "--format", "markdown"], "'text', 'json'."),
        (["users", "list", "--format", "markdown"], "'text', 'json'."),
        (["cohort", "run", "m.yaml", "--format", "markdown"], "'text', 'json'."),
        (["assess", str(CASE), "--format", "xml"], "'text', 'json', 'markdown'."),
    ],
)
def test_an_unsupported_format_is_refused(
    args: list[str], allowed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--format'" in err and f"is not one of {allowed}" in err


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--install-completion" in out and "--show-completion" in out
    assert main(["--show-completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "_NETLM_COMPLETE=complete_bash" in script and "complete " in script


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete_bash"), ("zsh", "#compdef netlm"), ("fish", "complete_fish")],
)
def test_a_named_shell_gets_its_completion_without_guessing_the_shell(
    shell: str, marker: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer._completion_shared as shared
    import typer.completion as completion

    # as under a CI runner or an IDE: no shell among the parent processes
    monkeypatch.setattr(shared, "_get_shell_name", lambda: None)
    monkeypatch.setattr(completion, "_get_shell_name", lambda: None)
    assert main(["--show-completion", shell]) == 0
    script = capsys.readouterr().out
    assert marker in script and "_NETLM_COMPLETE" in script


def test_warnings_are_one_line_without_python_source(tmp_path: Path) -> None:
    # A real warning path: the image's times are assumed (DosimetryWarning), and small VOIs.
    done = netlm_subprocess([*DOSE_ARGS, "--out", "dose", "-f", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert any("activity time reference assumed" in line for line in lines)
    assert lines and all(line.startswith("warning: ") for line in lines), lines
    assert all(line.endswith("(DosimetryWarning)") for line in lines)
    assert ".py:" not in done.stderr and "compute_dose(" not in done.stderr


@pytest.fixture(params=["read-only folder", "file as folder"])
def unwritable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written into."""
    if request.param == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    yield blocker


@pytest.mark.parametrize(
    "args",
    [
        ["assess", str(CASE), "--pdf", "{out}/board.pdf"],
        ["sirt", "plan", str(EXAMPLES / "plan-partition-glass.yaml"), "--pdf", "{out}/plan.pdf"],
        ["response", str(EXAMPLES / "response-recist.yaml"), "--pdf", "{out}/response.pdf"],
        [*DOSE_ARGS, "--out", "{out}/dose"],
        [*DOSE_ARGS, "--out", "{dose}", "--pdf", "{out}/dose.pdf"],
        ["demo", "--out", "{out}/demo"],
    ],
)
def test_an_unwritable_output_path_is_one_error_line(
    args: list[str], unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filled = [a.format(out=unwritable, dose=tmp_path / "dose") for a in args]
    target = next(a for a in filled if a.startswith(str(unwritable)))
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: cannot ") and target in err
    assert not (tmp_path / "dose").exists()  # refused before any work


def test_voxel_mm_takes_three_decimal_values_as_its_help_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["kernel", "--help"]) == 0
    assert "--voxel-mm 2 3 4" in " ".join(capsys.readouterr().out.split())
    doc = _kernel_json(capsys, "--voxel-mm", "2.34", "2.34", "2.78")
    assert doc["voxel_mm"] == [2.34, 2.34, 2.78]


@pytest.mark.parametrize(
    "args",
    [
        ["assess", str(CASE)],
        ["sirt", "plan", str(EXAMPLES / "plan-partition-glass.yaml")],
        ["response", str(EXAMPLES / "response-recist.yaml")],
        ["rules"],
    ],
)
def test_text_output_wraps_to_the_terminal_width(args: list[str], tmp_path: Path) -> None:
    narrow = netlm_subprocess(args, tmp_path, COLUMNS="72")
    assert narrow.returncode == 0, narrow.stderr
    widths = [len(line) for line in narrow.stdout.splitlines()]
    assert max(widths) <= 72
    wide = netlm_subprocess(args, tmp_path, COLUMNS="200")
    assert max(len(line) for line in wide.stdout.splitlines()) > 72  # it did wrap


def test_the_kernel_density_default_is_one_value_in_cli_python_and_api(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = option(all_commands()["kernel"], "--density")
    assert cli is not None
    python = inspect.signature(y90_kernel).parameters["density_g_per_ml"].default
    point = inspect.signature(dose_point_kernel).parameters["density_g_per_ml"].default
    schema = Physics.model_json_schema()["properties"]["tissue_density_g_per_ml"]["default"]
    assert cli.default == python == point == schema == Physics().tissue_density_g_per_ml
    assert main(["kernel", "--help"]) == 0
    assert f"[default: {cli.default}]" in capsys.readouterr().out


def test_a_kernel_error_is_not_headed_as_a_plan_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kernel", "I-131", "--voxel-mm", "4"]) == 2
    err = capsys.readouterr().err
    assert err == "error: Argument 'nuclide' must be Y-90 (the one supported), not 'I-131'\n"
