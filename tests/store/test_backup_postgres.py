"""``netlm db backup`` / ``restore`` of a PostgreSQL registry with pg_dump/pg_restore
against the real PostgreSQL server of the test session (issue #12)."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from netlm.commands.db import db_app
from netlm.errors import StoreError
from netlm.store import Store
from netlm.store.backup import BACKUP_DUMP, backup, restore, sha256_file, verify_restore
from netlm.store.db import head_revision
from netlm.store.repository import Role

from .conftest import FAST_HASHER, PostgresServer

PASSWORD = "violet-lantern-harbour"


def cli() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(db_app, name="db")
    return app


def snapshot(url: str) -> dict[str, Any]:
    """Everything a restore must bring back: patients, users, audit entries and links."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = ("patients", "users", "case_versions", "audit_log", "audit_chain")
            return {
                t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY id"))]
                for t in tables
            }
    finally:
        engine.dispose()


def fill(url: str, prefix: str) -> None:
    with Store(url, password_hasher=FAST_HASHER) as store:
        store.create_user(f"{prefix.lower()}.user", PASSWORD, Role.CLINICIAN, actor="admin")
        for n in range(3):
            store.create_patient(f"{prefix}-{n}", actor="dr.a")


@pytest.fixture
def pg(postgres_server: PostgresServer) -> Any:
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


def test_backup_drop_restore_brings_back_data_files_and_the_audit_chain(
    postgres_server: PostgresServer, pg: str, tmp_path: Path
) -> None:
    fill(pg, "BK")
    files = tmp_path / "files" / "patient-1" / "upload"
    files.mkdir(parents=True)
    (files / "ct.nii.gz").write_bytes(b"\1" * 4096)
    before = snapshot(pg)
    runner = CliRunner()
    out = tmp_path / "backup"
    done = runner.invoke(
        cli(), ["db", "backup", str(out), "--db", pg, "--files-dir", str(tmp_path / "files")]
    )
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "backup.json").read_text())
    assert manifest["backend"] == "postgresql" and manifest["schema_revision"] == head_revision()
    assert manifest["database_sha256"] == sha256_file(out / BACKUP_DUMP)
    assert manifest["audit_chain_head"] == {
        "links": len(before["audit_chain"]),
        "audit_id": before["audit_chain"][-1][1],
        "sha256": before["audit_chain"][-1][2],
    }
    assert manifest["files"] == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / BACKUP_DUMP).stat().st_mode) == 0o600

    # the registry is lost: dropped and created again empty, the files gone
    name = pg.rsplit("/", 1)[1]
    postgres_server.drop_database(name)
    postgres_server.create_database(name)
    (files / "ct.nii.gz").unlink()
    done = runner.invoke(
        cli(), ["db", "restore", str(out), "--db", pg, "--files-dir", str(tmp_path / "files")]
    )
    assert done.exit_code == 0, done.output
    assert "audit log intact and as backed up" in done.output
    assert snapshot(pg) == before
    assert (files / "ct.nii.gz").read_bytes() == b"\1" * 4096
    with Store(pg, upgrade=False) as store:
        assert store.verify_audit().intact


def test_restore_over_an_altered_registry_needs_force_and_undoes_the_changes(
    pg: str, tmp_path: Path
) -> None:
    fill(pg, "AL")
    before = snapshot(pg)
    manifest = backup(pg, tmp_path / "backup", files_dir=tmp_path / "files")
    fill(pg, "LATER")  # work after the backup
    with pytest.raises(StoreError, match=r"holds a netlm registry .*--force"):
        restore(tmp_path / "backup", pg, files_dir=tmp_path / "files")
    assert len(snapshot(pg)["patients"]) == 6  # nothing changed
    restore(tmp_path / "backup", pg, files_dir=tmp_path / "files", force=True)
    assert snapshot(pg) == before
    assert verify_restore(pg, manifest) == []


