"""Where the registry lives, how netlm connects to it, and schema migrations.

The embedded default is a SQLite file, ``netlm.db`` in netlm's data folder:

1. ``$NETLM_DATA_DIR`` if set, else
2. ``$XDG_DATA_HOME/netlm`` if ``XDG_DATA_HOME`` is set, else
3. ``~/.local/share/netlm``.

The folder is resolved when a URL is asked for (never at import time) and
created the first time an engine is made for it.  A centre points netlm at a
PostgreSQL server instead by giving a URL (``--db`` on the command line, or
``$NETLM_DATABASE_URL``), e.g. ``postgresql://netlm@db.example.org/netlm``;
``postgresql://`` and ``postgres://`` URLs use the psycopg 3 driver.

SQLite connections run in WAL mode with ``foreign_keys=ON``, ``synchronous=FULL``
and a busy timeout, so several processes and threads can write without losing
anything.  A write transaction on SQLite starts with ``BEGIN IMMEDIATE`` (it
takes the write lock at once, so a read-then-write transaction cannot fail
half-way with "database is locked"); reads start with a plain ``BEGIN``.

The schema is managed by Alembic.  The migration scripts ship inside the
package (``netlm/store/migrations``) and are run in-process by
:func:`upgrade`; there is no ``alembic.ini``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from netlm.errors import StoreError
from netlm.units import MS_PER_S

#: Environment variable holding the database URL a centre uses (read at call time).
DATABASE_URL_ENV = "NETLM_DATABASE_URL"
#: Environment variable overriding netlm's data folder (read at call time).
DATA_DIR_ENV = "NETLM_DATA_DIR"
#: File name of the embedded SQLite database inside the data folder.
SQLITE_FILE_NAME = "netlm.db"
#: How long a SQLite writer waits for another writer's lock before giving up, in ms.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option that marks a connection as a writer (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTION = "netlm_write"
#: Key of the PostgreSQL advisory lock that serialises concurrent schema upgrades.
_UPGRADE_LOCK_KEY = 0x6E65746C6D  # "netlm"
#: Connections each process keeps open to PostgreSQL (SQLAlchemy's ``pool_size``).
DEFAULT_POOL_SIZE = 5
#: Connections a process may open beyond the pool under load (``max_overflow``).
DEFAULT_MAX_OVERFLOW = 10
#: Connections PostgreSQL keeps for superusers (its ``superuser_reserved_connections`` default).
PG_RESERVED_CONNECTIONS = 3
#: Where the migration scripts live, as an Alembic ``package:folder`` location.
SCRIPT_LOCATION = "netlm.store:migrations"

#: JSON as stored: no NaN/Infinity (PostgreSQL's json type refuses them), UTF-8 kept.
json_serializer = functools.partial(
    json.dumps, allow_nan=False, ensure_ascii=False, separators=(",", ":")
)


def data_dir() -> Path:
    """netlm's data folder (not created here; see the module docstring for the order)."""
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg).expanduser() / "netlm"
    return Path.home() / ".local" / "share" / "netlm"


def default_database_url() -> str:
    """The URL of the embedded SQLite database, ``sqlite:///<data dir>/netlm.db``.

    Examples
    --------
    >>> url = default_database_url()
    >>> url.startswith("sqlite:////"), url.endswith("/netlm.db")
    (True, True)
    """
    return f"sqlite:///{(data_dir() / SQLITE_FILE_NAME).absolute()}"


def resolve_database_url(url: str | None = None) -> str:
    """``url`` if given, else ``$NETLM_DATABASE_URL``, else :func:`default_database_url`."""
    if url:
        return url
    return os.environ.get(DATABASE_URL_ENV) or default_database_url()


