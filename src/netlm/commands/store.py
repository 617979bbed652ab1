"""``netlm db upgrade``, ``netlm db export`` and ``netlm import``: the registry from the shell.

Every command takes ``--db URL``; without it ``$NETLM_DATABASE_URL``, else the
embedded SQLite file (see :mod:`netlm.store.db`).  ``--actor`` is the name the
audit log records (default: the operating-system user).
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netlm.commands.common import EXIT_BAD_INPUT, DbOption, TextJsonFormat, fail, today
from netlm.errors import InputError, NetlmError, StoreError

db_app = typer.Typer(
    help="The netlm registry (SQLite by default, PostgreSQL by URL): schema, backups, "
    "audit check, runtime role, export.",
    no_args_is_help=True,
)

ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Name for the audit log (default: the operating-system user)."),
]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
        return "unknown"


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create the registry's schema, or bring it to the newest revision (safe to repeat)."""
    from netlm.store.db import (
        current_revision,
        make_engine,
        redact,
        resolve_database_url,
        upgrade_engine,
    )

    url = resolve_database_url(db)
    try:
        engine = make_engine(url)
        try:
            before = current_revision(engine)
            upgrade_engine(engine)
            after = current_revision(engine)
        finally:
            engine.dispose()
    except NetlmError as exc:
        raise fail(exc) from None
    if before == after:
        typer.echo(f"{redact(url)}: schema already at revision {after}")
    else:
        typer.echo(f"{redact(url)}: schema upgraded from {before or '(empty)'} to {after}")


@db_app.command("backup")
def db_backup(
    out: Annotated[Path, typer.Argument(metavar="FOLDER", help="A new folder for the backup.")],
    db: DbOption = None,
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir",
            help="The uploads folder (default: beside the SQLite file; for PostgreSQL "
            "files/ in netlm's data folder).",
        ),
    ] = None,
) -> None:
    """Back up a registry while it is in use, with its uploaded files and a manifest
    (backup.json: schema revision, audit-chain head, SHA-256 of the copy).  SQLite: the
    online backup API, WAL included; PostgreSQL: pg_dump --format=custom on one snapshot
    (password from the URL via PGPASSWORD, never on a command line)."""
    from netlm.store.backup import backup

    try:
        manifest = backup(db, out, files_dir=files_dir)
    except NetlmError as exc:
        raise fail(exc) from None
    head: Any = manifest["audit_chain_head"]
    typer.echo(
        f"backup of {manifest['source']} (schema {manifest['schema_revision']}, "
        f"{head['links']} audit link(s), {manifest['files']} file(s)) in {out}"
    )


@db_app.command("restore")
def db_restore(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="A `netlm db backup` folder.")],
    db: DbOption = None,
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir",
            help="The uploads folder (default: beside the SQLite file; for PostgreSQL "
            "files/ in netlm's data folder).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing registry (stop the server).")
    ] = False,
) -> None:
    """Restore a backup (its copy checked against the manifest's SHA-256) into a new or
    empty registry (an existing one only with --force), bring its schema up to date and
    verify the audit chain against the manifest (exit status 1 if it does not hold).
    PostgreSQL: pg_restore --clean --if-exists --single-transaction; give the runtime
    role its grants again with `netlm db grant-runtime`."""
    from netlm.store.backup import restore, verify_restore
    from netlm.store.db import upgrade

    try:
        manifest = restore(folder, db, files_dir=files_dir, force=force)
        upgrade(db)
        problems = verify_restore(db, manifest)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"restored the backup of {manifest['source']} taken at {manifest['taken_at']}")
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        typer.echo("the restored audit log does not match the backup", err=True)
        raise typer.Exit(1)
    typer.echo("audit log intact and as backed up")
    if manifest.get("backend") == "postgresql":
        typer.echo("run `netlm db grant-runtime ROLE` again for the role netlm serve uses")


@db_app.command("grant-runtime")
def db_grant_runtime(
    role: Annotated[
        str, typer.Argument(metavar="ROLE", help="The PostgreSQL role netlm serve uses.")
    ],
    db: DbOption = None,
    schema: Annotated[str, typer.Option(help="The schema of netlm's tables.")] = "public",
    show: Annotated[
        bool, typer.Option("--show", help="Print the SQL instead of running it.")
    ] = False,
) -> None:
    """PostgreSQL: give an existing login ROLE exactly what `netlm serve` needs (no DDL, no
    trigger changes, no UPDATE/DELETE on the audit log or stored results).  Run as the schema
    owner; serve with the ROLE in --db."""
    import sqlalchemy as sa  # the registry's library, for this command only

    from netlm.store.db import make_engine, resolve_database_url, runtime_role_sql

    try:
        statements = runtime_role_sql(role, schema)
        if show:
            typer.echo(";\n".join(statements) + ";")
            return
        engine = make_engine(resolve_database_url(db), create=False)
        try:
            if engine.dialect.name != "postgresql":
                raise StoreError("grant-runtime is for PostgreSQL registries")
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()
    except NetlmError as exc:
        raise fail(exc) from None
    except sa.exc.DBAPIError as exc:  # the database's refusal (e.g. no such role)
        raise fail(StoreError(f"the grants failed: {type(exc).__name__}")) from None
    typer.echo(f"role {role!r} may now run netlm (schema {schema}); it cannot change the schema")


@db_app.command("verify-audit")
def db_verify_audit(db: DbOption = None) -> None:
    """Check the audit log against its hash chain: any entry changed, deleted or added
    behind netlm's back is reported (exit status 1)."""
    from netlm.store import Store

    try:
        with Store(db, upgrade=False) as store:
            report = store.verify_audit()
            url = store.url
    except NetlmError as exc:
        raise fail(exc) from None
    if report.intact:
        typer.echo(f"{url}: audit log intact ({report.entries} entries, {report.links} links)")
        return
    for problem in report.problems:
        typer.echo(f"error: {problem}", err=True)
    typer.echo(f"{url}: the audit log was tampered with ({len(report.problems)} problem(s))")
    raise typer.Exit(1)


@db_app.command("export")
def db_export(
    patient_id: Annotated[
        str,
        typer.Argument(
            metavar="PATIENT_ID",
            help="The patient's registry id (a number); with --external, the centre's id.",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the JSON here (default: stdout).")
    ] = None,
    external: Annotated[
        bool, typer.Option("--external", help="PATIENT_ID is the centre's patient id.")
    ] = False,
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    """Export one patient's whole record as JSON: case versions, results with provenance,
    plans, images, treatments, labs, responses, toxicity and the audit trail (deleted
    patients too)."""
    from netlm.store import Store

    try:
        if not external and not patient_id.isdigit():
            raise InputError(
                [("PATIENT_ID", f"{patient_id!r} is not a registry id (use --external)")]
            )
        with Store(db, upgrade=False) as store:
            pid = store.find_patient(patient_id).id if external else int(patient_id)
            document = store.export_patient(pid, actor=_actor(actor))
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if out is None:
            typer.echo(text, nl=False)
            return
        _write_atomically(out, text)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"patient {pid} exported to {out}", err=True)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, so no half-written file is left."""
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

    who = _actor(actor)
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
