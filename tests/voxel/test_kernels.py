"""90Y dose-voxel kernels computed by netlm: physics, accuracy against the published
tables (Lanconelli 2012, read from shared/reference), energy conservation,
symmetry, anisotropic voxels, the table reader and the disk cache."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netlm.voxel._transport as transport
import netlm.voxel.kernels as kernels
from conftest import SHARED
from netlm.errors import InputError, NetlmError
from netlm.voxel.kernels import (
    DoseKernel,
    KernelError,
    KernelTableError,
    dose_point_kernel,
    load_lanconelli_table,
    y90_kernel,
)

TABLES = SHARED / "reference" / "voxel-s-values-y90"
#: Enough for the accuracy targets (the statistical noise of a first-neighbour S
#: value is well below 0.5 %); 200 000 is the library default.
HISTORIES = 100_000
#: Water at 1.03 g/mL has the electron density of ICRU soft tissue at 1.04 g/cm³,
#: and the tables' Σ S · m equals 0.9267 MeV per decay at 1.03 g/mL (README).
SOFT_TISSUE = 1.03
SOFT_SIZES = (
    "2.21",
    "2.33",
    "2.4",
    "3",
    "3.59",
    "3.9",
    "4",
    "4.42",
    "4.8",
    "5",
    "6",
    "6.8",
    "9.28",
)


@pytest.fixture(scope="session")
def kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: the DPK is transported once, then reused."""
    return tmp_path_factory.mktemp("kernels")


@pytest.fixture(scope="session")
def computed(kernel_cache: Path) -> Callable[..., DoseKernel]:
    def make(voxel_mm: float | tuple[float, float, float], **kwargs: object) -> DoseKernel:
        options: dict[str, object] = {
            "density_g_per_ml": SOFT_TISSUE,
            "histories": HISTORIES,
            "cache_dir": kernel_cache,
        }
        options.update(kwargs)
        return y90_kernel(voxel_mm, **options)  # type: ignore[arg-type]

    return make


def table(size: str, medium: str = "soft") -> DoseKernel:
    return load_lanconelli_table(TABLES / f"90Y{size}mm{medium}.txt")


def s_at(kernel: DoseKernel, i: int, j: int, k: int) -> float:
    hi, hj, hk = kernel.half_width
    return float(kernel.values[hk + k, hj + j, hi + i])


# ============================================================================ physics
@pytest.mark.parametrize(
    ("energy_mev", "estar"),
    [(0.01, 22.56), (0.1, 4.115), (0.5, 2.034), (1.0, 1.849), (2.0, 1.824), (3.0, 1.846)],
)
def test_collision_stopping_power_matches_estar(energy_mev: float, estar: float) -> None:
    value = float(transport.collision_stopping_power(np.array(energy_mev)))
    assert value == pytest.approx(estar, rel=0.001)


@pytest.mark.parametrize(
    ("energy_mev", "estar_range_mm"), [(0.1, 0.1431), (0.5, 1.766), (1.0, 4.367), (2.0, 9.785)]
)
def test_csda_range_matches_estar(energy_mev: float, estar_range_mm: float) -> None:
    assert transport.csda_range_mm(energy_mev) == pytest.approx(estar_range_mm, rel=0.001)


def test_spectrum_is_zero_at_the_ends_and_its_mean_is_near_icrp107() -> None:
    energy = np.linspace(0.0, transport.Y90_ENDPOINT_MEV, 40001)
    pdf = transport.beta_spectrum(energy)
    assert pdf[0] == 0.0 and pdf[-1] == 0.0 and np.all(pdf >= 0)
    mean = float((energy * pdf).sum() / pdf.sum())
    # No screening or finite-size corrections: 0.7 % above ICRP-107's 0.9267 MeV.
    assert mean == pytest.approx(kernels.ICRP107_MEAN_ENERGY_MEV, rel=0.01)
    assert transport.beta_spectrum(np.array([-0.1, 2.5])).tolist() == [0.0, 0.0]


