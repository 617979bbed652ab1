"""Hepatotoxicity over time: CTCAE grades against baseline, REILD, chronic indicators.

Everything is relative to the index treatment (``treatment_date``) of each
patient.

Baseline
    The last value of each analyte (or observation kind) dated within
    ``baseline_window_days`` (default 90) before the treatment, the treatment
    day included [U: netlm choice].
CTCAE grade over time
    Every lab value after the treatment day is graded with
    :func:`netlm.clinical.ctcae_grade` (CTCAE v5.0 by default, or v6.0),
    passing the patient's baseline so that an abnormal baseline is graded
    against itself as CTCAE prescribes.  A grade is ``None`` when the ULN
    (or, near normal, the LLN) the grade needs is missing.  "Worsened" means
    the worst post-treatment grade exceeds the baseline grade.
REILD (radioembolization-induced liver disease) [U]
    Present when, within ``window_days`` (default 61, about two months) after
    the treatment, bilirubin reaches CTCAE grade >= 2 **and** ascites (mild or
    moderate/severe) is recorded, with no hepatic or overall progression
    recorded on or before the later of the two.  After the clinical
    description "jaundice and ascites 1-2 months after radioembolization in
    the absence of tumour progression" (Sangro et al., Cancer 2008, as
    commonly cited; not in the seeds and not yet verified).  Seed 001 (§6.2)
    names REILD and its risk factors (pre-existing liver disease, prior
    chemotherapy, extensive tumour burden; source ``tare_table1_001``) without
    a definition; seed 004 (Sequencing with PRRT; source
    ``tare_after_prrt_004``) reports it after PRRT (Braat et al.: 3 of 44).
    Not evaluable (``None``) when no graded bilirubin falls in the window, or
    bilirubin qualifies but no ascites observation does.
Chronic hepatotoxicity indicators [U]
    Seed 004 (Toxicity; source ``tare_chronic_004``) describes
    radioembolization-induced chronic hepatotoxicity "occurring at least 6
    months after TARE and manifesting as cirrhosis-like morphology, liver
    dysfunction, and ascites"; Su et al. found that "the spleen did increase
    significantly in size and the platelet and albumin decreased
    significantly over time", without thresholds.  netlm evaluates, on
    measurements at least ``min_days`` (default 182) after the treatment,
    against the baseline:

    * platelet decline: platelets <= baseline x (1 - 0.25);
    * albumin decline: albumin <= baseline - 0.5 g/dL;
    * bilirubin rise: bilirubin >= baseline x 1.5 and above the ULN;
    * new ascites: none at baseline, mild or moderate/severe later;
    * spleen volume increase: >= baseline x 1.20.

    The thresholds are netlm choices (:class:`ChronicDefinition`), not from
    the seeds.  By default the worst value at >= 6 months is compared
    (``summary="worst"``); ``"last"`` compares the most recent one.  An
    indicator is ``None`` (not evaluable) without a baseline, without a
    measurement at >= 6 months, or when follow-up ended before 6 months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, Literal, NamedTuple

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from netlm.clinical.ctcae import CtcaeGrade, CtcaeVersion, ctcae_grade
from netlm.errors import InputError
from netlm.outcomes.data import AnalysisProvenance, CohortData, provenance
from netlm.results import ResultModel

__all__ = [
    "AnalyteToxicity",
    "ChronicDefinition",
    "ChronicIndicators",
    "CohortToxicity",
    "GradeCounts",
    "Indicator",
    "PatientToxicity",
    "Rate",
    "ReildDefinition",
    "ToxicityReport",
    "lab_grades",
    "patient_toxicity",
    "toxicity_report",
]

#: Analytes graded, in display order.
ANALYTES: Final = ("bilirubin", "albumin", "platelets", "ast", "alt", "inr", "creatinine")
_ASCITES_PRESENT: Final = frozenset({"mild", "moderate_severe"})
_CHRONIC: Final = (
    "platelet_decline",
    "albumin_decline",
    "bilirubin_rise",
    "new_ascites",
    "spleen_increase",
)


class ReildDefinition(BaseModel):
    """The REILD definition [U] (see module docstring).

    Attributes
    ----------
    window_days
        Days after the treatment within which bilirubin and ascites count.
    min_bilirubin_grade
        CTCAE grade of bilirubin that counts as jaundice.
    require_no_progression
        Whether recorded progression rules REILD out.
    certainty
        ``"U"``: not verified against a source.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: int = Field(61, ge=1, le=365)
    min_bilirubin_grade: int = Field(2, ge=1, le=4)
    require_no_progression: bool = True
    certainty: Literal["U"] = "U"


