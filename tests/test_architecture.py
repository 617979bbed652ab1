"""The fence (issue #13): the core loads no adapter, front door, web, database or plot code.

``lint-imports`` (contracts in pyproject.toml, run by scripts/test.sh) checks the
import graph statically; this test checks what importing the core really loads,
in a fresh interpreter, so that a lazy import inside a module-level call would
be caught too.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: The core packages and modules (the bottom layer of the picture in README.md).
CORE = (
    "netlm.case",
    "netlm.clinical",
    "netlm.eligibility",
    "netlm.sirt",
    "netlm.voxel",
    "netlm.response",
    "netlm.outcomes",
    "netlm.evidence",
    "netlm.units",
    "netlm.errors",
    "netlm.volume",
    "netlm.documents",
    "netlm.validation",
    "netlm.examples",
    "netlm.results",
)
#: What the core must never load: web, database, plotting, PDF, cluster libraries ...
FORBIDDEN_LIBRARIES = ("fastapi", "starlette", "sqlalchemy", "matplotlib", "weasyprint", "dask")
#: ... and the adapters and front doors above it.
FORBIDDEN_NETLM = (
    "netlm.imaging",
    "netlm.store",
    "netlm.report",
    "netlm.pacs",
    "netlm.fhir",
    "netlm.api",
    "netlm.commands",
    "netlm.cli",
    "netlm.cohort",
    "netlm.workflows",
)

_PROBE = """
import importlib, json, pkgutil, sys
roots = json.loads(sys.argv[1])
for root in roots:
    module = importlib.import_module(root)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), root + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_by(roots: tuple[str, ...]) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(roots))],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _hits(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture(scope="module")
def core_modules() -> set[str]:
    return _loaded_by(CORE)


def test_core_loads_no_web_database_or_plot_library(core_modules: set[str]) -> None:
    assert _hits(core_modules, FORBIDDEN_LIBRARIES) == []


def test_core_loads_no_adapter_or_front_door(core_modules: set[str]) -> None:
    assert _hits(core_modules, FORBIDDEN_NETLM) == []
    assert "netlm.volume" in core_modules and "netlm.voxel.dvh" in core_modules


#: The use cases on files (no registry): the CLI runs them with the imaging, cohort, PACS or
#: FHIR extra alone, so they must not load the registry (the service extra).
FILE_WORKFLOWS = (
    "netlm.workflows.dose",
    "netlm.workflows.dicom_results",
    "netlm.workflows.workup",
    "netlm.workflows.outcomes",
    "netlm.workflows.pacs",
    "netlm.workflows.fhir",
)


def test_file_workflows_load_no_registry_or_web_library() -> None:
    loaded = _loaded_by(FILE_WORKFLOWS)
    assert set(FILE_WORKFLOWS) <= loaded
    assert _hits(loaded, ("netlm.store", "sqlalchemy", "alembic", "fastapi", "starlette")) == []


def test_the_probe_sees_a_forbidden_import() -> None:
    # The check can fail: the figures module (an adapter) loads matplotlib.
    loaded = _loaded_by(("netlm.report.figures",))
    assert "matplotlib" in _hits(loaded, FORBIDDEN_LIBRARIES)


@pytest.mark.parametrize("name", ["Modality", "Interval"])
def test_a_name_means_one_thing(name: str) -> None:
    # Issue #13 item 7: one Modality (the treatments netlm assesses), one Interval
    # (a confidence interval); other concepts get other names.
    import importlib
    import pkgutil

    import netlm

    found: dict[int, list[str]] = {}
    for info in pkgutil.walk_packages(netlm.__path__, "netlm."):
        if ".migrations" in info.name:
            continue  # Alembic scripts run on import
        module = importlib.import_module(info.name)
        if name in vars(module):
            found.setdefault(id(vars(module)[name]), []).append(info.name)
    assert len(found) == 1, f"{name} is defined in several places: {list(found.values())}"


# --- the contracts cover every package ----------------------------------------------------
def _contracts() -> dict[str, dict[str, object]]:
    pyproject = tomllib.loads((SRC.parent / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in pyproject["tool"]["importlinter"]["contracts"]}


def _layer_members(contract: dict[str, object]) -> set[str]:
    layers = contract["layers"]
    assert isinstance(layers, list)
    return {m.strip() for layer in layers for m in layer.replace(":", "|").split("|")}


def test_every_package_sits_in_a_layer() -> None:
    # A new package outside the layers contract would escape the fence unseen.
    top = {
        f"netlm.{p.stem}"
        for p in (SRC / "netlm").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert {"netlm.pacs", "netlm.fhir", "netlm.api", "netlm.workflows"} <= top
    assert sorted(top - _layer_members(_contracts()["layers"])) == []


def test_the_core_of_the_tests_is_the_core_of_the_contract() -> None:
    contract = _contracts()["core-is-pure"]
    sources, forbidden = contract["source_modules"], contract["forbidden_modules"]
    assert isinstance(sources, list) and isinstance(forbidden, list)
    assert sorted(sources) == sorted(CORE)
    assert set(FORBIDDEN_NETLM) <= set(forbidden)


# --- the API and the registry stay split by concern ------------------------------------
#: Largest module of ``netlm.api`` and ``netlm.store`` (lines) and largest function (lines,
#: decorators included); nothing is exempt but released Alembic revisions.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 120


def _oversized(source: str, name: str) -> list[str]:
    """What in one module's ``source`` breaks the size limits."""
    found = []
    lines = source.count("\n") + (not source.endswith("\n"))
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    return found


def test_no_api_module_or_function_is_oversized() -> None:
    api = SRC / "netlm" / "api"
    modules = sorted(api.rglob("*.py"))
    names = {str(p.relative_to(api)) for p in modules}
    assert {"app.py", "security.py", "roles.py", "pages/board.py", "forms/case.py"} <= names
    found = [
        problem
        for path in modules
        for problem in _oversized(path.read_text(encoding="utf-8"), str(path.relative_to(api)))
    ]
    assert found == []


def test_no_store_module_or_function_is_oversized() -> None:
    """The registry stays split by concern (one mixin per concern, issue #13).

    Alembic revisions are exempt: a released revision is history and is never edited.
    """
    store = SRC / "netlm" / "store"
    modules = sorted(p for p in store.rglob("*.py") if "migrations" not in p.parts)
    names = {str(p.relative_to(store)) for p in modules}
    assert {"repository.py", "base.py", "models.py", "accounts.py", "exchange.py"} <= names
    found = [
        problem
        for path in modules
        for problem in _oversized(path.read_text(encoding="utf-8"), str(path.relative_to(store)))
    ]
    assert found == []


def test_the_size_fence_can_fail() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    long_function = f"@decorator\ndef handler():\n{body}"
    assert _oversized(long_function, "m.py") == [
        f"m.py:2 handler(): {MAX_FUNCTION_LINES + 2} lines"
    ]
    assert _oversized("x = 1\n" * (MAX_MODULE_LINES + 1), "big.py") == [
        f"big.py: {MAX_MODULE_LINES + 1} lines"
    ]
    assert _oversized("x = 1\n" * MAX_MODULE_LINES, "ok.py") == []


# --- unit factors have names (netlm/units.py) ------------------------------------------------
#: Numbers that, multiplied or divided by, are almost always a unit conversion: s/min/h/day,
#: days per week/month/year, months per year, mm per cm, SI prefixes, degrees.  Issue #13 item 4.
UNIT_FACTORS = frozenset(
    {7, 10, 12, 24, 60, 180, 1000, 3600, 86400, 365.25, 30.4375, 1e6, 1e9, 1e-3, 1e-6, 1e-9}
    | {math.pi, 180 / math.pi, math.pi / 180}  # radians <-> degrees: math.degrees/radians
)
#: Where one of those numbers is not a unit: (module under src/netlm, number) -> why.
NOT_A_UNIT = {
    ("outcomes/dose_response.py", 10): "a tenth of the bootstrap resamples",
    ("report/plan.py", 1e6): "a count of spheres in millions",
    ("response/model.py", 10): "a length in integer tenths of a millimetre",
    ("response/choi.py", 10): "exact ratio thresholds on integers (10·cur ≥ 11·ref)",
    ("response/mrecist.py", 10): "tenths of a millimetre; exact ratio 10·cur ≤ 7·baseline",
    ("response/mrecist.py", 7): "exact ratio 10·cur ≤ 7·baseline (−30 %)",
    ("response/percist.py", 10): "exact ratio thresholds on integers",
    ("response/percist.py", 7): "exact ratio 10·cur ≤ 7·baseline (−30 %)",
    ("response/recist.py", 10): "exact ratio 10·cur ≤ 7·baseline (−30 %)",
    ("response/recist.py", 7): "exact ratio 10·cur ≤ 7·baseline (−30 %)",
}


def _loose_factors(source: str) -> list[tuple[int, float]]:
    """(line, number) of each bare unit factor that ``source`` multiplies or divides by."""
    scaling = (ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
    found = []
    for node in ast.walk(ast.parse(source)):
        operands: list[ast.expr] = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, scaling):
            operands = [node.left, node.right]
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, scaling):
            operands = [node.value]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "divmod":
            operands = node.args[1:]
        for operand in operands:
            if isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.USub):
                operand = operand.operand
            value = operand.value if isinstance(operand, ast.Constant) else None
            if type(value) in (int, float) and value in UNIT_FACTORS:
                found.append((node.lineno, value))
    return found


def test_no_loose_unit_factor_outside_units_py() -> None:
    root = SRC / "netlm"
    found = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name == "units.py" or "migrations" in path.parts:
            continue
        for line, value in _loose_factors(path.read_text(encoding="utf-8")):
            if (name, value) not in NOT_A_UNIT:
                found.append(f"{name}:{line}: {value:g} (name it in netlm/units.py)")
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = seconds / 3600.0", [(1, 3600)]),
        ("x = 1e3 * kbq", [(1, 1000)]),
        ("x = -1.0 / 60", [(1, 60)]),
        ("x *= 24", [(1, 24)]),
        ("h, m = divmod(minutes, 60)", [(1, 60)]),
        ("x = days / 365.25", [(1, 365.25)]),
        ("x = rad * 180.0 / 3.141592653589793", [(1, math.pi), (1, 180)]),
        ("x = seconds / S_PER_H", []),
        ("x = 100 * fraction", []),
        ("x = 0.5 * y + 1000", []),
    ],
)
def test_the_unit_factor_scan_can_fail(source: str, expected: list[tuple[int, float]]) -> None:
    assert _loose_factors(source) == expected


