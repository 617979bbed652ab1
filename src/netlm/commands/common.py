"""What every command shares: output formats, the ``--db`` and ``--actor`` options, the
bad-input exit, the message for an optional package that is not installed, the spinner
and the atomic write of an output file."""

from __future__ import annotations

import datetime as dt
import errno
import getpass
import os
import re
import tempfile
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand

from netlm.errors import InputError, NetlmError, StoreError

if TYPE_CHECKING:
    from rich.progress import Progress

EXIT_BAD_INPUT = 2

#: The optional extras of ``pyproject.toml`` (``[project.optional-dependencies]``) and the
#: top-level modules each one installs; ``pip install netlm`` alone has the core
#: (numpy, scipy, pydantic, PyYAML, typer, rich): assessment, 90Y plans, response, kernels.
#: tests/test_cli_startup.py checks this table against pyproject.toml.
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "imaging": frozenset({"SimpleITK", "pydicom", "highdicom", "matplotlib"}),
    "report": frozenset({"weasyprint", "jinja2", "matplotlib"}),
    "service": frozenset(
        {
            "fastapi",
            "uvicorn",
            "sqlalchemy",
            "alembic",
            "argon2",
            "psycopg",
            "multipart",
            "itsdangerous",
            "weasyprint",
            "jinja2",
            "matplotlib",
        }
    ),
    "cohort": frozenset(
        {
            "dask",
            "distributed",
            "lifelines",
            "matplotlib",
            "pandas",
            "pyarrow",
            "sklearn",
            "SimpleITK",
        }
    ),
    "pacs": frozenset(
        {
            "dicomweb_client",
            "pydicom",
            "pynetdicom",
            "requests",
            "SimpleITK",
            "highdicom",
            "matplotlib",
        }
    ),
    "fhir": frozenset({"fhir"}),
}

#: The extra each command needs beyond the core (the first word after ``netlm``); a
#: missing module is named with this extra when it holds the module, else with the first
#: extra of :data:`EXTRA_MODULES` that does.
COMMAND_EXTRA: dict[str, str] = {
    "dose": "imaging",
    "workup": "imaging",
    "cohort": "cohort",
    "outcomes": "cohort",
    "db": "service",
    "import": "service",
    "users": "service",
    "serve": "service",
    "pacs": "pacs",
    "fhir": "fhir",
    "demo": "all",
    # core commands whose --pdf, --waterfall/--spider need the report extra
    "assess": "report",
    "sirt": "report",
    "response": "report",
}

#: The name to ``pip install`` of an import name that differs from it.
PACKAGE_NAMES: dict[str, str] = {
    "fhir": "fhir.resources",
    "argon2": "argon2-cffi",
    "multipart": "python-multipart",
    "dicomweb_client": "dicomweb-client",
    "sklearn": "scikit-learn",
}


def missing_extra(error: ImportError, command: Sequence[str]) -> str | None:
    """``error`` (an optional package that is not installed) as one line naming the extra.

    ``command`` is the command that ran (``["dose", "images"]``).  ``None`` when the
    missing module belongs to no extra (a broken installation, which should show its
    traceback).

    Examples
    --------
    >>> missing_extra(ModuleNotFoundError("No module named 'SimpleITK'", name="SimpleITK"),
    ...               ["dose", "images"])
    'netlm dose images needs SimpleITK, which is not installed: pip install "netlm[imaging]"'
    >>> missing_extra(ModuleNotFoundError("x", name="weasyprint.text"), ["assess"])
    'netlm assess needs weasyprint, which is not installed: pip install "netlm[report]"'
    >>> missing_extra(ModuleNotFoundError("x", name="fhir.resources"), ["fhir", "export"])
    'netlm fhir export needs fhir.resources, which is not installed: pip install "netlm[fhir]"'
    >>> missing_extra(ModuleNotFoundError("x", name="netlm.nothing"), ["assess"]) is None
    True
    """
    module = (error.name or "").split(".")[0]
    holders = [extra for extra, modules in EXTRA_MODULES.items() if module in modules]
    if not holders:
        return None
    wanted = COMMAND_EXTRA.get(command[0], "") if command else ""
    extra = wanted if wanted == "all" or wanted in holders else holders[0]
    return (
        f"{' '.join(['netlm', *command])} needs {PACKAGE_NAMES.get(module, module)}, "
        "which is not installed: "
        f'pip install "netlm[{extra}]"'
    )


