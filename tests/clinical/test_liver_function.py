"""Child-Pugh and ALBI: point boundaries, classes, published example, cut-offs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.clinical import (
    ALBI_ALBUMIN_COEFFICIENT,
    AlbiResult,
    ChildPughClass,
    ChildPughResult,
    albi,
    child_pugh,
)
from netlm.errors import CaseError
from netlm.evidence import SOURCES
from netlm.units import convert

_NORMAL: dict[str, object] = {
    "bilirubin_mg_dl": 1.0,
    "albumin_g_dl": 4.0,
    "inr": 1.0,
    "ascites": "none",
    "encephalopathy": "none",
}


def _cp(**changes: object) -> ChildPughResult:
    args = dict(_NORMAL)
    args.update(changes)
    return child_pugh(**args)  # type: ignore[arg-type]


# --------------------------------------------------------------------- Child-Pugh
@pytest.mark.parametrize(
    ("component", "value", "points"),
    [
        ("bilirubin_mg_dl", 0.3, 1),
        ("bilirubin_mg_dl", 1.99, 1),
        ("bilirubin_mg_dl", 2.0, 2),
        ("bilirubin_mg_dl", 3.0, 2),
        ("bilirubin_mg_dl", 3.01, 3),
        ("albumin_g_dl", 3.51, 1),
        ("albumin_g_dl", 3.5, 2),
        ("albumin_g_dl", 2.8, 2),
        ("albumin_g_dl", 2.79, 3),
        ("inr", 1.69, 1),
        ("inr", 1.7, 2),
        ("inr", 2.3, 2),
        ("inr", 2.31, 3),
        ("ascites", "none", 1),
        ("ascites", "mild", 2),
        ("ascites", "moderate_severe", 3),
        ("encephalopathy", "none", 1),
        ("encephalopathy", "grade_1_2", 2),
        ("encephalopathy", "grade_3_4", 3),
    ],
)
def test_component_points(component: str, value: object, points: int) -> None:
    result = _cp(**{component: value})
    assert result.points[component] == points
    assert result.score == 4 + points


@pytest.mark.parametrize(
    ("changes", "score", "cls"),
    [
        ({}, 5, ChildPughClass.A),
        ({"ascites": "mild"}, 6, ChildPughClass.A),
        ({"ascites": "mild", "inr": 2.0}, 7, ChildPughClass.B),
        ({"ascites": "mild", "inr": 2.5, "albumin_g_dl": 3.0}, 9, ChildPughClass.B),
        (
            {"ascites": "moderate_severe", "inr": 2.5, "albumin_g_dl": 3.0},
            10,
            ChildPughClass.C,
        ),
        (
            {
                "ascites": "moderate_severe",
                "inr": 2.5,
                "albumin_g_dl": 2.0,
                "bilirubin_mg_dl": 4.0,
                "encephalopathy": "grade_3_4",
            },
            15,
            ChildPughClass.C,
        ),
    ],
)
def test_class_boundaries(changes: dict[str, object], score: int, cls: ChildPughClass) -> None:
    result = _cp(**changes)
    assert result.score == score
    assert result.child_pugh_class is cls
    assert result.missing == ()


def test_missing_components_give_no_score_but_keep_known_points() -> None:
    result = _cp(inr=None, encephalopathy=None)
    assert result.score is None
    assert result.child_pugh_class is None
    assert result.missing == ("inr", "encephalopathy")
    assert result.points == {"bilirubin_mg_dl": 1, "albumin_g_dl": 1, "ascites": 1}


def test_class_serialises_as_class_alias() -> None:
    result = _cp(ascites="mild", inr=2.0)
    by_alias = result.model_dump(by_alias=True)
    assert by_alias["class"] == ChildPughClass.B
    assert "child_pugh_class" not in by_alias
    assert result.model_dump()["child_pugh_class"] == ChildPughClass.B
    assert '"class":"B"' in result.model_dump_json(by_alias=True)
    assert ChildPughResult.model_validate(by_alias) == result
    assert ChildPughResult.model_validate_json(result.model_dump_json(by_alias=True)) == result
    assert set(result.source_ids) <= SOURCES.keys()


def test_category_spelling_is_forgiving_about_case_and_space() -> None:
    assert _cp(ascites=" Mild ").points["ascites"] == 2


@pytest.mark.parametrize(
    ("changes", "field", "match"),
    [
        ({"bilirubin_mg_dl": -0.1}, "bilirubin_mg_dl", r"bilirubin_mg_dl: must be >= 0"),
        ({"albumin_g_dl": -3.0}, "albumin_g_dl", r"albumin_g_dl: must be >= 0"),
        ({"inr": math.nan}, "inr", r"inr: must be a finite number"),
        ({"ascites": "severe"}, "ascites", r"ascites: unknown value 'severe'"),
        ({"encephalopathy": "grade_2"}, "encephalopathy", r"encephalopathy: unknown value"),
        ({"ascites": 2}, "ascites", r"ascites: unknown value 2"),
    ],
)
def test_child_pugh_bad_arguments(changes: dict[str, object], field: str, match: str) -> None:
    with pytest.raises(CaseError, match=match) as info:
        _cp(**changes)
    assert info.value.fields == [field]


@given(
    bilirubin=st.floats(min_value=0, max_value=30),
    albumin=st.floats(min_value=0.5, max_value=7),
    inr=st.floats(min_value=0.5, max_value=15),
    ascites=st.sampled_from(["none", "mild", "moderate_severe"]),
    encephalopathy=st.sampled_from(["none", "grade_1_2", "grade_3_4"]),
)
def test_child_pugh_score_range_and_class(
    bilirubin: float, albumin: float, inr: float, ascites: str, encephalopathy: str
) -> None:
    result = child_pugh(
        bilirubin_mg_dl=bilirubin,
        albumin_g_dl=albumin,
        inr=inr,
        ascites=ascites,
        encephalopathy=encephalopathy,
    )
    assert result.score is not None
    assert 5 <= result.score <= 15
    assert result.score == sum(result.points.values())
    expected = (
        ChildPughClass.A
        if result.score <= 6
        else ChildPughClass.B
        if result.score <= 9
        else ChildPughClass.C
    )
    assert result.child_pugh_class is expected


# --------------------------------------------------------------------------- ALBI
def _albumin_g_dl_for(score: float, bilirubin_mg_dl: float, coefficient: float) -> float:
    """The albumin (g/dL) that gives ``score`` with this bilirubin, solved analytically."""
    bilirubin_umol_l = convert(bilirubin_mg_dl, "mg/dL", "umol/L", analyte="bilirubin")
    albumin_g_l = (score - 0.66 * math.log10(bilirubin_umol_l)) / coefficient
    return convert(albumin_g_l, "g/L", "g/dL", analyte="albumin")


def test_albi_published_example() -> None:
    # Bilirubin 1.0 mg/dL = 17.1 umol/L, albumin 4.0 g/dL = 40 g/L.
    result = albi(bilirubin_mg_dl=1.0, albumin_g_dl=4.0)
    assert result.score == pytest.approx(0.66 * math.log10(17.1) - 0.085 * 40)
    assert result.score == pytest.approx(-2.586, abs=5e-4)
    assert result.grade == 2
    assert result.coefficient == ALBI_ALBUMIN_COEFFICIENT == -0.085
    assert result.missing == ()
    assert set(result.source_ids) <= SOURCES.keys()


@pytest.mark.parametrize("bilirubin_mg_dl", [0.4, 1.0, 2.7])
@pytest.mark.parametrize(("cutoff", "grade_on", "grade_above"), [(-2.60, 1, 2), (-1.39, 2, 3)])
def test_albi_cutoffs_exactly(
    bilirubin_mg_dl: float, cutoff: float, grade_on: int, grade_above: int
) -> None:
    albumin = _albumin_g_dl_for(cutoff, bilirubin_mg_dl, ALBI_ALBUMIN_COEFFICIENT)
    on = albi(bilirubin_mg_dl=bilirubin_mg_dl, albumin_g_dl=albumin)
    assert on.score == pytest.approx(cutoff, abs=1e-9)
    assert on.grade == grade_on
    # A hair less albumin raises the score above the cut-off.
    above = albi(bilirubin_mg_dl=bilirubin_mg_dl, albumin_g_dl=albumin - 1e-6)
    assert above.score is not None
    assert above.score > cutoff
    assert above.grade == grade_above


def test_albi_alternative_coefficient_changes_score() -> None:
    default = albi(bilirubin_mg_dl=1.0, albumin_g_dl=4.0)
    alt = albi(bilirubin_mg_dl=1.0, albumin_g_dl=4.0, albumin_coefficient=-0.0852)
    assert alt.coefficient == -0.0852
    assert default.score is not None
    assert alt.score is not None
    assert alt.score - default.score == pytest.approx(-0.0002 * 40)


@pytest.mark.parametrize(
    ("bilirubin", "albumin", "missing"),
    [
        (None, 4.0, ("bilirubin_mg_dl",)),
        (1.0, None, ("albumin_g_dl",)),
        (None, None, ("bilirubin_mg_dl", "albumin_g_dl")),
    ],
)
def test_albi_missing(
    bilirubin: float | None, albumin: float | None, missing: tuple[str, ...]
) -> None:
    result = albi(bilirubin_mg_dl=bilirubin, albumin_g_dl=albumin)
    assert result.score is None
    assert result.grade is None
    assert result.missing == missing
    assert AlbiResult.model_validate_json(result.model_dump_json()) == result


@pytest.mark.parametrize(
    ("kwargs", "field", "match"),
    [
        ({"bilirubin_mg_dl": 0.0}, "bilirubin_mg_dl", r"bilirubin_mg_dl: must be > 0"),
        ({"bilirubin_mg_dl": -1.0}, "bilirubin_mg_dl", r"must be > 0"),
        ({"albumin_g_dl": -0.1}, "albumin_g_dl", r"albumin_g_dl: must be >= 0"),
        ({"albumin_coefficient": 0.085}, "albumin_coefficient", r"negative finite number"),
        ({"albumin_coefficient": math.nan}, "albumin_coefficient", r"negative finite number"),
    ],
)
def test_albi_bad_arguments(kwargs: dict[str, float], field: str, match: str) -> None:
    args: dict[str, float] = {"bilirubin_mg_dl": 1.0, "albumin_g_dl": 4.0}
    args.update(kwargs)
    with pytest.raises(CaseError, match=match) as info:
        albi(**args)
    assert info.value.fields == [field]


@given(
    bilirubin=st.floats(min_value=0.05, max_value=30),
    low=st.floats(min_value=0.5, max_value=7),
    high=st.floats(min_value=0.5, max_value=7),
)
def test_albi_grade_follows_score_and_score_falls_with_albumin(
    bilirubin: float, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    a = albi(bilirubin_mg_dl=bilirubin, albumin_g_dl=low)
    b = albi(bilirubin_mg_dl=bilirubin, albumin_g_dl=high)
    assert a.score is not None
    assert b.score is not None
    assert a.grade is not None
    assert b.grade is not None
    assert b.score <= a.score
    assert b.grade <= a.grade
    for result in (a, b):
        assert result.score is not None
        expected = 1 if result.score <= -2.60 + 1e-9 else 2 if result.score <= -1.39 + 1e-9 else 3
        assert result.grade == expected
