"""Start-up (issue 16) and one CLI shape (issue 13): what the CLI loads, not how long it takes.

Each check runs in a fresh interpreter (``sys.modules`` of the test process
already holds everything), with this checkout's sources first on the path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

import netlm
import netlm.cli
import netlm.documents
from netlm import examples
from netlm.cli import main
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
