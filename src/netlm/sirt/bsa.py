"""Body-surface-area method for resin microspheres (source ``bsa_method`` [S]).

A[GBq] = (BSA − 0.2) + V_T / (V_T + V_N) for whole-liver treatment; lobar or
segmental treatment scales it by the perfused fraction of the liver
(``lobar_bsa_scaling`` [U]).  The lung-shunt reduction tiers follow the
SIR-Spheres instructions (``resin_lsf_tiers`` [S]).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from netlm.errors import PlanError, UnsafePlanError

#: The divisor of the Mosteller formula, BSA = √(H[cm] · W[kg] / 3600) m² (Mosteller RD,
#: N Engl J Med 1987;317:1098; source ``bsa_method``): a fitted constant, not a unit factor.
_MOSTELLER_DIVISOR: Final = 3600.0


class BsaFormula(StrEnum):
    DUBOIS = "dubois"
    MOSTELLER = "mosteller"


def bsa_m2(height_cm: float, weight_kg: float, formula: BsaFormula | str = "dubois") -> float:
    """Body surface area in m².

    DuBois & DuBois 1916: 0.007184 · W^0.425 · H^0.725; Mosteller 1987:
    √(H · W / 3600) (H in cm, W in kg).

    Examples
    --------
    >>> round(bsa_m2(164, 70, "mosteller"), 4)
    1.7857
    >>> round(bsa_m2(164, 70, "dubois"), 4)
    1.7632
    """
    if not 40 <= height_cm <= 250:
        raise PlanError([("patient.height_cm", f"{height_cm:g} cm is implausible (40..250)")])
    if not 2 <= weight_kg <= 400:
        raise PlanError([("patient.weight_kg", f"{weight_kg:g} kg is implausible (2..400)")])
    f = BsaFormula(formula)
    if f is BsaFormula.MOSTELLER:
        return math.sqrt(height_cm * weight_kg / _MOSTELLER_DIVISOR)
    return float(0.007184 * weight_kg**0.425 * height_cm**0.725)


def bsa_activity_gbq(
    bsa: float,
    *,
    liver_volume_ml: float,
    liver_tumour_volume_ml: float,
    perfused_fraction: float = 1.0,
) -> float:
    """Resin BSA activity for a territory holding ``perfused_fraction`` of the liver.

    ``liver_volume_ml`` is the whole liver including tumour (V_T + V_N).
    """
    if liver_volume_ml <= 0 or not 0 <= liver_tumour_volume_ml <= liver_volume_ml:
        raise PlanError(
            [("whole_liver_tumour_volume_ml", "must be between 0 and the whole-liver volume")]
        )
    if not 0 < perfused_fraction <= 1:
        raise PlanError([("territories", "perfused volume must be within the whole liver")])
    whole = (bsa - 0.2) + liver_tumour_volume_ml / liver_volume_ml
    return whole * perfused_fraction


class LsfTier(BaseModel):
    """The resin activity reduction for a lung shunt fraction."""

    model_config = ConfigDict(frozen=True)

    lung_shunt_fraction: float
    reduction_fraction: float
    refused: bool
    rule: str


def resin_lsf_tier(
    lsf: float,
    *,
    no_reduction_below: float | None = None,
    reduce_20_below: float | None = None,
    maximum: float | None = None,
) -> LsfTier:
    """Resin reduction: < 10 % none, 10–15 % −20 %, 15–20 % −40 %, > 20 % refuse.

    The three cut-offs default to the rule profile's ``resin_lsf_no_reduction_below``,
    ``resin_lsf_reduce_20_below`` and ``resin_lsf_max`` (one home for the numbers the
    board reads too); the planner passes those of the profile it was given.

    Examples
    --------
    >>> resin_lsf_tier(0.12).reduction_fraction
    0.2
    >>> resin_lsf_tier(0.21).refused
    True
    """
    if no_reduction_below is None or reduce_20_below is None or maximum is None:
        from netlm.eligibility.profile import default_profile

        p = default_profile().parameters
        no_reduction_below = (
            p.resin_lsf_no_reduction_below if no_reduction_below is None else no_reduction_below
        )
        if reduce_20_below is None:
            reduce_20_below = p.resin_lsf_reduce_20_below
        maximum = p.resin_lsf_max if maximum is None else maximum
    if lsf < no_reduction_below:
        return LsfTier(
            lung_shunt_fraction=lsf,
            reduction_fraction=0.0,
            refused=False,
            rule=f"LSF < {no_reduction_below:.0%}: no reduction",
        )
    if lsf < reduce_20_below:
        return LsfTier(
            lung_shunt_fraction=lsf,
            reduction_fraction=0.2,
            refused=False,
            rule=f"LSF {no_reduction_below:.0%}-{reduce_20_below:.0%}: reduce 20 %",
        )
    if lsf <= maximum:
        return LsfTier(
            lung_shunt_fraction=lsf,
            reduction_fraction=0.4,
            refused=False,
            rule=f"LSF {reduce_20_below:.0%}-{maximum:.0%}: reduce 40 %",
        )
    return LsfTier(
        lung_shunt_fraction=lsf,
        reduction_fraction=1.0,
        refused=True,
        rule=f"LSF > {maximum:.0%}: do not treat with resin",
    )


__all__ = [
    "BsaFormula",
    "LsfTier",
    "UnsafePlanError",
    "bsa_activity_gbq",
    "bsa_m2",
    "resin_lsf_tier",
]
