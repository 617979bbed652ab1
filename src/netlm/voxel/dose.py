"""Voxel dosimetry of a permanent 90Y implant: local deposition and kernel convolution.

Two models (``shared/reference/dosimetry.md``, Voxel dosimetry):

* **Local deposition (LDM)**: every decay deposits its energy in its own
  voxel, D_i = A_i · C / (ρ_i · V_i), with A_i the voxel's activity at implant
  (GBq), C the dose constant (Gy·kg/GBq, :class:`~netlm.sirt.physics.Physics`),
  ρ_i the density and V_i the voxel volume.  With A_i = a_i · V_i (a in Bq/mL)
  the voxel volume cancels: D_i [Gy] = a_i · 1e-9 · C / (ρ_i · 1e-3).
* **Dose-voxel kernel (DVK)**: D(v) = Σ_s Ã(s) · S(v − s), with Ã the
  cumulated activity of each voxel (MBq·s) and S the voxel S values of the
  kernel (mGy/(MBq·s)), computed by a linear (zero-padded) FFT convolution:
  energy that leaves the field of view is lost, as it physically is.

The planning constant C and the kernel must describe the same energy per
decay.  C fixes it: C / (1e9 · T½[s] / ln 2) joules per decay (0.931 MeV for
49.67 Gy·kg/GBq and 64.1 h; the S values of Lanconelli 2012 integrate to
0.9267 MeV).  :func:`dose_dvk` therefore rescales the kernel so that
Σ S · m_voxel equals that energy times the kernel's own energy fraction (the
share of the emitted energy it deposits inside its extent), records the
factor in the result and warns with :class:`DosimetryWarning` when it is more
than 2 % from 1.  Then a uniform block much larger than the kernel gets the
same dose by LDM and by DVK, and the total energy deposited is C · A times
the kernel's energy fraction.

Activity images are concentrations at the time of implant (Bq/mL, the
``ImageVolume.unit`` ``"Bq/mL"``); counts or relative maps are first brought
to a known activity with :func:`scale_to_activity`.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt
import scipy.fft as sfft
from scipy import ndimage

from netlm.errors import GeometryError, NetlmError, UnitError
from netlm.sirt.physics import Y90_HALF_LIFE_H, Physics
from netlm.units import (
    BQ_PER_GBQ,
    BQ_PER_MBQ,
    GY_PER_MGY,
    KG_PER_G,
    MGY_PER_MBQ_S_PER_GY_PER_BQ_S,
    MM3_PER_ML,
    S_PER_H,
)
from netlm.volume import ImageVolume

__all__ = [
    "CT_CALIBRATIONS",
    "DoseKernelLike",
    "DosimetryError",
    "DosimetryWarning",
    "clip_negative_activity",
    "cumulated_activity",
    "density_from_ct",
    "dose_dvk",
    "dose_ldm",
    "kernel_energy_scale",
    "mask_array",
    "scale_to_activity",
    "total_activity_gbq",
    "uniform_density",
]

#: Relative difference between the kernel's and the planning constant's energy
#: per decay above which :func:`dose_dvk` warns.
KERNEL_ENERGY_TOLERANCE: Final = 0.02

#: Accepted spellings of an activity concentration in Bq/mL (DICOM PET ``BQML``).
_BQ_PER_ML: Final = frozenset({"bq/ml", "bqml", "bq/cc", "bq/cm3", "bq/cm^3"})


class DosimetryWarning(UserWarning):
    """A dose that is computed but shaky: a tiny VOI, a kernel/constant mismatch, ..."""


class DosimetryError(NetlmError, ValueError):
    """An argument of a voxel-dosimetry function is impossible (names the argument)."""


class DoseKernelLike(Protocol):
    """What :func:`dose_dvk` needs of a dose-voxel kernel.

    :class:`netlm.voxel.kernels.DoseKernel` has this shape; any object with these
    attributes works (tests build small synthetic kernels).
    """

    @property
    def values(self) -> np.ndarray:
        """S values in mGy/(MBq·s), odd shape ``(nk, nj, ni)``, centred, indexed [k, j, i]."""
        ...

    @property
    def voxel_mm(self) -> tuple[float, float, float]:
        """Voxel size of the kernel along i, j, k in millimetres."""
        ...

    @property
    def density_g_per_ml(self) -> float:
        """Density of the medium the kernel was computed in (g/mL)."""
        ...

    @property
    def source(self) -> str:
        """Where the S values come from."""
        ...

    def energy_fraction(self) -> float:
        """Share of the emitted β energy deposited inside the kernel's extent."""
        ...


# ---------------------------------------------------------------------------- checks
def _check_activity(activity: ImageVolume, name: str = "activity") -> None:
    if activity.unit.strip().lower() not in _BQ_PER_ML:
        raise UnitError(
            f"Argument {name!r} must be an activity concentration in Bq/mL at implant time, "
            f"not {activity.unit!r}; bring counts or relative maps to a known activity "
            "with netlm.voxel.dose.scale_to_activity"
        )
    if not np.issubdtype(activity.array.dtype, np.number) or np.iscomplexobj(activity.array):
        raise DosimetryError(f"Argument {name!r} must hold real numbers")
    if not np.all(np.isfinite(activity.array)):
        raise DosimetryError(f"Argument {name!r} holds NaN or infinite values")


def _grid(spacing: Sequence[float]) -> str:
    return "(" + ", ".join(f"{s:g}" for s in spacing) + ") mm"


