"""``netlm import``: case files into the registry, each as its patient's next case version.

``--db URL`` as for ``netlm db`` (:mod:`netlm.commands.db`); ``--actor`` is the
name the audit log records (default: the operating-system user).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netlm.commands.common import (
    EXIT_BAD_INPUT,
    ActorOption,
    DbOption,
    TextJsonFormat,
    actor_name,
    fail,
    today,
)
from netlm.errors import InputError, NetlmError


def import_command(
    files: Annotated[list[Path], typer.Argument(help="Case files (netlm/case/v1, YAML or JSON).")],
    db: DbOption = None,
    actor: ActorOption = None,
    output_format: Annotated[
        TextJsonFormat, typer.Option("--format", "-f", help="text or json.")
    ] = TextJsonFormat.text,
) -> None:
    """Import case files into the registry.

    Each file becomes the next case version of its patient (`patient.id`; the
    patient is created when new).  A bad file is reported with its field errors
    and skipped; the others are imported.  Exit code 2 when any file failed.
    """
    from netlm.case import load_case
    from netlm.store import Store

    who = actor_name(actor)
    try:
        store = Store(db)
    except NetlmError as exc:
        raise fail(exc) from None
    imported: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with (
        store,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress,
    ):
        bar = progress.add_task("import", total=len(files))
        for path in files:
            progress.update(bar, description=f"import {path.name}")
            try:
                version = store.import_case(
                    load_case(path, today=today()), actor=who, source=str(path)
                )
            except InputError as exc:
                problems = exc.problems
            except NetlmError as exc:
                problems = [("", str(exc))]
            else:
                imported.append(
                    {
                        "file": str(path),
                        "patient_id": version.patient_id,
                        "external_id": version.document["patient"]["id"],
                        "version": version.version,
                    }
                )
                progress.advance(bar)
                continue
            failed.append(
                {
                    "file": str(path),
                    "problems": [{"field": f, "message": m} for f, m in problems],
                }
            )
            progress.advance(bar)
    if output_format is TextJsonFormat.json:
        typer.echo(json.dumps({"imported": imported, "failed": failed}, indent=2))
    else:
        _print_report(imported, failed, store.url)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_report(imported: list[dict[str, Any]], failed: list[dict[str, Any]], url: str) -> None:
    # Wide enough that no cell is wrapped: file names and field paths are grepped for.
    problems = [p for r in failed for p in r["problems"]]
    columns = [
        [r["file"] for r in imported + failed],
        [p["field"] or "(document)" for p in problems],
        [p["message"] for p in problems],
    ]
    width = sum(max(map(len, c), default=0) for c in columns) + 4 * len(columns)
    console = Console(width=max(100, width + 20), highlight=False)
    console.print(f"{len(imported)} imported, {len(failed)} failed ({url})", markup=False)
    if imported:
        table = Table(title="imported")
        for column in ("file", "patient", "registry id", "version"):
            table.add_column(column)
        for row in imported:
            table.add_row(
                escape(row["file"]),
                escape(row["external_id"]),
                str(row["patient_id"]),
                str(row["version"]),
            )
        console.print(table)
    if failed:
        table = Table(title="not imported", show_lines=True)
        for column in ("file", "field", "problem"):
            table.add_column(column)
        for row in failed:
            for i, problem in enumerate(row["problems"]):
                table.add_row(
                    escape(row["file"]) if i == 0 else "",
                    escape(problem["field"] or "(document)"),
                    escape(problem["message"]),
                )
        console.print(table)