# --- no import circles --------------------------------------------------------------------
def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (module -> modules it imports): its strongly
    connected components of more than one module, or of one that imports itself."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for other in sorted(graph.get(module, ())):
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1 or module in graph.get(module, ()):
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_no_import_circles() -> None:
    """Issue #13: no module reaches itself through imports.

    Every import counts: at the top, under ``TYPE_CHECKING`` and inside a function
    (a command's lazy import is a dependency all the same).
    """
    import grimp

    graph = grimp.build_graph("netlm", exclude_type_checking_imports=False)
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert len(imports) > 150
    assert _circles(imports) == []


def test_the_circle_finder_can_fail() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _circles(graph) == [["a", "b", "c"], ["e"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


# --- the CLI imports at the top --------------------------------------------------------------
def _mid_file_imports(source: str) -> list[int]:
    """Lines of module-level imports that follow other module-level code."""

    def imports_only(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import | ast.ImportFrom):
            return True
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return all(imports_only(n) for n in (*node.body, *node.orelse))
        return False

    body = ast.parse(source).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    first_code = next((i for i, node in enumerate(body) if not imports_only(node)), len(body))
    return [node.lineno for node in body[first_code:] if imports_only(node)]


def test_cli_and_commands_import_at_the_top() -> None:
    """``cli.py`` only assembles ``commands/``; neither imports in the middle of a module.

    (A command's imports inside its function are the CLI's lazy loading, and fine.)
    """
    paths = [SRC / "netlm" / "cli.py", *sorted((SRC / "netlm" / "commands").glob("*.py"))]
    assert len(paths) > 10
    found = [
        f"{path.relative_to(SRC)}:{line}"
        for path in paths
        for line in _mid_file_imports(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_mid_file_import_check_can_fail() -> None:
    source = '"""Doc."""\nimport a\nif TYPE_CHECKING:\n    import b\nX = 1\nimport c\n'
    assert _mid_file_imports(source) == [6]
    assert _mid_file_imports("import a\ndef f():\n    import b\n") == []


# --- the README's layout is the code's --------------------------------------------------------
def _readme_layout() -> set[str]:
    """The packages and modules that README "How the code is laid out" lists under src/netlm/."""
    readme = (SRC.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    tree = section.split("src/netlm/\n", 1)[1].split("```", 1)[0]
    entries = (re.match(r"  (\S+)", line) for line in tree.splitlines())
    return {m.group(1).rstrip("/") for m in entries if m}


def test_the_readme_lists_every_package() -> None:
    top = {
        p.stem if p.suffix == ".py" else p.name
        for p in (SRC / "netlm").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert {"case", "voxel", "cli", "units"} <= top
    listed = {name.removesuffix(".py") for name in _readme_layout()}
    assert sorted(top - listed) == [], "in src/netlm but not in the README"
    assert sorted(listed - top) == [], "in the README but not in src/netlm"


# --- no module reaches into another package's private names -----------------------------------
#: (importing module, imported name) -> why it may.  Empty: every name used across packages
#: is public and documented.
PRIVATE_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}


def _package(module: str) -> str:
    """The package a module belongs to: ``netlm.imaging`` for ``netlm.imaging.io``,
    ``netlm.api.pages`` for ``netlm.api.pages.board``; a top-level module (``netlm.cli``)
    or package (``netlm.units``) is its own."""
    parts = module.split(".")
    return ".".join(parts[:-1]) if len(parts) > 2 else module


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_imports(module: str, source: str, is_package: bool = False) -> list[str]:
    """The private names (``_x``) that ``module`` imports from, or reads as an attribute of,
    a netlm module of another package: ``from netlm.imaging.io import _x``,
    ``import netlm.imaging._io``, ``io._x`` after ``from netlm.imaging import io``."""
    own = module if is_package else _package(module)
    found: list[str] = []
    modules: dict[str, str] = {}  # local name -> the netlm module (or name) it stands for
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("netlm"):
            assert node.module is not None
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                outside = _package(target) != own and not target.startswith(own + ".")
                if outside and any(_private(p) for p in target.split(".")):
                    found.append(target)
                if outside:
                    modules[alias.asname or alias.name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                outside = _package(alias.name) != own and not alias.name.startswith(own + ".")
                if alias.name.startswith("netlm") and outside:
                    if any(_private(p) for p in alias.name.split(".")):
                        found.append(alias.name)
                    local = alias.asname or alias.name.split(".")[0]
                    modules[local] = alias.name if alias.asname else local
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{modules[node.value.id]}.{node.attr}")
    return sorted(set(found))


def test_no_module_imports_a_private_name_of_another_package() -> None:
    """A name starting with ``_`` is its package's own business (issue #13): what another
    package needs gets a public, documented name (e.g. ``netlm.imaging.io.dicom_files``
    for ``netlm pacs push``).  Within a package private names may be shared."""
    root = SRC / "netlm"
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        for name in _private_imports(module, path.read_text(encoding="utf-8"), is_package):
            if (module, name.rsplit(".", 1)[-1]) not in PRIVATE_IMPORTS_ALLOWED:
                found.append(f"{module} uses {name}")
    assert found == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "netlm.commands.pacs",
            "from netlm.imaging.io import _dicom_files",
            ["netlm.imaging.io._dicom_files"],
        ),
        ("netlm.commands.pacs", "from netlm.imaging.io import dicom_files", []),
        ("netlm.commands.pacs", "import netlm.imaging._io", ["netlm.imaging._io"]),
        (
            "netlm.commands.pacs",
            "from netlm.imaging import io\nio._files_below(p)",
            ["netlm.imaging.io._files_below"],
        ),
        ("netlm.commands.pacs", "import netlm.imaging.io as io\nio._x", ["netlm.imaging.io._x"]),
        ("netlm.commands.pacs", "from netlm.commands.common import _x", []),  # same package
        ("netlm.imaging.seg", "from netlm.imaging.io import _read_dicom_header", []),
        ("netlm.api.pages.board", "from netlm.api.viewer import _x", ["netlm.api.viewer._x"]),
        ("netlm.cli", "from netlm.commands.common import __version__", []),  # dunder: public
        ("netlm.cli", "from typer._completion_shared import install", []),  # not netlm
    ],
)
def test_the_private_import_check_can_fail(module: str, source: str, expected: list[str]) -> None:
    assert _private_imports(module, source) == expected
