"""Dose-response: logistic fit, ROC/Youden threshold, cluster bootstrap.

Known truth: a planted logistic dose-response centred on 120 Gy with doses
spread symmetrically around it (so the population Youden threshold, where the
response probability equals the prevalence, is 120 Gy), a patient random
effect (lesions of a patient are correlated), and a planted step at 190 Gy
like the published 191.3 Gy threshold.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.stats import mannwhitneyu

from netlm.errors import InputError
from netlm.outcomes.data import CohortData, make_cohort_data
from netlm.outcomes.dose_response import (
    DoseResponseWarning,
    fit_dose_response,
    normal_liver_dose_toxicity,
    tumour_dose_response,
)

TRUE_THRESHOLD_GY = 120.0
TRUE_SLOPE_PER_GY = 0.05


def _patients(ids: list[str], **columns: Any) -> pd.DataFrame:
    n = len(ids)
    frame = pd.DataFrame(
        {
            "patient_id": ids,
            "sex": ["female"] * n,
            "age_years": [60] * n,
            "grade": ["NET G2"] * n,
            "ki67_percent": [5.0] * n,
            "ecog": [0] * n,
            "primary_site": ["small_intestine"] * n,
            "tumour_burden_percent": [20.0] * n,
            "extrahepatic_disease": ["none"] * n,
            "modality": ["tare_resin"] * n,
            "device": ["resin"] * n,
            "prior_prrt": [False] * n,
            "treatment_date": ["2019-01-01"] * n,
            "last_followup_date": ["2021-01-01"] * n,
            "death_date": [None] * n,
            "hepatic_progression_date": [None] * n,
            "progression_date": [None] * n,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def planted_lesions(
    n_patients: int,
    seed: int,
    probability: Any,
    patient_sd: float = 0.5,
) -> pd.DataFrame:
    """1-6 lesions per patient, dose uniform 20-220 Gy, responder with ``probability``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_patients):
        effect = rng.normal(0.0, patient_sd)
        for j in range(int(rng.integers(1, 7))):
            dose = float(rng.uniform(20.0, 220.0))
            responded = rng.random() < probability(dose, effect)
            rows.append(
                {
                    "patient_id": f"P{i:03d}",
                    "lesion_id": f"L{j}",
                    "tumour_dose_gy": round(dose, 2),
                    "response_recist": "PR" if responded else "SD",
                    "response_mrecist": "CR" if responded else "PD",
                }
            )
    return pd.DataFrame(rows)


def _logistic(dose: float, effect: float) -> float:
    return 1.0 / (1.0 + math.exp(-(TRUE_SLOPE_PER_GY * (dose - TRUE_THRESHOLD_GY) + effect)))


def _cohort(lesions: pd.DataFrame) -> CohortData:
    return make_cohort_data(_patients(sorted(set(lesions["patient_id"]))), lesions)


@pytest.fixture(scope="module")
def planted() -> CohortData:
    return _cohort(planted_lesions(90, seed=2024, probability=_logistic))


def test_planted_logistic_threshold_is_recovered(planted: CohortData) -> None:
    result = tumour_dose_response(planted, "mrecist", n_bootstrap=400, seed=1)
    assert result.threshold_ci is not None
    assert result.threshold_ci.covers(result.threshold_gy)
    assert result.threshold_ci.covers(TRUE_THRESHOLD_GY)
    assert abs(result.threshold_gy - TRUE_THRESHOLD_GY) < 20.0
    # the dose of a 50 % response probability is the planted centre as well
    assert result.dose_at_target_gy is not None and result.dose_at_target_ci is not None
    assert result.dose_at_target_ci.covers(TRUE_THRESHOLD_GY)
    # slope: the patient effect attenuates the marginal slope by a few per cent only
    assert result.slope_ci is not None and result.slope_ci.covers(TRUE_SLOPE_PER_GY)
    assert result.auc_ci is not None and result.auc_ci.lower > 0.8
    assert result.bootstrap.method == "cluster (patient) percentile bootstrap"
    assert result.bootstrap.n_used == 400
    assert result.n_clusters == 90
    assert result.unit == "lesion"


