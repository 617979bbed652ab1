"""Benchmark: start-up of the ``netlm`` command as a process.

Run with ``python benchmarks/bench_startup.py [REPEATS]`` (default 15).  Times
three processes, interleaved so that a busy machine slows each alike:

* ``python -c pass`` (the floor: the interpreter alone),
* ``netlm --version``,
* ``netlm assess CASE --format json`` on a bundled example case,

each started the way the ``netlm`` console script starts (``from netlm.cli
import main``), with the median of the repeats, and prints each as a ratio to
``python -c pass`` measured in the same run.  The ratios, not the absolute
times, are what to compare between machines and commits.  Also prints the
modules each command loads (heavy libraries only) as a check on what the time
is spent on.
"""

from __future__ import annotations

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


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _heavy_loaded(args: list[str]) -> str:
    probe = _PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "-"


def main(repeats: int = 15) -> None:
    """Time every command ``repeats`` times, interleaved; print medians and ratios."""
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():  # warm the file-system cache once
        _time(argv)
    for _ in range(repeats):
        for name, argv in COMMANDS.items():
            times[name].append(_time(argv))
    floor = statistics.median(times["python -c pass"])
    print(f"netlm {netlm.__version__} from {Path(netlm.__file__).parent}; {repeats} repeats")
    print(f"{'command':<22} {'median ms':>10} {'x python -c pass':>17}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<22} {1000 * median:>10.1f} {median / floor:>17.1f}")
    print("heavy modules loaded:")
    print(f"  import netlm.cli:  {_heavy_loaded(['--help'])}")
    print(f"  netlm assess CASE: {_heavy_loaded(['assess', str(CASE), '--format', 'json'])}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
