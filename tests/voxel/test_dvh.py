"""DVH metrics on known distributions: D-x and V-x definitions and boundaries, curves,
EUD/BED maps, planned vs delivered (CSV and plots: tests/report/test_figures.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.errors import GeometryError
from netlm.sirt import radiobiology as rb
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryError, DosimetryWarning
from netlm.voxel.dvh import (
    bed_map,
    compare,
    dose_at_volume_percent,
    dose_statistics,
    dvh_curve,
    eud_map,
    volume_percent_at_dose,
)


def dose_map(
    values: np.ndarray, spacing: tuple[float, float, float] = (2.0, 2.0, 2.0)
) -> ImageVolume:
    return ImageVolume(np.asarray(values, dtype=np.float64), spacing, unit="Gy")


def ramp(n: int = 100, top: float = 100.0) -> ImageVolume:
    """Doses top/n, 2·top/n, …, top in one row of n voxels."""
    return dose_map((np.arange(1, n + 1) * (top / n)).reshape(1, 1, n))


def everything(image: ImageVolume) -> np.ndarray:
    return np.ones(image.array.shape, dtype=bool)


# ---------------------------------------------------------------------------- D-x, V-x
def test_statistics_of_a_linear_ramp() -> None:
    image = ramp(200, 400.0)  # 2, 4, …, 400 Gy
    s = dose_statistics(image, everything(image), name="ramp")
    assert s.voxel_count == 200
    assert s.volume_ml == pytest.approx(200 * 0.008)
    assert s.mean_gy == pytest.approx(201.0)
    assert (s.min_gy, s.max_gy) == (2.0, 400.0)
    # D_x: the dose of the ⌈x·n/100⌉-th hottest voxel.
    assert s.d50_gy == 202.0  # 100 voxels get >= 202 Gy
    assert s.d70_gy == 122.0  # 140 voxels
    assert s.d90_gy == 42.0  # 180 voxels
    assert s.d98_gy == 10.0  # 196 voxels
    # V_x: % of voxels with dose >= x (inclusive).
    assert s.v100_percent == 75.5  # 100, 102, …, 400: 151 voxels
    assert s.v120_percent == 70.5  # 120 (inclusive) … 400: 141 voxels
    assert s.v150_percent == 63.0  # 150 … 400: 126 voxels
    assert s.v205_percent == 49.0  # 206 … 400: 98 voxels
    assert not s.shaky


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (0.0, 10.0),  # D0: the maximum
        (10.0, 10.0),  # exactly one voxel of ten
        (10.000001, 9.0),
        (50.0, 6.0),
        (70.0, 4.0),  # exactly 7 of 10 voxels get >= 4 Gy (0.7·10 is 7.000000000000001 in floats)
        (70.000001, 3.0),
        (69.999999, 4.0),
        (90.0, 2.0),
        (100.0, 1.0),  # D100: the minimum
    ],
)
def test_dose_at_volume_percent_boundaries(percent: float, expected: float) -> None:
    assert dose_at_volume_percent(np.arange(1.0, 11.0), percent) == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [(4.0, 70.0), (4.000001, 60.0), (3.999999, 70.0), (0.0, 100.0), (10.0, 10.0), (10.5, 0.0)],
)
def test_volume_percent_at_dose_boundaries(level: float, expected: float) -> None:
    assert volume_percent_at_dose(np.arange(1.0, 11.0), level) == expected


@pytest.mark.parametrize("percent", [-1.0, 100.5, math.nan])
def test_impossible_percentages_are_refused(percent: float) -> None:
    with pytest.raises(DosimetryError, match=r"\[0, 100\]"):
        dose_at_volume_percent([1.0, 2.0], percent)


@given(
    doses=st.lists(st.floats(0.0, 1000.0, allow_subnormal=False), min_size=1, max_size=300),
    percent=st.floats(0.0, 100.0),
)
def test_d_x_is_the_largest_dose_covering_x_percent(doses: list[float], percent: float) -> None:
    values = np.asarray(doses)
    d = dose_at_volume_percent(values, percent)
    assert d in values
    covered = np.count_nonzero(values >= d) / values.size * 100
    assert covered >= percent - 1e-9  # at least x % receive D_x …
    higher = values[values > d]
    if higher.size:  # … and no higher dose does
        assert np.count_nonzero(values >= higher.min()) / values.size * 100 < percent + 1e-9


def test_statistics_agree_with_the_functions() -> None:
    rng = np.random.default_rng(4)
    image = dose_map(rng.gamma(2.0, 60.0, size=(10, 12, 14)))
    mask = rng.random(image.array.shape) < 0.5
    s = dose_statistics(image, mask)
    values = image.array[mask]
    for x in (50, 70, 90, 98):
        assert getattr(s, f"d{x}_gy") == dose_at_volume_percent(values, x)
    for x in (100, 150, 205):
        assert getattr(s, f"v{x}_percent") == pytest.approx(volume_percent_at_dose(values, x))
    assert s.mean_gy == pytest.approx(values.mean())


def test_a_tiny_voi_is_computed_with_a_warning() -> None:
    image = ramp(49)
    with pytest.warns(DosimetryWarning, match="'tiny' has 49 voxels"):
        s = dose_statistics(image, everything(image), name="tiny")
    assert s.shaky
    image = ramp(50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not dose_statistics(image, everything(image)).shaky


def test_masks_must_fit_the_dose_grid() -> None:
    image = ramp(60)
    with pytest.raises(DosimetryError, match="selects no voxel"):
        dose_statistics(image, np.zeros(image.array.shape))
    with pytest.raises(GeometryError, match="shape"):
        dose_statistics(image, np.ones((2, 2, 2)))
    shifted = ImageVolume(
        np.ones(image.array.shape), image.spacing_mm, origin_mm=(5.0, 0.0, 0.0), unit="label"
    )
    with pytest.raises(GeometryError, match="another grid"):
        dose_statistics(image, shifted)
    with pytest.raises(DosimetryError, match="in Gy"):
        dose_statistics(image.with_array(image.array, unit="Bq/mL"), everything(image))


# ---------------------------------------------------------------------------- DVH curves
def test_cumulative_dvh_of_a_ramp() -> None:
    image = ramp(100)
    curve = dvh_curve(image, everything(image), bins=10, label="ramp")
    assert curve.dose_gy.tolist() == pytest.approx(np.linspace(0.0, 100.0, 11).tolist())
    assert curve.volume_percent.tolist() == pytest.approx(
        [100.0, 91.0, 81.0, 71.0, 61.0, 51.0, 41.0, 31.0, 21.0, 11.0, 1.0]
    )
    assert np.all(np.diff(curve.volume_percent) <= 0)
    assert curve.volume_ml == pytest.approx(0.8)
    for level, volume in zip(curve.dose_gy, curve.volume_percent, strict=True):
        assert volume == volume_percent_at_dose(image.array, level)


def test_dvh_levels_are_checked() -> None:
    image = ramp(10)
    with pytest.raises(DosimetryError, match="increasing"):
        dvh_curve(image, everything(image), [5.0, 1.0])
    with pytest.raises(DosimetryError, match=">= 1"):
        dvh_curve(image, everything(image), 0)


# ---------------------------------------------------------------------------- BED, EUD
def test_bed_map_is_the_voxelwise_dale_formula() -> None:
    values = np.array([0.0, 1.0, 40.0, 120.0, 400.0]).reshape(1, 1, 5)
    bed = bed_map(dose_map(values), preset="normal_liver")
    preset = rb.PRESETS["normal_liver"]
    expected = [
        rb.bed_permanent_implant_gy(
            float(d),
            alpha_beta_gy=preset.alpha_beta_gy,
            repair_half_time_h=preset.repair_half_time_h,
        )
        for d in values.ravel()
    ]
    assert bed.array.ravel() == pytest.approx(expected, rel=1e-12)
    assert bed.metadata["radiobiology_preset"] == "normal_liver"
    tumour = bed_map(dose_map(values), preset="tumour", alpha_beta_gy=5.0)
    assert tumour.metadata["alpha_beta_gy"] == 5.0
    with pytest.raises(DosimetryError, match="preset"):
        bed_map(dose_map(values))
    with pytest.raises(DosimetryError, match="unknown preset 'kidney'"):
        bed_map(dose_map(values), preset="kidney")


def test_eud_of_each_voi() -> None:
    rng = np.random.default_rng(9)
    image = dose_map(rng.uniform(50.0, 300.0, size=(6, 6, 6)))
    uniform = dose_map(np.full((6, 6, 6), 123.0))
    half = np.zeros((6, 6, 6), dtype=bool)
    half[:3] = True
    result = eud_map(image, {"half": half, "all": everything(image)}, preset="tumour")
    assert result["half"] == pytest.approx(rb.eud_gy(image.array[half], alpha_per_gy=0.01))
    assert result["all"] < float(image.array.mean())  # EUD is below the mean dose
    assert eud_map(uniform, {"all": everything(uniform)}, alpha_per_gy=0.3)["all"] == pytest.approx(
        123.0
    )
    with pytest.raises(DosimetryError, match="alpha_per_gy"):
        eud_map(image, {"all": everything(image)}, preset="normal_liver")  # no alpha given


def test_negative_doses_are_clipped_with_a_warning() -> None:
    image = dose_map(np.array([[[-1.0, 10.0]]]))
    with pytest.warns(DosimetryWarning, match="negative"):
        result = eud_map(image, {"voi": everything(image)}, alpha_per_gy=0.1)
    assert result["voi"] == pytest.approx(rb.eud_gy([0.0, 10.0], alpha_per_gy=0.1))


# ---------------------------------------------------------------------------- compare
def test_planned_vs_delivered() -> None:
    rng = np.random.default_rng(1)
    planned = dose_map(rng.uniform(20.0, 250.0, size=(8, 8, 8)))
    planned.metadata["dose_model"] = "local deposition (LDM)"
    delivered = dose_map(planned.array * 0.9)
    tumour = np.zeros((8, 8, 8), dtype=bool)
    tumour[:4] = True
    result = compare(planned, delivered, {"tumour": tumour, "normal": ~tumour})
    row = result.rows[0]
    assert row.voi == "tumour"
    assert row.mean_difference_percent == pytest.approx(-10.0)
    assert row.mean_difference_gy == pytest.approx(-0.1 * row.planned.mean_gy)
    assert row.d70_difference_gy == pytest.approx(-0.1 * row.planned.d70_gy)
    assert result.planned_model == "local deposition (LDM)"
    table = result.table()
    assert "tumour" in table and "normal" in table and "-10.0" in table
    assert result.model_dump_json()  # a JSON-serialisable result
    other = dose_map(np.zeros((8, 8, 9)))
    with pytest.raises(GeometryError, match="different grids"):
        compare(planned, other, {"tumour": tumour})


# ---------------------------------------------------------------------------- compartment DVH
def test_compartment_dvh_is_a_step_at_each_compartment_dose() -> None:
    # Moved from the web module (issue #13): a compartment model gives each compartment
    # one dose, so each DVH is 100 % up to that dose and 0 % above it.
    from importlib import resources

    from netlm.sirt.plan import load_plan
    from netlm.sirt.planner import solve
    from netlm.voxel.dvh import compartment_dvh

    example = resources.files("netlm") / "examples" / "plan-partition-glass.yaml"
    with resources.as_file(example) as path:
        result = solve(load_plan(path))
    curves = {c.label: c for c in compartment_dvh(result)}
    territory = result.territories[0]
    assert len(result.territories) == 1
    expected = {
        "tumour": (territory.doses_gy.tumour, territory.tumour_volume_ml),
        "normal liver": (
            territory.doses_gy.normal_liver,
            territory.perfused_volume_ml - territory.tumour_volume_ml,
        ),
        "lung": (
            result.session_lung_dose_gy,
            1000.0
            * float(result.constants["lung_mass_kg"])  # type: ignore[arg-type]
            / float(result.constants["lung_density_g_per_ml"]),  # type: ignore[arg-type]
        ),
    }
    assert set(curves) == set(expected)
    for label, (dose, volume) in expected.items():
        assert dose is not None
        curve = curves[label]
        assert curve.volume_ml == pytest.approx(volume)
        below = curve.dose_gy <= dose
        assert np.all(curve.volume_percent[below] == 100.0)
        assert np.all(curve.volume_percent[~below] == 0.0)
        assert below.any() and (~below).any()  # the grid reaches above the highest dose