def test_planted_step_threshold_like_the_published_one() -> None:
    lesions = planted_lesions(
        70, seed=5, probability=lambda d, _e: 0.95 if d >= 190.0 else 0.25, patient_sd=0.0
    )
    result = tumour_dose_response(_cohort(lesions), "recist", n_bootstrap=300, seed=3)
    assert result.threshold_ci is not None and result.threshold_ci.covers(190.0)
    assert abs(result.threshold_gy - 190.0) < 15.0
    above = result.positive_at_or_above / result.n_at_or_above
    below = result.positive_below / result.n_below
    assert above > 0.75 and below < 0.35


def test_statistics_match_independent_implementations(planted: CohortData) -> None:
    result = tumour_dose_response(planted, n_bootstrap=0)
    x = np.asarray(result.doses_gy)
    y = np.asarray(result.positive)
    # AUC = Mann-Whitney U / (positives x negatives), ties one half (SciPy, not scikit-learn)
    u = mannwhitneyu(x[y], x[~y]).statistic
    assert result.auc == pytest.approx(u / (y.sum() * (~y).sum()))

    def negative_loglik(beta: np.ndarray[Any, Any]) -> float:
        eta = beta[0] + beta[1] * (x - 120.0) / 50.0
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    fit = minimize(negative_loglik, np.zeros(2), method="BFGS", options={"gtol": 1e-10})
    slope = fit.x[1] / 50.0
    intercept = fit.x[0] - fit.x[1] * 120.0 / 50.0
    assert result.slope_per_gy == pytest.approx(slope, rel=1e-5)
    assert result.intercept == pytest.approx(intercept, rel=1e-5)
    # Youden: no other cut between observed doses does better
    best = max(float(np.mean(x[y] >= c) - np.mean(x[~y] >= c)) for c in np.unique(x)[1:])
    assert result.youden_j == pytest.approx(best)
    assert result.sensitivity + result.specificity - 1 == pytest.approx(best)
    assert result.bootstrap.n_requested == 0 and result.threshold_ci is None


def test_hand_computed_threshold_and_counts() -> None:
    result = fit_dose_response([50, 80, 110, 150, 190, 230], [0, 0, 1, 0, 1, 1], n_bootstrap=0)
    # J = 2/3 at the cuts 110 and 190 Gy; the tie goes to the lower (more sensitive) cut,
    # reported midway between 80 and 110 Gy
    assert result.threshold_gy == 95.0
    assert result.sensitivity == 1.0
    assert result.specificity == pytest.approx(2 / 3)
    assert (result.n_at_or_above, result.positive_at_or_above) == (4, 3)
    assert (result.n_below, result.positive_below) == (2, 0)
    assert result.auc == pytest.approx(8 / 9)
    assert result.roc_fpr[0] == 0.0 and result.roc_tpr[-1] == 1.0


def test_cluster_bootstrap_is_wider_than_lesion_bootstrap() -> None:
    base = planted_lesions(40, seed=9, probability=_logistic)
    # five identical copies of every lesion: correlated units within a patient
    copies = pd.concat([base.assign(lesion_id=base["lesion_id"] + f"c{k}") for k in range(5)])
    x = copies["tumour_dose_gy"].to_numpy()
    y = copies["response_mrecist"].isin(["CR", "PR"]).to_numpy()
    clustered = fit_dose_response(x, y, clusters=list(copies["patient_id"]), n_bootstrap=300)
    naive = fit_dose_response(x, y, n_bootstrap=300)
    assert clustered.auc_ci is not None and naive.auc_ci is not None
    width = clustered.auc_ci.upper - clustered.auc_ci.lower
    assert width > 1.5 * (naive.auc_ci.upper - naive.auc_ci.lower)
    assert naive.bootstrap.method == "percentile bootstrap"


def test_bootstrap_is_seeded(planted: CohortData) -> None:
    a = tumour_dose_response(planted, n_bootstrap=100, seed=7)
    b = tumour_dose_response(planted, n_bootstrap=100, seed=7)
    c = tumour_dose_response(planted, n_bootstrap=100, seed=8)
    assert a.threshold_ci == b.threshold_ci and a.auc_ci == b.auc_ci
    assert a.auc_ci != c.auc_ci
    assert a.provenance.inputs_digest == c.provenance.inputs_digest


