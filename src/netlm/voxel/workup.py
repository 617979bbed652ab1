"""MAA SPECT/CT work-up: volumetry, lung shunt fraction, T:N, and a plan from images.

From a 99mTc-MAA SPECT and masks on its grid this module measures what the
compartment models need (``shared/reference/dosimetry.md``, Models):

* volumes and masses of the liver, tumours, normal liver and each perfused
  territory, and the tumour burden (tumour volume / liver volume);
* the lung shunt fraction, LSF = C_lung / (C_lung + C_liver), from SPECT/CT
  VOIs (counts summed in the lung and liver masks) or from planar
  anterior/posterior views (geometric means, which overestimate it, [V]);
* each tumour's tumour-to-normal ratio, the ratio of mean activity
  *concentrations* (counts per voxel) in the tumour and in the normal
  perfused liver of its territory (not a ratio of activities: Kao 2013 uses
  a different quantity);
* the lung mass, from a lung mask and the lung density (0.30 g/mL) or a CT.

Lung mass and the 30/50 Gy limits: the limits were set with a 1 kg lung
(``shared/reference/dosimetry.md``, Lung dose limits; seed 004).  A lung mass
from the VOI volume × 0.30 g/mL is reported for information only and never
enters the plan; only a CT densitovolumetry mass does (``lung_mass_basis:
ct_densitovolumetry``), and the planner then evaluates the limits at 1 kg and
at that mass, refusing if either is broken.  A lung VOI outside
:data:`LUNG_VOLUME_RANGE_ML` (lungs partly in the field of view) is refused:
it biases both the LSF and the mass.

:func:`plan_from_workup` turns a :class:`MaaWorkup` into a
``netlm/sirt-plan/v1`` document (partition model) that
:func:`netlm.sirt.plan.plan_from_mapping` accepts, so one call goes from
images to a plan.  The liver is taken as the liver mask together with the
tumour masks; a territory is clipped to it.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from netlm.errors import GeometryError
from netlm.results import ResultModel
from netlm.sirt.physics import Physics
from netlm.sirt.plan import PLAN_SCHEMA, plan_from_mapping
from netlm.units import G_PER_KG
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryError, DosimetryWarning, density_from_ct, mask_array

__all__ = [
    "LUNG_VOLUME_RANGE_ML",
    "LiverVolumetry",
    "LungMass",
    "MaaWorkup",
    "TerritoryWorkup",
    "TumourWorkup",
    "lung_mass",
    "lung_shunt_fraction_planar",
    "lung_shunt_fraction_voi",
    "maa_workup",
    "mask_volume_ml",
    "plan_from_workup",
    "tumour_to_normal_ratio",
    "volumetry",
]

Mask = ImageVolume | npt.NDArray[Any]

#: Share of a territory mask that may lie outside the liver before a warning.
_OUTSIDE_LIVER_WARN: float = 0.05

#: Plausible volume (mL) of an adult's lung VOI (both lungs).  **[U]**, source
#: ``lung_volume_plausible``: total lung capacity is about 4-8 L; a smaller VOI
#: usually means lungs only partly in the field of view.  Override per call.
LUNG_VOLUME_RANGE_ML: tuple[float, float] = (1000.0, 10000.0)

#: The plan's lung-mass bounds (``netlm.sirt.plan.Plan.lung_mass_kg``), exclusive.
_PLAN_LUNG_MASS_KG: tuple[float, float] = (0.2, 3.0)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TumourWorkup(_Frozen):
    """One tumour (or the part of it in one territory)."""

    name: str
    volume_ml: float
    mass_kg: float
    tumour_to_normal_ratio: float | None = None


class TerritoryWorkup(_Frozen):
    """A perfused territory: volumes (mL) of liver tissue in it, its tumours with T:N."""

    name: str
    kind: Literal["whole_liver", "lobar", "segmental"] | None
    volume_ml: float
    mass_kg: float
    normal_volume_ml: float
    tumour_volume_ml: float
    tumours: tuple[TumourWorkup, ...]
    outside_liver_ml: float


class LiverVolumetry(_Frozen):
    """Volumes (mL) and masses (kg, at the tissue density) from masks."""

    liver_volume_ml: float
    liver_mass_kg: float
    tumour_volume_ml: float
    normal_liver_volume_ml: float
    normal_liver_mass_kg: float
    tumour_burden_percent: float
    tumours: tuple[TumourWorkup, ...]
    territories: tuple[TerritoryWorkup, ...]
    tissue_density_g_per_ml: float


class LungMass(_Frozen):
    """Lung mass and how it was obtained.

    ``method`` is ``ct_densitovolumetry`` (usable for the lung limits, with the
    1 kg convention) or ``nominal_density`` (volume × 0.30 g/mL: information
    only, never used for the limits); ``basis`` says it in words.
    """

    mass_kg: float
    volume_ml: float
    basis: str
    method: Literal["ct_densitovolumetry", "nominal_density"] = "nominal_density"


class MaaWorkup(ResultModel):
    """Everything an MAA SPECT/CT work-up measured, with the constants it used.

    ``to_pandas()``: one row per tumour (volume, mass, T:N) with the lung shunt fraction.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    volumetry: LiverVolumetry
    lung_shunt_fraction: float | None
    lung_shunt_method: Literal["planar", "spect_ct"] | None
    lung_volume_ml: float | None
    lung_mass_kg: float | None
    lung_mass_basis: str | None
    physics: Physics
    warnings: tuple[str, ...] = ()
    lung_mass_method: Literal["ct_densitovolumetry", "nominal_density"] | None = None

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per tumour."""
        return [
            t.model_dump() | {"lung_shunt_fraction": self.lung_shunt_fraction}
            for t in self.volumetry.tumours
        ]


# ---------------------------------------------------------------------------- helpers
def _bool(mask: Mask, reference: ImageVolume, name: str) -> npt.NDArray[np.bool_]:
    return mask_array(mask, reference, name=name)


def mask_volume_ml(mask: ImageVolume) -> float:
    """Volume of the non-zero voxels of a mask, in mL.

    Examples
    --------
    >>> mask_volume_ml(ImageVolume(np.ones((2, 5, 10)), (2.0, 2.0, 2.5)))
    1.0
    """
    return int(np.count_nonzero(mask.array)) * mask.voxel_volume_ml


def _sum(image: npt.NDArray[Any], selected: npt.NDArray[np.bool_]) -> float:
    return float(np.sum(image[selected], dtype=np.float64))


# ---------------------------------------------------------------------------- volumetry
def volumetry(
    *,
    liver: ImageVolume,
    tumours: Mapping[str, Mask] | None = None,
    territories: Mapping[str, Mask] | None = None,
    territory_kinds: Mapping[str, Literal["whole_liver", "lobar", "segmental"]] | None = None,
    physics: Physics | None = None,
) -> LiverVolumetry:
    """Volumes and masses of liver, tumours, normal liver and perfused territories.

    Parameters
    ----------
    liver
        The liver mask; the liver is this mask together with the tumours.
    tumours
        Tumour masks by name, on the liver's grid.
    territories
        Perfused-territory masks by name; each is clipped to the liver (a
        warning when more than 5 % of it lies outside).  Default: one
        territory ``whole_liver``, the whole liver.
    territory_kinds
        ``whole_liver``/``lobar``/``segmental`` per territory, for the plan's
        dose limits.
    physics
        Tissue density for masses (1.03 g/mL).

    Examples
    --------
    >>> liver = ImageVolume(np.ones((10, 10, 10)), (10.0, 10.0, 10.0), unit="label")
    >>> tumour = np.zeros((10, 10, 10), dtype=bool); tumour[:2] = True
    >>> v = volumetry(liver=liver, tumours={"t1": tumour})
    >>> v.liver_volume_ml, v.tumour_volume_ml, v.tumour_burden_percent
    (1000.0, 200.0, 20.0)
    """
    physics = physics or Physics()
    tumours = dict(tumours or {})
    kinds = dict(territory_kinds or {})
    voxel_ml = liver.voxel_volume_ml

    def kg(ml: float) -> float:
        return physics.mass_kg(ml)

    tumour_arrays = {name: _bool(m, liver, f"tumours[{name!r}]") for name, m in tumours.items()}
    any_tumour = np.zeros(liver.array.shape, dtype=np.bool_)
    for array in tumour_arrays.values():
        any_tumour |= array
    whole = _bool(liver, liver, "liver") | any_tumour
    if not whole.any():
        raise DosimetryError("Argument 'liver' selects no voxel")
    normal = whole & ~any_tumour
    liver_ml = int(whole.sum()) * voxel_ml
    tumour_ml = int(any_tumour.sum()) * voxel_ml
    tumour_list = tuple(
        TumourWorkup(
            name=name, volume_ml=int(a.sum()) * voxel_ml, mass_kg=kg(int(a.sum()) * voxel_ml)
        )
        for name, a in tumour_arrays.items()
    )

    if territories is None:
        territory_arrays = {"whole_liver": whole}
        kinds.setdefault("whole_liver", "whole_liver")
    else:
        territory_arrays = {
            name: _bool(m, liver, f"territories[{name!r}]") for name, m in territories.items()
        }
    terr = []
    for name, raw in territory_arrays.items():
        inside = raw & whole
        if not inside.any():
            raise DosimetryError(f"territory {name!r} holds no liver voxel")
        outside_ml = int((raw & ~whole).sum()) * voxel_ml
        if outside_ml > _OUTSIDE_LIVER_WARN * int(raw.sum()) * voxel_ml:
            warnings.warn(
                f"territory {name!r}: {outside_ml:.1f} mL lies outside the liver and is left out",
                DosimetryWarning,
                stacklevel=2,
            )
        parts = []
        for t_name, t_array in tumour_arrays.items():
            n_in = int((t_array & inside).sum())
            if n_in:
                parts.append(
                    TumourWorkup(
                        name=t_name, volume_ml=n_in * voxel_ml, mass_kg=kg(n_in * voxel_ml)
                    )
                )
        volume = int(inside.sum()) * voxel_ml
        t_vol = sum(p.volume_ml for p in parts)
        terr.append(
            TerritoryWorkup(
                name=name,
                kind=kinds.get(name),
                volume_ml=volume,
                mass_kg=kg(volume),
                normal_volume_ml=volume - t_vol,
                tumour_volume_ml=t_vol,
                tumours=tuple(parts),
                outside_liver_ml=outside_ml,
            )
        )
    normal_ml = int(normal.sum()) * voxel_ml
    return LiverVolumetry(
        liver_volume_ml=liver_ml,
        liver_mass_kg=kg(liver_ml),
        tumour_volume_ml=tumour_ml,
        normal_liver_volume_ml=normal_ml,
        normal_liver_mass_kg=kg(normal_ml),
        tumour_burden_percent=100.0 * tumour_ml / liver_ml,
        tumours=tumour_list,
        territories=tuple(terr),
        tissue_density_g_per_ml=physics.tissue_density_g_per_ml,
    )


# ---------------------------------------------------------------------------- LSF, T:N
def _counts_image(spect: ImageVolume) -> npt.NDArray[np.float64]:
    values = np.asarray(spect.array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DosimetryError("Argument 'spect' holds NaN or infinite values")
    return values


def lung_shunt_fraction_voi(spect: ImageVolume, lung_mask: Mask, liver_mask: Mask) -> float:
    """LSF from SPECT/CT VOIs: counts in the lung / (lung + liver counts).

    The liver mask should include the tumours.  The masks must not overlap.

    Examples
    --------
    >>> spect = ImageVolume(np.array([[[10.0, 30.0, 60.0]]]), (4.0, 4.0, 4.0), unit="counts")
    >>> lung_shunt_fraction_voi(spect, np.array([[[1, 0, 0]]]), np.array([[[0, 1, 1]]]))
    0.1
    """
    values = _counts_image(spect)
    lung = _bool(lung_mask, spect, "lung_mask")
    liver = _bool(liver_mask, spect, "liver_mask")
    if (lung & liver).any():
        raise GeometryError("Arguments 'lung_mask' and 'liver_mask' overlap")
    lung_counts, liver_counts = _sum(values, lung), _sum(values, liver)
    if liver_counts <= 0:
        raise DosimetryError("the liver mask holds no counts")
    if lung_counts < 0:
        raise DosimetryError("the lung mask holds negative counts")
    return lung_counts / (lung_counts + liver_counts)


def lung_shunt_fraction_planar(
    ant_lung: float, post_lung: float, ant_liver: float, post_liver: float
) -> float:
    """LSF from planar views: GM_lung / (GM_lung + GM_liver), GM = √(ant · post).

    Planar LSF overestimates the SPECT/CT value [V]; record the method.

    Examples
    --------
    >>> lung_shunt_fraction_planar(10.0, 40.0, 180.0, 180.0)
    0.1
    """
    counts = {
        "ant_lung": ant_lung,
        "post_lung": post_lung,
        "ant_liver": ant_liver,
        "post_liver": post_liver,
    }
    for name, value in counts.items():
        if not math.isfinite(value) or value < 0:
            raise DosimetryError(f"Argument {name!r} must be counts >= 0, not {value!r}")
    lung = math.sqrt(ant_lung * post_lung)
    liver = math.sqrt(ant_liver * post_liver)
    if liver <= 0:
        raise DosimetryError("the liver views hold no counts")
    return lung / (lung + liver)


def tumour_to_normal_ratio(spect: ImageVolume, tumour_mask: Mask, normal_mask: Mask) -> float:
    """T:N — the mean concentration (counts per voxel) in the tumour over the normal liver's.

    Examples
    --------
    >>> spect = ImageVolume(np.array([[[40.0, 40.0, 10.0, 10.0]]]), (4.0,) * 3, unit="counts")
    >>> tumour_to_normal_ratio(spect, np.array([[[1, 1, 0, 0]]]), np.array([[[0, 0, 1, 1]]]))
    4.0
    """
    values = _counts_image(spect)
    tumour = _bool(tumour_mask, spect, "tumour_mask")
    normal = _bool(normal_mask, spect, "normal_mask")
    if not tumour.any() or not normal.any():
        raise DosimetryError("Arguments 'tumour_mask' and 'normal_mask' must select voxels")
    if (tumour & normal).any():
        raise GeometryError(
            "Arguments 'tumour_mask' and 'normal_mask' overlap: the normal liver excludes tumour"
        )
    normal_mean = float(values[normal].mean())
    if normal_mean <= 0:
        raise DosimetryError("the normal liver holds no counts: T:N is undefined")
    return float(values[tumour].mean()) / normal_mean


def lung_mass(
    lung_mask: ImageVolume,
    *,
    ct: ImageVolume | None = None,
    physics: Physics | None = None,
) -> LungMass:
    """Lung mass from a lung mask, by CT densitovolumetry or the nominal lung density.

    With a CT on the mask's grid, the mass is the sum of the CT densities
    (:func:`~netlm.voxel.dose.density_from_ct`, ``schneider2000``) over the
    lung (Kao 2014 densitovolumetry); without, volume × the lung density of
    ``physics`` (0.30 g/mL).

    Examples
    --------
    >>> lung = ImageVolume(np.ones((10, 10, 10)), (10.0, 10.0, 10.0), unit="label")
    >>> m = lung_mass(lung)
    >>> m.mass_kg, m.volume_ml, m.method
    (0.3, 1000.0, 'nominal_density')
    """
    physics = physics or Physics()
    lung = _bool(lung_mask, lung_mask, "lung_mask")
    if not lung.any():
        raise DosimetryError("Argument 'lung_mask' selects no voxel")
    volume_ml = int(lung.sum()) * lung_mask.voxel_volume_ml
    if ct is None:
        rho = physics.lung_density_g_per_ml
        return LungMass(
            mass_kg=volume_ml * rho / G_PER_KG,
            volume_ml=volume_ml,
            basis=f"lung volume {volume_ml:.1f} mL x {rho:g} g/mL (information only: the lung "
            "limits use the 1 kg convention without a CT)",
            method="nominal_density",
        )
    density = density_from_ct(ct)
    lung_on_ct = _bool(lung_mask, density, "lung_mask")
    mass_g = float(density.array[lung_on_ct].sum()) * density.voxel_volume_ml
    return LungMass(
        mass_kg=mass_g / G_PER_KG,
        volume_ml=volume_ml,
        basis=f"CT densitovolumetry over {volume_ml:.1f} mL (mean {mass_g / volume_ml:.3f} "
        f"g/mL, {density.metadata['ct_calibration']})",
        method="ct_densitovolumetry",
    )


# ---------------------------------------------------------------------------- work-up
def maa_workup(
    spect: ImageVolume,
    *,
    liver: ImageVolume,
    tumours: Mapping[str, Mask] | None = None,
    territories: Mapping[str, Mask] | None = None,
    territory_kinds: Mapping[str, Literal["whole_liver", "lobar", "segmental"]] | None = None,
    lung: ImageVolume | None = None,
    ct: ImageVolume | None = None,
    lung_shunt_fraction: float | None = None,
    lung_shunt_method: Literal["planar", "spect_ct"] | None = None,
    physics: Physics | None = None,
    lung_volume_range_ml: tuple[float, float] = LUNG_VOLUME_RANGE_ML,
) -> MaaWorkup:
    """Analyse an MAA SPECT/CT: volumetry, LSF, T:N per tumour and territory, lung mass.

    Parameters
    ----------
    spect
        The MAA SPECT (counts or any linear unit), with every mask on its grid.
    liver, tumours, territories, territory_kinds
        As for :func:`volumetry`.  Each tumour's T:N is measured against the
        normal liver of its territory (territory minus every tumour).
    lung
        Lung mask: gives the SPECT/CT LSF and the lung mass.
    ct
        CT on the SPECT grid: lung mass by densitovolumetry.
    lung_shunt_fraction, lung_shunt_method
        An LSF measured elsewhere (e.g. planar,
        :func:`lung_shunt_fraction_planar`); it takes precedence over the lung
        VOI, which is then reported in ``warnings`` for comparison.
    physics
        Densities (tissue 1.03, lung 0.30 g/mL).
    lung_volume_range_ml
        Plausible lung VOI volume (:data:`LUNG_VOLUME_RANGE_ML`, [U]); a lung
        mask outside it is refused.

    Raises
    ------
    DosimetryError
        Among others, for a lung VOI whose volume is implausible.
    """
    physics = physics or Physics()
    notes: list[str] = []
    values = _counts_image(spect)
    if not liver.same_grid(spect):
        raise GeometryError("Argument 'liver' is not on the SPECT grid; resample it first")
    vol = volumetry(
        liver=liver,
        tumours=tumours,
        territories=territories,
        territory_kinds=territory_kinds,
        physics=physics,
    )
    tumour_arrays = {n: _bool(m, spect, f"tumours[{n!r}]") for n, m in (tumours or {}).items()}
    any_tumour = np.zeros(values.shape, dtype=np.bool_)
    for array in tumour_arrays.values():
        any_tumour |= array
    whole = _bool(liver, spect, "liver") | any_tumour
    territory_arrays = (
        {"whole_liver": whole}
        if territories is None
        else {n: _bool(m, spect, f"territories[{n!r}]") & whole for n, m in territories.items()}
    )

    new_territories = []
    for t in vol.territories:
        inside = territory_arrays[t.name]
        normal = inside & ~any_tumour
        measured = []
        for part in t.tumours:
            if not normal.any():
                raise DosimetryError(f"territory {t.name!r} has no normal liver to compare with")
            ratio = tumour_to_normal_ratio(spect, tumour_arrays[part.name] & inside, normal)
            measured.append(part.model_copy(update={"tumour_to_normal_ratio": ratio}))
        new_territories.append(t.model_copy(update={"tumours": tuple(measured)}))
    # Whole-liver T:N of each tumour, against the whole normal liver.
    normal_all = whole & ~any_tumour
    whole_tumours = tuple(
        t.model_copy(
            update={
                "tumour_to_normal_ratio": tumour_to_normal_ratio(
                    spect, tumour_arrays[t.name], normal_all
                )
                if normal_all.any()
                else None
            }
        )
        for t in vol.tumours
    )
    vol = vol.model_copy(update={"territories": tuple(new_territories), "tumours": whole_tumours})

    lsf, method = lung_shunt_fraction, lung_shunt_method
    lung_ml = mass = basis = mass_method = None
    if lung is not None:
        lung_ml = mask_volume_ml(lung)
        low, high = lung_volume_range_ml
        if not low <= lung_ml <= high:
            raise DosimetryError(
                f"Argument 'lung': the lung VOI holds {lung_ml:.0f} mL, outside the plausible "
                f"{low:.0f}-{high:.0f} mL of both lungs (lungs partly in the field of view?); "
                "its LSF and mass would be biased. Segment both lungs whole, or give a measured "
                "LSF without a lung mask"
            )
        voi_lsf = lung_shunt_fraction_voi(spect, lung, whole)
        if lsf is None:
            lsf, method = voi_lsf, "spect_ct"
        else:
            notes.append(
                f"LSF {lsf:.4f} ({method or 'given'}) used; "
                f"the SPECT/CT lung VOI gives {voi_lsf:.4f}"
            )
        lung_measured = lung_mass(lung, ct=ct, physics=physics)
        mass, basis = lung_measured.mass_kg, lung_measured.basis
        mass_method = lung_measured.method
    elif lsf is not None and method is None:
        notes.append("the lung shunt fraction was given without its method")
    if lsf is not None and not 0 <= lsf < 1:
        raise DosimetryError(f"Argument 'lung_shunt_fraction' must be in [0, 1), not {lsf!r}")
    return MaaWorkup(
        volumetry=vol,
        lung_shunt_fraction=lsf,
        lung_shunt_method=method,
        lung_volume_ml=lung_ml,
        lung_mass_kg=mass,
        lung_mass_basis=basis,
        physics=physics,
        warnings=tuple(notes),
        lung_mass_method=mass_method,
    )


# ---------------------------------------------------------------------------- plan
def plan_from_workup(
    workup: MaaWorkup,
    *,
    device: Literal["glass", "resin"],
    prescription: Mapping[str, float],
    case: str | None = None,
    treatment_start: dt.datetime | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """A ``netlm/sirt-plan/v1`` document (partition model) from an MAA work-up.

    Parameters
    ----------
    workup
        From :func:`maa_workup`; it must have a lung shunt fraction.
    device
        ``glass`` or ``resin``.
    prescription
        One target, e.g. ``{"tumour_dose_gy": 150}`` or
        ``{"normal_liver_dose_gy": 40}``.
    case
        Case id to link.
    treatment_start
        Time-zone aware start of treatment (for the vial order).
    extra
        Further plan fields (``patient``, ``prior_lung_dose_gy``,
        ``expected_residual_fraction``, ``override`` ...), applied last.

    Returns
    -------
    dict
        The document, already validated by
        :func:`netlm.sirt.plan.plan_from_mapping` (which raises
        :class:`~netlm.errors.PlanError` with field paths if it is not valid).
        Only a CT densitovolumetry lung mass enters the plan (with
        ``lung_mass_basis: ct_densitovolumetry``); without a CT the plan uses
        the 1 kg convention of the lung limits.

    Raises
    ------
    DosimetryError
        Without a lung shunt fraction, or for a CT lung mass outside the plan's
        0.2-3.0 kg.
    """
    if workup.lung_shunt_fraction is None:
        raise DosimetryError(
            "the work-up has no lung shunt fraction: give a lung mask or a measured LSF"
        )
    vol = workup.volumetry
    territories: list[dict[str, object]] = []
    for t in vol.territories:
        item: dict[str, object] = {"name": t.name, "volume_ml": t.volume_ml}
        if t.kind is not None:
            item["kind"] = t.kind
        if t.tumours:
            item["tumours"] = [
                {
                    "name": p.name,
                    "volume_ml": p.volume_ml,
                    "tumour_to_normal_ratio": p.tumour_to_normal_ratio,
                }
                for p in t.tumours
            ]
        territories.append(item)
    document: dict[str, object] = {
        "schema": PLAN_SCHEMA,
        "device": device,
        "method": "partition",
        "whole_liver_volume_ml": vol.liver_volume_ml,
        "whole_liver_tumour_volume_ml": vol.tumour_volume_ml,
        "territories": territories,
        "lung_shunt_fraction": workup.lung_shunt_fraction,
        "prescription": dict(prescription),
        "physics": workup.physics.model_dump(exclude_unset=True),
    }
    if case is not None:
        document["case"] = case
    if treatment_start is not None:
        document["treatment_start"] = treatment_start
    if workup.lung_shunt_method is not None:
        document["lung_shunt_method"] = workup.lung_shunt_method
    if workup.lung_mass_kg is not None and workup.lung_mass_method == "ct_densitovolumetry":
        low, high = _PLAN_LUNG_MASS_KG
        if not low < workup.lung_mass_kg < high:
            raise DosimetryError(
                f"the CT lung mass {workup.lung_mass_kg:.3f} kg ({workup.lung_mass_basis}) is "
                f"outside {low:g}-{high:g} kg: check the lung mask and the CT calibration"
            )
        document["lung_mass_kg"] = workup.lung_mass_kg
        document["lung_mass_basis"] = "ct_densitovolumetry"
    document.update(dict(extra or {}))
    plan_from_mapping(document)
    return document
