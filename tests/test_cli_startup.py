"""Start-up (issue 16) and one CLI shape (issue 13): what the CLI loads, not how long it takes.

Each check runs in a fresh interpreter (``sys.modules`` of the test process
already holds everything), with this checkout's sources first on the path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

import netlm
import netlm.cli
import netlm.documents
from netlm import examples
from netlm.cli import main
from netlm.commands.common import COMMAND_EXTRA, EXTRA_MODULES, missing_extra
from netlm.eligibility import Assessor, profile

SRC = Path(__file__).resolve().parents[1] / "src"
EXAMPLE_DIR = Path(netlm.__file__).parent / "examples"
CASE = EXAMPLE_DIR / "case-bilobar-tare.yaml"

#: Registry, web, cluster, PDF, plotting and image libraries.
HEAVY = ("sqlalchemy", "alembic", "fastapi", "dask", "weasyprint", "matplotlib", "SimpleITK")


def loaded_modules(code: str) -> set[str]:
    """The module names in ``sys.modules`` after ``code`` ran in a new interpreter."""
    script = f"import sys, json\n{code}\n"
    script += "print(json.dumps(sorted(sys.modules)), file=sys.__stdout__)"
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def loaded_after(code: str) -> set[str]:
    """The top-level packages in ``sys.modules`` after ``code`` ran in a new interpreter."""
    return {m.split(".")[0] for m in loaded_modules(code)}


def test_the_subprocess_imports_this_checkout() -> None:
    modules = loaded_after(
        "import netlm, pathlib\n"
        f"assert pathlib.Path(netlm.__file__).resolve() == pathlib.Path({str(netlm.__file__)!r}"
        ").resolve(), netlm.__file__"
    )
    assert "netlm" in modules


def test_import_netlm_cli_loads_no_heavy_library() -> None:
    modules = loaded_after("import netlm.cli")
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_the_probe_sees_a_heavy_library_when_one_is_loaded() -> None:
    # The check above can fail: the registry command module does load SQLAlchemy.
    assert "sqlalchemy" in loaded_after("import netlm.store.repository")


def test_version_loads_neither_typer_nor_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    modules = loaded_modules("from netlm.cli import main\nmain(['--version'])")
    assert not {m for m in modules if m.split(".")[0] in {"typer", "rich", "pydantic", "yaml"}}
    assert not {m for m in modules if m.startswith(("netlm.commands", "netlm.case"))}
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"netlm {netlm.__version__}\n"


def test_version_through_typer_prints_the_same_line(capsys: pytest.CaptureFixture[str]) -> None:
    # --version is eager: given with a command it answers before the command runs.
    assert main(["--version", "rules"]) == 0
    assert capsys.readouterr().out == f"netlm {netlm.__version__}\n"


def test_help_builds_every_command_without_heavy_libraries() -> None:
    modules = loaded_after(
        "from netlm.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
    )
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_assess_loads_no_registry_web_cluster_pdf_or_image_library() -> None:
    modules = loaded_after(
        "from netlm.cli import main\n"
        "import contextlib, io\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    code = main(['assess', {str(CASE)!r}, '--format', 'json'])\n"
        "assert code == 0, code\n"
        "assert json.loads(out.getvalue())['case_id']\n"
    )
    assert not modules & {"dask", "fastapi", "weasyprint", "SimpleITK", "sqlalchemy", "alembic"}
    assert "netlm" in modules and "pydantic" in modules  # it did run the assessment


def test_the_app_is_built_once_and_holds_every_command() -> None:
    app = netlm.cli.app
    assert isinstance(app, typer.Typer)
    assert netlm.cli.build_app() is app
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == {
        "assess", "rules", "sirt", "response", "dose", "kernel", "workup", "cohort",
        "outcomes", "db", "import", "fhir", "users", "pacs", "serve", "demo",
    }  # fmt: skip
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = netlm.cli.nothing


@pytest.mark.parametrize(
    "module",
    [
        "netlm.workflows.demo",
        "netlm.workflows.board",
        "netlm.workflows.response",
        "netlm.workflows.images",
        "netlm.workflows.plans",
        "netlm.workflows.fhir",
    ],
)
def test_workflows_import_no_front_door(module: str) -> None:
    modules = loaded_modules(f"import {module}")
    doors = ("netlm.cli", "netlm.commands", "netlm.api")
    front_doors = {m for m in modules if m in doors or m.startswith(tuple(d + "." for d in doors))}
    assert not front_doors
    assert not {m for m in modules if m.split(".")[0] in {"typer", "fastapi"}}


def test_no_command_module_imports_the_cli() -> None:
    modules = loaded_modules(
        "import netlm.commands.serve, netlm.commands.demo, netlm.commands.assess"
    )
    assert "netlm.cli" not in modules


# --- bundled examples: netlm.examples -------------------------------------------------------


def test_examples_are_the_yaml_files_of_the_package_folder() -> None:
    on_disk = sorted(p.name for p in EXAMPLE_DIR.glob("*.yaml"))
    assert examples.names() == on_disk
    assert examples.names("plan-") == [n for n in on_disk if n.startswith("plan-")]
    assert examples.names("case-")  # there are example cases
    for name, text in examples.bundled_examples("response-"):
        assert text == (EXAMPLE_DIR / name).read_text(encoding="utf-8")


def test_examples_default_prefix_is_the_cases() -> None:
    assert [n for n, _ in examples.bundled_examples()] == examples.names("case-")


def test_an_unknown_example_is_refused_by_name() -> None:
    with pytest.raises(FileNotFoundError, match=r"no bundled example named 'case-x\.yaml'"):
        examples.read_text("case-x.yaml")
    with pytest.raises(FileNotFoundError):
        examples.read_text("__init__.py")  # the module itself is no example


# --- YAML: the C loader, and the default profile parsed once ---------------------------------


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")
def test_documents_use_the_c_loader_when_present() -> None:
    assert netlm.documents._LOADER is yaml.CSafeLoader


def test_default_profile_is_parsed_once_for_many_assessments_and_stored_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sqlalchemy")
    from netlm.store.repository import Store

    calls: list[str] = []
    parse = profile._parse

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[1]))
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(profile, "_parse", counting)
    profile.default_profile.cache_clear()
    try:
        case_text = examples.read_text("case-bilobar-tare.yaml")
        from netlm.case import parse_case

        for _ in range(3):
            Assessor().assess(parse_case(case_text))
        with Store(f"sqlite:///{tmp_path / 'r.db'}") as store:
            version = store.import_case(parse_case(case_text), actor="test")
            first = store.run_assessment(version.patient_id, actor="test")
            store.run_assessment(version.patient_id, actor="test")
            assert store.reproduce_assessment(first.id)
        assert calls == ["default profile"]
    finally:
        profile.default_profile.cache_clear()


# --- installation in layers (issue 15): the core runs without any extra ----------------------

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

#: Import name of each distribution pyproject.toml names (where the two differ, and the rest).
DIST_MODULE = {
    "alembic": "alembic",
    "argon2-cffi": "argon2",
    "dask": "dask",
    "dicomweb-client": "dicomweb_client",
    "distributed": "distributed",  # dask[distributed]
    "fastapi": "fastapi",
    "fhir.resources": "fhir",
    "highdicom": "highdicom",
    "pynetdicom": "pynetdicom",
    "itsdangerous": "itsdangerous",
    "jinja2": "jinja2",
    "lifelines": "lifelines",
    "matplotlib": "matplotlib",
    "numpy": "numpy",
    "pandas": "pandas",
    "psycopg": "psycopg",
    "pyarrow": "pyarrow",
    "pydantic": "pydantic",
    "pydicom": "pydicom",
    "python-multipart": "multipart",
    "pyyaml": "yaml",
    "requests": "requests",
    "rich": "rich",
    "scikit-learn": "sklearn",
    "scipy": "scipy",
    "simpleitk": "SimpleITK",
    "sqlalchemy": "sqlalchemy",
    "typer": "typer",
    "uvicorn": "uvicorn",
    "weasyprint": "weasyprint",
}

#: A meta-path finder that makes every named top-level module fail to import, as if it were
#: not installed, then runs the CLI with the remaining arguments.
BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled())
"""
RUN_CLI = "from netlm.cli import main\nsys.exit(main(sys.argv[2:]))\n"