class ChronicDefinition(BaseModel):
    """Thresholds of the chronic hepatotoxicity indicators [U] (see module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_days: int = Field(182, ge=1)
    platelet_decline_fraction: float = Field(0.25, gt=0, lt=1)
    albumin_decline_g_dl: float = Field(0.5, gt=0)
    bilirubin_rise_factor: float = Field(1.5, gt=1)
    spleen_increase_fraction: float = Field(0.20, gt=0)
    summary: Literal["worst", "last"] = "worst"
    certainty: Literal["U"] = "U"


class Indicator(BaseModel):
    """A yes/no finding that may be not evaluable.

    Attributes
    ----------
    present
        ``True``, ``False`` or ``None`` (not evaluable).
    detail
        Why, with the numbers.
    date
        When it was first met (if present).
    """

    model_config = ConfigDict(frozen=True)

    present: bool | None
    detail: str
    date: dt.date | None = None


class AnalyteToxicity(BaseModel):
    """One analyte of one patient after the treatment.

    Attributes
    ----------
    analyte
        The analyte.
    baseline_value, baseline_date, baseline_grade
        The baseline (see module docstring), ``None`` if there is none.
    n_post
        Values after the treatment.
    worst_grade
        The highest CTCAE grade after the treatment (``None``: no gradable
        value).
    worst_value, worst_date, worst_day
        The value with the worst grade (the first one on ties) and its day
        after the treatment.
    worsened
        Whether ``worst_grade`` exceeds ``baseline_grade`` (``None`` if either
        is unknown).
    """

    model_config = ConfigDict(frozen=True)

    analyte: str
    baseline_value: float | None
    baseline_date: dt.date | None
    baseline_grade: int | None
    n_post: int
    worst_grade: int | None
    worst_value: float | None
    worst_date: dt.date | None
    worst_day: int | None
    worsened: bool | None


class ChronicIndicators(BaseModel):
    """Chronic hepatotoxicity indicators of one patient (see module docstring)."""

    model_config = ConfigDict(frozen=True)

    platelet_decline: Indicator
    albumin_decline: Indicator
    bilirubin_rise: Indicator
    new_ascites: Indicator
    spleen_increase: Indicator

    @property
    def any_present(self) -> bool | None:
        """``True`` if any indicator is present; ``None`` if none is evaluable."""
        values = [getattr(self, name).present for name in _CHRONIC]
        if any(v is True for v in values):
            return True
        if all(v is None for v in values):
            return None
        return False


class PatientToxicity(BaseModel):
    """Toxicity of one patient after the index treatment."""

    model_config = ConfigDict(frozen=True)

    patient_id: str
    modality: str
    treatment_date: dt.date
    followup_days: int
    analytes: tuple[AnalyteToxicity, ...]
    reild: Indicator
    chronic: ChronicIndicators
    ctcae_version: CtcaeVersion

    def analyte(self, name: str) -> AnalyteToxicity:
        """The entry of analyte ``name``."""
        for a in self.analytes:
            if a.analyte == name:
                return a
        raise KeyError(f"no analyte {name!r}")


class Rate(BaseModel):
    """``n_present`` of ``n_evaluable`` (rate ``None`` if none is evaluable)."""

    model_config = ConfigDict(frozen=True)

    n_evaluable: int
    n_present: int
    rate: float | None


class GradeCounts(BaseModel):
    """Worst post-treatment CTCAE grades of one analyte across patients.

    Attributes
    ----------
    analyte
        The analyte.
    n_evaluable
        Patients with a gradable post-treatment value.
    by_grade
        Patients whose worst grade is 0, 1, 2, 3, 4.
    grade3plus
        Worst grade >= 3.
    worsened
        Worst grade above the baseline grade (of patients with both).
    """

    model_config = ConfigDict(frozen=True)

    analyte: str
    n_evaluable: int
    by_grade: tuple[int, int, int, int, int]
    grade3plus: Rate
    worsened: Rate


class CohortToxicity(BaseModel):
    """Toxicity of a group of patients."""

    model_config = ConfigDict(frozen=True)

    group: str
    n_patients: int
    grades: tuple[GradeCounts, ...]
    reild: Rate
    chronic: dict[str, Rate]
    chronic_any: Rate


class ToxicityReport(ResultModel):
    """Per-patient toxicity with cohort (and group) summaries.

    Attributes
    ----------
    patients
        One entry per patient.
    overall
        The whole cohort.
    by
        The grouping column, or ``None``.
    groups
        One summary per value of ``by``.
    ctcae_version, baseline_window_days, reild_definition, chronic_definition
        The definitions used.
    provenance
        Inputs digest and parameters.
    """

    model_config = ConfigDict(frozen=True)

    patients: tuple[PatientToxicity, ...]
    overall: CohortToxicity
    by: str | None
    groups: tuple[CohortToxicity, ...]
    ctcae_version: CtcaeVersion
    baseline_window_days: int
    reild_definition: ReildDefinition
    chronic_definition: ChronicDefinition
    provenance: AnalysisProvenance

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per group (the whole cohort first) and analyte: grades and rates."""
        return [
            {
                "group": group.group,
                "n_patients": group.n_patients,
                "analyte": counts.analyte,
                "n_evaluable": counts.n_evaluable,
                **{f"grade_{g}": n for g, n in enumerate(counts.by_grade)},
                "grade3plus_rate": counts.grade3plus.rate,
                "worsened_rate": counts.worsened.rate,
                "reild_rate": group.reild.rate,
                "chronic_any_rate": group.chronic_any.rate,
            }
            for group in (self.overall, *self.groups)
            for counts in group.grades
        ]


