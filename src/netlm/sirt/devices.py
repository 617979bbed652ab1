"""90Y microsphere devices: activity per sphere, vials, residuals, usable window.

This is the one module that knows each device's numbers; every number cites a
source id of :mod:`netlm.evidence` in a comment.  Decay goes through
:func:`netlm.sirt.physics.activity_at`; no function here reads the clock.

Vial arithmetic
---------------
* Glass (:func:`glass_vial_options`): standard vials of 3, 5, 7, 10, 15 and
  20 GBq at calibration, or a custom vial of 3-20 GBq in 0.5 GBq steps, used
  between the calibration and ``max_days_after_calibration`` days after it.  The
  whole vial is injected, so the activity at infusion must cover the need
  without too much excess.
* Resin (:func:`resin_draw`): one 3.0 GBq vial on the day of calibration (or a
  precalibrated vial for a larger need) from which a fraction is drawn.

Assumptions
-----------
* Precalibrated resin vials: seed 004 lists "4.3 GBq: 1 day precalibration"
  etc.  netlm reads this as the activity the vial holds at the calibration time
  *of the day of use*, i.e. N days before the vial's own calibration.  (These
  numbers are not 3.0 GBq decayed by whole days: 3.0 GBq one day earlier is
  3.9 GBq.  The manufacturer's order form is the authority.)
* Glass usable window: 12 days after calibration, **[U]** (see
  :data:`GLASS_MAX_DAYS_AFTER_CALIBRATION`).
* Glass calibration time: vials are calibrated at 12:00 noon US Eastern time
  (``America/New_York``, daylight-saving aware) on the calibration day
  **[U]** (source ``glass_calibration_time``; the instructions for use are the
  authority): the default candidate calibrations are those instants, whatever
  the infusion's UTC offset (:attr:`Device.calibration_time`,
  :attr:`Device.calibration_zone`).
* Days are calendar days in the calibration's time zone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from netlm.errors import PlanError
from netlm.sirt.physics import Y90_HALF_LIFE_H, activity_at, decay_factor, hours_between
from netlm.units import BQ_PER_GBQ, H_PER_DAY

__all__ = [
    "DEVICES",
    "GLASS_MAX_DAYS_AFTER_CALIBRATION",
    "Device",
    "DeviceKind",
    "ResinDraw",
    "VialOption",
    "get_device",
    "glass_vial_options",
    "resin_draw",
    "spheres_delivered",
    "vial_activity_needed_gbq",
]

#: Relative slack for "activity >= need" comparisons, so that a vial that
#: covers the need exactly is not lost to floating-point rounding.
_REL: Final = 1e-12

#: Glass vials may be used up to this many (calendar) days after calibration.
#: **[U]**: the TheraSphere instructions for use are the authority (not among
#: the sources read); override per call with a :class:`Device` copy.
GLASS_MAX_DAYS_AFTER_CALIBRATION: Final = 12.0


class DeviceKind(StrEnum):
    """The two 90Y microsphere devices."""

    GLASS = "glass"
    RESIN = "resin"


class Device(BaseModel):
    """The numbers of one 90Y microsphere device.

    Attributes
    ----------
    kind
        Glass or resin.
    name
        Human-readable name.
    activity_per_sphere_bq
        Mean activity per sphere at calibration, in Bq.
    standard_vials_gbq
        Standard vial activities at calibration, in GBq, ascending.
    custom_vial_step_gbq
        Grid of custom vial activities, in GBq (``None``: no custom vials).
    custom_vial_range_gbq
        Smallest and largest custom vial at calibration, in GBq.
    precalibrated_vials
        ``(days before calibration, GBq on the day of use)`` pairs, ascending.
    spheres_per_vial
        Spheres in one delivery vial (resin); ``None`` where the count follows
        from the activity per sphere (glass).
    expected_residual_fraction
        Median fraction of the vial activity left in the vial and tubing.
    sphere_density_g_per_ml
        Density of the sphere material, in g/mL.
    max_days_after_calibration
        Last calendar day of use, counted from the calibration day.
    calibration_time, calibration_zone
        Local time and IANA time zone of the manufacturer's calibration, for
        the default candidate calibrations (``None``: noon in the infusion's
        zone).
    source_ids
        Sources of the numbers above (:mod:`netlm.evidence`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: DeviceKind
    name: str
    activity_per_sphere_bq: Annotated[float, Field(gt=0)]
    standard_vials_gbq: tuple[Annotated[float, Field(gt=0)], ...]
    custom_vial_step_gbq: Annotated[float, Field(gt=0)] | None
    custom_vial_range_gbq: tuple[float, float] | None
    precalibrated_vials: tuple[tuple[float, float], ...]
    spheres_per_vial: Annotated[float, Field(gt=0)] | None
    expected_residual_fraction: Annotated[float, Field(ge=0, lt=1)]
    sphere_density_g_per_ml: Annotated[float, Field(gt=0)]
    max_days_after_calibration: Annotated[float, Field(ge=0)]
    source_ids: tuple[str, ...]
    calibration_time: dt.time | None = None
    calibration_zone: str | None = None


_GLASS: Final = Device(
    kind=DeviceKind.GLASS,
    name="glass microspheres (TheraSphere)",
    activity_per_sphere_bq=2500.0,  # devices_004 (seed 004 Table 1)
    standard_vials_gbq=(3.0, 5.0, 7.0, 10.0, 15.0, 20.0),  # devices_004
    custom_vial_step_gbq=0.5,  # devices_004 ("custom vials 3-20 GBq, 0.5 GBq increments")
    custom_vial_range_gbq=(3.0, 20.0),  # devices_004
    precalibrated_vials=(),
    spheres_per_vial=None,  # ~400,000 per GBq = 1e9 / 2500 (devices_004)
    expected_residual_fraction=0.0061,  # residual_hoang (median 0.61 %)
    sphere_density_g_per_ml=3.6,  # devices_004, columns un-swapped per dosimetry.md
    max_days_after_calibration=GLASS_MAX_DAYS_AFTER_CALIBRATION,  # [U] no source read
    source_ids=("devices_004", "residual_hoang", "glass_calibration_time"),
    calibration_time=dt.time(12, 0),  # glass_calibration_time [U]
    calibration_zone="America/New_York",  # glass_calibration_time [U]
)

_RESIN: Final = Device(
    kind=DeviceKind.RESIN,
    name="resin microspheres (SIR-Spheres)",
    activity_per_sphere_bq=50.0,  # devices_004 (seed 004 Table 1)
    standard_vials_gbq=(3.0,),  # devices_004 ("3.0 GBq: day of calibration")
    custom_vial_step_gbq=None,
    custom_vial_range_gbq=None,
    precalibrated_vials=((1.0, 4.3), (2.0, 5.6), (3.0, 7.3)),  # devices_004
    spheres_per_vial=44e6,  # devices_004 ("about 44 +/- 2.6 million per delivery vial")
    expected_residual_fraction=0.0301,  # residual_hoang (median 3.01 %)
    sphere_density_g_per_ml=1.6,  # devices_004, columns un-swapped per dosimetry.md
    max_days_after_calibration=0.0,  # devices_004: used on the day of calibration
    source_ids=("devices_004", "residual_hoang"),
)

#: The devices netlm knows, by kind.
DEVICES: Final[Mapping[DeviceKind, Device]] = MappingProxyType(
    {DeviceKind.GLASS: _GLASS, DeviceKind.RESIN: _RESIN}
)


def get_device(kind: DeviceKind | str) -> Device:
    """The :class:`Device` of ``kind`` (``"glass"`` or ``"resin"``, any case).

    Raises
    ------
    PlanError
        On field ``device`` for an unknown kind.

    Examples
    --------
    >>> get_device("Glass").activity_per_sphere_bq
    2500.0
    """
    key = kind.strip().lower() if isinstance(kind, str) else kind
    try:
        return DEVICES[DeviceKind(key)]
    except ValueError:
        known = ", ".join(k.value for k in DeviceKind)
        raise PlanError([("device", f"unknown device {kind!r}; known: {known}")]) from None


# --------------------------------------------------------------------------- checks
def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError([(name, f"must be a finite number, not {value!r}")])
    if value <= 0:
        raise PlanError([(name, f"must be > 0, not {value:g}")])


def _aware(name: str, when: dt.datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise PlanError([(name, f"{when.isoformat()} has no time zone; give one")])


def _utc(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC: Python subtracts two datetimes sharing one tzinfo by wall clock,
    which is an hour off across a daylight-saving change."""
    return when.astimezone(dt.UTC)


def _calendar_days_after(calibration: dt.datetime, when: dt.datetime) -> int:
    """Calendar days from the calibration day to the day of ``when``, in the calibration's zone."""
    return (when.astimezone(calibration.tzinfo).date() - calibration.date()).days


def _require_kind(device: Device, kind: DeviceKind) -> None:
    if device.kind is not kind:
        raise PlanError([("device", f"needs a {kind.value} device, not {device.kind.value}")])


# ---------------------------------------------------------------- activity, spheres
def vial_activity_needed_gbq(injected_gbq: float, residual_fraction: float) -> float:
    """Vial activity that delivers ``injected_gbq`` when ``residual_fraction`` stays behind.

    A_vial = A / (1 - R).

    Examples
    --------
    >>> vial_activity_needed_gbq(2.0, 0.2)
    2.5
    """
    _positive("injected_gbq", injected_gbq)
    if not (0.0 <= residual_fraction < 1.0):
        raise PlanError([("residual_fraction", f"must be in [0, 1), not {residual_fraction!r}")])
    return injected_gbq / (1.0 - residual_fraction)


def spheres_delivered(
    device: Device,
    injected_gbq: float,
    *,
    vial_activity_at_infusion_gbq: float,
    vial_calibration_activity_gbq: float,
) -> float:
    """Number of spheres delivered with ``injected_gbq`` drawn from one vial.

    Glass: the vial holds (calibration activity / activity per sphere) spheres;
    resin: :attr:`Device.spheres_per_vial`.  The delivered share is
    ``injected_gbq / vial_activity_at_infusion_gbq``.

    Parameters
    ----------
    device
        The device.
    injected_gbq
        Activity injected, at infusion, in GBq.
    vial_activity_at_infusion_gbq
        Activity in the vial at infusion, in GBq (>= ``injected_gbq``).
    vial_calibration_activity_gbq
        Activity of the vial at its calibration, in GBq (used for glass).

    Examples
    --------
    The whole 3 GBq glass vial on its calibration day:

    >>> spheres_delivered(DEVICES[DeviceKind.GLASS], 3.0,
    ...                   vial_activity_at_infusion_gbq=3.0, vial_calibration_activity_gbq=3.0)
    1200000.0
    """
    _positive("injected_gbq", injected_gbq)
    _positive("vial_activity_at_infusion_gbq", vial_activity_at_infusion_gbq)
    _positive("vial_calibration_activity_gbq", vial_calibration_activity_gbq)
    if injected_gbq > vial_activity_at_infusion_gbq * (1.0 + _REL):
        raise PlanError(
            [
                (
                    "injected_gbq",
                    f"{injected_gbq:g} GBq exceeds the vial's {vial_activity_at_infusion_gbq:g} "
                    "GBq at infusion",
                )
            ]
        )
    if device.spheres_per_vial is not None:
        in_vial = device.spheres_per_vial
    else:
        in_vial = vial_calibration_activity_gbq * BQ_PER_GBQ / device.activity_per_sphere_bq
    return in_vial * injected_gbq / vial_activity_at_infusion_gbq


# ------------------------------------------------------------------------ glass vials
class VialOption(BaseModel):
    """One glass vial (size and calibration) that covers the need at infusion.

    Attributes
    ----------
    size_gbq
        Vial activity at calibration, in GBq.
    calibration
        Calibration time of the vial.
    custom
        ``True`` for a custom-ordered size.
    activity_at_infusion_gbq
        Vial activity at the infusion time, in GBq.
    excess_fraction
        ``activity_at_infusion_gbq / needed - 1`` (>= 0).
    days_after_calibration
        Time from calibration to infusion, in days of 24 h.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    size_gbq: float
    calibration: dt.datetime
    custom: bool
    activity_at_infusion_gbq: float
    excess_fraction: float
    days_after_calibration: float


def _calibration_zone(device: Device, infusion: dt.datetime) -> dt.tzinfo:
    if device.calibration_zone is None:
        assert infusion.tzinfo is not None
        return infusion.tzinfo
    try:
        return ZoneInfo(device.calibration_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanError(
            [("device.calibration_zone", f"unknown time zone {device.calibration_zone!r}")]
        ) from None


def _default_calibrations(infusion: dt.datetime, device: Device) -> list[dt.datetime]:
    """The manufacturer's calibration instant of every day from the device's window to the
    infusion day, counted in the calibration's zone (noon in the infusion's zone when the
    device names none)."""
    zone = _calibration_zone(device, infusion)
    at = device.calibration_time or dt.time(12, 0)
    local_day = infusion.astimezone(zone).date()
    days = (
        local_day - dt.timedelta(days=k)
        for k in range(math.floor(device.max_days_after_calibration) + 1)
    )
    candidates = (dt.datetime.combine(day, at, tzinfo=zone) for day in days)
    return [c for c in candidates if _utc(c) <= _utc(infusion)]


def _custom_size(device: Device, needed_gbq: float, factor: float) -> float | None:
    """Smallest custom size whose activity (size * ``factor`` at infusion) covers the need."""
    step, bounds = device.custom_vial_step_gbq, device.custom_vial_range_gbq
    if step is None or bounds is None:
        return None
    low, high = bounds
    steps = max(0, math.ceil((needed_gbq / factor - low) / step - 1e-9))
    size = round(low + steps * step, 9)
    if size * factor < needed_gbq * (1.0 - _REL):  # the 1e-9 slack put it one step short
        size = round(size + step, 9)
    return size if size <= high else None


def glass_vial_options(
    needed_at_infusion_gbq: float,
    infusion: dt.datetime,
    *,
    calibrations: Sequence[dt.datetime] | None = None,
    device: Device = _GLASS,
    tolerance: float = 0.10,
    half_life_h: float = Y90_HALF_LIFE_H,
) -> tuple[VialOption, ...]:
    """Glass vials whose activity at ``infusion`` covers the need, best first.

    For every candidate calibration and every standard size, and for the
    smallest custom size (on the 0.5 GBq grid, within 3-20 GBq) at every
    candidate calibration, the activity at infusion is computed; an option is
    kept when it lies in ``[needed, needed * (1 + tolerance)]``.  (The
    tolerance applies to custom vials too, so that a 3 GBq custom minimum far
    above a small need is not offered.)

    Parameters
    ----------
    needed_at_infusion_gbq
        Vial activity needed at infusion, in GBq (include the residual:
        :func:`vial_activity_needed_gbq`).
    infusion
        Infusion time (time-zone aware).
    calibrations
        Candidate calibration times (time-zone aware).  Default: the
        manufacturer's calibration instant (:attr:`Device.calibration_time` in
        :attr:`Device.calibration_zone`: 12:00 US Eastern for glass, [U]) of
        every day from :attr:`Device.max_days_after_calibration` days before
        the infusion day up to the infusion day, not noon at the infusion's
        UTC offset.  Calibrations after the infusion, or more calendar days
        before it than the device allows, are skipped.
    device
        A glass :class:`Device` (default :data:`DEVICES` ``[GLASS]``).
    tolerance
        Largest excess accepted, as a fraction of the need (>= 0).
    half_life_h
        90Y half-life in hours (source ``y90_half_life``).

    Returns
    -------
    tuple of VialOption
        Sorted by excess, then by fewer days after calibration; empty if
        nothing fits.

    Examples
    --------
    Infusion at the calibration instant (noon in New York is 17:00 UTC in March):

    >>> t = dt.datetime(2026, 3, 2, 17, tzinfo=dt.timezone.utc)
    >>> best = glass_vial_options(5.0, t)[0]
    >>> best.size_gbq, best.custom, best.days_after_calibration, best.excess_fraction
    (5.0, False, 0.0, 0.0)
    >>> best.calibration.isoformat()
    '2026-03-02T12:00:00-05:00'
    """
    _positive("needed_at_infusion_gbq", needed_at_infusion_gbq)
    _positive("half_life_h", half_life_h)
    if isinstance(tolerance, bool) or not math.isfinite(tolerance) or tolerance < 0:
        raise PlanError([("tolerance", f"must be a finite number >= 0, not {tolerance!r}")])
    _aware("infusion", infusion)
    _require_kind(device, DeviceKind.GLASS)
    if calibrations is None:
        candidates = _default_calibrations(infusion, device)
    else:
        for i, calibration in enumerate(calibrations):
            _aware(f"calibrations[{i}]", calibration)
        candidates = list(calibrations)

    needed = needed_at_infusion_gbq
    low, high = needed * (1.0 - _REL), needed * (1.0 + tolerance) * (1.0 + _REL)
    options: list[VialOption] = []
    for calibration in candidates:
        elapsed_h = hours_between(_utc(calibration), _utc(infusion))
        if elapsed_h < 0 or _calendar_days_after(calibration, infusion) > math.floor(
            device.max_days_after_calibration
        ):
            continue
        factor = decay_factor(elapsed_h, half_life_h)
        sizes = [(size, False) for size in device.standard_vials_gbq]
        custom = _custom_size(device, needed, factor)
        if custom is not None and custom not in device.standard_vials_gbq:
            sizes.append((custom, True))
        for size, is_custom in sizes:
            at_infusion = activity_at(size, _utc(calibration), _utc(infusion), half_life_h)
            if low <= at_infusion <= high:
                options.append(
                    VialOption(
                        size_gbq=size,
                        calibration=calibration,
                        custom=is_custom,
                        activity_at_infusion_gbq=at_infusion,
                        excess_fraction=max(0.0, at_infusion / needed - 1.0),
                        days_after_calibration=elapsed_h / H_PER_DAY,
                    )
                )
    options.sort(key=lambda o: (o.excess_fraction, o.days_after_calibration, o.custom))
    return tuple(options)


# ------------------------------------------------------------------------ resin draw
class ResinDraw(BaseModel):
    """The resin vial to use and the fraction of it to draw.

    Attributes
    ----------
    vial_gbq_at_calibration
        Nominal vial activity, in GBq, at ``calibration``: 3.0 for the standard
        vial; 4.3, 5.6 or 7.3 for a precalibrated vial (its activity on the day
        of use, see the module notes).
    calibration
        Reference time of the nominal activity: the calibration time of the
        treatment day.
    vial_activity_at_infusion_gbq
        Vial activity at infusion, in GBq.
    fraction_to_draw
        Fraction of the vial to draw (0-1].
    precalibrated
        ``True`` for a precalibrated vial.
    days_before_calibration
        For a precalibrated vial, how many days before its own calibration it
        is used (0 for the standard vial).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vial_gbq_at_calibration: float
    calibration: dt.datetime
    vial_activity_at_infusion_gbq: float
    fraction_to_draw: float
    precalibrated: bool
    days_before_calibration: float = 0.0


def resin_draw(
    needed_at_infusion_gbq: float,
    infusion: dt.datetime,
    calibration: dt.datetime,
    device: Device = _RESIN,
    half_life_h: float = Y90_HALF_LIFE_H,
) -> ResinDraw:
    """The resin vial and fraction to draw for ``needed_at_infusion_gbq``.

    The standard 3.0 GBq vial is decayed to the infusion; if it does not cover
    the need, the smallest precalibrated vial that does is used.

    Parameters
    ----------
    needed_at_infusion_gbq
        Activity to draw at infusion, in GBq (include the residual).
    infusion
        Infusion time (time-zone aware); on the calendar day of ``calibration``
        (in its zone), or up to :attr:`Device.max_days_after_calibration` days
        later.
    calibration
        Calibration time of the treatment day (time-zone aware).
    device
        A resin :class:`Device` (default :data:`DEVICES` ``[RESIN]``).
    half_life_h
        90Y half-life in hours (source ``y90_half_life``).

    Raises
    ------
    PlanError
        On ``prescription`` when no vial covers the need; on ``infusion`` when
        the infusion is outside the vial's day(s) of use.

    Examples
    --------
    >>> cal = dt.datetime(2026, 3, 2, 18, tzinfo=dt.timezone.utc)
    >>> resin_draw(1.5, cal, cal).fraction_to_draw
    0.5
    >>> resin_draw(4.0, cal, cal).vial_gbq_at_calibration
    4.3
    """
    _positive("needed_at_infusion_gbq", needed_at_infusion_gbq)
    _positive("half_life_h", half_life_h)
    _aware("infusion", infusion)
    _aware("calibration", calibration)
    _require_kind(device, DeviceKind.RESIN)
    days = _calendar_days_after(calibration, infusion)
    if days < 0 or days > math.floor(device.max_days_after_calibration):
        last = math.floor(device.max_days_after_calibration)
        raise PlanError(
            [
                (
                    "infusion",
                    f"{infusion.isoformat()} is {days} calendar day(s) from the calibration "
                    f"{calibration.isoformat()}; {device.name} is used from the calibration day "
                    f"to {last} day(s) after it (precalibrated vials are chosen here: give the "
                    "calibration time of the treatment day)",
                )
            ]
        )
    vials = [(size, 0.0) for size in device.standard_vials_gbq]
    vials += [(gbq, before) for before, gbq in device.precalibrated_vials]
    needed = needed_at_infusion_gbq
    largest = 0.0
    for size, before in vials:
        at_infusion = activity_at(size, _utc(calibration), _utc(infusion), half_life_h)
        largest = max(largest, at_infusion)
        if needed <= at_infusion:
            return ResinDraw(
                vial_gbq_at_calibration=size,
                calibration=calibration,
                vial_activity_at_infusion_gbq=at_infusion,
                fraction_to_draw=needed / at_infusion,
                precalibrated=before > 0,
                days_before_calibration=before,
            )
    raise PlanError(
        [
            (
                "prescription",
                f"{needed:.3g} GBq at infusion exceeds the largest {device.name} vial "
                f"({largest:.3g} GBq at infusion)",
            )
        ]
    )
