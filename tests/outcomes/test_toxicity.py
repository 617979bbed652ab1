"""Toxicity over time: CTCAE grades against baseline, REILD, chronic indicators, summaries.

Every expectation below is worked out by hand from the CTCAE tables in
:mod:`netlm.clinical.ctcae` and the documented [U] definitions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from netlm.clinical import ctcae_grade
from netlm.errors import InputError
from netlm.outcomes.data import CohortData, make_cohort_data
from netlm.outcomes.toxicity import (
    ChronicDefinition,
    ReildDefinition,
    lab_grades,
    patient_toxicity,
    toxicity_report,
)

T0 = pd.Timestamp("2020-01-01")


def day(n: int) -> str:
    """The date ``n`` days after the treatment."""
    return str((T0 + pd.Timedelta(days=n)).date())


def _patients(ids: list[str], **columns: Any) -> pd.DataFrame:
    n = len(ids)
    frame = pd.DataFrame(
        {
            "patient_id": ids,
            "sex": ["female"] * n,
            "age_years": [62] * n,
            "grade": ["NET G2"] * n,
            "ki67_percent": [6.0] * n,
            "ecog": [0] * n,
            "primary_site": ["pancreas"] * n,
            "tumour_burden_percent": [30.0] * n,
            "extrahepatic_disease": ["none"] * n,
            "modality": ["tare_glass"] * n,
            "device": ["glass"] * n,
            "prior_prrt": [False] * n,
            "treatment_date": [day(0)] * n,
            "last_followup_date": [day(400)] * n,
            "death_date": [None] * n,
            "hepatic_progression_date": [None] * n,
            "progression_date": [None] * n,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def _labs(rows: Sequence[tuple[str, int, str, float, float | None, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p, day(d), a, v, u, lo) for p, d, a, v, u, lo in rows],
        columns=["patient_id", "date", "analyte", "value", "uln", "lln"],
    )


def _obs(rows: list[tuple[str, int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p, day(d), k, v) for p, d, k, v in rows],
        columns=["patient_id", "date", "kind", "value"],
    )


# ---------------------------------------------------------------------------
# CTCAE over time on a hand-built series

#: Patient A: normal baseline, then a bilirubin peak and thrombocytopenia.
#: Patient B: abnormal bilirubin baseline (2.0 mg/dL, ULN 1.2) - graded against it.
SERIES = _labs(
    [
        ("A", -200, "bilirubin", 3.0, 1.2, None),  # outside the 90-day baseline window
        ("A", -30, "bilirubin", 0.9, 1.2, None),
        ("A", -3, "bilirubin", 0.8, 1.2, None),  # baseline: the last one in the window
        ("A", 14, "bilirubin", 1.5, 1.2, None),  # 1.25 x ULN: grade 1
        ("A", 40, "bilirubin", 4.0, 1.2, None),  # 3.33 x ULN: grade 3
        ("A", 90, "bilirubin", 1.0, 1.2, None),  # grade 0
        ("A", -3, "platelets", 210.0, None, 150.0),
        ("A", 30, "platelets", 40.0, None, 150.0),  # v5 < 50-25: 3; v6 < 50-10: 3
        ("A", 60, "platelets", 20.0, None, 150.0),  # v5 < 25: 4; v6 < 50-10: 3
        ("A", 30, "ast", 130.0, None, None),  # no ULN: not gradable
        ("B", 0, "bilirubin", 2.0, 1.2, None),  # baseline on the treatment day
        ("B", 20, "bilirubin", 5.5, 1.2, None),  # 2.75 x baseline: v5 grade 2, v6 grade 3
        ("B", 50, "bilirubin", 2.4, 1.2, None),  # 1.2 x baseline: grade 1 (v5 and v6)
    ]
)


def _series_cohort() -> CohortData:
    return make_cohort_data(_patients(["A", "B"]), labs=SERIES)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            "5.0",
            {
                ("A", "bilirubin"): [0, 1, 3, 0],
                ("A", "platelets"): [0, 3, 4],
                ("A", "ast"): [None],
                ("B", "bilirubin"): [2, 2, 1],
            },
        ),
        (
            "6.0",
            {
                ("A", "bilirubin"): [0, 1, 3, 0],
                ("A", "platelets"): [0, 3, 3],
                ("A", "ast"): [None],
                ("B", "bilirubin"): [2, 3, 1],
            },
        ),
    ],
)
def test_ctcae_over_time_hand_built_series(
    version: str, expected: dict[tuple[str, str], list[int | None]]
) -> None:
    grades = lab_grades(_series_cohort(), version=version)
    got: dict[tuple[str, str], list[int | None]] = {}
    for (patient, analyte), rows in grades.groupby(["patient_id", "analyte"], sort=False):
        got[(str(patient), str(analyte))] = [None if pd.isna(g) else int(g) for g in rows["grade"]]
    assert got == expected
    a_bili = grades[(grades["patient_id"] == "A") & (grades["analyte"] == "bilirubin")]
    assert list(a_bili["phase"]) == ["baseline", "post", "post", "post"]
    assert list(a_bili["day"]) == [-3, 14, 40, 90]
    assert set(a_bili["baseline_value"]) == {0.8}
    b_bili = grades[(grades["patient_id"] == "B") & (grades["analyte"] == "bilirubin")]
    assert list(b_bili["basis"]) == ["uln", "baseline", "baseline"]


def test_lab_grades_agree_with_ctcae_grade_row_by_row() -> None:
    grades = lab_grades(_series_cohort(), version="6.0")
    post = grades[grades["phase"] == "post"]
    for row in post.itertuples():
        direct = ctcae_grade(
            str(row.analyte),
            float(row.value),
            uln=None if pd.isna(row.uln) else float(row.uln),
            lln=None if pd.isna(row.lln) else float(row.lln),
            baseline=None if pd.isna(row.baseline_value) else float(row.baseline_value),
            version="6.0",
        )
        assert (None if pd.isna(row.grade) else int(row.grade)) == direct.grade


def test_baseline_window_is_a_parameter() -> None:
    grades = lab_grades(_series_cohort(), baseline_window_days=1)
    a_bili = grades[(grades["patient_id"] == "A") & (grades["analyte"] == "bilirubin")]
    assert "baseline" not in set(a_bili["phase"])
    assert a_bili["baseline_value"].isna().all()
    with pytest.raises(InputError, match="baseline_window_days"):
        lab_grades(_series_cohort(), baseline_window_days=-1)


def test_worst_grade_after_treatment_per_patient() -> None:
    a, b = patient_toxicity(_series_cohort(), version="5.0")
    bili = a.analyte("bilirubin")
    assert (bili.baseline_value, bili.baseline_grade) == (0.8, 0)
    assert (bili.worst_grade, bili.worst_value, bili.worst_day) == (3, 4.0, 40)
    assert bili.worsened is True and bili.n_post == 3
    plt = a.analyte("platelets")
    assert (plt.worst_grade, plt.worst_day) == (4, 60)
    ast = a.analyte("ast")
    assert ast.worst_grade is None and ast.worsened is None and ast.n_post == 1
    assert a.analyte("inr").n_post == 0
    b_bili = b.analyte("bilirubin")
    assert (b_bili.baseline_grade, b_bili.worst_grade, b_bili.worsened) == (2, 2, False)


# ---------------------------------------------------------------------------
# REILD [U]


def _reild(labs: list[Any], obs: list[Any], **patient: Any) -> Any:
    data = make_cohort_data(_patients(["R"], **patient), labs=_labs(labs), observations=_obs(obs))
    return patient_toxicity(data)[0].reild


BASE_BILI = ("R", -5, "bilirubin", 0.7, 1.2, None)


def test_reild_present_with_jaundice_and_ascites_without_progression() -> None:
    reild = _reild(
        [BASE_BILI, ("R", 35, "bilirubin", 2.5, 1.2, None)],  # 2.08 x ULN: grade 2
        [("R", 45, "ascites", "moderate_severe")],
    )
    assert reild.present is True
    assert reild.date == (T0 + pd.Timedelta(days=45)).date()


@pytest.mark.parametrize(
    ("labs", "obs", "patient", "present", "detail"),
    [
        # bilirubin grade 1 only
        (
            [BASE_BILI, ("R", 35, "bilirubin", 1.7, 1.2, None)],
            [("R", 40, "ascites", "mild")],
            {},
            False,
            "grade < 2",
        ),
        # bilirubin after the 61-day window
        (
            [BASE_BILI, ("R", 70, "bilirubin", 3.0, 1.2, None)],
            [("R", 70, "ascites", "mild")],
            {},
            None,
            "no graded bilirubin",
        ),
        # ascites not assessed
        ([BASE_BILI, ("R", 35, "bilirubin", 3.0, 1.2, None)], [], {}, None, "no ascites"),
        # ascites assessed and absent
        (
            [BASE_BILI, ("R", 35, "bilirubin", 3.0, 1.2, None)],
            [("R", 40, "ascites", "none")],
            {},
            False,
            "no ascites in the window",
        ),
        # hepatic progression before the jaundice
        (
            [BASE_BILI, ("R", 35, "bilirubin", 3.0, 1.2, None)],
            [("R", 40, "ascites", "mild")],
            {"hepatic_progression_date": [day(30)]},
            False,
            "progression",
        ),
    ],
)
def test_reild_negative_and_not_evaluable(
    labs: list[Any], obs: list[Any], patient: dict[str, Any], present: bool | None, detail: str
) -> None:
    reild = _reild(labs, obs, **patient)
    assert reild.present is present
    assert detail in reild.detail


def test_reild_definition_is_overridable() -> None:
    labs = [BASE_BILI, ("R", 70, "bilirubin", 3.0, 1.2, None)]
    obs = [("R", 75, "ascites", "mild")]
    data = make_cohort_data(_patients(["R"]), labs=_labs(labs), observations=_obs(obs))
    wide = patient_toxicity(data, reild=ReildDefinition(window_days=90))[0].reild
    assert wide.present is True


# ---------------------------------------------------------------------------
# chronic hepatotoxicity indicators [U] (>= 6 months)


CHRONIC_LABS = [
    ("C", -10, "platelets", 200.0, None, 150.0),
    ("C", 100, "platelets", 90.0, None, 150.0),  # early: ignored (< 182 days)
    ("C", 200, "platelets", 150.0, None, 150.0),  # exactly -25 %: present
    ("C", 380, "platelets", 180.0, None, 150.0),
    ("C", -10, "albumin", 4.2, None, 3.5),
    ("C", 300, "albumin", 3.8, None, 3.5),  # -0.4 g/dL: absent
    ("C", -10, "bilirubin", 0.6, 1.2, None),
    ("C", 250, "bilirubin", 1.3, 1.2, None),  # 2.2 x baseline and > ULN: present
]
CHRONIC_OBS = [
    ("C", -10, "ascites", "none"),
    ("C", 250, "ascites", "mild"),
    ("C", 360, "ascites", "none"),
    ("C", -10, "spleen_volume_ml", "250"),
    ("C", 300, "spleen_volume_ml", "295"),  # +18 %: absent
]


def _chronic(definition: ChronicDefinition | None = None, **patient: Any) -> Any:
    data = make_cohort_data(
        _patients(["C"], **patient), labs=_labs(CHRONIC_LABS), observations=_obs(CHRONIC_OBS)
    )
    return patient_toxicity(data, chronic=definition)[0].chronic


def test_chronic_indicators_worst_value() -> None:
    chronic = _chronic()
    assert chronic.platelet_decline.present is True
    assert "200 -> 150" in chronic.platelet_decline.detail
    assert chronic.albumin_decline.present is False
    assert chronic.bilirubin_rise.present is True
    assert chronic.new_ascites.present is True
    assert chronic.spleen_increase.present is False
    assert "+18%" in chronic.spleen_increase.detail
    assert chronic.any_present is True


def test_chronic_indicators_last_value_and_thresholds() -> None:
    chronic = _chronic(ChronicDefinition(summary="last", spleen_increase_fraction=0.15))
    assert chronic.platelet_decline.present is False  # last value 180: -10 %
    assert chronic.new_ascites.present is False  # resolved at the last assessment
    assert chronic.spleen_increase.present is True  # +18 % >= 15 %


def test_chronic_not_evaluable_before_six_months() -> None:
    chronic = _chronic(last_followup_date=[day(150)])
    for name in (
        "platelet_decline",
        "albumin_decline",
        "bilirubin_rise",
        "new_ascites",
        "spleen_increase",
    ):
        indicator = getattr(chronic, name)
        assert indicator.present is None and "followed < 182 days" in indicator.detail
    assert chronic.any_present is None


def test_chronic_needs_a_baseline() -> None:
    data = make_cohort_data(
        _patients(["C"]),
        labs=_labs([("C", 250, "platelets", 80.0, None, 150.0)]),
        observations=_obs([("C", -10, "ascites", "mild"), ("C", 250, "ascites", "mild")]),
    )
    chronic = patient_toxicity(data)[0].chronic
    assert chronic.platelet_decline.present is None
    assert chronic.platelet_decline.detail == "no baseline platelets"
    assert chronic.new_ascites.present is None
    assert "ascites at baseline" in chronic.new_ascites.detail


# ---------------------------------------------------------------------------
# cohort summary


def test_cohort_summary_counts_and_rates() -> None:
    patients = _patients(
        ["A", "B", "C", "D"],
        modality=["tare_glass", "tare_glass", "tare_resin", "ctace"],
        device=["glass", "glass", "resin", None],
    )
    labs = pd.concat([SERIES, _labs(CHRONIC_LABS)], ignore_index=True)
    data = make_cohort_data(patients, labs=labs, observations=_obs(CHRONIC_OBS))
    report = toxicity_report(data, by="modality")
    overall = report.overall
    assert overall.n_patients == 4
    bili = next(g for g in overall.grades if g.analyte == "bilirubin")
    # worst bilirubin grades: A 3, B 2, C 1 (1.3 mg/dL, baseline 0.6, ULN 1.2), D none
    assert bili.n_evaluable == 3
    assert bili.by_grade == (0, 1, 1, 1, 0)
    assert (bili.grade3plus.n_present, bili.grade3plus.n_evaluable) == (1, 3)
    assert bili.grade3plus.rate == pytest.approx(1 / 3)
    # REILD: A and B have jaundice but no ascites assessment, C no bilirubin in the
    # first 61 days, D no labs: none evaluable
    assert overall.reild.n_evaluable == 0 and overall.reild.rate is None
    assert overall.chronic["platelet_decline"].n_present == 1
    assert overall.chronic_any.n_present == 1
    assert [g.group for g in report.groups] == ["ctace", "tare_glass", "tare_resin"]
    assert [g.n_patients for g in report.groups] == [1, 2, 1]
    json.loads(report.model_dump_json())
    assert report.reild_definition.certainty == "U"
    assert len(report.provenance.inputs_digest) == 64


def test_summary_rejects_unknown_grouping() -> None:
    with pytest.raises(InputError, match="colour"):
        toxicity_report(_series_cohort(), by="colour")