# ---------------------------------------------------------------------------
# grading


def _version(version: CtcaeVersion | str) -> CtcaeVersion:
    # ctcae_grade validates and normalises ("5", "v6.0" ...); reuse it.
    return ctcae_grade("inr", 1.0, version=version).version


def _check_window(baseline_window_days: int) -> int:
    if (
        isinstance(baseline_window_days, bool)
        or not isinstance(baseline_window_days, int)
        or baseline_window_days < 0
    ):
        raise InputError(
            [("baseline_window_days", f"must be an integer >= 0, not {baseline_window_days!r}")]
        )
    return baseline_window_days


def _or_none(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def _baselines(
    table: pd.DataFrame, key: str, treatment: pd.Series, window_days: int
) -> pd.DataFrame:
    """The last row per (patient, ``key``) within the window before treatment."""
    if table.empty:
        return table.iloc[0:0]
    start = table["patient_id"].map(treatment)
    before = (table["date"] <= start) & (table["date"] >= start - pd.Timedelta(days=window_days))
    chosen = table[before.fillna(False).to_numpy(dtype=bool)].sort_values("date", kind="stable")
    return chosen.groupby(["patient_id", key], sort=False).tail(1)


def lab_grades(
    data: CohortData,
    *,
    version: CtcaeVersion | str = "5.0",
    baseline_window_days: int = 90,
) -> pd.DataFrame:
    """CTCAE grade of every lab value after the treatment, against the baseline.

    Parameters
    ----------
    data
        The cohort (its ``labs`` table).
    version
        CTCAE version, ``"5.0"`` (default) or ``"6.0"``.
    baseline_window_days
        How far before the treatment a baseline may lie.

    Returns
    -------
    pandas.DataFrame
        One row per baseline value and per value after the treatment day, in
        patient, analyte, date order, with columns ``patient_id``,
        ``analyte``, ``date``, ``day`` (days after the treatment), ``phase``
        (``"baseline"`` or ``"post"``), ``value``, ``uln``, ``lln``,
        ``baseline_value``, ``grade`` (nullable integer), ``baseline_grade``
        and ``basis`` (what the grade is relative to).
    """
    which = _version(version)
    window = _check_window(baseline_window_days)
    columns = [
        "patient_id",
        "analyte",
        "date",
        "day",
        "phase",
        "value",
        "uln",
        "lln",
        "baseline_value",
        "grade",
        "baseline_grade",
        "basis",
    ]
    labs = data.labs
    treatment = data.patients.set_index("patient_id")["treatment_date"]
    if labs.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    base = _baselines(labs, "analyte", treatment, window)
    base_value = {(r.patient_id, r.analyte): float(r.value) for r in base.itertuples()}
    start = labs["patient_id"].map(treatment)
    post = labs[(labs["date"] > start).to_numpy(dtype=bool)]
    rows: list[dict[str, Any]] = []
    # lab values repeat (rounded values, shared limits): grade each combination once
    cache: dict[tuple[str, float, float | None, float | None, float | None], CtcaeGrade] = {}
    base_grades: dict[tuple[str, str], int | None] = {}
    for phase, frame in (("baseline", base), ("post", post)):
        for r in frame.itertuples():
            key = (str(r.patient_id), str(r.analyte))
            reference = base_value.get(key) if phase == "post" else None
            args = (
                key[1],
                float(r.value),
                _or_none(r.uln),
                _or_none(r.lln),
                reference if reference is not None and reference > 0 else None,
            )
            graded = cache.get(args)
            if graded is None:
                graded = cache[args] = ctcae_grade(
                    args[0], args[1], uln=args[2], lln=args[3], baseline=args[4], version=which
                )
            if phase == "baseline":
                base_grades[key] = graded.grade
            rows.append(
                {
                    "patient_id": key[0],
                    "analyte": key[1],
                    "date": r.date,
                    "day": int((r.date - treatment[key[0]]).days),
                    "phase": phase,
                    "value": float(r.value),
                    "uln": _or_none(r.uln),
                    "lln": _or_none(r.lln),
                    "baseline_value": base_value.get(key),
                    "grade": graded.grade,
                    "basis": graded.basis,
                }
            )
    out = pd.DataFrame(rows, columns=[c for c in columns if c != "baseline_grade"])
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out["baseline_grade"] = [
        base_grades.get((p, a)) for p, a in zip(out["patient_id"], out["analyte"], strict=True)
    ]
    for column in ("grade", "baseline_grade"):
        out[column] = pd.array([None if pd.isna(v) else int(v) for v in out[column]], dtype="Int64")
    for column in ("uln", "lln", "baseline_value"):
        out[column] = out[column].astype(float)
    out["phase_order"] = out["phase"].map({"baseline": 0, "post": 1})
    out = out.sort_values(["patient_id", "analyte", "phase_order", "date"], kind="stable")
    return out[columns].reset_index(drop=True)


# ---------------------------------------------------------------------------
# per patient
#
# The tables are split once into plain per-patient lists (pandas filtering per
# patient is far too slow for registries of thousands of patients).


class _Graded(NamedTuple):
    date: pd.Timestamp
    day: int
    phase: str
    value: float
    uln: float | None
    grade: int | None


class _Lab(NamedTuple):
    date: pd.Timestamp
    value: float
    uln: float | None


class _Observation(NamedTuple):
    date: pd.Timestamp
    value: str


def _day(stamp: Any) -> dt.date:
    day: dt.date = pd.Timestamp(stamp).date()
    return day


def _split(frame: pd.DataFrame, key: str, make: Any) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    if frame.empty:
        return out
    for row in frame.sort_values("date", kind="stable").itertuples(index=False):
        out.setdefault((str(row.patient_id), str(getattr(row, key))), []).append(make(row))
    return out


def _analyte_toxicity(name: str, rows: Sequence[_Graded]) -> AnalyteToxicity:
    base = [r for r in rows if r.phase == "baseline"]
    post = [r for r in rows if r.phase == "post"]
    baseline_grade = base[0].grade if base else None
    graded = [r for r in post if r.grade is not None]
    worst = None
    for r in graded:  # the first of the highest grade
        if worst is None or (r.grade or 0) > (worst.grade or 0):
            worst = r
    worst_grade = None if worst is None else worst.grade
    return AnalyteToxicity(
        analyte=name,
        baseline_value=base[0].value if base else None,
        baseline_date=_day(base[0].date) if base else None,
        baseline_grade=baseline_grade,
        n_post=len(post),
        worst_grade=worst_grade,
        worst_value=None if worst is None else worst.value,
        worst_date=None if worst is None else _day(worst.date),
        worst_day=None if worst is None else worst.day,
        worsened=None
        if worst_grade is None or baseline_grade is None
        else worst_grade > baseline_grade,
    )


def _reild(
    patient: Any,
    bilirubin: Sequence[_Graded],
    ascites: Sequence[_Observation],
    definition: ReildDefinition,
) -> Indicator:
    start = patient.treatment_date
    end = start + pd.Timedelta(days=definition.window_days)
    minimum = definition.min_bilirubin_grade
    window = f"{definition.window_days} days"
    graded = [r for r in bilirubin if r.phase == "post" and r.date <= end and r.grade is not None]
    if not graded:
        return Indicator(present=None, detail=f"no graded bilirubin within {window}")
    high = [r for r in graded if (r.grade or 0) >= minimum]
    if not high:
        worst = max(r.grade or 0 for r in graded)
        return Indicator(
            present=False,
            detail=f"bilirubin grade < {minimum} within {window} (worst {worst})",
        )
    bili_date = high[0].date
    assessed = [o for o in ascites if start < o.date <= end]
    if not assessed:
        return Indicator(
            present=None,
            detail=f"bilirubin grade >= {minimum} on {_day(bili_date)} but no ascites "
            f"assessment within {window}",
        )
    wet = [o for o in assessed if o.value in _ASCITES_PRESENT]
    if not wet:
        return Indicator(present=False, detail="bilirubin raised but no ascites in the window")
    ascites_date = wet[0].date
    onset = max(bili_date, ascites_date)
    if definition.require_no_progression:
        progression = [
            d
            for d in (patient.hepatic_progression_date, patient.progression_date)
            if not pd.isna(d)
        ]
        if progression and min(progression) <= onset:
            return Indicator(
                present=False,
                detail=f"bilirubin grade >= {minimum} and ascites, but progression recorded "
                f"on {_day(min(progression))}",
            )
    return Indicator(
        present=True,
        detail=f"bilirubin grade >= {minimum} on {_day(bili_date)} and ascites on "
        f"{_day(ascites_date)} without progression",
        date=_day(onset),
    )


def _pick(rows: Sequence[Any], how: Literal["worst", "last"], lowest: bool) -> Any:
    """The last row, or the one with the lowest / highest value (the first on ties)."""
    if how == "last":
        return rows[-1]
    pick = min if lowest else max
    return pick(rows, key=lambda r: float(r.value))


def _lab_indicator(
    analyte: str,
    baseline: float | None,
    late: Sequence[_Lab],
    definition: ChronicDefinition,
    lowest: bool,
    test: Any,
    describe: str,
    unit: str,
) -> Indicator:
    if baseline is None:
        return Indicator(present=None, detail=f"no baseline {analyte}")
    if not late:
        return Indicator(present=None, detail=f"no {analyte} after {definition.min_days} days")
    row = _pick(late, definition.summary, lowest)
    present = bool(test(row.value, baseline, row.uln))
    return Indicator(
        present=present,
        detail=f"{analyte} {baseline:g} -> {row.value:g} {unit} ({definition.summary} at >= "
        f"{definition.min_days} days; {describe})",
        date=_day(row.date) if present else None,
    )


def _chronic(
    patient: Any,
    followup_end: Any,
    labs: dict[str, list[_Lab]],
    lab_base: dict[str, float],
    observations: dict[str, list[_Observation]],
    obs_base: dict[str, str],
    definition: ChronicDefinition,
) -> ChronicIndicators:
    late_from = patient.treatment_date + pd.Timedelta(days=definition.min_days)
    if followup_end < late_from:
        short = Indicator(present=None, detail=f"followed < {definition.min_days} days")
        return ChronicIndicators(**dict.fromkeys(_CHRONIC, short))

    def late(rows: Sequence[Any]) -> list[Any]:
        return [r for r in rows if r.date >= late_from]

    platelets = _lab_indicator(
        "platelets",
        lab_base.get("platelets"),
        late(labs.get("platelets", [])),
        definition,
        True,
        lambda v, b, _u: v <= b * (1 - definition.platelet_decline_fraction),
        f"decline >= {definition.platelet_decline_fraction:.0%}",
        "x 10^9/L",
    )
    albumin = _lab_indicator(
        "albumin",
        lab_base.get("albumin"),
        late(labs.get("albumin", [])),
        definition,
        True,
        lambda v, b, _u: v <= b - definition.albumin_decline_g_dl,
        f"decline >= {definition.albumin_decline_g_dl:g} g/dL",
        "g/dL",
    )
    bilirubin = _lab_indicator(
        "bilirubin",
        lab_base.get("bilirubin"),
        late(labs.get("bilirubin", [])),
        definition,
        False,
        lambda v, b, u: v >= b * definition.bilirubin_rise_factor and (u is None or v > u),
        f"rise >= {definition.bilirubin_rise_factor:g} x baseline and > ULN",
        "mg/dL",
    )
    # new ascites
    base_ascites = obs_base.get("ascites")
    assessed = late(observations.get("ascites", []))
    if base_ascites is None:
        new_ascites = Indicator(present=None, detail="no baseline ascites assessment")
    elif base_ascites != "none":
        new_ascites = Indicator(present=None, detail=f"ascites at baseline ({base_ascites})")
    elif not assessed:
        new_ascites = Indicator(
            present=None, detail=f"no ascites assessment after {definition.min_days} days"
        )
    else:
        chosen = assessed[-1:] if definition.summary == "last" else assessed
        wet = [o for o in chosen if o.value in _ASCITES_PRESENT]
        new_ascites = Indicator(
            present=bool(wet),
            detail="new ascites" if wet else "no new ascites",
            date=_day(wet[0].date) if wet else None,
        )
    # spleen volume
    base_spleen = obs_base.get("spleen_volume_ml")
    volumes = late(observations.get("spleen_volume_ml", []))
    if base_spleen is None:
        spleen = Indicator(present=None, detail="no baseline spleen volume")
    elif not volumes:
        spleen = Indicator(
            present=None, detail=f"no spleen volume after {definition.min_days} days"
        )
    else:
        row = _pick(volumes, definition.summary, lowest=False)
        before, after = float(base_spleen), float(row.value)
        present = after >= before * (1 + definition.spleen_increase_fraction)
        spleen = Indicator(
            present=present,
            detail=f"spleen {before:g} -> {after:g} mL ({after / before - 1:+.0%}; threshold "
            f"+{definition.spleen_increase_fraction:.0%})",
            date=_day(row.date) if present else None,
        )
    return ChronicIndicators(
        platelet_decline=platelets,
        albumin_decline=albumin,
        bilirubin_rise=bilirubin,
        new_ascites=new_ascites,
        spleen_increase=spleen,
    )


def patient_toxicity(
    data: CohortData,
    *,
    version: CtcaeVersion | str = "5.0",
    baseline_window_days: int = 90,
    reild: ReildDefinition | None = None,
    chronic: ChronicDefinition | None = None,
) -> tuple[PatientToxicity, ...]:
    """Toxicity of every patient after the index treatment.

    Parameters
    ----------
    data
        The cohort (patients, labs, observations).
    version
        CTCAE version.
    baseline_window_days
        How far before the treatment a baseline may lie.
    reild, chronic
        Definitions (defaults: :class:`ReildDefinition`,
        :class:`ChronicDefinition`).

    Returns
    -------
    tuple of PatientToxicity
        In the order of the patients table.
    """
    which = _version(version)
    window = _check_window(baseline_window_days)
    reild_def = reild or ReildDefinition()
    chronic_def = chronic or ChronicDefinition()
    grades = _split(
        lab_grades(data, version=which, baseline_window_days=window),
        "analyte",
        lambda r: _Graded(
            r.date,
            int(r.day),
            str(r.phase),
            float(r.value),
            _or_none(r.uln),
            None if pd.isna(r.grade) else int(r.grade),
        ),
    )
    labs = _split(data.labs, "analyte", lambda r: _Lab(r.date, float(r.value), _or_none(r.uln)))
    observations = _split(data.observations, "kind", lambda r: _Observation(r.date, str(r.value)))
    treatment = data.patients.set_index("patient_id")["treatment_date"]
    lab_base: dict[str, dict[str, float]] = {}
    for r in _baselines(data.labs, "analyte", treatment, window).itertuples():
        lab_base.setdefault(str(r.patient_id), {})[str(r.analyte)] = float(r.value)
    obs_base: dict[str, dict[str, str]] = {}
    for r in _baselines(data.observations, "kind", treatment, window).itertuples():
        obs_base.setdefault(str(r.patient_id), {})[str(r.kind)] = str(r.value)
    out: list[PatientToxicity] = []
    for patient in data.patients.itertuples():
        pid = str(patient.patient_id)
        followup_end = max(
            d for d in (patient.last_followup_date, patient.death_date) if not pd.isna(d)
        )
        analytes = tuple(_analyte_toxicity(a, grades.get((pid, a), [])) for a in ANALYTES)
        out.append(
            PatientToxicity(
                patient_id=pid,
                modality=str(patient.modality),
                treatment_date=_day(patient.treatment_date),
                followup_days=int((followup_end - patient.treatment_date).days),
                analytes=analytes,
                reild=_reild(
                    patient,
                    grades.get((pid, "bilirubin"), []),
                    observations.get((pid, "ascites"), []),
                    reild_def,
                ),
                chronic=_chronic(
                    patient,
                    followup_end,
                    {a: labs.get((pid, a), []) for a in ("platelets", "albumin", "bilirubin")},
                    lab_base.get(pid, {}),
                    {k: observations.get((pid, k), []) for k in ("ascites", "spleen_volume_ml")},
                    obs_base.get(pid, {}),
                    chronic_def,
                ),
                ctcae_version=which,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------
# per cohort


def _rate(values: Sequence[bool | None]) -> Rate:
    known = [v for v in values if v is not None]
    present = sum(1 for v in known if v)
    return Rate(
        n_evaluable=len(known),
        n_present=present,
        rate=present / len(known) if known else None,
    )


def _cohort(group: str, patients: Sequence[PatientToxicity]) -> CohortToxicity:
    grades: list[GradeCounts] = []
    for name in ANALYTES:
        entries = [p.analyte(name) for p in patients]
        worst = [e.worst_grade for e in entries if e.worst_grade is not None]
        counts = tuple(sum(1 for w in worst if w == g) for g in range(5))
        grades.append(
            GradeCounts(
                analyte=name,
                n_evaluable=len(worst),
                by_grade=(counts[0], counts[1], counts[2], counts[3], counts[4]),
                grade3plus=_rate(
                    [None if e.worst_grade is None else e.worst_grade >= 3 for e in entries]
                ),
                worsened=_rate([e.worsened for e in entries]),
            )
        )
    return CohortToxicity(
        group=group,
        n_patients=len(patients),
        grades=tuple(grades),
        reild=_rate([p.reild.present for p in patients]),
        chronic={
            name: _rate([getattr(p.chronic, name).present for p in patients]) for name in _CHRONIC
        },
        chronic_any=_rate([p.chronic.any_present for p in patients]),
    )


def toxicity_report(
    data: CohortData,
    *,
    by: str | None = None,
    version: CtcaeVersion | str = "5.0",
    baseline_window_days: int = 90,
    reild: ReildDefinition | None = None,
    chronic: ChronicDefinition | None = None,
) -> ToxicityReport:
    """Per-patient toxicity and its cohort summary (counts and rates).

    Parameters
    ----------
    data
        The cohort.
    by
        A patients column to summarise by as well (e.g. ``"modality"``,
        ``"device"``, ``"prior_prrt"``), or ``None``.
    version, baseline_window_days, reild, chronic
        As for :func:`patient_toxicity`.

    Returns
    -------
    ToxicityReport
        Rates have as denominator the patients in whom the finding is
        evaluable.

    Raises
    ------
    InputError
        If ``by`` is not a patients column.
    """
    if by is not None and by not in data.patients.columns:
        raise InputError([("by", f"{by!r} is not a patients column")])
    reild_def = reild or ReildDefinition()
    chronic_def = chronic or ChronicDefinition()
    which = _version(version)
    patients = patient_toxicity(
        data,
        version=which,
        baseline_window_days=baseline_window_days,
        reild=reild_def,
        chronic=chronic_def,
    )
    groups: list[CohortToxicity] = []
    if by is not None:
        labels = data.patients[by].astype("string").fillna("(missing)")
        for label in sorted(set(labels)):
            members = [p for p, lab in zip(patients, labels, strict=True) if lab == label]
            groups.append(_cohort(str(label), members))
    return ToxicityReport(
        patients=patients,
        overall=_cohort("all", patients),
        by=by,
        groups=tuple(groups),
        ctcae_version=which,
        baseline_window_days=baseline_window_days,
        reild_definition=reild_def,
        chronic_definition=chronic_def,
        provenance=provenance(
            data.digest(),
            by=by,
            version=which.value,
            baseline_window_days=baseline_window_days,
            reild=reild_def.model_dump(),
            chronic=chronic_def.model_dump(),
        ),
    )
