"""The results folder of a cohort run: the results index and the tables written from it.

``index.json`` (``netlm/cohort-results/v1``) holds per patient the input digest
and the outcome; ``results.parquet``, ``results.csv`` and ``failures.csv`` are
written from it.  Every file is written atomically (temporary file and
:func:`os.replace`), and an OS file lock (``out_dir/.lock``) refuses a second
run on the same folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import (
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any, Final

from netlm import __version__
from netlm.cohort.errors import ResultsIndexError
from netlm.cohort.patient import PatientOutcome
from netlm.cohort.summary import PatientFailure
from netlm.cohort.tasks import Scalar

RESULTS_INDEX_SCHEMA: Final = "netlm/cohort-results/v1"
_LEADING: Final[tuple[str, ...]] = ("patient_id", "task", "input_digest")
_FAILURE_COLUMNS: Final[tuple[str, ...]] = (
    "patient_id",
    "task",
    "input_digest",
    "error_type",
    "fields",
    "message",
)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then replace ``path``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _csv_cell(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Scalar]]) -> None:
    import csv

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_cell(row.get(c)) for c in columns])

    _atomic_write(path, write)


def _arrow_column(values: list[Scalar]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds in one column: keep text
        return pa.array([None if v is None else _csv_cell(v) for v in values], type=pa.string())


def _write_parquet(
    path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Scalar]]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: _arrow_column([r.get(c) for r in rows]) for c in columns})
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _columns(rows: Iterable[Mapping[str, Scalar]]) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(_LEADING)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.lock`` for the run: a second run on the same folder is refused.

    The lock is an OS file lock (released when the process ends, even killed);
    where the OS has none (Windows), runs are not guarded.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ResultsIndexError(
                f"another cohort run is writing to {out_dir}; wait for it or use another folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _ResultsIndex:
    """The results folder: ``index.json`` plus the tables written from it."""

    def __init__(self, out_dir: Path, task: str) -> None:
        self.out_dir = out_dir
        self.task = task
        self.index = out_dir / "index.json"
        self.results_parquet = out_dir / "results.parquet"
        self.results_csv = out_dir / "results.csv"
        self.failures_csv = out_dir / "failures.csv"
        self.records: dict[str, dict[str, Any]] = {}
        if self.index.exists():
            self._load()

    def _load(self) -> None:
        try:
            doc = json.loads(self.index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultsIndexError(f"cannot read the results index {self.index}: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != RESULTS_INDEX_SCHEMA:
            raise ResultsIndexError(f"{self.index} is not a {RESULTS_INDEX_SCHEMA} results index")
        if doc.get("task") != self.task:
            raise ResultsIndexError(
                f"{self.out_dir} holds results of the {doc.get('task')!r} task; write the "
                f"{self.task!r} task's results to another folder"
            )
        records = doc.get("records")
        if not isinstance(records, list):
            raise ResultsIndexError(f"{self.index}: records must be a list")
        self.records = {
            str(r["patient_id"]): r for r in records if isinstance(r, dict) and "patient_id" in r
        }

    def done_digest(self, patient_id: str, retry_failed: bool) -> str | None:
        record = self.records.get(patient_id)
        if record is None or (record.get("status") == "failed" and retry_failed):
            return None
        digest = record.get("input_digest")
        return digest if isinstance(digest, str) else None

    def record(self, outcome: PatientOutcome) -> None:
        if outcome.status == "skipped":
            return
        if outcome.status == "not_applicable":  # an earlier outcome no longer applies
            self.records.pop(outcome.patient_id, None)
            return
        record: dict[str, Any] = {
            "patient_id": outcome.patient_id,
            "input_digest": outcome.input_digest,
            "status": outcome.status,
        }
        if outcome.status == "ok":
            record["result"] = outcome.result
        else:
            record["error_type"] = outcome.error_type
            record["fields"] = list(outcome.fields)
            record["message"] = outcome.message
        self.records[outcome.patient_id] = record

    def result_rows(self, order: Sequence[str]) -> list[dict[str, Scalar]]:
        rows = []
        for pid in order:
            r = self.records.get(pid)
            if r is not None and r.get("status") == "ok":
                head: dict[str, Scalar] = {
                    "patient_id": pid,
                    "task": self.task,
                    "input_digest": r.get("input_digest"),
                }
                rows.append(head | dict(r.get("result") or {}))
        return rows

    def failures(self, order: Sequence[str]) -> list[PatientFailure]:
        out = []
        for pid in order:
            r = self.records.get(pid)
            if r is not None and r.get("status") == "failed":
                out.append(
                    PatientFailure(
                        patient_id=pid,
                        error_type=str(r.get("error_type") or "Exception"),
                        fields=tuple(r.get("fields") or ()),
                        message=str(r.get("message") or ""),
                        input_digest=r.get("input_digest"),
                    )
                )
        return out

    def write(self, order: Sequence[str]) -> None:
        """Write index.json, results.parquet/.csv and failures.csv for the patients in ``order``."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        rows = self.result_rows(order)
        columns = _columns(rows)
        _write_parquet(self.results_parquet, columns, rows)
        _write_csv(self.results_csv, columns, rows)
        failure_rows: list[dict[str, Scalar]] = [
            {
                "patient_id": f.patient_id,
                "task": self.task,
                "input_digest": f.input_digest,
                "error_type": f.error_type,
                "fields": ";".join(f.fields),
                "message": f.message,
            }
            for f in self.failures(order)
        ]
        _write_csv(self.failures_csv, _FAILURE_COLUMNS, failure_rows)
        doc = {
            "schema": RESULTS_INDEX_SCHEMA,
            "task": self.task,
            "netlm_version": __version__,
            "records": [self.records[pid] for pid in order if pid in self.records],
        }
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"

        def write_index(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        _atomic_write(self.index, write_index)
