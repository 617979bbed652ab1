"""Dose statistics of volumes of interest: D-x, V-x, DVHs, EUD, BED, planned vs delivered.

Definitions (every voxel of a VOI has the same volume on a grid):

* **D_x** — the dose received by at least x % of the volume: the largest
  dose d such that the voxels with dose ≥ d make up at least x % of the VOI.
  With the n doses sorted from highest to lowest, d_(1) ≥ … ≥ d_(n), it is
  d_(m) with m = ⌈x · n / 100⌉ (m ≥ 1), computed in exact arithmetic so that
  D70 of 10 voxels is the 7th highest dose, not the 8th.  D100 is the
  minimum; D_x for x → 0 is the maximum.  No interpolation.
* **V_x** — the percentage of the VOI's volume that receives at least x Gy
  (dose ≥ x, boundary included).
* The **cumulative DVH** at dose level d is V(d) = % of the volume with
  dose ≥ d, the same rule as V_x.

A VOI of fewer than about 50 voxels gives statistics that are computed but
shaky (partial volume, noise): :class:`~netlm.voxel.dose.DosimetryWarning`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from netlm.errors import GeometryError
from netlm.results import ResultModel, frame
from netlm.sirt import radiobiology as rb
from netlm.sirt.physics import Y90_HALF_LIFE_H
from netlm.sirt.planner import PlanResult
from netlm.units import G_PER_KG
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryError, DosimetryWarning, mask_array

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MIN_VOXELS",
    "DoseComparison",
    "DoseComparisonRow",
    "DvhCurve",
    "VoiStatistics",
    "bed_map",
    "compare",
    "compartment_dvh",
    "dose_at_volume_percent",
    "dose_statistics",
    "dvh_curve",
    "eud_map",
    "statistics_frame",
    "volume_percent_at_dose",
]

#: Fewer voxels than this make VOI statistics shaky (DosimetryWarning).
MIN_VOXELS: Final = 50

Mask = ImageVolume | npt.NDArray[Any]


class VoiStatistics(ResultModel):
    """Dose statistics of one volume of interest (doses in Gy, volumes in mL).

    ``to_dict()`` / ``to_pandas()`` (one row); many VOIs: :func:`statistics_frame`.

    ``d50_gy`` … ``d98_gy``: dose received by at least 50 … 98 % of the volume;
    ``v100_percent`` …: % of the volume receiving at least 100 … Gy.  The levels
    are the 90Y targets and limits of EANM 2022 (shared reference
    ``dosimetry.md``, "Dose targets and limits"; HCC and mCRC populations, NET
    by extension there): 100 and 120 Gy (resin tumour ≥ 100–120 Gy, Table 3;
    glass perfused normal liver < 120 Gy when the hepatic reserve is < 30 %,
    Table 2), 150 Gy (resin segmentectomy perfused dose > 150 Gy, Table 3) and
    205 Gy (glass HCC tumour ≥ 205 Gy, Table 2).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None
    voxel_count: int
    volume_ml: float
    mean_gy: float
    sd_gy: float
    min_gy: float
    max_gy: float
    d50_gy: float
    d70_gy: float
    d90_gy: float
    d98_gy: float
    v100_percent: float
    v120_percent: float
    v150_percent: float
    v205_percent: float
    shaky: bool = False


def statistics_frame(
    statistics: Mapping[str, VoiStatistics] | Sequence[VoiStatistics],
) -> pd.DataFrame:
    """Dose statistics of several VOIs as a :class:`pandas.DataFrame`, one row per VOI.

    A mapping's keys name the rows (column ``voi``); a sequence uses each ``name``.
    """
    items = (
        list(statistics.items())
        if isinstance(statistics, Mapping)
        else [(s.name, s) for s in statistics]
    )
    return frame({"voi": name} | s.to_dict() for name, s in items)


def _check_dose(dose: ImageVolume, name: str = "dose") -> None:
    if dose.unit != "Gy":
        raise DosimetryError(f"Argument {name!r} must be a dose map in Gy, not {dose.unit!r}")


