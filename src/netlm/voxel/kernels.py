"""90Y dose-voxel kernels computed by netlm from physics, cached on disk.

A dose-voxel kernel holds voxel S values S(v ← s), the mean absorbed dose in a
target voxel per unit cumulated activity in a source voxel, in mGy/(MBq·s),
for a uniform medium.  netlm computes its own, for any voxel size including
anisotropic ones, in two stages:

1. **Dose point kernel (DPK)**: a condensed-history Monte Carlo transports 90Y
   β particles from a point in water and scores the energy deposited in thin
   spherical shells (:mod:`netlm.voxel._transport` documents the physics and
   its sources: the unique first-forbidden β spectrum with a relativistic
   Fermi function, Bethe collision and ESTAR radiative stopping powers,
   Møller knock-on electrons, elastic scattering by the screened Rutherford
   cross section with a Mott factor).
   Bremsstrahlung photons leave; their share is the kernel's radiative
   fraction.  A medium of density ρ is water scaled by r·ρ:
   F_ρ(r) = ρ F₁(ρ r) (the DPK in fraction of emitted energy per mm).
2. **Voxelisation**: for uniform activity in the source box and a target box of
   the same size, S(n) = Ē/(m V) ∫∫ k(|y − x|) dx dy = (Ē/m) ∫ F(r) W̄_n(r) dr,
   with k(d) = F(|d|)/(4π|d|²) the energy fraction per mm³ and W̄_n(r) the
   mean over directions ω of Π_a tri(r ω_a / L_a − n_a) (tri(u) =
   max(0, 1 − |u|): the overlap of two boxes shifted by rω, in units of one
   box).  netlm evaluates W̄ with a fixed grid of directions on
   one octant (iso-latitude rings, the other seven octants follow by symmetry)
   and "splats" each shell's energy onto the eight lattice points around r ω / L
   with trilinear weights.  The weights of every shell add up to one, so the
   kernel conserves energy exactly: Σ S · m = Ē · (1 − radiative fraction −
   what lies beyond the kernel's extent).

**Extent.** By default the kernel reaches, along each axis, the maximum range
of a 90Y β particle, R = CSDA range of the 2.28 MeV endpoint / ρ (11.3 mm in
water, 11.0 mm at 1.03 g/mL; seed 001 §6.2: "maximum ... range ... in tissues
11 mm"; :func:`y90_max_range_mm`) **plus one voxel**: half-width
⌊R / L⌋ + 1 (at least 5) voxels, so every voxel that a β particle leaving the
far edge of the source voxel can reach is in the kernel, whatever the voxel
size (anisotropic too).  Nothing but bremsstrahlung leaves it.

**Bremsstrahlung.** Photons are not transported: their energy (the radiative
fraction, about 0.45 % of the emitted energy) escapes the kernel and is
stated in its metadata (``escaped_bremsstrahlung_fraction``), by
``netlm kernel`` and in every DVK dose result.  A DVK dose is therefore about
that fraction below the LDM dose inside a large uniform region, and voxels
beyond the β range get no dose.  Published tables that transport photons
(Lanconelli 2012) hold their dose there, about 3e-7 mGy/(MBq·s) at 9.28 mm
voxels, as well as the straggling tail of the β range that a CSDA transport
lacks: their 9.28 mm (2, 0, 0) S value is 7.7e-7 against netlm's 1e-8 (both
below 1e-5 of S(0, 0, 0); the energy involved is about 1e-5 of the emitted).

The energy per decay Ē is 0.9267 MeV (ICRP Publication 107) unless the caller
gives another; the computed spectrum itself has a mean of 0.9336 MeV, which
only sets where the energy goes.

Validation (``tests/voxel/test_kernels.py``) is against the voxel S values of
Lanconelli et al. (Phys Med Biol 2012;57:517-533) for soft tissue.  Water at
1.03 g/mL reproduces them: with Ē = 0.9267 MeV their Σ S · m matches at
1.03 g/mL, and 1.03 g/mL of water has about the electron density of
1.04 g/cm³ of ICRU four-component soft tissue (Z/A 0.555 against 0.550).  The
density the tables were computed at is not verified here [U].

Kernels are cached in the folder the caller passes as ``cache_dir``; without
one, nothing is written and the kernel is computed in memory.  This module reads
no environment: the front doors (CLI, API) resolve the conventional folder,
``$XDG_CACHE_HOME/netlm/kernels`` (``~/.cache/...`` when the variable is unset),
with :func:`default_kernel_cache_dir`.  The DPK is cached as well, so a new
voxel size costs only the voxelisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from netlm.errors import InputError, NetlmError
from netlm.evidence import get_source
from netlm.units import J_PER_MEV, KG_PER_G, MGY_PER_MBQ_S_PER_GY_PER_BQ_S, MM3_PER_ML
from netlm.voxel import _transport
from netlm.voxel._transport import DpkTally, TransportSettings

__all__ = [
    "DEFAULT_HISTORIES",
    "ICRP107_MEAN_ENERGY_MEV",
    "KERNEL_VERSION",
    "MAX_RANGE_SOURCE",
    "DoseKernel",
    "KernelError",
    "KernelTableError",
    "default_kernel_cache_dir",
    "dose_point_kernel",
    "load_lanconelli_table",
    "y90_kernel",
    "y90_max_range_mm",
]

#: Changes whenever the physics or the numerics change; part of every cache key.
#: "2": default extent max range + one voxel (was ⌈R / L⌉), shells ≤ 0.1 mm thick,
#: bremsstrahlung stated.
KERNEL_VERSION: Final = "2"
#: Evidence id of the 90Y maximum β range in tissue that sets the kernel's extent.
MAX_RANGE_SOURCE: Final = "y90_beta_range"
#: Mean β energy of 90Y per decay, MeV (ICRP Publication 107).
ICRP107_MEAN_ENERGY_MEV: Final = 0.9267
#: β particles transported for a DPK by default (statistical noise below 0.5 %
#: on every first-neighbour S value of 2-10 mm voxels).
DEFAULT_HISTORIES: Final = 200_000
#: Smallest kernel half-width (voxels) netlm computes by default: 11 × 11 × 11.
MIN_HALF_WIDTH: Final = 5

_MIN_RINGS: Final = 96  # iso-latitude rings of directions on one octant, at least
_RINGS_PER_VOXEL: Final = 24  # ... and at least 24 per smallest voxel edge of radius
_MAX_RINGS: Final = 256  # ... but no more (far, faint voxels of small or light kernels)
_SHELLS_PER_VOXEL: Final = 20  # radial shells per smallest voxel edge, at least
#: ... and shells no thicker than this (mm): the far neighbours of large voxels get
#: their dose from the last millimetre of the β range, where thicker shells are
#: 10 % low at 9.28 mm voxels (the dose there grows steeply with the radius).
_MAX_SHELL_MM: Final = 0.1
_MAX_SPLAT_POINTS: Final = 1 << 17


class KernelError(NetlmError, ValueError):
    """A dose-voxel kernel was asked for with an impossible argument (names it)."""


class KernelTableError(InputError):
    """A voxel S value table file is malformed (names the file and the line)."""

    what = "voxel S value table"


@dataclass(frozen=True, eq=False)
class DoseKernel:
    """Voxel S values of 90Y in a uniform medium.

    Attributes
    ----------
    values
        S values in mGy/(MBq·s), read-only, odd shape ``(nk, nj, ni)``, centred
        on the source voxel, indexed ``[k, j, i]``.
    voxel_mm
        Voxel size along i, j, k in millimetres.
    density_g_per_ml
        Density of the medium in g/mL (sets the voxel mass).
    source
        ``"netlm-monte-carlo"`` or ``"table:<file name>"``.
    metadata
        Provenance: kernel version, histories, seed, mean energy per decay,
        radiative fraction, transport settings, ...
    """

    values: np.ndarray
    voxel_mm: tuple[float, float, float]
    density_g_per_ml: float
    source: str
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)
        if values.ndim != 3 or any(n % 2 == 0 for n in values.shape):
            raise KernelError(
                f"Argument 'values' must be a 3-D array of odd shape, not {values.shape}"
            )
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise KernelError("Argument 'values' must hold finite S values >= 0")
        voxel = tuple(float(v) for v in self.voxel_mm)
        if len(voxel) != 3 or not all(math.isfinite(v) and v > 0 for v in voxel):
            raise KernelError(f"Argument 'voxel_mm' must be 3 positive sizes, not {self.voxel_mm}")
        if not (math.isfinite(self.density_g_per_ml) and self.density_g_per_ml > 0):
            raise KernelError(
                f"Argument 'density_g_per_ml' must be positive, not {self.density_g_per_ml}"
            )
        values.flags.writeable = False
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "voxel_mm", voxel)

    @property
    def half_width(self) -> tuple[int, int, int]:
        """Half-width of the kernel in voxels along i, j, k."""
        nk, nj, ni = self.values.shape
        return ni // 2, nj // 2, nk // 2

    @property
    def voxel_mass_kg(self) -> float:
        """Mass of one voxel of the medium, kg."""
        volume_ml = math.prod(self.voxel_mm) / MM3_PER_ML
        return volume_ml * self.density_g_per_ml * KG_PER_G

    @property
    def mean_energy_mev(self) -> float:
        """Energy emitted per decay that the S values assume, MeV."""
        value = self.metadata.get("mean_energy_mev", ICRP107_MEAN_ENERGY_MEV)
        return float(value) if isinstance(value, int | float) else ICRP107_MEAN_ENERGY_MEV

    @property
    def escaped_bremsstrahlung_fraction(self) -> float | None:
        """Share of the emitted energy carried away by bremsstrahlung (not in the kernel).

        The radiative fraction of a netlm kernel; ``None`` for a table, whose
        S values may already hold the photons' dose.
        """
        value = self.metadata.get("radiative_fraction")
        return float(value) if isinstance(value, int | float) else None

    def energy_fraction(self) -> float:
        """Σ S · m_voxel / Ē: the share of the emitted energy deposited in the kernel.

        About 1 − radiative fraction − energy beyond the kernel's extent for a
        computed kernel.  A published table can exceed 1 when it assumed more
        energy per decay, or a denser medium, than its metadata says.
        """
        joule_per_decay = (
            float(self.values.sum()) / MGY_PER_MBQ_S_PER_GY_PER_BQ_S * self.voxel_mass_kg
        )
        return joule_per_decay / (self.mean_energy_mev * J_PER_MEV)


# ======================================================================== arguments
def _voxel_triplet(voxel_mm: float | tuple[float, float, float]) -> tuple[float, float, float]:
    if isinstance(voxel_mm, int | float):
        sizes: tuple[float, ...] = (float(voxel_mm),) * 3
    else:
        sizes = tuple(float(v) for v in voxel_mm)
    if len(sizes) != 3 or not all(math.isfinite(v) and 0.05 <= v <= 100.0 for v in sizes):
        raise KernelError(
            f"Argument 'voxel_mm' must be one size or three sizes (i, j, k) between "
            f"0.05 and 100 mm, not {voxel_mm!r}"
        )
    return sizes[0], sizes[1], sizes[2]


def _check_common(
    density_g_per_ml: float, histories: int, seed: int, mean_energy_mev: float
) -> None:
    if not (math.isfinite(density_g_per_ml) and 0.001 <= density_g_per_ml <= 25.0):
        raise KernelError(
            f"Argument 'density_g_per_ml' must be between 0.001 and 25, not {density_g_per_ml!r}"
        )
    if isinstance(histories, bool) or not isinstance(histories, int) or histories < 1000:
        raise KernelError(f"Argument 'histories' must be an integer >= 1000, not {histories!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise KernelError(f"Argument 'seed' must be a non-negative integer, not {seed!r}")
    if not (math.isfinite(mean_energy_mev) and 0.5 < mean_energy_mev < 1.5):
        raise KernelError(
            f"Argument 'mean_energy_mev' must be a 90Y mean β energy (0.5-1.5 MeV), "
            f"not {mean_energy_mev!r}"
        )


def y90_max_range_mm(density_g_per_ml: float = 1.0) -> float:
    """Maximum range of a 90Y β particle in a water-like medium of the given density, mm.

    The CSDA range of the 2.28 MeV endpoint in water (NIST ESTAR stopping
    powers, 11.3 mm at 1 g/mL) divided by the density: 11.0 mm at 1.03 g/mL,
    the "maximum range in tissue 11 mm" of seed 001 §6.2 (evidence
    ``y90_beta_range``).  No transported electron goes further (the transport
    has no energy-loss straggling).

    Examples
    --------
    >>> round(y90_max_range_mm(1.03), 1), round(y90_max_range_mm(0.3), 1)
    (11.0, 37.6)
    """
    if not (math.isfinite(density_g_per_ml) and density_g_per_ml > 0):
        raise KernelError(f"Argument 'density_g_per_ml' must be positive, not {density_g_per_ml!r}")
    return _transport.csda_range_mm(_transport.Y90_ENDPOINT_MEV) / density_g_per_ml


def _half_widths(
    voxel: tuple[float, float, float], density_g_per_ml: float, half_width: int | None
) -> tuple[int, int, int]:
    if half_width is None:
        # The maximum range plus one voxel: a voxel whose centre is n·L away along an
        # axis gets dose only if (n - 1)·L < R, so n = ⌊R / L⌋ + 1 covers them all.
        reach_mm = y90_max_range_mm(density_g_per_ml)
        hi, hj, hk = (max(MIN_HALF_WIDTH, math.floor(reach_mm / size) + 1) for size in voxel)
        return hi, hj, hk
    if isinstance(half_width, bool) or not isinstance(half_width, int) or half_width < 1:
        raise KernelError(f"Argument 'half_width' must be a positive integer, not {half_width!r}")
    if half_width > 200:
        raise KernelError(f"Argument 'half_width' must be at most 200 voxels, not {half_width}")
    return half_width, half_width, half_width


# ======================================================================== cache
def default_kernel_cache_dir(environ: Mapping[str, str], home: Path) -> Path:
    """The conventional kernel cache folder for an environment and a home folder.

    ``$XDG_CACHE_HOME/netlm/kernels`` when ``XDG_CACHE_HOME`` is an absolute
    path (XDG Base Directory specification), otherwise ``home/.cache/netlm/kernels``.
    The caller passes its environment (the CLI: ``os.environ``, ``Path.home()``);
    nothing here reads it.

    Examples
    --------
    >>> default_kernel_cache_dir({"XDG_CACHE_HOME": "/var/cache"}, Path("/home/a")).as_posix()
    '/var/cache/netlm/kernels'
    >>> default_kernel_cache_dir({"XDG_CACHE_HOME": "rel"}, Path("/home/a")).as_posix()
    '/home/a/.cache/netlm/kernels'
    """
    base = environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else home / ".cache"
    return root / "netlm" / "kernels"


def _digest(params: dict[str, object]) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _read_cache(path: Path | None, params: dict[str, object]) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file made with ``params``; None if absent, unusable or no cache."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.array(data[name]) for name in data.files}
        stored = json.loads(str(arrays.pop("params")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if stored != json.loads(json.dumps(params)):
        return None
    return arrays


def _write_cache(
    path: Path | None, params: dict[str, object], arrays: dict[str, np.ndarray]
) -> None:
    """Write atomically (temporary file + os.replace); a cache that cannot be written is skipped."""
    if path is None:
        return
    tmp_name = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=path.stem + ".", suffix=".tmp", delete=False
        ) as handle:
            tmp_name = handle.name
            payload: dict[str, Any] = {"params": np.array(json.dumps(params, sort_keys=True))}
            payload.update(arrays)
            np.savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


# ======================================================================== DPK
def _dpk_params(histories: int, seed: int) -> dict[str, object]:
    return {
        "kind": "y90-dpk-water",
        "kernel_version": KERNEL_VERSION,
        "histories": histories,
        "seed": seed,
        "transport": asdict(TransportSettings()),
    }


def _dpk_tally(histories: int, seed: int, cache_dir: Path | None) -> DpkTally:
    """The water DPK at 1 g/mL, from the cache or from a transport run."""
    params = _dpk_params(histories, seed)
    path = None if cache_dir is None else cache_dir / f"y90-dpk-{_digest(params)}.npz"
    arrays = _read_cache(path, params)
    if arrays is not None:
        try:
            tally = DpkTally(
                edges_mm=arrays["edges_mm"].astype(np.float64),
                energy_fraction=arrays["energy_fraction"].astype(np.float64),
                radiative_fraction=float(arrays["radiative_fraction"]),
                sampled_mean_mev=float(arrays["sampled_mean_mev"]),
                knock_on_per_history=float(arrays["knock_on_per_history"]),
            )
        except (KeyError, TypeError, ValueError):
            tally = None
        if tally is not None and _plausible(tally):
            return tally
    tally = _transport.simulate_dpk(histories, seed, TransportSettings())
    _write_cache(
        path,
        params,
        {
            "edges_mm": tally.edges_mm,
            "energy_fraction": tally.energy_fraction,
            "radiative_fraction": np.array(tally.radiative_fraction),
            "sampled_mean_mev": np.array(tally.sampled_mean_mev),
            "knock_on_per_history": np.array(tally.knock_on_per_history),
        },
    )
    return tally


def _plausible(tally: DpkTally) -> bool:
    fractions = tally.energy_fraction
    total = float(fractions.sum()) + tally.radiative_fraction
    return (
        tally.edges_mm.ndim == 1
        and fractions.shape == (tally.edges_mm.size - 1,)
        and bool(np.all(np.isfinite(fractions)))
        and bool(np.all(fractions >= 0))
        and abs(total - 1.0) < 1e-9
    )


def dose_point_kernel(
    *,
    density_g_per_ml: float = 1.0,
    histories: int = DEFAULT_HISTORIES,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The scored 90Y dose point kernel: radius and energy fraction per mm.

    Parameters
    ----------
    density_g_per_ml
        Density of the medium (water scaled by r·ρ).
    histories, seed
        β particles transported and the seed of the random generator.
    cache_dir
        Where the DPK is cached; ``None`` (default) caches nothing.

    Returns
    -------
    r_mm, fraction_per_mm
        Shell mid-radii in mm, and the energy deposited in each shell per mm of
        radius as a fraction of the energy emitted; ∫ fraction dr = 1 − the
        radiative fraction.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     r, f = dose_point_kernel(histories=2000, cache_dir=Path(cache))
    >>> bool(0.99 < float((f * np.diff(r)[0]).sum()) < 1.0)
    True
    """
    _check_common(density_g_per_ml, histories, seed, ICRP107_MEAN_ENERGY_MEV)
    tally = _dpk_tally(histories, seed, None if cache_dir is None else Path(cache_dir))
    widths = np.diff(tally.edges_mm) / density_g_per_ml
    r_mm = 0.5 * (tally.edges_mm[1:] + tally.edges_mm[:-1]) / density_g_per_ml
    return r_mm, tally.energy_fraction / widths


