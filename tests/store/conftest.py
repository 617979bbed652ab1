"""Registry fixtures: a SQLite file per test and a real PostgreSQL server per session.

The PostgreSQL server is started from the PostgreSQL server binaries
(``initdb``, ``pg_ctl``; ``scripts/test.sh`` installs the Debian package): a
throw-away cluster in a temporary folder, its unix socket in that folder,
listening on a free TCP port on 127.0.0.1 only, ``trust`` authentication for
the superuser ``netlm``, fsync off.  PostgreSQL refuses to run as root, so
under root the server runs as the system user ``netlm-pg`` (created with
``useradd`` when missing).  Each test gets its own empty database.

Where the binaries are: ``$NETLM_PG_BIN`` if set, else the folder of
``initdb`` on ``PATH``, else the newest ``/usr/lib/postgresql/*/bin``.  If none
is found the PostgreSQL tests fail (they are never skipped).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher

from netlm.store import Store

#: The operating-system user the server runs as when the tests run as root.
PG_OS_USER = "netlm-pg"
#: The database superuser initdb creates (trust authentication, local only).
PG_SUPERUSER = "netlm"

#: Cheap argon2 parameters: the tests hash many passwords (one test uses the defaults).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.parent.name))


def postgres_bin_dir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``; fails the test run when there is none."""
    candidates: list[Path] = []
    if os.environ.get("NETLM_PG_BIN"):
        candidates.append(Path(os.environ["NETLM_PG_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
        "'postgresql' (scripts/test.sh does) or set NETLM_PG_BIN to their folder; the "
        "registry tests need a real PostgreSQL server",
        pytrace=False,
    )


def _os_user() -> str | None:
    """``None`` when not root; else the unprivileged user the server runs as (created)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        done = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                PG_OS_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            pytest.fail(
                f"running as root, and the user {PG_OS_USER!r} for the PostgreSQL server could "
                f"not be created: {done.stderr.strip()}",
                pytrace=False,
            )
    return PG_OS_USER


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A running throw-away PostgreSQL cluster."""

    bin_dir: Path
    root: Path
    port: int
    os_user: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection as the superuser."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_SUPERUSER, dbname=database, autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database; its ``postgresql+psycopg://`` URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the server's user."""
        entry = pwd.getpwnam(self.os_user) if self.os_user is not None else None
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            user=entry.pw_uid if entry else None,
            group=entry.pw_gid if entry else None,
            extra_groups=[] if entry else None,
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        done = self.run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{log[-3000:]}")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """initdb + pg_ctl start on a temporary folder; stopped and removed after the session."""
    bin_dir = postgres_bin_dir()
    os_user = _os_user()
    # Under root the folder must be reachable by the server's user: /tmp is world-searchable,
    # pytest's own tmp_path (/tmp/pytest-of-root, mode 0700) is not.
    root = Path(tempfile.mkdtemp(prefix="netlm-pg-", dir="/tmp" if os_user else None))
    server = PostgresServer(bin_dir=bin_dir, root=root, port=0, os_user=os_user)
    try:
        server.socket_dir.mkdir()
        if os_user is not None:
            entry = pwd.getpwnam(os_user)
            for path in (root, server.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        done = server.run(
            "initdb", "-D", str(server.data_dir), "-U", PG_SUPERUSER, "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"initdb failed:\n{done.stdout}{done.stderr}", pytrace=False)
        for attempt in range(3):  # a free port can be taken between choosing and binding
            server.port = _free_port()
            try:
                server.start()
                break
            except RuntimeError as exc:
                if attempt == 2:
                    pytest.fail(str(exc), pytrace=False)
        yield server
    finally:
        if server.port:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A ``postgresql+psycopg://`` URL of an (initially empty) database on the session server."""
    return postgres_server.create_database("netlm")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temporary folder (created on first use)."""
    return f"sqlite:///{tmp_path / 'registry' / 'netlm.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry' / 'netlm.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated :class:`Store` on SQLite and on PostgreSQL, empty for each test.

    On PostgreSQL each test gets its own schema (first on the ``search_path``)
    in the session's database: as isolated as a new database, and much faster
    to create.
    """
    if request.param == "sqlite":
        with Store(
            f"sqlite:///{tmp_path / 'registry' / 'netlm.db'}", password_hasher=FAST_HASHER
        ) as s:
            yield s
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    base_url: str = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with server.admin(base_url.rsplit("/", 1)[1]) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    with Store(f"{base_url}?options=-csearch_path%3D{schema}", password_hasher=FAST_HASHER) as s:
        yield s
    with server.admin(base_url.rsplit("/", 1)[1]) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
