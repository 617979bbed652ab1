"""Survival after liver-directed therapy: Kaplan-Meier, log-rank and Cox regression.

Endpoints
---------
Time zero is ``treatment_date``; times are in months (days / 30.4375, i.e.
365.25 / 12).  Patients without an event are censored at
``last_followup_date``.

``os``
    Overall survival: the event is death (``death_date``).
``hepatic_pfs``
    Hepatic progression-free survival: the event is the first of hepatic
    progression (``hepatic_progression_date``) and death.
``pfs``
    Progression-free survival: the event is the first of progression anywhere
    (``progression_date``), hepatic progression (which is progression too) and
    death.

Death counts as an event for both progression-free endpoints (a death without
recorded progression is not censored).

Strata
------
``grade``, ``primary_site``, ``modality``, ``sex``, ``ecog``,
``extrahepatic_disease``: the patient's value.
``device``: ``resin`` or ``glass`` (the ``device`` column, else the modality
``tare_resin`` / ``tare_glass``); patients without a radioembolization device
are left out of this stratification.
``tumour_burden``: hepatic tumour burden in bands cut at
``burden_cuts_percent`` (default 25 and 50 %, bands ``<= 25 %``, ``> 25-50 %``
and ``> 50 %``; a burden exactly on a cut belongs to the lower band).  The
cuts are netlm choices [U]: the seeds name low hepatic tumour burden as
prognostic (seed 004, Survival; seed 001, §6.2, Saxena et al.) and use 50 % and
70 % as selection limits (seed 004, Exclusion Criteria), but give no
prognostic cut.
``prior_prrt``: ``prior PRRT`` / ``no prior PRRT``.
Patients whose stratum value is missing are left out and counted.

Medians and their confidence intervals are lifelines' (the Kaplan-Meier
median and the interval where the pointwise exponential-Greenwood band of the
survival function crosses 0.5).  A median that is not reached is ``None``; so
is a confidence limit that is not reached.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import warnings
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times
from pydantic import BaseModel, ConfigDict

from netlm.errors import InputError
from netlm.outcomes.data import AnalysisProvenance, CohortData, provenance
from netlm.results import ResultModel
from netlm.units import DAYS_PER_MONTH, S_PER_DAY

__all__ = [
    "COX_ENCODING",
    "DEFAULT_BURDEN_CUTS_PERCENT",
    "DEFAULT_COX_COVARIATES",
    "STRATA",
    "CoxResult",
    "CoxTerm",
    "Endpoint",
    "LogRankResult",
    "StratumSurvival",
    "SurvivalResult",
    "SurvivalRow",
    "cox",
    "kaplan_meier",
    "logrank",
    "survival_times",
]


#: Default tumour-burden cuts in percent of the liver [U] (see module docstring).
DEFAULT_BURDEN_CUTS_PERCENT: Final = (25.0, 50.0)

#: The prognostic factors seed 004 (Survival, last paragraph: "female gender,
#: well-differentiated tumor, low Ki-67, good performance status, low hepatic
#: tumor burden, and absence of extrahepatic metastases") and seed 001 (§6.2,
#: Saxena et al.) name.
DEFAULT_COX_COVARIATES: Final = (
    "sex",
    "grade",
    "ki67_percent",
    "ecog",
    "tumour_burden",
    "extrahepatic_disease",
)


class Endpoint(StrEnum):
    """A time-to-event endpoint."""

    OS = "os"
    HEPATIC_PFS = "hepatic_pfs"
    PFS = "pfs"

    @property
    def label(self) -> str:
        """A human-readable name."""
        return _ENDPOINT_LABELS[self]


_ENDPOINT_LABELS: Final = {
    Endpoint.OS: "Overall survival",
    Endpoint.HEPATIC_PFS: "Hepatic progression-free survival",
    Endpoint.PFS: "Progression-free survival",
}
_EVENT_COLUMNS: Final[dict[Endpoint, tuple[str, ...]]] = {
    Endpoint.OS: ("death_date",),
    Endpoint.HEPATIC_PFS: ("hepatic_progression_date", "death_date"),
    Endpoint.PFS: ("progression_date", "hepatic_progression_date", "death_date"),
}


def _endpoint(endpoint: Endpoint | str) -> Endpoint:
    try:
        return Endpoint(endpoint)
    except ValueError:
        raise InputError(
            [
                (
                    "endpoint",
                    f"must be one of {', '.join(e.value for e in Endpoint)}, not {endpoint!r}",
                )
            ]
        ) from None


def survival_times(data: CohortData, endpoint: Endpoint | str = "os") -> pd.DataFrame:
    """Time to event for every patient.

    Parameters
    ----------
    data
        The cohort.
    endpoint
        ``"os"``, ``"hepatic_pfs"`` or ``"pfs"`` (see module docstring).

    Returns
    -------
    pandas.DataFrame
        The patients table with two more columns: ``time_months`` (float,
        >= 0) and ``event`` (bool).
    """
    which = _endpoint(endpoint)
    patients = data.patients
    start = patients["treatment_date"]
    event_date = pd.concat([patients[c] for c in _EVENT_COLUMNS[which]], axis=1).min(axis=1)
    event = event_date.notna()
    end = event_date.where(event, patients["last_followup_date"])
    days = (end - start).dt.total_seconds() / S_PER_DAY
    out = patients.copy()
    out["time_months"] = (days / DAYS_PER_MONTH).astype(float)
    out["event"] = event.astype(bool)
    return out


# ---------------------------------------------------------------------------
# strata

_GRADE_ORDER: Final = ("NET G1", "NET G2", "NET G3", "NEC")


def _burden_bands(cuts: Sequence[float]) -> list[str]:
    edges = [float(c) for c in cuts]
    labels = [f"<= {edges[0]:g} %"]
    labels += [f"> {a:g}-{b:g} %" for a, b in itertools.pairwise(edges)]
    labels.append(f"> {edges[-1]:g} %")
    return labels


def _check_cuts(cuts: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(c) for c in cuts)
    if (
        not values
        or any(not math.isfinite(c) or not 0 < c < 100 for c in values)
        or any(b <= a for a, b in itertools.pairwise(values))
    ):
        raise InputError(
            [("burden_cuts_percent", f"must be increasing numbers in (0, 100), not {cuts!r}")]
        )
    return values


def _burden_labels(percent: pd.Series, cuts: Sequence[float]) -> pd.Series:
    labels = _burden_bands(cuts)
    bins = [-math.inf, *cuts, math.inf]
    banded = pd.cut(percent.astype(float), bins=bins, labels=labels, right=True)
    return banded.astype("string")


def _device_labels(patients: pd.DataFrame) -> pd.Series:
    from_modality = patients["modality"].map({"tare_resin": "resin", "tare_glass": "glass"})
    return patients["device"].fillna(from_modality.astype("string")).astype("string")


def _strata_labels(
    patients: pd.DataFrame, strata: str, cuts: Sequence[float]
) -> tuple[pd.Series, list[str] | None]:
    """The stratum of each patient (``<NA>`` if unknown) and a preferred order."""
    if strata == "tumour_burden":
        return _burden_labels(patients["tumour_burden_percent"], cuts), _burden_bands(cuts)
    if strata == "device":
        return _device_labels(patients), ["resin", "glass"]
    if strata == "prior_prrt":
        mapped = patients["prior_prrt"].map({True: "prior PRRT", False: "no prior PRRT"})
        return mapped.astype("string"), ["no prior PRRT", "prior PRRT"]
    if strata == "grade":
        return patients["grade"].astype("string"), list(_GRADE_ORDER)
    if strata == "ecog":
        return patients["ecog"].astype("string"), ["0", "1", "2", "3", "4"]
    if strata == "extrahepatic_disease":
        return patients[strata].astype("string"), ["none", "limited", "extensive"]
    if strata == "sex":
        return patients[strata].astype("string"), ["female", "male"]
    return patients[strata].astype("string"), None


#: Names accepted as ``strata``.
STRATA: Final = (
    "grade",
    "primary_site",
    "modality",
    "device",
    "tumour_burden",
    "prior_prrt",
    "sex",
    "ecog",
    "extrahepatic_disease",
)


def _check_strata(strata: str | None) -> str | None:
    if strata is not None and strata not in STRATA:
        raise InputError(
            [("strata", f"must be one of {', '.join(STRATA)} or None, not {strata!r}")]
        )
    return strata


# ---------------------------------------------------------------------------
# results


class SurvivalRow(BaseModel):
    """One row of a Kaplan-Meier table: the estimate just after ``time_months``."""

    model_config = ConfigDict(frozen=True)

    time_months: float
    at_risk: int
    events: int
    censored: int
    survival: float
    ci_lower: float
    ci_upper: float


class StratumSurvival(BaseModel):
    """The Kaplan-Meier estimate of one stratum (or of the whole cohort).

    Attributes
    ----------
    label
        The stratum value, or ``"all"``.
    n, events
        Patients and events.
    median_months
        The Kaplan-Meier median, ``None`` if not reached.
    median_ci_lower_months, median_ci_upper_months
        Its confidence interval (lifelines); ``None`` where a limit is not
        reached.
    table
        The survival table at every distinct time.
    durations_months, observed
        The data (to refit or plot).
    """

    model_config = ConfigDict(frozen=True)

    label: str
    n: int
    events: int
    median_months: float | None
    median_ci_lower_months: float | None
    median_ci_upper_months: float | None
    table: tuple[SurvivalRow, ...]
    durations_months: tuple[float, ...]
    observed: tuple[bool, ...]

    def fitter(self, confidence: float = 0.95) -> Any:
        """A lifelines ``KaplanMeierFitter`` fitted to this stratum."""
        return KaplanMeierFitter(alpha=1.0 - confidence).fit(
            np.asarray(self.durations_months, dtype=float),
            np.asarray(self.observed, dtype=bool),
            label=self.label,
        )

    def survival_at(self, time_months: float) -> float:
        """The Kaplan-Meier survival probability at ``time_months``."""
        survival = 1.0
        for row in self.table:
            if row.time_months > time_months:
                break
            survival = row.survival
        return survival


class LogRankResult(BaseModel):
    """A log-rank test across strata (lifelines ``multivariate_logrank_test``)."""

    model_config = ConfigDict(frozen=True)

    endpoint: Endpoint
    strata: str
    groups: tuple[str, ...]
    test_statistic: float
    degrees_of_freedom: int
    p_value: float


class SurvivalResult(ResultModel):
    """Kaplan-Meier estimates of one endpoint, overall or by stratum.

    Attributes
    ----------
    endpoint
        The endpoint.
    strata
        The stratification, or ``None``.
    confidence
        The confidence level of every interval.
    groups
        One entry per stratum (in a clinical order where there is one), or a
        single ``"all"`` entry.
    n_excluded
        Patients left out because their stratum value is missing.
    logrank
        The log-rank test across strata when there are two or more.
    definition
        How the endpoint was measured.
    provenance
        Inputs digest and parameters.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: Endpoint
    strata: str | None
    time_unit: str = "months"
    confidence: float
    groups: tuple[StratumSurvival, ...]
    n_excluded: int
    logrank: LogRankResult | None
    definition: str
    provenance: AnalysisProvenance

    def table_rows(self) -> list[dict[str, Any]]:
        """The Kaplan-Meier tables of every stratum, one row per time (``to_pandas()``)."""
        return [{"stratum": g.label} | row.model_dump() for g in self.groups for row in g.table]

    def group(self, label: str) -> StratumSurvival:
        """The stratum called ``label``."""
        for g in self.groups:
            if g.label == label:
                return g
        raise KeyError(f"no stratum {label!r}; have {', '.join(g.label for g in self.groups)}")


