"""Kernel extent and far neighbours (issue 11): the voxelised 90Y kernel covers the
maximum β range plus one voxel along every axis, whatever the voxel size; its far
neighbours equal the point-kernel integral; and the bremsstrahlung that escapes it is
stated wherever kernel (DVK) doses are compared with local deposition (LDM).

The reference values here come from an independent integration: the energy
fraction a uniform source voxel gives a target voxel n is
∫ k(|d|) Π_a tri(d_a / L_a − n_a) d³d, with k(r) = F(r) / (4π r²) the scored
point kernel, integrated by tensor-product Gauss-Legendre quadrature over the
displacement d (the kernel itself uses directions on a sphere and trilinear
splatting).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

import netlm.voxel.kernels as kernels
from netlm.cli import main
from netlm.evidence import get_source
from netlm.voxel.kernels import DoseKernel, dose_point_kernel, y90_kernel, y90_max_range_mm

HISTORIES = 100_000
SOFT_TISSUE = 1.03


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kernels")


def kernel(voxel: float | tuple[float, float, float], cache: Path, **kw: float) -> DoseKernel:
    density = kw.get("density", SOFT_TISSUE)
    return y90_kernel(voxel, density_g_per_ml=density, histories=HISTORIES, cache_dir=cache)


def reachable(voxel: tuple[float, float, float], reach_mm: float) -> list[tuple[int, int, int]]:
    """Every voxel offset n whose box a β particle from the source box can reach."""
    limits = [math.floor(reach_mm / size) + 2 for size in voxel]
    out = []
    for n in itertools.product(*(range(-m, m + 1) for m in limits)):
        gap = math.sqrt(
            sum((max(abs(a) - 1, 0) * size) ** 2 for a, size in zip(n, voxel, strict=True))
        )
        if gap < reach_mm:
            out.append((n[0], n[1], n[2]))
    return out


# --- the extent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("voxel", "density"),
    [
        ((9.28, 9.28, 9.28), 1.03),
        ((9.28, 4.42, 2.5), 1.03),
        ((12.0, 9.28, 3.0), 1.03),
        ((9.28, 9.28, 9.28), 0.3),  # lung: range 37.6 mm
    ],
    ids=["9.28", "9.28x4.42x2.5", "12x9.28x3", "9.28-lung"],
)
def test_support_holds_every_voxel_within_max_range_plus_one_voxel(
    cache: Path, voxel: tuple[float, float, float], density: float
) -> None:
    k = kernel(voxel, cache, density=density)
    reach = y90_max_range_mm(density)
    assert reach == pytest.approx(11.29467 / density, rel=1e-4)
    half = k.half_width
    for axis, size in enumerate(voxel):
        # Range plus one voxel along each axis: the voxel whose centre is R + L away is in.
        assert half[axis] >= math.floor(reach / size) + 1
        assert half[axis] * size > reach
    for n in reachable(voxel, reach):
        assert all(abs(a) <= h for a, h in zip(n, half, strict=True)), n
    assert float(k.metadata["beyond_kernel_fraction"]) < 1e-9  # type: ignore[arg-type]
    assert k.metadata["max_range_mm"] == pytest.approx(reach)


def test_extent_when_the_range_is_a_whole_number_of_voxels(cache: Path) -> None:
    # R / L = 8 exactly: the voxel whose centre lies at R + L is the ninth; it must be in
    # the kernel (it was not with a half-width of ceil(R / L) = 8).
    reach = y90_max_range_mm(SOFT_TISSUE)
    size = reach / 8
    assert reach / size == 8.0
    k = kernel((size, size, 4.0), cache)
    assert k.half_width[0] == 9 and k.half_width[1] == 9
    assert k.half_width[2] == max(5, math.floor(reach / 4.0) + 1)


def test_max_range_is_cited_and_checked() -> None:
    assert kernels.MAX_RANGE_SOURCE == "y90_beta_range"
    assert "11 and 2.5 mm" in get_source(kernels.MAX_RANGE_SOURCE).reference
    with pytest.raises(kernels.KernelError, match="density_g_per_ml"):
        y90_max_range_mm(0.0)


# --- far neighbours against the point-kernel integral ---------------------------------------


def point_kernel_fraction(
    n: tuple[int, int, int], voxel: tuple[float, float, float], cache: Path, order: int = 40
) -> float:
    """∫ k(|d|) Π tri(d_a / L_a − n_a) d³d by Gauss-Legendre, k from the scored DPK."""
    r_mm, per_mm = dose_point_kernel(
        density_g_per_ml=SOFT_TISSUE, histories=HISTORIES, cache_dir=cache
    )
    nodes, weights = np.polynomial.legendre.leggauss(order)
    axes = []
    for a, size in zip(n, voxel, strict=True):
        xs, ws = [], []
        for low, high in ((a - 1) * size, a * size), (a * size, (a + 1) * size):
            x = 0.5 * (high - low) * nodes + 0.5 * (high + low)
            xs.append(x)
            ws.append(0.5 * (high - low) * weights * np.maximum(0.0, 1.0 - np.abs(x / size - a)))
        axes.append((np.concatenate(xs), np.concatenate(ws)))
    (x, wx), (y, wy), (z, wz) = axes
    r = np.sqrt(x[:, None, None] ** 2 + y[None, :, None] ** 2 + z[None, None, :] ** 2)
    density = np.interp(r, r_mm, per_mm, right=0.0) / (4.0 * math.pi * r * r)
    w = wx[:, None, None] * wy[None, :, None] * wz[None, None, :]
    return float((density * w).sum())


FAR = [(1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 1, 0), (2, 1, 1)]


@pytest.mark.parametrize(
    "voxel", [(9.28, 9.28, 9.28), (9.28, 6.0, 4.64)], ids=["9.28", "9.28x6x4.64"]
)
def test_far_neighbours_equal_the_point_kernel_integral(
    cache: Path, voxel: tuple[float, float, float]
) -> None:
    k = kernel(voxel, cache)
    per_fraction = kernels._s_per_fraction(voxel, SOFT_TISSUE, k.mean_energy_mev)
    hi, hj, hk = k.half_width
    reach = y90_max_range_mm(SOFT_TISSUE)
    for n in [*FAR, (0, 2, 0), (1, 0, 2)]:
        mine = float(k.values[hk + n[2], hj + n[1], hi + n[0]]) / per_fraction
        gap = math.sqrt(sum((max(abs(a) - 1, 0) * s) ** 2 for a, s in zip(n, voxel, strict=True)))
        if gap >= reach:
            assert mine == 0.0, n
            continue
        truth = point_kernel_fraction(n, voxel, cache)
        assert truth > 0, n
        assert mine == pytest.approx(truth, rel=0.03), n


# --- the escaped bremsstrahlung is stated ---------------------------------------------------


def test_kernel_states_the_escaped_bremsstrahlung(cache: Path) -> None:
    k = kernel(9.28, cache)
    escaped = k.escaped_bremsstrahlung_fraction
    assert escaped is not None and 0.002 < escaped < 0.01
    assert k.metadata["escaped_bremsstrahlung_fraction"] == escaped
    # Within the range nothing else is lost: the kernel holds 1 - escaped of the energy.
    assert k.energy_fraction() == pytest.approx(1.0 - escaped, abs=1e-6)


def test_kernel_command_states_the_escaped_bremsstrahlung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    args = ["kernel", "Y-90", "--voxel-mm", "9.28", "--histories", "20000"]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    escaped = doc["escaped_bremsstrahlung_fraction"]
    assert 0.002 < escaped < 0.01
    assert doc["energy_fraction"] == pytest.approx(1.0 - escaped, abs=1e-6)
    assert main(args) == 0
    assert f"bremsstrahlung escaping the kernel: {100 * escaped:.2f} %" in capsys.readouterr().out


def test_dvk_dose_records_the_escaped_bremsstrahlung(cache: Path) -> None:
    from netlm.volume import ImageVolume
    from netlm.voxel.dose import dose_dvk

    k = kernel(9.28, cache)
    activity = ImageVolume(
        array=np.ones((3, 3, 3)),
        spacing_mm=(9.28, 9.28, 9.28),
        origin_mm=(0.0, 0.0, 0.0),
        unit="Bq/mL",
    )
    dose = dose_dvk(activity, k)
    assert dose.metadata["kernel_escaped_bremsstrahlung_fraction"] == pytest.approx(
        k.escaped_bremsstrahlung_fraction
    )
