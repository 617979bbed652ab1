"""Physical constants of 90Y radioembolization, each with its source, and decay.

The constants disagree between tools (49.67 vs 50 Gy·kg/GBq, 1.03 vs 1.05
g/mL, 64.1 vs 64.2 h), so they are fields of :class:`Physics` with defaults;
every plan records the values it used.  Time is always an argument, never
read from the clock.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field

from netlm.errors import PlanError
from netlm.units import G_PER_KG, S_PER_H

#: The 90Y physical half-life in hours (source ``y90_half_life``): the default of
#: :attr:`Physics.y90_half_life_h` and of every function that takes a half-life.
Y90_HALF_LIFE_H: Final = 64.1

#: Liver and tumour density, g/mL: 1.03 (source ``tissue_density``: shared/reference/
#: dosimetry.md, Tissue; general population; some tools use 1.05).  The one default of
#: :attr:`Physics.tissue_density_g_per_ml`, of the 90Y dose-voxel kernel's medium
#: (:func:`netlm.voxel.kernels.y90_kernel`; water at 1.03 g/mL reproduces the published
#: soft-tissue S values) and of ``netlm kernel --density``.
TISSUE_DENSITY_G_PER_ML: Final = 1.03


def _profile_value(name: str) -> float:
    """A number whose one home is the default rule profile."""
    from netlm.eligibility.profile import default_profile

    return float(default_profile().value(name))


class Physics(BaseModel):
    """The physical constants a plan uses.

    Attributes
    ----------
    dose_constant_gy_kg_per_gbq
        Absorbed dose per unit activity fully decayed in 1 kg.  Its default is
        the rule profile's ``dose_constant_gy_kg_per_gbq`` (49.67, EANM 2022
        convention, source ``dose_constant``; 50 in the TheraSphere insert), so
        that the board and the planner read one number.
    tissue_density_g_per_ml
        Liver and tumour density, 1.03 g/mL (source ``tissue_density``).
    lung_density_g_per_ml
        0.30 g/mL (source ``tissue_density``).
    y90_half_life_h
        64.1 h (source ``y90_half_life``).

    The lung mass of the 30/50 Gy limits is not a physical constant: it is the
    rule profile's ``lung_mass_kg`` (1 kg convention), and a plan's measured
    mass is ``lung_mass_kg`` with its ``lung_mass_basis``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    dose_constant_gy_kg_per_gbq: Annotated[float, Field(gt=40, lt=60)] = Field(
        default_factory=lambda: _profile_value("dose_constant_gy_kg_per_gbq")
    )
    tissue_density_g_per_ml: Annotated[float, Field(gt=0.8, lt=1.3)] = TISSUE_DENSITY_G_PER_ML
    lung_density_g_per_ml: Annotated[float, Field(gt=0.1, lt=1.0)] = 0.30
    y90_half_life_h: Annotated[float, Field(gt=60, lt=70)] = Y90_HALF_LIFE_H

    #: Source ids for each constant (netlm.evidence).
    SOURCES: ClassVar[dict[str, tuple[str, ...]]] = {
        "dose_constant_gy_kg_per_gbq": ("dose_constant",),
        "tissue_density_g_per_ml": ("tissue_density",),
        "lung_density_g_per_ml": ("tissue_density",),
        "y90_half_life_h": ("y90_half_life",),
    }

    def mass_kg(self, volume_ml: float) -> float:
        """Mass of liver/tumour tissue of ``volume_ml``."""
        return volume_ml * self.tissue_density_g_per_ml / G_PER_KG


def decay_factor(elapsed_h: float, half_life_h: float = Y90_HALF_LIFE_H) -> float:
    """Fraction of activity left after ``elapsed_h`` hours (negative: before).

    Examples
    --------
    >>> decay_factor(64.1)
    0.5
    >>> round(decay_factor(-64.1), 12)
    2.0
    """
    return math.pow(2.0, -elapsed_h / half_life_h)


def _aware(name: str, when: dt.datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise PlanError(
            [
                (
                    name,
                    f"{when.isoformat()} has no time zone; give one (e.g. +01:00 or Z) "
                    "so that decay is computed over the right interval",
                )
            ]
        )


def hours_between(start: dt.datetime, end: dt.datetime) -> float:
    """Hours from ``start`` to ``end`` (both time-zone aware)."""
    _aware("start", start)
    _aware("end", end)
    # Convert to UTC first: subtracting two datetimes that share a tzinfo uses
    # wall-clock time and would be an hour off across a daylight-saving change.
    utc = dt.UTC
    return (end.astimezone(utc) - start.astimezone(utc)).total_seconds() / S_PER_H


def activity_at(
    activity_gbq: float,
    reference: dt.datetime,
    when: dt.datetime,
    half_life_h: float = Y90_HALF_LIFE_H,
) -> float:
    """Activity at ``when`` of a source that had ``activity_gbq`` at ``reference``.

    Works both ways: ``when`` before ``reference`` gives the larger activity.

    Examples
    --------
    >>> t0 = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    >>> activity_at(10.0, t0, t0 + dt.timedelta(hours=64.1))
    5.0
    """
    _aware("reference", reference)
    _aware("when", when)
    return activity_gbq * decay_factor(hours_between(reference, when), half_life_h)


def cumulated_activity_gbq_h(activity_gbq: float, half_life_h: float = Y90_HALF_LIFE_H) -> float:
    """Time-integrated activity of a permanent implant: A0 · T½ / ln 2 (GBq·h)."""
    return activity_gbq * half_life_h / math.log(2.0)
