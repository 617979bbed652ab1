"""Device numbers, residual, sphere counts, glass vial options and resin draws."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.errors import PlanError
from netlm.evidence import SOURCES
from netlm.sirt.devices import (
    DEVICES,
    Device,
    DeviceKind,
    ResinDraw,
    get_device,
    glass_vial_options,
    resin_draw,
    spheres_delivered,
    vial_activity_needed_gbq,
)
from netlm.sirt.physics import activity_at, hours_between

GLASS, RESIN = DEVICES[DeviceKind.GLASS], DEVICES[DeviceKind.RESIN]
UTC = dt.UTC
#: A Tuesday afternoon infusion in Dublin (UTC+0 in March before DST).
INFUSION = dt.datetime(2026, 3, 3, 14, 30, tzinfo=ZoneInfo("Europe/Dublin"))
#: Glass vials are calibrated at noon New York time (EST, UTC-5, in early March 2026).
NEW_YORK = ZoneInfo("America/New_York")
REL = 1e-12


# ---------------------------------------------------------------------- device table
def test_device_numbers() -> None:
    assert GLASS.activity_per_sphere_bq == 2500.0
    assert RESIN.activity_per_sphere_bq == 50.0
    assert GLASS.standard_vials_gbq == (3.0, 5.0, 7.0, 10.0, 15.0, 20.0)
    assert RESIN.standard_vials_gbq == (3.0,)
    assert GLASS.custom_vial_step_gbq == 0.5 and GLASS.custom_vial_range_gbq == (3.0, 20.0)
    assert RESIN.custom_vial_step_gbq is None and RESIN.custom_vial_range_gbq is None
    assert RESIN.precalibrated_vials == ((1.0, 4.3), (2.0, 5.6), (3.0, 7.3))
    assert GLASS.precalibrated_vials == ()
    assert RESIN.spheres_per_vial == 44e6 and GLASS.spheres_per_vial is None
    assert GLASS.expected_residual_fraction == 0.0061
    assert RESIN.expected_residual_fraction == 0.0301
    # seed 004's table swaps these columns; dosimetry.md gives the right ones.
    assert GLASS.sphere_density_g_per_ml == 3.6 and RESIN.sphere_density_g_per_ml == 1.6
    assert GLASS.max_days_after_calibration == 12.0
    assert RESIN.max_days_after_calibration == 0.0


@pytest.mark.parametrize("device", [GLASS, RESIN])
def test_devices_cite_known_sources(device: Device) -> None:
    assert device.source_ids
    assert all(source_id in SOURCES for source_id in device.source_ids)


def test_glass_spheres_per_gbq_is_400_000() -> None:
    assert 1e9 / GLASS.activity_per_sphere_bq == 400_000.0


def test_devices_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        GLASS.activity_per_sphere_bq = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEVICES[DeviceKind.GLASS] = RESIN  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (DeviceKind.GLASS, DeviceKind.GLASS),
        ("glass", DeviceKind.GLASS),
        (" Resin ", DeviceKind.RESIN),
        ("RESIN", DeviceKind.RESIN),
    ],
)
def test_get_device(kind: DeviceKind | str, expected: DeviceKind) -> None:
    assert get_device(kind).kind is expected


@pytest.mark.parametrize("kind", ["holmium", "", "glas"])
def test_get_device_unknown(kind: str) -> None:
    with pytest.raises(PlanError, match="unknown device") as info:
        get_device(kind)
    assert info.value.fields == ["device"]


# -------------------------------------------------------------------------- residual
@pytest.mark.parametrize(
    ("injected", "residual", "expected"),
    [(2.0, 0.0, 2.0), (2.0, 0.2, 2.5), (1.0, 0.5, 2.0), (3.0, 0.0301, 3.0 / 0.9699)],
)
def test_vial_activity_needed(injected: float, residual: float, expected: float) -> None:
    assert vial_activity_needed_gbq(injected, residual) == pytest.approx(expected, rel=REL)


@given(
    injected=st.floats(min_value=1e-3, max_value=50.0),
    residual=st.floats(min_value=0.0, max_value=0.9),
)
def test_residual_leaves_the_injected_activity(injected: float, residual: float) -> None:
    vial = vial_activity_needed_gbq(injected, residual)
    assert vial * (1.0 - residual) == pytest.approx(injected, rel=REL)
    assert vial >= injected


@pytest.mark.parametrize(
    ("injected", "residual", "field"),
    [
        (0.0, 0.1, "injected_gbq"),
        (-1.0, 0.1, "injected_gbq"),
        (math.nan, 0.1, "injected_gbq"),
        (1.0, 1.0, "residual_fraction"),
        (1.0, -0.01, "residual_fraction"),
    ],
)
def test_vial_activity_needed_rejects(injected: float, residual: float, field: str) -> None:
    with pytest.raises(PlanError) as info:
        vial_activity_needed_gbq(injected, residual)
    assert info.value.fields == [field]


# --------------------------------------------------------------------------- spheres
def test_whole_3_gbq_glass_vial_on_calibration_day_is_1_2_million_spheres() -> None:
    spheres = spheres_delivered(
        GLASS, 3.0, vial_activity_at_infusion_gbq=3.0, vial_calibration_activity_gbq=3.0
    )
    assert spheres == pytest.approx(1.2e6, rel=REL)


def test_whole_20_gbq_glass_vial_is_8_million_spheres() -> None:
    spheres = spheres_delivered(
        GLASS, 20.0, vial_activity_at_infusion_gbq=20.0, vial_calibration_activity_gbq=20.0
    )
    assert spheres == pytest.approx(8e6, rel=REL)


@pytest.mark.parametrize("days_after", [0.0, 1.0, 4.0, 12.0])
def test_glass_spheres_per_injected_gbq_grow_as_the_vial_decays(days_after: float) -> None:
    calibration = INFUSION - dt.timedelta(days=days_after)
    at_infusion = activity_at(5.0, calibration, INFUSION)
    injected = 0.5 * at_infusion
    spheres = spheres_delivered(
        GLASS,
        injected,
        vial_activity_at_infusion_gbq=at_infusion,
        vial_calibration_activity_gbq=5.0,
    )
    # injected / 2500 Bq, scaled by calibration activity / activity at infusion.
    expected = injected * 1e9 / 2500.0 * (5.0 / at_infusion)
    assert spheres == pytest.approx(expected, rel=REL)
    # Half the vial is half its spheres, whatever the decay.
    assert spheres == pytest.approx(0.5 * 5.0 * 400_000, rel=REL)


@pytest.mark.parametrize("share", [1.0, 0.5, 0.1])
def test_resin_spheres_are_a_share_of_the_vial(share: float) -> None:
    spheres = spheres_delivered(
        RESIN,
        share * 2.4,
        vial_activity_at_infusion_gbq=2.4,
        vial_calibration_activity_gbq=3.0,
    )
    assert spheres == pytest.approx(share * 44e6, rel=REL)


@pytest.mark.parametrize(
    ("injected", "at_infusion", "at_calibration", "field"),
    [
        (0.0, 3.0, 3.0, "injected_gbq"),
        (3.5, 3.0, 3.0, "injected_gbq"),
        (1.0, 0.0, 3.0, "vial_activity_at_infusion_gbq"),
        (1.0, 3.0, -3.0, "vial_calibration_activity_gbq"),
    ],
)
def test_spheres_delivered_rejects(
    injected: float, at_infusion: float, at_calibration: float, field: str
) -> None:
    with pytest.raises(PlanError) as info:
        spheres_delivered(
            GLASS,
            injected,
            vial_activity_at_infusion_gbq=at_infusion,
            vial_calibration_activity_gbq=at_calibration,
        )
    assert info.value.fields == [field]


# ----------------------------------------------------------------------- glass vials
def _check_options(needed: float, tolerance: float = 0.10) -> None:
    options = glass_vial_options(needed, INFUSION, tolerance=tolerance)
    earliest_day = INFUSION.date() - dt.timedelta(days=12)
    for o in options:
        assert (
            needed * (1 - REL) <= o.activity_at_infusion_gbq <= needed * (1 + tolerance) * (1 + REL)
        )
        assert o.activity_at_infusion_gbq == pytest.approx(
            activity_at(o.size_gbq, o.calibration, INFUSION), rel=REL
        )
        assert o.excess_fraction == pytest.approx(
            max(0.0, o.activity_at_infusion_gbq / needed - 1.0), abs=1e-12
        )
        assert o.calibration <= INFUSION
        assert o.calibration.date() >= earliest_day
        assert o.calibration.hour == 12 and o.calibration.tzinfo == NEW_YORK
        assert o.days_after_calibration == pytest.approx(
            hours_between(o.calibration, INFUSION) / 24.0, rel=REL
        )
        if o.custom:
            assert 3.0 <= o.size_gbq <= 20.0
            assert (o.size_gbq / 0.5) == round(o.size_gbq / 0.5)
            assert o.size_gbq not in GLASS.standard_vials_gbq
        else:
            assert o.size_gbq in GLASS.standard_vials_gbq
    keys = [(o.excess_fraction, o.days_after_calibration) for o in options]
    assert keys == sorted(keys)


@pytest.mark.parametrize("needed", [0.3, 1.0, 2.5, 3.0, 4.2, 7.7, 12.0, 19.9, 20.0])
def test_glass_vial_options_invariants(needed: float) -> None:
    _check_options(needed)


@given(
    needed=st.floats(min_value=0.05, max_value=20.0),
    tolerance=st.floats(min_value=0.0, max_value=0.5),
)
def test_glass_vial_options_invariants_property(needed: float, tolerance: float) -> None:
    _check_options(needed, tolerance)


def test_glass_candidate_calibrations_span_the_window() -> None:
    # Infusion at 14:30 Dublin = 09:30 New York: noon New York of the infusion day is
    # after it; noon New York of each of the 12 days before it is a candidate.
    options = glass_vial_options(0.5, INFUSION, tolerance=10.0)
    days = {o.calibration.date() for o in options}
    assert days == {INFUSION.date() - dt.timedelta(days=k) for k in range(1, 13)}
    later = INFUSION.replace(hour=18)  # 13:00 New York: the infusion day's calibration is in
    days = {o.calibration.date() for o in glass_vial_options(0.5, later, tolerance=10.0)}
    assert days == {INFUSION.date() - dt.timedelta(days=k) for k in range(13)}


@pytest.mark.parametrize(
    "infusion",
    [
        dt.datetime(2026, 3, 3, 18, 0, tzinfo=ZoneInfo("Europe/Dublin")),
        dt.datetime(2026, 3, 4, 3, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
        dt.datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles")),
        dt.datetime(2026, 3, 3, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=0))),
    ],
)
def test_glass_calibration_is_noon_new_york_whatever_the_infusion_offset(
    infusion: dt.datetime,
) -> None:
    # The same instant (18:00 UTC) written in four zones: the same candidates; the
    # best 5 GBq option is the vial calibrated at 12:00 New York = 17:00 UTC that day.
    options = glass_vial_options(4.9, infusion, tolerance=0.05)
    best = next(o for o in options if o.size_gbq == 5.0 and not o.custom)
    assert best.calibration == dt.datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert best.days_after_calibration == pytest.approx(1.0 / 24.0, rel=REL)


def test_glass_calibration_follows_new_york_daylight_saving() -> None:
    # July: EDT (UTC-4), so noon New York is 16:00 UTC.
    infusion = dt.datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    best = glass_vial_options(5.0, infusion)[0]
    assert (best.size_gbq, best.excess_fraction, best.days_after_calibration) == (5.0, 0.0, 0.0)
    assert best.calibration.utcoffset() == dt.timedelta(hours=-4)


def test_glass_calibration_on_infusion_day_only_if_before_the_infusion() -> None:
    morning = INFUSION.replace(hour=9)
    options = glass_vial_options(1.0, morning, tolerance=10.0)
    assert options
    assert all(o.calibration < morning for o in options)
    assert morning.date() not in {o.calibration.date() for o in options}


def test_glass_need_of_25_gbq_has_no_standard_option() -> None:
    assert glass_vial_options(25.0, INFUSION) == ()
    # Nor a custom one: the largest vial (20 GBq) cannot hold 25 GBq at any calibration.
    assert glass_vial_options(25.0, INFUSION, tolerance=10.0) == ()
    # 19 GBq is covered only on the calibration day, by the 20 GBq vial or a custom 19.5.
    noon = dt.datetime(2026, 3, 3, 12, tzinfo=NEW_YORK)
    sizes = {(o.size_gbq, o.custom) for o in glass_vial_options(19.0, noon)}
    assert sizes == {(20.0, False), (19.0, True)}


def test_glass_exact_standard_vial_on_calibration_is_best() -> None:
    calibration = dt.datetime(2026, 3, 3, 12, tzinfo=NEW_YORK)
    best = glass_vial_options(5.0, calibration)[0]
    assert (best.size_gbq, best.custom, best.calibration) == (5.0, False, calibration)
    assert best.excess_fraction == 0.0 and best.days_after_calibration == 0.0


def test_glass_custom_vial_is_the_smallest_grid_size_that_covers() -> None:
    calibration = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    infusion = calibration + dt.timedelta(hours=24)
    needed = 4.2
    options = glass_vial_options(needed, infusion, calibrations=[calibration])
    custom = [o for o in options if o.custom]
    assert len(custom) == 1
    size = custom[0].size_gbq
    assert activity_at(size, calibration, infusion) >= needed
    assert activity_at(size - 0.5, calibration, infusion) < needed
    expected = math.ceil(needed / activity_at(1.0, calibration, infusion) / 0.5) * 0.5
    assert size == expected


def test_glass_custom_vial_not_below_3_gbq() -> None:
    # Need 1 GBq on the calibration day: the smallest custom vial (3 GBq) is far too big.
    calibration = dt.datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert glass_vial_options(1.0, calibration, calibrations=[calibration]) == ()
    wide = glass_vial_options(1.0, calibration, calibrations=[calibration], tolerance=2.5)
    assert [(o.size_gbq, o.custom) for o in wide] == [(3.0, False)]


def test_glass_explicit_calibrations_outside_the_window_are_skipped() -> None:
    after = INFUSION + dt.timedelta(hours=1)
    too_early = INFUSION - dt.timedelta(days=14)
    assert glass_vial_options(1.0, INFUSION, calibrations=[after, too_early]) == ()


def test_glass_decay_across_a_dst_change_uses_elapsed_hours() -> None:
    # Europe/Paris springs forward on 2026-03-29: noon on the 28th to noon on the
    # 30th is 47 h, not 48 h.
    paris = ZoneInfo("Europe/Paris")
    calibration = dt.datetime(2026, 3, 28, 12, tzinfo=paris)
    infusion = dt.datetime(2026, 3, 30, 12, tzinfo=paris)
    (option,) = [
        o
        for o in glass_vial_options(4.0, infusion, calibrations=[calibration], tolerance=1.0)
        if o.size_gbq == 7.0
    ]
    assert option.days_after_calibration == pytest.approx(47.0 / 24.0, rel=REL)
    assert option.activity_at_infusion_gbq == pytest.approx(7.0 * 2.0 ** (-47.0 / 64.1), rel=REL)


@pytest.mark.parametrize("tolerance", [0.0, 0.05, 0.10, 0.25])
def test_glass_wider_tolerance_never_loses_options(tolerance: float) -> None:
    narrow = set(glass_vial_options(6.3, INFUSION, tolerance=tolerance))
    wide = set(glass_vial_options(6.3, INFUSION, tolerance=tolerance + 0.1))
    assert narrow <= wide


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"needed_at_infusion_gbq": 0.0}, "needed_at_infusion_gbq"),
        ({"needed_at_infusion_gbq": -2.0}, "needed_at_infusion_gbq"),
        ({"needed_at_infusion_gbq": math.inf}, "needed_at_infusion_gbq"),
        ({"tolerance": -0.01}, "tolerance"),
        ({"tolerance": math.nan}, "tolerance"),
        ({"half_life_h": 0.0}, "half_life_h"),
        ({"infusion": dt.datetime(2026, 3, 3, 14)}, "infusion"),
        ({"calibrations": [dt.datetime(2026, 3, 1, 12)]}, "calibrations[0]"),
        ({"device": RESIN}, "device"),
    ],
)
def test_glass_vial_options_rejects(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"needed_at_infusion_gbq": 5.0, "infusion": INFUSION}
    arguments.update(kwargs)
    with pytest.raises(PlanError) as info:
        glass_vial_options(**arguments)  # type: ignore[arg-type]
    assert info.value.fields == [field]


def test_glass_window_is_a_device_parameter() -> None:
    short = GLASS.model_copy(update={"max_days_after_calibration": 3.0})
    options = glass_vial_options(1.0, INFUSION, device=short, tolerance=10.0)
    # 09:30 New York: the infusion day's noon calibration is still ahead.
    assert {o.calibration.date() for o in options} == {
        INFUSION.date() - dt.timedelta(days=k) for k in range(1, 4)
    }


# ------------------------------------------------------------------------ resin draw
CALIBRATION = dt.datetime(2026, 3, 3, 18, tzinfo=ZoneInfo("America/New_York"))


@pytest.mark.parametrize("needed", [0.1, 1.0, 2.0, 2.9])
def test_resin_fraction_is_need_over_decayed_3_gbq(needed: float) -> None:
    infusion = CALIBRATION + dt.timedelta(hours=-5)  # same day, before calibration
    draw = resin_draw(needed, infusion, CALIBRATION)
    decayed = 3.0 * 2.0 ** (-hours_between(CALIBRATION, infusion) / 64.1)
    assert draw.fraction_to_draw == pytest.approx(needed / decayed, rel=1e-12)
    assert draw.vial_activity_at_infusion_gbq == pytest.approx(decayed, rel=1e-12)
    assert (draw.vial_gbq_at_calibration, draw.precalibrated) == (3.0, False)
    assert draw.days_before_calibration == 0.0
    assert draw.calibration == CALIBRATION


def test_resin_whole_vial_at_calibration() -> None:
    draw = resin_draw(3.0, CALIBRATION, CALIBRATION)
    assert draw.fraction_to_draw == 1.0 and not draw.precalibrated


@pytest.mark.parametrize(
    ("needed", "vial", "days_before"),
    [(3.5, 4.3, 1.0), (4.3, 4.3, 1.0), (4.31, 5.6, 2.0), (6.0, 7.3, 3.0), (7.3, 7.3, 3.0)],
)
def test_resin_precalibrated_vial_when_more_than_3_gbq_needed(
    needed: float, vial: float, days_before: float
) -> None:
    draw = resin_draw(needed, CALIBRATION, CALIBRATION)
    assert draw.precalibrated
    assert (draw.vial_gbq_at_calibration, draw.days_before_calibration) == (vial, days_before)
    assert draw.fraction_to_draw == pytest.approx(needed / vial, rel=1e-12)
    assert 0.0 < draw.fraction_to_draw <= 1.0


def test_resin_precalibrated_vial_decays_to_the_infusion() -> None:
    infusion = CALIBRATION - dt.timedelta(hours=8)
    draw = resin_draw(4.5, infusion, CALIBRATION)
    assert draw.vial_gbq_at_calibration == 4.3
    assert draw.vial_activity_at_infusion_gbq == pytest.approx(
        activity_at(4.3, CALIBRATION, infusion), rel=1e-12
    )


@pytest.mark.parametrize("needed", [7.31, 10.0, 50.0])
def test_resin_nothing_covers(needed: float) -> None:
    with pytest.raises(PlanError, match="exceeds") as info:
        resin_draw(needed, CALIBRATION, CALIBRATION)
    assert info.value.fields == ["prescription"]


def test_resin_used_after_calibration_time_on_the_same_day() -> None:
    later = CALIBRATION + dt.timedelta(hours=3)  # 21:00 New York
    draw = resin_draw(1.0, later, CALIBRATION)
    assert draw.vial_activity_at_infusion_gbq < 3.0


@pytest.mark.parametrize(
    "infusion",
    [CALIBRATION + dt.timedelta(days=1), CALIBRATION - dt.timedelta(days=1)],
)
def test_resin_infusion_on_another_day_is_refused(infusion: dt.datetime) -> None:
    with pytest.raises(PlanError, match="calendar day") as info:
        resin_draw(1.0, infusion, CALIBRATION)
    assert info.value.fields == ["infusion"]


@pytest.mark.parametrize(
    ("needed", "infusion", "calibration", "field"),
    [
        (0.0, CALIBRATION, CALIBRATION, "needed_at_infusion_gbq"),
        (-1.0, CALIBRATION, CALIBRATION, "needed_at_infusion_gbq"),
        (1.0, dt.datetime(2026, 3, 3, 12), CALIBRATION, "infusion"),
        (1.0, CALIBRATION, dt.datetime(2026, 3, 3, 18), "calibration"),
    ],
)
def test_resin_draw_rejects(
    needed: float, infusion: dt.datetime, calibration: dt.datetime, field: str
) -> None:
    with pytest.raises(PlanError) as info:
        resin_draw(needed, infusion, calibration)
    assert info.value.fields == [field]


def test_resin_draw_needs_a_resin_device() -> None:
    with pytest.raises(PlanError) as info:
        resin_draw(1.0, CALIBRATION, CALIBRATION, device=GLASS)
    assert info.value.fields == ["device"]


def test_resin_draw_serialises() -> None:
    draw = resin_draw(1.5, CALIBRATION, CALIBRATION)
    assert ResinDraw.model_validate_json(draw.model_dump_json()) == draw


@given(needed=st.floats(min_value=1e-3, max_value=7.3))
def test_resin_draw_covers_the_need(needed: float) -> None:
    draw = resin_draw(needed, CALIBRATION, CALIBRATION)
    assert 0.0 < draw.fraction_to_draw <= 1.0
    assert draw.fraction_to_draw * draw.vial_activity_at_infusion_gbq == pytest.approx(
        needed, rel=1e-12
    )
    assert draw.precalibrated is (needed > 3.0)
