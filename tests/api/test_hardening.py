"""The hardened service against a live ``netlm serve`` (uvicorn in a subprocess, SQLite).

Request limits before parsing, odd input, login throttling, the password
policy, server-side sessions and token management (issue #12).  The store-side
rules behind them are tested on SQLite and PostgreSQL in ``tests/store``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from conftest import edited
from netlm.api import create_app
from netlm.api.limits import MAX_JSON_DEPTH, json_body_problem, json_depth_exceeds, scrub
from netlm.errors import StoreError
from netlm.store.db import upgrade
from netlm.store.repository import Store

ADMIN_PASSWORD = "lantern-keeper-passphrase"
GOOD_PASSWORD = "violet-lantern-harbour"
UPLOAD_CAP = 256 * 1024
#: Image limits of the live server (``netlm serve --max-image-voxels ...``), lowered for tests.
MAX_VOXELS, MAX_IMAGE_BYTES, MAX_LABELS = 4096, 12_000, 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def login_csrf(client: httpx.Client) -> str:
    """The pre-session token of a fresh log-in form (its cookie stays in ``client``)."""
    match = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert match is not None
    return match.group(1)


@dataclass
class Live:
    base: str
    db: Path
    files: Path
    log: Path
    admin: dict[str, str]

    def url(self, path: str) -> str:
        return self.base + path

    def user(self, name: str, role: str, password: str = GOOD_PASSWORD) -> dict[str, str]:
        """Create a user through the API; its bearer-token headers."""
        r = httpx.post(
            self.url("/api/v1/users"),
            json={"username": name, "password": password, "role": role},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        return self.token(name, password)

    def token(self, name: str, password: str = GOOD_PASSWORD) -> dict[str, str]:
        r = httpx.post(
            self.url("/api/v1/auth/token"), json={"username": name, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def browser(self, name: str, password: str = GOOD_PASSWORD) -> httpx.Client:
        client = httpx.Client(base_url=self.base)
        r = client.post(
            "/login",
            data={"username": name, "password": password, "login_csrf": login_csrf(client)},
        )
        assert r.status_code == 303, r.text
        return client


def serve_args(port: int, db: Path, files: Path, *extra: str) -> list[str]:
    """``netlm serve`` (as ``python -m``) on ``db``, with a first admin."""
    return [
        sys.executable, "-m", "netlm.commands.serve", "--port", str(port), "--db", str(db),
        "--files-dir", str(files), "--create-admin", "admin", "--log-level", "info", *extra,
    ]  # fmt: skip


@contextmanager
def serving(folder: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Live]:
    """A live ``netlm serve`` on a registry in ``folder`` (created first, as ``netlm db
    upgrade`` does: netlm serve opens an existing registry), with an admin's token."""
    db, log, files = folder / "netlm.db", folder / "server.log", folder / "files"
    upgrade(f"sqlite:///{db}")
    port = free_port()
    environment = os.environ | {
        "NETLM_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NETLM_DATA_DIR": str(folder),
    }
    environment.pop("NETLM_SECRET_KEY", None)
    environment |= env or {}
    with log.open("ab") as out:
        process = subprocess.Popen(
            serve_args(port, db, files, *extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
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
        r = httpx.post(
            f"{base}/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert r.status_code == 200, r.text
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield Live(base, db, files, log, admin)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    assert "unhandled" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The server under test: ``netlm serve`` with its defaults but for lowered upload and
    image limits."""
    with serving(
        tmp_path_factory.mktemp("live"),
        "--max-upload-bytes", str(UPLOAD_CAP),
        "--max-image-voxels", str(MAX_VOXELS), "--max-image-bytes", str(MAX_IMAGE_BYTES),
        "--max-labels", str(MAX_LABELS),
    ) as server:  # fmt: skip
        yield server


#: ``netlm serve --max-body-bytes`` of the :func:`lenient` server.
LENIENT_BODY_BYTES = 4096
#: A signing key of exactly the shortest length accepted (32 bytes).
KEY_32_BYTES = "k" * 32


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A second server: physicists may approve their own override, bodies of at most
    :data:`LENIENT_BODY_BYTES`, a signing key of exactly 32 bytes from the environment."""
    with serving(
        tmp_path_factory.mktemp("lenient"),
        "--allow-own-override-approval",
        "--max-body-bytes", str(LENIENT_BODY_BYTES),
        env={"NETLM_SECRET_KEY": KEY_32_BYTES},
    ) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def writer(live: Live) -> dict[str, str]:
    return live.user("dr.writer", "clinician")


@pytest.fixture(scope="module")
def patient(live: Live, writer: dict[str, str]) -> int:
    r = httpx.post(live.url("/api/v1/patients"), json={"external_id": "H-001"}, headers=writer)
    assert r.status_code == 201, r.text
    pid: int = r.json()["id"]
    return pid


# --------------------------------------------------------------------------- body limits
def test_an_oversized_json_body_is_refused_before_it_is_parsed(live: Live) -> None:
    body = json.dumps({"username": "admin", "password": "x" * (2 * 1024**2)})
    r = httpx.post(
        live.url("/api/v1/auth/token"), content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert len(r.content) < 200 and "larger than 1048576 bytes" in r.text


def test_a_body_just_under_the_limit_is_parsed(live: Live) -> None:
    body = json.dumps({"username": "admin", "password": "x"})
    padded = body[:-1] + " " * (1024**2 - len(body)) + "}"
    assert len(padded.encode()) == 1024**2
    r = httpx.post(
        live.url("/api/v1/auth/token"), content=padded, headers={"content-type": "application/json"}
    )
    assert r.status_code == 401  # parsed, and the password is wrong


def test_a_chunked_body_is_counted_while_it_arrives(live: Live) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "admin", "password": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = httpx.post(
        live.url("/api/v1/auth/token"),
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and len(r.content) < 200


def test_an_oversized_form_post_is_refused(live: Live) -> None:
    r = httpx.post(live.url("/login"), data={"username": "a", "password": "x" * (2 * 1024**2)})
    assert r.status_code == 413 and len(r.content) < 200


def test_an_upload_over_the_cap_is_refused_while_receiving(
    live: Live, writer: dict[str, str], patient: int
) -> None:
    url = live.url(f"/api/v1/patients/{patient}/images")
    big = httpx.post(
        url,
        data={"kind": "ct"},
        files={"file": ("ct.nii.gz", b"\0" * (UPLOAD_CAP + 1), "application/octet-stream")},
        headers=writer,
    )
    assert big.status_code == 413 and len(big.content) < 200
    folder = live.files / f"patient-{patient}"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))
    small = httpx.post(
        url,
        data={"kind": "other"},
        files={"file": ("notes.bin", b"\1" * 1000, "application/octet-stream")},
        headers=writer,
    )
    assert small.status_code == 201, small.text


def test_registry_and_upload_files_are_private(
    live: Live, writer: dict[str, str], patient: int
) -> None:
    r = httpx.post(
        live.url(f"/api/v1/patients/{patient}/images"),
        data={"kind": "other"},
        files={"file": ("private.bin", b"\2" * 100, "application/octet-stream")},
        headers=writer,
    )
    assert r.status_code == 201, r.text
    [upload] = (live.files / f"patient-{patient}").rglob("private.bin")
    assert stat.S_IMODE(upload.stat().st_mode) == 0o600
    for folder in (upload.parent, upload.parent.parent, live.files):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for name in ("netlm.db", "netlm.db-wal", "secret-key"):
        path = live.db.parent / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_deeply_nested_detail_is_refused_and_nothing_is_stored(
    live: Live, writer: dict[str, str], patient: int
) -> None:
    url = live.url(f"/api/v1/patients/{patient}/treatments")
    before = httpx.get(url, headers=writer).json()
    deep = {"modality": "chemotherapy", "date": "2024-03-01", "details": _nested(256)}
    r = httpx.post(url, json=deep, headers=writer)
    assert r.status_code == 422 and "nested deeper than 32" in r.text
    after = httpx.get(url, headers=writer)
    assert after.status_code == 200 and after.json() == before
    assert httpx.get(live.url(f"/api/v1/patients/{patient}/export"), headers=writer).is_success
    fine = {"modality": "chemotherapy", "date": "2024-03-01", "details": _nested(10)}
    assert httpx.post(url, json=fine, headers=writer).status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"external_id": "A\\ud800B"}', "lone UTF-16 surrogate"),
        (b'{"external_id": "\\udfff"}', "lone UTF-16 surrogate"),
        (b'{"external_id": 1e999}', "out of range"),
        (b'{"external_id": -1e999}', "out of range"),
        (b'{"external_id": NaN}', "NaN is not a JSON number"),
        (b'{"external_id": Infinity}', "Infinity is not a JSON number"),
        (b'{"external_id": "\xff\xfe"}', "not UTF-8"),
        pytest.param(b'{"external_id": ' + b"9" * 5000 + b"}", "body:", id="huge-int"),
        (b'{"external_id": ', "not valid JSON"),
    ],
)
def test_odd_json_is_a_4xx_never_a_500(
    live: Live, writer: dict[str, str], body: bytes, message: str
) -> None:
    r = httpx.post(
        live.url("/api/v1/patients"),
        content=body,
        headers={**writer, "content-type": "application/json"},
    )
    assert r.status_code == 422 and message in r.text
    assert str(live.db.parent) not in r.text