def test_transport_conserves_energy_and_is_reproducible() -> None:
    first = transport.simulate_dpk(3000, seed=7)
    again = transport.simulate_dpk(3000, seed=7)
    other = transport.simulate_dpk(3000, seed=8)
    assert first.energy_fraction.sum() + first.radiative_fraction == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(first.energy_fraction, again.energy_fraction)
    assert not np.array_equal(first.energy_fraction, other.energy_fraction)


def test_dose_point_kernel_scales_with_density(kernel_cache: Path) -> None:
    r1, f1 = dose_point_kernel(density_g_per_ml=1.0, histories=HISTORIES, cache_dir=kernel_cache)
    r2, f2 = dose_point_kernel(density_g_per_ml=2.0, histories=HISTORIES, cache_dir=kernel_cache)
    dr1, dr2 = float(r1[1] - r1[0]), float(r2[1] - r2[0])
    assert np.allclose(r2, r1 / 2.0) and np.allclose(f2, 2.0 * f1)
    deposited = float((f1 * dr1).sum())
    assert deposited == pytest.approx(float((f2 * dr2).sum()), rel=1e-12)
    # Bremsstrahlung: the ESTAR radiation yield of 0.1-2.3 MeV electrons is 0.06-0.8 %.
    assert 0.003 < 1.0 - deposited < 0.006
    # Nothing beyond the CSDA range of the end-point energy (11.3 mm in water).
    beyond = r1 > transport.csda_range_mm(transport.Y90_ENDPOINT_MEV)
    assert float((f1[beyond] * dr1).sum()) < 1e-5
    # Half the energy within about 2.3 mm, 90 % within about 5.3 mm (X90), and
    # nearly all within 8.5 mm.
    cumulative = np.cumsum(f1 * dr1) / deposited
    assert 2.0 < float(np.interp(0.5, cumulative, r1)) < 2.6
    assert 5.0 < float(np.interp(0.9, cumulative, r1)) < 5.7
    assert float(np.interp(0.99, cumulative, r1)) < 8.5


# ================================================================= against the tables
@pytest.mark.parametrize("size", SOFT_SIZES)
def test_energy_sum_matches_table(computed: Callable[..., DoseKernel], size: str) -> None:
    reference = table(size)
    kernel = computed(float(size))
    assert kernel.values.shape == reference.values.shape == (11, 11, 11)
    assert kernel.values.sum() == pytest.approx(reference.values.sum(), rel=0.005)


@pytest.mark.parametrize(
    ("voxel_mm", "density"), [(3.0, 1.03), (4.42, 1.03), (6.0, 1.03), (1.5, 1.0), (4.42, 0.3)]
)
def test_energy_is_conserved(
    computed: Callable[..., DoseKernel], voxel_mm: float, density: float
) -> None:
    kernel = computed(voxel_mm, density_g_per_ml=density)
    radiative = float(kernel.metadata["radiative_fraction"])  # type: ignore[arg-type]
    beyond = float(kernel.metadata["beyond_kernel_fraction"])  # type: ignore[arg-type]
    assert kernel.energy_fraction() == pytest.approx(1.0 - radiative - beyond, abs=1e-9)
    # The default extent reaches the maximum range: nothing escapes but photons.
    assert beyond < 1e-6
    # A kernel cut at one voxel loses energy, and says so.
    small = computed(voxel_mm, density_g_per_ml=density, half_width=1)
    small_beyond = float(small.metadata["beyond_kernel_fraction"])  # type: ignore[arg-type]
    assert small.values.shape == (3, 3, 3) and small_beyond > 1e-3
    assert small.energy_fraction() == pytest.approx(1.0 - radiative - small_beyond, abs=1e-9)


@pytest.mark.parametrize("size", ["3", "4.42", "6"])
def test_self_dose_within_3_percent(computed: Callable[..., DoseKernel], size: str) -> None:
    mine = s_at(computed(float(size)), 0, 0, 0)
    reference = s_at(table(size), 0, 0, 0)
    assert mine == pytest.approx(reference, rel=0.03)


@pytest.mark.parametrize("size", ["3", "4.42", "6"])
@pytest.mark.parametrize(("i", "j", "k"), [(1, 0, 0), (1, 1, 0), (1, 1, 1)], ids=str)
def test_first_neighbours_within_10_percent(
    computed: Callable[..., DoseKernel], size: str, i: int, j: int, k: int
) -> None:
    kernel = computed(float(size))
    reference = table(size)
    for a, b, c in set(itertools.permutations((i, j, k))):
        assert s_at(kernel, a, b, c) == pytest.approx(s_at(reference, a, b, c), rel=0.10)


