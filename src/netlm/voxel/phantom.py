"""A synthetic MAA SPECT/CT phantom with known truth: liver, spherical tumours, lung.

The phantom is built in memory (no files): an ellipsoidal liver holding
spherical tumours, an ellipsoidal lung region above the diaphragm, and a body
outline, on a grid of your choice in LPS (x = i, y = j, z = k; +z superior).
Activity concentrations are set per compartment from a tumour-to-normal
ratio per tumour and a lung shunt fraction, so that

* the lung holds ``lung_shunt_fraction`` of the activity and the liver the rest;
* each tumour's concentration is its T:N times the normal liver's.

The optional camera model blurs with a Gaussian of the given FWHM (mm) and
draws Poisson counts with a seeded generator.  :class:`PhantomTruth` holds the
exact values the voxelised phantom was built with (volumes from voxel counts,
so they are exact on the grid), for tests and for ``netlm demo``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from netlm.errors import GeometryError
from netlm.units import BQ_PER_GBQ, MM3_PER_ML
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryError

__all__ = [
    "DEFAULT_TUMOURS",
    "Phantom",
    "PhantomTruth",
    "SphereTumour",
    "liver_phantom",
]

#: FWHM of a Gaussian in units of its standard deviation: 2 √(2 ln 2).
_FWHM_PER_SIGMA: Final = 2.0 * math.sqrt(2.0 * math.log(2.0))

#: CT numbers (HU) of the phantom's materials: nominal values for contrast-free
#: CT (air −1000, lung −750, water-like body 20, liver 55, tumour 40).
CT_HU: Final = {"air": -1000.0, "lung": -750.0, "body": 20.0, "liver": 55.0, "tumour": 40.0}


@dataclass(frozen=True)
class SphereTumour:
    """A spherical tumour: name, centre (LPS, mm), radius (mm) and its T:N."""

    name: str
    centre_mm: tuple[float, float, float]
    radius_mm: float
    tumour_to_normal_ratio: float


#: Two tumours inside the default liver: 20 mm radius (T:N 4) and 12 mm (T:N 2.5).
DEFAULT_TUMOURS: Final = (
    SphereTumour("tumour_1", (-35.0, 10.0, -50.0), 20.0, 4.0),
    SphereTumour("tumour_2", (40.0, -20.0, -30.0), 12.0, 2.5),
)


@dataclass(frozen=True)
class PhantomTruth:
    """The exact values the phantom was built with.

    Attributes
    ----------
    lung_shunt_fraction
        Activity in the lung / (lung + liver).
    tumour_to_normal_ratio
        Per tumour, its concentration / the normal liver's.
    volumes_ml
        ``liver`` (including tumours), ``normal_liver``, ``lung``, and each
        tumour, from voxel counts (exact on the grid).
    nominal_volumes_ml
        The analytic volumes of the shapes (4/3 π abc), before voxelisation.
    activity_gbq
        ``total``, ``liver``, ``normal_liver``, ``lung`` and each tumour.
    concentration_bq_per_ml
        ``normal_liver``, ``lung`` and each tumour.
    fwhm_mm, total_counts, seed
        The camera model applied (``None``: none).
    """

    lung_shunt_fraction: float
    tumour_to_normal_ratio: dict[str, float]
    volumes_ml: dict[str, float]
    nominal_volumes_ml: dict[str, float]
    activity_gbq: dict[str, float]
    concentration_bq_per_ml: dict[str, float]
    fwhm_mm: float | None
    total_counts: float | None
    seed: int | None


@dataclass(frozen=True)
class Phantom:
    """A phantom: the emission image, its masks, a matching CT, and the truth.

    Attributes
    ----------
    activity
        Activity concentration in Bq/mL at implant (noise-free), or expected
        counts drawn as Poisson counts (``unit`` ``"counts"``) when
        ``total_counts`` was given; blurred when ``fwhm_mm`` was given.
    masks
        Boolean masks (unit ``"label"``) on the same grid: ``liver`` (with the
        tumours), ``normal_liver``, ``lung``, ``body`` and each tumour by name.
    ct
        A CT in HU on the same grid (:data:`CT_HU`).
    truth
        The exact values.
    """

    activity: ImageVolume
    masks: dict[str, ImageVolume]
    ct: ImageVolume
    truth: PhantomTruth


def _ellipsoid(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    z: npt.NDArray[np.float64],
    centre: Sequence[float],
    semi_axes: Sequence[float],
) -> npt.NDArray[np.bool_]:
    cx, cy, cz = centre
    a, b, c = semi_axes
    return np.asarray(
        ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2 <= 1.0, dtype=np.bool_
    )


def liver_phantom(
    *,
    shape_ijk: tuple[int, int, int] = (64, 48, 80),
    spacing_mm: tuple[float, float, float] = (4.0, 4.0, 4.0),
    liver_centre_mm: tuple[float, float, float] = (0.0, 0.0, -50.0),
    liver_semi_axes_mm: tuple[float, float, float] = (90.0, 75.0, 65.0),
    lung_centre_mm: tuple[float, float, float] = (0.0, 0.0, 100.0),
    lung_semi_axes_mm: tuple[float, float, float] = (110.0, 80.0, 55.0),
    tumours: Sequence[SphereTumour] = DEFAULT_TUMOURS,
    lung_shunt_fraction: float = 0.10,
    total_activity_gbq: float = 2.0,
    fwhm_mm: float | None = None,
    total_counts: float | None = None,
    seed: int = 0,
) -> Phantom:
    """Build a liver/tumour/lung phantom with known T:N and LSF.

    Parameters
    ----------
    shape_ijk, spacing_mm
        Grid size and voxel size along i, j, k; the grid is centred on the
        LPS origin.
    liver_centre_mm, liver_semi_axes_mm
        The liver ellipsoid (LPS, mm).
    lung_centre_mm, lung_semi_axes_mm
        The lung region (an ellipsoid; it must not touch the liver).
    tumours
        Spheres inside the liver, each with its T:N; they must not overlap.
    lung_shunt_fraction
        Share of the activity in the lung, in [0, 1).
    total_activity_gbq
        Activity in the liver and lung together at implant.
    fwhm_mm
        Camera resolution: Gaussian blur of this FWHM (mm) when given.
    total_counts
        When given, the (blurred) image is scaled to this many expected counts
        and Poisson counts are drawn (``numpy.random.default_rng(seed)``).
    seed
        Seed of the Poisson noise.

    Examples
    --------
    >>> p = liver_phantom(shape_ijk=(32, 24, 40), spacing_mm=(8.0, 8.0, 8.0))
    >>> round(p.truth.lung_shunt_fraction, 3), p.truth.tumour_to_normal_ratio["tumour_1"]
    (0.1, 4.0)
    """
    if not 0 <= lung_shunt_fraction < 1:
        raise DosimetryError(
            f"Argument 'lung_shunt_fraction' must be in [0, 1), not {lung_shunt_fraction!r}"
        )
    if not total_activity_gbq > 0:
        raise DosimetryError(f"Argument 'total_activity_gbq' must be > 0, not {total_activity_gbq}")
    if fwhm_mm is not None and not fwhm_mm > 0:
        raise DosimetryError(f"Argument 'fwhm_mm' must be > 0, not {fwhm_mm}")
    if total_counts is not None and not total_counts > 0:
        raise DosimetryError(f"Argument 'total_counts' must be > 0, not {total_counts}")
    names = [t.name for t in tumours]
    reserved = {"liver", "normal_liver", "lung", "body"}
    if len(set(names)) != len(names) or reserved & set(names):
        raise DosimetryError(
            "Argument 'tumours': names must be unique and not one of " + ", ".join(sorted(reserved))
        )
    for t in tumours:
        if not t.radius_mm > 0 or not t.tumour_to_normal_ratio > 0:
            raise DosimetryError(f"Argument 'tumours': {t.name} needs a radius and a T:N > 0")

    ni, nj, nk = shape_ijk
    si, sj, sk = spacing_mm
    origin = (-(ni - 1) * si / 2.0, -(nj - 1) * sj / 2.0, -(nk - 1) * sk / 2.0)
    z, y, x = np.meshgrid(
        origin[2] + sk * np.arange(nk),
        origin[1] + sj * np.arange(nj),
        origin[0] + si * np.arange(ni),
        indexing="ij",
    )
    voxel_ml = si * sj * sk / MM3_PER_ML

    liver_shape = _ellipsoid(x, y, z, liver_centre_mm, liver_semi_axes_mm)
    lung = _ellipsoid(x, y, z, lung_centre_mm, lung_semi_axes_mm)
    tumour_masks: dict[str, npt.NDArray[np.bool_]] = {}
    taken = np.zeros_like(lung)
    for t in tumours:
        sphere = _ellipsoid(x, y, z, t.centre_mm, (t.radius_mm,) * 3)
        if not sphere.any():
            raise GeometryError(f"tumour {t.name!r} has no voxel on the grid")
        if (sphere & taken).any():
            raise GeometryError(f"tumour {t.name!r} overlaps another tumour")
        taken |= sphere
        tumour_masks[t.name] = sphere
    liver = liver_shape | taken
    if not liver.any():
        raise GeometryError("the liver has no voxel on the grid")
    if (liver & lung).any():
        raise GeometryError("the lung region overlaps the liver; move it or make it smaller")
    if lung_shunt_fraction > 0 and not lung.any():
        raise GeometryError("the lung region has no voxel on the grid")
    normal = liver & ~taken
    rx, ry = (ni - 1) * si / 2.0 * 0.97, (nj - 1) * sj / 2.0 * 0.97
    body = ((x / rx) ** 2 + (y / ry) ** 2 <= 1.0) | liver | lung

    volumes = {
        "liver": int(liver.sum()) * voxel_ml,
        "normal_liver": int(normal.sum()) * voxel_ml,
        "lung": int(lung.sum()) * voxel_ml,
        **{name: int(m.sum()) * voxel_ml for name, m in tumour_masks.items()},
    }
    nominal = {
        "liver": 4.0 / 3.0 * math.pi * math.prod(liver_semi_axes_mm) / MM3_PER_ML,
        "lung": 4.0 / 3.0 * math.pi * math.prod(lung_semi_axes_mm) / MM3_PER_ML,
        **{t.name: 4.0 / 3.0 * math.pi * t.radius_mm**3 / MM3_PER_ML for t in tumours},
    }

    total_bq = total_activity_gbq * BQ_PER_GBQ
    liver_bq = total_bq * (1.0 - lung_shunt_fraction)
    lung_bq = total_bq * lung_shunt_fraction
    weighted_ml = volumes["normal_liver"] + sum(
        t.tumour_to_normal_ratio * volumes[t.name] for t in tumours
    )
    c_normal = liver_bq / weighted_ml
    c_lung = lung_bq / volumes["lung"] if volumes["lung"] > 0 else 0.0
    concentration = {"normal_liver": c_normal, "lung": c_lung}
    values = np.zeros(liver.shape, dtype=np.float64)
    values[normal] = c_normal
    values[lung] = c_lung
    for t in tumours:
        concentration[t.name] = t.tumour_to_normal_ratio * c_normal
        values[tumour_masks[t.name]] = concentration[t.name]
    activity_gbq = {
        "total": total_activity_gbq,
        "liver": liver_bq / BQ_PER_GBQ,
        "lung": lung_bq / BQ_PER_GBQ,
        "normal_liver": c_normal * volumes["normal_liver"] / BQ_PER_GBQ,
        **{name: concentration[name] * volumes[name] / BQ_PER_GBQ for name in tumour_masks},
    }

    unit = "Bq/mL"
    if fwhm_mm is not None:
        sigma_voxels = [fwhm_mm / _FWHM_PER_SIGMA / s for s in (sk, sj, si)]
        values = ndimage.gaussian_filter(values, sigma=sigma_voxels, mode="constant", cval=0.0)
        values = np.clip(values, 0.0, None)  # the filter's round-off can go below 0
    if total_counts is not None:
        expected = values * (total_counts / values.sum())
        values = np.random.default_rng(seed).poisson(expected).astype(np.float64)
        unit = "counts"

    grid = ImageVolume(
        array=values,
        spacing_mm=spacing_mm,
        origin_mm=origin,
        unit=unit,
        metadata={"phantom": "netlm liver_phantom", "modality": "synthetic MAA SPECT"},
    )

    def label(array: npt.NDArray[np.bool_]) -> ImageVolume:
        return grid.with_array(array.copy(), unit="label")

    masks = {
        "liver": label(liver),
        "normal_liver": label(normal),
        "lung": label(lung),
        "body": label(body),
        **{name: label(m) for name, m in tumour_masks.items()},
    }
    hu = np.full(liver.shape, CT_HU["air"])
    hu[body] = CT_HU["body"]
    hu[lung] = CT_HU["lung"]
    hu[normal] = CT_HU["liver"]
    hu[taken] = CT_HU["tumour"]
    ct = grid.with_array(hu, unit="HU")
    ct.metadata["modality"] = "synthetic CT"
    truth = PhantomTruth(
        lung_shunt_fraction=lung_shunt_fraction,
        tumour_to_normal_ratio={t.name: t.tumour_to_normal_ratio for t in tumours},
        volumes_ml=volumes,
        nominal_volumes_ml=nominal,
        activity_gbq=activity_gbq,
        concentration_bq_per_ml=concentration,
        fwhm_mm=fwhm_mm,
        total_counts=total_counts,
        seed=seed if total_counts is not None else None,
    )
    return Phantom(activity=grid, masks=masks, ct=ct, truth=truth)
