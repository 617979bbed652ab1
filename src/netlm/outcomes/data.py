"""The cohort data format ``netlm/cohort-data/v1``: a folder of tables.

A cohort is a folder holding

``patients.csv`` or ``patients.parquet`` (required)
    One row per patient and index treatment.
``lesions.*``, ``labs.*``, ``observations.*`` (optional)
    Per-lesion dose and response, laboratory series, and dated observations
    (ascites grade, spleen volume).

Each table is CSV (UTF-8, header row, comma separated, empty cell = missing)
or Parquet; a folder must not hold both forms of one table.  Dates are ISO 8601
(``2021-03-04``; a time of day is kept if given).  Booleans are ``true`` /
``false`` (also ``1``/``0``, ``yes``/``no``, any case).  Columns not listed
below are kept as text and otherwise ignored.

patients
    One row per patient.  "Required": the cell must not be empty; "column":
    the column must be present, a cell may be empty; "optional": the column
    may be absent (it is then all missing).

    * ``patient_id`` (required): text, unique.
    * ``sex`` (column): ``female`` | ``male``.
    * ``age_years`` (column): 0-120.
    * ``grade`` (column): WHO 2019 ``NET G1`` | ``NET G2`` | ``NET G3`` | ``NEC``.
    * ``ki67_percent`` (column): 0-100.
    * ``ecog`` (column): integer 0-4.
    * ``primary_site`` (column): a :class:`netlm.case.model.PrimarySite` id
      (``small_intestine``, ``pancreas``, ``unknown`` ...).
    * ``tumour_burden_percent`` (column): hepatic tumour burden, 0-100.
    * ``extrahepatic_disease`` (column): ``none`` | ``limited`` | ``extensive``.
    * ``modality`` (required): a :class:`netlm.eligibility.Modality` id
      (``tare_resin``, ``tare_glass``, ``tae``, ``ctace``, ``debtace``,
      ``prrt`` ...).
    * ``device`` (column): ``resin`` | ``glass``; must agree with
      ``tare_resin`` / ``tare_glass``.
    * ``prior_prrt`` (column): boolean.
    * ``treatment_date`` (required): date; time zero of every endpoint.
    * ``last_followup_date`` (required): date >= treatment_date.
    * ``death_date`` (column): date >= treatment_date; empty = alive.
    * ``hepatic_progression_date``, ``progression_date`` (column): date >=
      treatment_date and <= the end of follow-up (the later of
      ``last_followup_date`` and ``death_date``).
    * ``normal_liver_dose_gy`` (optional): absorbed dose to the normal liver,
      >= 0.
    * ``hepatotoxicity_grade3plus`` (optional): boolean, hepatotoxicity CTCAE
      grade >= 3.

lesions
    ``patient_id`` (in patients), ``lesion_id`` (unique within the patient),
    ``tumour_dose_gy`` (>= 0 | empty), ``response_recist`` (``CR`` | ``PR`` |
    ``SD`` | ``PD`` | ``NE`` | empty), ``response_mrecist`` (optional column,
    same values).

labs
    ``patient_id``, ``date``, ``analyte`` (``bilirubin`` | ``ast`` | ``alt`` |
    ``albumin`` | ``platelets`` | ``inr`` | ``creatinine``), ``value`` (>= 0),
    ``uln`` (> 0) and ``lln`` (>= 0, below ``uln``), either may be empty.
    Canonical units: bilirubin and creatinine mg/dL, AST/ALT U/L, albumin
    g/dL, platelets 10^9/L, INR unitless.  A value far beyond what the
    canonical unit allows (bilirubin > 50 mg/dL, albumin > 10 g/dL, platelets
    > 2000 x 10^9/L, creatinine > 30 mg/dL, INR > 20) is rejected as a
    probable unit error.

observations
    ``patient_id``, ``date``, ``kind`` (``ascites`` | ``spleen_volume_ml``),
    ``value`` (ascites: ``none`` | ``mild`` | ``moderate_severe``;
    spleen_volume_ml: a number > 0 and <= 10000).

Reading and writing such a folder is :mod:`netlm.outcomes.io`
(:func:`~netlm.outcomes.io.load_cohort_data`,
:func:`~netlm.outcomes.io.write_cohort_data`); this module defines the format
and validates tables in memory (:func:`make_cohort_data`).

Errors name the file, the row (1-based, header excluded; for CSV also the
line) and the column, e.g. ``patients.csv row 3 (line 4), column ecog: must be
an integer 0-4, not '5'``.  At most :data:`MAX_PROBLEMS` problems are listed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from netlm import __version__
from netlm.case.model import PrimarySite
from netlm.eligibility.result import Modality
from netlm.errors import InputError

__all__ = [
    "ANALYTE_UNITS",
    "ASCITES_LEVELS",
    "MAX_PROBLEMS",
    "SCHEMA",
    "AnalysisProvenance",
    "CohortData",
    "CohortDataError",
    "make_cohort_data",
]

#: The format id.
SCHEMA: Final = "netlm/cohort-data/v1"

#: At most this many problems are listed in one :class:`CohortDataError`.
MAX_PROBLEMS: Final = 50

#: Canonical unit of each analyte in ``labs``.
ANALYTE_UNITS: Final[dict[str, str]] = {
    "bilirubin": "mg/dL",
    "ast": "U/L",
    "alt": "U/L",
    "albumin": "g/dL",
    "platelets": "10^9/L",
    "inr": "INR",
    "creatinine": "mg/dL",
}

#: Values above these (in the canonical unit) are probable unit errors.
_IMPLAUSIBLE_ABOVE: Final[dict[str, tuple[float, str]]] = {
    "bilirubin": (50.0, "mg/dL; was it given in µmol/L?"),
    "albumin": (10.0, "g/dL; was it given in g/L?"),
    "platelets": (2000.0, "x 10^9/L; was it given per µL?"),
    "creatinine": (30.0, "mg/dL; was it given in µmol/L?"),
    "inr": (20.0, "(INR)"),
    "ast": (100000.0, "U/L"),
    "alt": (100000.0, "U/L"),
}

_SPLEEN_MAX_ML: Final = 10000.0

TableName = Literal["patients", "lesions", "labs", "observations"]
_TABLES: Final[tuple[TableName, ...]] = ("patients", "lesions", "labs", "observations")

Kind = Literal["text", "number", "integer", "bool", "date"]


class CohortDataError(InputError):
    """A cohort data folder (``netlm/cohort-data/v1``) is malformed or inconsistent."""

    what = "cohort data"


@dataclass(frozen=True)
class _Column:
    name: str
    kind: Kind
    presence: Literal["required", "column", "optional"] = "column"
    allowed: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def not_empty(self) -> bool:
        return self.presence == "required"


_GRADES: Final = ("NET G1", "NET G2", "NET G3", "NEC")
_RESPONSES: Final = ("CR", "PR", "SD", "PD", "NE")

_PATIENTS: Final[tuple[_Column, ...]] = (
    _Column("patient_id", "text", "required"),
    _Column("sex", "text", allowed=("female", "male")),
    _Column("age_years", "number", low=0.0, high=120.0),
    _Column("grade", "text", allowed=_GRADES),
    _Column("ki67_percent", "number", low=0.0, high=100.0),
    _Column("ecog", "integer", low=0.0, high=4.0),
    _Column("primary_site", "text", allowed=tuple(p.value for p in PrimarySite)),
    _Column("tumour_burden_percent", "number", low=0.0, high=100.0),
    _Column("extrahepatic_disease", "text", allowed=("none", "limited", "extensive")),
    _Column("modality", "text", "required", allowed=tuple(m.value for m in Modality)),
    _Column("device", "text", allowed=("resin", "glass")),
    _Column("prior_prrt", "bool"),
    _Column("treatment_date", "date", "required"),
    _Column("last_followup_date", "date", "required"),
    _Column("death_date", "date"),
    _Column("hepatic_progression_date", "date"),
    _Column("progression_date", "date"),
    _Column("normal_liver_dose_gy", "number", "optional", low=0.0),
    _Column("hepatotoxicity_grade3plus", "bool", "optional"),
)
_LESIONS: Final[tuple[_Column, ...]] = (
    _Column("patient_id", "text", "required"),
    _Column("lesion_id", "text", "required"),
    _Column("tumour_dose_gy", "number", low=0.0),
    _Column("response_recist", "text", allowed=_RESPONSES),
    _Column("response_mrecist", "text", "optional", allowed=_RESPONSES),
)
_LABS: Final[tuple[_Column, ...]] = (
    _Column("patient_id", "text", "required"),
    _Column("date", "date", "required"),
    _Column("analyte", "text", "required", allowed=tuple(ANALYTE_UNITS)),
    _Column("value", "number", "required", low=0.0),
    _Column("uln", "number", low=0.0),
    _Column("lln", "number", low=0.0),
)
_OBSERVATIONS: Final[tuple[_Column, ...]] = (
    _Column("patient_id", "text", "required"),
    _Column("date", "date", "required"),
    _Column("kind", "text", "required", allowed=("ascites", "spleen_volume_ml")),
    _Column("value", "text", "required"),
)
_SPECS: Final[dict[TableName, tuple[_Column, ...]]] = {
    "patients": _PATIENTS,
    "lesions": _LESIONS,
    "labs": _LABS,
    "observations": _OBSERVATIONS,
}

#: Ascites levels in ``observations`` (``kind == "ascites"``), mildest first.
ASCITES_LEVELS: Final = ("none", "mild", "moderate_severe")

_DTYPES: Final[dict[Kind, str]] = {
    "text": "string",
    "number": "float64",
    "integer": "Int64",
    "bool": "boolean",
    "date": "datetime64[ns]",
}
_TRUE: Final = frozenset({"true", "1", "1.0", "yes", "y", "t"})
_FALSE: Final = frozenset({"false", "0", "0.0", "no", "n", "f"})


class AnalysisProvenance(BaseModel):
    """Where an outcome analysis came from.

    Attributes
    ----------
    netlm_version
        The netlm version that computed it.
    inputs_digest
        SHA-256 of the cohort data (:meth:`CohortData.digest`) or of the arrays
        analysed.
    parameters
        The analysis parameters, as text (``name=value``).
    """

    model_config = ConfigDict(frozen=True)

    netlm_version: str
    inputs_digest: str
    parameters: tuple[str, ...] = ()


def provenance(digest: str, **parameters: object) -> AnalysisProvenance:
    """An :class:`AnalysisProvenance` for this netlm version."""
    return AnalysisProvenance(
        netlm_version=__version__,
        inputs_digest=digest,
        parameters=tuple(f"{k}={v!r}" for k, v in parameters.items()),
    )


@dataclass(frozen=True)
class CohortData:
    """A validated cohort (``netlm/cohort-data/v1``).

    Attributes
    ----------
    patients, lesions, labs, observations
        One :class:`pandas.DataFrame` each, with the columns of the format in
        its order (then any extra columns), a default index and canonical
        dtypes: text ``string``, numbers ``float64``, ``ecog`` ``Int64``,
        booleans ``boolean``, dates ``datetime64[ns]``.  Missing optional
        tables are empty frames with these columns; missing optional columns
        are all missing.  Treat the frames as read-only.
    source
        The folder it was read from, if any.
    """

    patients: pd.DataFrame
    lesions: pd.DataFrame
    labs: pd.DataFrame
    observations: pd.DataFrame
    source: str | None = None

    @property
    def n_patients(self) -> int:
        """The number of patients."""
        return len(self.patients)

    def table(self, name: TableName) -> pd.DataFrame:
        """The table called ``name``."""
        frame: pd.DataFrame = getattr(self, name)
        return frame

    def digest(self) -> str:
        """SHA-256 of the four tables (canonical CSV), for provenance."""
        h = hashlib.sha256(SCHEMA.encode())
        for name in _TABLES:
            h.update(f"\n#{name}\n".encode())
            h.update(_to_csv_text(self.table(name)).encode())
        return h.hexdigest()


# ---------------------------------------------------------------------------
# validation


class _Problems:
    """Collects problems, capping the list at MAX_PROBLEMS."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.extra = 0

    def add(self, where: str, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append((where, message))
        else:
            self.extra += 1

    def raise_if_any(self) -> None:
        if self.items:
            items = list(self.items)
            if self.extra:
                items.append(("", f"... and {self.extra} more problems"))
            raise CohortDataError(items)


@dataclass(frozen=True)
class _Where:
    """How to name a cell of one table in an error message."""

    label: str  # "patients.csv", "patients.parquet" or "patients"
    csv: bool

    def cell(self, position: int, column: str) -> str:
        row = position + 1
        line = f" (line {row + 1})" if self.csv else ""
        return f"{self.label} row {row}{line}, column {column}"

    def column(self, column: str) -> str:
        return f"{self.label}, column {column}"


def _text(series: pd.Series) -> pd.Series:
    """The column as stripped text with ``pd.NA`` for empty cells."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        out = series.dt.strftime("%Y-%m-%dT%H:%M:%S").astype("string")
    else:
        out = series.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def _positions(mask: Any) -> list[int]:
    """Positions where a boolean array or Series is true."""
    return [int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


def _show(value: object) -> str:
    return repr(str(value))


def _convert(raw: pd.Series, spec: _Column, where: _Where, problems: _Problems) -> pd.Series:
    """Parse one column to its canonical dtype, recording unparsable cells."""
    text = _text(raw)
    present = text.notna().to_numpy()
    if spec.not_empty:
        for pos in _positions(~present):
            problems.add(where.cell(pos, spec.name), "is required")
    out: pd.Series
    bad = np.zeros(len(text), dtype=bool)
    expected = ""
    if spec.kind == "text":
        out = text
        if spec.allowed:
            bad = present & ~text.isin(spec.allowed).fillna(False).to_numpy(dtype=bool)
            expected = "one of " + ", ".join(spec.allowed)
    elif spec.kind in ("number", "integer"):
        objects = pd.Series(text.to_numpy(dtype=object, na_value=None), index=text.index)
        numbers = pd.to_numeric(objects, errors="coerce").astype("float64")
        values = numbers.to_numpy()
        with np.errstate(invalid="ignore"):
            bad = present & ~np.isfinite(values)
            if spec.low is not None:
                bad |= present & np.isfinite(values) & (values < spec.low)
            if spec.high is not None:
                bad |= present & np.isfinite(values) & (values > spec.high)
            if spec.kind == "integer":
                bad |= present & np.isfinite(values) & (np.round(values) != values)
        low = "" if spec.low is None else f"{spec.low:g}"
        high = "" if spec.high is None else f"{spec.high:g}"
        what = "an integer" if spec.kind == "integer" else "a finite number"
        if low and high:
            expected = f"{what} {low}-{high}"
        elif low:
            expected = f"{what} >= {low}"
        else:
            expected = what
        numbers = numbers.mask(bad, np.nan)
        out = numbers.round().astype("Int64") if spec.kind == "integer" else numbers
    elif spec.kind == "bool":
        lowered = text.str.lower()
        is_true = lowered.isin(_TRUE).fillna(False).to_numpy(dtype=bool)
        is_false = lowered.isin(_FALSE).fillna(False).to_numpy(dtype=bool)
        bad = present & ~is_true & ~is_false
        expected = "true or false"
        out = pd.Series(pd.array([pd.NA] * len(text), dtype="boolean"), index=text.index)
        out[is_true] = True
        out[is_false] = False
    else:  # date
        out, bad = _dates(text, present)
        expected = "an ISO 8601 date (YYYY-MM-DD)"
    for pos in _positions(bad):
        problems.add(
            where.cell(pos, spec.name),
            f"must be {expected}, not {_show(text.iloc[pos])}",
        )
    if spec.kind == "text":
        out = out.mask(pd.Series(bad, index=out.index), pd.NA)
    return out


_ISO_DATE: Final = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"


def _dates(text: pd.Series, present: np.ndarray[Any, Any]) -> tuple[pd.Series, Any]:
    """ISO 8601 dates; an offset is converted to UTC and dropped."""
    iso = text.str.fullmatch(_ISO_DATE).fillna(False).to_numpy(dtype=bool)
    values = np.array(text.to_numpy(dtype=object, na_value=None), dtype=object, copy=True)
    values[~iso] = None
    candidates = pd.Series(values, index=text.index)
    parsed = pd.to_datetime(candidates, format="ISO8601", errors="coerce", utc=True)
    parsed = parsed.dt.tz_convert(None).astype("datetime64[ns]")
    bad = present & parsed.isna().to_numpy()
    return parsed, bad


def _empty(name: TableName) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=_DTYPES[c.kind]) for c in _SPECS[name]})


def _validate_table(
    name: TableName, raw: pd.DataFrame, where: _Where, problems: _Problems
) -> pd.DataFrame:
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    duplicated = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    for column in duplicated:
        problems.add(where.column(column), "appears more than once")
    if duplicated:
        raw = raw.loc[:, ~raw.columns.duplicated()]
    columns: dict[str, pd.Series] = {}
    for spec in _SPECS[name]:
        if spec.name not in raw.columns:
            if spec.presence == "optional":
                columns[spec.name] = pd.Series(
                    [None] * len(raw), index=raw.index, dtype=_DTYPES[spec.kind]
                )
            else:
                problems.add(where.column(spec.name), "is missing")
            continue
        columns[spec.name] = _convert(raw[spec.name], spec, where, problems)
    known = {c.name for c in _SPECS[name]}
    for extra in raw.columns:
        if extra not in known:
            columns[extra] = _text(raw[extra])
    return pd.DataFrame(columns, index=raw.index)


def _check_patients(frame: pd.DataFrame, where: _Where, problems: _Problems) -> None:
    if frame.empty:
        problems.add(where.label, "holds no patients")
        return
    if "patient_id" in frame:
        ids = frame["patient_id"]
        dup = ids.duplicated(keep="first") & ids.notna()
        for pos in _positions(dup.to_numpy()):
            problems.add(
                where.cell(pos, "patient_id"),
                f"duplicate patient_id {_show(ids.iloc[pos])}",
            )
    if {"modality", "device"} <= set(frame.columns):
        pairs = zip(frame["modality"].tolist(), frame["device"].tolist(), strict=True)
        for pos, (modality, device) in enumerate(pairs):
            if pd.isna(modality) or pd.isna(device):
                continue
            if (modality, device) in (("tare_resin", "glass"), ("tare_glass", "resin")):
                problems.add(
                    where.cell(pos, "device"),
                    f"{device!r} contradicts modality {modality!r}",
                )
    if not {"treatment_date", "last_followup_date"} <= set(frame.columns):
        return
    start = frame["treatment_date"]
    ends = [frame["last_followup_date"]]
    if "death_date" in frame:
        ends.append(frame["death_date"])
    end = pd.concat(ends, axis=1).max(axis=1)
    for column in (
        "last_followup_date",
        "death_date",
        "hepatic_progression_date",
        "progression_date",
    ):
        if column not in frame:
            continue
        dates = frame[column]
        early = (dates < start).fillna(False).to_numpy(dtype=bool)
        for pos in _positions(early):
            problems.add(
                where.cell(pos, column),
                f"{_day(dates.iloc[pos])} is before treatment_date {_day(start.iloc[pos])}",
            )
        if column in ("hepatic_progression_date", "progression_date"):
            late = (dates > end).fillna(False).to_numpy(dtype=bool)
            for pos in _positions(late):
                problems.add(
                    where.cell(pos, column),
                    f"{_day(dates.iloc[pos])} is after the end of follow-up {_day(end.iloc[pos])}",
                )


def _day(stamp: Any) -> str:
    return str(pd.Timestamp(stamp).date()) if not pd.isna(stamp) else "?"


def _check_patient_refs(
    frame: pd.DataFrame, known: set[str], where: _Where, problems: _Problems
) -> None:
    if "patient_id" not in frame:
        return
    ids = frame["patient_id"]
    for pos in _positions((ids.notna() & ~ids.isin(known)).to_numpy(dtype=bool)):
        problems.add(
            where.cell(pos, "patient_id"),
            f"{_show(ids.iloc[pos])} is not in patients",
        )


def _check_lesions(frame: pd.DataFrame, where: _Where, problems: _Problems) -> None:
    if {"patient_id", "lesion_id"} <= set(frame.columns):
        dup = frame.duplicated(["patient_id", "lesion_id"]) & frame["lesion_id"].notna()
        for pos in _positions(dup.to_numpy(dtype=bool)):
            problems.add(
                where.cell(pos, "lesion_id"),
                f"duplicate lesion {_show(frame['lesion_id'].iloc[pos])} of patient "
                f"{_show(frame['patient_id'].iloc[pos])}",
            )


def _check_labs(frame: pd.DataFrame, where: _Where, problems: _Problems) -> None:
    if not {"analyte", "value", "uln", "lln"} <= set(frame.columns):
        return
    rows = zip(*(frame[c].tolist() for c in ("analyte", "value", "uln", "lln")), strict=True)
    for pos, (analyte, value, uln, lln) in enumerate(rows):
        if not pd.isna(analyte) and not pd.isna(value):
            limit, hint = _IMPLAUSIBLE_ABOVE[str(analyte)]
            if value > limit:
                problems.add(
                    where.cell(pos, "value"),
                    f"{value:g} is implausible for {analyte} (> {limit:g} {hint})",
                )
        if not pd.isna(uln) and uln <= 0:
            problems.add(where.cell(pos, "uln"), f"must be > 0, not {uln:g}")
        elif not pd.isna(uln) and not pd.isna(lln) and lln >= uln:
            problems.add(where.cell(pos, "lln"), f"must be below uln ({lln:g} >= {uln:g})")


def _check_observations(frame: pd.DataFrame, where: _Where, problems: _Problems) -> None:
    if not {"kind", "value"} <= set(frame.columns):
        return
    for pos, (kind, value) in enumerate(
        zip(frame["kind"].tolist(), frame["value"].tolist(), strict=True)
    ):
        if pd.isna(kind) or pd.isna(value):
            continue
        if kind == "ascites" and value not in ASCITES_LEVELS:
            problems.add(
                where.cell(pos, "value"),
                f"ascites must be one of {', '.join(ASCITES_LEVELS)}, not {_show(value)}",
            )
        elif kind == "spleen_volume_ml":
            number = _float_or_none(str(value))
            if number is None or not 0 < number <= _SPLEEN_MAX_ML:
                problems.add(
                    where.cell(pos, "value"),
                    f"spleen_volume_ml must be a number > 0 and <= {_SPLEEN_MAX_ML:g}, "
                    f"not {_show(value)}",
                )


def _float_or_none(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


_CHECKS: Final[dict[TableName, Callable[[pd.DataFrame, _Where, _Problems], None]]] = {
    "patients": _check_patients,
    "lesions": _check_lesions,
    "labs": _check_labs,
    "observations": _check_observations,
}


def _build(
    raw: dict[TableName, tuple[pd.DataFrame, _Where] | None], source: str | None
) -> CohortData:
    problems = _Problems()
    tables: dict[TableName, pd.DataFrame] = {}
    for name in _TABLES:
        entry = raw[name]
        if entry is None:
            tables[name] = _empty(name)
            continue
        frame, where = entry
        if not isinstance(frame, pd.DataFrame):
            problems.add(name, f"must be a pandas DataFrame, not {type(frame).__name__}")
            tables[name] = _empty(name)
            continue
        tables[name] = _validate_table(name, frame, where, problems)
        _CHECKS[name](tables[name], where, problems)
    known = (
        set(tables["patients"]["patient_id"].dropna())
        if "patient_id" in tables["patients"]
        else set()
    )
    for name in ("lesions", "labs", "observations"):
        entry = raw[name]
        if entry is not None and isinstance(entry[0], pd.DataFrame):
            _check_patient_refs(tables[name], known, entry[1], problems)
    problems.raise_if_any()
    return CohortData(
        patients=tables["patients"],
        lesions=tables["lesions"],
        labs=tables["labs"],
        observations=tables["observations"],
        source=source,
    )


def make_cohort_data(
    patients: pd.DataFrame,
    lesions: pd.DataFrame | None = None,
    labs: pd.DataFrame | None = None,
    observations: pd.DataFrame | None = None,
) -> CohortData:
    """Validate in-memory tables as ``netlm/cohort-data/v1``.

    The frames may hold text (as read from CSV) or typed columns (numbers,
    booleans, datetimes); they are parsed and checked exactly as
    :func:`netlm.outcomes.io.load_cohort_data` does, and are not modified.

    Raises
    ------
    CohortDataError
        Naming the table, row and column of every problem.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({
    ...     "patient_id": ["P1"], "sex": ["female"], "age_years": [61], "grade": ["NET G2"],
    ...     "ki67_percent": [5.0], "ecog": [0], "primary_site": ["small_intestine"],
    ...     "tumour_burden_percent": [20.0], "extrahepatic_disease": ["none"],
    ...     "modality": ["tare_resin"], "device": ["resin"], "prior_prrt": [False],
    ...     "treatment_date": ["2020-01-10"], "last_followup_date": ["2022-05-01"],
    ...     "death_date": [None], "hepatic_progression_date": ["2021-03-01"],
    ...     "progression_date": [None]})
    >>> make_cohort_data(p).patients.loc[0, "treatment_date"]
    Timestamp('2020-01-10 00:00:00')
    >>> make_cohort_data(p.assign(ecog=[5]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    netlm.outcomes.data.CohortDataError: invalid cohort data: patients row 1, column ecog: ...
    """
    raw: dict[TableName, tuple[pd.DataFrame, _Where] | None] = {
        "patients": (patients, _Where("patients", csv=False)),
        "lesions": None if lesions is None else (lesions, _Where("lesions", csv=False)),
        "labs": None if labs is None else (labs, _Where("labs", csv=False)),
        "observations": (
            None if observations is None else (observations, _Where("observations", csv=False))
        ),
    }
    return _build(raw, source=None)


# ---------------------------------------------------------------------------
# writing


def _format_column(series: pd.Series) -> pd.Series:
    """One column as CSV text (empty for missing)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.dropna()
        midnight = bool((values == values.dt.normalize()).all())
        fmt = "%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S"
        return series.dt.strftime(fmt).fillna("")
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
    if pd.api.types.is_float_dtype(series.dtype):
        return series.map(lambda v: "" if pd.isna(v) else repr(float(v)))
    return series.astype("string").fillna("")


def _to_csv_text(frame: pd.DataFrame) -> str:
    text: str = frame.apply(_format_column).to_csv(index=False, lineterminator="\n")
    return text


def require_columns(data: CohortData, table: TableName, columns: Sequence[str]) -> None:
    """Raise :class:`CohortDataError` unless ``table`` has every column in ``columns``."""
    frame = data.table(table)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CohortDataError([(f"{table}, column {c}", "is missing") for c in missing])
