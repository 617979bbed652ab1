"""``netlm import``, ``netlm db upgrade`` and ``netlm db export`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from netlm.case import case_from_mapping
from netlm.commands.db import db_app
from netlm.commands.importing import import_command
from netlm.store import EXPORT_SCHEMA, Store, db


def cli() -> typer.Typer:
    """The registry commands mounted as ``netlm`` mounts them."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(db_app, name="db")
    app.command("import")(import_command)
    return app


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli(), list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write_cases(folder: Path) -> list[Path]:
    """Three good case files (two patients) and one with an impossible ECOG."""
    text = resources.files("netlm").joinpath("examples", "case-bilobar-tare.yaml").read_text()
    doc = yaml.safe_load(text)
    files = []
    for name, patient, ecog in [
        ("a.yaml", "NET-1", 1),
        ("b.yaml", "NET-2", 0),
        ("bad.yaml", "NET-3", 7),
        ("c.json", "NET-1", 2),
    ]:
        doc["patient"].update(id=patient, ecog=ecog)
        path = folder / name
        path.write_text(
            json.dumps(doc, default=str) if name.endswith(".json") else yaml.safe_dump(doc)
        )
        files.append(path)
    return files


def test_import_reports_the_bad_file_and_imports_the_others(db_url: str, tmp_path: Path) -> None:
    files = write_cases(tmp_path)
    missing = tmp_path / "missing.yaml"
    code, out, _ = run("import", *map(str, files), str(missing), "--db", db_url, "--actor", "etl")
    assert code == 2
    assert "3 imported, 2 failed" in out
    assert "bad.yaml" in out and "patient.ecog" in out and "less than or equal to 4" in out
    assert "missing.yaml" in out and "cannot read" in out
    with Store(db_url, upgrade=False) as store:
        patients = {p.external_id: p.id for p in store.list_patients()}
        assert set(patients) == {"NET-1", "NET-2"}
        versions = store.case_versions(patients["NET-1"])
        assert [(v.version, v.document["patient"]["ecog"]) for v in versions] == [(1, 1), (2, 2)]
        assert versions[1].source == str(files[3])
        assert {a.actor for a in store.audit_log()} == {"etl"}


def test_import_json_report(sqlite_url: str, tmp_path: Path) -> None:
    files = write_cases(tmp_path)
    code, out, _ = run("import", *map(str, files), "--db", sqlite_url, "--format", "json")
    report = json.loads(out)
    assert code == 2
    assert [r["file"] for r in report["imported"]] == [str(files[i]) for i in (0, 1, 3)]
    [bad] = report["failed"]
    assert bad["file"] == str(files[2])
    assert bad["problems"][0]["field"] == "patient.ecog"


def test_import_of_good_files_exits_zero(sqlite_url: str, tmp_path: Path) -> None:
    files = write_cases(tmp_path)
    code, out, _ = run("import", str(files[0]), str(files[1]), "--db", sqlite_url)
    assert code == 0 and "2 imported, 0 failed" in out


def test_import_into_a_deleted_patient_is_a_per_file_error(sqlite_url: str, tmp_path: Path) -> None:
    files = write_cases(tmp_path)
    with Store(sqlite_url) as store:
        pid = store.create_patient("NET-1", actor="x").id
        store.soft_delete_patient(pid, "entered twice", actor="x")
    code, out, _ = run("import", str(files[0]), str(files[1]), "--db", sqlite_url)
    assert code == 2 and "1 imported, 1 failed" in out and "is deleted" in out


def test_db_upgrade_creates_then_finds_nothing_to_do(db_url: str) -> None:
    head = db.head_revision()
    code, out, _ = run("db", "upgrade", "--db", db_url)
    assert code == 0 and f"upgraded from (empty) to {head}" in out
    code, out, _ = run("db", "upgrade", "--db", db_url)
    assert code == 0 and f"already at revision {head}" in out