def _voi_values(dose: ImageVolume, mask: Mask, name: str) -> npt.NDArray[np.float64]:
    selected = mask_array(mask, dose, name=name)
    values = np.asarray(dose.array[selected], dtype=np.float64)
    if values.size == 0:
        raise DosimetryError(f"Argument {name!r} selects no voxel")
    if not np.all(np.isfinite(values)):
        raise DosimetryError(f"the dose inside {name!r} holds NaN or infinite values")
    return values


def _covering_rank(percent: float, n: int) -> int:
    """m = ⌈x · n / 100⌉ in exact arithmetic (at least 1)."""
    if isinstance(percent, bool) or not math.isfinite(percent) or not 0 <= percent <= 100:
        raise DosimetryError(f"a volume percentage must be in [0, 100], not {percent!r}")
    exact = Fraction(repr(float(percent)))  # the decimal the caller wrote, e.g. 33.3
    return max(1, math.ceil(exact * n / 100))


def dose_at_volume_percent(doses_gy: npt.ArrayLike, percent: float) -> float:
    """D_x: the dose received by at least ``percent`` % of the voxels.

    Examples
    --------
    >>> doses = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> dose_at_volume_percent(doses, 70)  # 7 of 10 voxels get >= 4 Gy
    4.0
    >>> dose_at_volume_percent(doses, 71), dose_at_volume_percent(doses, 100)
    (3.0, 1.0)
    """
    values = np.asarray(doses_gy, dtype=np.float64).ravel()
    if values.size == 0:
        raise DosimetryError("Argument 'doses_gy' must not be empty")
    m = _covering_rank(percent, values.size)
    index = values.size - m  # m-th highest = (n − m)-th lowest, 0-based
    return float(np.partition(values, index)[index])


def volume_percent_at_dose(doses_gy: npt.ArrayLike, dose_gy: float) -> float:
    """V_x: % of the voxels with dose ≥ ``dose_gy``.

    Examples
    --------
    >>> volume_percent_at_dose([50.0, 100.0, 150.0, 200.0], 100.0)
    75.0
    """
    values = np.asarray(doses_gy, dtype=np.float64).ravel()
    if values.size == 0:
        raise DosimetryError("Argument 'doses_gy' must not be empty")
    return 100.0 * int(np.count_nonzero(values >= dose_gy)) / values.size


def dose_statistics(
    dose: ImageVolume,
    mask: Mask,
    *,
    name: str | None = None,
    min_voxels: int = MIN_VOXELS,
) -> VoiStatistics:
    """Mean, extremes, D50/D70/D90/D98 and V100/V150/V205 of ``dose`` inside ``mask``.

    Parameters
    ----------
    dose
        Dose map in Gy.
    mask
        The VOI, on the dose grid (an :class:`ImageVolume` or an array).
    name
        The VOI's name, for the result and the warning.
    min_voxels
        Below this voxel count a :class:`DosimetryWarning` is issued and the
        result is marked ``shaky``.

    Examples
    --------
    >>> ramp = ImageVolume(np.arange(1.0, 101.0).reshape(1, 10, 10), (1.0, 1.0, 1.0), unit="Gy")
    >>> s = dose_statistics(ramp, np.ones((1, 10, 10)), min_voxels=1)
    >>> s.mean_gy, s.d70_gy, s.d90_gy, s.v100_percent
    (50.5, 31.0, 11.0, 1.0)
    """
    _check_dose(dose)
    label = name or "mask"
    values = _voi_values(dose, mask, label)
    n = int(values.size)
    shaky = n < min_voxels
    if shaky:
        warnings.warn(
            f"VOI {label!r} has {n} voxels (< {min_voxels}): its dose statistics are shaky "
            "(partial volume, noise)",
            DosimetryWarning,
            stacklevel=2,
        )
    ordered = np.sort(values)  # ascending

    def d(percent: float) -> float:
        return float(ordered[n - _covering_rank(percent, n)])

    def v(level: float) -> float:
        return 100.0 * (n - int(np.searchsorted(ordered, level, side="left"))) / n

    return VoiStatistics(
        name=name,
        voxel_count=n,
        volume_ml=n * dose.voxel_volume_ml,
        mean_gy=float(values.mean()),
        sd_gy=float(values.std()),
        min_gy=float(ordered[0]),
        max_gy=float(ordered[-1]),
        d50_gy=d(50),
        d70_gy=d(70),
        d90_gy=d(90),
        d98_gy=d(98),
        v100_percent=v(100.0),
        v120_percent=v(120.0),
        v150_percent=v(150.0),
        v205_percent=v(205.0),
        shaky=shaky,
    )


