"""Backups of a live registry and its uploaded files: :func:`backup`, :func:`restore`.

A backup is a new folder (mode 0700) holding the database copy, ``files/``
(the uploads) and ``backup.json``, the manifest: what was backed up (backend,
source with the password hidden), when, the schema (Alembic) revision, the
head of the audit hash chain at that moment (links, last audited id, last
link's SHA-256) and the SHA-256 of the database copy.

- **SQLite** (``netlm.db``): copying the file while the server runs can miss
  everything still in the write-ahead log (``netlm.db-wal``); SQLite's online
  backup API is used instead: a consistent snapshot, WAL included, taken while
  writers go on.
- **PostgreSQL** (``netlm.dump``): ``pg_dump --format=custom`` of the whole
  database.  netlm opens a repeatable-read transaction, exports its snapshot
  (``pg_export_snapshot``) and runs ``pg_dump --snapshot`` on it, so the dump,
  the revision and the audit-chain head in the manifest are one instant.
  ``pg_dump``/``pg_restore`` are found on ``PATH``, else in the newest
  ``/usr/lib/postgresql/*/bin`` (``$NETLM_PG_BIN`` names another folder); they
  connect with the URL's parts in libpq's environment variables (``PGHOST``,
  ``PGPORT``, ``PGUSER``, ``PGDATABASE``, ``PGPASSWORD``...), so the password
  is never on a command line.  Run it as the role that owns the schema (the
  one that runs ``netlm db upgrade``).

:func:`restore` checks the copy against the manifest's SHA-256 first; into
PostgreSQL it runs ``pg_restore --clean --if-exists --no-owner
--no-privileges --single-transaction`` (all or nothing; the runtime role's
grants are given again with ``netlm db grant-runtime``).  A non-empty target
is replaced only with ``force``.  :func:`verify_restore` then checks the
audit chain and that its head is the manifest's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from netlm.errors import StoreError
from netlm.store.db import (
    _sqlite_memory,
    data_dir,
    missing_registry_problem,
    parse_database_url,
    redact,
    resolve_database_url,
)

#: The database file inside a backup folder (SQLite).
BACKUP_DB = "netlm.db"
#: The ``pg_dump --format=custom`` archive inside a backup folder (PostgreSQL).
BACKUP_DUMP = "netlm.dump"
#: The uploads inside a backup folder.
BACKUP_FILES = "files"
#: What a backup folder says about itself.
BACKUP_MANIFEST = "backup.json"
#: Environment variable naming the folder of the PostgreSQL client programs.
PG_BIN_ENV = "NETLM_PG_BIN"
#: URL query parameters handed to libpq as environment variables.
_LIBPQ_QUERY = {
    "host": "PGHOST",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
}


def sqlite_path(url: str | None) -> Path:
    """The file of a SQLite registry URL.

    Raises
    ------
    StoreError
        If the URL is not a SQLite file.
    """
    parsed = parse_database_url(resolve_database_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or "memory" in str(parsed):
        raise StoreError(f"{redact(parsed)} is not a SQLite file")
    return Path(parsed.database).absolute()


def default_files_dir(url: str | None) -> Path:
    """Where a registry's uploads live by default (``netlm serve`` and backups use it).

    Beside a SQLite file (``<file>.files``); ``files/`` in netlm's data folder
    for a database server; a new temporary folder for an in-memory database.
    ``url`` defaults as :func:`netlm.store.db.resolve_database_url` says.

    Examples
    --------
    >>> default_files_dir("sqlite:////srv/netlm/netlm.db").as_posix()
    '/srv/netlm/netlm.db.files'
    """
    parsed = parse_database_url(resolve_database_url(url))
    if parsed.get_backend_name() != "sqlite":
        return data_dir() / "files"
    if _sqlite_memory(parsed):
        return Path(tempfile.mkdtemp(prefix="netlm-files-"))
    source = sqlite_path(url)
    return source.with_name(source.name + ".files")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024**2):
            digest.update(chunk)
    return digest.hexdigest()


def _chain_head(connection: sa.Connection) -> dict[str, object]:
    """The audit chain's head: how many links, the last audited id, the last link's hash."""
    row = connection.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM audit_chain), audit_id, sha256 "
            "FROM audit_chain ORDER BY id DESC LIMIT 1"
        )
    ).first()
    if row is None:
        return {"links": 0, "audit_id": None, "sha256": None}
    return {"links": int(row[0]), "audit_id": int(row[1]), "sha256": str(row[2])}


def _revision(connection: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision


# ------------------------------------------------------------------------------ SQLite
def _copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup from ``source`` into a new ``target`` (mode 0600)."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=1024)  # steps, so writers are not held up for long
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problem = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise StoreError(f"the copy of {source} fails SQLite's integrity check: {problem}")
    finally:
        dst.close()
        src.close()


def _copy_files(source: Path | None, target: Path) -> int:
    if source is None or not source.is_dir():
        target.mkdir(mode=0o700)
        return 0
    shutil.copytree(source, target, copy_function=shutil.copy2)
    return sum(1 for p in target.rglob("*") if p.is_file())


def _sqlite_backup(source: Path, out: Path) -> dict[str, object]:
    from netlm.store.db import make_engine

    if not source.is_file():
        raise StoreError(f"{source} is not a SQLite file")
    _copy_database(source, out / BACKUP_DB)
    engine = make_engine(f"sqlite:///{out / BACKUP_DB}")
    try:
        with engine.connect() as connection:
            revision, head = _revision(connection), _chain_head(connection)
    finally:
        engine.dispose()
    return {
        "backend": "sqlite",
        "source": str(source),
        "database_file": BACKUP_DB,
        "database_sha256": sha256_file(out / BACKUP_DB),
        "schema_revision": revision,
        "audit_chain_head": head,
    }


# ------------------------------------------------------------------------------ PostgreSQL
def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.parent.name))


def pg_program(name: str) -> Path:
    """``pg_dump`` or ``pg_restore``: in ``$NETLM_PG_BIN``, on ``PATH``, else the newest
    ``/usr/lib/postgresql/*/bin``.

    Raises
    ------
    StoreError
        If the program is not installed.
    """
    folders: list[Path] = []
    if os.environ.get(PG_BIN_ENV):
        folders.append(Path(os.environ[PG_BIN_ENV]))
    on_path = shutil.which(name)
    if on_path:
        folders.append(Path(on_path).parent)
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise StoreError(
        f"{name} not found (install the PostgreSQL client programs, e.g. the Debian package "
        f"'postgresql-client', or set ${PG_BIN_ENV} to their folder)"
    )


def libpq_environment(url: sa.URL) -> dict[str, str]:
    """The environment with libpq's variables set from ``url`` (the password in ``PGPASSWORD``).

    Examples
    --------
    >>> env = libpq_environment(sa.make_url("postgresql://netlm:s3cret@db:5433/reg"))
    >>> env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"], env["PGPASSWORD"]
    ('db', '5433', 'netlm', 'reg', 's3cret')
    """
    env = dict(os.environ)
    parts = {
        "PGHOST": url.host,
        "PGPORT": None if url.port is None else str(url.port),
        "PGUSER": url.username,
        "PGDATABASE": url.database,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
    }
    for name, value in url.query.items():
        if name in _LIBPQ_QUERY:
            parts[_LIBPQ_QUERY[name]] = value if isinstance(value, str) else value[-1]
    env.update({k: v for k, v in parts.items() if v})
    env.setdefault("LC_ALL", "C")
    return env


def _run(program: str, args: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(
        [str(pg_program(program)), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        detail = "; ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise StoreError(f"{program} failed: {detail}")


def _postgres_backup(url: sa.URL, out: Path) -> dict[str, object]:
    from netlm.store.db import make_engine

    dump = out / BACKUP_DUMP
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with (
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            conn.begin(),  # the exported snapshot lives as long as this transaction
        ):
            snapshot = str(conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one())
            revision, head = _revision(conn), _chain_head(conn)
            args = ["--format=custom", f"--snapshot={snapshot}", "--no-password"]
            _run("pg_dump", [*args, f"--file={dump}"], libpq_environment(url))
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot back up {redact(url)}: {type(exc.orig).__name__}") from None
    finally:
        engine.dispose()
    dump.chmod(0o600)
    return {
        "backend": "postgresql",
        "source": redact(url),
        "database_file": BACKUP_DUMP,
        "database_sha256": sha256_file(dump),
        "schema_revision": revision,
        "audit_chain_head": head,
    }


def _postgres_restore(dump: Path, url: sa.URL, *, force: bool) -> None:
    from netlm.store.db import current_revision, make_engine

    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    if revision is not None and not force:
        raise StoreError(
            f"{redact(url)} holds a netlm registry (schema {revision}); restore into an empty "
            "database, or use --force to replace it (stop the server first)"
        )
    args = ["--clean", "--if-exists", "--no-owner", "--no-privileges"]
    args += ["--single-transaction", "--exit-on-error", "--no-password"]
    _run("pg_restore", [*args, f"--dbname={url.database}", str(dump)], libpq_environment(url))


# ------------------------------------------------------------------------------ both
def backup(url: str | None, out: Path, *, files_dir: Path | None = None) -> dict[str, object]:
    """Back a (possibly live) registry and its uploads up into the new folder ``out``.

    SQLite: the online backup API; PostgreSQL: ``pg_dump --format=custom`` on an
    exported snapshot (see the module docstring).  ``files_dir`` is the uploads
    folder (default: :func:`default_files_dir`).  Returns the manifest written
    to ``out/backup.json``.

    Raises
    ------
    StoreError
        If ``out`` exists, the registry cannot be reached (a missing SQLite file
        is named, and nothing is created), or the copy fails
        (then ``out`` is removed again).
    """
    resolved = resolve_database_url(url)
    parsed = parse_database_url(resolved)
    missing = missing_registry_problem(resolved)
    if missing is not None:
        raise StoreError(missing)
    if out.exists():
        raise StoreError(f"{out} exists; a backup goes into a new folder")
    out.mkdir(parents=True, mode=0o700)
    try:
        if parsed.get_backend_name() == "postgresql":
            database = _postgres_backup(parsed, out)
        else:
            database = _sqlite_backup(sqlite_path(resolved), out)
        files = files_dir if files_dir is not None else default_files_dir(resolved)
        copied = _copy_files(files, out / BACKUP_FILES)
        manifest: dict[str, object] = {
            "schema": "netlm/backup/v1",
            "taken_at": dt.datetime.now(dt.UTC).isoformat(),
            **database,
            "files": copied,
        }
        path = out / BACKUP_MANIFEST
        path.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        path.chmod(0o600)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup folder, its database copy checked against its SHA-256.

    Raises
    ------
    StoreError
        If ``folder`` is no netlm backup, or its copy does not match the manifest.
    """
    path = folder / BACKUP_MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise StoreError(
            f"{folder} is not a netlm backup (no readable {BACKUP_MANIFEST})"
        ) from None
    name = manifest.get("database_file", BACKUP_DB)
    copy = folder / str(name)
    if name not in (BACKUP_DB, BACKUP_DUMP) or not copy.is_file():
        raise StoreError(f"{folder} is not a netlm backup (no {name})")
    expected = manifest.get("database_sha256")
    if expected is not None and sha256_file(copy) != expected:
        raise StoreError(f"{copy} does not match the SHA-256 in its manifest: damaged backup")
    return manifest


def restore(
    folder: Path, url: str | None, *, files_dir: Path | None = None, force: bool = False
) -> dict[str, Any]:
    """Restore a backup folder into the registry ``url`` (and its files folder).

    A SQLite backup goes into a SQLite file, a PostgreSQL one into a PostgreSQL
    database.  The registry must be new (no file; a database without netlm's
    tables) unless ``force``: then it and its files are replaced (stop the
    server first).  Returns the backup's manifest; check the result with
    :func:`verify_restore` after ``netlm db upgrade``.

    Raises
    ------
    StoreError
        If the backup is damaged or of the other backend, the target is not
        empty, or the restore fails (a PostgreSQL restore is one transaction).
    """
    manifest = read_manifest(folder)
    resolved = resolve_database_url(url)
    parsed = parse_database_url(resolved)
    backend = parsed.get_backend_name()
    if manifest.get("backend", "sqlite") != backend:
        raise StoreError(
            f"{folder} is a backup of a {manifest.get('backend', 'sqlite')} registry; "
            f"it cannot be restored into {redact(parsed)}"
        )
    if backend == "postgresql":
        _postgres_restore(folder / BACKUP_DUMP, parsed, force=force)
    else:
        target = sqlite_path(resolved)
        if target.exists() and not force:
            raise StoreError(f"{target} exists; restore into a new path, or use --force")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        _copy_database(folder / BACKUP_DB, target)
    files = files_dir if files_dir is not None else default_files_dir(resolved)
    if files.exists():
        shutil.rmtree(files)
    if (folder / BACKUP_FILES).is_dir():
        files.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copytree(folder / BACKUP_FILES, files, copy_function=shutil.copy2)
    return manifest


def verify_restore(url: str | None, manifest: Mapping[str, Any]) -> list[str]:
    """Problems of a restored registry: a broken audit chain, or a head not the manifest's.

    The chain may have grown since (``netlm db upgrade``, new work): the link
    the manifest names must still be there with the same hash.
    """
    from netlm.store.repository import Store

    with Store(url, upgrade=False) as store:
        problems = list(store.verify_audit().problems)
        head = manifest.get("audit_chain_head")
        if isinstance(head, Mapping) and head.get("audit_id") is not None:
            with store.engine.connect() as connection:
                stored = connection.execute(
                    sa.text("SELECT sha256 FROM audit_chain WHERE audit_id = :a"),
                    {"a": head["audit_id"]},
                ).scalar()
            if stored != head.get("sha256"):
                problems.append(
                    f"the audit chain's link for entry {head['audit_id']} is not the one "
                    "in the backup's manifest"
                )
    return problems


__all__ = [
    "BACKUP_DB",
    "BACKUP_DUMP",
    "BACKUP_FILES",
    "BACKUP_MANIFEST",
    "PG_BIN_ENV",
    "backup",
    "default_files_dir",
    "libpq_environment",
    "pg_program",
    "read_manifest",
    "restore",
    "sha256_file",
    "sqlite_path",
    "verify_restore",
]
