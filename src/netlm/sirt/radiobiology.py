"""Radiobiology of a permanent 90Y implant: BED, EQD2, EUD and parameter presets.

Formulas (source ``bed_dale``, ``eud_niemierko``):

* BED = D · [1 + D · T_rep / ((T_rep + T_phys) · α/β)] for a permanent,
  exponentially decaying implant with mono-exponential repair (Dale), where
  T_rep is the repair half-time and T_phys the physical half-life.
* EQD2 = BED / (1 + 2 / (α/β)).
* EUD = −(1/α) · ln(Σ w_i · exp(−α · D_i) / Σ w_i).

The radiobiological parameters are uncertain (source
``radiobiology_parameters``, **[U]**): they are arguments, and the
:data:`PRESETS` only give named defaults that a result should record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from netlm.errors import PlanError
from netlm.sirt.physics import Y90_HALF_LIFE_H

__all__ = [
    "PRESETS",
    "RadiobiologyPreset",
    "bed_from_preset",
    "bed_permanent_implant_gy",
    "eqd2_gy",
    "eud_gy",
]


def _number(name: str, value: float, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError([(name, f"must be a finite number, not {value!r}")])
    if positive and value <= 0:
        raise PlanError([(name, f"must be > 0, not {value:g}")])
    if value < 0:
        raise PlanError([(name, f"must be >= 0, not {value:g}")])


def bed_permanent_implant_gy(
    dose_gy: float,
    *,
    alpha_beta_gy: float,
    repair_half_time_h: float,
    physical_half_life_h: float = Y90_HALF_LIFE_H,
) -> float:
    """Biologically effective dose of a permanent, exponentially decaying implant.

    BED = D · [1 + D · T_rep / ((T_rep + T_phys) · α/β)] (Dale; source ``bed_dale``).

    Parameters
    ----------
    dose_gy
        Absorbed dose delivered by complete decay, in Gy (>= 0).
    alpha_beta_gy
        α/β of the tissue, in Gy (> 0).
    repair_half_time_h
        Sublethal-damage repair half-time, in hours (> 0).
    physical_half_life_h
        Physical half-life of the nuclide, in hours (90Y: 64.1, source
        ``y90_half_life``).

    Examples
    --------
    >>> round(bed_permanent_implant_gy(100.0, alpha_beta_gy=10.0, repair_half_time_h=1.5,
    ...                                physical_half_life_h=98.5), 9)
    115.0
    """
    _number("dose_gy", dose_gy, positive=False)
    _number("alpha_beta_gy", alpha_beta_gy, positive=True)
    _number("repair_half_time_h", repair_half_time_h, positive=True)
    _number("physical_half_life_h", physical_half_life_h, positive=True)
    repair_factor = repair_half_time_h / (repair_half_time_h + physical_half_life_h)
    return dose_gy * (1.0 + dose_gy * repair_factor / alpha_beta_gy)


def eqd2_gy(bed_gy: float, *, alpha_beta_gy: float) -> float:
    """Equivalent dose in 2 Gy fractions: EQD2 = BED / (1 + 2 / (α/β)).

    Examples
    --------
    >>> eqd2_gy(120.0, alpha_beta_gy=2.0)
    60.0
    """
    _number("bed_gy", bed_gy, positive=False)
    _number("alpha_beta_gy", alpha_beta_gy, positive=True)
    return bed_gy / (1.0 + 2.0 / alpha_beta_gy)


def eud_gy(
    doses_gy: Sequence[float] | npt.ArrayLike,
    *,
    alpha_per_gy: float,
    weights: Sequence[float] | npt.ArrayLike | None = None,
) -> float:
    """Equivalent uniform dose (Niemierko; source ``eud_niemierko``).

    EUD = −(1/α) · ln(Σ w_i · exp(−α · D_i) / Σ w_i), evaluated with the
    smallest dose factored out, so that large α · D neither underflows nor
    loses the result.

    Parameters
    ----------
    doses_gy
        Doses of the voxels (or DVH bins), in Gy, any shape (flattened); >= 0.
    alpha_per_gy
        Radiosensitivity α, in 1/Gy (> 0).
    weights
        Relative volume of each dose (same number of elements, >= 0, not all
        zero); default equal weights.

    Examples
    --------
    >>> eud_gy([20.0, 20.0, 20.0], alpha_per_gy=0.3)
    20.0
    >>> round(eud_gy([0.0, 100.0], alpha_per_gy=0.01), 6)  # below the mean of 50
    37.988549
    """
    _number("alpha_per_gy", alpha_per_gy, positive=True)
    try:
        doses = np.asarray(doses_gy, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise PlanError([("doses_gy", "must be numbers")]) from None
    if doses.size == 0:
        raise PlanError([("doses_gy", "must not be empty")])
    if not np.all(np.isfinite(doses)) or np.any(doses < 0):
        raise PlanError([("doses_gy", "must be finite and >= 0")])
    if weights is None:
        w = np.ones_like(doses)
    else:
        try:
            w = np.asarray(weights, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise PlanError([("weights", "must be numbers")]) from None
        if w.size != doses.size:
            raise PlanError(
                [("weights", f"has {w.size} elements, doses_gy has {doses.size}; they must match")]
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
            raise PlanError([("weights", "must be finite, >= 0 and not all zero")])
    used = w > 0
    doses, w = doses[used], w[used]
    lowest = float(doses.min())
    # Every term is <= 1 and the lowest dose's term is exactly 1: no underflow to 0.
    mean_survival = float(np.dot(w, np.exp(-alpha_per_gy * (doses - lowest))) / w.sum())
    return lowest - math.log(mean_survival) / alpha_per_gy


class RadiobiologyPreset(BaseModel):
    """Named radiobiological parameters of one tissue.

    Attributes
    ----------
    id
        Preset id (key of :data:`PRESETS`).
    tissue
        Tissue the parameters describe.
    alpha_beta_gy
        α/β in Gy.
    repair_half_time_h
        Repair half-time in hours.
    alpha_per_gy
        Radiosensitivity α in 1/Gy for the EUD, or ``None`` where none is given.
    note
        Alternatives and certainty, for the output.
    source_ids
        Sources (:mod:`netlm.evidence`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str
    tissue: str
    alpha_beta_gy: Annotated[float, Field(gt=0)]
    repair_half_time_h: Annotated[float, Field(gt=0)]
    alpha_per_gy: Annotated[float, Field(gt=0)] | None
    note: str
    source_ids: tuple[str, ...]


_NORMAL_LIVER: Final = RadiobiologyPreset(
    id="normal_liver",
    tissue="normal liver parenchyma",
    alpha_beta_gy=2.5,  # radiobiology_parameters [U]
    repair_half_time_h=1.5,  # radiobiology_parameters [U]
    alpha_per_gy=None,
    note=(
        "[U] alpha/beta 2.5 Gy, repair half-time 1.5 h; alternatives in use: alpha/beta "
        "2.75 Gy, repair half-time up to 2.5 h. No alpha for EUD is given for normal liver."
    ),
    source_ids=("radiobiology_parameters",),
)

_TUMOUR: Final = RadiobiologyPreset(
    id="tumour",
    tissue="tumour",
    alpha_beta_gy=10.0,  # radiobiology_parameters [U]
    repair_half_time_h=1.5,  # radiobiology_parameters [U]
    alpha_per_gy=0.01,  # [U] unverified placeholder, source needed (see note)
    note=(
        "[U] alpha/beta 10 Gy, repair half-time 1.5 h; alpha 0.01 /Gy for the EUD is an "
        "unverified placeholder (no source read gives it; NET-specific values are unknown)."
    ),
    source_ids=("radiobiology_parameters",),
)

#: Radiobiological presets by id.
PRESETS: Final[Mapping[str, RadiobiologyPreset]] = MappingProxyType(
    {p.id: p for p in (_NORMAL_LIVER, _TUMOUR)}
)


def bed_from_preset(
    dose_gy: float,
    preset: str | RadiobiologyPreset,
    physical_half_life_h: float = Y90_HALF_LIFE_H,
) -> float:
    """BED of ``dose_gy`` with the α/β and repair half-time of ``preset``.

    Raises
    ------
    PlanError
        On field ``preset`` for an unknown preset id.

    Examples
    --------
    >>> bed_from_preset(0.0, "normal_liver")
    0.0
    """
    if isinstance(preset, str):
        try:
            preset = PRESETS[preset]
        except KeyError:
            known = ", ".join(PRESETS)
            raise PlanError([("preset", f"unknown preset {preset!r}; known: {known}")]) from None
    return bed_permanent_implant_gy(
        dose_gy,
        alpha_beta_gy=preset.alpha_beta_gy,
        repair_half_time_h=preset.repair_half_time_h,
        physical_half_life_h=physical_half_life_h,
    )