class OutputFormat(StrEnum):
    """``--format`` of the commands with a Markdown form (assess, rules, sirt, response)."""

    text = "text"
    json = "json"
    markdown = "markdown"


class TextJsonFormat(StrEnum):
    """``--format`` of the other commands: any other value is refused (exit 2, naming these)."""

    text = "text"
    json = "json"


def database_url(db: str | None) -> str | None:
    """A database URL from ``--db``: a URL as given, anything else a SQLite file path.

    Every ``--db`` (and ``netlm demo --seed-db``) reads its value through this one
    function, so a path, a ``sqlite:///`` URL and a ``postgresql://`` URL are accepted
    everywhere; an empty value means the default.

    Examples
    --------
    >>> database_url("postgresql://netlm@db/netlm")
    'postgresql://netlm@db/netlm'
    >>> database_url("/tmp/registry.db")
    'sqlite:////tmp/registry.db'
    >>> database_url("sqlite:////tmp/registry.db")
    'sqlite:////tmp/registry.db'
    >>> database_url(None) is None and database_url("") is None
    True
    """
    if not db:
        return None
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().absolute()}"


#: The registry option of every command that opens it (``netlm db ...``, ``netlm import``,
#: ``netlm users ...``, ``netlm fhir export``, ``netlm serve``): a SQLite file path, a
#: ``sqlite:///`` URL or a ``postgresql://`` URL, read by :func:`database_url`.
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="NETLM_DATABASE_URL",
        show_envvar=True,
        callback=database_url,
        help="The registry: a SQLite file, sqlite:///path or "
        "postgresql://user@host/name (default: the embedded SQLite file in netlm's data "
        "folder).",
    ),
]


#: The ``--actor`` option of every command that writes to the registry: the name the
#: audit log records (read by :func:`actor_name`).
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Name for the audit log (default: the operating-system user)."),
]


def actor_name(actor: str | None) -> str:
    """The audit log's name for ``--actor``: as given, else the operating-system user.

    ``"unknown"`` where the system knows no user (a container without a passwd
    entry and without ``$LOGNAME``/``$USER``).
    """
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
        return "unknown"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file beside it, so that no
    half-written file is ever left; the folder is created.  Raises :class:`StoreError`
    naming the path when it cannot be written."""
    folder = path.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None


def registry_number(patient_id: str, *, external: bool) -> int | None:
    """The registry id a ``PATIENT_ID`` argument names (a number), or ``None`` with
    ``--external`` (then it is the centre's patient id, for ``Store.find_patient``).

    Checked before the registry is opened: :class:`InputError` (field ``PATIENT_ID``)
    for a registry id that is not a number.
    """
    if external:
        return None
    if not patient_id.isdigit():
        raise InputError([("PATIENT_ID", f"{patient_id!r} is not a registry id (use --external)")])
    return int(patient_id)


def write_or_print(out: Path | None, text: str) -> None:
    """``text`` to standard output where ``out`` is ``None``, else written to ``out``
    with :func:`write_atomically` (the ``--out``/``-o`` of an export)."""
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomically(out, text)


def today() -> dt.date:
    """The date case files are checked against (no date may be after it).

    The CLI is the boundary that reads the clock; the core and the readers take
    ``today`` as an argument, so tests pin it.
    """
    return dt.date.today()


def spinner() -> Progress:
    """A spinner with the elapsed time on stderr, for a step without a known length."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def kernel_cache_dir() -> Path:
    """The kernel cache folder of this user: ``$XDG_CACHE_HOME/netlm/kernels``.

    The CLI is the boundary that reads the environment (``~/.cache/netlm/kernels``
    when ``XDG_CACHE_HOME`` is unset); the library takes the folder as an argument.
    """
    from netlm.voxel.kernels import default_kernel_cache_dir

    return default_kernel_cache_dir(os.environ, Path.home())


def check_writable(path: Path) -> Path:
    """``path`` if a file or folder can be made there, else the ``OSError`` naming it.

    Checked before the work (a dose computation takes seconds), creating nothing:
    the nearest existing folder above ``path`` must be a folder this user may write
    in.  ``netlm`` answers the error as one line, ``cannot use PATH: ...``, exit 2.
    """
    target = path.absolute()
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == target and target.is_dir():
        folder = target
    elif existing == target:  # an existing file: its folder must be writable
        folder = target.parent
    else:
        folder = existing
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder", str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    return path


def stdout_console(piped_width: int) -> Console:
    """The console text results are printed on: wrapped to the terminal's width.

    On a terminal (or with ``$COLUMNS`` set) rich wraps to that width; piped or
    captured output gets ``piped_width`` columns, so long lines are not cut at 80.
    """
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=piped_width)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def error_line(message: str) -> Text:
    """``error: message``, "error:" in bold red on a terminal; the message is never markup."""
    return Text.assemble(("error:", "bold red"), " ", message)


