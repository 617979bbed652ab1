"""``netlm db backup`` / ``restore`` of a live SQLite registry (issue #12)."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from netlm.commands.db import db_app
from netlm.errors import StoreError
from netlm.store import Store
from netlm.store.backup import backup, restore


def cli() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(db_app, name="db")
    return app


def test_a_backup_under_concurrent_writes_holds_every_acknowledged_write(tmp_path: Path) -> None:
    """Every write acknowledged before the backup began is in it; nothing else appears."""
    url = f"sqlite:///{tmp_path / 'live' / 'netlm.db'}"
    store = Store(url)
    files = tmp_path / "live" / "netlm.db.files" / "patient-1"
    files.mkdir(parents=True)
    (files / "ct.nii.gz").write_bytes(b"\1" * 4096)
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

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 100:
        stop.wait(0.01)
    with lock:
        before = set(acknowledged)
    try:
        manifest = backup(url, tmp_path / "backup")
    finally:
        stop.set()
        for t in threads:
            t.join()
    with lock:
        everything = set(acknowledged)
    store.close()
    assert manifest["files"] == 1
    assert stat.S_IMODE((tmp_path / "backup").stat().st_mode) == 0o700
    target = f"sqlite:///{tmp_path / 'restored' / 'netlm.db'}"
    restore(tmp_path / "backup", target)
    with Store(target) as restored:
        names = {p.external_id for p in restored.list_patients()}
        assert restored.verify_audit().intact
    assert before <= names <= everything  # every acknowledged write; no phantom
    copied = tmp_path / "restored" / "netlm.db.files" / "patient-1" / "ct.nii.gz"
    assert copied.read_bytes() == b"\1" * 4096
    check = sqlite3.connect(tmp_path / "restored" / "netlm.db")
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


def test_restore_refuses_to_overwrite_and_to_cross_backends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    Store(url).close()
    backup(url, tmp_path / "b")
    with pytest.raises(StoreError, match="exists; restore into a new path"):
        restore(tmp_path / "b", url)
    with pytest.raises(StoreError, match="exists; a backup goes into a new folder"):
        backup(url, tmp_path / "b")
    with pytest.raises(StoreError, match="is a backup of a sqlite registry"):
        restore(tmp_path / "b", "postgresql://netlm@localhost/netlm")


def test_netlm_db_backup_and_restore(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reg' / 'netlm.db'}"
    with Store(url) as store:
        store.create_patient("P-1", actor="x")
    runner = CliRunner()
    done = runner.invoke(cli(), ["db", "backup", str(tmp_path / "bk"), "--db", url])
    assert done.exit_code == 0, done.output
    target = f"sqlite:///{tmp_path / 'new' / 'netlm.db'}"
    done = runner.invoke(cli(), ["db", "restore", str(tmp_path / "bk"), "--db", target])
    assert done.exit_code == 0 and "restored the backup" in done.output
    with Store(target) as store:
        assert [p.external_id for p in store.list_patients()] == ["P-1"]
    again = runner.invoke(cli(), ["db", "restore", str(tmp_path / "bk"), "--db", target])
    assert again.exit_code == 2 and "--force" in again.output