def test_odd_values_inside_documents_are_4xx(
    live: Live, writer: dict[str, str], patient: int
) -> None:
    url = live.url(f"/api/v1/patients/{patient}/labs")
    for body in (
        b'{"date": "2024-01-01", "analyte": "bilirubin", "value": 1e999, "unit": "mg/dL"}',
        b'{"date": "2024-01-01", "analyte": "bilirubin", "value": 1, "unit": "\\ud834"}',
    ):
        r = httpx.post(url, content=body, headers={**writer, "content-type": "application/json"})
        assert r.status_code == 422, r.text


@pytest.mark.parametrize("external_id", ["H-001\u200b", "\u202e100-H", "\u041dX-001"])
def test_look_alike_identifiers_are_refused(
    live: Live, writer: dict[str, str], patient: int, external_id: str
) -> None:
    r = httpx.post(live.url("/api/v1/patients"), json={"external_id": external_id}, headers=writer)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "external_id"


def test_non_ascii_headers_are_4xx_never_500(live: Live, writer: dict[str, str]) -> None:
    me = live.url("/api/v1/auth/me")
    r = httpx.get(me, headers={"Authorization": "Bearer t\u00f6k\u00e9n".encode()})
    assert r.status_code == 401
    r = httpx.get(me, headers={"Cookie": "netlm_session=\u00e9\u00e9".encode()})
    assert r.status_code == 401
    r = httpx.get(me, headers={**writer, "Accept-Language": "d\u00e9".encode()})
    assert r.status_code == 200
    browser = live.browser("dr.writer")
    r = browser.post(
        "/api/v1/patients",
        json={"external_id": "H-HDR"},
        headers={"X-CSRF-Token": "j\u00e9ton".encode()},
    )
    assert r.status_code == 403 and "X-CSRF-Token" in r.text


