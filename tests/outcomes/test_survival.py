"""Survival analyses (Kaplan-Meier, log-rank, Cox) and the cohort data format they read.

Known truth: exponential survival with a planted median, and a binary
covariate with a planted hazard ratio of 2.0; the Kaplan-Meier numbers must
equal lifelines' own on the same data.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

from netlm.errors import InputError
from netlm.outcomes.data import (
    CohortData,
    CohortDataError,
    make_cohort_data,
)
from netlm.outcomes.io import load_cohort_data, write_cohort_data
from netlm.outcomes.survival import (
    cox,
    kaplan_meier,
    logrank,
    survival_times,
)
from netlm.units import DAYS_PER_MONTH

START = pd.Timestamp("2015-01-01")


def _date(months: Any) -> Any:
    days = np.round(np.asarray(months, dtype=float) * DAYS_PER_MONTH).astype(int)
    return START + pd.to_timedelta(days, unit="D")


def patients_frame(n: int, rng: np.random.Generator | None = None, **columns: Any) -> pd.DataFrame:
    """A valid patients table of ``n`` patients; ``columns`` override the defaults."""
    rng = rng or np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "sex": rng.choice(["female", "male"], n),
            "age_years": rng.integers(35, 85, n),
            "grade": rng.choice(["NET G1", "NET G2", "NET G3", "NEC"], n, p=[0.4, 0.4, 0.15, 0.05]),
            "ki67_percent": rng.uniform(0.5, 40.0, n).round(1),
            "ecog": rng.integers(0, 3, n),
            "primary_site": rng.choice(["small_intestine", "pancreas", "unknown"], n),
            "tumour_burden_percent": rng.uniform(1.0, 80.0, n).round(1),
            "extrahepatic_disease": rng.choice(["none", "limited", "extensive"], n),
            "modality": rng.choice(["tare_resin", "tare_glass", "ctace"], n),
            "device": [None] * n,
            "prior_prrt": rng.random(n) < 0.2,
            "treatment_date": [START] * n,
            "last_followup_date": _date(np.full(n, 60.0)),
            "death_date": [None] * n,
            "hepatic_progression_date": [None] * n,
            "progression_date": [None] * n,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def exponential_cohort(
    n: int,
    median_months: float | np.ndarray[Any, Any],
    seed: int,
    max_followup_months: float = 96.0,
    **columns: Any,
) -> CohortData:
    """Deaths at exponential times with the given median(s); uniform censoring."""
    rng = np.random.default_rng(seed)
    rate = math.log(2) / np.broadcast_to(np.asarray(median_months, dtype=float), (n,))
    death = rng.exponential(1.0 / rate)
    censor = rng.uniform(12.0, max_followup_months, n)
    observed = np.minimum(death, censor)
    dead = death <= censor
    end = _date(observed)
    frame = patients_frame(
        n,
        rng,
        last_followup_date=end,
        death_date=pd.Series(end).where(dead),
        **columns,
    )
    return make_cohort_data(frame)


# ---------------------------------------------------------------------------
# Kaplan-Meier


def test_km_recovers_planted_median() -> None:
    data = exponential_cohort(800, 24.0, seed=11)
    group = kaplan_meier(data, "os").group("all")
    assert group.n == 800
    assert group.median_ci_lower_months is not None and group.median_ci_upper_months is not None
    assert group.median_ci_lower_months <= 24.0 <= group.median_ci_upper_months
    assert group.median_months == pytest.approx(24.0, rel=0.15)


@pytest.mark.parametrize("strata", [None, "grade", "sex", "tumour_burden", "device"])
def test_km_medians_equal_lifelines(strata: str | None) -> None:
    data = exponential_cohort(300, 20.0, seed=3)
    result = kaplan_meier(data, "os", strata)
    frame = survival_times(data, "os")
    for group in result.groups:
        if strata is None:
            rows = frame
        elif strata == "tumour_burden":
            bands = pd.cut(
                frame["tumour_burden_percent"],
                [-np.inf, 25, 50, np.inf],
                labels=["<= 25 %", "> 25-50 %", "> 50 %"],
            )
            rows = frame[bands.astype(str) == group.label]
        elif strata == "device":
            device = frame["modality"].map({"tare_resin": "resin", "tare_glass": "glass"})
            rows = frame[device == group.label]
        else:
            rows = frame[frame[strata] == group.label]
        kmf = KaplanMeierFitter().fit(rows["time_months"], rows["event"])
        ci = median_survival_times(kmf.confidence_interval_)
        assert group.n == len(rows)
        assert group.events == int(rows["event"].sum())
        assert group.median_months == kmf.median_survival_time_
        assert group.median_ci_lower_months == pytest.approx(ci.iloc[0, 0])
        upper = ci.iloc[0, 1]
        if math.isinf(upper):
            assert group.median_ci_upper_months is None
        else:
            assert group.median_ci_upper_months == pytest.approx(upper)
        survival = kmf.survival_function_.iloc[:, 0]
        assert [r.survival for r in group.table] == pytest.approx(list(survival))
        assert [r.at_risk for r in group.table] == list(kmf.event_table["at_risk"])


@settings(max_examples=25)
@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_km_median_equals_lifelines_for_any_data(rows: list[tuple[int, bool]]) -> None:
    days = np.array([d for d, _ in rows])
    dead = np.array([e for _, e in rows])
    end = START + pd.to_timedelta(days, unit="D")
    frame = patients_frame(len(rows), last_followup_date=end, death_date=pd.Series(end).where(dead))
    group = kaplan_meier(make_cohort_data(frame), "os").group("all")
    kmf = KaplanMeierFitter().fit(days / DAYS_PER_MONTH, dead)
    expected = kmf.median_survival_time_
    if math.isinf(expected):
        assert group.median_months is None
    else:
        assert group.median_months == pytest.approx(expected)
    # the survival curve never increases and stays in [0, 1]
    values = [r.survival for r in group.table]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(values))


def test_median_not_reached_is_none() -> None:
    data = exponential_cohort(100, 1000.0, seed=5, max_followup_months=24.0)
    group = kaplan_meier(data, "os").group("all")
    assert group.median_months is None
    assert group.median_ci_upper_months is None


def test_logrank_separates_planted_grades_and_equals_lifelines() -> None:
    rng = np.random.default_rng(7)
    grade = rng.choice(["NET G1", "NET G2", "NET G3"], 450)
    medians = pd.Series(grade).map({"NET G1": 60.0, "NET G2": 30.0, "NET G3": 10.0}).to_numpy()
    data = exponential_cohort(450, medians, seed=8, grade=grade)
    result = kaplan_meier(data, "os", "grade")
    assert [g.label for g in result.groups] == ["NET G1", "NET G2", "NET G3"]
    got = [g.median_months or math.inf for g in result.groups]
    assert got[0] > got[1] > got[2]
    for group, truth in zip(result.groups, (60.0, 30.0, 10.0), strict=True):
        assert group.median_ci_lower_months is not None
        assert group.median_ci_lower_months <= truth
        assert group.median_ci_upper_months is None or truth <= group.median_ci_upper_months
    assert result.logrank is not None and result.logrank.p_value < 1e-6
    frame = survival_times(data, "os")
    expected = multivariate_logrank_test(frame["time_months"], frame["grade"], frame["event"])
    direct = logrank(data, "os", "grade")
    assert direct.test_statistic == pytest.approx(expected.test_statistic)
    assert direct.degrees_of_freedom == 2


def test_endpoints_time_zero_censoring_and_death_as_event() -> None:
    frame = patients_frame(
        4,
        last_followup_date=_date([40, 40, 40, 40]),
        death_date=[None, _date(30), None, _date(25)],
        hepatic_progression_date=[_date(10), None, None, None],
        progression_date=[_date(8), None, _date(20), None],
    )
    data = make_cohort_data(frame)
    os_ = survival_times(data, "os")
    hpfs = survival_times(data, "hepatic_pfs")
    pfs = survival_times(data, "pfs")
    assert list(os_["event"]) == [False, True, False, True]
    assert os_["time_months"].round(1).tolist() == [40.0, 30.0, 40.0, 25.0]
    # hepatic PFS: hepatic progression or death; extrahepatic progression does not count
    assert list(hpfs["event"]) == [True, True, False, True]
    assert hpfs["time_months"].round(1).tolist() == [10.0, 30.0, 40.0, 25.0]
    # PFS: the first of any progression and death
    assert list(pfs["event"]) == [True, True, True, True]
    assert pfs["time_months"].round(1).tolist() == [8.0, 30.0, 20.0, 25.0]


@pytest.mark.parametrize(
    ("burden", "band"),
    [
        (0.0, "<= 25 %"),
        (25.0, "<= 25 %"),
        (25.1, "> 25-50 %"),
        (50.0, "> 25-50 %"),
        (50.5, "> 50 %"),
        (100.0, "> 50 %"),
    ],
)
def test_tumour_burden_bands_at_the_cuts(burden: float, band: str) -> None:
    frame = patients_frame(2, tumour_burden_percent=[burden, None])
    result = kaplan_meier(make_cohort_data(frame), "os", "tumour_burden")
    assert [g.label for g in result.groups] == [band]
    assert result.n_excluded == 1


def test_device_strata_from_device_or_modality() -> None:
    frame = patients_frame(
        4,
        modality=["tare_resin", "tare_glass", "ctace", "radiation_segmentectomy"],
        device=[None, "glass", None, "glass"],
    )
    result = kaplan_meier(make_cohort_data(frame), "os", "device")
    assert {g.label: g.n for g in result.groups} == {"resin": 1, "glass": 2}
    assert result.n_excluded == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"endpoint": "dfs"}, "endpoint"),
        ({"strata": "colour"}, "strata"),
        ({"burden_cuts_percent": (50.0, 25.0)}, "burden_cuts_percent"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_km_rejects_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    data = exponential_cohort(20, 20.0, seed=1)
    with pytest.raises(InputError, match=field) as info:
        kaplan_meier(data, **kwargs)
    assert info.value.fields == [field]


# ---------------------------------------------------------------------------
# Cox


def test_cox_recovers_planted_hazard_ratio() -> None:
    rng = np.random.default_rng(21)
    n = 700
    sex = rng.choice(["female", "male"], n)
    medians = np.where(sex == "male", 15.0, 30.0)  # hazard ratio male vs female = 2.0
    data = exponential_cohort(n, medians, seed=22, sex=sex)
    result = cox(data, "os", ["sex"])
    term = result.term("sex[male]")
    assert term.encoding == "male vs female"
    assert term.ci_lower <= 2.0 <= term.ci_upper
    assert term.hazard_ratio == pytest.approx(2.0, rel=0.2)
    assert term.p_value < 1e-6
    assert result.n == n and result.n_dropped_missing == 0


def test_cox_default_prognostic_set_reports_dropped_rows() -> None:
    n = 300
    ki67 = np.random.default_rng(4).uniform(0.5, 40.0, n)
    ki67[:17] = np.nan
    data = exponential_cohort(n, 25.0, seed=4, ki67_percent=ki67)
    result = cox(data)
    assert result.n_dropped_missing == 17
    assert result.n == n - 17
    assert result.covariates == (
        "sex",
        "grade",
        "ki67_percent",
        "ecog",
        "tumour_burden",
        "extrahepatic_disease",
    )
    names = {t.term for t in result.terms}
    assert {"sex[male]", "grade[NET G2]", "ki67_per_10_percent", "ecog"} <= names
    assert {"tumour_burden[> 25-50 %]", "extrahepatic_disease[extensive]"} <= names
    # no planted effect: every hazard ratio interval is finite and positive
    assert all(0 < t.ci_lower <= t.hazard_ratio <= t.ci_upper for t in result.terms)


def test_cox_drops_constant_terms_and_rejects_unknown_covariates() -> None:
    data = exponential_cohort(80, 25.0, seed=9, extrahepatic_disease=["none"] * 80)
    result = cox(data, "os", ["sex", "extrahepatic_disease", "prior_prrt"])
    assert "extrahepatic_disease" not in {t.covariate for t in result.terms}
    with pytest.raises(InputError, match="unknown covariate 'colour'"):
        cox(data, "os", ["colour"])


# ---------------------------------------------------------------------------
# the cohort data format (netlm/cohort-data/v1) the analyses read


def _full_cohort() -> CohortData:
    patients = patients_frame(
        3,
        normal_liver_dose_gy=[30.0, None, 55.5],
        hepatotoxicity_grade3plus=[False, None, True],
        device=["resin", "glass", None],
        modality=["tare_resin", "tare_glass", "ctace"],
        death_date=[None, _date(20), None],
        progression_date=[_date(12), None, None],
    )
    lesions = pd.DataFrame(
        {
            "patient_id": ["P0000", "P0000", "P0001"],
            "lesion_id": ["L1", "L2", "L1"],
            "tumour_dose_gy": [150.0, 80.5, None],
            "response_recist": ["PR", "SD", "NE"],
            "response_mrecist": ["CR", "PR", None],
        }
    )
    labs = pd.DataFrame(
        {
            "patient_id": ["P0000", "P0000"],
            "date": ["2014-12-20", "2015-02-01"],
            "analyte": ["bilirubin", "platelets"],
            "value": [0.8, 140.0],
            "uln": [1.2, None],
            "lln": [None, 150.0],
        }
    )
    observations = pd.DataFrame(
        {
            "patient_id": ["P0001", "P0001"],
            "date": ["2015-03-01", "2015-03-01"],
            "kind": ["ascites", "spleen_volume_ml"],
            "value": ["mild", "310"],
        }
    )
    return make_cohort_data(patients, lesions, labs, observations)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cohort_round_trip(tmp_path: Path, fmt: str) -> None:
    data = _full_cohort()
    written = write_cohort_data(data, tmp_path, format=fmt)  # type: ignore[arg-type]
    assert sorted(p.name for p in written) == sorted(
        f"{t}.{fmt}" for t in ("patients", "lesions", "labs", "observations")
    )
    back = load_cohort_data(tmp_path)
    for name in ("patients", "lesions", "labs", "observations"):
        pd.testing.assert_frame_equal(data.table(name), back.table(name))
    assert back.digest() == data.digest()
    assert back.source == str(tmp_path)


def test_cohort_dtypes_and_optional_tables() -> None:
    data = make_cohort_data(patients_frame(2))
    p = data.patients
    assert str(p["treatment_date"].dtype) == "datetime64[ns]"
    assert str(p["ecog"].dtype) == "Int64"
    assert str(p["prior_prrt"].dtype) == "boolean"
    assert p["normal_liver_dose_gy"].isna().all()
    assert data.lesions.empty and "tumour_dose_gy" in data.lesions.columns
    assert data.labs.empty and data.observations.empty


def _write_csv(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("sex", "F", "must be one of female, male, not 'F'"),
        ("ecog", "5", "must be an integer 0-4, not '5'"),
        ("ecog", "1.5", "must be an integer 0-4"),
        ("ki67_percent", "101", "must be a finite number 0-100"),
        ("grade", "G2", "must be one of NET G1, NET G2, NET G3, NEC"),
        ("modality", "sirt", "must be one of"),
        ("prior_prrt", "maybe", "must be true or false"),
        ("treatment_date", "03/04/2015", "must be an ISO 8601 date"),
        ("treatment_date", "", "is required"),
        ("last_followup_date", "2014-06-01", "is before treatment_date 2015-01-01"),
        ("progression_date", "2030-01-01", "is after the end of follow-up"),
        ("device", "glass", "contradicts modality 'tare_resin'"),
    ],
)
def test_load_names_file_row_line_and_column(
    tmp_path: Path, column: str, value: str, message: str
) -> None:
    frame = patients_frame(3, modality=["tare_resin"] * 3)
    frame = frame.astype(object)
    frame.loc[1, column] = value
    _write_csv(tmp_path, "patients", frame)
    with pytest.raises(CohortDataError, match="invalid cohort data") as info:
        load_cohort_data(tmp_path)
    assert info.value.fields == [f"patients.csv row 2 (line 3), column {column}"]
    assert message in info.value.problems[0][1]


def test_load_structural_problems(tmp_path: Path) -> None:
    with pytest.raises(CohortDataError, match=re.escape("no patients.csv or patients.parquet")):
        load_cohort_data(tmp_path)
    with pytest.raises(CohortDataError, match="is not a folder"):
        load_cohort_data(tmp_path / "missing")
    frame = patients_frame(2).drop(columns=["sex"])
    _write_csv(tmp_path, "patients", frame)
    with pytest.raises(CohortDataError, match=re.escape("patients.csv, column sex: is missing")):
        load_cohort_data(tmp_path)
    _write_csv(tmp_path, "patients", patients_frame(2))
    patients_frame(2).to_parquet(tmp_path / "patients.parquet")
    with pytest.raises(CohortDataError, match=re.escape("both patients.csv and patients.parquet")):
        load_cohort_data(tmp_path)


def test_cross_table_and_unit_checks() -> None:
    patients = patients_frame(2, patient_id=["A", "A"])
    labs = pd.DataFrame(
        {
            "patient_id": ["A", "Z", "A"],
            "date": ["2015-02-01"] * 3,
            "analyte": ["albumin", "inr", "bilirubin"],
            "value": [38.0, 1.1, 1.0],
            "uln": [None, None, 1.0],
            "lln": [3.5, None, 1.2],
        }
    )
    observations = pd.DataFrame(
        {
            "patient_id": ["A", "A"],
            "date": ["2015-02-01"] * 2,
            "kind": ["ascites", "spleen_volume_ml"],
            "value": ["some", "-3"],
        }
    )
    lesions = pd.DataFrame(
        {
            "patient_id": ["A", "A"],
            "lesion_id": ["L1", "L1"],
            "tumour_dose_gy": [10, 20],
            "response_recist": ["PR", "XX"],
        }
    )
    with pytest.raises(CohortDataError) as info:
        make_cohort_data(patients, lesions, labs, observations)
    text = str(info.value)
    assert "patients row 2, column patient_id: duplicate patient_id 'A'" in text
    assert "labs row 1, column value: 38 is implausible for albumin" in text
    assert "g/L" in text
    assert "labs row 2, column patient_id: 'Z' is not in patients" in text
    assert "labs row 3, column lln: must be below uln" in text
    assert "observations row 1, column value: ascites must be one of" in text
    assert "observations row 2, column value: spleen_volume_ml must be a number > 0" in text
    assert "lesions row 2, column response_recist" in text
    assert "lesions row 2, column lesion_id: duplicate lesion 'L1'" in text


def test_problem_list_is_capped() -> None:
    frame = patients_frame(80, sex=["x"] * 80)
    with pytest.raises(CohortDataError) as info:
        make_cohort_data(frame)
    assert len(info.value.problems) == 51
    assert info.value.problems[-1][1] == "... and 30 more problems"


def test_write_refuses_mixed_formats(tmp_path: Path) -> None:
    data = _full_cohort()
    write_cohort_data(data, tmp_path, format="csv")
    with pytest.raises(CohortDataError, match="already holds"):
        write_cohort_data(data, tmp_path, format="parquet")
    with pytest.raises(CohortDataError, match="format"):
        write_cohort_data(data, tmp_path / "x", format="xlsx")  # type: ignore[arg-type]
