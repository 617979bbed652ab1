"""``netlm db ...``: the registry's schema, backups, audit check, runtime role and export.

Every command takes ``--db URL``; without it ``$NETLM_DATABASE_URL``, else the
embedded SQLite file (see :mod:`netlm.store.db`).  ``--actor`` is the name the
audit log records (default: the operating-system user).  Case files come in
with ``netlm import`` (:mod:`netlm.commands.importing`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from netlm.commands.common import (
    ActorOption,
    DbOption,
    actor_name,
    fail,
    registry_number,
    write_or_print,
)
from netlm.errors import NetlmError, StoreError

db_app = typer.Typer(
    help="The netlm registry (SQLite by default, PostgreSQL by URL): schema, backups, "
    "audit check, runtime role, export.",
    no_args_is_help=True,
)

#: The uploaded files of the registry, for ``backup`` and ``restore``.
FilesDirOption = Annotated[
    Path | None,
    typer.Option(
        "--files-dir",
        help="The uploads folder (default: beside the SQLite file; for PostgreSQL "
        "files/ in netlm's data folder).",
    ),
]


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
    files_dir: FilesDirOption = None,
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
    files_dir: FilesDirOption = None,
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
        number = registry_number(patient_id, external=external)
        with Store(db, upgrade=False) as store:
            pid = store.find_patient(patient_id).id if number is None else number
            document = store.export_patient(pid, actor=actor_name(actor))
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_or_print(out, text)
    except NetlmError as exc:
        raise fail(exc) from None
    if out is not None:
        typer.echo(f"patient {pid} exported to {out}", err=True)