def test_error_answers_carry_no_database_urls_or_paths(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'secret-folder' / 'netlm.db'}"
    store = Store(url)
    store.create_user("dr.a", GOOD_PASSWORD, "clinician", actor="test")

    def broken(*args: object, **kwargs: object) -> object:
        cause = OperationalError("SELECT", {}, Exception(f"unable to open {tmp_path}/x.db"))
        raise StoreError(f"database error ({url}): unable to open {tmp_path}/x.db") from cause

    app = create_app(store, secret_key="k" * 40, files_dir=tmp_path / "files")
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/auth/token", json={"username": "dr.a", "password": GOOD_PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        store.list_patients = broken  # type: ignore[method-assign]
        r = client.get("/api/v1/patients", headers=headers)
        assert r.status_code == 503 and "error id" in r.json()["detail"]
        assert str(tmp_path) not in r.text and "sqlite" not in r.text
        refused = client.get("/api/v1/patients/999", headers=headers)
        assert refused.status_code == 404 and str(tmp_path) not in refused.text
    store.close()


@pytest.mark.parametrize("path", ["/login", "/static/netlm.css", "/api/v1/health", "/nowhere"])
def test_security_headers_on_every_answer(live: Live, path: str) -> None:
    r = httpx.get(live.url(path))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers  # plain HTTP: no HSTS


def test_hsts_and_allowed_hosts(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'netlm.db'}")
    app = create_app(
        store,
        secret_key="k" * 40,
        files_dir=tmp_path / "files",
        secure_cookies=True,
        allowed_hosts=["netlm.example.org"],
    )
    good = TestClient(app, base_url="https://netlm.example.org").get("/login")
    assert good.status_code == 200
    assert good.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "secure" in good.headers["set-cookie"].lower()
    evil = TestClient(app, base_url="https://evil.example").get("/login")
    assert evil.status_code == 400 and "strict-transport-security" in evil.headers
    store.close()


def test_json_depth_limit_boundary() -> None:
    at_limit = json.dumps(_nested(MAX_JSON_DEPTH)).encode()
    assert not json_depth_exceeds(at_limit, MAX_JSON_DEPTH)
    assert json_body_problem(at_limit) is None
    over = json.dumps(_nested(MAX_JSON_DEPTH + 1)).encode()
    assert json_depth_exceeds(over, MAX_JSON_DEPTH)
    assert json_body_problem(over) == f"body: nested deeper than {MAX_JSON_DEPTH} levels"
    assert json_body_problem(json.dumps({"x": "[[[[" * 50}).encode()) is None


def test_scrub_removes_urls_and_paths_but_keeps_file_names() -> None:
    text = "cannot read /srv/netlm/data/patient-3/liver.nii.gz via postgresql://u:p@db/netlm"
    assert scrub(text) == "cannot read liver.nii.gz via <database>"
    assert scrub("ratio 3/4 and 12/05/2024") == "ratio 3/4 and 12/05/2024"


# --------------------------------------------------------------------------- audited reads
def test_reads_exports_and_logins_are_audited(
    live: Live, writer: dict[str, str], patient: int
) -> None:
    reader = live.user("dr.reader", "viewer")
    assert httpx.get(live.url(f"/api/v1/patients/{patient}"), headers=reader).is_success
    assert httpx.get(live.url(f"/api/v1/patients/{patient}/export"), headers=reader).is_success
    browser = live.browser("dr.reader")
    assert browser.get(f"/patients/{patient}").status_code == 200
    audit = httpx.get(
        live.url("/api/v1/audit"), params={"patient_id": patient}, headers=live.admin
    ).json()
    mine = [(e["action"], e["details"].get("what")) for e in audit if e["actor"] == "dr.reader"]
    assert mine == [("read", "patient"), ("export", None), ("read", "board page")]
    users = httpx.get(
        live.url("/api/v1/audit"), params={"record_type": "user"}, headers=live.admin
    ).json()
    logins = [
        e["details"]["via"] for e in users if e["actor"] == "dr.reader" and e["action"] == "login"
    ]
    assert logins == ["token", "session"]