def test_a_damaged_dump_is_refused_before_anything_is_touched(pg: str, tmp_path: Path) -> None:
    fill(pg, "DM")
    backup(pg, tmp_path / "backup", files_dir=tmp_path / "files")
    dump = tmp_path / "backup" / BACKUP_DUMP
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.chmod(0o600)
    dump.write_bytes(bytes(data))
    before = snapshot(pg)
    with pytest.raises(StoreError, match="does not match the SHA-256"):
        restore(tmp_path / "backup", pg, files_dir=tmp_path / "files", force=True)
    assert snapshot(pg) == before


def test_a_changed_audit_chain_after_restore_is_reported(pg: str, tmp_path: Path) -> None:
    fill(pg, "CH")
    manifest = backup(pg, tmp_path / "backup", files_dir=tmp_path / "files")
    restore(tmp_path / "backup", pg, files_dir=tmp_path / "files", force=True)
    engine = sa.create_engine(pg)
    with engine.begin() as conn:  # as the database owner, behind netlm's back
        conn.exec_driver_sql("ALTER TABLE audit_chain DISABLE TRIGGER USER")
        conn.exec_driver_sql("UPDATE audit_chain SET sha256 = repeat('0', 64) WHERE id = 1")
        conn.exec_driver_sql("ALTER TABLE audit_chain ENABLE TRIGGER USER")
    engine.dispose()
    problems = verify_restore(pg, manifest)
    assert any("was changed" in p for p in problems), problems


def test_the_password_travels_in_the_environment_never_on_the_command_line(
    postgres_server: PostgresServer, pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(pg, "PW")
    with postgres_server.admin() as conn:
        conn.execute("CREATE ROLE bk_owner LOGIN SUPERUSER PASSWORD 'Sekr1t-pass-phrase'")
    url = pg.replace("://netlm@", "://bk_owner:Sekr1t-pass-phrase@")
    calls: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def spy(args: list[str], **kwargs: Any) -> Any:
        calls.append((list(args), dict(kwargs.get("env") or {})))
        return real_run(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    manifest = backup(url, tmp_path / "backup", files_dir=tmp_path / "files")
    restore(tmp_path / "backup", url, files_dir=tmp_path / "files", force=True)
    assert [Path(args[0]).name for args, _ in calls] == ["pg_dump", "pg_restore"]
    for args, env in calls:
        assert not any("Sekr1t" in a for a in args), args
        assert env["PGPASSWORD"] == "Sekr1t-pass-phrase" and env["PGUSER"] == "bk_owner"
    assert "Sekr1t" not in json.dumps(manifest)
    with postgres_server.admin(pg.rsplit("/", 1)[1]) as conn:
        conn.execute("REASSIGN OWNED BY bk_owner TO netlm")
        conn.execute("DROP OWNED BY bk_owner")
    with postgres_server.admin() as conn:
        conn.execute("DROP ROLE bk_owner")


def test_a_backup_under_concurrent_writes_holds_every_acknowledged_write(
    pg: str, tmp_path: Path
) -> None:
    store = Store(pg, password_hasher=FAST_HASHER)
    acknowledged: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(n: int) -> None:
        k = 0
        while not stop.is_set():
            name = f"W{n}-{k}"
            store.create_patient(name, actor="writer")
            with lock:
                acknowledged.append(name)
            k += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    while len(acknowledged) < 30:
        stop.wait(0.01)
    with lock:
        before = set(acknowledged)
    try:
        manifest = backup(pg, tmp_path / "backup", files_dir=tmp_path / "files")
    finally:
        stop.set()
        for t in threads:
            t.join()
    with lock:
        everything = set(acknowledged)
    store.close()
    restore(tmp_path / "backup", pg, files_dir=tmp_path / "files", force=True)
    assert verify_restore(pg, manifest) == []
    with Store(pg, upgrade=False) as restored:
        names = {p.external_id for p in restored.list_patients()}
        links = len(snapshot(pg)["audit_chain"])
    assert before <= names <= everything  # every acknowledged write; no phantom
    assert links == manifest["audit_chain_head"]["links"]  # type: ignore[index]