def parse_database_url(url: str) -> sa.URL:
    """Parse ``url`` and pick netlm's driver (psycopg 3 for PostgreSQL).

    Raises
    ------
    StoreError
        If the URL is malformed or names a database netlm does not support.
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(f"not a database URL: {url!r} ({exc})") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")
    if backend == "sqlite":
        return parsed
    raise StoreError(
        f"unsupported database {backend!r} in {redact(parsed)}: "
        "netlm stores its registry in SQLite or PostgreSQL"
    )


def redact(url: str | sa.URL) -> str:
    """``url`` with its password hidden, for messages and logs."""
    try:
        parsed = url if isinstance(url, sa.URL) else sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def _sqlite_memory(url: sa.URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def missing_registry_problem(url: str | None = None) -> str | None:
    """Why the registry at ``url`` cannot be opened as an existing one, or ``None``.

    Only a SQLite file can be missing (a database server says so itself); the
    answer names the file and the command that creates it.

    Examples
    --------
    >>> print(missing_registry_problem("sqlite:////x/netlm.db"))
    no netlm registry at /x/netlm.db: create it with `netlm db upgrade --db /x/netlm.db`
    >>> missing_registry_problem("postgresql://netlm@db/netlm") is None
    True
    """
    parsed = parse_database_url(resolve_database_url(url))
    if parsed.get_backend_name() != "sqlite" or _sqlite_memory(parsed):
        return None
    path = Path(parsed.database or "").absolute()
    if path.exists():
        return None
    return f"no netlm registry at {path}: create it with `netlm db upgrade --db {path}`"


def make_engine(
    url: str | None = None,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    create: bool = True,
) -> sa.Engine:
    """An engine for ``url`` (see :func:`resolve_database_url` for the default).

    SQLite: WAL journal, ``foreign_keys=ON``, ``synchronous=FULL``, a busy
    timeout of :data:`SQLITE_BUSY_TIMEOUT_MS`, ``BEGIN IMMEDIATE`` for writers;
    a missing database file is created with mode 0600 and a missing folder 0700
    (with ``create=False`` it is refused instead, and nothing is created:
    :func:`missing_registry_problem`).
    PostgreSQL: psycopg 3, with connections checked before use; a pool of
    ``pool_size`` connections, up to ``max_overflow`` more under load (so one
    process opens at most ``pool_size + max_overflow``; see
    :func:`connection_budget_problem` for several worker processes).

    Raises
    ------
    StoreError
        If the URL is malformed or unsupported, its folder cannot be created, or
        (``create=False``) the SQLite file does not exist.
    """
    for name, value, least in (("pool_size", pool_size, 1), ("max_overflow", max_overflow, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise StoreError(f"{name} must be an integer >= {least}, not {value!r}")
    parsed = parse_database_url(resolve_database_url(url))
    if parsed.get_backend_name() == "postgresql":
        try:
            return sa.create_engine(
                parsed,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                json_serializer=json_serializer,
            )
        except ImportError as exc:
            raise StoreError(f"cannot use {redact(parsed)}: driver missing ({exc})") from None
    if _sqlite_memory(parsed):
        engine = sa.create_engine(
            parsed,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_serializer=json_serializer,
        )
        _configure_sqlite(engine, wal=False)
        return engine
    if not create:
        missing = missing_registry_problem(parsed.render_as_string(hide_password=False))
        if missing is not None:
            raise StoreError(missing)
    path = Path(parsed.database or "").absolute()
    folder = path.parent
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)  # patient data: the owner's only
        if not path.exists():  # SQLite gives its -wal and -shm files the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise StoreError(f"cannot create the database folder {folder}: {exc}") from None
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / MS_PER_S},
        json_serializer=json_serializer,
    )
    _configure_sqlite(engine, wal=True)
    return engine


def connection_budget_problem(
    max_connections: int, workers: int, pool_size: int, max_overflow: int
) -> str | None:
    """Why ``workers`` processes may open more connections than PostgreSQL allows, or ``None``.

    Each worker process opens at most ``pool_size + max_overflow`` connections;
    the rule is ``workers × (pool_size + max_overflow) ≤ max_connections −``
    :data:`PG_RESERVED_CONNECTIONS` (leave room, too, for ``netlm db`` commands,
    backups and other clients).

    Examples
    --------
    >>> connection_budget_problem(100, 4, 5, 10) is None
    True
    >>> print(connection_budget_problem(100, 8, 5, 10).replace("; ", ";\\n"))
    8 workers x (pool 5 + overflow 10) = 120 connections;
    PostgreSQL allows 97 (max_connections 100 less 3 reserved)
    """
    needed = workers * (pool_size + max_overflow)
    allowed = max_connections - PG_RESERVED_CONNECTIONS
    if needed <= allowed:
        return None
    return (
        f"{workers} workers x (pool {pool_size} + overflow {max_overflow}) = {needed} "
        f"connections; PostgreSQL allows {allowed} (max_connections {max_connections} "
        f"less {PG_RESERVED_CONNECTIONS} reserved)"
    )


def _configure_sqlite(engine: sa.Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # netlm emits BEGIN itself (below); this also stops pysqlite from
        # committing on its own before DDL, so migrations are transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        writer = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


# ---------------------------------------------------------------------------- migrations
def alembic_config() -> Config:
    """The Alembic configuration (what ``alembic.ini`` would hold), built in code."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """The newest schema revision this version of netlm knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise StoreError("netlm's migration scripts are missing")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The schema revision of the database behind ``engine`` (``None``: empty database)."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot open the database {redact(engine.url)}: {exc.orig}") from None