def test_db_verify_audit(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        store.create_patient("P-1", actor="x")
        store.create_patient("P-2", actor="x")
    code, out, _ = run("db", "verify-audit", "--db", sqlite_url)
    assert code == 0 and "audit log intact (2 entries, 2 links)" in out
    with Store(sqlite_url) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    code, out, err = run("db", "verify-audit", "--db", sqlite_url)
    assert code == 1 and "tampered with" in out and "audit entry 2 was changed" in err


def test_db_url_from_the_environment(sqlite_url: str) -> None:
    code, out, _ = run("db", "upgrade", env={"NETLM_DATABASE_URL": sqlite_url})
    assert code == 0 and sqlite_url in out


def test_db_export_writes_the_patient_record(db_url: str, tmp_path: Path) -> None:
    files = write_cases(tmp_path)
    run("import", str(files[0]), str(files[3]), "--db", db_url)
    with Store(db_url, upgrade=False) as store:
        pid = store.find_patient("NET-1").id
        store.run_assessment(pid, actor="dr.a")
    target = tmp_path / "out" / "net-1.json"
    code, _, err = run("db", "export", str(pid), "--out", str(target), "--db", db_url)
    assert code == 0 and "exported" in err
    exported = json.loads(target.read_text())
    assert exported["schema"] == EXPORT_SCHEMA
    assert exported["patient"]["external_id"] == "NET-1"
    assert [case_from_mapping(v["document"]).patient.ecog for v in exported["case_versions"]] == [
        1,
        2,
    ]
    assert len(exported["assessments"]) == 1
    assert exported["audit"][-1]["action"] == "export"
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind

    code, out, _ = run("db", "export", "NET-1", "--external", "--db", db_url)
    assert code == 0 and json.loads(out)["patient"]["id"] == pid


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999"], "patient 999 not found"),
        (["NET-1"], "'NET-1' is not a registry id (use --external)"),
        (["NOPE", "--external"], "no patient with external id 'NOPE'"),
    ],
)
def test_db_export_errors(sqlite_url: str, args: list[str], message: str) -> None:
    Store(sqlite_url).close()
    code, out, err = run("db", "export", *args, "--db", sqlite_url)
    assert code == 2 and message in err and out == ""


def test_db_export_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    code, _, err = run("db", "export", "1", "--db", f"sqlite:///{tmp_path}/empty.db")
    assert code == 2 and "netlm db upgrade" in err


def test_bad_database_url_is_a_clear_error() -> None:
    code, _, err = run("db", "upgrade", "--db", "oracle://scott:tiger@host/db")
    assert code == 2 and "unsupported database 'oracle'" in err and "tiger" not in err


# ---------------------------------------------------------------------------- a missing registry
#: Commands that open an existing registry, each with what it needs beside ``--db``.
OPENING_COMMANDS = [
    ["serve"],
    ["serve", "--create-admin", "admin"],
    ["db", "export", "1"],
    ["db", "verify-audit"],
    ["db", "backup", "{tmp}/backup"],
    ["db", "grant-runtime", "netlm_app"],
    ["users", "list"],
    ["users", "create", "dr.new", "--role", "clinician"],
    ["users", "disable", "dr.new"],
    ["users", "set-role", "dr.new", "admin"],
    ["users", "reset-password", "dr.new"],
    ["users", "revoke-tokens", "dr.new"],
    ["fhir", "export", "1"],
]


@pytest.fixture
def no_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder; the data folder and ``--db`` point into it.  ``uvicorn.run``
    fails the test: nothing may be served."""
    import uvicorn

    def served(*args: object, **kwargs: object) -> None:
        raise AssertionError("netlm serve started serving")

    monkeypatch.setattr(uvicorn, "run", served)
    monkeypatch.setenv("NETLM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NETLM_USER_PASSWORD", "violet-lantern-harbour")
    monkeypatch.setenv("NETLM_ADMIN_PASSWORD", "violet-lantern-harbour")
    for name in ("NETLM_DATABASE_URL", "NETLM_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("args", OPENING_COMMANDS, ids=[" ".join(a) for a in OPENING_COMMANDS])
def test_a_missing_sqlite_registry_is_refused_by_name_and_nothing_is_created(
    no_registry: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from netlm.cli import main

    folder = no_registry
    path = folder / "registry" / "netlm.db"
    given = [a.format(tmp=folder) for a in args]
    assert main([*given, "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"no netlm registry at {path}" in " ".join(err.split())
    assert f"create it with `netlm db upgrade --db {path}`" in " ".join(err.split())
    assert list(folder.iterdir()) == []  # no file, no folder, no signing key, no backup


def test_the_default_registry_is_refused_until_netlm_db_upgrade_creates_it(
    no_registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netlm.cli import main

    folder = no_registry
    default = folder / "data" / "netlm.db"
    assert main(["users", "list"]) == 2
    assert f"no netlm registry at {default}" in " ".join(capsys.readouterr().err.split())
    assert not (folder / "data").exists()
    assert main(["db", "upgrade"]) == 0
    assert main(["users", "create", "dr.new", "--role", "clinician"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--format", "json"]) == 0
    assert [u["username"] for u in json.loads(capsys.readouterr().out)] == ["dr.new"]


def test_netlm_serve_demo_creates_its_registry(
    no_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--demo`` is the one serve that may start a new registry (the README's quick start)."""
    import uvicorn

    from netlm.cli import main

    folder = no_registry
    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    path = folder / "demo.sqlite"
    assert main(["serve", "--db", str(path), "--demo", "--create-admin", "admin"]) == 0
    assert len(served) == 1
    with Store(f"sqlite:///{path}", upgrade=False) as store:
        assert store.list_patients() and [u.username for u in store.list_users()] == ["admin"]