def warning_line(message: str) -> Text:
    """``warning: message``, "warning:" in bold yellow on a terminal; never markup."""
    return Text.assemble(("warning:", "bold yellow"), " ", message)


def fail(error: NetlmError) -> typer.Exit:
    """Print ``error`` (naming the fields) on stderr; the caller raises the returned Exit(2).

    Styles are only written to a terminal: piped or captured stderr gets plain
    ``error: ...`` lines, never rich markup.
    """
    console = stderr_console()
    if isinstance(error, InputError):
        console.print(error_line(f"invalid {error.what}"))
        for path, message in error.problems:
            console.print(f"  {path or '(document)'}: {message}", markup=False)
    else:
        console.print(error_line(str(error)))
    return typer.Exit(EXIT_BAD_INPUT)


_NUMBER = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def spread_option_values(args: Sequence[str], options: Sequence[str]) -> list[str]:
    """``--opt 2 3 4`` as ``--opt 2 --opt 3 --opt 4``, for options that take 1 or 3 numbers.

    click options take a fixed number of values; a repeatable ``list[float]``
    option then accepts both ``--voxel-mm 2`` and ``--voxel-mm 2 3 4``.  Only
    the (up to two) plain non-negative numbers right after the option move;
    anything after ``--`` is left alone.

    Examples
    --------
    >>> spread_option_values(["Y-90", "--voxel-mm", "2", "3", "4.5"], ["--voxel-mm"])
    ['Y-90', '--voxel-mm', '2', '--voxel-mm', '3', '--voxel-mm', '4.5']
    >>> spread_option_values(["--voxel-mm", "4", "--density", "1"], ["--voxel-mm"])
    ['--voxel-mm', '4', '--density', '1']
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        out.append(token)
        i += 1
        if token == "--":
            out.extend(args[i:])
            break
        if token in options and i < len(args):
            out.append(args[i])
            i += 1
            extra = 0
            while extra < 2 and i < len(args) and _NUMBER.match(args[i]):
                out += [token, args[i]]
                i += 1
                extra += 1
    return out


class VoxelSizeCommand(TyperCommand):
    """A command whose ``--voxel-mm`` takes one value or three (``--voxel-mm 2 3 4``)."""

    multi_value_options: ClassVar[tuple[str, ...]] = ("--voxel-mm",)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        return super().parse_args(ctx, spread_option_values(args, self.multi_value_options))


def voxel_triplet(
    values: Sequence[float], field: str = "--voxel-mm"
) -> float | tuple[float, float, float]:
    """One voxel size (cubic) or three (i, j, k) from a repeatable option, else an error."""
    if len(values) not in (1, 3):
        raise InputError(
            [(field, f"give one value or three (i j k), not {len(values)}: {list(values)}")]
        )
    return values[0] if len(values) == 1 else (values[0], values[1], values[2])