# ======================================================================== voxelisation
def _ring_directions(rings: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Directions on the octant x, y, z ≥ 0 and their weights (summing to 1).

    Iso-latitude rings equally spaced in θ, each with about ``rings`` · sin θ
    equally spaced azimuths; a point's weight is its share of the ring's area.
    Unlike a grid uniform in cos θ, the cells are nearly square everywhere,
    the pole included.
    """
    edges = np.linspace(0.0, math.pi / 2.0, rings + 1)
    directions: list[npt.NDArray[np.float64]] = []
    weights: list[npt.NDArray[np.float64]] = []
    for low, high in itertools.pairwise(edges):
        theta = 0.5 * (low + high)
        n_phi = max(1, round(rings * math.sin(theta)))
        phi = (np.arange(n_phi) + 0.5) / n_phi * (math.pi / 2.0)
        s = math.sin(theta)
        directions.append(
            np.stack([s * np.cos(phi), s * np.sin(phi), np.full(n_phi, math.cos(theta))], axis=1)
        )
        weights.append(np.full(n_phi, (math.cos(low) - math.cos(high)) / n_phi))
    return np.concatenate(directions), np.concatenate(weights)


def _shells(
    tally: DpkTally, density_g_per_ml: float, smallest_voxel_mm: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Radii (mm, in the medium) and energy fractions of shells ≤ min(voxel / 20, 0.1 mm) thick."""
    width_mm = float(tally.edges_mm[1] - tally.edges_mm[0]) / density_g_per_ml
    shell_mm = min(smallest_voxel_mm / _SHELLS_PER_VOXEL, _MAX_SHELL_MM)
    group = max(1, int(shell_mm / width_mm))
    fractions = tally.energy_fraction
    mids = 0.5 * (tally.edges_mm[1:] + tally.edges_mm[:-1]) / density_g_per_ml
    n = math.ceil(fractions.size / group) * group
    f = np.zeros(n)
    f[: fractions.size] = fractions
    r = np.zeros(n)
    r[: mids.size] = mids
    f2 = f.reshape(-1, group)
    energy = f2.sum(axis=1)
    centre = r.reshape(-1, group).mean(axis=1)
    weighted = np.divide(
        (f2 * r.reshape(-1, group)).sum(axis=1),
        energy,
        out=centre.copy(),
        where=energy > 0,
    )
    keep = energy > 0
    return weighted[keep], energy[keep]


def _octant_fractions(
    tally: DpkTally,
    voxel: tuple[float, float, float],
    density_g_per_ml: float,
    halves: tuple[int, int, int],
) -> npt.NDArray[np.float64]:
    """Energy fraction deposited in each target voxel of one octant, shape (hk+1, hj+1, hi+1).

    Each shell's energy is spread over a grid of directions on the octant (finer
    for shells far out, so that neighbouring points stay less than a fifteenth
    of a voxel apart, up to 256 rings) and splatted onto the eight lattice
    points around r ω / L with the weights tri(u − n), halved for n ≥ 1 (its
    mirror image takes the other half).
    """
    radii, energy = _shells(tally, density_g_per_ml, min(voxel))
    rings = np.clip(np.ceil(_RINGS_PER_VOXEL * radii / min(voxel)), _MIN_RINGS, _MAX_RINGS).astype(
        np.int64
    )
    limits = np.array(halves)
    size = limits + 1  # lattice points per axis, (i, j, k)
    strides = np.array([1, size[0], size[0] * size[1]])  # flat index of [k, j, i]
    out = np.zeros(int(np.prod(size)))
    for n_rings in np.unique(rings):
        chosen = rings == n_rings
        directions, weights = _ring_directions(int(n_rings))
        scaled = directions / np.asarray(voxel)  # (d, 3): ω_a / L_a
        chunk = max(1, _MAX_SPLAT_POINTS // weights.size)
        shell_r, shell_e = radii[chosen], energy[chosen]
        for start in range(0, shell_r.size, chunk):
            r = shell_r[start : start + chunk]
            u = r[:, None, None] * scaled[None, :, :]  # (r, d, 3)
            low = np.floor(u).astype(np.int64)
            t = u - low
            # Per axis: the lower and upper lattice point, their weights and offsets.
            w = np.stack([np.where(low >= 1, 0.5, 1.0) * (1.0 - t), 0.5 * t], axis=-1)
            w[..., 0] *= low <= limits
            w[..., 1] *= low + 1 <= limits
            offset = np.stack([np.minimum(low, limits), np.minimum(low + 1, limits)], axis=-1)
            offset *= strides[:, None]
            point_weight = (shell_e[start : start + chunk, None] * weights[None, :])[
                :, :, None, None, None
            ]
            corner_weight = (
                point_weight
                * w[:, :, 0, :, None, None]
                * w[:, :, 1, None, :, None]
                * w[:, :, 2, None, None, :]
            )
            corner_index = (
                offset[:, :, 0, :, None, None]
                + offset[:, :, 1, None, :, None]
                + offset[:, :, 2, None, None, :]
            )
            out += np.bincount(
                corner_index.ravel(), weights=corner_weight.ravel(), minlength=out.size
            )
    return out.reshape(size[2], size[1], size[0])


def _mirror(octant: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The full centred kernel [k, j, i] from its octant [|k|, |j|, |i|]."""
    hk, hj, hi = (n - 1 for n in octant.shape)
    k = np.abs(np.arange(-hk, hk + 1))
    j = np.abs(np.arange(-hj, hj + 1))
    i = np.abs(np.arange(-hi, hi + 1))
    out: npt.NDArray[np.float64] = octant[np.ix_(k, j, i)]
    return out


def _s_per_fraction(
    voxel: tuple[float, float, float], density_g_per_ml: float, mean_energy_mev: float
) -> float:
    """S in mGy/(MBq·s) of a voxel that receives all the energy of each decay."""
    mass_kg = math.prod(voxel) / MM3_PER_ML * density_g_per_ml * KG_PER_G
    return mean_energy_mev * J_PER_MEV / mass_kg * MGY_PER_MBQ_S_PER_GY_PER_BQ_S


def y90_kernel(
    voxel_mm: float | tuple[float, float, float],
    *,
    density_g_per_ml: float = 1.0,
    histories: int = DEFAULT_HISTORIES,
    seed: int = 0,
    half_width: int | None = None,
    mean_energy_mev: float = ICRP107_MEAN_ENERGY_MEV,
    cache_dir: Path | None = None,
) -> DoseKernel:
    """The 90Y dose-voxel kernel for ``voxel_mm`` in a medium of ``density_g_per_ml``.

    Parameters
    ----------
    voxel_mm
        Voxel size in mm: one number (cubic) or (dx, dy, dz) along i, j, k.
    density_g_per_ml
        Density of the medium: water scaled by r·ρ (1.03 reproduces the
        published soft-tissue S values; liver 1.03-1.05, lung about 0.3).
    histories, seed
        β particles transported for the DPK and the seed of the random generator.
    half_width
        Kernel half-width in voxels (the same along each axis).  Default: along
        each axis, the maximum β range (CSDA range of a 2.28 MeV electron,
        11.3 mm / ρ; :func:`y90_max_range_mm`) plus one voxel, ⌊R / L⌋ + 1, and
        at least 5 (11 × 11 × 11).  A smaller one loses energy, recorded as
        ``beyond_kernel_fraction``.
    mean_energy_mev
        Energy emitted per decay, MeV: 0.9267 (ICRP-107) by default; the
        TheraSphere insert uses 0.9367.
    cache_dir
        Kernel and DPK cache folder; ``None`` (default) caches nothing (see
        :func:`default_kernel_cache_dir` for the conventional folder).  A
        missing or unreadable entry is recomputed; the result is written
        atomically.

    Returns
    -------
    DoseKernel
        ``source`` ``"netlm-monte-carlo"``; ``metadata`` records every input,
        the radiative fraction (``escaped_bremsstrahlung_fraction``), the
        maximum β range and its source, and the kernel's energy fraction.

    Raises
    ------
    KernelError
        If an argument is out of range (the message names it).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     k = y90_kernel((4.0, 4.0, 6.0), histories=5000, cache_dir=Path(cache))
    >>> k.values.shape
    (11, 11, 11)
    >>> bool(np.allclose(k.values, k.values[::-1, ::-1, ::-1]))
    True
    """
    voxel = _voxel_triplet(voxel_mm)
    _check_common(density_g_per_ml, histories, seed, mean_energy_mev)
    halves = _half_widths(voxel, density_g_per_ml, half_width)
    directory = None if cache_dir is None else Path(cache_dir)
    params: dict[str, object] = {
        "kind": "y90-voxel-s-values",
        "kernel_version": KERNEL_VERSION,
        "voxel_mm": list(voxel),
        "density_g_per_ml": float(density_g_per_ml),
        "mean_energy_mev": float(mean_energy_mev),
        "half_width": list(halves),
        "dpk": _dpk_params(histories, seed),
        "quadrature": [
            _MIN_RINGS,
            _RINGS_PER_VOXEL,
            _MAX_RINGS,
            _SHELLS_PER_VOXEL,
            _MAX_SHELL_MM,
        ],
    }
    path = None if directory is None else directory / f"y90-kernel-{_digest(params)}.npz"
    cached = _read_cache(path, params)
    if cached is not None:
        kernel = _kernel_from_cache(cached, voxel, density_g_per_ml, halves)
        if kernel is not None:
            return kernel
    tally = _dpk_tally(histories, seed, directory)
    fractions = _mirror(_octant_fractions(tally, voxel, density_g_per_ml, halves))
    values = fractions * _s_per_fraction(voxel, density_g_per_ml, mean_energy_mev)
    deposited = float(fractions.sum())
    metadata: dict[str, object] = {
        "kernel_version": KERNEL_VERSION,
        "method": "condensed-history Monte Carlo DPK in water (r·ρ scaled), "
        "voxelised by spherical averaging of the box overlap",
        "histories": histories,
        "seed": seed,
        "mean_energy_mev": float(mean_energy_mev),
        "spectrum_mean_mev": tally.sampled_mean_mev,
        "radiative_fraction": tally.radiative_fraction,
        "escaped_bremsstrahlung_fraction": tally.radiative_fraction,
        "max_range_mm": y90_max_range_mm(density_g_per_ml),
        "max_range_source": get_source(MAX_RANGE_SOURCE).cite(),
        "beyond_kernel_fraction": max(0.0, 1.0 - tally.radiative_fraction - deposited),
        "energy_fraction": deposited,
        "knock_on_per_history": tally.knock_on_per_history,
        "half_width": list(halves),
        "transport": asdict(TransportSettings()),
        "quadrature": {
            "min_rings": _MIN_RINGS,
            "rings_per_voxel": _RINGS_PER_VOXEL,
            "max_rings": _MAX_RINGS,
            "shells_per_voxel": _SHELLS_PER_VOXEL,
            "max_shell_mm": _MAX_SHELL_MM,
        },
    }
    _write_cache(path, params, {"values": values, "metadata": np.array(json.dumps(metadata))})
    return DoseKernel(
        values=values,
        voxel_mm=voxel,
        density_g_per_ml=float(density_g_per_ml),
        source="netlm-monte-carlo",
        metadata=json.loads(json.dumps(metadata)),
    )


def _kernel_from_cache(
    arrays: dict[str, np.ndarray],
    voxel: tuple[float, float, float],
    density_g_per_ml: float,
    halves: tuple[int, int, int],
) -> DoseKernel | None:
    try:
        values = arrays["values"].astype(np.float64)
        metadata = json.loads(str(arrays["metadata"]))
    except (KeyError, TypeError, ValueError):
        return None
    expected = tuple(2 * h + 1 for h in reversed(halves))
    if values.shape != expected or not isinstance(metadata, dict):
        return None
    try:
        return DoseKernel(
            values=values,
            voxel_mm=voxel,
            density_g_per_ml=float(density_g_per_ml),
            source="netlm-monte-carlo",
            metadata=metadata,
        )
    except KernelError:
        return None


# ======================================================================== tables
_TITLE = re.compile(r"^\s*Y-?90\s*-\s*([0-9]+(?:\.[0-9]+)?)\s*mm\s*-\s*(.+?)\s*$", re.IGNORECASE)
_FILE_NAME = re.compile(r"^90Y([0-9]+(?:\.[0-9]+)?)mm(soft|bone)\.txt$", re.IGNORECASE)
#: Density given to each medium of the table (g/mL).  Soft tissue: 1.03, at
#: which Σ S · m of the published soft-tissue tables equals 0.9267 MeV per
#: decay (ICRU soft tissue is 1.04 g/cm³ nominally); compact bone: ICRU 1.85
#: (Σ S · m is then 1.007 × 0.9267 MeV) [U].
_MEDIUM_DENSITY: Final = {"soft": 1.03, "bone": 1.85}


def _medium(name: str) -> str | None:
    lowered = name.lower()
    if "soft" in lowered:
        return "soft"
    if "bone" in lowered:
        return "bone"
    return None


def load_lanconelli_table(path: Path, *, density_g_per_ml: float | None = None) -> DoseKernel:
    """Read a 90Y voxel S value table of Lanconelli et al. 2012 (one octant).

    The file starts with a title line (``Y90 - 4.42mm - Soft tissue``), then a
    column header (``i j k S [mGy/(MBq·s)]``), then one line ``i j k S`` per
    voxel of the octant i, j, k = 0..h.  The octant is mirrored to a
    (2h + 1)³ kernel.

    Parameters
    ----------
    path
        The table file, e.g. ``90Y4.42mmsoft.txt``.
    density_g_per_ml
        Density of the medium; default 1.03 for soft tissue, 1.85 for bone.

    Raises
    ------
    KernelTableError
        If the file is malformed; the message names the file and the line.
    """
    path = Path(path)
    name = str(path)

    def fail(line: int | None, message: str) -> KernelTableError:
        where = f"{name} line {line}" if line is not None else name
        return KernelTableError([(where, message)])

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(None, f"cannot be read ({exc.strerror or exc})") from exc
    lines = raw.decode("latin-1").splitlines()  # the unit uses a Latin-1 middle dot
    if len(lines) < 3:
        raise fail(None, "is too short: a title, a column header and data lines are needed")
    title = _TITLE.match(lines[0])
    if title is None:
        raise fail(1, f"title {lines[0].strip()!r} is not like 'Y90 - 4.42mm - Soft tissue'")
    voxel_size = float(title.group(1))
    medium = _medium(title.group(2))
    if medium is None:
        raise fail(1, f"unknown medium {title.group(2)!r} (soft tissue or bone)")
    from_name = _FILE_NAME.match(path.name)
    if from_name is not None and (
        not math.isclose(float(from_name.group(1)), voxel_size, abs_tol=1e-9)
        or from_name.group(2).lower() != medium
    ):
        raise fail(
            1,
            f"title says {voxel_size:g} mm {medium}, the file name says "
            f"{from_name.group(1)} mm {from_name.group(2).lower()}",
        )
    header = lines[1].split()
    if header[:3] != ["i", "j", "k"] or "mgy/(mbq" not in lines[1].lower():
        raise fail(2, "column header must be 'i j k S [mGy/(MBq·s)]'")

    entries: dict[tuple[int, int, int], float] = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise fail(number, f"expected 4 fields (i j k S), found {len(fields)}")
        try:
            i, j, k = (int(v) for v in fields[:3])
            s_value = float(fields[3])
        except ValueError as exc:
            raise fail(number, f"cannot read {line.strip()!r} as integers i j k and S") from exc
        if min(i, j, k) < 0:
            raise fail(number, f"indices must be >= 0 (one octant), not {i} {j} {k}")
        if not (math.isfinite(s_value) and s_value >= 0):
            raise fail(number, f"S must be a finite number >= 0, not {fields[3]!r}")
        if (i, j, k) in entries:
            raise fail(number, f"voxel {i} {j} {k} appears twice")
        entries[(i, j, k)] = s_value
    if not entries:
        raise fail(None, "holds no data lines")
    half = max(max(key) for key in entries)
    missing = [
        key
        for key in np.ndindex(half + 1, half + 1, half + 1)
        if (key[0], key[1], key[2]) not in entries
    ]
    if missing:
        shown = ", ".join(" ".join(str(v) for v in key) for key in missing[:3])
        raise fail(None, f"{len(missing)} voxel(s) of the octant 0..{half} missing ({shown} ...)")
    octant = np.zeros((half + 1,) * 3)
    for (i, j, k), s_value in entries.items():
        octant[k, j, i] = s_value
    density = _MEDIUM_DENSITY[medium] if density_g_per_ml is None else float(density_g_per_ml)
    return DoseKernel(
        values=_mirror(octant),
        voxel_mm=(voxel_size, voxel_size, voxel_size),
        density_g_per_ml=density,
        source=f"table:{path.name}",
        metadata={
            "reference": "Lanconelli N et al., Phys Med Biol 2012;57:517-533",
            "medium": "ICRU soft tissue" if medium == "soft" else "ICRU compact bone",
            "mean_energy_mev": ICRP107_MEAN_ENERGY_MEV,
            "half_width": [half, half, half],
        },
    )
