"""The fence (issue #13): the core loads no adapter, front door, web, database or plot code.

``lint-imports`` (contracts in pyproject.toml, run by scripts/test.sh) checks the
import graph statically; this test checks what importing the core really loads,
in a fresh interpreter, so that a lazy import inside a module-level call would
be caught too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
)
#: What the core must never load: web, database, plotting, PDF, cluster libraries ...
FORBIDDEN_LIBRARIES = ("fastapi", "starlette", "sqlalchemy", "matplotlib", "weasyprint", "dask")
#: ... and the adapters and front doors above it.
FORBIDDEN_NETLM = (
    "netlm.imaging",
    "netlm.store",
    "netlm.report",
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