def mask_array(
    mask: ImageVolume | npt.NDArray[Any], reference: ImageVolume, *, name: str = "mask"
) -> npt.NDArray[np.bool_]:
    """A boolean array of ``mask`` (non-zero voxels) checked against ``reference``'s grid.

    Parameters
    ----------
    mask
        A label/mask :class:`ImageVolume` on the same grid as ``reference``, or an
        array of the same shape (indexed [k, j, i]).
    reference
        The image the mask selects voxels of.
    name
        The argument's name, for the error message.

    Raises
    ------
    GeometryError
        If the mask is on another grid (shape, spacing, origin or direction).
    """
    if isinstance(mask, ImageVolume):
        if not mask.same_grid(reference):
            raise GeometryError(
                f"Argument {name!r} is on another grid than the image: shape "
                f"{mask.array.shape} vs {reference.array.shape}, spacing "
                f"{_grid(mask.spacing_mm)} vs {_grid(reference.spacing_mm)}, origin "
                f"{_grid(mask.origin_mm)} vs {_grid(reference.origin_mm)}; resample it first"
            )
        array = mask.array
    else:
        array = np.asarray(mask)
        if array.shape != reference.array.shape:
            raise GeometryError(
                f"Argument {name!r} has shape {array.shape}, the image {reference.array.shape}"
            )
    return np.asarray(array != 0, dtype=np.bool_)


def _density_array(
    density: ImageVolume | float | None, like: ImageVolume, physics: Physics
) -> npt.NDArray[np.float64] | float:
    if density is None:
        return physics.tissue_density_g_per_ml
    if isinstance(density, ImageVolume):
        if not density.same_grid(like):
            raise GeometryError(
                "Argument 'density' is on another grid than the activity: spacing "
                f"{_grid(density.spacing_mm)} vs {_grid(like.spacing_mm)}, shape "
                f"{density.array.shape} vs {like.array.shape}; resample it first"
            )
        values = np.asarray(density.array, dtype=np.float64)
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise DosimetryError("Argument 'density' must be finite and > 0 g/mL everywhere")
        return values
    rho = float(density)
    if not math.isfinite(rho) or rho <= 0:
        raise DosimetryError(f"Argument 'density' must be > 0 g/mL, not {density!r}")
    return rho


# ---------------------------------------------------------------------------- density
#: HU → density (g/mL) calibrations: nodes of a piecewise-linear curve, clamped
#: outside the first and last node.
#:
#: ``schneider2000``: the stoichiometric calibration of Schneider W, Bortfeld T,
#: Schlegel W, "Correlation between CT numbers and tissue parameters needed for
#: Monte Carlo simulations of clinical dose distributions", Phys Med Biol
#: 2000;45:459–478, as the nodes of GATE's ``Schneider2000DensitiesTable.txt``
#: (air −1000 HU → 0.00121, adipose −98 → 0.93, soft tissue 14–23 → 1.03, bone
#: 101 → 1.076 … 1600 → 1.964, 3000 → 2.8; the step at 100/101 HU is the
#: soft-tissue/bone boundary of that table).  It gives 1.017 g/mL at 0 HU: it is
#: fitted to human tissues, not to water.
#:
#: ``air_water_linear``: ρ = 1 + HU/1000 between air and water and above it,
#: the linear densitovolumetry used for lung mass (Kao 2014) — water 0 HU →
#: 1.0 g/mL; overestimates bone.
#:
#: Both are [U] for a given scanner: pass a centre's own nodes when it has them.
CT_CALIBRATIONS: Final[Mapping[str, tuple[tuple[float, float], ...]]] = MappingProxyType(
    {
        "schneider2000": (
            (-1000.0, 0.00121),
            (-98.0, 0.93),
            (-97.0, 0.930486),
            (14.0, 1.03),
            (23.0, 1.031),
            (100.0, 1.1199),
            (101.0, 1.0762),
            (1600.0, 1.9642),
            (3000.0, 2.8),
        ),
        "air_water_linear": ((-998.8, 0.0012), (0.0, 1.0), (3000.0, 4.0)),
    }
)


def density_from_ct(
    ct: ImageVolume,
    *,
    calibration: str | Sequence[tuple[float, float]] = "schneider2000",
) -> ImageVolume:
    """Mass density (g/mL) from a CT in Hounsfield units.

    Parameters
    ----------
    ct
        CT image in HU (``unit`` ``"HU"``, or empty when the reader did not say).
    calibration
        A key of :data:`CT_CALIBRATIONS` or ``(HU, g/mL)`` nodes in increasing HU.
        The curve is clamped below the first and above the last node.

    Returns
    -------
    ImageVolume
        Density in g/mL on the CT grid; ``metadata["ct_calibration"]`` names it.

    Examples
    --------
    >>> ct = ImageVolume(np.array([[[-1000.0, 0.0, 60.0]]]), (1.0, 1.0, 1.0), unit="HU")
    >>> rho = density_from_ct(ct, calibration="air_water_linear")
    >>> [round(float(x), 4) for x in rho.array.ravel()]
    [0.0012, 1.0, 1.06]
    """
    if ct.unit not in ("HU", ""):
        raise UnitError(f"Argument 'ct' must be in HU, not {ct.unit!r}")
    if isinstance(calibration, str):
        try:
            nodes = CT_CALIBRATIONS[calibration]
        except KeyError:
            known = ", ".join(CT_CALIBRATIONS)
            raise DosimetryError(
                f"Argument 'calibration': unknown calibration {calibration!r}; known: {known}"
            ) from None
        label = calibration
    else:
        nodes = tuple((float(h), float(r)) for h, r in calibration)
        label = "custom"
    hu = np.array([h for h, _ in nodes], dtype=np.float64)
    rho = np.array([r for _, r in nodes], dtype=np.float64)
    if hu.size < 2 or np.any(np.diff(hu) <= 0) or np.any(rho <= 0):
        raise DosimetryError(
            "Argument 'calibration' needs at least two nodes with increasing HU and density > 0"
        )
    values = np.interp(np.asarray(ct.array, dtype=np.float64), hu, rho)
    out = ct.with_array(values, unit="g/mL")
    out.metadata["ct_calibration"] = label
    out.metadata["ct_calibration_nodes"] = [list(n) for n in nodes]
    return out


