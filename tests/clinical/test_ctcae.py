"""CTCAE v5.0 / v6.0 laboratory grades at exact multiples, baselines, bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.clinical import Analyte, CtcaeGrade, CtcaeVersion, ctcae_grade
from netlm.errors import CaseError
from netlm.evidence import SOURCES

V5, V6 = CtcaeVersion.V5, CtcaeVersion.V6


# ------------------------------------------------------- ULN multiples, baseline normal
@pytest.mark.parametrize("analyte", ["ast", "alt"])
@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (30.0, 0),
        (40.0, 0),  # = ULN
        (41.0, 1),
        (120.0, 1),  # exactly 3.0 x ULN
        (120.004, 2),  # 3.0001 x ULN
        (200.0, 2),  # 5.0 x ULN
        (200.1, 3),
        (800.0, 3),  # 20.0 x ULN
        (800.1, 4),
    ],
)
def test_aminotransferase_uln_multiples(
    analyte: str, version: str, value: float, grade: int
) -> None:
    result = ctcae_grade(analyte, value, uln=40.0, baseline=30.0, version=version)
    assert result.grade == grade
    assert result.basis == "uln"
    assert result.missing == ()


@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (1.0, 0),
        (1.2, 1),
        (1.5, 1),  # 1.5 x ULN
        (1.5001, 2),
        (3.0, 2),
        (3.0001, 3),
        (10.0, 3),
        (10.0001, 4),
    ],
)
def test_bilirubin_uln_multiples(version: str, value: float, grade: int) -> None:
    assert ctcae_grade("bilirubin", value, uln=1.0, baseline=0.6, version=version).grade == grade


def test_floating_point_noise_does_not_move_a_boundary() -> None:
    # 1.5 * 1.2 == 1.7999999999999998 in binary floating point.
    assert ctcae_grade("bilirubin", 1.8, uln=1.2, baseline=0.5).grade == 1
    assert ctcae_grade("alt", 0.3 * 3, uln=0.3, baseline=0.2).grade == 1


def test_unknown_baseline_is_taken_as_normal_and_reported() -> None:
    above = ctcae_grade("ast", 130.0, uln=40.0)
    assert above.grade == 2
    assert above.basis == "uln"
    assert above.missing == ("baseline",)
    # At or below the ULN an abnormal baseline could not raise the grade.
    assert ctcae_grade("ast", 35.0, uln=40.0).missing == ()


# ----------------------------------------------------------- baseline abnormal (> ULN)
@pytest.mark.parametrize("analyte", ["ast", "alt"])
@pytest.mark.parametrize(
    ("version", "value", "grade"),
    [
        # v5.0: 1.5-3.0 / >3.0-5.0 / >5.0-20.0 / >20.0 x baseline (baseline 80, ULN 40)
        (V5, 100.0, 0),  # 1.25 x baseline
        (V5, 120.0, 1),  # exactly 1.5 x baseline
        (V5, 240.0, 1),  # 3.0 x
        (V5, 240.01, 2),
        (V5, 400.0, 2),  # 5.0 x
        (V5, 400.1, 3),
        (V5, 1600.0, 3),  # 20.0 x
        (V5, 1600.1, 4),
        # v6.0: 1.0-1.5 / >1.5-2.0 / >2.0-4.0 / >4.0 x baseline
        (V6, 79.0, 0),
        (V6, 80.0, 1),  # exactly 1.0 x baseline
        (V6, 120.0, 1),  # 1.5 x
        (V6, 120.01, 2),
        (V6, 160.0, 2),  # 2.0 x
        (V6, 160.1, 3),
        (V6, 320.0, 3),  # 4.0 x
        (V6, 320.1, 4),
    ],
)
def test_aminotransferase_abnormal_baseline(
    analyte: str, version: CtcaeVersion, value: float, grade: int
) -> None:
    result = ctcae_grade(analyte, value, uln=40.0, baseline=80.0, version=version)
    assert result.grade == grade
    assert result.basis == "baseline"
    assert result.missing == ()


@pytest.mark.parametrize(
    ("version", "value", "grade"),
    [
        # v5.0: >1.0-1.5 / >1.5-3.0 / >3.0-10.0 / >10.0 x baseline (baseline 2.0, ULN 1.0)
        (V5, 2.0, 0),  # = baseline
        (V5, 2.1, 1),
        (V5, 3.0, 1),  # 1.5 x
        (V5, 3.01, 2),
        (V5, 6.0, 2),  # 3.0 x
        (V5, 6.01, 3),
        (V5, 20.0, 3),  # 10.0 x
        (V5, 20.1, 4),
        # v6.0: 1.0-1.5 / >1.5-2.5 / >2.5-10.0 / >10.0 x baseline
        (V6, 1.9, 0),
        (V6, 2.0, 1),  # = baseline
        (V6, 3.0, 1),
        (V6, 3.01, 2),
        (V6, 5.0, 2),  # 2.5 x
        (V6, 5.01, 3),
        (V6, 20.0, 3),
        (V6, 20.1, 4),
    ],
)
def test_bilirubin_abnormal_baseline(version: CtcaeVersion, value: float, grade: int) -> None:
    result = ctcae_grade("bilirubin", value, uln=1.0, baseline=2.0, version=version)
    assert result.grade == grade
    assert result.basis == "baseline"


def test_v6_grades_an_abnormal_baseline_more_severely() -> None:
    # ALT 200 U/L with baseline 80 (ULN 40): 2.5 x baseline.
    assert ctcae_grade("alt", 200.0, uln=40.0, baseline=80.0, version="5.0").grade == 1
    assert ctcae_grade("alt", 200.0, uln=40.0, baseline=80.0, version="6.0").grade == 3


def test_baseline_equal_to_uln_is_normal() -> None:
    result = ctcae_grade("ast", 130.0, uln=40.0, baseline=40.0)
    assert result.basis == "uln"
    assert result.grade == 2


# ---------------------------------------------------------------------------- albumin
@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize(
    ("value", "grade", "basis"),
    [
        (4.0, 0, "lln"),
        (3.5, 0, "lln"),  # = LLN
        (3.4, 1, "lln"),
        (3.0, 1, "lln"),  # "< LLN - 3 g/dL" includes 3
        (2.99, 2, "absolute"),
        (2.0, 2, "absolute"),
        (1.99, 3, "absolute"),
        (0.5, 3, "absolute"),  # grade 4 is clinical, never from the number
    ],
)
def test_hypoalbuminemia(version: str, value: float, grade: int, basis: str) -> None:
    result = ctcae_grade("albumin", value, lln=3.5, uln=5.0, version=version)
    assert result.grade == grade
    assert result.basis == basis
    assert result.term == "Hypoalbuminemia"


def test_albumin_without_lln() -> None:
    # Below 3 g/dL the grade does not depend on the LLN.
    assert ctcae_grade("albumin", 2.5).grade == 2
    unknown = ctcae_grade("albumin", 3.2)
    assert unknown.grade is None
    assert unknown.missing == ("lln",)


# -------------------------------------------------------------------------- platelets
@pytest.mark.parametrize(
    ("version", "value", "grade"),
    [
        (V5, 150.0, 0),  # = LLN
        (V5, 149.0, 1),
        (V5, 75.0, 1),
        (V5, 74.9, 2),
        (V5, 50.0, 2),
        (V5, 49.9, 3),
        (V5, 25.0, 3),
        (V5, 24.9, 4),
        (V5, 10.0, 4),
        (V6, 75.0, 1),
        (V6, 74.9, 2),
        (V6, 49.9, 3),
        (V6, 24.9, 3),  # v6.0 grade 3 is < 50-10
        (V6, 10.0, 3),
        (V6, 9.9, 4),
    ],
)
def test_platelets(version: CtcaeVersion, value: float, grade: int) -> None:
    assert ctcae_grade("platelets", value, lln=150.0, version=version).grade == grade


def test_platelet_term_changed_in_v6() -> None:
    assert ctcae_grade("platelets", 60.0, version="5.0").term == "Platelet count decreased"
    assert ctcae_grade("platelets", 60.0, version="6.0").term == "Thrombocytopenia"
    assert ctcae_grade("platelets", 200.0).missing == ("lln",)


# -------------------------------------------------------------------------------- INR
@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize(
    ("value", "grade"),
    [(1.0, 0), (1.2, 0), (1.21, 1), (1.5, 1), (1.51, 2), (2.5, 2), (2.51, 3), (6.0, 3)],
)
def test_inr_absolute(version: str, value: float, grade: int) -> None:
    result = ctcae_grade("inr", value, version=version)
    assert result.grade == grade
    assert result.basis == "absolute"
    assert result.missing == ()


def test_inr_ignores_uln() -> None:
    assert ctcae_grade("inr", 1.6, uln=1.1).grade == ctcae_grade("inr", 1.6).grade == 2


# ------------------------------------------------------------------------- creatinine
@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize(
    ("value", "grade"),
    [(1.0, 0), (1.01, 1), (1.5, 1), (1.51, 2), (3.0, 2), (3.01, 3), (6.0, 3), (6.01, 4)],
)
def test_creatinine_uln_multiples(version: str, value: float, grade: int) -> None:
    # Baseline = ULN (not below the LLN): the baseline rule cannot raise these grades.
    result = ctcae_grade("creatinine", value, uln=1.0, lln=0.6, baseline=1.0, version=version)
    assert result.grade == grade
    assert result.basis == "uln"
    assert result.missing == ()


@pytest.mark.parametrize(
    ("value", "grade", "basis"),
    [
        (0.6, 0, "uln"),  # 1.5 x baseline exactly
        (0.61, 2, "baseline"),  # > 1.5 x baseline, still below the ULN
        (1.2, 2, "baseline"),  # 3.0 x baseline, = ULN
        (1.3, 3, "baseline"),  # > 3.0 x baseline, G1 by ULN
        (3.7, 3, "uln"),  # tie: G3 both ways, ULN wins
        (7.3, 4, "uln"),
    ],
)
def test_creatinine_v5_takes_the_higher_of_uln_and_baseline(
    value: float, grade: int, basis: str
) -> None:
    result = ctcae_grade("creatinine", value, uln=1.2, baseline=0.4, version="5.0")
    assert result.grade == grade
    assert result.basis == basis


def test_creatinine_v6_baseline_counts_only_below_lln() -> None:
    below = ctcae_grade("creatinine", 1.0, uln=1.2, lln=0.6, baseline=0.4, version="6.0")
    assert (below.grade, below.basis) == (2, "baseline")
    normal = ctcae_grade("creatinine", 1.0, uln=1.2, lln=0.6, baseline=0.6, version="6.0")
    assert (normal.grade, normal.basis, normal.missing) == (0, "uln", ())
    no_lln = ctcae_grade("creatinine", 1.0, uln=1.2, baseline=0.4, version="6.0")
    assert (no_lln.grade, no_lln.missing) == (0, ("lln",))
    # v5.0 uses the baseline whatever the LLN: 1.0 is 1.67 x a baseline of 0.6.
    v5 = ctcae_grade("creatinine", 1.0, uln=1.2, lln=0.6, baseline=0.6, version="5.0")
    assert (v5.grade, v5.basis) == (2, "baseline")


def test_creatinine_missing_baseline_matters_only_below_grade_3() -> None:
    assert ctcae_grade("creatinine", 1.3, uln=1.2).missing == ("baseline",)
    assert ctcae_grade("creatinine", 4.0, uln=1.2).missing == ()


# ---------------------------------------------------------------------- missing limits
@pytest.mark.parametrize("analyte", ["bilirubin", "ast", "alt", "creatinine"])
def test_missing_uln_gives_no_grade(analyte: str) -> None:
    result = ctcae_grade(analyte, 2.0, baseline=1.0)
    assert result.grade is None
    assert result.basis == "uln"
    assert result.missing == ("uln",)


# ------------------------------------------------------------------- arguments, output
def test_enum_and_spelling_variants_are_accepted() -> None:
    a = ctcae_grade(Analyte.AST, 130.0, uln=40.0, version=CtcaeVersion.V6)
    b = ctcae_grade(" AST ", 130.0, uln=40.0, version="v6")
    c = ctcae_grade("ast", 130.0, uln=40.0, version="6")
    assert a == b == c
    assert a.version is CtcaeVersion.V6
    assert a.analyte is Analyte.AST
    assert a.term == "Aspartate aminotransferase increased"


@pytest.mark.parametrize(
    ("args", "kwargs", "fields", "match"),
    [
        (("glucose", 5.0), {}, ["analyte"], r"analyte: unknown analyte 'glucose'"),
        (("ast", 50.0), {"uln": 40.0, "version": "4.03"}, ["version"], r"unknown CTCAE version"),
        (("ast", -1.0), {"uln": 40.0}, ["value"], r"value: must be >= 0"),
        (("ast", math.nan), {"uln": 40.0}, ["value"], r"value: must be a finite number"),
        (("ast", 50.0), {"uln": 0.0}, ["uln"], r"uln: must be > 0"),
        (("ast", 50.0), {"uln": 40.0, "baseline": -2.0}, ["baseline"], r"baseline: must be > 0"),
        (("albumin", 3.0), {"lln": -1.0}, ["lln"], r"lln: must be >= 0"),
        (("albumin", 3.0), {"lln": 5.0, "uln": 5.0}, ["lln"], r"lln: must be below uln"),
        (("foo", -1.0), {"version": "7"}, ["analyte", "version", "value"], r"invalid case"),
    ],
)
def test_bad_arguments(
    args: tuple[str, float], kwargs: dict[str, object], fields: list[str], match: str
) -> None:
    with pytest.raises(CaseError, match=match) as info:
        ctcae_grade(*args, **kwargs)  # type: ignore[arg-type]
    assert info.value.fields == fields


@pytest.mark.parametrize("version", ["5.0", "6.0"])
def test_result_round_trips_and_cites_its_version(version: str) -> None:
    result = ctcae_grade("bilirubin", 2.0, uln=1.0, baseline=0.5, version=version)
    assert CtcaeGrade.model_validate_json(result.model_dump_json()) == result
    assert result.model_dump(mode="json")["version"] == version
    assert result.source_ids[0] == f"ctcae_v{version[0]}"
    assert set(result.source_ids) <= SOURCES.keys()


@given(
    low=st.floats(min_value=0, max_value=5000),
    high=st.floats(min_value=0, max_value=5000),
    baseline=st.one_of(st.none(), st.floats(min_value=1, max_value=500)),
    analyte=st.sampled_from(["ast", "alt", "bilirubin", "creatinine"]),
    version=st.sampled_from(["5.0", "6.0"]),
)
def test_increase_grades_are_monotone_in_value(
    low: float, high: float, baseline: float | None, analyte: str, version: str
) -> None:
    low, high = min(low, high), max(low, high)
    kw: dict[str, object] = {"uln": 40.0, "lln": 10.0, "baseline": baseline, "version": version}
    a = ctcae_grade(analyte, low, **kw)  # type: ignore[arg-type]
    b = ctcae_grade(analyte, high, **kw)  # type: ignore[arg-type]
    assert a.grade is not None
    assert b.grade is not None
    assert 0 <= a.grade <= b.grade <= 4


@given(
    low=st.floats(min_value=0, max_value=1000),
    high=st.floats(min_value=0, max_value=1000),
    version=st.sampled_from(["5.0", "6.0"]),
)
def test_platelet_grades_fall_as_the_count_rises(low: float, high: float, version: str) -> None:
    low, high = min(low, high), max(low, high)
    a = ctcae_grade("platelets", low, lln=150.0, version=version).grade
    b = ctcae_grade("platelets", high, lln=150.0, version=version).grade
    assert a is not None
    assert b is not None
    assert 0 <= b <= a <= 4
