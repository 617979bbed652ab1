"""Reading and writing ``netlm/cohort-data/v1`` folders (CSV or Parquet).

The one place in :mod:`netlm.outcomes` that touches files (issue #13): the
analyses take :class:`~netlm.outcomes.data.CohortData` in memory, and the format
itself (columns, checks, :func:`~netlm.outcomes.data.make_cohort_data`) is in
:mod:`netlm.outcomes.data`.  Like :mod:`netlm.case.io` and
:mod:`netlm.response.io`, this module is the boundary of a core package: it reads
only the folder it is given and nothing else (no environment, no registry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from netlm.outcomes.data import (
    _TABLES,
    CohortData,
    CohortDataError,
    TableName,
    _build,
    _Problems,
    _to_csv_text,
    _Where,
)

__all__ = ["load_cohort_data", "write_cohort_data"]


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        frame: pd.DataFrame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8-sig"
        )
        return frame
    parquet: pd.DataFrame = pd.read_parquet(path)
    return parquet


def load_cohort_data(folder: str | Path) -> CohortData:
    """Read and validate a ``netlm/cohort-data/v1`` folder.

    Parameters
    ----------
    folder
        The folder holding ``patients.csv`` or ``patients.parquet`` and,
        optionally, ``lesions``, ``labs`` and ``observations`` tables.

    Returns
    -------
    CohortData
        The validated tables with canonical dtypes.

    Raises
    ------
    CohortDataError
        If the folder or the patients table is missing, a table exists as both
        CSV and Parquet, a file cannot be read, or any cell is invalid (each
        problem names the file, row and column).
    """
    root = Path(folder)
    if not root.is_dir():
        raise CohortDataError([("folder", f"{str(root)!r} is not a folder")])
    problems = _Problems()
    raw: dict[TableName, tuple[pd.DataFrame, _Where] | None] = {}
    for name in _TABLES:
        found = [root / f"{name}.{ext}" for ext in ("csv", "parquet")]
        present = [p for p in found if p.is_file()]
        raw[name] = None
        if len(present) > 1:
            problems.add(name, f"both {name}.csv and {name}.parquet exist; keep one")
        elif not present:
            if name == "patients":
                problems.add("patients", f"no patients.csv or patients.parquet in {str(root)!r}")
        else:
            path = present[0]
            try:
                frame = _read(path)
            except (OSError, ValueError, UnicodeDecodeError, ImportError) as exc:
                problems.add(path.name, f"cannot be read: {exc}")
                continue
            raw[name] = (frame, _Where(path.name, csv=path.suffix == ".csv"))
    problems.raise_if_any()
    return _build(raw, source=str(root))


# ---------------------------------------------------------------------------
# writing


def write_cohort_data(
    data: CohortData,
    folder: str | Path,
    format: Literal["csv", "parquet"] = "csv",
) -> tuple[Path, ...]:
    """Write a cohort as a ``netlm/cohort-data/v1`` folder.

    All four tables are written (an empty optional table as a header-only
    file), so that :func:`load_cohort_data` reads back the same data.  CSV
    dates are written as ``YYYY-MM-DD`` (with ``THH:MM:SS`` when a column
    holds a time of day), booleans as ``true`` / ``false``.

    Parameters
    ----------
    data
        The cohort.
    folder
        Created if missing.
    format
        ``"csv"`` (default) or ``"parquet"``.

    Returns
    -------
    tuple of Path
        The files written.

    Raises
    ------
    CohortDataError
        For an unknown format, or when the folder already holds a table in the
        other format (the folder would no longer load).
    """
    if format not in ("csv", "parquet"):
        raise CohortDataError([("format", f"must be 'csv' or 'parquet', not {format!r}")])
    if not isinstance(data, CohortData):
        raise CohortDataError([("data", f"must be CohortData, not {type(data).__name__}")])
    root = Path(folder)
    other = "parquet" if format == "csv" else "csv"
    clashes = [f"{name}.{other}" for name in _TABLES if (root / f"{name}.{other}").exists()]
    if clashes:
        raise CohortDataError(
            [("folder", f"{str(root)!r} already holds {', '.join(clashes)}; use another folder")]
        )
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in _TABLES:
        path = root / f"{name}.{format}"
        frame = data.table(name)
        if format == "csv":
            path.write_text(_to_csv_text(frame), encoding="utf-8")
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return tuple(written)