# --------------------------------------------------------------------------- concurrent edits
def case_of(external_id: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(edited(**changes), default=str))
    doc["patient"]["id"] = external_id
    return doc


def test_of_two_concurrent_case_edits_one_wins_and_one_is_told(
    live: Live, writer: dict[str, str]
) -> None:
    pid = httpx.post(
        live.url("/api/v1/patients"), json={"external_id": "EX-C1"}, headers=writer
    ).json()["id"]
    url = live.url(f"/api/v1/patients/{pid}/case")
    base = case_of("EX-C1")
    assert httpx.put(url, json=base, params={"base_version": 0}, headers=writer).status_code == 201
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def edit(ecog: int) -> None:
        doc = case_of("EX-C1", patient__ecog=ecog)
        barrier.wait()
        r = httpx.put(url, json=doc, headers={**writer, "If-Match": '"1"'}, timeout=60)
        answers.append(r.status_code)

    threads = [threading.Thread(target=edit, args=(e,)) for e in (0, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 409]
    versions = httpx.get(f"{url}/versions", headers=writer).json()
    assert [v["version"] for v in versions] == [1, 2]
    stale = httpx.put(url, json=base, params={"base_version": 1}, headers=writer)
    assert stale.status_code == 409 and "now at version 2" in stale.json()["detail"]
    odd = httpx.put(url, json=base, headers={**writer, "If-Match": "yesterday"})
    assert odd.status_code == 422
    assert len(httpx.get(f"{url}/versions", headers=writer).json()) == 2


def test_the_case_form_shows_a_conflict(live: Live, writer: dict[str, str]) -> None:
    pid = httpx.post(
        live.url("/api/v1/patients"), json={"external_id": "EX-C2"}, headers=writer
    ).json()["id"]
    browser = live.browser("dr.writer")
    form = browser.get(f"/patients/{pid}/case").text
    assert 'name="base_version" value="0"' in form
    put = httpx.put(live.url(f"/api/v1/patients/{pid}/case"), json=case_of("EX-C2"), headers=writer)
    assert put.status_code == 201  # someone else saved first
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
    fields["csrf_token"] = _csrf(browser)
    r = browser.post(f"/patients/{pid}/case", data=fields)
    assert r.status_code == 409 and "now at version 1" in r.text


# --------------------------------------------------------------------------- log-in throttling
def test_failed_logins_are_throttled_logged_and_audited(live: Live, writer: dict[str, str]) -> None:
    live.user("dr.throttle", "viewer")
    url = live.url("/api/v1/auth/token")
    for _ in range(5):
        r = httpx.post(url, json={"username": "dr.throttle", "password": "wrong password"})
        assert r.status_code == 401
    r = httpx.post(url, json={"username": "dr.throttle", "password": "wrong password"})
    assert r.status_code == 429
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 30
    right = httpx.post(url, json={"username": "dr.throttle", "password": GOOD_PASSWORD})
    assert right.status_code == 429  # the password is not even checked while throttled
    browser = httpx.Client(base_url=live.base)
    page = browser.post(
        "/login",
        data={
            "username": "dr.throttle",
            "password": GOOD_PASSWORD,
            "login_csrf": login_csrf(browser),
        },
    )
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert live.token("dr.writer")  # another user from the same address is not held up
    audit = httpx.get(
        live.url("/api/v1/audit"), params={"record_type": "user"}, headers=live.admin
    ).json()
    failed = [
        e
        for e in audit
        if e["action"] == "login_failed" and e["details"]["username"] == "dr.throttle"
    ]
    assert len(failed) == 5 and {e["actor"] for e in failed} == {"anonymous"}
    assert failed[-1]["details"] == {
        "username": "dr.throttle",
        "address": "127.0.0.1",
        "via": "token",
    }
    assert any(e["action"] == "login" and e["actor"] == "dr.writer" for e in audit)
    logged = live.log.read_text()
    assert "failed log-in: user='dr.throttle' address=127.0.0.1" in logged
    assert wrong_count(logged) >= 5


def wrong_count(log: str) -> int:
    return len(re.findall(r"failed log-in: user='dr\.throttle'", log))


# --------------------------------------------------------------------------- password policy
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("elevenchars", "at least 12 characters (got 11)"),
        ("dr.policy-2024-x", "must not contain the user name"),
        ("Password123456!", "commonly used password"),
        ("qwertyuiop1234", "commonly used password"),
    ],
)
def test_the_password_policy_refuses_weak_passwords(
    live: Live, password: str, message: str
) -> None:
    r = httpx.post(
        live.url("/api/v1/users"),
        json={"username": "dr.policy", "password": password, "role": "viewer"},
        headers=live.admin,
    )
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "password"
    assert message in r.json()["problems"][0]["message"]


