"""Whole-script confusables and look-alikes of existing identifiers (UTS #39), on SQLite
and PostgreSQL (issue #12).

The mixed-script and invisible-character rules are tested in ``test_accounts.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import edited, make_case
from netlm.errors import InputError, StoreError
from netlm.store import db
from netlm.store.identifiers import (
    CONFUSABLES_FILE,
    SKELETON_KEY_CHARS,
    identifier_problem,
    lookalike,
    skeleton,
    skeleton_key,
)
from netlm.store.repository import Role, Store

from .conftest import FAST_HASHER

PASSWORD = "violet-lantern-harbour"


# --------------------------------------------------------------------------- the data
def test_the_confusables_data_are_unicode_13_latin_prototypes() -> None:
    text = resources.files("netlm.store").joinpath(CONFUSABLES_FILE).read_text("utf-8")
    assert "# Version: 13.0.0" in text and "Unicode License" in text
    rows = [line.split("#", 1)[0] for line in text.splitlines() if line[:1] not in ("#", "")]
    declared = int(re.search(r"# Mappings: (\d+)", text).group(1))  # type: ignore[union-attr]
    assert len(rows) == declared > 2000
    for row in rows:  # every prototype is ASCII, Latin letters or Latin diacritics
        target = "".join(chr(int(c, 16)) for c in row.split(";")[1].split())
        for char in target:
            assert (
                char.isascii()
                or "\u0300" <= char <= "\u036f"
                or unicodedata.name(char).startswith("LATIN ")
            ), row


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("\u0415\u0425-001", "EX-001"),  # Cyrillic Ie, Ha
        ("\u0391\u0392\u0395", "ABE"),  # Greek Alpha, Beta, Epsilon
        ("\uff25\uff38-\uff10\uff10\uff11", "EX-001"),  # fullwidth
        ("EX-OO1", "EX-001"),  # letter O for digit 0
        ("EX-00l", "EX-001"),  # letter l for digit 1
        ("dr.Ian", "dr.lan"),  # capital I for small L
        ("rnorgan", "morgan"),
    ],
)
def test_look_alikes_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)
    assert lookalike(a, ["XY-9", b]) == b


@pytest.mark.parametrize(("a", "b"), [("EX-001", "EX-002"), ("EX-001", "EX-0010"), ("AB", "ABC")])
def test_different_identifiers_have_different_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)
    assert lookalike(a, [b]) is None
    assert lookalike(a, [a]) is None  # the same text is a duplicate, not a look-alike


# --------------------------------------------------------------------------- whole-script
@pytest.mark.parametrize(
    ("external_id", "script", "reads"),
    [
        ("\u0415\u0425-001", "CYRILLIC", "EX-001"),
        ("\u0410\u0412\u0421", "CYRILLIC", "ABC"),
        ("\u0440\u043e\u0440", "CYRILLIC", "pop"),
        ("\u0391\u0392\u0395-7", "GREEK", "ABE-7"),
        ("\uff25\uff38-001", "FULLWIDTH", "EX-001"),
    ],
)
def test_whole_script_confusables_are_refused(
    store: Store, external_id: str, script: str, reads: str
) -> None:
    """Every letter of one non-Latin script has a Latin look-alike: refused, nothing stored."""
    message = (
        f"is written in {script} letters that all look like Latin ones (it reads as {reads!r})"
    )
    assert identifier_problem(external_id) == message
    before = len(store.audit_log())
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        store.create_patient(external_id, actor="dr.a")
    assert caught.value.fields == ["external_id"]
    assert store.list_patients(include_deleted=True) == []
    assert len(store.audit_log()) == before


@pytest.mark.parametrize(
    "name",
    [
        "\u0416\u0443\u043a\u043e\u0432",  # Жуков: Zhe has no Latin look-alike
        "\u0418\u0432\u0430\u043d\u043e\u0432-3",  # Иванов
        "\u03a3\u03c9\u03ba\u03c1\u03ac\u03c4\u03b7\u03c2",  # Σωκράτης
        "M\u00fcller-7",
    ],
)
def test_real_names_with_letters_without_latin_look_alikes_are_accepted(
    store: Store, name: str
) -> None:
    assert identifier_problem(name) is None
    assert store.create_patient(name, actor="dr.a").external_id == name


# --------------------------------------------------------------------------- existing look-alikes
@pytest.mark.parametrize("candidate", ["EX-OO1", "EX-00l", "EX-0O1", "EX-\uff10\uff10\uff11"])
def test_a_look_alike_of_an_existing_patient_is_refused(store: Store, candidate: str) -> None:
    first = store.create_patient("EX-001", actor="dr.a")
    before = len(store.audit_log())
    with pytest.raises(
        StoreError, match=rf"looks like existing patient 'EX-001' \(id {first.id}\)"
    ):
        store.create_patient(candidate, actor="dr.a")
    with pytest.raises(StoreError, match="looks like existing patient 'EX-001'"):
        store.import_case(make_case(patient__id=candidate), actor="dr.a")
    assert [p.external_id for p in store.list_patients()] == ["EX-001"]
    assert len(store.audit_log()) == before
    assert store.create_patient("EX-002", actor="dr.a").external_id == "EX-002"


def test_a_deleted_patient_still_blocks_its_look_alikes(store: Store) -> None:
    patient = store.create_patient("EX-001", actor="dr.a")
    store.soft_delete_patient(patient.id, "entered twice", actor="dr.a")
    with pytest.raises(StoreError, match=r"like existing patient 'EX-001' \(id \d+ \(deleted\)"):
        store.create_patient("EX-OO1", actor="dr.a")


def test_a_look_alike_of_an_existing_user_is_refused(store: Store) -> None:
    store.create_user("dr.lan", PASSWORD, Role.CLINICIAN, actor="admin")
    with pytest.raises(StoreError, match=re.escape("'dr.Ian' looks like existing user 'dr.lan'")):
        store.create_user("dr.Ian", PASSWORD, Role.CLINICIAN, actor="admin")
    assert [u.username for u in store.list_users()] == ["dr.lan"]


def test_concurrent_look_alikes_cannot_both_be_created(store: Store) -> None:
    """Two writers racing with "CC-n" and "CC-n" spelt with letter O: one of each pair wins."""
    pairs = [(f"CC-{n}0", f"CC-{n}O") for n in range(1, 7)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(name: str) -> None:
        try:
            store.create_patient(name, actor="racer")
            result = "created"
        except StoreError as exc:
            result = "refused" if "looks like" in str(exc) else f"error: {exc}"
        with lock:
            outcomes.append(result)

    for a, b in pairs:
        threads = [threading.Thread(target=create, args=(name,)) for name in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(outcomes) == ["created"] * len(pairs) + ["refused"] * len(pairs), outcomes
    stored = [p.external_id for p in store.list_patients()]
    assert len(stored) == len(pairs)
    assert {skeleton(s) for s in stored} == {skeleton(a) for a, _ in pairs}
    assert store.verify_audit().intact


def test_netlm_import_refuses_look_alikes_and_imports_the_rest(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The CLI goes through the same store check: the look-alike file fails, the rest import."""
    from typer.testing import CliRunner

    from .test_store_cli import cli

    doc = edited()
    files = []
    for name, external_id in [
        ("a.json", "NET-1"),
        ("b.json", "NET-l"),  # small L: looks like NET-1
        ("c.json", "\u039d\u0395\u03a4-2"),  # Greek Nu, Epsilon, Tau: reads as NET-2
        ("d.json", "NET-3"),
    ]:
        doc["patient"]["id"] = external_id
        (tmp_path / name).write_text(json.dumps(doc, default=str))
        files.append(str(tmp_path / name))
    result = CliRunner().invoke(cli(), ["import", *files, "--db", sqlite_url, "--actor", "etl"])
    assert result.exit_code == 2, result.output
    assert "2 imported, 2 failed" in result.stdout
    assert "looks like existing patient 'NET-1'" in result.stdout
    assert "it reads as 'NET-2'" in result.stdout
    with Store(sqlite_url) as store:
        assert [p.external_id for p in store.list_patients()] == ["NET-1", "NET-3"]


