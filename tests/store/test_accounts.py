"""Accounts on SQLite and PostgreSQL: password policy, sessions, credential ends, throttling.

Also ``netlm users`` and the stored-document checks (nesting depth, lone
surrogates) that keep a record the registry cannot read back out (issue #12).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from netlm.commands.serve import MIN_SECRET_KEY_BYTES, SECRET_KEY_ENV, signing_key
from netlm.commands.users import USER_PASSWORD_ENV, users_app
from netlm.errors import InputError, NotFoundError, StoreError
from netlm.store import repository
from netlm.store.passwords import MIN_PASSWORD_LENGTH, is_common, password_problems
from netlm.store.repository import MAX_DOCUMENT_DEPTH, LoginThrottle, Role, Store

PASSWORD = "violet-lantern-harbour"


# --------------------------------------------------------------------------- password policy
@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("a" * (MIN_PASSWORD_LENGTH - 1) + "q", True),  # exactly 12
        ("x7-lantern-q", True),
        ("x7-lantern-", False),  # 11
        ("dr.smith-harbour", False),  # the user name inside
        ("Dr.Smith-Harbour", False),  # in any case
        ("password1234567", False),
        ("QWERTYUIOP!!", False),
        ("iloveyou2024!", False),
    ],
)
def test_password_policy_boundaries(password: str, ok: bool) -> None:
    assert (password_problems(password, "dr.smith") == []) is ok


def test_the_common_list_ships_with_the_package() -> None:
    assert is_common("123456789012") and is_common("Qwertyuiop")
    assert not is_common(PASSWORD)


def test_create_user_applies_the_policy(store: Store) -> None:
    with pytest.raises(InputError, match="password: must not contain the user name"):
        store.create_user("dr.smith", "dr.smith-harbour", "viewer", actor="admin")
    with pytest.raises(InputError, match="password: is a commonly used password"):
        store.create_user("dr.smith", "password1234567", "viewer", actor="admin")
    assert store.list_users() == []


# --------------------------------------------------------------------------- sessions
def test_a_session_lives_until_logout(store: Store) -> None:
    store.create_user("dr.a", PASSWORD, "clinician", actor="admin")
    session_id, csrf = store.create_session("dr.a", address="10.0.0.7")
    found = store.session_user(session_id)
    assert found is not None and found[0].username == "dr.a" and found[1] == csrf
    assert store.session_user(session_id + "x") is None
    assert store.end_session(session_id, actor="dr.a") is True
    assert store.session_user(session_id) is None
    assert store.end_session(session_id, actor="dr.a") is False
    actions = [e.action for e in store.audit_log(record_type="user")]
    assert actions == ["create", "login", "logout"]


def test_a_session_expires(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.create_user("dr.a", PASSWORD, "clinician", actor="admin")
    session_id, _ = store.create_session("dr.a", ttl=dt.timedelta(hours=8))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8, seconds=1)
    monkeypatch.setattr(store, "_now", lambda: later)
    assert store.session_user(session_id) is None


@pytest.mark.parametrize("change", ["password", "role", "disable", "revoke"])
def test_credential_changes_end_every_session_and_token(store: Store, change: str) -> None:
    store.create_user("dr.a", PASSWORD, "physicist", actor="admin")
    store.create_user("dr.b", PASSWORD, "physicist", actor="admin")
    tokens = [store.create_token("dr.a", actor="dr.a") for _ in range(2)]
    sessions = [store.create_session("dr.a")[0] for _ in range(2)]
    bystander = store.create_token("dr.b", actor="dr.b")
    if change == "password":
        store.set_password("dr.a", "marble-orchid-compass", actor="admin")
        assert store.authenticate("dr.a", PASSWORD) is None
        assert store.authenticate("dr.a", "marble-orchid-compass") is not None
    elif change == "role":
        assert store.set_role("dr.a", Role.VIEWER, actor="admin").role is Role.VIEWER
    elif change == "disable":
        assert not store.disable_user("dr.a", actor="admin").active
        assert store.authenticate("dr.a", PASSWORD) is None
        with pytest.raises(StoreError, match="disabled"):
            store.create_session("dr.a")
    else:
        assert store.revoke_user_credentials("dr.a", actor="admin") == 4
    assert all(store.user_for_token(t) is None for t in tokens)
    assert all(store.session_user(s) is None for s in sessions)
    assert store.user_for_token(bystander) is not None  # nobody else's
    last = store.audit_log(record_type="user")[-1]
    assert last.actor == "admin" and last.details["credentials_ended"] == 4


def test_a_disabled_user_can_be_enabled_again(store: Store) -> None:
    store.create_user("dr.a", PASSWORD, "viewer", actor="admin")
    token = store.create_token("dr.a", actor="dr.a")
    store.disable_user("dr.a", actor="admin")
    assert store.enable_user("dr.a", actor="admin").active
    assert store.authenticate("dr.a", PASSWORD) is not None
    assert store.user_for_token(token) is None  # ended tokens stay ended


def test_tokens_expire_by_default_and_are_listed_and_revoked(store: Store) -> None:
    store.create_user("dr.a", PASSWORD, "viewer", actor="admin")
    store.create_user("dr.b", PASSWORD, "viewer", actor="admin")
    token = store.create_token("dr.a", actor="dr.a")
    other = store.create_token("dr.b", actor="dr.b")
    record = store.token_record(token)
    assert record is not None and record.expires_at is not None
    lifetime = record.expires_at - record.created_at
    assert lifetime == repository.DEFAULT_TOKEN_TTL
    assert [t.username for t in store.list_tokens("dr.a")] == ["dr.a"]
    assert len(store.list_tokens()) == 2
    other_id = store.list_tokens("dr.b")[0].id
    with pytest.raises(NotFoundError, match=f"token {other_id} not found"):
        store.revoke_token_id(other_id, actor="dr.a", owner="dr.a")
    assert store.user_for_token(other) is not None
    revoked = store.revoke_token_id(record.id, actor="dr.a", owner="dr.a")
    assert revoked.revoked_at is not None and store.user_for_token(token) is None
    with pytest.raises(InputError, match="ttl"):
        store.create_token("dr.a", actor="dr.a", ttl=dt.timedelta(0))


# --------------------------------------------------------------------------- throttling
def test_failed_logins_back_off_per_user_and_per_address(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = LoginThrottle(max_failures_per_user=3, max_failures_per_address=5, base_delay_s=10)
    store.login_throttle = policy
    clock = [dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)]
    monkeypatch.setattr(store, "_now", lambda: clock[0])
    for _ in range(2):
        store.record_login_failure("dr.a", "10.0.0.1", via="token")
    assert store.login_retry_after("dr.a", "10.0.0.1") == 0  # below the limit
    store.record_login_failure("dr.a", "10.0.0.1", via="token")
    assert store.login_retry_after("dr.a", "10.0.0.9") == pytest.approx(10)
    clock[0] += dt.timedelta(seconds=10)
    assert store.login_retry_after("dr.a", "10.0.0.9") == 0  # waited long enough
    store.record_login_failure("dr.a", "10.0.0.1", via="token")
    assert store.login_retry_after("dr.a", "10.0.0.9") == pytest.approx(20)  # doubled
    assert store.login_retry_after("dr.b", "10.0.0.2") == 0
    store.record_login_failure("dr.c", "10.0.0.1", via="page")
    assert store.login_retry_after("dr.b", "10.0.0.1") == pytest.approx(10)  # the address
    store.create_user("dr.a", PASSWORD, "viewer", actor="admin")
    store.record_login("dr.a", "10.0.0.1", via="token")
    assert store.login_retry_after("dr.a", "10.0.0.9") == 0  # a success clears the user
    clock[0] += dt.timedelta(seconds=policy.window_s + 1)
    assert store.login_retry_after("dr.b", "10.0.0.1") == 0  # old failures drop out
    audit = [e for e in store.audit_log(record_type="user") if e.action == "login_failed"]
    assert len(audit) == 5 and audit[0].details == {
        "username": "dr.a",
        "address": "10.0.0.1",
        "via": "token",
    }


@pytest.mark.parametrize(
    ("failures", "delay"), [(4, 0.0), (5, 30.0), (6, 60.0), (7, 120.0), (40, 3600.0)]
)
def test_the_default_back_off_grows_to_its_cap(failures: int, delay: float) -> None:
    assert LoginThrottle().delay_s(failures, 5) == delay


# --------------------------------------------------------------------------- stored documents
def test_documents_nested_too_deeply_are_refused_before_storing(store: Store) -> None:
    patient = store.create_patient("P-1", actor="dr.a")
    value: object = 1
    for _ in range(MAX_DOCUMENT_DEPTH):
        value = {"a": value}
    store.add_treatment(
        patient.id, modality="chemotherapy", date=dt.date(2024, 1, 1), details=value, actor="dr.a"
    )  # type: ignore[arg-type]
    with pytest.raises(InputError, match=f"details: is nested deeper than {MAX_DOCUMENT_DEPTH}"):
        store.add_treatment(
            patient.id,
            modality="chemotherapy",
            date=dt.date(2024, 1, 2),
            details={"a": value},
            actor="dr.a",
        )
    assert len(store.treatments(patient.id)) == 1
    assert store.export_patient(patient.id)["patient"]["external_id"] == "P-1"


def test_lone_surrogates_are_refused_before_storing(store: Store) -> None:
    with pytest.raises(InputError, match="external_id: contains a lone UTF-16 surrogate"):
        store.create_patient("A\ud800", actor="dr.a")
    patient = store.create_patient("P-2", actor="dr.a")
    with pytest.raises(InputError, match="details: contains text with a lone UTF-16 surrogate"):
        store.add_treatment(
            patient.id,
            modality="chemotherapy",
            date=dt.date(2024, 1, 1),
            details={"note": "\udfff"},
            actor="dr.a",
        )
    assert store.treatments(patient.id) == []


# --------------------------------------------------------------------------- netlm users
def users_cli() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(users_app, name="users")
    return app


def run(*args: str, password: str | None = None) -> tuple[int, str]:
    env = {USER_PASSWORD_ENV: password} if password else None
    result = CliRunner().invoke(users_cli(), list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


def test_netlm_users_commands(db_url: str) -> None:
    Store(db_url).close()  # migrated
    db = ["--db", db_url, "--actor", "it.admin"]
    code, out = run("users", "create", "dr.a", "--role", "clinician", *db, password="short")
    assert code == 2 and "at least 12 characters" in out
    code, out = run("users", "create", "dr.a", "--role", "clinician", *db, password=PASSWORD)
    assert code == 0 and "created" in out
    with Store(db_url, upgrade=False) as store:
        token = store.create_token("dr.a", actor="dr.a")
    code, out = run("users", "set-role", "dr.a", "viewer", *db)
    assert code == 0 and "viewer" in out
    with Store(db_url, upgrade=False) as store:
        assert store.user_for_token(token) is None
        token = store.create_token("dr.a", actor="dr.a")
    code, out = run("users", "revoke-tokens", "dr.a", *db)
    assert code == 0 and "1 session(s) and token(s) ended" in out
    code, out = run("users", "reset-password", "dr.a", *db, password="marble-orchid-compass")
    assert code == 0
    code, out = run("users", "disable", "dr.a", *db)
    assert code == 0 and "disabled" in out
    code, out = run("users", "list", "--db", db_url)
    assert code == 0 and "dr.a\tviewer\tdisabled" in out
    code, out = run("users", "disable", "ghost", *db)
    assert code == 2 and "user 'ghost' not found" in out
    with Store(db_url, upgrade=False) as store:
        assert store.authenticate("dr.a", "marble-orchid-compass") is None  # disabled
        assert store.enable_user("dr.a", actor="t").active
        assert store.authenticate("dr.a", "marble-orchid-compass") is not None
        actors = {e.actor for e in store.audit_log(record_type="user")}
    assert "it.admin" in actors


# --------------------------------------------------------------------------- files on disk
def test_a_new_sqlite_registry_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "netlm.db"
    with Store(f"sqlite:///{path}") as store:
        store.create_patient("P-1", actor="dr.a")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- signing key
def test_the_signing_key_is_made_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    folder = tmp_path / "data"
    key = signing_key(folder)
    assert len(key.encode()) >= MIN_SECRET_KEY_BYTES
    assert stat.S_IMODE(os.stat(folder / "secret-key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert signing_key(folder) == key  # a restart keeps everyone logged in


@pytest.mark.parametrize(("length", "ok"), [(31, False), (32, True)])
def test_short_signing_keys_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int, ok: bool
) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, "k" * length)
    if ok:
        assert signing_key(tmp_path) == "k" * length
    else:
        with pytest.raises(StoreError, match="31 bytes long; netlm needs at least 32"):
            signing_key(tmp_path)


# --------------------------------------------------------------------------- identifiers
@pytest.mark.parametrize(
    ("external_id", "message"),
    [
        ("EX-001\u200b", "invisible character (U+200B ZERO WIDTH SPACE)"),
        ("\u202eEX-001", "bidirectional control character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("EX-\u2066001", "bidirectional control character"),
        ("\u0415X-001", "mixes letters of several scripts (CYRILLIC, LATIN)"),
        ("EX\u00a0001", "unusual space (U+00A0 NO-BREAK SPACE)"),
        ("EX-001\u00ad", "invisible character (U+00AD SOFT HYPHEN)"),
    ],
)
def test_look_alike_patient_identifiers_are_refused(
    store: Store, external_id: str, message: str
) -> None:
    store.create_patient("EX-001", actor="dr.a")
    with pytest.raises(InputError, match=re.escape(message)):
        store.create_patient(external_id, actor="dr.a")
    assert [p.external_id for p in store.list_patients()] == ["EX-001"]


def test_patient_identifiers_are_stored_nfc(store: Store) -> None:
    decomposed = "Mu\u0308ller-7"
    patient = store.create_patient(decomposed, actor="dr.a")
    assert patient.external_id == "M\u00fcller-7"
    with pytest.raises(StoreError, match="already exists"):
        store.create_patient("M\u00fcller-7", actor="dr.a")
    assert store.create_patient("\u041f\u0435\u0442\u0440\u043e\u0432-1", actor="dr.a")  # Cyrillic


# --------------------------------------------------------------------------- audit hash chain
def _bypass(store: Store, statement: str) -> None:
    """Change the audit log as a database owner would, with the triggers out of the way."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            conn.exec_driver_sql(statement)
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")
        else:
            for event in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_{event}")
            conn.exec_driver_sql(statement)


