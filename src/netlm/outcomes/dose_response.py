"""Dose-response: tumour dose vs response, normal-liver dose vs hepatotoxicity.

The analysis that gave the published NET thresholds (seed 004, Dosimetry:
Chansanti et al., resin microspheres, partition model on 99mTc-MAA SPECT/CT:
"an estimated tumor-absorbed dose ≥191.3 Gy predicted response by ... mRECIST";
"An absorbed tumor dose less than 72.8 Gy predicted no response"; source
``net_resin_response_004``) and the normal-liver figures (seed 004, Toxicity:
Zuckerman et al., 25.4 Gy without vs 59.1 Gy with hepatotoxicity; source
``net_normal_liver_004``), on a centre's own data:

1. **Logistic model.**  P(positive | dose) = 1 / (1 + exp(-(b0 + b1 dose))),
   fitted by maximum likelihood (scikit-learn's ``LogisticRegression`` without
   penalty, on the standardised dose).  If the doses of positives and negatives do not overlap
   (complete or quasi-complete separation) the maximum-likelihood slope is
   infinite: the slope and the dose for a probability are then ``None`` and a
   :class:`DoseResponseWarning` is issued.
2. **ROC and Youden threshold.**  A unit is called positive when its dose is
   at or above the threshold.  The threshold maximises Youden's J =
   sensitivity + specificity - 1 over all cuts between adjacent distinct
   observed doses; it is reported midway between the two doses the cut falls
   between (the classification of the data is the same anywhere in that gap).
   Ties in J go to the lowest dose (the most sensitive cut).  If no cut has
   J > 0 the dose does not separate the outcomes in this direction; the
   result says so (note and warning).  The ROC curve and the AUC are
   scikit-learn's (``roc_curve``, ``roc_auc_score``); the AUC is the
   Mann-Whitney probability that a positive has the higher dose (ties count
   one half).
3. **Dose for a target probability** (default 0.5): (logit(p) - b0) / b1.
4. **Bootstrap confidence intervals** for the threshold, AUC, slope and the
   dose for the target probability: **cluster bootstrap** - patients are
   resampled with replacement and each drawn patient brings all of its
   lesions, because lesions of one patient share the patient's biology,
   imaging and treatment and are not independent.  Percentile intervals;
   the random generator is ``numpy.random.default_rng(seed)``.  Resamples
   with only one outcome class are skipped (counted); resamples with
   separation are left out of the slope and dose intervals (counted).

For normal-liver dose vs toxicity the unit is the patient, so the cluster
bootstrap is the ordinary bootstrap.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

from netlm.errors import InputError
from netlm.outcomes.data import AnalysisProvenance, CohortData, provenance
from netlm.results import ResultModel

__all__ = [
    "BootstrapSummary",
    "DoseResponseResult",
    "DoseResponseWarning",
    "Interval",
    "ResponseCriterion",
    "fit_dose_response",
    "normal_liver_dose_toxicity",
    "tumour_dose_response",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

#: Responses that count as a response (objective response).
RESPONDER: Final = frozenset({"CR", "PR"})


class DoseResponseWarning(UserWarning):
    """A dose-response result was computed but is shaky (separation, few patients)."""


class ResponseCriterion(StrEnum):
    """Which lesion response column decides responder status."""

    RECIST = "recist"
    MRECIST = "mrecist"


class Interval(BaseModel):
    """A confidence interval."""

    model_config = ConfigDict(frozen=True)

    lower: float
    upper: float

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the closed interval."""
        return self.lower <= value <= self.upper


class BootstrapSummary(BaseModel):
    """How the bootstrap went.

    Attributes
    ----------
    method
        ``"cluster (patient) percentile bootstrap"``.
    n_requested
        Resamples drawn.
    n_used
        Resamples with both outcome classes (used for threshold and AUC).
    n_single_class
        Resamples skipped because all units had the same outcome.
    n_separated
        Used resamples with separation (left out of slope and dose CIs).
    seed
        The seed of ``numpy.random.default_rng``.
    confidence
        Level of the intervals.
    """

    model_config = ConfigDict(frozen=True)

    method: str
    n_requested: int
    n_used: int
    n_single_class: int
    n_separated: int
    seed: int
    confidence: float