# --------------------------------------------------------------------------- the indexed skeleton
def _at_revision(url: str, revision: str, *, down: bool = False) -> None:
    """``alembic upgrade|downgrade REVISION`` on ``url`` (one transaction, as netlm runs it)."""
    from alembic import command

    engine = db.make_engine(url)
    config = db.alembic_config()
    try:
        with engine.connect().execution_options(**{db.WRITE_OPTION: True}) as conn, conn.begin():
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        engine.dispose()


#: Rows written at revision 0003, before identifiers had a skeleton column: a look-alike
#: pair (written before the check existed, it must survive the migration), a name whose
#: letters have no Latin look-alike, and an id whose skeleton (NFKC: 18 letters per
#: U+FDFA) is longer than the indexed key.
OLD_PATIENTS = ("EX-001", "EX-OO1", "\u0416\u0443\u043a\u043e\u0432", "\ufdfa" * 100)


def test_migration_0004_fills_an_indexed_skeleton_for_existing_rows(db_url: str) -> None:
    """A registry at 0003 (a real SQLite file, or PostgreSQL) upgraded to 0004."""
    _at_revision(db_url, "0003")
    engine = db.make_engine(db_url)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        for external_id in OLD_PATIENTS:
            conn.execute(
                sa.text(
                    "INSERT INTO patients (external_id, created_at, created_by) "
                    "VALUES (:e, :t, 'x')"
                ),
                {"e": external_id, "t": now},
            )
        conn.execute(
            sa.text(
                "INSERT INTO users (username, password_hash, role, created_at, created_by) "
                "VALUES ('dr.lan', 'h', 'clinician', :t, 'x')"
            ),
            {"t": now},
        )
    with engine.connect() as conn:
        assert db.current_revision(engine) == "0003"
        assert "external_id_skeleton" not in {
            c["name"] for c in sa.inspect(conn).get_columns("patients")
        }
    engine.dispose()

    with Store(db_url, password_hasher=FAST_HASHER) as store:  # upgrades to the head
        assert db.current_revision(store.engine) == db.head_revision() == "0004"
        with store.engine.connect() as conn:
            keys = dict(
                conn.execute(
                    sa.text("SELECT external_id, external_id_skeleton FROM patients")
                ).all()
            )
            users = dict(
                conn.execute(sa.text("SELECT username, username_skeleton FROM users")).all()
            )
            indexes = {
                table: {i["name"]: i for i in sa.inspect(conn).get_indexes(table)}
                for table in ("patients", "users")
            }
        assert keys == {e: skeleton_key(e) for e in OLD_PATIENTS}
        assert keys["EX-001"] == keys["EX-OO1"] == skeleton("EX-001") == "EX-OOl"
        assert len(keys["\ufdfa" * 100]) == SKELETON_KEY_CHARS < len(skeleton("\ufdfa" * 100))
        assert users == {"dr.lan": "dr.lan"}
        for table, column in (("patients", "external_id_skeleton"), ("users", "username_skeleton")):
            index = indexes[table][f"ix_{table}_{column}"]
            assert index["column_names"] == [column] and not index["unique"]

        # the look-alike refusal now goes through the column
        with pytest.raises(StoreError, match=r"looks like existing patient 'EX-001' \(id 1\)"):
            store.create_patient("EX-0O1", actor="dr.a")
        cyrillic = "\u0415\u0425-001"  # Cyrillic Ie, Ha: all-Cyrillic, reads as EX-001
        with pytest.raises(InputError, match="it reads as 'EX-001'"):
            store.create_patient(cyrillic, actor="dr.a")
        with pytest.raises(StoreError, match=r"looks like existing user 'dr\.lan'"):
            store.create_user("dr.Ian", PASSWORD, Role.CLINICIAN, actor="admin")
        longer = "\ufdfa" * 100 + "1"  # same key, longer skeleton differs: not a look-alike
        assert store.create_patient(longer, actor="dr.a").external_id == longer
        spelt_out = "\ufdfa" * 99 + unicodedata.normalize("NFKC", "\ufdfa")  # 117 characters
        with pytest.raises(StoreError, match="looks like existing patient"):
            store.create_patient(spelt_out, actor="dr.a")
        assert [p.external_id for p in store.list_patients()] == [*OLD_PATIENTS, longer]
        with store.engine.connect() as conn:
            assert conn.execute(
                sa.text("SELECT external_id_skeleton FROM patients WHERE external_id = :e"),
                {"e": longer},
            ).scalar_one() == skeleton_key(longer)

    # and back: 0004 downgrades and applies again
    _at_revision(db_url, "0003", down=True)
    _at_revision(db_url, "head")
    with (
        Store(db_url, upgrade=False, password_hasher=FAST_HASHER) as store,
        pytest.raises(StoreError, match="looks like existing patient 'EX-001'"),
    ):
        store.create_patient("EX-00l", actor="dr.a")


def test_the_look_alike_check_reads_only_the_rows_of_its_skeleton(sqlite_url: str) -> None:
    """The query filters on the indexed key (SQLite's plan uses the index), not every row."""
    with Store(sqlite_url, password_hasher=FAST_HASHER) as store:
        for n in range(50):
            store.create_patient(f"RW-{n:03d}", actor="dr.a")
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        sa.event.listen(store.engine, "before_cursor_execute", seen)
        with pytest.raises(StoreError, match="looks like existing patient 'RW-010'"):
            store.create_patient("RW-O1O", actor="dr.a")
        sa.event.remove(store.engine, "before_cursor_execute", seen)
        [query] = [s for s in statements if "external_id_skeleton =" in s]
        assert query.startswith("SELECT patients.external_id \nFROM patients")
        with store.engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", ("RW-010",)).all()
        assert "USING INDEX ix_patients_external_id_skeleton" in str(plan), plan