# ---------------------------------------------------------------------------- DVH
@dataclass(frozen=True)
class DvhCurve:
    """A cumulative DVH: ``volume_percent[i]`` of the VOI receives ≥ ``dose_gy[i]``.

    Attributes
    ----------
    label
        The VOI (and model) the curve is of, for legends and CSV.
    dose_gy
        Dose levels, increasing, in Gy.
    volume_percent
        % of the VOI volume with dose ≥ each level (non-increasing).
    volume_ml
        Volume of the VOI.
    """

    label: str
    dose_gy: npt.NDArray[np.float64]
    volume_percent: npt.NDArray[np.float64]
    volume_ml: float

    def to_dict(self) -> dict[str, Any]:
        """The curve as JSON-ready values (lists of floats)."""
        return {
            "label": self.label,
            "volume_ml": float(self.volume_ml),
            "dose_gy": [float(x) for x in self.dose_gy],
            "volume_percent": [float(x) for x in self.volume_percent],
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per point, ``voi, dose_gy, volume_percent`` (the columns of the DVH CSV)."""
        return frame(
            {"voi": self.label, "dose_gy": float(d), "volume_percent": float(v)}
            for d, v in zip(self.dose_gy, self.volume_percent, strict=True)
        )


def dvh_curve(
    dose: ImageVolume,
    mask: Mask,
    bins: int | Sequence[float] | npt.NDArray[Any] = 200,
    *,
    label: str = "VOI",
) -> DvhCurve:
    """The cumulative DVH of ``dose`` inside ``mask``.

    Parameters
    ----------
    bins
        A number of equal steps from 0 Gy to the VOI's maximum dose (that many
        + 1 levels), or the dose levels themselves (increasing, Gy).

    Examples
    --------
    >>> ramp = ImageVolume(np.arange(1.0, 5.0).reshape(1, 1, 4), (1.0, 1.0, 1.0), unit="Gy")
    >>> curve = dvh_curve(ramp, np.ones((1, 1, 4)), [0.0, 2.0, 4.0, 4.5])
    >>> curve.volume_percent.tolist()
    [100.0, 75.0, 25.0, 0.0]
    """
    _check_dose(dose)
    values = np.sort(_voi_values(dose, mask, label))
    n = values.size
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise DosimetryError(f"Argument 'bins' must be >= 1, not {bins}")
        top = max(float(values[-1]), 0.0)
        levels = np.linspace(0.0, top, int(bins) + 1)
    else:
        levels = np.asarray(bins, dtype=np.float64).ravel()
        if levels.size < 2 or not np.all(np.isfinite(levels)) or np.any(np.diff(levels) <= 0):
            raise DosimetryError("Argument 'bins' must be at least two increasing dose levels")
    at_least = n - np.searchsorted(values, levels, side="left")
    return DvhCurve(
        label=label,
        dose_gy=levels,
        volume_percent=100.0 * at_least.astype(np.float64) / n,
        volume_ml=n * dose.voxel_volume_ml,
    )


def compartment_dvh(result: PlanResult) -> list[DvhCurve]:
    """Cumulative DVHs of a compartment-model result: a uniform dose in each compartment.

    A compartment model gives each compartment one absorbed dose, so its DVH is
    a step (100 % of the volume up to that dose, 0 % above); the steps of
    tumour, normal liver and lung side by side show the dose separation.
    """
    doses: list[tuple[str, float, float]] = []
    for t in result.territories:
        prefix = f"{t.name}: " if len(result.territories) > 1 else ""
        if t.doses_gy.tumour is not None and t.tumour_volume_ml > 0:
            doses.append((f"{prefix}tumour", t.doses_gy.tumour, t.tumour_volume_ml))
        normal_ml = max(t.perfused_volume_ml - t.tumour_volume_ml, 0.0)
        if t.doses_gy.normal_liver is not None:  # None: a tumour volume without T:N
            doses.append((f"{prefix}normal liver", t.doses_gy.normal_liver, normal_ml))
    mass_kg, density = (
        result.constants.get("lung_mass_kg"),
        result.constants.get("lung_density_g_per_ml"),
    )
    lung_ml = (
        G_PER_KG * mass_kg / density
        if isinstance(mass_kg, float | int) and isinstance(density, float | int) and density > 0
        else 0.0
    )
    doses.append(("lung", result.session_lung_dose_gy, lung_ml))
    top = max((d for _, d, _ in doses), default=1.0) * 1.15 or 1.0
    levels = np.linspace(0.0, top, 400)
    return [
        DvhCurve(
            label=label,
            dose_gy=levels,
            volume_percent=np.where(levels <= dose, 100.0, 0.0),
            volume_ml=volume,
        )
        for label, dose, volume in doses
    ]


# ---------------------------------------------------------------------------- radiobiology
def _preset(preset: str | rb.RadiobiologyPreset | None) -> rb.RadiobiologyPreset | None:
    if preset is None or isinstance(preset, rb.RadiobiologyPreset):
        return preset
    try:
        return rb.PRESETS[preset]
    except KeyError:
        known = ", ".join(rb.PRESETS)
        raise DosimetryError(
            f"Argument 'preset': unknown preset {preset!r}; known: {known}"
        ) from None


def _non_negative(values: npt.NDArray[np.float64], what: str) -> npt.NDArray[np.float64]:
    if np.any(values < 0):
        warnings.warn(
            f"{what}: negative doses (image noise) were set to 0 Gy",
            DosimetryWarning,
            stacklevel=3,
        )
        return np.clip(values, 0.0, None)
    return values


def bed_map(
    dose: ImageVolume,
    *,
    preset: str | rb.RadiobiologyPreset | None = None,
    alpha_beta_gy: float | None = None,
    repair_half_time_h: float | None = None,
    physical_half_life_h: float = Y90_HALF_LIFE_H,
) -> ImageVolume:
    """Voxel-wise BED of a permanent 90Y implant (Dale), in Gy.

    BED = D · [1 + D · T_rep / ((T_rep + T_phys) · α/β)], evaluated through
    :func:`netlm.sirt.radiobiology.bed_permanent_implant_gy` (which checks the
    parameters): with b = BED(1 Gy) − 1, BED(D) = D + b · D².  Give a
    ``preset`` (``"normal_liver"``, ``"tumour"``) or both parameters;
    parameters override the preset's.  Negative doses are set to 0 with a
    warning.

    Examples
    --------
    >>> d = ImageVolume(np.array([[[0.0, 100.0]]]), (1.0, 1.0, 1.0), unit="Gy")
    >>> bed_map(d, alpha_beta_gy=10.0, repair_half_time_h=1.5,
    ...         physical_half_life_h=98.5).array.round(6).tolist()
    [[[0.0, 115.0]]]
    """
    _check_dose(dose)
    chosen = _preset(preset)
    ab = alpha_beta_gy if alpha_beta_gy is not None else (chosen and chosen.alpha_beta_gy)
    rep = (
        repair_half_time_h
        if repair_half_time_h is not None
        else (chosen and chosen.repair_half_time_h)
    )
    if not ab or not rep:
        raise DosimetryError(
            "give a radiobiology 'preset' or both 'alpha_beta_gy' and 'repair_half_time_h'"
        )
    b = (
        rb.bed_permanent_implant_gy(
            1.0,
            alpha_beta_gy=float(ab),
            repair_half_time_h=float(rep),
            physical_half_life_h=physical_half_life_h,
        )
        - 1.0
    )
    values = _non_negative(np.asarray(dose.array, dtype=np.float64), "bed_map")
    out = dose.with_array((values + b * values * values).astype(dose.array.dtype), unit="Gy")
    out.metadata.update(
        {
            "quantity": "BED (permanent implant, Dale)",
            "alpha_beta_gy": float(ab),
            "repair_half_time_h": float(rep),
            "physical_half_life_h": physical_half_life_h,
            "radiobiology_preset": chosen.id if chosen else None,
        }
    )
    return out


def eud_map(
    dose: ImageVolume,
    masks: Mapping[str, Mask],
    *,
    preset: str | rb.RadiobiologyPreset | None = None,
    alpha_per_gy: float | None = None,
) -> dict[str, float]:
    """EUD (Niemierko) of each VOI of a dose map, in Gy, keyed by VOI name.

    EUD = −(1/α) · ln(mean(exp(−α · D_i))) over the VOI's voxels, through
    :func:`netlm.sirt.radiobiology.eud_gy`.  ``alpha_per_gy`` overrides the
    preset's α (the ``"tumour"`` preset's 0.01 /Gy is an unverified
    placeholder, [U]).

    Examples
    --------
    >>> d = ImageVolume(np.array([[[20.0, 20.0]]]), (1.0, 1.0, 1.0), unit="Gy")
    >>> eud_map(d, {"t": np.ones((1, 1, 2))}, alpha_per_gy=0.3)
    {'t': 20.0}
    """
    _check_dose(dose)
    chosen = _preset(preset)
    alpha = alpha_per_gy if alpha_per_gy is not None else (chosen and chosen.alpha_per_gy)
    if not alpha:
        raise DosimetryError(
            "give 'alpha_per_gy' or a radiobiology 'preset' that has one (e.g. 'tumour')"
        )
    out: dict[str, float] = {}
    for name, mask in masks.items():
        values = _non_negative(_voi_values(dose, mask, name), f"eud_map {name!r}")
        out[name] = rb.eud_gy(values, alpha_per_gy=float(alpha))
    return out


# ---------------------------------------------------------------------------- compare
class DoseComparisonRow(BaseModel):
    """One VOI planned (e.g. MAA SPECT) vs delivered (e.g. 90Y PET)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voi: str
    planned: VoiStatistics
    delivered: VoiStatistics
    mean_difference_gy: float
    mean_difference_percent: float | None
    d70_difference_gy: float


