"""Follow-up time points are stored all or none, and once (issue #12: nothing half-written).

`Store.add_response_timepoints` writes a follow-up's new time points in one transaction
(the patient's row locked: `BEGIN IMMEDIATE` on SQLite, `FOR UPDATE` on PostgreSQL);
`netlm.workflows.response.record_response` uses it. Run on a real SQLite file and a real
PostgreSQL server (the `store` fixture).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from netlm.errors import InputError, StoreError
from netlm.store.repository import ResponseEntry, Store
from netlm.workflows.response import record_response

D1, D2, D3 = dt.date(2026, 4, 2), dt.date(2026, 7, 1), dt.date(2026, 10, 1)


def _entry(date: dt.date, criterion: str = "recist1.1", overall: str = "PR") -> ResponseEntry:
    return ResponseEntry(date=date, criterion=criterion, overall=overall, details={"n": 1})


def _recorded(store: Store, pid: int) -> list[tuple[dt.date, str, str]]:
    return [(r.date, r.criterion, r.overall) for r in store.response_timepoints(pid)]


def test_a_batch_is_written_whole(store: Store) -> None:
    pid = store.create_patient("RB-001", actor="dr.a").id
    written = store.add_response_timepoints(
        pid, [_entry(D1), _entry(D1, "mrecist", "CR"), _entry(D2, overall="SD")], actor="dr.a"
    )
    assert [(r.date, r.criterion, r.overall) for r in written] == _recorded(store, pid)
    assert len(written) == 3
    responses = [e for e in store.audit_log(patient_id=pid) if e.record_type == "response"]
    assert len(responses) == 3


def test_a_bad_entry_stores_nothing_of_its_batch(store: Store) -> None:
    pid = store.create_patient("RB-002", actor="dr.a").id
    with pytest.raises(InputError) as info:
        store.add_response_timepoints(
            pid, [_entry(D1), _entry(D2, criterion="no-such-criterion")], actor="dr.a"
        )
    assert "entries[1].criterion" in str(info.value)
    assert _recorded(store, pid) == []


def test_a_conflicting_entry_after_good_ones_stores_nothing(store: Store) -> None:
    pid = store.create_patient("RB-003", actor="dr.a").id
    store.add_response_timepoints(pid, [_entry(D1, overall="PR")], actor="dr.a")
    with pytest.raises(StoreError, match=r"recist1\.1 response of 2026-04-02 is already"):
        store.add_response_timepoints(
            pid, [_entry(D2, overall="SD"), _entry(D1, overall="PD")], actor="dr.a"
        )
    assert _recorded(store, pid) == [(D1, "recist1.1", "PR")]


def test_a_recorded_entry_is_skipped_once_alike(store: Store) -> None:
    pid = store.create_patient("RB-004", actor="dr.a").id
    store.add_response_timepoints(pid, [_entry(D1)], actor="dr.a")
    written = store.add_response_timepoints(pid, [_entry(D1), _entry(D2, overall="SD")], actor="b")
    assert [(r.date, r.overall) for r in written] == [(D2, "SD")]
    assert _recorded(store, pid) == [(D1, "recist1.1", "PR"), (D2, "recist1.1", "SD")]
    # the same entry twice in one batch is written once
    assert len(store.add_response_timepoints(pid, [_entry(D3)] * 2, actor="dr.a")) == 1


def _follow_up(case: str) -> dict[str, Any]:
    def point(date: str, sizes: tuple[int, int]) -> dict[str, Any]:
        return {
            "date": date,
            "lesions": [
                {"id": "T1", "organ": "liver", "role": "target", "longest_mm": sizes[0]},
                {"id": "T2", "organ": "liver", "role": "target", "longest_mm": sizes[1]},
            ],
        }

    return {
        "schema": "netlm/response/v1",
        "case": case,
        "criteria": ["recist1.1", "who"],
        "timepoints": [
            point("2026-01-05", (58, 41)),
            point("2026-04-02", (40, 28)),
            point("2026-07-01", (30, 20)),
        ],
    }


def test_the_same_follow_up_sent_twice_at_once_is_recorded_once(store: Store) -> None:
    """Eight threads record one follow-up at the same moment: its time points once each."""
    pid = store.create_patient("RB-005", actor="dr.a").id
    document = _follow_up("RB-005")
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def send() -> None:
        start.wait()
        try:
            record_response(store, pid, document, actor="dr.a")
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    recorded = _recorded(store, pid)
    # 2 follow-up dates x 2 criteria, once each
    assert len(recorded) == 4
    assert len(set(recorded)) == 4


def test_a_follow_up_that_fails_half_way_stores_none_of_its_time_points(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses the last row of a follow-up: the rows before it are not kept."""
    pid = store.create_patient("RB-006", actor="dr.a").id
    from netlm.store import records

    real = records.RecordsMixin._insert
    calls = {"n": 0}

    def insert_then_fail(self: Store, session: Any, row: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise StoreError("the database refused the write (simulated)")
        return real(self, session, row, **kw)

    monkeypatch.setattr(records.RecordsMixin, "_insert", insert_then_fail)
    with pytest.raises(StoreError, match="simulated"):
        record_response(store, pid, _follow_up("RB-006"), actor="dr.a")
    assert calls["n"] == 4
    assert _recorded(store, pid) == []
