"""The published-outcome library: every figure is checked against the seed text."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from netlm.errors import InputError
from netlm.evidence import SOURCES, Certainty
from netlm.outcomes.data import make_cohort_data
from netlm.outcomes.evidence_library import (
    PUBLISHED_OUTCOMES,
    PublishedEndpoint,
    PublishedOutcome,
    compare_survival,
    compare_with_published,
    published_frame,
    published_outcomes,
)
from netlm.outcomes.survival import DAYS_PER_MONTH, kaplan_meier

SEEDS = SHARED / "seeds"
BY_ID = {r.id: r for r in PUBLISHED_OUTCOMES}

#: Values that are conversions or computations, not printed in the quote.
DERIVED = {
    "dong2005_os_000": "'3 yr' = 36 months",
    "braat_prrt_os_001": "3.5 years = 42 months",
    "zuckerman_hepatic_failure_death_004": "3/51",
    "braat_prrt_reild_004": "3/44",
    "prrt_after_embolization_hepatotoxicity_004": "10/17",
}


def _seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("record", PUBLISHED_OUTCOMES, ids=lambda r: r.id)
def test_quote_is_verbatim_in_the_seed(record: PublishedOutcome) -> None:
    assert record.quote in _seed_text(record.seed), record.id


@pytest.mark.parametrize("record", PUBLISHED_OUTCOMES, ids=lambda r: r.id)
def test_value_is_printed_in_the_quote(record: PublishedOutcome) -> None:
    if record.id in DERIVED:
        assert record.note is not None
        return
    numbers = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", record.quote)}
    assert record.value in numbers, record.id
    if record.value_upper is not None:
        assert record.value_upper in numbers
    for bound in (record.ci_lower, record.ci_upper, record.range_lower, record.range_upper):
        assert bound is None or bound in numbers, record.id


def test_records_are_consistent() -> None:
    assert len(BY_ID) == len(PUBLISHED_OUTCOMES)
    for record in PUBLISHED_OUTCOMES:
        assert record.source_id is None or record.source_id in SOURCES
        if record.same_as is not None:
            first = BY_ID[record.same_as]
            assert first.value == record.value and first.same_as is None
            assert first.seed != record.seed
        if record.certainty is not Certainty.VERIFIED:
            assert record.note, f"{record.id}: an S or U figure must say why"
        if record.endpoint is PublishedEndpoint.TOXICITY_PERCENT:
            assert record.event
        assert record.unit == record.endpoint.unit


@pytest.mark.parametrize(
    ("record_id", "value"),
    [
        ("frilling_os_004", 28.0),
        ("jia_os_004", 32.0),
        ("jia_os_small_intestine_004", 56.0),
        ("jia_os_pancreas_004", 31.0),
        ("jia_os_unknown_004", 28.0),
        ("jia_os_g1_004", 71.0),
        ("jia_os_g2_004", 56.0),
        ("jia_os_g3_004", 28.0),
        ("chen2017_hpfs_resin_004", 14.9),
        ("chen2017_hpfs_glass_004", 23.4),
        ("chen2017_os_resin_004", 48.2),
        ("chen2017_os_glass_004", 51.6),
        ("braat_prrt_orr_004", 16.0),
        ("braat_prrt_dcr_004", 91.0),
        ("tsang_os_004", 27.2),
        ("zuckerman_hpfs_004", 18.0),
        ("zuckerman_os_004", 31.0),
        ("su_cirrhosis_like_004", 56.4),
        ("chansanti_response_threshold_004", 191.3),
        ("chansanti_no_response_threshold_004", 72.8),
        ("jia_dcr_001", 86.0),
        ("jia_os_001", 28.0),
        ("frilling_dcr_001", 88.0),
        ("frilling_pfs_001", 41.0),
        ("tae_tace_symptom_001", 50.0),
        ("tae_tace_radiologic_001", 80.0),
        ("tae_tace_post_embolization_001", 80.0),
        ("tae_tace_major_complications_001", 3.0),
        ("kennedy2008_os_000", 70.0),
    ],
)
def test_figures_named_in_the_brief(record_id: str, value: float) -> None:
    assert BY_ID[record_id].value == value


def test_conflicting_seeds_are_flagged() -> None:
    # seed 004: Jia and Wang 32 months; seed 001: Jia 28 months
    assert BY_ID["jia_os_004"].certainty is Certainty.SECONDARY
    assert BY_ID["jia_os_001"].certainty is Certainty.SECONDARY
    assert "28 months" in (BY_ID["jia_os_004"].note or "")
    assert BY_ID["kennedy2008_dcr_004"].certainty is Certainty.SECONDARY
    assert BY_ID["kennedy2008_os_000"].n_patients == 148
    assert BY_ID["tae_tace_major_complications_001"].value_upper == 17.0


def test_published_outcomes_filters() -> None:
    g1 = published_outcomes("median_os_months", stratum="NET G1")
    assert [(r.series, r.value) for r in g1] == [("Jia and Wang", 71.0), ("Braat et al.", 37.2)]
    # NET G3 and NEC both match the reviews' pooled grade 3
    assert {r.value for r in published_outcomes("median_os_months", stratum="NEC")} == {
        28.0,
        10.8,
    }
    glass = published_outcomes(
        "median_hpfs_months", modality="tare_glass", device="glass", any_stratum=True
    )
    assert {r.id for r in glass} == {"chen2017_hpfs_glass_004", "zuckerman_hpfs_004"}
    embolization = published_outcomes("median_os_months", modality="ctace")
    assert {r.modality for r in embolization} <= {"tae", "tace", "tae_tace"}
    assert len(embolization) == 4
    ascites = published_outcomes("toxicity_percent", event="ascites", any_stratum=True)
    assert {r.value for r in ascites} == {41.0, 17.2}
    with_duplicates = published_outcomes(
        "median_os_months", stratum="NET G1", include_duplicates=True
    )
    assert len(with_duplicates) == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"endpoint": "median_survival"}, "endpoint"),
        ({"endpoint": "median_os_months", "modality": "surgery"}, "modality"),
        ({"endpoint": "median_os_months", "device": "holmium"}, "device"),
    ],
)
def test_bad_filters_are_named(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        published_outcomes(**kwargs)
    assert info.value.fields == [field]


def test_compare_with_published_puts_the_centre_first() -> None:
    comparison = compare_with_published(
        19.0,
        "median_os_months",
        modality="tare_resin",
        device="resin",
        stratum="NET G2",
        n_patients=41,
        ci=(14.0, 25.0),
        label="Centre X",
    )
    frame = comparison.to_frame()
    assert frame.loc[0, "series"] == "Centre X"
    assert frame.loc[0, "value"] == 19.0 and frame.loc[0, "n_patients"] == 41
    assert list(frame["value"][1:]) == [56.0, 28.8]
    assert (comparison.published_min, comparison.published_max) == (28.8, 56.0)
    assert set(frame.columns) >= {"seed", "section", "quote", "certainty", "ci_lower"}


def test_compare_survival_by_grade() -> None:
    rng = np.random.default_rng(1)
    n = 90
    grade = np.repeat(["NET G1", "NET G2", "NET G3"], n // 3)
    months = rng.exponential(30.0, n)
    end = pd.Timestamp("2015-01-01") + pd.to_timedelta(np.round(months * DAYS_PER_MONTH), "D")
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "sex": "female",
            "age_years": 60,
            "grade": grade,
            "ki67_percent": 5.0,
            "ecog": 0,
            "primary_site": "pancreas",
            "tumour_burden_percent": 20.0,
            "extrahepatic_disease": "none",
            "modality": "tare_resin",
            "device": "resin",
            "prior_prrt": False,
            "treatment_date": "2015-01-01",
            "last_followup_date": end,
            "death_date": end,
            "hepatic_progression_date": None,
            "progression_date": None,
        }
    )
    result = kaplan_meier(make_cohort_data(patients), "os", "grade")
    comparisons = compare_survival(result, label="us")
    assert [c.own.label for c in comparisons] == ["us: NET G1", "us: NET G2", "us: NET G3"]
    assert [c.own.value for c in comparisons] == [g.median_months for g in result.groups]
    assert [[r.value for r in c.published] for c in comparisons] == [
        [71.0, 37.2],
        [56.0, 28.8],
        [28.0, 10.8],
    ]


def test_published_frame_has_every_record() -> None:
    frame = published_frame()
    assert len(frame) == len(PUBLISHED_OUTCOMES)
    assert frame["id"].is_unique
    assert set(frame["unit"]) <= {"%", "months", "years", "Gy"}
