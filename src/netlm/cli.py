"""The ``netlm`` command line: a thin layer over the Python API.

Exit codes: 0 success; 2 bad input (the message on stderr names the field);
1 anything else.  Bad input never produces a traceback.  Every document is read
by :mod:`netlm.documents` (duplicate keys, YAML tags, alias bombs, deep nesting,
oversized and non-UTF-8 files are refused); dates in a case file may not be
after today's date.

This module only assembles the commands of :mod:`netlm.commands` (one module
per area) into one Typer application.  Each command imports what it needs
(the registry, the web service, Dask, WeasyPrint, matplotlib, image readers)
when it runs, and the application is built on the first call, so
``netlm --version`` loads next to nothing and ``netlm assess`` no database or
web library.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import typer


def _version_text() -> str:
    from netlm import __version__

    return f"netlm {__version__}"


def _version(value: bool) -> None:
    if value:
        import typer

        typer.echo(_version_text())
        raise typer.Exit(0)


@functools.cache
def build_app() -> typer.Typer:
    """The ``netlm`` Typer application with every command (built once per process)."""
    import typer

    from netlm.commands import (
        assess,
        cohort,
        common,
        db,
        demo,
        dose,
        fhir,
        importing,
        kernel,
        outcomes,
        pacs,
        response,
        serve,
        sirt,
        users,
    )

    app = typer.Typer(
        name="netlm",
        help="netlm: planning and follow-up of liver-directed therapy for neuroendocrine "
        "tumour liver metastases.",
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion [bash|zsh|fish|...]
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ) -> None:
        """netlm: liver-directed therapy of NET liver metastases."""

    # The commands, in the order `netlm --help` lists them.
    app.command("assess")(assess.assess_command)
    app.command("rules")(assess.rules_command)
    app.add_typer(sirt.sirt_app, name="sirt")
    app.command("response")(response.response_command)
    app.add_typer(dose.dose_app, name="dose")
    app.command("kernel", cls=common.VoxelSizeCommand)(kernel.kernel_command)
    app.command("workup")(dose.workup_command)
    app.add_typer(cohort.cohort_app, name="cohort")
    app.add_typer(outcomes.outcomes_app, name="outcomes")
    app.add_typer(db.db_app, name="db")
    app.command("import")(importing.import_command)
    app.add_typer(fhir.fhir_app, name="fhir")
    app.add_typer(users.users_app, name="users")
    app.add_typer(pacs.pacs_app, name="pacs")
    app.command("serve")(serve.serve_command)
    app.command("demo")(demo.demo_command)
    return app


def __getattr__(name: str) -> typer.Typer:
    """``netlm.cli.app``: the application, built when first asked for."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Shells ``--show-completion SHELL`` / ``--install-completion SHELL`` accept by name.
COMPLETION_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
_COMPLETION_OPTIONS = ("--show-completion", "--install-completion")


def _completion(option: str, shell: str) -> int:
    """Print or install the completion script of a named shell.

    Typer's own options guess the shell from the parent processes (and answer
    "Shell  not supported" where none is found, under a CI runner or an IDE);
    a shell named on the command line is taken as named.
    """
    from typer._completion_shared import get_completion_script, install  # typer has no public name

    if option == "--show-completion":
        print(get_completion_script(prog_name="netlm", complete_var="_NETLM_COMPLETE", shell=shell))
        return 0
    installed, path = install(shell=shell, prog_name="netlm", complete_var="_NETLM_COMPLETE")
    print(f"{installed} completion installed in {path}; it takes effect in a new terminal")
    return 0


def _command_words(app: typer.Typer, args: Sequence[str]) -> list[str]:
    """The command ``args`` name: ``["assess"]``, ``["dose", "images"]`` (options skipped)."""
    words = [a for a in args if not a.startswith("-")][:2]
    groups = {g.name for g in app.registered_groups}
    return words if words and words[0] in groups else words[:1]


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one ``warning: ...`` line on stderr, never the Python source line."""
    from netlm.commands.common import stderr_console, warning_line

    stderr_console().print(warning_line(f"{message} ({category.__name__})"))


@contextlib.contextmanager
def _plain_warnings() -> Iterator[None]:
    """Warnings shown as ``warning:`` lines for the time of one command."""
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (testable without a subprocess).

    ``netlm --version`` alone is answered without building the application.  A
    command whose optional packages are not installed answers with the extra to
    install (``pip install "netlm[imaging]"``) and exit code 2, as does a path that
    cannot be written (``cannot use PATH: Permission denied``); warnings are one
    ``warning:`` line each, without the Python source line.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        print(_version_text())
        return 0
    if len(args) == 2 and args[0] in _COMPLETION_OPTIONS and args[1] in COMPLETION_SHELLS:
        return _completion(args[0], args[1])
    import typer
    from typer.exceptions import TyperException

    from netlm.commands.common import EXIT_BAD_INPUT, error_line, missing_extra, stderr_console

    app = build_app()
    try:
        with _plain_warnings():
            result = app(args=args, prog_name="netlm", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # --show-completion / --install-completion end this way
        return exc.code if isinstance(exc.code, int) else 0
    except typer.Abort:
        stderr_console().print("aborted")
        return 1
    except TyperException as exc:  # usage errors: unknown option, bad choice, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:  # pragma: no cover - every usage error typer raises can show itself
            stderr_console().print(str(exc), markup=False)
        return EXIT_BAD_INPUT
    except ImportError as exc:  # an optional package (an extra) that is not installed
        message = missing_extra(exc, _command_words(app, args))
        if message is None:
            raise
        stderr_console().print(error_line(message))
        return EXIT_BAD_INPUT
    except OSError as exc:  # an output (or input) path that cannot be used: one line, exit 2
        if exc.filename is None:
            raise
        path = os.fsdecode(exc.filename)
        stderr_console().print(error_line(f"cannot use {path}: {exc.strerror or exc}"))
        return EXIT_BAD_INPUT
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
