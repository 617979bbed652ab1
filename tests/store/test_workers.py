"""``netlm serve --workers 2`` on PostgreSQL: any worker serves any request (issue #12).

Sessions, their end and the log-in throttle live in the registry, so a
log-out handled by one worker holds on the other at once, and failed log-ins
are counted across both.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "worker-keeper-passphrase"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _login_csrf(client: httpx.Client) -> str:
    match = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert match is not None
    return match.group(1)


def test_two_workers_share_sessions_and_throttling(postgres_server: Any, tmp_path: Path) -> None:
    url = postgres_server.create_database()
    port, log = _port(), tmp_path / "server.log"
    env = os.environ | {"NETLM_ADMIN_PASSWORD": PASSWORD, "NETLM_DATA_DIR": str(tmp_path)}
    env.pop("NETLM_SECRET_KEY", None)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "netlm.commands.serve", "--port", str(port), "--db", url,
                "--create-admin", "admin", "--workers", "2", "--files-dir", str(tmp_path / "f"),
            ],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) < 2:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        browser = httpx.Client(base_url=base)
        r = browser.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "login_csrf": _login_csrf(browser)},
        )
        assert r.status_code == 303, r.text
        cookie = browser.cookies["netlm_session"]
        for _ in range(10):  # new connections: the kernel spreads them over the workers
            me = httpx.get(f"{base}/api/v1/auth/me", cookies={"netlm_session": cookie})
            assert me.status_code == 200
        page = browser.get("/patients").text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert csrf is not None
        assert browser.post("/logout", data={"csrf_token": csrf.group(1)}).status_code == 303
        for _ in range(10):
            me = httpx.get(f"{base}/api/v1/auth/me", cookies={"netlm_session": cookie})
            assert me.status_code == 401
        answers = [
            httpx.post(
                f"{base}/api/v1/auth/token", json={"username": "admin", "password": "wrong one"}
            ).status_code
            for _ in range(6)
        ]
        assert answers == [401] * 5 + [429]
        text = log.read_text()
        assert "failed log-in: user='admin' address=127.0.0.1" in text
        assert "unhandled" not in text
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        postgres_server.drop_database(url.rsplit("/", 1)[1])


def test_the_connection_budget_of_several_workers_is_checked_against_postgresql(
    postgres_server: Any,
) -> None:
    """workers x (pool + overflow) <= max_connections - 3, with the server's own setting."""
    from netlm.commands.serve import connection_budget
    from netlm.store import Store

    url = postgres_server.create_database()
    with Store(url, pool_size=2, max_overflow=1) as store:
        with store.engine.connect() as connection:
            allowed = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
        fits = (allowed - 3) // 3
        assert connection_budget(store, fits, 2, 1) is None
        problem = connection_budget(store, fits + 1, 2, 1)
        assert problem is not None and f"max_connections {allowed} less 3 reserved" in problem
        assert store.engine.pool.size() == 2  # type: ignore[attr-defined]
    postgres_server.drop_database(url.rsplit("/", 1)[1])
