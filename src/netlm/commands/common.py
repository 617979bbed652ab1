"""What every command shares: output formats and the bad-input exit."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import typer
from rich.console import Console

from netlm.errors import InputError, NetlmError

EXIT_BAD_INPUT = 2


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def today() -> dt.date:
    """The date case files are checked against (no date may be after it).

    The CLI is the boundary that reads the clock; the core and the readers take
    ``today`` as an argument, so tests pin it.
    """
    return dt.date.today()


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(error: NetlmError) -> typer.Exit:
    """Print ``error`` (naming the fields) on stderr; the caller raises the returned Exit(2)."""
    console = stderr_console()
    if isinstance(error, InputError):
        console.print(f"[bold red]error:[/] invalid {error.what}")
        for path, message in error.problems:
            console.print(f"  {path or '(document)'}: {message}", markup=False)
    else:
        console.print("[bold red]error:[/] ", end="")
        console.print(str(error), markup=False)
    return typer.Exit(EXIT_BAD_INPUT)