def uniform_density(
    like: ImageVolume,
    *,
    physics: Physics | None = None,
    density_g_per_ml: float | None = None,
    lung_mask: ImageVolume | npt.NDArray[Any] | None = None,
    lung_density_g_per_ml: float | None = None,
) -> ImageVolume:
    """A density map on ``like``'s grid: tissue density, lung density inside a lung mask.

    Parameters
    ----------
    like
        The image whose grid the map takes.
    physics
        Defaults of the two densities (1.03 and 0.30 g/mL).
    density_g_per_ml
        Density outside the lung (default ``physics.tissue_density_g_per_ml``).
    lung_mask
        Lung voxels, which get ``lung_density_g_per_ml`` (default
        ``physics.lung_density_g_per_ml``).

    Examples
    --------
    >>> img = ImageVolume(np.zeros((1, 1, 2)), (2.0, 2.0, 2.0))
    >>> uniform_density(img, lung_mask=np.array([[[0, 1]]])).array.tolist()
    [[[1.03, 0.3]]]
    """
    physics = physics or Physics()
    tissue = physics.tissue_density_g_per_ml if density_g_per_ml is None else density_g_per_ml
    lung = physics.lung_density_g_per_ml if lung_density_g_per_ml is None else lung_density_g_per_ml
    for name, value in (("density_g_per_ml", tissue), ("lung_density_g_per_ml", lung)):
        if not math.isfinite(value) or value <= 0:
            raise DosimetryError(f"Argument {name!r} must be > 0 g/mL, not {value!r}")
    values = np.full(like.array.shape, tissue, dtype=np.float64)
    if lung_mask is not None:
        values[mask_array(lung_mask, like, name="lung_mask")] = lung
    out = like.with_array(values, unit="g/mL")
    out.metadata["density_model"] = f"uniform {tissue:g} g/mL" + (
        f", lung {lung:g} g/mL" if lung_mask is not None else ""
    )
    return out


# ---------------------------------------------------------------------------- activity
def total_activity_gbq(
    activity: ImageVolume, mask: ImageVolume | npt.NDArray[Any] | None = None
) -> float:
    """Activity (GBq) in the image, or inside ``mask``: Σ a_i · V_i.

    Examples
    --------
    >>> img = ImageVolume(np.full((2, 2, 2), 1e6), (10.0, 10.0, 10.0), unit="Bq/mL")
    >>> total_activity_gbq(img)  # 8 mL at 1 MBq/mL
    0.008
    """
    _check_activity(activity)
    values = activity.array
    if mask is not None:
        values = values[mask_array(mask, activity)]
    return float(np.sum(values, dtype=np.float64)) * activity.voxel_volume_ml / BQ_PER_GBQ