def upgrade_engine(engine: sa.Engine) -> None:
    """Bring the database behind ``engine`` to the newest schema (idempotent).

    The upgrade runs in one transaction: on PostgreSQL under an advisory lock,
    on SQLite under the write lock, so concurrent upgrades (several servers
    starting at once) run one after the other and the later ones find nothing
    to do.
    """
    config = alembic_config()
    try:
        with (
            engine.connect().execution_options(**{WRITE_OPTION: True}) as connection,
            connection.begin(),
        ):
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot upgrade the database {redact(engine.url)}: {exc.orig}") from None


def upgrade(url: str | None = None) -> None:
    """``alembic upgrade head`` on the database at ``url`` (created if it is a new SQLite file).

    Raises
    ------
    StoreError
        If the database cannot be reached or refuses the migration (nothing is
        changed then: the whole upgrade is one transaction).
    """
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


#: Tables the runtime role may UPDATE (every other table takes INSERTs only).
RUNTIME_UPDATABLE = ("users", "api_tokens", "web_sessions", "patients")
#: Tables the runtime role may DELETE from (log-in failures are cleared on success).
RUNTIME_DELETABLE = ("login_failures",)


def runtime_role_sql(role: str, schema: str = "public") -> list[str]:
    """SQL that lets the PostgreSQL role ``role`` run netlm, and nothing more.

    The role gets SELECT and INSERT on every table, UPDATE only where netlm
    updates (:data:`RUNTIME_UPDATABLE`: soft deletes, revocations, accounts),
    DELETE only on :data:`RUNTIME_DELETABLE`, and the sequences; it owns
    nothing, so it can neither change the schema nor switch off the
    append-only triggers of the audit log and the stored results.  Run it as
    the schema owner (the role that runs ``netlm db upgrade``).

    Examples
    --------
    >>> runtime_role_sql("netlm_app")[0]
    'GRANT USAGE ON SCHEMA "public" TO "netlm_app"'
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role) or not re.fullmatch(
        r"[a-z_][a-z0-9_]{0,62}", schema
    ):
        raise StoreError(f"{role!r} / {schema!r}: use lower-case letters, digits and '_' only")
    who, where = f'"{role}"', f'"{schema}"'
    statements = [
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {where} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
    ]
    statements += [f'GRANT UPDATE ON {where}."{t}" TO {who}' for t in RUNTIME_UPDATABLE]
    statements += [f'GRANT DELETE ON {where}."{t}" TO {who}' for t in RUNTIME_DELETABLE]
    return statements
