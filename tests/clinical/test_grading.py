"""WHO 2019 grading: exact boundaries, the higher index, differentiation, bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from netlm.clinical import GradeResult, WhoGrade, who_2019_grade
from netlm.errors import CaseError
from netlm.evidence import SOURCES

_RANK = {WhoGrade.G1: 1, WhoGrade.G2: 2, WhoGrade.G3: 3}


@pytest.mark.parametrize(
    ("ki67", "expected"),
    [
        (0.0, WhoGrade.G1),
        (2.999, WhoGrade.G1),
        (3.0, WhoGrade.G2),
        (3.0001, WhoGrade.G2),
        (19.9, WhoGrade.G2),
        (20.0, WhoGrade.G2),
        (20.0001, WhoGrade.G3),
        (100.0, WhoGrade.G3),
    ],
)
def test_ki67_boundaries(ki67: float, expected: WhoGrade) -> None:
    result = who_2019_grade(ki67, 0.0, "well")
    assert result.grade is expected
    assert not result.is_lower_bound
    assert not result.needs_pathology_review


@pytest.mark.parametrize(
    ("mitoses", "expected"),
    [
        (0.0, WhoGrade.G1),
        (1.9, WhoGrade.G1),
        (2.0, WhoGrade.G2),
        (20.0, WhoGrade.G2),
        (20.5, WhoGrade.G3),
        (21.0, WhoGrade.G3),
    ],
)
def test_mitoses_boundaries(mitoses: float, expected: WhoGrade) -> None:
    assert who_2019_grade(1.0, mitoses, "well").grade is expected


@pytest.mark.parametrize(
    ("ki67", "mitoses", "grade", "decided_by"),
    [
        (1.0, 25.0, WhoGrade.G3, ("mitoses_per_2mm2", "differentiation")),
        (15.0, 1.0, WhoGrade.G2, ("ki67_percent",)),
        (1.0, 5.0, WhoGrade.G2, ("mitoses_per_2mm2",)),
        (10.0, 5.0, WhoGrade.G2, ("ki67_percent", "mitoses_per_2mm2")),
        (1.0, 1.0, WhoGrade.G1, ("ki67_percent", "mitoses_per_2mm2")),
        (30.0, 1.0, WhoGrade.G3, ("ki67_percent", "differentiation")),
    ],
)
def test_higher_index_decides(
    ki67: float, mitoses: float, grade: WhoGrade, decided_by: tuple[str, ...]
) -> None:
    result = who_2019_grade(ki67, mitoses, "well")
    assert result.grade is grade
    assert result.decided_by == decided_by
    assert result.missing == ()


@pytest.mark.parametrize(("ki67", "mitoses"), [(1.0, 0.0), (50.0, 30.0), (None, None), (2.0, None)])
def test_poor_differentiation_is_nec_whatever_the_indices(
    ki67: float | None, mitoses: float | None
) -> None:
    result = who_2019_grade(ki67, mitoses, "poor")
    assert result.grade is WhoGrade.NEC
    assert result.decided_by == ("differentiation",)
    assert result.missing == ()
    assert not result.needs_pathology_review


@pytest.mark.parametrize("differentiation", ["unknown", None, " Unknown "])
def test_high_grade_without_differentiation_needs_review(differentiation: str | None) -> None:
    result = who_2019_grade(25.0, 3.0, differentiation)
    assert result.grade is WhoGrade.G3_OR_NEC
    assert result.needs_pathology_review
    assert "differentiation" in result.missing
    assert result.decided_by == ("ki67_percent",)


@pytest.mark.parametrize(
    ("ki67", "expected"), [(2.0, WhoGrade.G1), (3.0, WhoGrade.G2), (20.0, WhoGrade.G2)]
)
@pytest.mark.parametrize("differentiation", ["unknown", None])
def test_low_grade_without_differentiation_is_net(
    ki67: float, expected: WhoGrade, differentiation: str | None
) -> None:
    # An NEC is never low grade, so G1/G2 stands without the differentiation.
    result = who_2019_grade(ki67, 0.0, differentiation)
    assert result.grade is expected
    assert not result.needs_pathology_review
    assert result.missing == ()


@pytest.mark.parametrize(
    ("ki67", "mitoses", "grade", "missing"),
    [
        (None, 1.0, WhoGrade.G1, ("ki67_percent",)),
        (None, 2.0, WhoGrade.G2, ("ki67_percent",)),
        (2.0, None, WhoGrade.G1, ("mitoses_per_2mm2",)),
        (20.0, None, WhoGrade.G2, ("mitoses_per_2mm2",)),
    ],
)
def test_one_index_missing_low_grade_is_lower_bound(
    ki67: float | None, mitoses: float | None, grade: WhoGrade, missing: tuple[str, ...]
) -> None:
    result = who_2019_grade(ki67, mitoses, "well")
    assert result.grade is grade
    assert result.is_lower_bound
    assert result.missing == missing


def test_one_index_missing_high_grade_is_not_lower_bound() -> None:
    result = who_2019_grade(None, 25.0, "well")
    assert result.grade is WhoGrade.G3
    assert not result.is_lower_bound
    assert result.missing == ()


def test_lower_bound_and_unknown_differentiation() -> None:
    result = who_2019_grade(None, 25.0, None)
    assert result.grade is WhoGrade.G3_OR_NEC
    assert result.missing == ("differentiation",)


def test_no_index_no_grade() -> None:
    result = who_2019_grade(None, None, "well")
    assert result.grade is None
    assert result.missing == ("ki67_percent", "mitoses_per_2mm2")
    assert result.decided_by == ()
    unknown = who_2019_grade(None, None, None)
    assert unknown.grade is None
    assert unknown.missing == ("ki67_percent", "mitoses_per_2mm2", "differentiation")


@pytest.mark.parametrize(
    ("kwargs", "field", "match"),
    [
        ({"ki67_percent": -1.0}, "ki67_percent", r"ki67_percent: must be >= 0"),
        ({"ki67_percent": 100.5}, "ki67_percent", r"ki67_percent: must be <= 100"),
        ({"ki67_percent": math.nan}, "ki67_percent", r"ki67_percent: must be a finite number"),
        ({"mitoses_per_2mm2": -0.5}, "mitoses_per_2mm2", r"mitoses_per_2mm2: must be >= 0"),
        ({"mitoses_per_2mm2": math.inf}, "mitoses_per_2mm2", r"finite"),
        ({"differentiation": "moderate"}, "differentiation", r"differentiation: unknown value"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], field: str, match: str) -> None:
    args: dict[str, object] = {
        "ki67_percent": 5.0,
        "mitoses_per_2mm2": 1.0,
        "differentiation": "well",
    }
    args.update(kwargs)
    with pytest.raises(CaseError, match=match) as info:
        who_2019_grade(**args)  # type: ignore[arg-type]
    assert info.value.fields == [field]


def test_all_bad_arguments_reported_at_once() -> None:
    with pytest.raises(CaseError) as info:
        who_2019_grade(-1.0, -1.0, "moderate")
    assert info.value.fields == ["ki67_percent", "mitoses_per_2mm2", "differentiation"]


def test_result_is_frozen_json_and_cites_known_sources() -> None:
    result = who_2019_grade(25.0, None, None)
    assert GradeResult.model_validate_json(result.model_dump_json()) == result
    assert result.model_dump(mode="json")["grade"] == "NET G3 vs NEC undetermined"
    assert set(result.source_ids) <= SOURCES.keys()
    with pytest.raises(ValidationError):
        result.grade = WhoGrade.G1  # type: ignore[misc]


@given(
    low=st.floats(min_value=0, max_value=100),
    high=st.floats(min_value=0, max_value=100),
    mitoses=st.one_of(st.none(), st.floats(min_value=0, max_value=500)),
)
def test_grade_is_monotone_in_ki67(low: float, high: float, mitoses: float | None) -> None:
    low, high = min(low, high), max(low, high)
    a = who_2019_grade(low, mitoses, "well").grade
    b = who_2019_grade(high, mitoses, "well").grade
    assert a is not None
    assert b is not None
    assert _RANK[a] <= _RANK[b]


@given(
    ki67=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    mitoses=st.one_of(st.none(), st.floats(min_value=0, max_value=500)),
    differentiation=st.sampled_from(["well", "poor", "unknown", None]),
)
def test_review_flag_matches_grade(
    ki67: float | None, mitoses: float | None, differentiation: str | None
) -> None:
    result = who_2019_grade(ki67, mitoses, differentiation)
    assert result.needs_pathology_review == (result.grade is WhoGrade.G3_OR_NEC)
    assert not (result.is_lower_bound and result.grade is None)