def test_twelve_characters_are_enough(live: Live) -> None:
    r = httpx.post(
        live.url("/api/v1/users"),
        json={"username": "dr.twelve", "password": "tulip-anchor", "role": "viewer"},
        headers=live.admin,
    )
    assert r.status_code == 201, r.text


# --------------------------------------------------------------------------- sessions and tokens
def _csrf(client: httpx.Client) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/patients").text)
    assert match is not None
    return match.group(1)


def test_logout_ends_the_session_on_the_server(live: Live) -> None:
    live.user("dr.session", "viewer")
    browser = live.browser("dr.session")
    cookie = browser.cookies["netlm_session"]
    assert browser.get("/api/v1/auth/me").status_code == 200
    out = browser.post("/logout", data={"csrf_token": _csrf(browser)})
    assert out.status_code == 303
    replay = httpx.get(live.url("/api/v1/auth/me"), cookies={"netlm_session": cookie})
    assert replay.status_code == 401


def test_a_password_change_ends_every_session_and_token(live: Live) -> None:
    first = live.user("dr.change", "clinician")
    second = live.token("dr.change")
    browser = live.browser("dr.change")
    new_password = "marble-orchid-compass"
    r = httpx.post(
        live.url("/api/v1/auth/password"),
        json={"current_password": GOOD_PASSWORD, "new_password": new_password},
        headers=first,
    )
    assert r.status_code == 200, r.text
    me = live.url("/api/v1/auth/me")
    assert httpx.get(me, headers=first).status_code == 401
    assert httpx.get(me, headers=second).status_code == 401
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert httpx.get(me, headers=live.token("dr.change", new_password)).status_code == 200
    weak = httpx.post(
        live.url("/api/v1/auth/password"),
        json={"current_password": new_password, "new_password": "short"},
        headers=live.token("dr.change", new_password),
    )
    assert weak.status_code == 422


@pytest.mark.parametrize("change", [{"role": "viewer"}, {"disabled": True}, {"password": "x"}])
def test_an_admin_change_ends_the_users_sessions_and_tokens(
    live: Live, change: dict[str, Any]
) -> None:
    name = f"dr.admin-change-{len(change)}-{sorted(change)[0]}"
    token = live.user(name, "physicist")
    browser = live.browser(name)
    if change.get("password"):
        change = {"password": "copper-meadow-lantern"}
    r = httpx.patch(live.url(f"/api/v1/users/{name}"), json=change, headers=live.admin)
    assert r.status_code == 200, r.text
    me = live.url("/api/v1/auth/me")
    assert httpx.get(me, headers=token).status_code == 401
    assert browser.get("/api/v1/auth/me").status_code == 401
    if change.get("disabled"):
        refused = httpx.post(
            live.url("/api/v1/auth/token"), json={"username": name, "password": GOOD_PASSWORD}
        )
        assert refused.status_code == 401


def test_tokens_expire_and_are_listed_and_revoked_by_owner_and_admin(
    live: Live, writer: dict[str, str]
) -> None:
    mine = live.user("dr.tokens", "viewer")
    other = live.token("dr.writer")
    r = httpx.post(
        live.url("/api/v1/auth/token"), json={"username": "dr.tokens", "password": GOOD_PASSWORD}
    )
    expires = r.json()["expires_at"]
    days = (
        time.mktime(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())
    ) / 86400
    assert 29.9 < days <= 30.01
    third = {"Authorization": f"Bearer {r.json()['access_token']}"}
    listed = httpx.get(live.url("/api/v1/auth/tokens"), headers=mine).json()
    assert {t["username"] for t in listed} == {"dr.tokens"} and len(listed) == 2
    assert "access_token" not in listed[0] and all(t["expires_at"] for t in listed)
    forbidden = httpx.get(
        live.url("/api/v1/auth/tokens"), params={"username": "dr.writer"}, headers=mine
    )
    assert forbidden.status_code == 403
    writer_tokens = httpx.get(live.url("/api/v1/auth/tokens"), headers=other).json()
    assert (
        httpx.delete(
            live.url(f"/api/v1/auth/tokens/{writer_tokens[0]['id']}"), headers=mine
        ).status_code
        == 404
    )  # not the owner's: as if it did not exist
    own = listed[0]["id"]  # the newest: ``third``
    gone = httpx.delete(live.url(f"/api/v1/auth/tokens/{own}"), headers=mine)
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    assert httpx.get(live.url("/api/v1/auth/me"), headers=third).status_code == 401
    assert httpx.get(live.url("/api/v1/auth/me"), headers=mine).status_code == 200
    everyone = httpx.get(live.url("/api/v1/auth/tokens"), headers=live.admin).json()
    assert {"dr.tokens", "dr.writer", "admin"} <= {t["username"] for t in everyone}
    revoked = httpx.delete(live.url(f"/api/v1/auth/tokens/{listed[1]['id']}"), headers=live.admin)
    assert revoked.status_code == 200
    assert httpx.get(live.url("/api/v1/auth/me"), headers=mine).status_code == 401