def test_separation_is_reported_not_hidden() -> None:
    with pytest.warns(DoseResponseWarning, match="separation"):
        result = fit_dose_response([10, 20, 30, 200, 210, 220], [0, 0, 0, 1, 1, 1], n_bootstrap=0)
    assert result.separated
    assert result.slope_per_gy is None and result.dose_at_target_gy is None
    assert result.probability(100.0) is None
    assert result.threshold_gy == 115.0 and result.youden_j == 1.0


def test_excluded_lesions_are_counted() -> None:
    lesions = planted_lesions(30, seed=4, probability=_logistic)
    lesions.loc[0, "tumour_dose_gy"] = None
    lesions.loc[1, "response_recist"] = "NE"
    lesions.loc[2, "response_recist"] = None
    result = tumour_dose_response(_cohort(lesions), "recist", n_bootstrap=0)
    assert result.excluded == {"no tumour dose": 1, "recist response NE or missing": 2}
    assert result.n == len(lesions) - 3
    assert result.outcome == "responder (CR or PR by RECIST)"


def test_normal_liver_dose_vs_hepatotoxicity() -> None:
    rng = np.random.default_rng(12)
    n = 160
    dose = rng.uniform(5.0, 80.0, n)
    p = 1.0 / (1.0 + np.exp(-0.15 * (dose - 40.0)))
    toxic = rng.random(n) < p
    ids = [f"N{i:03d}" for i in range(n)]
    data = make_cohort_data(
        _patients(ids, normal_liver_dose_gy=dose.round(2), hepatotoxicity_grade3plus=toxic)
    )
    result = normal_liver_dose_toxicity(data, n_bootstrap=300, seed=2)
    assert result.unit == "patient" and result.n == n == result.n_clusters
    assert result.threshold_ci is not None and result.threshold_ci.covers(40.0)
    assert result.dose_at_target_ci is not None and result.dose_at_target_ci.covers(40.0)
    assert result.slope_ci is not None and result.slope_ci.covers(0.15)


@pytest.mark.parametrize(
    ("dose", "positive", "field"),
    [
        ([10, 20, 30], [1, 1, 1], "positive"),
        ([10, 20, 30], [1, 0], "positive"),
        ([10, -20, 30], [1, 0, 1], "dose_gy"),
        ([10, 10, 10], [1, 0, 1], "dose_gy"),
        ([10, float("nan"), 30], [1, 0, 1], "dose_gy"),
    ],
)
def test_rejects_unusable_data(dose: list[float], positive: list[int], field: str) -> None:
    with pytest.raises(InputError) as info:
        fit_dose_response(dose, positive, n_bootstrap=0)
    assert info.value.fields == [field]


def test_rejects_unknown_criterion(planted: CohortData) -> None:
    with pytest.raises(InputError, match="criterion"):
        tumour_dose_response(planted, "choi")


@settings(max_examples=30)
@given(
    st.lists(st.tuples(st.floats(0, 500), st.booleans()), min_size=4, max_size=30),
    st.floats(0.1, 10.0),
)
def test_threshold_scales_with_dose_and_auc_is_invariant(
    rows: list[tuple[float, bool]], factor: float
) -> None:
    x = np.array([d for d, _ in rows])
    y = np.array([p for _, p in rows])
    if y.all() or not y.any() or len(np.unique(x)) < 2 or len(np.unique(x * factor)) < 2:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DoseResponseWarning)
        a = fit_dose_response(x, y, n_bootstrap=0)
        b = fit_dose_response(x * factor, y, n_bootstrap=0)
        flipped = fit_dose_response(x, ~y, n_bootstrap=0)
    assert 0.0 <= a.auc <= 1.0
    assert b.auc == pytest.approx(a.auc)
    assert flipped.auc == pytest.approx(1.0 - a.auc)
    assert b.threshold_gy == pytest.approx(a.threshold_gy * factor, rel=1e-9, abs=1e-9)
    assert -1.0 <= a.youden_j <= 1.0
    if a.youden_j <= 0.0:
        assert any("better than chance" in note for note in a.notes)
