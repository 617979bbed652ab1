"""The least-privilege PostgreSQL runtime role of ``netlm db grant-runtime`` (issue #12)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
import typer
from argon2 import PasswordHasher
from typer.testing import CliRunner

from netlm.commands.db import db_app
from netlm.store import Store, db

#: Cheap argon2 parameters, as the other registry tests use.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def cli() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(db_app, name="db")
    return app


def test_the_runtime_role_runs_netlm_but_cannot_touch_the_audit_trail(
    postgres_server: Any,
) -> None:
    owner_url = postgres_server.create_database()
    name = owner_url.rsplit("/", 1)[1]
    role = f"app_{name[-8:]}"
    with postgres_server.admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    db.upgrade(owner_url)
    done = CliRunner().invoke(cli(), ["db", "grant-runtime", role, "--db", owner_url])
    assert done.exit_code == 0, done.output
    app_url = owner_url.replace("://netlm@", f"://{role}@")
    with Store(app_url, password_hasher=FAST_HASHER) as store:
        store.create_user("dr.a", "violet-lantern-harbour", "clinician", actor="admin")
        token = store.create_token("dr.a", actor="dr.a")
        session_id, _ = store.create_session("dr.a")
        patient = store.create_patient("P-1", actor="dr.a")
        store.add_treatment(
            patient.id, modality="chemotherapy", date=dt.date(2024, 1, 1), details={}, actor="x"
        )
        store.record_login_failure("dr.a", "10.0.0.1", via="token")
        store.record_login("dr.a", "10.0.0.1", via="token")
        store.set_role("dr.a", "viewer", actor="admin")
        assert store.user_for_token(token) is None and store.session_user(session_id) is None
        store.soft_delete_patient(patient.id, "entered twice", actor="dr.a")
        assert store.verify_audit().intact
    attacks = [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_chain",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "DROP TABLE case_versions",
        "UPDATE case_versions SET created_by = 'mallory'",
    ]
    for statement in attacks:
        with (
            psycopg.connect(
                host="127.0.0.1", port=postgres_server.port, user=role, dbname=name, autocommit=True
            ) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)
    shown = CliRunner().invoke(cli(), ["db", "grant-runtime", role, "--show"])
    assert "GRANT UPDATE ON" in shown.output and "audit_log" not in shown.output
    postgres_server.drop_database(name)
    with postgres_server.admin() as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')
