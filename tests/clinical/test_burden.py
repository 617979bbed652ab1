"""Tumour burden: volumetry first, then a percentage with its method."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.clinical import BurdenMethod, BurdenResult, tumour_burden
from netlm.errors import CaseError
from netlm.evidence import SOURCES


@pytest.mark.parametrize(
    ("liver", "tumour", "percent"),
    [(2000.0, 500.0, 25.0), (1500.0, 0.0, 0.0), (1500.0, 1500.0, 100.0), (1000.0, 700.0, 70.0)],
)
def test_volumetry(liver: float, tumour: float, percent: float) -> None:
    result = tumour_burden(liver_volume_ml=liver, tumour_volume_ml=tumour)
    assert result.percent == pytest.approx(percent)
    assert result.method is BurdenMethod.VOLUMETRY
    assert result.missing == ()
    assert set(result.source_ids) <= SOURCES.keys()


def test_volumes_win_over_a_percentage() -> None:
    result = tumour_burden(
        liver_volume_ml=2000.0,
        tumour_volume_ml=500.0,
        involvement_percent=60.0,
        involvement_method="visual_estimate",
    )
    assert result.percent == pytest.approx(25.0)
    assert result.method is BurdenMethod.VOLUMETRY


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (None, BurdenMethod.VISUAL_ESTIMATE),
        ("visual_estimate", BurdenMethod.VISUAL_ESTIMATE),
        ("reported", BurdenMethod.REPORTED),
        ("volumetry", BurdenMethod.VOLUMETRY),
        (BurdenMethod.REPORTED, BurdenMethod.REPORTED),
    ],
)
def test_percentage_with_its_method(method: str | None, expected: BurdenMethod) -> None:
    result = tumour_burden(
        liver_volume_ml=None,
        tumour_volume_ml=None,
        involvement_percent=40.0,
        involvement_method=method,
    )
    assert result.percent == 40.0
    assert result.method is expected
    assert result.missing == ()


def test_one_volume_and_a_percentage_uses_the_percentage() -> None:
    result = tumour_burden(liver_volume_ml=1800.0, tumour_volume_ml=None, involvement_percent=30)
    assert result.percent == 30.0
    assert result.method is BurdenMethod.VISUAL_ESTIMATE


@pytest.mark.parametrize(
    ("liver", "tumour", "missing"),
    [
        (None, None, ("liver_volume_ml", "tumour_volume_ml", "involvement_percent")),
        (1800.0, None, ("tumour_volume_ml", "involvement_percent")),
        (None, 300.0, ("liver_volume_ml", "involvement_percent")),
    ],
)
def test_nothing_usable_says_what_is_missing(
    liver: float | None, tumour: float | None, missing: tuple[str, ...]
) -> None:
    result = tumour_burden(liver_volume_ml=liver, tumour_volume_ml=tumour)
    assert result.percent is None
    assert result.method is None
    assert result.missing == missing


def test_tumour_larger_than_liver_is_an_error() -> None:
    with pytest.raises(CaseError, match=r"tumour_volume_ml: 2100 mL exceeds the liver") as info:
        tumour_burden(liver_volume_ml=2000.0, tumour_volume_ml=2100.0)
    assert info.value.fields == ["tumour_volume_ml"]


@pytest.mark.parametrize(
    ("kwargs", "field", "match"),
    [
        ({"liver_volume_ml": 0.0}, "liver_volume_ml", r"liver_volume_ml: must be > 0"),
        ({"liver_volume_ml": -5.0}, "liver_volume_ml", r"must be > 0"),
        ({"tumour_volume_ml": -1.0}, "tumour_volume_ml", r"tumour_volume_ml: must be >= 0"),
        ({"involvement_percent": 100.1}, "involvement_percent", r"must be <= 100"),
        ({"involvement_percent": -1.0}, "involvement_percent", r"must be >= 0"),
        ({"involvement_percent": math.nan}, "involvement_percent", r"finite"),
        ({"involvement_method": "guess"}, "involvement_method", r"unknown value 'guess'"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], field: str, match: str) -> None:
    args: dict[str, object] = {"liver_volume_ml": None, "tumour_volume_ml": None}
    args.update(kwargs)
    with pytest.raises(CaseError, match=match) as info:
        tumour_burden(**args)  # type: ignore[arg-type]
    assert info.value.fields == [field]


def test_result_round_trips_through_json() -> None:
    result = tumour_burden(liver_volume_ml=2000.0, tumour_volume_ml=500.0)
    assert BurdenResult.model_validate_json(result.model_dump_json()) == result
    assert result.model_dump(mode="json")["method"] == "volumetry"


@given(
    liver=st.floats(min_value=1.0, max_value=5000.0),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_volumetric_percent_is_between_0_and_100(liver: float, fraction: float) -> None:
    result = tumour_burden(liver_volume_ml=liver, tumour_volume_ml=liver * fraction)
    assert result.percent is not None
    assert 0.0 <= result.percent <= 100.0
    assert result.percent == pytest.approx(100.0 * fraction)