# --------------------------------------------------------------------------- look-alike identifiers
def test_whole_script_and_existing_look_alikes_are_refused_by_api_and_page(
    live: Live, writer: dict[str, str], patient: int
) -> None:
    """ "Н-001" (Cyrillic En) reads as H-001: 422; "H-OO1" looks like the existing H-001: 409."""
    url = live.url("/api/v1/patients")
    r = httpx.post(url, json={"external_id": "\u041d-001"}, headers=writer)
    assert r.status_code == 422, r.text
    [problem] = r.json()["problems"]
    assert problem["field"] == "external_id"
    assert (
        "CYRILLIC letters that all look like Latin ones (it reads as 'H-001')" in problem["message"]
    )
    r = httpx.post(url, json={"external_id": "H-OO1"}, headers=writer)
    assert r.status_code == 409, r.text
    assert f"looks like existing patient 'H-001' (id {patient})" in r.json()["detail"]
    browser = live.browser("dr.writer")
    page = browser.post("/patients", data={"external_id": "H-00l", "csrf_token": _csrf(browser)})
    assert page.status_code == 409 and "looks like existing patient" in page.text
    listed = httpx.get(url, headers=writer).json()
    assert not {p["external_id"] for p in listed} & {"\u041d-001", "H-OO1", "H-00l"}


# --------------------------------------------------------------------------- image limits
def _image(path: Path, shape: tuple[int, int, int], dtype: str, labels: int = 0) -> Path:
    import numpy as np
    import SimpleITK as sitk  # noqa: N813

    array = np.zeros(shape, dtype=dtype)
    for label in range(1, labels + 1):
        array[label, :, :] = label
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return path


def _images(live: Live, writer: dict[str, str], patient: int) -> list[int]:
    r = httpx.get(live.url(f"/api/v1/patients/{patient}/images"), headers=writer)
    return [i["id"] for i in r.json()]


@pytest.mark.parametrize(
    ("kind", "shape", "dtype", "labels", "limit"),
    [
        ("ct", (20, 20, 20), "uint8", 0, "--max-image-voxels"),  # 8000 voxels > 4096
        ("ct", (12, 12, 12), "float64", 0, "--max-image-bytes"),  # 13 824 bytes > 12 000
        ("segmentation", (10, 10, 10), "uint8", 4, "--max-labels"),  # 4 labels > 3
    ],
)
def test_an_image_over_a_serve_limit_is_refused_at_upload_and_not_kept(
    live: Live,
    writer: dict[str, str],
    patient: int,
    tmp_path: Path,
    kind: str,
    shape: tuple[int, int, int],
    dtype: str,
    labels: int,
    limit: str,
) -> None:
    path = _image(tmp_path / "big-image.nii.gz", shape, dtype, labels)
    assert path.stat().st_size < UPLOAD_CAP  # the body limit lets it through; the image limit not
    before = _images(live, writer, patient)
    r = httpx.post(
        live.url(f"/api/v1/patients/{patient}/images"),
        data={"kind": kind},
        files={"file": (path.name, path.read_bytes(), "application/gzip")},
        headers=writer,
    )
    assert r.status_code == 413, r.text
    assert f"netlm serve {limit}" in r.json()["detail"] and "big-image.nii.gz" in r.json()["detail"]
    assert _images(live, writer, patient) == before
    assert not list(live.files.rglob("big-image.nii.gz"))