def test_readme_values_of_the_table() -> None:
    reference = table("4.42")
    assert s_at(reference, 0, 0, 0) == 0.689
    assert s_at(reference, 1, 0, 0) == s_at(reference, 0, -1, 0) == 0.0973
    assert s_at(reference, 1, 1, 0) == 0.0248
    assert s_at(reference, 1, 1, 1) == 0.00778
    assert s_at(reference, 0, 0, -2) == 0.00210
    assert reference.energy_fraction() == pytest.approx(1.0, abs=0.002)


# ======================================================================= geometry
def _assert_flip_symmetric(values: np.ndarray) -> None:
    for axes in [(0,), (1,), (2,), (0, 1, 2)]:
        assert np.array_equal(values, np.flip(values, axis=axes))


@pytest.mark.parametrize("voxel_mm", [3.0, (4.0, 4.0, 6.0), (2.0, 3.0, 5.0)], ids=str)
def test_kernel_is_symmetric(
    computed: Callable[..., DoseKernel], voxel_mm: float | tuple[float, float, float]
) -> None:
    kernel = computed(voxel_mm)
    _assert_flip_symmetric(kernel.values)
    assert np.unravel_index(np.argmax(kernel.values), kernel.values.shape) == tuple(
        n // 2 for n in kernel.values.shape
    )


def test_cubic_kernel_is_symmetric_under_axis_permutation(
    computed: Callable[..., DoseKernel],
) -> None:
    values = computed(3.0).values
    significant = values > 1e-3 * values.max()
    for order in itertools.permutations(range(3)):
        permuted = np.transpose(values, order)
        # Equal up to the direction quadrature (an equal-area grid on one octant).
        assert np.allclose(permuted[significant], values[significant], rtol=2e-3, atol=0)


def test_anisotropic_kernel_conserves_energy_and_is_symmetric(
    computed: Callable[..., DoseKernel],
) -> None:
    kernel = computed((4.0, 4.0, 6.0))
    assert kernel.voxel_mm == (4.0, 4.0, 6.0)
    radiative = float(kernel.metadata["radiative_fraction"])  # type: ignore[arg-type]
    assert kernel.energy_fraction() == pytest.approx(1.0 - radiative, abs=1e-6)
    _assert_flip_symmetric(kernel.values)
    assert np.allclose(kernel.values, np.swapaxes(kernel.values, 1, 2), rtol=2e-3)
    # The neighbour across a 4 x 6 mm face, 4 mm away, gets more than the one
    # across a 4 x 4 mm face, 6 mm away.
    assert s_at(kernel, 1, 0, 0) > s_at(kernel, 0, 0, 1)


def test_anisotropic_kernel_equals_block_sum_of_a_fine_kernel(
    computed: Callable[..., DoseKernel],
) -> None:
    """Known truth: a 4 x 4 x 6 mm voxel is 2 x 2 x 3 voxels of 2 mm.

    The energy fraction from a uniform big source voxel into a big target voxel
    is the mean over source sub-voxels of the sum over target sub-voxels; the
    pairs with offset d along an axis of m sub-voxels number m − |d|.
    """
    fine = computed(2.0, half_width=17)
    big = computed((4.0, 4.0, 6.0))
    fine_fraction = fine.values * fine.voxel_mass_kg
    centre = 17
    pairs = {m: {d: m - abs(d) for d in range(1 - m, m)} for m in (2, 3)}
    expected = np.zeros((11, 11, 11))
    n = np.arange(-5, 6)
    for (dk, wk), (dj, wj), (di, wi) in itertools.product(
        pairs[3].items(), pairs[2].items(), pairs[2].items()
    ):
        expected += (
            wk
            * wj
            * wi
            * fine_fraction[np.ix_(centre + 3 * n + dk, centre + 2 * n + dj, centre + 2 * n + di)]
        )
    expected /= 12.0
    got = big.values * big.voxel_mass_kg
    significant = expected > 1e-3 * expected.max()
    assert np.allclose(got[significant], expected[significant], rtol=2e-3, atol=0)
    assert got.sum() == pytest.approx(expected.sum(), rel=1e-9)