def clip_negative_activity(image: ImageVolume) -> tuple[ImageVolume, dict[str, float]]:
    """The image with negative values (reconstruction noise) set to 0, and what was clipped.

    Reconstructed PET and SPECT images hold a few negative voxels (noise around
    zero); an activity cannot be negative, and a dose map cannot hold negative
    doses (a PHYSICAL RT Dose has none).  The record says how many voxels were
    clipped (``clipped_voxels``, ``clipped_voxel_fraction``) and how much
    negative signal was dropped relative to the positive signal
    (``clipped_activity_fraction``).

    Examples
    --------
    >>> img = ImageVolume(np.array([[[4.0, -1.0, 6.0, 0.0]]]), (1.0, 1.0, 1.0), unit="counts")
    >>> out, record = clip_negative_activity(img)
    >>> out.array.tolist(), record["clipped_voxels"], record["clipped_activity_fraction"]
    ([[[4.0, 0.0, 6.0, 0.0]]], 1, 0.1)
    """
    values = np.asarray(image.array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DosimetryError("Argument 'image' holds NaN or infinite values")
    negative = values < 0
    count = int(np.count_nonzero(negative))
    positive_sum = float(values[values > 0].sum(dtype=np.float64))
    negative_sum = float(-values[negative].sum(dtype=np.float64))
    record: dict[str, float] = {
        "clipped_voxels": count,
        "clipped_voxel_fraction": count / values.size if values.size else 0.0,
        "clipped_activity_fraction": (negative_sum / positive_sum) if positive_sum > 0 else 0.0,
    }
    if count == 0:
        return image.with_array(values), record
    out = image.with_array(np.where(negative, 0.0, values))
    out.metadata["clipped_negative_voxels"] = count
    return out, record


def scale_to_activity(
    image: ImageVolume,
    total_gbq: float,
    *,
    mask: ImageVolume | npt.NDArray[Any] | None = None,
    outside: Literal["keep", "zero"] = "keep",
) -> ImageVolume:
    """Bring counts (or any relative map) to Bq/mL with a known total activity.

    The image is multiplied by one factor so that the activity it holds — inside
    ``mask`` when one is given (e.g. the liver gets the injected activity times
    1 − LSF) — is ``total_gbq``.

    Parameters
    ----------
    image
        Counts, a relative map or an activity image; values >= 0 expected.
    total_gbq
        The activity the image (or its masked part) holds, in GBq (> 0).
    mask
        Voxels whose sum is set to ``total_gbq``.
    outside
        With a mask: ``"keep"`` scales the rest of the image by the same factor,
        ``"zero"`` sets it to 0.

    Returns
    -------
    ImageVolume
        Bq/mL; ``metadata["bq_per_ml_per_unit"]`` holds the factor applied.

    Examples
    --------
    >>> counts = ImageVolume(np.ones((2, 2, 2)), (10.0, 10.0, 10.0), unit="counts")
    >>> total_activity_gbq(scale_to_activity(counts, 1.0))
    1.0
    """
    if not math.isfinite(total_gbq) or total_gbq <= 0:
        raise DosimetryError(f"Argument 'total_gbq' must be > 0, not {total_gbq!r}")
    if outside not in ("keep", "zero"):
        raise DosimetryError(f"Argument 'outside' must be 'keep' or 'zero', not {outside!r}")
    values = np.asarray(image.array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DosimetryError("Argument 'image' holds NaN or infinite values")
    selected = None if mask is None else mask_array(mask, image)
    total = float(values.sum() if selected is None else values[selected].sum())
    if total <= 0:
        where = "inside the mask" if selected is not None else "in the image"
        raise DosimetryError(f"Argument 'image' has no positive signal {where} to scale")
    factor = total_gbq * BQ_PER_GBQ / (total * image.voxel_volume_ml)
    scaled = values * factor
    if selected is not None and outside == "zero":
        scaled[~selected] = 0.0
    out = image.with_array(scaled, unit="Bq/mL")
    out.metadata["bq_per_ml_per_unit"] = factor
    out.metadata["scaled_from_unit"] = image.unit
    out.metadata["scaled_total_gbq"] = total_gbq
    return out


def _decays_per_bq(half_life_h: float) -> float:
    """Decays per Bq present at implant, for complete decay: T½ / ln 2 (s)."""
    if not math.isfinite(half_life_h) or half_life_h <= 0:
        raise DosimetryError(f"Argument 'half_life_h' must be > 0, not {half_life_h!r}")
    return half_life_h * S_PER_H / math.log(2.0)


def cumulated_activity(
    activity: ImageVolume, *, half_life_h: float = Y90_HALF_LIFE_H
) -> ImageVolume:
    """Cumulated activity of each voxel of a permanent implant, in MBq·s.

    Ã_i = a_i · V_i · T½ / ln 2, with a the concentration at implant (Bq/mL).

    Examples
    --------
    >>> img = ImageVolume(np.full((1, 1, 1), 1e6), (10.0, 10.0, 10.0), unit="Bq/mL")
    >>> round(float(cumulated_activity(img).array[0, 0, 0]))  # 1 MBq -> 332,916 MBq·s
    332916
    """
    _check_activity(activity)
    per_voxel_mbq = np.asarray(activity.array, dtype=np.float64) * (
        activity.voxel_volume_ml / BQ_PER_MBQ
    )
    out = activity.with_array(per_voxel_mbq * _decays_per_bq(half_life_h), unit="MBq*s")
    out.metadata["half_life_h"] = half_life_h
    return out


# ---------------------------------------------------------------------------- LDM
def _physics_metadata(physics: Physics) -> dict[str, object]:
    return {
        "dose_constant_gy_kg_per_gbq": physics.dose_constant_gy_kg_per_gbq,
        "y90_half_life_h": physics.y90_half_life_h,
        "tissue_density_g_per_ml": physics.tissue_density_g_per_ml,
    }


def dose_ldm(
    activity: ImageVolume,
    *,
    density: ImageVolume | float | None = None,
    physics: Physics | None = None,
    dtype: npt.DTypeLike = np.float64,
) -> ImageVolume:
    """Absorbed dose (Gy) by local deposition: D_i = A_i · C / (ρ_i · V_i).

    Parameters
    ----------
    activity
        Activity concentration at implant, Bq/mL.
    density
        g/mL: one number, a map on the activity grid (:func:`density_from_ct`,
        :func:`uniform_density`), or ``None`` for ``physics.tissue_density_g_per_ml``.
    physics
        The dose constant C (default 49.67 Gy·kg/GBq).
    dtype
        Floating type of the result.

    Examples
    --------
    >>> img = ImageVolume(np.full((1, 1, 1), 1e6), (10.0, 10.0, 10.0), unit="Bq/mL")
    >>> d = dose_ldm(img, density=1.0, physics=Physics(dose_constant_gy_kg_per_gbq=50.0))
    >>> round(float(d.array[0, 0, 0]), 9)  # 1 MBq in 1 g: 50 Gy·kg/GBq · 1e-3 GBq / 1e-3 kg
    50.0
    """
    physics = physics or Physics()
    _check_activity(activity)
    rho = _density_array(density, activity, physics)
    # D = (a · V / 1e9 GBq) · C / (ρ · 1e-3 kg/g · V): the voxel volume cancels.
    gy_per_bq_ml = physics.dose_constant_gy_kg_per_gbq / (BQ_PER_GBQ * KG_PER_G)
    dose = np.asarray(activity.array, dtype=np.float64) * gy_per_bq_ml / rho
    out = activity.with_array(dose.astype(dtype, copy=False), unit="Gy")
    out.metadata.update(
        {
            "quantity": "absorbed dose",
            "dose_model": "local deposition (LDM)",
            **_physics_metadata(physics),
            "density_g_per_ml": rho if isinstance(rho, float) else "map",
        }
    )
    return out


# ---------------------------------------------------------------------------- DVK
def kernel_energy_scale(kernel: DoseKernelLike, physics: Physics | None = None) -> float:
    """Factor that makes the kernel's energy per decay that of the planning constant.

    The kernel deposits Σ S · m_voxel (mGy·kg per MBq·s, i.e. 1e-9 J per decay)
    inside its extent, which is its ``energy_fraction()`` of the energy it assumes
    per decay.  The planning constant gives C / (1e9 · T½[s] / ln 2) J per decay.
    The factor is (energy per decay from C) · energy_fraction / Σ S · m_voxel, so
    the rescaled kernel keeps its escape fraction.

    Raises
    ------
    DosimetryError
        If the kernel is empty, negative or its energy fraction is not in (0, 1.02].
        A published table can sum to slightly more than its nominal energy (the
        Lanconelli 4.42 mm table: 1.0003 at 1.03 g/mL); fractions up to 1.02 are
        taken as 1 (nothing escapes), beyond that the kernel is refused.
    """
    physics = physics or Physics()
    values = np.asarray(kernel.values, dtype=np.float64)
    fraction = float(kernel.energy_fraction())
    if not 0 < fraction <= 1.02:
        raise DosimetryError(f"kernel energy_fraction() must be in (0, 1.02], not {fraction:g}")
    fraction = min(fraction, 1.0)
    voxel_ml = math.prod(kernel.voxel_mm) / MM3_PER_ML
    voxel_kg = kernel.density_g_per_ml * voxel_ml * KG_PER_G
    deposited_mgy_kg = float(values.sum()) * voxel_kg  # per MBq·s
    if not math.isfinite(deposited_mgy_kg) or deposited_mgy_kg <= 0:
        raise DosimetryError("kernel S values must be finite with a positive sum")
    joule_per_decay = physics.dose_constant_gy_kg_per_gbq / (
        BQ_PER_GBQ * _decays_per_bq(physics.y90_half_life_h)
    )
    # mGy·kg/(MBq·s) = 1e-3 J per 1e6 decays = 1e-9 J per decay.
    target_mgy_kg = joule_per_decay * MGY_PER_MBQ_S_PER_GY_PER_BQ_S * fraction
    return target_mgy_kg / deposited_mgy_kg


def _check_kernel(kernel: DoseKernelLike, activity: ImageVolume) -> npt.NDArray[np.float64]:
    values = np.asarray(kernel.values, dtype=np.float64)
    if values.ndim != 3 or any(n % 2 == 0 for n in values.shape):
        raise DosimetryError(
            f"Argument 'kernel' must be a 3-D array of odd shape (centred), not {values.shape}"
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise DosimetryError("Argument 'kernel' must hold finite S values >= 0")
    if not np.allclose(kernel.voxel_mm, activity.spacing_mm, rtol=0.0, atol=1e-3):
        raise GeometryError(
            f"kernel voxel {_grid(kernel.voxel_mm)} does not match the activity grid spacing "
            f"{_grid(activity.spacing_mm)}; compute a kernel for this spacing "
            "(netlm.voxel.kernels) or resample the activity to the kernel's voxel"
        )
    return values


def _is_mirror_symmetric(values: npt.NDArray[np.float64]) -> bool:
    scale = float(np.abs(values).max()) or 1.0
    return all(
        np.allclose(values, np.flip(values, axis=a), rtol=1e-6, atol=1e-12 * scale)
        for a in range(3)
    )


def _padded_shape(
    shape: tuple[int, ...], kernel_shape: tuple[int, ...], *, real_only: bool = False
) -> tuple[int, int, int]:
    """Smallest fast FFT sizes with no circular wrap-around of the centred kernel.

    With the kernel's centre at index 0 (negative offsets wrapped to the end),
    n + (m − 1) / 2 points per axis keep the output's first n points free of
    aliasing: the padding only has to hold the kernel's half-width.
    """
    sizes = [n + (m - 1) // 2 for n, m in zip(shape, kernel_shape, strict=True)]
    return (
        sfft.next_fast_len(sizes[0], real=real_only),
        sfft.next_fast_len(sizes[1], real=real_only),
        sfft.next_fast_len(sizes[2], real=True),
    )


def _cosine_matrix(n_pad: int, n_kernel: int, n_freq: int) -> npt.NDArray[np.float64]:
    """Real DFT matrix [frequency, kernel index] of a centred, symmetric kernel axis."""
    offsets = np.arange(n_kernel, dtype=np.float64) - (n_kernel - 1) // 2
    angle = (2.0 * np.pi / n_pad) * np.outer(np.arange(n_freq, dtype=np.float64), offsets)
    return np.cos(angle)


def _symmetric_spectrum_factors(
    values: npt.NDArray[np.float64], padded: tuple[int, int, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The real spectrum of a mirror-symmetric kernel, all but its last stage.

    The kernel has only m0 · m1 · m2 non-zero points, so its DFT on the padded
    grid is a product of small cosine matrices (one separable sum per axis),
    far cheaper than an FFT of the padded kernel.  Returns (C_k, T) with the
    spectrum equal to ``C_k @ T`` reshaped to (Nk, Nj, Ni // 2 + 1).
    """
    nk, nj, ni = padded
    m0, m1, m2 = values.shape
    # einsum without BLAS: these products are small, and a multi-threaded BLAS
    # that spins up threads for them costs more than it saves on a busy machine.
    t1 = np.einsum("abc,fc->abf", values, _cosine_matrix(ni, m2, ni // 2 + 1))  # (m0, m1, Fi)
    t2 = np.einsum("gb,abf->agf", _cosine_matrix(nj, m1, nj), t1)  # (m0, Nj, Fi)
    return _cosine_matrix(nk, m0, nk), t2.reshape(m0, -1)


def _wrapped_kernel(
    values: npt.NDArray[np.float64], padded: tuple[int, int, int], dtype: np.dtype[Any]
) -> npt.NDArray[Any]:
    """The kernel on the padded grid with its centre at index 0 (negative offsets wrapped)."""
    out = np.zeros(padded, dtype=dtype)
    index = [(np.arange(m) - (m - 1) // 2) % n for m, n in zip(values.shape, padded, strict=True)]
    out[np.ix_(*index)] = values
    return out


def _kernel_spectrum(
    values: npt.NDArray[np.float64],
    padded: tuple[int, int, int],
    *,
    symmetric: bool,
    dtype: np.dtype[Any],
    workers: int,
) -> npt.NDArray[Any]:
    """The kernel's spectrum on the padded grid, as :func:`_apply_spectrum_planes` takes it.

    A mirror-symmetric kernel has a real spectrum that is even along k too, so
    only its first ``Nk // 2 + 1`` planes are computed (real, ``dtype``).  Any
    other kernel gets the full complex spectrum of its wrapped, padded copy.
    """
    if symmetric:
        c_k, t2 = _symmetric_spectrum_factors(values, padded)
        half = padded[0] // 2 + 1
        spectrum = np.einsum("fa,ab->fb", c_k[:half].astype(dtype), t2.astype(dtype))
        return np.asarray(spectrum.reshape(half, padded[1], padded[2] // 2 + 1))
    return np.asarray(sfft.rfftn(_wrapped_kernel(values, padded, dtype), workers=workers))


def _apply_spectrum_planes(
    spec: npt.NDArray[Any], spectrum: npt.NDArray[Any], bounds: tuple[int, int]
) -> None:
    """Multiply planes ``bounds = (k0, k1)`` of ``spec`` in place by the kernel spectrum.

    The spectrum is the full one, or its first ``Nk // 2 + 1`` planes of a
    spectrum even along k.
    """
    k0, k1 = bounds
    nk, half = spec.shape[0], spectrum.shape[0]
    if half == nk:
        spec[k0:k1] *= spectrum[k0:k1]
        return
    # Even along k: plane Nk − f equals plane f.
    low = min(k1, half)
    if k0 < low:
        spec[k0:low] *= spectrum[k0:low]
    high = max(k0, half)
    if high < k1:
        spec[high:k1] *= spectrum[nk - high : nk - k1 : -1]


def _in_place(result: npt.NDArray[Any], target: npt.NDArray[Any]) -> None:
    """Make sure a transform asked to overwrite ``target`` left its result there."""
    if not np.shares_memory(result, target):
        target[...] = result


#: Planes of k per task of the slab-wise passes of :func:`_fft_convolve_cpu`:
#: small enough that the per-slab temporaries stay a few percent of the grid,
#: large enough that each task's transforms amortise the thread hand-off.
_SLAB_PLANES: Final = 8


def _slabs(n: int) -> list[tuple[int, int]]:
    return [(k, min(k + _SLAB_PLANES, n)) for k in range(0, n, _SLAB_PLANES)]


def _fft_convolve_cpu(
    activity: npt.NDArray[Any],
    make_spectrum: Callable[[], npt.NDArray[Any]],
    padded: tuple[int, int, int],
    *,
    dtype: np.dtype[Any],
    workers: int,
    density_scale: Callable[[int, int], npt.NDArray[Any] | float] | None = None,
) -> npt.NDArray[Any]:
    """Linear convolution of ``activity`` with the kernel of the given padded spectrum.

    The transforms run one axis at a time on one padded complex array, and are
    pruned: the forward pass transforms only the lines that hold data (the
    others are zeros), the inverse only the lines that are kept.  The first
    pass (cast to ``dtype``, real FFT along i, FFT along j) and the last (the
    inverses along j and i, the crop, the optional density scaling) run
    slab by slab of k planes, ``workers`` slabs at a time, straight from the
    input into the complex array and from it into one preallocated output: no
    padded real copy and no full-size temporary of either pass exists.  Only
    the FFT along k spans the whole array (``scipy.fft``'s own threads).  Every
    line is transformed as the whole-array transform would, so the result is
    that of the unsplit passes.

    ``make_spectrum()`` gives the kernel's spectrum
    (:func:`_apply_spectrum_planes`); it is called after the forward pass and
    dropped after the product, so that it never coexists with the output.
    ``density_scale(k0, k1)``, when given, is the factor the dose of planes
    ``k0:k1`` is multiplied by (float64, cast to ``dtype`` on storing).
    """
    nk, nj, ni = activity.shape
    pk, pj, pi = padded
    spec = np.zeros((pk, pj, pi // 2 + 1), dtype=np.result_type(dtype, np.complex64))
    slabs = _slabs(nk)

    def forward(bounds: tuple[int, int]) -> None:
        k0, k1 = bounds
        part = spec[k0:k1]
        part[:, :nj] = sfft.rfft(np.asarray(activity[k0:k1], dtype=dtype), n=pi, axis=2)
        _in_place(sfft.fft(part, axis=1, overwrite_x=True), part)

    def inverse(bounds: tuple[int, int]) -> None:
        k0, k1 = bounds
        part = spec[k0:k1]
        _in_place(sfft.ifft(part, axis=1, overwrite_x=True), part)
        dose = sfft.irfft(part[:, :nj], n=pi, axis=2)[:, :, :ni]
        if density_scale is None:
            out[k0:k1] = dose
        else:
            out[k0:k1] = dose * density_scale(k0, k1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(forward, slabs))
        _in_place(sfft.fft(spec, axis=0, workers=workers, overwrite_x=True), spec)
        spectrum = make_spectrum()
        list(pool.map(functools.partial(_apply_spectrum_planes, spec, spectrum), _slabs(pk)))
        del spectrum
        out = np.empty((nk, nj, ni), dtype=dtype)
        _in_place(sfft.ifft(spec, axis=0, workers=workers, overwrite_x=True), spec)
        list(pool.map(inverse, slabs))
    return out


def _density_scale(
    kernel: DoseKernelLike, rho: npt.NDArray[np.float64] | float
) -> Callable[[int, int], npt.NDArray[Any] | float]:
    """ρ_kernel / ρ for the planes ``k0:k1`` (a density map, or one density)."""

    def scale(k0: int, k1: int) -> npt.NDArray[Any] | float:
        local = rho[k0:k1] if isinstance(rho, np.ndarray) else rho
        return kernel.density_g_per_ml / np.asarray(local)

    return scale


def _gpu_backend() -> tuple[str, Any] | None:
    """torch or cupy with a usable GPU, imported only when asked for."""
    for name in ("torch", "cupy"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        try:
            if name == "torch" and module.cuda.is_available():
                return name, module
            if name == "cupy" and module.cuda.runtime.getDeviceCount() > 0:
                return name, module
        except Exception:  # a broken driver means "no GPU", not a crash
            continue
    return None


def _fft_convolve_gpu(
    backend: tuple[str, Any],
    activity: npt.NDArray[Any],
    values: npt.NDArray[np.float64],
    padded: tuple[int, int, int],
    *,
    symmetric: bool,
    dtype: np.dtype[Any],
    torch_device: str = "cuda",
) -> npt.NDArray[Any]:
    """The same convolution on a GPU (torch or cupy); the result comes back to the host.

    ``values`` already carries every unit factor.  The small stages of a
    symmetric kernel's spectrum run on the host, the large one on the GPU.
    ``torch_device`` is where torch runs it (``"cpu"`` lets a test check this
    code without a GPU).
    """
    name, xp = backend
    nk, nj, ni = activity.shape
    spectrum_shape = (padded[0], padded[1], padded[2] // 2 + 1)
    host_x = np.ascontiguousarray(activity, dtype=dtype)
    if symmetric:
        c_k, t2 = _symmetric_spectrum_factors(values, padded)
        factors: tuple[npt.NDArray[Any], ...] = (
            np.ascontiguousarray(c_k, dtype=dtype),
            np.ascontiguousarray(t2, dtype=dtype),
        )
    else:
        factors = (_wrapped_kernel(values, padded, dtype),)
    if name == "torch":
        torch = xp
        dev = torch.device(torch_device)
        with torch.no_grad():
            if symmetric:
                c_d, t_d = (torch.from_numpy(f).to(dev) for f in factors)
                spectrum = (c_d @ t_d).view(spectrum_shape)
                del c_d, t_d
            else:
                spectrum = torch.fft.rfftn(torch.from_numpy(factors[0]).to(dev))
            spec = torch.fft.rfftn(torch.from_numpy(host_x).to(dev), s=padded)
            spec *= spectrum
            del spectrum
            out = torch.fft.irfftn(spec, s=padded)
            del spec
            result = out[:nk, :nj, :ni].contiguous().cpu().numpy()
            del out
        torch.cuda.empty_cache()
        return np.asarray(result)
    cp = xp
    if symmetric:
        spectrum = (cp.asarray(factors[0]) @ cp.asarray(factors[1])).reshape(spectrum_shape)
    else:
        spectrum = cp.fft.rfftn(cp.asarray(factors[0]))
    spec = cp.fft.rfftn(cp.asarray(host_x), s=padded)
    spec *= spectrum
    del spectrum
    out = cp.fft.irfftn(spec, s=padded)
    del spec
    result = cp.asnumpy(cp.ascontiguousarray(out[:nk, :nj, :ni]))
    del out
    cp.get_default_memory_pool().free_all_blocks()
    return np.asarray(result)


def dose_dvk(
    activity: ImageVolume,
    kernel: DoseKernelLike,
    *,
    physics: Physics | None = None,
    method: Literal["fft", "direct"] = "fft",
    workers: int | None = None,
    dtype: npt.DTypeLike = np.float32,
    density: ImageVolume | float | None = None,
    device: Literal["cpu", "cuda"] = "cpu",
) -> ImageVolume:
    """Absorbed dose (Gy) by dose-voxel-kernel convolution: D = Σ Ã(s) · S(v − s).

    Parameters
    ----------
    activity
        Activity concentration at implant, Bq/mL.
    kernel
        Voxel S values (mGy/(MBq·s)) for the activity's voxel size
        (:class:`netlm.voxel.kernels.DoseKernel`).  It is rescaled to the
        planning constant's energy per decay (see :func:`kernel_energy_scale`);
        the factor is in ``metadata["kernel_energy_scale"]``.
    physics
        Dose constant and half-life (defaults 49.67 Gy·kg/GBq, 64.1 h).
    method
        ``"fft"``: linear convolution by real FFTs on a zero-padded grid of
        ``scipy.fft.next_fast_len`` sizes (energy leaving the field is lost);
        ``"direct"``: ``scipy.ndimage.convolve`` in float64 with zeros outside,
        slow, for checks.
    workers
        Threads of the FFT path: slabs of the first and last passes and of the
        spectrum product run on this many threads, the FFT along k on
        ``scipy.fft``'s; ``None`` uses every CPU (``os.cpu_count()``).
    dtype
        Working and result type of the FFT path (float32 by default; float64
        for reference results).
    density
        Optional density (g/mL, number or map): the dose is then scaled by
        ρ_kernel / ρ(v), the energy deposited in a voxel being divided by its
        own mass (a density-scaled kernel, e.g. for lung).  ``None`` leaves
        the kernel's medium everywhere, with a warning when that differs from
        ``physics.tissue_density_g_per_ml`` by more than 1 %.
    device
        ``"cuda"`` runs the FFTs on a GPU through torch or cupy when one is
        importable with a GPU; otherwise it warns and runs on the CPU.
        ``metadata["device"]`` says where it ran.

    Raises
    ------
    GeometryError
        If the kernel's voxel is not the activity's spacing.
    UnitError
        If the activity is not in Bq/mL.

    Warns
    -----
    DosimetryWarning
        If the kernel's energy per decay differs from the planning constant's by
        more than 2 %, or (with no ``density``) its medium from the tissue
        density by more than 1 %.
    """
    physics = physics or Physics()
    _check_activity(activity)
    if method not in ("fft", "direct"):
        raise DosimetryError(f"Argument 'method' must be 'fft' or 'direct', not {method!r}")
    if device not in ("cpu", "cuda"):
        raise DosimetryError(f"Argument 'device' must be 'cpu' or 'cuda', not {device!r}")
    work_dtype = np.dtype(dtype)
    if work_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DosimetryError(f"Argument 'dtype' must be float32 or float64, not {work_dtype}")
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise DosimetryError(f"Argument 'workers' must be >= 1, not {workers}")
    values = _check_kernel(kernel, activity)
    rho = None if density is None else _density_array(density, activity, physics)

    energy_scale = kernel_energy_scale(kernel, physics)
    if abs(energy_scale - 1.0) > KERNEL_ENERGY_TOLERANCE:
        off_percent = 100.0 * (1.0 / energy_scale - 1.0)
        warnings.warn(
            f"the kernel ({kernel.source}) and the planning constant "
            f"{physics.dose_constant_gy_kg_per_gbq:g} Gy·kg/GBq (T½ {physics.y90_half_life_h:g} h) "
            f"disagree on the energy per decay: the kernel's is {off_percent:+.1f} % off; "
            f"the kernel was rescaled by {energy_scale:.4f}",
            DosimetryWarning,
            stacklevel=2,
        )
    tissue = physics.tissue_density_g_per_ml
    if rho is None and abs(kernel.density_g_per_ml / tissue - 1.0) > 0.01:
        warnings.warn(
            f"the kernel is for {kernel.density_g_per_ml:g} g/mL but the plan's tissue density "
            f"is {tissue:g} g/mL: doses are for the kernel's medium; compute the kernel at "
            f"{tissue:g} g/mL or pass density= to scale them",
            DosimetryWarning,
            stacklevel=2,
        )
    # Ã (MBq·s) per Bq/mL, times S (mGy/(MBq·s)) → Gy: fold every factor into the kernel.
    mbq_s_per_bq_ml = (
        activity.voxel_volume_ml / BQ_PER_MBQ * _decays_per_bq(physics.y90_half_life_h)
    )
    scale = mbq_s_per_bq_ml * GY_PER_MGY * energy_scale

    used_device = "cpu"
    density_applied = False
    padded: tuple[int, int, int] | None = None
    if method == "direct":
        dose = ndimage.convolve(
            np.asarray(activity.array, dtype=np.float64),
            values * scale,
            mode="constant",
            cval=0.0,
        ).astype(work_dtype, copy=False)
    else:
        symmetric = _is_mirror_symmetric(values)
        if symmetric:
            # Exactly symmetric, so that the spectrum is exactly real.
            for axis in range(3):
                values = 0.5 * (values + np.flip(values, axis=axis))
        backend = _gpu_backend() if device == "cuda" else None
        if device == "cuda" and backend is None:
            warnings.warn(
                "device='cuda' was asked for but neither torch nor cupy with a GPU is "
                "available; running on the CPU",
                RuntimeWarning,
                stacklevel=2,
            )
        if backend is not None:
            padded = _padded_shape(activity.array.shape, values.shape, real_only=True)
            dose = _fft_convolve_gpu(
                backend,
                activity.array,
                values * scale,
                padded,
                symmetric=symmetric,
                dtype=work_dtype,
            )
            used_device = f"cuda ({backend[0]})"
        else:
            padded = _padded_shape(activity.array.shape, values.shape)
            scaled, shape = values * scale, padded
            dose = _fft_convolve_cpu(
                activity.array,
                lambda: _kernel_spectrum(
                    scaled, shape, symmetric=symmetric, dtype=work_dtype, workers=workers
                ),
                padded,
                dtype=work_dtype,
                workers=workers,
                density_scale=None if rho is None else _density_scale(kernel, rho),
            )
            density_applied = rho is not None  # slab by slab, into the output
    if rho is not None and not density_applied:
        dose = (dose * (kernel.density_g_per_ml / np.asarray(rho))).astype(work_dtype, copy=False)

    out = activity.with_array(np.asarray(dose, dtype=work_dtype), unit="Gy")
    out.metadata.update(
        {
            "quantity": "absorbed dose",
            "dose_model": "dose-voxel kernel (DVK)",
            **_physics_metadata(physics),
            "kernel_source": kernel.source,
            "kernel_shape": tuple(int(n) for n in values.shape),
            "kernel_density_g_per_ml": kernel.density_g_per_ml,
            "kernel_energy_fraction": float(kernel.energy_fraction()),
            # β-only kernels: bremsstrahlung leaves, so DVK ≈ (1 - this) × LDM in bulk tissue.
            "kernel_escaped_bremsstrahlung_fraction": getattr(
                kernel, "escaped_bremsstrahlung_fraction", None
            ),
            "kernel_energy_scale": energy_scale,
            "convolution": method,
            "padded_shape": padded,
            "device": used_device,
            "density_correction": (
                "none" if rho is None else (f"{rho:g} g/mL" if isinstance(rho, float) else "map")
            ),
        }
    )
    return out