def test_images_within_the_serve_limits_are_kept_and_a_truncated_one_is_refused(
    live: Live, writer: dict[str, str], patient: int, tmp_path: Path
) -> None:
    url = live.url(f"/api/v1/patients/{patient}/images")
    ok = _image(tmp_path / "mask-ok.nii.gz", (16, 16, 16), "uint8", MAX_LABELS)  # exactly 4096
    r = httpx.post(
        url,
        data={"kind": "segmentation"},
        files={"file": (ok.name, ok.read_bytes(), "application/gzip")},
        headers=writer,
    )
    assert r.status_code == 201, r.text
    whole = _image(tmp_path / "cut.nii.gz", (10, 10, 10), "float32").read_bytes()
    before = _images(live, writer, patient)
    r = httpx.post(
        url,
        data={"kind": "ct"},
        files={"file": ("cut.nii.gz", whole[: len(whole) // 2], "application/gzip")},
        headers=writer,
    )
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0]["field"] == "file" and "truncated" in r.text
    assert _images(live, writer, patient) == before
    assert not list(live.files.rglob("cut.nii.gz"))


def test_a_dose_computation_reads_no_image_over_the_limits(tmp_path: Path) -> None:
    """Images stored under the defaults; a server with lower limits refuses the dose (422)."""
    from netlm.imaging.io import write_image
    from netlm.imaging.limits import ImageLimits
    from netlm.voxel.phantom import liver_phantom

    store = Store(f"sqlite:///{tmp_path / 'netlm.db'}")
    store.create_user("dr.dose", GOOD_PASSWORD, "clinician", actor="test")
    files = tmp_path / "files"
    phantom = liver_phantom(seed=0)
    voxels = int(phantom.activity.array.size)
    patient = store.create_patient("DOSE-LIMIT", actor="test")
    folder = files / f"patient-{patient.id}" / "upload"
    folder.mkdir(parents=True)
    activity = store.add_image(
        patient.id,
        kind="y90_pet",
        path=str(write_image(phantom.activity, folder / "activity.nii.gz")),
        actor="test",
    )
    liver = store.add_image(
        patient.id,
        kind="segmentation",
        path=str(write_image(phantom.masks["liver"], folder / "liver.nii.gz")),
        actor="test",
    )
    body = {"activity_image_id": activity.id, "mask_image_ids": [liver.id], "activity_gbq": 2.0}
    for max_voxels, expected in ((voxels - 1, 422), (voxels, 201)):
        app = create_app(
            store,
            secret_key="test-secret-" * 4,
            files_dir=files,
            image_limits=ImageLimits(max_voxels=max_voxels),
        )
        with TestClient(app) as client:
            token = client.post(
                "/api/v1/auth/token", json={"username": "dr.dose", "password": GOOD_PASSWORD}
            ).json()["access_token"]
            r = client.post(
                f"/api/v1/patients/{patient.id}/dose",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
        assert r.status_code == expected, r.text
        if expected == 422:
            assert f"netlm reads at most {voxels - 1}" in r.text
            assert [i.kind for i in store.images(patient.id)] == ["y90_pet", "segmentation"]
            assert not list(folder.parent.glob("dose-*"))
    assert [i.kind for i in store.images(patient.id)] == ["y90_pet", "segmentation", "rtdose"]
    store.close()


# --------------------------------------------------------------------------- signed approvals
def _plan(live: Live, headers: dict[str, str], external_id: str, **changes: Any) -> int:
    """A new patient with the example glass-microsphere plan (``changes`` applied); its id."""
    from test_api import example

    r = httpx.post(live.url("/api/v1/patients"), json={"external_id": external_id}, headers=headers)
    assert r.status_code == 201, r.text
    plan = example("plan-", "plan-partition-glass.yaml") | {"case": external_id} | changes
    r = httpx.post(live.url(f"/api/v1/patients/{r.json()['id']}/plans"), json=plan, headers=headers)
    assert r.status_code == 201, r.text
    plan_id: int = r.json()["id"]
    return plan_id


def _solve(live: Live, plan_id: int, headers: dict[str, str]) -> int:
    r = httpx.post(live.url(f"/api/v1/plans/{plan_id}/solve"), headers=headers)
    assert r.status_code == 201, r.text
    result_id: int = r.json()["id"]
    return result_id


def test_the_page_approves_the_result_it_displayed_or_nothing(
    live: Live, writer: dict[str, str]
) -> None:
    """A result solved after the physicist opened the page: their approval is refused (409)."""
    phys = live.user("dr.physicist", "physicist")
    plan_id = _plan(live, writer, "H-APPROVE")
    displayed = _solve(live, plan_id, writer)
    browser = live.browser("dr.physicist")
    page = browser.get(f"/plans/{plan_id}").text
    form = re.search(
        r'action="/plans/\d+/approve">\s*<input type="hidden" name="csrf_token" value="([^"]+)">'
        r'\s*<input type="hidden" name="result_id" value="(\d+)">',
        page,
    )
    assert form is not None and int(form.group(2)) == displayed
    newer = _solve(live, plan_id, writer)  # someone solves again meanwhile
    r = browser.post(
        f"/plans/{plan_id}/approve",
        data={"csrf_token": form.group(1), "result_id": form.group(2)},
        follow_redirects=False,
    )
    assert r.status_code == 409 and f"that is result {newer}" in r.text
    plan_url = live.url(f"/api/v1/plans/{plan_id}")
    state = httpx.get(plan_url, headers=phys).json()
    assert state["status"] == "solved" and state["approved_by"] is None
    stale = httpx.post(f"{plan_url}/approve", json={"result_id": displayed}, headers=phys)
    assert stale.status_code == 409
    assert httpx.get(plan_url, headers=phys).json()["status"] == "solved"
    # the reloaded page shows the newer result, and approving it signs that one
    page = browser.get(f"/plans/{plan_id}").text
    assert f'name="result_id" value="{newer}"' in page
    ok = httpx.post(f"{plan_url}/approve", json={"result_id": newer}, headers=phys)
    assert ok.status_code == 200, ok.text
    assert ok.json()["approved_result_id"] == newer and ok.json()["approved_by"] == "dr.physicist"


#: A plan over the lung limit, with the override a physicist writes (lung shunt 30 %).
OVERRIDE = {
    "lung_shunt_fraction": 0.3,
    "override": {
        "reason": "Palliation of refractory carcinoid syndrome, discussed at board",
        "approved_by": "physicist",
    },
}


def _own_override_approval(live: Live, author: str, external_id: str) -> tuple[int, httpx.Response]:
    """``author`` (a physicist) writes and solves an override plan, then approves it."""
    headers = live.user(author, "physicist")
    plan_id = _plan(live, headers, external_id, **OVERRIDE)
    result_id = _solve(live, plan_id, headers)
    r = httpx.post(
        live.url(f"/api/v1/plans/{plan_id}/approve"), json={"result_id": result_id}, headers=headers
    )
    return plan_id, r


def test_a_physicist_does_not_approve_their_own_override_by_default(live: Live) -> None:
    plan_id, r = _own_override_approval(live, "dr.override", "H-OVERRIDE")
    assert r.status_code == 403, r.text
    assert "override" in r.json()["detail"]
    second = live.user("dr.second", "physicist")
    plan_url = live.url(f"/api/v1/plans/{plan_id}")
    assert httpx.get(plan_url, headers=second).json()["status"] == "solved"
    result_id = httpx.get(f"{plan_url}/results", headers=second).json()[-1]["id"]
    ok = httpx.post(f"{plan_url}/approve", json={"result_id": result_id}, headers=second)
    assert ok.status_code == 200 and ok.json()["approved_by"] == "dr.second"


def test_the_centre_setting_lets_a_physicist_approve_their_own_override(lenient: Live) -> None:
    """``netlm serve --allow-own-override-approval``."""
    plan_id, r = _own_override_approval(lenient, "dr.override", "L-OVERRIDE")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["approved_by"] == "dr.override"
    report = httpx.get(lenient.url(f"/api/v1/plans/{plan_id}"), headers=lenient.admin).json()
    assert report["status"] == "approved"


# --------------------------------------------------------------------------- serve settings
def test_the_body_limit_set_by_netlm_serve_is_honoured(lenient: Live) -> None:
    """``netlm serve --max-body-bytes 4096``: 4096 bytes are parsed, 4097 are not."""
    body = json.dumps({"username": "admin", "password": "x"})
    url, json_type = lenient.url("/api/v1/auth/token"), {"content-type": "application/json"}
    for size, status in ((LENIENT_BODY_BYTES, 401), (LENIENT_BODY_BYTES + 1, 413)):
        padded = body[:-1] + " " * (size - len(body)) + "}"
        assert len(padded.encode()) == size
        r = httpx.post(url, content=padded, headers=json_type)
        assert r.status_code == status, r.text
    assert r.json() == {"detail": f"request body larger than {LENIENT_BODY_BYTES} bytes"}
    form = httpx.post(lenient.url("/login"), data={"username": "a", "password": "x" * 5000})
    assert form.status_code == 413 and len(form.content) < 200


def test_a_32_byte_secret_key_is_accepted_and_signs_sessions(lenient: Live) -> None:
    """The lenient server runs on a key of exactly 32 bytes; it writes no key file."""
    browser = lenient.browser("admin", ADMIN_PASSWORD)
    assert browser.get("/patients").status_code == 200
    assert not (lenient.db.parent / "secret-key").exists()


@pytest.mark.parametrize("key", ["", "k" * 31, "é" * 15 + "k"])  # 0, 31 and 31 bytes
def test_a_short_secret_key_is_refused_at_start_up(tmp_path: Path, key: str) -> None:
    """The process exits (status 2) before it serves, naming the key's length."""
    db = tmp_path / "netlm.db"
    upgrade(f"sqlite:///{db}")
    env = os.environ | {"NETLM_SECRET_KEY": key, "NETLM_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        serve_args(free_port(), db, tmp_path / "files"),
        env=env | {"NETLM_ADMIN_PASSWORD": ADMIN_PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    length = len(key.encode())
    assert (
        f"the signing key from $NETLM_SECRET_KEY is {length} bytes long; "
        "netlm needs at least 32" in message
    )
    assert "Uvicorn running" not in done.stderr and "Started server" not in done.stderr
    assert not (tmp_path / "secret-key").exists()


def test_a_restart_keeps_the_generated_key_and_the_sessions(tmp_path: Path) -> None:
    """Without ``NETLM_SECRET_KEY`` the key made at the first start (0600) serves the next:
    a browser session and an API token survive a restart."""
    with serving(tmp_path) as first:
        browser = first.browser("admin", ADMIN_PASSWORD)
        cookies = dict(browser.cookies)
        key_file = tmp_path / "secret-key"
        key = key_file.read_text()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with serving(tmp_path) as second:
        assert key_file.read_text() == key
        again = httpx.Client(base_url=second.base, cookies=cookies)
        page = again.get("/patients", follow_redirects=False)
        assert page.status_code == 200 and 'name="csrf-token"' in page.text
        assert httpx.get(second.url("/api/v1/auth/me"), headers=first.admin).status_code == 200
