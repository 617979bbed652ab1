"""Crash safety: SIGKILL the server in the middle of writes; every acknowledged write survives.

``python -m netlm.commands.serve`` (what ``netlm serve`` runs) is started on a
temporary SQLite file.  Several clients create patients and store their cases
as fast as they can; the server is killed with SIGKILL while requests are in
flight.  After a restart every write the server acknowledged (2xx) is present
exactly once, every stored row has its audit entry, and SQLite's
``PRAGMA integrity_check`` passes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import edited
from netlm.store.db import upgrade
from netlm.store.repository import Store

ADMIN_PASSWORD = "crash-keeper-passphrase"
WRITERS = 8
#: Acknowledged writes to wait for before the kill (bounded by KILL_AFTER_S).
KILL_AFTER_WRITES = 150
KILL_AFTER_S = 20.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server(db: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``netlm serve`` on ``db`` (created first, as ``netlm db upgrade`` does), on a free
    port; killed (if still alive) on exit."""
    upgrade(f"sqlite:///{db}")
    port = free_port()
    env = os.environ | {"NETLM_ADMIN_PASSWORD": ADMIN_PASSWORD, "NETLM_DATA_DIR": str(db.parent)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "netlm.commands.serve",
                "--port",
                str(port),
                "--db",
                str(db),
                "--create-admin",
                "admin",
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in 60 s: {log.read_text()}")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def token(base: str) -> dict[str, str]:
    r = httpx.post(
        f"{base}/api/v1/auth/token",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=30,
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def case_document(external_id: str, n: int) -> dict[str, object]:
    doc = json.loads(json.dumps(edited(patient__age_years=30 + n % 50), default=str))
    doc["patient"]["id"] = external_id
    return doc


def test_killed_server_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    log = tmp_path / "server.log"
    acknowledged_patients: dict[str, int] = {}
    acknowledged_cases: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int, base: str, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            i = 0
            while not stop.is_set():
                external_id = f"CRASH-{n}-{i}"
                i += 1
                try:
                    r = client.post("/api/v1/patients", json={"external_id": external_id})
                    if r.status_code != 201:
                        continue
                    pid = r.json()["id"]
                    with lock:
                        acknowledged_patients[external_id] = pid
                    r = client.put(
                        f"/api/v1/patients/{pid}/case", json=case_document(external_id, i)
                    )
                    if r.status_code == 201:
                        with lock:
                            acknowledged_cases[external_id] = r.json()["version"]
                except httpx.HTTPError:
                    return  # the server is gone

    with server(db, log) as (base, process):
        headers = token(base)
        threads = [
            threading.Thread(target=writer, args=(n, base, headers), daemon=True)
            for n in range(WRITERS)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + KILL_AFTER_S
        while time.monotonic() < deadline:
            with lock:
                if len(acknowledged_patients) >= KILL_AFTER_WRITES:
                    break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)  # mid-stream: writers are still sending
        process.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
    assert len(acknowledged_patients) > 10, log.read_text()

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    with server(db, log) as (base, _):
        headers = token(base)
        patients = httpx.get(
            f"{base}/api/v1/patients",
            params={"search": "CRASH-", "include_deleted": True},
            headers=headers,
            timeout=60,
        ).json()
        by_external = {}
        for p in patients:
            assert p["external_id"] not in by_external, f"duplicated {p['external_id']}"
            by_external[p["external_id"]] = p
        for external_id, pid in acknowledged_patients.items():
            assert external_id in by_external, f"lost acknowledged patient {external_id}"
            assert by_external[external_id]["id"] == pid
        for external_id, version in acknowledged_cases.items():
            pid = acknowledged_patients[external_id]
            r = httpx.get(f"{base}/api/v1/patients/{pid}/case", headers=headers, timeout=30)
            assert r.status_code == 200, f"lost acknowledged case of {external_id}"
            assert r.json()["version"] == version
            assert r.json()["document"]["patient"]["id"] == external_id
        # the restarted server takes writes again
        again = httpx.post(
            f"{base}/api/v1/patients", json={"external_id": "AFTER-CRASH"}, headers=headers
        )
        assert again.status_code == 201

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    with Store(f"sqlite:///{db}") as store:
        audited = {e.record_id for e in store.audit_log(record_type="patient", limit=100_000)}
        stored = {p.id for p in store.list_patients(include_deleted=True)}
        assert stored <= audited  # a write and its audit entry are one transaction
        versions = {e.record_id for e in store.audit_log(record_type="case_version", limit=100_000)}
        assert len(versions) == sum(len(store.case_versions(pid)) for pid in stored)
    print(
        f"\n{len(acknowledged_patients)} patients and {len(acknowledged_cases)} cases "
        f"acknowledged before SIGKILL; all present after restart ({len(patients)} stored)"
    )