@settings(max_examples=10)
@given(
    st.tuples(
        st.floats(2.0, 8.0, allow_nan=False),
        st.floats(2.0, 8.0, allow_nan=False),
        st.floats(2.0, 8.0, allow_nan=False),
    ),
    st.sampled_from([0.95, 1.0, 1.05]),
)
def test_any_voxel_conserves_energy(
    computed: Callable[..., DoseKernel], voxel_mm: tuple[float, float, float], density: float
) -> None:
    kernel = computed(voxel_mm, density_g_per_ml=density)
    radiative = float(kernel.metadata["radiative_fraction"])  # type: ignore[arg-type]
    assert kernel.energy_fraction() == pytest.approx(1.0 - radiative, abs=1e-6)
    assert np.all(kernel.values >= 0)
    _assert_flip_symmetric(kernel.values)
    reach = transport.csda_range_mm(transport.Y90_ENDPOINT_MEV) / density
    for half, size in zip(kernel.half_width, kernel.voxel_mm, strict=True):
        assert half >= 5 and half * size >= reach


def test_s_values_scale_with_mean_energy(computed: Callable[..., DoseKernel]) -> None:
    icrp = computed(4.42)
    insert = computed(4.42, mean_energy_mev=0.9367)
    assert np.allclose(insert.values, icrp.values * 0.9367 / 0.9267, rtol=1e-12)
    assert insert.energy_fraction() == pytest.approx(icrp.energy_fraction(), rel=1e-12)


def test_kernel_is_read_only_and_records_provenance(computed: Callable[..., DoseKernel]) -> None:
    kernel = computed(4.42)
    with pytest.raises(ValueError, match="read-only"):
        kernel.values[0, 0, 0] = 1.0
    assert kernel.source == "netlm-monte-carlo"
    for key in ("kernel_version", "histories", "seed", "mean_energy_mev", "radiative_fraction"):
        assert key in kernel.metadata
    assert kernel.metadata["kernel_version"] == kernels.KERNEL_VERSION
    assert kernel.metadata["histories"] == HISTORIES


# ========================================================================= arguments
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"voxel_mm": 0.0}, "voxel_mm"),
        ({"voxel_mm": -3.0}, "voxel_mm"),
        ({"voxel_mm": (3.0, 3.0)}, "voxel_mm"),
        ({"voxel_mm": math.nan}, "voxel_mm"),
        ({"density_g_per_ml": 0.0}, "density_g_per_ml"),
        ({"density_g_per_ml": math.inf}, "density_g_per_ml"),
        ({"histories": 10}, "histories"),
        ({"histories": 1.5e5}, "histories"),
        ({"half_width": 0}, "half_width"),
        ({"seed": -1}, "seed"),
        ({"mean_energy_mev": 2.28}, "mean_energy_mev"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict[str, object], argument: str) -> None:
    options: dict[str, object] = {"voxel_mm": 3.0, "cache_dir": tmp_path}
    options.update(kwargs)
    voxel = options.pop("voxel_mm")
    with pytest.raises(KernelError, match=f"Argument '{argument}'"):
        y90_kernel(voxel, **options)  # type: ignore[arg-type]
    assert issubclass(KernelError, NetlmError) and issubclass(KernelError, ValueError)
    assert not any(tmp_path.iterdir())