def _definition(endpoint: Endpoint) -> str:
    events = " or ".join(c.removesuffix("_date") for c in _EVENT_COLUMNS[endpoint])
    return (
        f"{endpoint.label}: months (days / {DAYS_PER_MONTH:g}) from treatment_date to the first "
        f"of {events}; censored at last_followup_date"
    )


def _none_if_inf(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _stratum(
    label: str, durations: np.ndarray[Any, Any], observed: np.ndarray[Any, Any], confidence: float
) -> StratumSurvival:
    kmf = KaplanMeierFitter(alpha=1.0 - confidence).fit(durations, observed, label=label)
    ci = median_survival_times(kmf.confidence_interval_survival_function_)
    table = kmf.event_table
    survival = kmf.survival_function_.iloc[:, 0]
    bands = kmf.confidence_interval_survival_function_
    rows = tuple(
        SurvivalRow(
            time_months=float(t),
            at_risk=int(table.loc[t, "at_risk"]),
            events=int(table.loc[t, "observed"]),
            censored=int(table.loc[t, "censored"]),
            survival=float(survival.loc[t]),
            ci_lower=float(bands.iloc[i, 0]),
            ci_upper=float(bands.iloc[i, 1]),
        )
        for i, t in enumerate(table.index)
    )
    return StratumSurvival(
        label=label,
        n=len(durations),
        events=int(observed.sum()),
        median_months=_none_if_inf(kmf.median_survival_time_),
        median_ci_lower_months=_none_if_inf(ci.iloc[0, 0]),
        median_ci_upper_months=_none_if_inf(ci.iloc[0, 1]),
        table=rows,
        durations_months=tuple(float(d) for d in durations),
        observed=tuple(bool(e) for e in observed),
    )


def _check_confidence(confidence: float) -> float:
    if not isinstance(confidence, float | int) or not 0.5 <= float(confidence) < 1.0:
        raise InputError([("confidence", f"must be in [0.5, 1), not {confidence!r}")])
    return float(confidence)


def _grouped(
    data: CohortData, endpoint: Endpoint, strata: str | None, cuts: Sequence[float]
) -> tuple[pd.DataFrame, list[str], int]:
    frame = survival_times(data, endpoint)
    if strata is None:
        frame["stratum"] = "all"
        return frame, ["all"], 0
    labels, order = _strata_labels(frame, strata, cuts)
    frame["stratum"] = labels
    excluded = int(frame["stratum"].isna().sum())
    frame = frame[frame["stratum"].notna()].copy()
    present = sorted(set(frame["stratum"]))
    ordered = [g for g in (order or []) if g in present] + [
        g for g in present if g not in (order or [])
    ]
    return frame, ordered, excluded


def _digest(frame: pd.DataFrame) -> str:
    payload = frame[["patient_id", "time_months", "event", "stratum"]].to_csv(index=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def kaplan_meier(
    data: CohortData,
    endpoint: Endpoint | str = "os",
    strata: str | None = None,
    *,
    burden_cuts_percent: Sequence[float] = DEFAULT_BURDEN_CUTS_PERCENT,
    confidence: float = 0.95,
) -> SurvivalResult:
    """Kaplan-Meier estimate of an endpoint, overall or by stratum.

    Parameters
    ----------
    data
        The cohort.
    endpoint
        ``"os"``, ``"hepatic_pfs"`` or ``"pfs"``.
    strata
        One of :data:`STRATA`, or ``None`` for the whole cohort.
    burden_cuts_percent
        Cuts of the ``tumour_burden`` bands.
    confidence
        Confidence level of the intervals (default 0.95).

    Returns
    -------
    SurvivalResult
        Per stratum: n, events, median with its confidence interval and the
        survival table; the log-rank test when there are two or more strata.

    Raises
    ------
    InputError
        For an unknown endpoint or stratification, bad cuts, or when no
        patient is left to analyse.
    """
    which = _endpoint(endpoint)
    strata = _check_strata(strata)
    cuts = _check_cuts(burden_cuts_percent)
    level = _check_confidence(confidence)
    frame, order, excluded = _grouped(data, which, strata, cuts)
    if frame.empty:
        raise InputError([("strata", f"no patient has a value for {strata!r}")])
    groups = tuple(
        _stratum(
            label,
            frame.loc[frame["stratum"] == label, "time_months"].to_numpy(dtype=float),
            frame.loc[frame["stratum"] == label, "event"].to_numpy(dtype=bool),
            level,
        )
        for label in order
    )
    test = _logrank(frame, which, strata) if strata is not None and len(order) > 1 else None
    return SurvivalResult(
        endpoint=which,
        strata=strata,
        confidence=level,
        groups=groups,
        n_excluded=excluded,
        logrank=test,
        definition=_definition(which),
        provenance=provenance(
            _digest(frame),
            endpoint=which.value,
            strata=strata,
            burden_cuts_percent=cuts,
            confidence=level,
        ),
    )


def _logrank(frame: pd.DataFrame, endpoint: Endpoint, strata: str) -> LogRankResult:
    result = multivariate_logrank_test(
        frame["time_months"].to_numpy(dtype=float),
        frame["stratum"].astype(str).to_numpy(),
        frame["event"].to_numpy(dtype=bool),
    )
    groups = tuple(sorted(set(frame["stratum"].astype(str))))
    return LogRankResult(
        endpoint=endpoint,
        strata=strata,
        groups=groups,
        test_statistic=float(result.test_statistic),
        degrees_of_freedom=int(result.degrees_of_freedom),
        p_value=float(result.p_value),
    )


def logrank(
    data: CohortData,
    endpoint: Endpoint | str = "os",
    strata: str = "grade",
    *,
    burden_cuts_percent: Sequence[float] = DEFAULT_BURDEN_CUTS_PERCENT,
) -> LogRankResult:
    """Log-rank test of equal survival across the strata.

    Raises
    ------
    InputError
        For an unknown endpoint or stratification, or fewer than two strata.
    """
    which = _endpoint(endpoint)
    checked = _check_strata(strata)
    if checked is None:
        raise InputError([("strata", "a log-rank test needs a stratification")])
    frame, order, _ = _grouped(data, which, checked, _check_cuts(burden_cuts_percent))
    if len(order) < 2:
        raise InputError([("strata", f"{checked!r} has fewer than two groups with data")])
    return _logrank(frame, which, checked)


# ---------------------------------------------------------------------------
# Cox regression


class CoxTerm(BaseModel):
    """One term of a Cox model.

    Attributes
    ----------
    term
        The model column, e.g. ``"sex[male]"`` or ``"ki67_per_10_percent"``.
    covariate
        The covariate it encodes (``"sex"``).
    encoding
        What a unit of the term means (``"male vs female"``, ``"per 10
        percentage points"``).
    hazard_ratio, ci_lower, ci_upper
        exp(coef) and its Wald confidence interval.
    p_value
        Wald test.
    coef, se
        Log hazard ratio and its standard error.
    """

    model_config = ConfigDict(frozen=True)

    term: str
    covariate: str
    encoding: str
    hazard_ratio: float
    ci_lower: float
    ci_upper: float
    p_value: float
    coef: float
    se: float


class CoxResult(BaseModel):
    """A Cox proportional-hazards model (lifelines ``CoxPHFitter``).

    Attributes
    ----------
    endpoint
        The endpoint.
    covariates
        The covariates asked for.
    n, events
        Patients and events in the model.
    n_dropped_missing
        Patients dropped because a covariate (or the endpoint) was missing.
    dropped_terms
        Terms left out because they were constant among the patients kept
        (``"grade[NEC]: no patient"``).
    terms
        Hazard ratios.
    concordance
        Harrell's C.
    log_likelihood_ratio_p
        p-value of the likelihood-ratio test of the whole model.
    confidence
        Level of the intervals.
    provenance
        Inputs digest and parameters.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: Endpoint
    covariates: tuple[str, ...]
    n: int
    events: int
    n_dropped_missing: int
    dropped_terms: tuple[str, ...]
    terms: tuple[CoxTerm, ...]
    concordance: float
    log_likelihood_ratio_p: float
    confidence: float
    provenance: AnalysisProvenance

    def term(self, name: str) -> CoxTerm:
        """The term called ``name``."""
        for t in self.terms:
            if t.term == name:
                return t
        raise KeyError(f"no term {name!r}; have {', '.join(t.term for t in self.terms)}")


#: (term name, encoding, column) for one covariate; column NaN where missing.
_Encoded = list[tuple[str, str, pd.Series]]


def _dummies(values: pd.Series, covariate: str, order: Sequence[str] | None) -> _Encoded:
    """Indicator columns, reference = the first level of ``order`` present (else the
    most frequent level)."""
    present = values.dropna().astype(str)
    levels = [v for v in (order or []) if v in set(present)]
    if not levels:
        counts = present.value_counts()
        levels = sorted(counts.index, key=lambda v: (-int(counts[v]), v))
    others = [v for v in sorted(set(present)) if v not in levels]
    levels += others
    if not levels:
        return []
    reference = levels[0]
    missing = values.isna().to_numpy()
    out: _Encoded = []
    for level in levels[1:]:
        column = pd.Series(
            (values.astype(str) == level).astype(float).to_numpy(), index=values.index
        )
        column[missing] = np.nan
        out.append((f"{covariate}[{level}]", f"{level} vs {reference}", column))
    return out


def _scaled(values: pd.Series, per: float) -> pd.Series:
    return values.astype(float) / per


def _encode(patients: pd.DataFrame, covariate: str, cuts: Sequence[float]) -> _Encoded:
    if covariate == "sex":
        return _dummies(patients["sex"], "sex", ["female", "male"])
    if covariate == "grade":
        return _dummies(patients["grade"], "grade", list(_GRADE_ORDER))
    if covariate == "ki67_percent":
        return [
            (
                "ki67_per_10_percent",
                "per 10 percentage points of Ki-67",
                _scaled(patients["ki67_percent"], 10.0),
            )
        ]
    if covariate == "ecog":
        return [("ecog", "per ECOG point", patients["ecog"].astype("Float64").astype(float))]
    if covariate == "tumour_burden":
        labels = _burden_labels(patients["tumour_burden_percent"], cuts)
        return _dummies(labels, "tumour_burden", _burden_bands(cuts))
    if covariate == "tumour_burden_percent":
        return [
            (
                "tumour_burden_per_10_percent",
                "per 10 percentage points of burden",
                _scaled(patients["tumour_burden_percent"], 10.0),
            )
        ]
    if covariate == "extrahepatic_disease":
        return _dummies(patients[covariate], covariate, ["none", "limited", "extensive"])
    if covariate == "prior_prrt":
        return _dummies(
            patients["prior_prrt"].map({True: "yes", False: "no"}), covariate, ["no", "yes"]
        )
    if covariate == "device":
        return _dummies(_device_labels(patients), "device", ["resin", "glass"])
    if covariate == "age_years":
        return [("age_per_10_years", "per 10 years of age", _scaled(patients["age_years"], 10.0))]
    if covariate in ("primary_site", "modality"):
        return _dummies(patients[covariate], covariate, ["small_intestine"])
    if covariate in patients.columns:
        column = patients[covariate]
        if pd.api.types.is_bool_dtype(column.dtype):
            return [(covariate, "true vs false", column.astype("Float64").astype(float))]
        numbers = pd.to_numeric(column, errors="coerce")
        if numbers.notna().sum() == column.notna().sum():
            return [(covariate, "per unit", numbers.astype(float))]
        return _dummies(column.astype("string"), covariate, None)
    raise InputError([("covariates", f"unknown covariate {covariate!r}")])


#: How each named covariate enters the Cox model.
COX_ENCODING: Final[dict[str, str]] = {
    "sex": "indicator sex[male], reference female",
    "grade": "indicators grade[NET G2], grade[NET G3], grade[NEC], reference NET G1",
    "ki67_percent": "continuous, per 10 percentage points",
    "ecog": "continuous, per ECOG point (0-4)",
    "tumour_burden": "indicators of the burden bands, reference the lowest band",
    "tumour_burden_percent": "continuous, per 10 percentage points",
    "extrahepatic_disease": "indicators limited and extensive, reference none",
    "prior_prrt": "indicator prior_prrt[yes], reference no",
    "device": "indicator device[glass], reference resin (patients without a device dropped)",
    "age_years": "continuous, per 10 years",
    "primary_site": "indicators, reference small_intestine (else the most frequent site)",
    "modality": "indicators, reference the most frequent modality",
}


def cox(
    data: CohortData,
    endpoint: Endpoint | str = "os",
    covariates: Sequence[str] = DEFAULT_COX_COVARIATES,
    *,
    burden_cuts_percent: Sequence[float] = DEFAULT_BURDEN_CUTS_PERCENT,
    confidence: float = 0.95,
    penalizer: float = 0.0,
) -> CoxResult:
    """Cox proportional-hazards regression of an endpoint on prognostic factors.

    Parameters
    ----------
    data
        The cohort.
    endpoint
        ``"os"`` (default), ``"hepatic_pfs"`` or ``"pfs"``.
    covariates
        Covariate names; the default is :data:`DEFAULT_COX_COVARIATES`.  How
        each enters the model is :data:`COX_ENCODING`; any other patients
        column is used as is (boolean: indicator; numeric: per unit; text:
        indicators against the most frequent value).  Grade and Ki-67 are
        related (the WHO grade is defined by Ki-67), so their separate hazard
        ratios are adjusted for each other.
    burden_cuts_percent
        Cuts of the ``tumour_burden`` bands.
    confidence
        Level of the hazard-ratio intervals.
    penalizer
        lifelines' L2 penalizer (0 = plain partial likelihood).

    Returns
    -------
    CoxResult
        Hazard ratios with confidence intervals and p-values; patients with a
        missing covariate are dropped and counted.

    Raises
    ------
    InputError
        For an unknown covariate, or when fewer than two events remain.
    """
    which = _endpoint(endpoint)
    level = _check_confidence(confidence)
    cuts = _check_cuts(burden_cuts_percent)
    names = tuple(dict.fromkeys(covariates))
    if not names:
        raise InputError([("covariates", "at least one covariate is needed")])
    if not isinstance(penalizer, float | int) or penalizer < 0:
        raise InputError([("penalizer", f"must be >= 0, not {penalizer!r}")])
    frame = survival_times(data, which)
    encoded: _Encoded = []
    covariate_of: dict[str, str] = {}
    for name in names:
        for term, encoding, column in _encode(frame, name, cuts):
            encoded.append((term, encoding, column))
            covariate_of[term] = name
    design = pd.DataFrame({term: column for term, _, column in encoded}, index=frame.index)
    design["time_months"] = frame["time_months"]
    design["event"] = frame["event"].astype(float)
    complete = design.notna().all(axis=1)
    dropped_missing = int((~complete).sum())
    design = design[complete]
    dropped_terms: list[str] = []
    kept: list[tuple[str, str]] = []
    for term, encoding, _ in encoded:
        if design[term].nunique() < 2:
            dropped_terms.append(f"{term}: constant among the patients kept")
            design = design.drop(columns=term)
        else:
            kept.append((term, encoding))
    events = int(design["event"].sum())
    if not kept or events < 2:
        raise InputError(
            [
                (
                    "covariates",
                    f"nothing to fit: {len(design)} patients, {events} events, "
                    f"{len(kept)} usable terms",
                )
            ]
        )
    fitter = CoxPHFitter(alpha=1.0 - level, penalizer=float(penalizer))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        fitter.fit(design, duration_col="time_months", event_col="event")
    summary = fitter.summary
    lower = next(c for c in summary.columns if c.startswith("exp(coef) lower"))
    upper = next(c for c in summary.columns if c.startswith("exp(coef) upper"))
    terms = tuple(
        CoxTerm(
            term=term,
            covariate=covariate_of[term],
            encoding=encoding,
            hazard_ratio=float(summary.loc[term, "exp(coef)"]),
            ci_lower=float(summary.loc[term, lower]),
            ci_upper=float(summary.loc[term, upper]),
            p_value=float(summary.loc[term, "p"]),
            coef=float(summary.loc[term, "coef"]),
            se=float(summary.loc[term, "se(coef)"]),
        )
        for term, encoding in kept
    )
    lr = fitter.log_likelihood_ratio_test()
    digest = hashlib.sha256(design.to_csv().encode()).hexdigest()
    return CoxResult(
        endpoint=which,
        covariates=names,
        n=len(design),
        events=events,
        n_dropped_missing=dropped_missing,
        dropped_terms=tuple(dropped_terms),
        terms=terms,
        concordance=float(fitter.concordance_index_),
        log_likelihood_ratio_p=float(lr.p_value),
        confidence=level,
        provenance=provenance(
            digest,
            endpoint=which.value,
            covariates=names,
            burden_cuts_percent=cuts,
            penalizer=float(penalizer),
        ),
    )