def _fill(store: Store) -> int:
    store.create_user("dr.a", PASSWORD, "clinician", actor="admin")
    patient = store.create_patient("P-1", actor="dr.a")
    for day in range(1, 4):
        store.add_treatment(
            patient.id,
            modality="chemotherapy",
            date=dt.date(2024, 1, day),
            details={"cycle": day, "dose_mg": 1.5},
            actor="dr.a",
        )
    return patient.id


def test_an_untouched_audit_chain_verifies(store: Store) -> None:
    _fill(store)
    report = store.verify_audit()
    assert report.intact and report.entries == report.links == 5


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE id = 3", "audit entry 3 was changed"),
        ("DELETE FROM audit_chain WHERE 0 = 1", None),  # nothing changed: still intact
    ],
)
def test_a_changed_audit_entry_is_detected(
    store: Store, statement: str, message: str | None
) -> None:
    _fill(store)
    _bypass(store, statement)
    report = store.verify_audit()
    if message is None:
        assert report.intact
    else:
        assert not report.intact and report.problems[0].startswith(message)


def test_a_deleted_or_smuggled_audit_entry_is_detected(store: Store) -> None:
    _fill(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_log (at, actor, action, record_type, details) "
            "VALUES (CURRENT_TIMESTAMP, 'mallory', 'create', 'patient', '{}')"
        )
    report = store.verify_audit()
    assert report.problems == ("audit entry 6 has no link: written behind netlm's back",)
    _bypass(store, "DELETE FROM audit_log WHERE id = 6")
    assert store.verify_audit().intact
    if store.engine.dialect.name == "postgresql":
        statement = "DELETE FROM audit_log WHERE id = 4"
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_chain DISABLE TRIGGER USER")
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            conn.exec_driver_sql(
                "ALTER TABLE audit_chain DROP CONSTRAINT fk_audit_chain_audit_id_audit_log"
            )
            conn.exec_driver_sql(statement)
    else:  # the file's owner, with plain sqlite3 (foreign keys off by default)
        _bypass(store, "SELECT 1")  # drops the triggers
        raw = sqlite3.connect(str(store.engine.url.database))
        with raw:
            raw.execute("DELETE FROM audit_log WHERE id = 4")
        raw.close()
    assert "audit entry 4 was deleted" in store.verify_audit().problems


def test_the_chain_holds_under_concurrent_writers(store: Store) -> None:
    pid = _fill(store)

    def write(n: int) -> None:
        for k in range(5):
            store.add_lab(
                pid, date=dt.date(2024, 2, 1 + k), analyte="inr", value=1.0 + n / 10,
                unit="1", actor="dr.a",
            )  # fmt: skip

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = store.verify_audit()
    assert report.intact and report.entries == 25