class DoseResponseResult(ResultModel):
    """A logistic dose-response fit with ROC, Youden threshold and bootstrap CIs.

    Attributes
    ----------
    analysis
        ``"tumour_response"``, ``"normal_liver_toxicity"`` or ``"custom"``.
    criterion
        ``"recist"`` / ``"mrecist"`` for tumour response, else ``None``.
    outcome
        What a positive unit is (``"responder (CR or PR by mRECIST)"``).
    unit
        ``"lesion"`` or ``"patient"``.
    n, n_clusters, n_positive
        Units analysed, patients they come from, positive units.
    excluded
        Units left out, by reason.
    intercept, slope_per_gy
        The logistic model (log odds; per Gy); ``slope_per_gy`` is ``None``
        under separation.
    separated
        Whether the doses of positives and negatives do not overlap.
    auc
        Area under the ROC curve.
    threshold_gy
        The Youden-optimal dose threshold (positive if dose >= threshold).
    sensitivity, specificity, youden_j
        At the threshold.
    n_at_or_above, positive_at_or_above, n_below, positive_below
        Counts on each side of the threshold (as in "25 of 26 tumors ...
        responded when absorbed dose was ≥191.3 Gy").
    target_probability, dose_at_target_gy
        The dose at which the model predicts ``target_probability``; ``None``
        under separation or a non-positive slope.
    threshold_ci, auc_ci, slope_ci, dose_at_target_ci
        Bootstrap confidence intervals (``None`` when too few resamples).
    bootstrap
        How the bootstrap went.
    roc_fpr, roc_tpr
        The ROC curve.
    doses_gy, positive
        The data analysed (for plotting).
    notes
        Warnings in words.
    provenance
        Inputs digest and parameters.
    """

    model_config = ConfigDict(frozen=True)

    analysis: Literal["tumour_response", "normal_liver_toxicity", "custom"]
    criterion: ResponseCriterion | None
    outcome: str
    unit: Literal["lesion", "patient"]
    n: int
    n_clusters: int
    n_positive: int
    excluded: dict[str, int]
    intercept: float | None
    slope_per_gy: float | None
    separated: bool
    auc: float
    threshold_gy: float
    sensitivity: float
    specificity: float
    youden_j: float
    n_at_or_above: int
    positive_at_or_above: int
    n_below: int
    positive_below: int
    target_probability: float
    dose_at_target_gy: float | None
    threshold_ci: Interval | None
    auc_ci: Interval | None
    slope_ci: Interval | None
    dose_at_target_ci: Interval | None
    bootstrap: BootstrapSummary
    roc_fpr: tuple[float, ...]
    roc_tpr: tuple[float, ...]
    doses_gy: tuple[float, ...]
    positive: tuple[bool, ...]
    notes: tuple[str, ...]
    provenance: AnalysisProvenance

    def probability(self, dose_gy: float) -> float | None:
        """The modelled probability of a positive outcome at ``dose_gy``."""
        if self.slope_per_gy is None or self.intercept is None:
            return None
        return _expit(self.intercept + self.slope_per_gy * dose_gy)


# ---------------------------------------------------------------------------
# the statistics


