"""Benchmark: start-up of the ``netlm`` command as a process.

Run with ``python benchmarks/bench_startup.py [REPEATS] [BASELINE_SRC]``
(default 15 repeats).  Times three processes, interleaved so that a busy
machine slows each alike:

* ``python -c pass`` (the floor: the interpreter alone),
* ``netlm --version``,
* ``netlm assess CASE --format json`` on a bundled example case,

each started the way the ``netlm`` console script starts (``from netlm.cli
import main``), with the median of the repeats, and prints each as a ratio to
``python -c pass`` measured in the same run.  The ratios, not the absolute
times, are what to compare between machines and commits.  Also prints the
modules each command loads (heavy libraries only) as a check on what the time
is spent on.

With ``BASELINE_SRC`` (the ``src`` folder of another checkout, e.g. ``git
archive`` of the base commit) the two netlm commands are also run from that
tree in the same interleaved loop, and each is printed as a ratio to its
baseline: before/after in one run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import netlm

#: Bundled example case the ``assess`` run reads.
CASE = Path(netlm.__file__).parent / "examples" / "case-bilobar-tare.yaml"

#: Libraries the start-up work is about (issue #16).
HEAVY = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "dask",
    "weasyprint",
    "matplotlib",
    "SimpleITK",
    "highdicom",
    "scipy",
    "pandas",
)

_CLI = "import sys; from netlm.cli import main; sys.exit(main(sys.argv[1:]))"
_PROBE = (
    "import sys; from netlm.cli import main\n"
    "try:\n    main(sys.argv[1:])\nfinally:\n"
    "    print(' '.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
)

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "netlm --version": [sys.executable, "-c", _CLI, "--version"],
    "netlm assess CASE": [sys.executable, "-c", _CLI, "assess", str(CASE), "--format", "json"],
}


def _env(src: str | None) -> dict[str, str] | None:
    """The environment with ``src`` first on ``PYTHONPATH`` (None: this process's)."""
    if src is None:
        return None
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _time(argv: list[str], env: dict[str, str] | None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _heavy_loaded(args: list[str], env: dict[str, str] | None) -> str:
    probe = _PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "-"


def main(repeats: int = 15, baseline_src: str | None = None) -> None:
    """Time every command ``repeats`` times, interleaved; print medians and ratios."""
    trees: dict[str, dict[str, str] | None] = {"": None}
    if baseline_src is not None:
        trees[" (baseline)"] = _env(str(Path(baseline_src).resolve()))
    runs = {
        name + tag: (argv, env)
        for tag, env in trees.items()
        for name, argv in COMMANDS.items()
        if not (tag and name == "python -c pass")
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for argv, env in runs.values():  # warm the file-system cache once
        _time(argv, env)
    for _ in range(repeats):
        for name, (argv, env) in runs.items():
            times[name].append(_time(argv, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    floor = medians["python -c pass"]
    print(f"netlm {netlm.__version__} from {Path(netlm.__file__).parent}; {repeats} repeats")
    if baseline_src is not None:
        print(f"baseline: {Path(baseline_src).resolve()}")
    print(f"{'command':<33} {'median ms':>10} {'x python -c pass':>17} {'x baseline':>11}")
    for name, median in medians.items():
        base = medians.get(f"{name} (baseline)")
        versus = f"{median / base:>11.2f}" if base else ""
        print(f"{name:<33} {1000 * median:>10.1f} {median / floor:>17.1f} {versus}")
    print("heavy modules loaded:")
    for tag, env in trees.items():
        print(f"  import netlm.cli{tag}:  {_heavy_loaded(['--help'], env)}")
        assess = ["assess", str(CASE), "--format", "json"]
        print(f"  netlm assess CASE{tag}: {_heavy_loaded(assess, env)}")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 15,
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