def _pyproject() -> dict[str, Any]:
    with PYPROJECT.open("rb") as handle:
        return tomllib.load(handle)


def _requirement_name(requirement: str) -> str:
    """``"dask[distributed]>=2024.1"`` -> ``"dask"`` (lower case)."""
    match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    assert match, requirement
    return match.group(0).lower()


def _extra_modules(extra: str, extras: dict[str, list[str]]) -> set[str]:
    """The import names an extra installs, its ``netlm[...]`` references expanded."""
    modules: set[str] = set()
    for requirement in extras[extra]:
        if requirement.startswith("netlm["):
            for inner in requirement[len("netlm[") : requirement.index("]")].split(","):
                modules |= _extra_modules(inner, extras)
        else:
            modules.add(DIST_MODULE[_requirement_name(requirement)])
            # A package's own extras that are packages too: dask[distributed].
            inner = re.search(r"\[([^]]+)\]", requirement)
            names = inner.group(1).split(",") if inner else []
            modules |= {DIST_MODULE[n] for n in names if n in DIST_MODULE}
    return modules


def run_without(blocked: set[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``netlm ARGS`` in a new interpreter in which the ``blocked`` modules cannot be imported."""
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + RUN_CLI, ",".join(sorted(blocked)), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path, "XDG_CACHE_HOME": str(cwd / "cache")},
        timeout=300,
        check=False,
    )


#: Every module an extra brings: none of them is importable in the "core only" runs below.
OPTIONAL = frozenset().union(*EXTRA_MODULES.values())


def test_core_dependencies_hold_no_heavy_package() -> None:
    core = {_requirement_name(r) for r in _pyproject()["project"]["dependencies"]}
    core_modules = {DIST_MODULE[name] for name in core}
    assert not core_modules & OPTIONAL
    assert not core_modules & set(HEAVY)
    assert core_modules == {"numpy", "scipy", "pydantic", "yaml", "typer", "rich"}


def test_the_extras_table_of_the_cli_is_the_one_of_pyproject() -> None:
    extras: dict[str, list[str]] = _pyproject()["project"]["optional-dependencies"]
    for extra, modules in EXTRA_MODULES.items():
        assert _extra_modules(extra, extras) == set(modules), extra
    # [all] is every extra; [test] installs all of it, plus the test tools.
    assert _extra_modules("all", extras) == set(OPTIONAL)
    assert "netlm[all]" in extras["test"]
    assert set(COMMAND_EXTRA.values()) <= set(extras)


def test_the_blocker_does_block(tmp_path: Path) -> None:
    done = run_without({"SimpleITK"}, ["--version"], tmp_path)
    assert done.returncode == 0
    probe = subprocess.run(
        [sys.executable, "-c", BLOCKER + "import SimpleITK.extra\n", "SimpleITK"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 1 and "No module named 'SimpleITK'" in probe.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["assess", str(CASE), "--format", "json"],
        ["sirt", "plan", str(EXAMPLE_DIR / "plan-partition-glass.yaml"), "-f", "json"],
        ["sirt", "plan", str(EXAMPLE_DIR / "plan-bsa-resin-bilobar.yaml"), "-f", "json"],
        ["response", str(EXAMPLE_DIR / "response-recist.yaml"), "-f", "json"],
        ["kernel", "Y-90", "--voxel-mm", "4", "--histories", "2000", "-f", "json"],
    ],
)
def test_the_core_runs_without_any_extra(
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the kernel cache
    done = run_without(set(OPTIONAL), args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # The same answer as with every package installed (this process has them all).
    assert main(args) == 0
    assert done.stdout == capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "extra", "module"),
    [
        (["dose", "images", "--activity", "pet.nrrd", "--out", "dose"], "imaging", "SimpleITK"),
        (["assess", str(CASE), "--pdf", "board.pdf"], "report", "jinja2"),
        (["db", "upgrade", "--db", "r.sqlite"], "service", "sqlalchemy"),
        (["outcomes", "survival", "x.csv"], "cohort", "pandas"),
        # a core command's figures come with the report extra, not with imaging
        (
            ["response", str(EXAMPLE_DIR / "response-recist.yaml"), "--waterfall", "w.png"],
            "report",
            "matplotlib",
        ),
    ],
)
def test_a_missing_extra_is_named(args: list[str], extra: str, module: str, tmp_path: Path) -> None:
    done = run_without(set(OPTIONAL), args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: netlm {' '.join(a for a in args[:2] if not a.startswith(('-', '/')))} "
        f'needs {module}, which is not installed: pip install "netlm[{extra}]"'
    ]
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob("*.png"))
    assert not (tmp_path / "dose").exists()


def test_the_extra_of_the_command_is_named_when_it_holds_the_module(tmp_path: Path) -> None:
    # matplotlib is in [imaging], [report] and [cohort]: `netlm dose images` names [imaging].
    error = ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
    assert missing_extra(error, ["dose", "images"]) == (
        'netlm dose images needs matplotlib, which is not installed: pip install "netlm[imaging]"'
    )
    assert missing_extra(error, ["cohort", "run"]) is not None
    assert '"netlm[cohort]"' in str(missing_extra(error, ["cohort", "run"]))
    assert '"netlm[all]"' in str(missing_extra(error, ["demo"]))
    # A module of netlm itself, or of the core, is a broken installation: no extra to name.
    assert missing_extra(ModuleNotFoundError("x", name="numpy"), ["assess"]) is None