# ============================================================================= cache
@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count transport runs and voxelisations."""
    calls = {"transport": 0, "voxelise": 0}
    simulate, voxelise = transport.simulate_dpk, kernels._octant_fractions

    def counting_simulate(*args: object, **kwargs: object) -> transport.DpkTally:
        calls["transport"] += 1
        return simulate(*args, **kwargs)  # type: ignore[arg-type]

    def counting_voxelise(*args: object, **kwargs: object) -> np.ndarray:
        calls["voxelise"] += 1
        return voxelise(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transport, "simulate_dpk", counting_simulate)
    monkeypatch.setattr(kernels, "_octant_fractions", counting_voxelise)
    return calls


CHEAP = 2000


def test_cache_hit_returns_identical_kernel_without_recomputing(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    first = y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    assert counted == {"transport": 1, "voxelise": 1}
    again = y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    assert counted == {"transport": 1, "voxelise": 1}
    assert np.array_equal(again.values, first.values)
    assert again.metadata == first.metadata and again.voxel_mm == first.voxel_mm
    # A new voxel size reuses the cached DPK: only the voxelisation runs.
    y90_kernel((4.0, 4.0, 5.0), histories=CHEAP, cache_dir=tmp_path)
    assert counted == {"transport": 1, "voxelise": 2}
    # Another seed is another DPK.
    y90_kernel(4.0, histories=CHEAP, seed=1, cache_dir=tmp_path)
    assert counted == {"transport": 2, "voxelise": 3}
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"not a cache file"),
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(b""),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_corrupt_cache_file_is_recomputed(
    tmp_path: Path, counted: dict[str, int], damage: Callable[[Path], object]
) -> None:
    first = y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    (kernel_file,) = tmp_path.glob("y90-kernel-*.npz")
    (dpk_file,) = tmp_path.glob("y90-dpk-*.npz")
    damage(kernel_file)
    damage(dpk_file)
    again = y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    assert counted == {"transport": 2, "voxelise": 2}
    assert np.array_equal(again.values, first.values)  # same seed, same kernel
    # The damaged files were replaced: the next call is a hit.
    y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    assert counted == {"transport": 2, "voxelise": 2}


def test_cache_file_of_other_parameters_is_not_used(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    (kernel_file,) = tmp_path.glob("y90-kernel-*.npz")
    other = y90_kernel(5.0, histories=CHEAP, cache_dir=tmp_path)
    # Put the 5 mm kernel under the 4 mm kernel's name: its stored parameters differ.
    (file_5mm,) = (p for p in tmp_path.glob("y90-kernel-*.npz") if p != kernel_file)
    kernel_file.write_bytes(file_5mm.read_bytes())
    again = y90_kernel(4.0, histories=CHEAP, cache_dir=tmp_path)
    assert counted["voxelise"] == 3
    assert not np.array_equal(again.values, other.values)


def test_library_reads_no_environment_and_caches_only_where_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted: dict[str, int]
) -> None:
    # Issue #13: the cache folder is an argument; without one nothing is written,
    # whatever XDG_CACHE_HOME says (the CLI resolves the variable, not the library).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    first = y90_kernel(4.0, histories=CHEAP)
    assert not (tmp_path / "xdg").exists()
    assert not (tmp_path / "home").exists()
    again = y90_kernel(4.0, histories=CHEAP)
    assert counted == {"transport": 2, "voxelise": 2}  # no cache: computed each time
    assert np.array_equal(first.values, again.values)  # deterministic by seed


def test_default_kernel_cache_dir_follows_xdg() -> None:
    home = Path("/home/someone")
    xdg = {"XDG_CACHE_HOME": "/var/cache/me"}
    assert kernels.default_kernel_cache_dir(xdg, home) == Path("/var/cache/me/netlm/kernels")
    expected = home / ".cache" / "netlm" / "kernels"
    assert kernels.default_kernel_cache_dir({}, home) == expected
    assert kernels.default_kernel_cache_dir({"XDG_CACHE_HOME": " "}, home) == expected
    # A relative XDG_CACHE_HOME is invalid (XDG Base Directory spec) and ignored.
    assert kernels.default_kernel_cache_dir({"XDG_CACHE_HOME": "rel"}, home) == expected


def test_cli_kernel_command_caches_under_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted: dict[str, int]
) -> None:
    from netlm.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    args = ["kernel", "Y-90", "--voxel-mm", "4", "--histories", str(CHEAP), "--format", "json"]
    assert main(args) == 0
    assert len(list((tmp_path / "xdg" / "netlm" / "kernels").glob("*.npz"))) == 2
    assert main(args) == 0
    assert counted == {"transport": 1, "voxelise": 1}  # the second run read the cache


def test_unwritable_cache_still_returns_a_kernel(tmp_path: Path, counted: dict[str, int]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    kernel = y90_kernel(4.0, histories=CHEAP, cache_dir=blocker / "kernels")
    assert kernel.values.shape == (11, 11, 11)
    assert counted == {"transport": 1, "voxelise": 1}


# ====================================================================== table reader
@pytest.mark.parametrize(("size", "medium"), [("3", "soft"), ("9.28", "bone"), ("2.21", "soft")])
def test_tables_load_and_mirror(size: str, medium: str) -> None:
    kernel = table(size, medium)
    assert kernel.values.shape == (11, 11, 11)
    assert kernel.voxel_mm == (float(size),) * 3
    assert kernel.source == f"table:90Y{size}mm{medium}.txt"
    assert kernel.density_g_per_ml == (1.03 if medium == "soft" else 1.85)
    _assert_flip_symmetric(kernel.values)
    assert np.array_equal(kernel.values, np.transpose(kernel.values, (2, 1, 0)))


def test_table_density_can_be_given() -> None:
    path = TABLES / "90Y4.42mmsoft.txt"
    assert load_lanconelli_table(path, density_g_per_ml=1.04).density_g_per_ml == 1.04
    assert load_lanconelli_table(path, density_g_per_ml=1.04).energy_fraction() > 1.005


GOOD_TITLE = "Y90 - 3mm - Soft tissue\t\t\t"
GOOD_HEADER = "i\tj\tk\tS [mGy/(MBq\xb7s)]"


def _octant_lines(half: int = 1) -> list[str]:
    return [
        f"{i}\t{j}\t{k}\t{1.0 / (1 + i + j + k):.3E}"
        for i, j, k in itertools.product(range(half + 1), repeat=3)
    ]


def test_small_synthetic_table_is_read(tmp_path: Path) -> None:
    path = tmp_path / "90Y3mmsoft.txt"
    text = "\r\n".join([GOOD_TITLE, GOOD_HEADER, *_octant_lines(), ""])
    path.write_bytes(text.encode("latin-1"))
    kernel = load_lanconelli_table(path)
    assert kernel.values.shape == (3, 3, 3)
    assert s_at(kernel, 0, 0, 0) == 1.0 and s_at(kernel, -1, 1, -1) == 0.25


@pytest.mark.parametrize(
    ("name", "lines", "where", "message"),
    [
        ("90Y3mmsoft.txt", ["Y90 3 mm", GOOD_HEADER, *_octant_lines()], "line 1", "title"),
        (
            "90Y3mmsoft.txt",
            ["Y90 - 3mm - Liver", GOOD_HEADER, *_octant_lines()],
            "line 1",
            "unknown medium",
        ),
        ("90Y4mmsoft.txt", [GOOD_TITLE, GOOD_HEADER, *_octant_lines()], "line 1", "file name"),
        ("90Y3mmsoft.txt", [GOOD_TITLE, "a b c d", *_octant_lines()], "line 2", "column header"),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, *_octant_lines()[:4], "1\t0\t0", *_octant_lines()[5:]],
            "line 7",
            "expected 4 fields",
        ),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, *_octant_lines()[:2], "0\t1\t0\tlots"],
            "line 5",
            "cannot read",
        ),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, "0\t0\t0\t-1.0E-01", *_octant_lines()[1:]],
            "line 3",
            "S must be",
        ),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, "0\t0\t0\tnan", *_octant_lines()[1:]],
            "line 3",
            "S must be",
        ),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, *_octant_lines(), "0\t0\t0\t1.0"],
            "line 11",
            "appears twice",
        ),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, "0\t-1\t0\t1.0", *_octant_lines()],
            "line 3",
            "indices",
        ),
        (
            "90Y3mmsoft.txt",
            [GOOD_TITLE, GOOD_HEADER, *_octant_lines()[:-1]],
            "90Y3mmsoft.txt",
            "1 voxel",
        ),
        ("90Y3mmsoft.txt", [GOOD_TITLE], "90Y3mmsoft.txt", "too short"),
    ],
    ids=[
        "title",
        "medium",
        "name-mismatch",
        "header",
        "fields",
        "number",
        "negative",
        "nan",
        "duplicate",
        "negative-index",
        "missing",
        "short",
    ],
)
def test_malformed_table_names_file_and_line(
    tmp_path: Path, name: str, lines: list[str], where: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes("\r\n".join(lines).encode("latin-1"))
    with pytest.raises(KernelTableError, match=message) as caught:
        load_lanconelli_table(path)
    assert str(path) in str(caught.value) and where in str(caught.value)
    assert isinstance(caught.value, InputError) and isinstance(caught.value, ValueError)


def test_missing_table_file(tmp_path: Path) -> None:
    with pytest.raises(KernelTableError, match="cannot be read"):
        load_lanconelli_table(tmp_path / "90Y3mmsoft.txt")


# ===================================================================== shipped DPK
SHIPPED_FILE = Path(kernels.__file__).parent / "data" / kernels.SHIPPED_DPK


def _npz(path: Path) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: np.array(data[name]) for name in data.files}
    return json.loads(str(arrays.pop("params"))), arrays


def test_shipped_dpk_is_this_kernel_version_and_intact() -> None:
    params, arrays = _npz(SHIPPED_FILE)
    assert params["kernel_version"] == kernels.KERNEL_VERSION
    assert params["histories"] == kernels.DEFAULT_HISTORIES and params["seed"] == 0
    assert params == json.loads(json.dumps(kernels._dpk_params(kernels.DEFAULT_HISTORIES, 0)))
    tally = kernels._tally_from(arrays)
    assert tally is not None
    assert kernels.tally_digest(params, tally) == kernels.SHIPPED_DPK_SHA256
    assert SHIPPED_FILE.stat().st_size < 64_000  # shipped in the wheel


def test_reduced_history_regeneration_agrees_with_the_shipped_dpk(tmp_path: Path) -> None:
    histories = 5000
    kernels.regenerate_point_kernel(tmp_path / "dpk.npz", histories=histories, seed=3)
    params, fresh = _npz(tmp_path / "dpk.npz")
    assert params["histories"] == histories and params["kernel_version"] == kernels.KERNEL_VERSION
    _, shipped = _npz(SHIPPED_FILE)
    assert np.array_equal(fresh["edges_mm"], shipped["edges_mm"])
    # Energy deposited within radius r: with 5000 β particles its statistical
    # error is about 0.3 / sqrt(5000) ≈ 0.004 (runs of four seeds: ≤ 0.0046).
    cdf_fresh = np.cumsum(fresh["energy_fraction"])
    cdf_shipped = np.cumsum(shipped["energy_fraction"])
    assert np.max(np.abs(cdf_fresh - cdf_shipped)) < 0.015
    # Half-millimetre shells out to 5 mm, where most of the energy goes: ≤ 2.5 % seen.
    fresh_shells = fresh["energy_fraction"].reshape(-1, 50).sum(axis=1)[:10]
    shipped_shells = shipped["energy_fraction"].reshape(-1, 50).sum(axis=1)[:10]
    np.testing.assert_allclose(fresh_shells, shipped_shells, rtol=0.06)
    assert float(fresh["radiative_fraction"]) == pytest.approx(
        float(shipped["radiative_fraction"]), rel=0.03
    )
    assert float(fresh["sampled_mean_mev"]) == pytest.approx(
        float(shipped["sampled_mean_mev"]), rel=1e-3
    )


def test_a_new_voxel_size_with_default_histories_runs_no_transport(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    kernel = y90_kernel((4.1, 4.1, 3.3), density_g_per_ml=1.03, cache_dir=tmp_path)
    assert counted == {"transport": 0, "voxelise": 1}
    assert kernel.metadata["dpk_origin"] == f"shipped ({kernels.SHIPPED_DPK})"
    assert not list(tmp_path.glob("y90-dpk-*.npz"))  # nothing to cache


def test_a_shipped_dpk_that_does_not_match_its_digest_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert kernels._shipped_tally(kernels.DEFAULT_HISTORIES, 0) is not None
    assert kernels._shipped_tally(kernels.DEFAULT_HISTORIES, 1) is None  # another seed
    monkeypatch.setattr(kernels, "SHIPPED_DPK_SHA256", "0" * 64)
    assert kernels._shipped_tally(kernels.DEFAULT_HISTORIES, 0) is None
