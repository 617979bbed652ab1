"""90Y decay in netlm.sirt.physics: closed forms, both directions, round trip, time zones."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.errors import PlanError
from netlm.sirt.physics import (
    Physics,
    activity_at,
    cumulated_activity_gbq_h,
    decay_factor,
    hours_between,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 12, tzinfo=UTC)
HALF_LIFE_H = 64.1


# -------------------------------------------------------------------- closed forms
@pytest.mark.parametrize(
    ("elapsed_h", "expected"),
    [
        (0.0, 1.0),
        (64.1, 0.5),
        (128.2, 0.25),
        (-64.1, 2.0),
        (-128.2, 4.0),
        (24.0, 2.0 ** (-24.0 / 64.1)),
        (32.05, 1.0 / math.sqrt(2.0)),
    ],
)
def test_decay_factor_closed_form(elapsed_h: float, expected: float) -> None:
    assert decay_factor(elapsed_h) == pytest.approx(expected, rel=1e-12)


def test_decay_factor_matches_exponential_with_decay_constant() -> None:
    decay_constant_per_h = math.log(2.0) / HALF_LIFE_H
    for elapsed_h in (1.0, 10.0, 100.0, 500.0):
        expected = math.exp(-decay_constant_per_h * elapsed_h)
        assert decay_factor(elapsed_h) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("half_life_h", [64.05, 64.1, 64.2])
def test_decay_factor_uses_the_half_life_given(half_life_h: float) -> None:
    assert decay_factor(half_life_h, half_life_h) == pytest.approx(0.5, rel=1e-15)


def test_default_half_life_is_the_physics_default() -> None:
    assert decay_factor(Physics().y90_half_life_h) == 0.5


def test_activity_at_one_half_life_later_and_earlier() -> None:
    later = T0 + dt.timedelta(hours=64.1)
    assert activity_at(10.0, T0, later) == pytest.approx(5.0, rel=1e-12)
    # Negative elapsed time: the source had more activity before its reference.
    assert activity_at(10.0, later, T0) == pytest.approx(20.0, rel=1e-12)


def test_activity_at_reference_time_is_unchanged() -> None:
    assert activity_at(3.7, T0, T0) == 3.7


def test_activity_at_across_time_zones_uses_the_true_interval() -> None:
    # 12:00 UTC and 13:00 in Paris (UTC+1 in March before DST) are the same instant.
    paris = dt.datetime(2026, 3, 2, 13, tzinfo=ZoneInfo("Europe/Paris"))
    assert hours_between(T0, paris) == 0.0
    assert activity_at(5.0, T0, paris) == 5.0


def test_hours_between_across_a_dst_change() -> None:
    # Europe/Paris springs forward on 2026-03-29: midnight to noon is 11 h.
    paris = ZoneInfo("Europe/Paris")
    start = dt.datetime(2026, 3, 29, 0, tzinfo=paris)
    end = dt.datetime(2026, 3, 29, 12, tzinfo=paris)
    assert hours_between(start, end) == 11.0
    assert hours_between(end, start) == -11.0


def test_cumulated_activity_closed_form() -> None:
    # 1 MBq at 64.1 h -> 332,916 MBq s (dosimetry.md).
    mbq_s = cumulated_activity_gbq_h(1e-3) * 3600.0 * 1e3
    assert mbq_s == pytest.approx(64.1 * 3600.0 / math.log(2.0), rel=1e-12)
    assert round(mbq_s) == 332_916


# ------------------------------------------------------------------------ properties
@given(
    activity_gbq=st.floats(min_value=1e-3, max_value=1e3),
    elapsed_h=st.floats(min_value=-2000.0, max_value=2000.0),
)
def test_activity_round_trip(activity_gbq: float, elapsed_h: float) -> None:
    later = T0 + dt.timedelta(hours=elapsed_h)
    back = activity_at(activity_at(activity_gbq, T0, later), later, T0)
    assert back == pytest.approx(activity_gbq, rel=1e-12)


@given(
    first_h=st.floats(min_value=-500.0, max_value=500.0),
    second_h=st.floats(min_value=-500.0, max_value=500.0),
)
def test_decay_factors_compose(first_h: float, second_h: float) -> None:
    assert decay_factor(first_h) * decay_factor(second_h) == pytest.approx(
        decay_factor(first_h + second_h), rel=1e-12
    )


@given(elapsed_h=st.floats(min_value=0.0, max_value=5000.0))
def test_decay_never_increases_activity_forward_in_time(elapsed_h: float) -> None:
    assert 0.0 < decay_factor(elapsed_h) <= 1.0


# ------------------------------------------------------------------------ time zones
NAIVE = dt.datetime(2026, 3, 2, 12)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [(NAIVE, T0, "start"), (T0, NAIVE, "end"), (NAIVE, NAIVE, "start")],
)
def test_hours_between_rejects_naive_datetimes(
    start: dt.datetime, end: dt.datetime, field: str
) -> None:
    with pytest.raises(PlanError, match="no time zone") as info:
        hours_between(start, end)
    assert info.value.fields == [field]


@pytest.mark.parametrize(("reference", "when"), [(NAIVE, T0), (T0, NAIVE)])
def test_activity_at_rejects_naive_datetimes(reference: dt.datetime, when: dt.datetime) -> None:
    with pytest.raises(PlanError, match="no time zone"):
        activity_at(1.0, reference, when)


@pytest.mark.parametrize(
    ("reference", "when", "field"), [(NAIVE, T0, "reference"), (T0, NAIVE, "when")]
)
def test_activity_at_names_its_own_argument(
    reference: dt.datetime, when: dt.datetime, field: str
) -> None:
    with pytest.raises(PlanError) as info:
        activity_at(1.0, reference, when)
    assert info.value.fields == [field]


def test_plan_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        hours_between(NAIVE, T0)
