"""Backups of a live SQLite registry and its uploaded files: :func:`backup`, :func:`restore`.

Copying ``netlm.db`` while the server runs can miss everything still in the
write-ahead log (``netlm.db-wal``).  :func:`backup` uses SQLite's online
backup API instead: a consistent snapshot of the database, WAL included,
taken while writers go on; the uploads folder is copied beside it.  A backup
is a folder (mode 0700) holding ``netlm.db``, ``files/`` and ``backup.json``
(what, when, which schema revision).

PostgreSQL registries are backed up with PostgreSQL's own tools
(``pg_dump --format=custom``; restore with ``pg_restore``) plus a copy of the
files folder; see the README.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from pathlib import Path

from netlm.errors import StoreError
from netlm.store.db import parse_database_url, redact, resolve_database_url

#: The database file inside a backup folder.
BACKUP_DB = "netlm.db"
#: The uploads inside a backup folder.
BACKUP_FILES = "files"
#: What a backup folder says about itself.
BACKUP_MANIFEST = "backup.json"


def sqlite_path(url: str | None) -> Path:
    """The file of a SQLite registry URL.

    Raises
    ------
    StoreError
        If the URL is not a SQLite file (e.g. PostgreSQL: use ``pg_dump``).
    """
    parsed = parse_database_url(resolve_database_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or "memory" in str(parsed):
        raise StoreError(
            f"{redact(parsed)} is not a SQLite file: back a PostgreSQL registry up with "
            "`pg_dump --format=custom` (restore with `pg_restore`) and copy its files folder"
        )
    return Path(parsed.database).absolute()


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


def backup(url: str | None, out: Path, *, files_dir: Path | None = None) -> dict[str, object]:
    """Back a (possibly live) SQLite registry and its uploads up into the new folder ``out``.

    Returns the manifest written to ``out/backup.json``.

    Raises
    ------
    StoreError
        If the registry is not a SQLite file, ``out`` exists, or the copy fails.
    """
    from netlm.store.db import current_revision, make_engine

    source = sqlite_path(url)
    if not source.is_file():
        raise StoreError(f"no registry at {source}")
    if out.exists():
        raise StoreError(f"{out} exists; a backup goes into a new folder")
    files = files_dir if files_dir is not None else source.with_name(source.name + ".files")
    out.mkdir(parents=True, mode=0o700)
    try:
        _copy_database(source, out / BACKUP_DB)
        copied = _copy_files(files, out / BACKUP_FILES)
        engine = make_engine(f"sqlite:///{out / BACKUP_DB}")
        try:
            revision = current_revision(engine)
        finally:
            engine.dispose()
        manifest: dict[str, object] = {
            "schema": "netlm/backup/v1",
            "taken_at": dt.datetime.now(dt.UTC).isoformat(),
            "source": str(source),
            "schema_revision": revision,
            "files": copied,
        }
        (out / BACKUP_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return manifest


def restore(
    folder: Path, url: str | None, *, files_dir: Path | None = None, force: bool = False
) -> dict[str, object]:
    """Restore a backup folder into the SQLite registry ``url`` (and its files folder).

    The registry must not exist unless ``force`` (then it and its files are replaced;
    stop the server first).  Returns the backup's manifest.
    """
    manifest_path = folder / BACKUP_MANIFEST
    if not manifest_path.is_file() or not (folder / BACKUP_DB).is_file():
        raise StoreError(f"{folder} is not a netlm backup (no {BACKUP_MANIFEST} or {BACKUP_DB})")
    manifest: dict[str, object] = json.loads(manifest_path.read_text("utf-8"))
    target = sqlite_path(url)
    files = files_dir if files_dir is not None else target.with_name(target.name + ".files")
    if target.exists() and not force:
        raise StoreError(f"{target} exists; restore into a new path, or use --force")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    _copy_database(folder / BACKUP_DB, target)
    if files.exists():
        shutil.rmtree(files)
    if (folder / BACKUP_FILES).is_dir():
        shutil.copytree(folder / BACKUP_FILES, files, copy_function=shutil.copy2)
    return manifest


__all__ = ["BACKUP_DB", "BACKUP_FILES", "BACKUP_MANIFEST", "backup", "restore", "sqlite_path"]