def _expit(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _separated(x: FloatArray, y: BoolArray) -> bool:
    """Complete or quasi-complete separation of a single covariate."""
    pos, neg = x[y], x[~y]
    return bool(pos.min() >= neg.max() or neg.min() >= pos.max())


def _logistic(x: FloatArray, y: BoolArray) -> tuple[float, float] | None:
    """Maximum-likelihood (intercept, slope) of a one-covariate logistic model.

    scikit-learn's ``LogisticRegression`` with no penalty (``C = inf``; Newton-CG on the
    standardised dose, tolerance 1e-10) does the fit. ``None`` under separation (the slope
    is infinite) or when the solver does not converge.
    """
    if _separated(x, y):
        return None
    mean, sd = float(x.mean()), float(x.std())
    if sd == 0:
        return None
    z = ((x - mean) / sd).reshape(-1, 1)
    model = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-10, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            model.fit(z, y)
        except ConvergenceWarning:
            return None
    b0, b1 = float(model.intercept_[0]), float(model.coef_[0, 0])
    return b0 - b1 * mean / sd, b1 / sd


def _auc(x: FloatArray, y: BoolArray) -> float:
    """ROC AUC (scikit-learn's ``roc_auc_score``: the Mann-Whitney statistic, ties one half)."""
    return float(roc_auc_score(y, x))


class _Youden(NamedTuple):
    threshold: float
    cut_dose: float
    sensitivity: float
    specificity: float
    j: float


def _roc_curve(x: FloatArray, y: BoolArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """scikit-learn's ROC at every distinct dose, from the highest cut down.

    Returns (false-positive rates, true-positive rates, cut doses); entry 0 is the cut above
    every dose (nothing positive), entry ``i >= 1`` calls doses ``>= cuts[i]`` positive.
    """
    fpr, tpr, cuts = roc_curve(y, x, drop_intermediate=False)
    return fpr, tpr, cuts


def _youden(x: FloatArray, y: BoolArray) -> _Youden:
    """The Youden-optimal cut between adjacent distinct doses."""
    fpr, tpr, cuts = _roc_curve(x, y)
    # cuts at every distinct dose but the lowest (which calls everything positive): entries
    # 1 .. len - 2, highest dose first; of tied maxima the lowest dose (the last) is taken
    j = (tpr - fpr)[1:-1]
    k = 1 + (len(j) - 1 - int(np.argmax(j[::-1])))
    return _Youden(
        threshold=float((cuts[k + 1] + cuts[k]) / 2.0),
        cut_dose=float(cuts[k]),
        sensitivity=float(tpr[k]),
        specificity=float(1.0 - fpr[k]),
        j=float(tpr[k] - fpr[k]),
    )


def _roc(x: FloatArray, y: BoolArray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The ROC curve from the highest cut down: (false-positive rates, true-positive rates)."""
    fpr, tpr, _ = _roc_curve(x, y)
    return tuple(float(v) for v in fpr), tuple(float(v) for v in tpr)


def _dose_at(fit: tuple[float, float] | None, probability: float) -> float | None:
    if fit is None or fit[1] <= 0:
        return None
    return (math.log(probability / (1.0 - probability)) - fit[0]) / fit[1]


def _interval(values: Sequence[float], confidence: float, minimum: int) -> Interval | None:
    if len(values) < minimum:
        return None
    alpha = 1.0 - confidence
    low, high = np.quantile(np.asarray(values, dtype=float), [alpha / 2.0, 1.0 - alpha / 2.0])
    return Interval(lower=float(low), upper=float(high))


def fit_dose_response(
    dose_gy: Sequence[float] | FloatArray,
    positive: Sequence[bool | int] | BoolArray,
    *,
    clusters: Sequence[str] | None = None,
    target_probability: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    outcome: str = "positive",
    unit: Literal["lesion", "patient"] = "lesion",
    analysis: Literal["tumour_response", "normal_liver_toxicity", "custom"] = "custom",
    criterion: ResponseCriterion | None = None,
    excluded: dict[str, int] | None = None,
) -> DoseResponseResult:
    """Logistic fit, ROC/AUC, Youden threshold and cluster-bootstrap CIs.

    Parameters
    ----------
    dose_gy
        Absorbed dose of each unit in Gy (finite, >= 0).
    positive
        Outcome of each unit (responder, toxicity).
    clusters
        The patient of each unit; ``None`` makes each unit its own cluster.
    target_probability
        The modelled probability whose dose is reported (0 < p < 1).
    n_bootstrap
        Bootstrap resamples (0 for none).
    confidence
        Level of the intervals.
    seed
        Seed of the bootstrap generator.
    outcome, unit, analysis, criterion, excluded
        Labels carried into the result.

    Returns
    -------
    DoseResponseResult

    Raises
    ------
    InputError
        For mismatched lengths, a negative or non-finite dose, fewer than two
        distinct doses, or an outcome class with no unit.

    Examples
    --------
    >>> r = fit_dose_response([50, 80, 110, 150, 190, 230], [0, 0, 1, 0, 1, 1],
    ...                       n_bootstrap=0)
    >>> r.threshold_gy, round(r.auc, 12)
    (95.0, 0.888888888889)
    """
    x = np.asarray(dose_gy, dtype=float)
    y = np.asarray(positive, dtype=bool)
    problems: list[tuple[str, str]] = []
    if x.ndim != 1 or y.shape != x.shape:
        problems.append(("positive", "must have one value per dose"))
    elif not np.all(np.isfinite(x)) or np.any(x < 0):
        problems.append(("dose_gy", "must be finite and >= 0"))
    elif len(np.unique(x)) < 2:
        problems.append(("dose_gy", "needs at least two distinct doses"))
    elif y.all() or not y.any():
        problems.append(("positive", "needs at least one positive and one negative unit"))
    if clusters is not None and len(clusters) != len(x):
        problems.append(("clusters", "must have one value per dose"))
    if not 0 < target_probability < 1:
        problems.append(("target_probability", f"must be in (0, 1), not {target_probability!r}"))
    if not 0.5 <= confidence < 1:
        problems.append(("confidence", f"must be in [0.5, 1), not {confidence!r}"))
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        problems.append(("n_bootstrap", f"must be an integer >= 0, not {n_bootstrap!r}"))
    if problems:
        raise InputError(problems)

    cluster_ids = (
        np.arange(len(x)).astype(str) if clusters is None else np.asarray(clusters, dtype=str)
    )
    _, cluster_index = np.unique(cluster_ids, return_inverse=True)
    members = [np.flatnonzero(cluster_index == c) for c in range(cluster_index.max() + 1)]
    n_clusters = len(members)

    fit = _logistic(x, y)
    separated = _separated(x, y)
    youden = _youden(x, y)
    above = x >= youden.cut_dose
    notes: list[str] = []
    if separated:
        notes.append(
            "the doses of positive and negative units do not overlap (separation): the "
            "logistic slope is infinite and not reported"
        )
    if youden.j <= 0:
        notes.append(
            "no dose cut does better than chance (Youden J <= 0): higher doses are not "
            "associated with positive outcomes here; the threshold is meaningless"
        )
    if n_bootstrap and n_clusters < 10:
        notes.append(f"only {n_clusters} patients: intervals are unreliable")

    thresholds: list[float] = []
    aucs: list[float] = []
    slopes: list[float] = []
    doses_at: list[float] = []
    single_class = separated_resamples = 0
    rng = np.random.default_rng(seed)
    for _ in range(n_bootstrap):
        drawn = rng.integers(0, n_clusters, n_clusters)
        idx = np.concatenate([members[c] for c in drawn])
        xb, yb = x[idx], y[idx]
        if yb.all() or not yb.any() or len(np.unique(xb)) < 2:
            single_class += 1
            continue
        thresholds.append(_youden(xb, yb).threshold)
        aucs.append(_auc(xb, yb))
        fit_b = _logistic(xb, yb)
        if fit_b is None:
            separated_resamples += 1
            continue
        slopes.append(fit_b[1])
        dose_b = _dose_at(fit_b, target_probability)
        if dose_b is not None:
            doses_at.append(dose_b)
    used = n_bootstrap - single_class
    minimum = max(20, n_bootstrap // 10)
    if n_bootstrap and single_class > 0.1 * n_bootstrap:
        notes.append(f"{single_class} of {n_bootstrap} resamples had a single outcome class")
    if used and separated_resamples > 0.1 * used:
        notes.append(
            f"{separated_resamples} of {used} resamples were separated: the slope and dose "
            "intervals leave them out and are too narrow"
        )
    for note in notes:
        warnings.warn(note, DoseResponseWarning, stacklevel=2)

    fpr, tpr = _roc(x, y)
    digest = hashlib.sha256(
        np.concatenate([x, y.astype(float)]).tobytes() + "\n".join(cluster_ids).encode()
    ).hexdigest()
    return DoseResponseResult(
        analysis=analysis,
        criterion=criterion,
        outcome=outcome,
        unit=unit,
        n=len(x),
        n_clusters=n_clusters,
        n_positive=int(y.sum()),
        excluded=dict(excluded or {}),
        intercept=None if fit is None else fit[0],
        slope_per_gy=None if fit is None else fit[1],
        separated=separated,
        auc=_auc(x, y),
        threshold_gy=youden.threshold,
        sensitivity=youden.sensitivity,
        specificity=youden.specificity,
        youden_j=youden.j,
        n_at_or_above=int(above.sum()),
        positive_at_or_above=int(y[above].sum()),
        n_below=int((~above).sum()),
        positive_below=int(y[~above].sum()),
        target_probability=float(target_probability),
        dose_at_target_gy=_dose_at(fit, target_probability),
        threshold_ci=_interval(thresholds, confidence, minimum),
        auc_ci=_interval(aucs, confidence, minimum),
        slope_ci=_interval(slopes, confidence, minimum),
        dose_at_target_ci=_interval(doses_at, confidence, minimum),
        bootstrap=BootstrapSummary(
            method="cluster (patient) percentile bootstrap"
            if clusters is not None
            else "percentile bootstrap",
            n_requested=n_bootstrap,
            n_used=used,
            n_single_class=single_class,
            n_separated=separated_resamples,
            seed=seed,
            confidence=float(confidence),
        ),
        roc_fpr=fpr,
        roc_tpr=tpr,
        doses_gy=tuple(float(v) for v in x),
        positive=tuple(bool(v) for v in y),
        notes=tuple(notes),
        provenance=provenance(
            digest,
            analysis=analysis,
            criterion=None if criterion is None else criterion.value,
            target_probability=target_probability,
            n_bootstrap=n_bootstrap,
            confidence=confidence,
            seed=seed,
        ),
    )


# ---------------------------------------------------------------------------
# from cohort data


def tumour_dose_response(
    data: CohortData,
    criterion: ResponseCriterion | str = "mrecist",
    *,
    target_probability: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DoseResponseResult:
    """Per-lesion tumour dose vs response.

    A lesion is a responder if its response by ``criterion`` is CR or PR;
    lesions with response ``NE`` or missing, or without a dose, are left out
    (counted in ``excluded``).  The bootstrap resamples patients.

    Parameters
    ----------
    data
        The cohort (its ``lesions`` table).
    criterion
        ``"mrecist"`` (default; the criterion of the published NET threshold)
        or ``"recist"``.

    Other parameters are those of :func:`fit_dose_response`.

    Raises
    ------
    InputError
        For an unknown criterion, or too little data (see
        :func:`fit_dose_response`).
    """
    try:
        which = ResponseCriterion(criterion)
    except ValueError:
        raise InputError(
            [("criterion", f"must be 'recist' or 'mrecist', not {criterion!r}")]
        ) from None
    lesions = data.lesions
    column = f"response_{which.value}"
    response = lesions[column]
    no_dose = lesions["tumour_dose_gy"].isna()
    not_evaluable = response.isna() | (response == "NE").fillna(False)
    keep = ~no_dose & ~not_evaluable
    excluded = {
        "no tumour dose": int(no_dose.sum()),
        f"{which.value} response NE or missing": int((not_evaluable & ~no_dose).sum()),
    }
    kept = lesions[keep]
    label = "mRECIST" if which is ResponseCriterion.MRECIST else "RECIST"
    return fit_dose_response(
        kept["tumour_dose_gy"].to_numpy(dtype=float),
        kept[column].isin(sorted(RESPONDER)).to_numpy(dtype=bool),
        clusters=kept["patient_id"].astype(str).tolist(),
        target_probability=target_probability,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        outcome=f"responder (CR or PR by {label})",
        unit="lesion",
        analysis="tumour_response",
        criterion=which,
        excluded=excluded,
    )


def normal_liver_dose_toxicity(
    data: CohortData,
    *,
    target_probability: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DoseResponseResult:
    """Per-patient normal-liver dose vs hepatotoxicity (CTCAE grade >= 3).

    Uses the patients columns ``normal_liver_dose_gy`` and
    ``hepatotoxicity_grade3plus``; patients missing either are left out
    (counted).  The threshold is the normal-liver dose at or above which
    toxicity is predicted.

    Raises
    ------
    InputError
        If too few patients have both values (see :func:`fit_dose_response`).
    """
    patients = data.patients
    dose = patients["normal_liver_dose_gy"]
    toxic = patients["hepatotoxicity_grade3plus"]
    keep = dose.notna() & toxic.notna()
    kept = patients[keep.to_numpy(dtype=bool)]
    return fit_dose_response(
        kept["normal_liver_dose_gy"].to_numpy(dtype=float),
        kept["hepatotoxicity_grade3plus"].astype(bool).to_numpy(dtype=bool),
        clusters=kept["patient_id"].astype(str).tolist(),
        target_probability=target_probability,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        outcome="hepatotoxicity CTCAE grade >= 3",
        unit="patient",
        analysis="normal_liver_toxicity",
        criterion=None,
        excluded={"normal-liver dose or toxicity missing": int((~keep).sum())},
    )