class DoseComparison(BaseModel):
    """Planned vs delivered dose per VOI (delivered − planned)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: tuple[DoseComparisonRow, ...]
    planned_model: str
    delivered_model: str

    def table(self) -> str:
        """A plain-text table of the mean and D70 doses."""
        header = (
            f"{'VOI':<20} {'mL':>8} {'planned Gy':>11} {'delivered Gy':>13} {'diff %':>8} "
            f"{'D70 plan':>9} {'D70 deliv':>10}"
        )
        lines = [header, "-" * len(header)]
        for r in self.rows:
            pct = "-" if r.mean_difference_percent is None else f"{r.mean_difference_percent:+.1f}"
            lines.append(
                f"{r.voi:<20} {r.planned.volume_ml:>8.1f} {r.planned.mean_gy:>11.1f} "
                f"{r.delivered.mean_gy:>13.1f} {pct:>8} {r.planned.d70_gy:>9.1f} "
                f"{r.delivered.d70_gy:>10.1f}"
            )
        return "\n".join(lines)


def compare(
    planned: ImageVolume,
    delivered: ImageVolume,
    masks: Mapping[str, Mask],
    *,
    min_voxels: int = MIN_VOXELS,
) -> DoseComparison:
    """Planned vs delivered dose statistics for each VOI.

    Both dose maps must be on one grid (resample one onto the other first,
    e.g. with :func:`netlm.imaging.io.resample_to`), as must the masks.
    """
    _check_dose(planned, "planned")
    _check_dose(delivered, "delivered")
    if not planned.same_grid(delivered):
        raise GeometryError(
            "Arguments 'planned' and 'delivered' are on different grids "
            f"(shapes {planned.array.shape} and {delivered.array.shape}); resample one onto "
            "the other first"
        )
    rows = []
    for name, mask in masks.items():
        p = dose_statistics(planned, mask, name=name, min_voxels=min_voxels)
        d = dose_statistics(delivered, mask, name=name, min_voxels=min_voxels)
        diff = d.mean_gy - p.mean_gy
        rows.append(
            DoseComparisonRow(
                voi=name,
                planned=p,
                delivered=d,
                mean_difference_gy=diff,
                mean_difference_percent=100.0 * diff / p.mean_gy if p.mean_gy else None,
                d70_difference_gy=d.d70_gy - p.d70_gy,
            )
        )
    return DoseComparison(
        rows=tuple(rows),
        planned_model=str(planned.metadata.get("dose_model", "unknown")),
        delivered_model=str(delivered.metadata.get("dose_model", "unknown")),
    )
