"""BED of a permanent 90Y implant, EQD2, EUD and the radiobiological presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.errors import PlanError
from netlm.evidence import SOURCES, Certainty
from netlm.sirt.radiobiology import (
    PRESETS,
    RadiobiologyPreset,
    bed_from_preset,
    bed_permanent_implant_gy,
    eqd2_gy,
    eud_gy,
)

REL = 1e-9
doses = st.floats(min_value=0.0, max_value=1000.0)
alpha_betas = st.floats(min_value=0.5, max_value=50.0)
repair_times = st.floats(min_value=0.1, max_value=10.0)


# ------------------------------------------------------------------------------- BED
@pytest.mark.parametrize(
    ("dose", "alpha_beta", "repair", "physical"),
    [
        (100.0, 2.5, 1.5, 64.1),
        (100.0, 10.0, 1.5, 64.1),
        (40.0, 2.75, 2.5, 64.1),
        (250.0, 10.0, 1.5, 64.2),
        (1.0, 2.5, 1.5, 64.1),
    ],
)
def test_bed_closed_form(dose: float, alpha_beta: float, repair: float, physical: float) -> None:
    # Dale: BED = D [1 + D T_rep / ((T_rep + T_phys) alpha/beta)], term by term.
    relative_effectiveness = 1.0 + dose * repair / ((repair + physical) * alpha_beta)
    expected = dose * relative_effectiveness
    got = bed_permanent_implant_gy(
        dose, alpha_beta_gy=alpha_beta, repair_half_time_h=repair, physical_half_life_h=physical
    )
    assert got == pytest.approx(expected, rel=REL)


def test_bed_100_gy_normal_liver_by_hand() -> None:
    # 1.5 / 65.6 = 0.0228658...; 100 * 0.0228658 / 2.5 = 0.914634...; BED = 191.4634... Gy.
    expected = 100.0 * (1.0 + 100.0 * (1.5 / (1.5 + 64.1)) / 2.5)
    assert expected == pytest.approx(191.46341463, rel=1e-9)
    got = bed_permanent_implant_gy(100.0, alpha_beta_gy=2.5, repair_half_time_h=1.5)
    assert got == pytest.approx(expected, rel=REL)


def test_bed_equals_decay_constant_form() -> None:
    # lambda / (mu + lambda) with lambda = ln2/T_phys, mu = ln2/T_rep.
    lam, mu = math.log(2.0) / 64.1, math.log(2.0) / 1.5
    expected = 150.0 * (1.0 + 150.0 * lam / ((mu + lam) * 10.0))
    got = bed_permanent_implant_gy(150.0, alpha_beta_gy=10.0, repair_half_time_h=1.5)
    assert got == pytest.approx(expected, rel=REL)


def test_bed_of_zero_dose_is_zero() -> None:
    assert bed_permanent_implant_gy(0.0, alpha_beta_gy=2.5, repair_half_time_h=1.5) == 0.0


@given(dose=doses, alpha_beta=alpha_betas, repair=repair_times)
def test_bed_is_at_least_the_dose(dose: float, alpha_beta: float, repair: float) -> None:
    bed = bed_permanent_implant_gy(dose, alpha_beta_gy=alpha_beta, repair_half_time_h=repair)
    assert bed >= dose


@given(dose=st.floats(min_value=1.0, max_value=1000.0), repair=repair_times)
def test_bed_tends_to_the_dose_as_alpha_beta_grows(dose: float, repair: float) -> None:
    beds = [
        bed_permanent_implant_gy(dose, alpha_beta_gy=ab, repair_half_time_h=repair)
        for ab in (1.0, 1e2, 1e4, 1e8, 1e12)
    ]
    assert beds == sorted(beds, reverse=True)
    assert beds[-1] == pytest.approx(dose, rel=1e-6)


@given(dose=st.floats(min_value=1.0, max_value=500.0), alpha_beta=alpha_betas)
def test_bed_grows_with_slower_repair(dose: float, alpha_beta: float) -> None:
    fast = bed_permanent_implant_gy(dose, alpha_beta_gy=alpha_beta, repair_half_time_h=0.5)
    slow = bed_permanent_implant_gy(dose, alpha_beta_gy=alpha_beta, repair_half_time_h=2.5)
    assert slow > fast


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dose_gy": -1.0}, "dose_gy"),
        ({"dose_gy": math.nan}, "dose_gy"),
        ({"alpha_beta_gy": 0.0}, "alpha_beta_gy"),
        ({"alpha_beta_gy": -2.5}, "alpha_beta_gy"),
        ({"repair_half_time_h": 0.0}, "repair_half_time_h"),
        ({"physical_half_life_h": -64.1}, "physical_half_life_h"),
        ({"physical_half_life_h": math.inf}, "physical_half_life_h"),
    ],
)
def test_bed_rejects(kwargs: dict[str, float], field: str) -> None:
    arguments = {"dose_gy": 100.0, "alpha_beta_gy": 2.5, "repair_half_time_h": 1.5}
    arguments.update(kwargs)
    with pytest.raises(PlanError) as info:
        bed_permanent_implant_gy(**arguments)
    assert info.value.fields == [field]


# ------------------------------------------------------------------------------ EQD2
@given(bed=doses)
def test_eqd2_with_alpha_beta_2_is_half_the_bed(bed: float) -> None:
    assert eqd2_gy(bed, alpha_beta_gy=2.0) == pytest.approx(bed / 2.0, rel=REL, abs=1e-300)


@pytest.mark.parametrize(
    ("bed", "alpha_beta", "expected"),
    [(120.0, 10.0, 100.0), (45.0, 2.5, 25.0), (0.0, 3.0, 0.0)],
)
def test_eqd2_closed_form(bed: float, alpha_beta: float, expected: float) -> None:
    assert eqd2_gy(bed, alpha_beta_gy=alpha_beta) == pytest.approx(expected, rel=REL)


@given(dose=doses, alpha_beta=alpha_betas)
def test_eqd2_of_2_gy_fractions_is_the_dose(dose: float, alpha_beta: float) -> None:
    # 2 Gy fractions: BED = D (1 + 2 / (alpha/beta)).
    bed = dose * (1.0 + 2.0 / alpha_beta)
    assert eqd2_gy(bed, alpha_beta_gy=alpha_beta) == pytest.approx(dose, rel=REL, abs=1e-12)


@pytest.mark.parametrize(
    ("bed", "alpha_beta", "field"),
    [(-1.0, 2.5, "bed_gy"), (10.0, 0.0, "alpha_beta_gy"), (10.0, -1.0, "alpha_beta_gy")],
)
def test_eqd2_rejects(bed: float, alpha_beta: float, field: str) -> None:
    with pytest.raises(PlanError) as info:
        eqd2_gy(bed, alpha_beta_gy=alpha_beta)
    assert info.value.fields == [field]


# ------------------------------------------------------------------------------- EUD
@pytest.mark.parametrize("dose", [0.0, 1.0, 120.0, 5000.0])
@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.3, 5.0])
def test_eud_of_a_uniform_dose_is_that_dose(dose: float, alpha: float) -> None:
    assert eud_gy([dose] * 7, alpha_per_gy=alpha) == pytest.approx(dose, rel=REL)


def test_eud_closed_form_two_doses() -> None:
    alpha = 0.05
    expected = -math.log((math.exp(-alpha * 20.0) + math.exp(-alpha * 80.0)) / 2.0) / alpha
    assert eud_gy([20.0, 80.0], alpha_per_gy=alpha) == pytest.approx(expected, rel=REL)


def test_eud_weights_equal_repeated_doses() -> None:
    weighted = eud_gy([20.0, 80.0], alpha_per_gy=0.05, weights=[3.0, 1.0])
    repeated = eud_gy([20.0, 20.0, 20.0, 80.0], alpha_per_gy=0.05)
    assert weighted == pytest.approx(repeated, rel=REL)


def test_eud_ignores_zero_weights() -> None:
    assert eud_gy([50.0, 0.0], alpha_per_gy=0.1, weights=[1.0, 0.0]) == pytest.approx(50.0)


def test_eud_accepts_a_dose_map() -> None:
    dose_map = np.full((4, 5, 6), 70.0)
    assert eud_gy(dose_map, alpha_per_gy=0.01) == pytest.approx(70.0, rel=REL)


def test_eud_is_stable_for_large_alpha_times_dose() -> None:
    # exp(-5 * 1000) underflows to 0; the shifted form does not.
    eud = eud_gy([1000.0, 1001.0], alpha_per_gy=5.0)
    expected = 1000.0 - math.log((1.0 + math.exp(-5.0)) / 2.0) / 5.0
    assert math.isfinite(eud)
    assert eud == pytest.approx(expected, rel=REL)


dose_lists = st.lists(st.floats(min_value=0.0, max_value=1000.0), min_size=1, max_size=40)
alphas = st.floats(min_value=1e-4, max_value=2.0)


@given(values=dose_lists, alpha=alphas)
def test_eud_between_min_and_mean(values: list[float], alpha: float) -> None:
    eud = eud_gy(values, alpha_per_gy=alpha)
    mean = sum(values) / len(values)
    assert min(values) - 1e-9 * max(values) <= eud <= mean + 1e-9 * max(1.0, mean)


@given(values=dose_lists, alpha=alphas, cold=st.floats(min_value=0.0, max_value=1.0))
def test_eud_decreases_when_a_cold_spot_is_added(
    values: list[float], alpha: float, cold: float
) -> None:
    before = eud_gy(values, alpha_per_gy=alpha)
    cold_dose = cold * min(values)  # at or below the coldest voxel
    after = eud_gy([*values, cold_dose], alpha_per_gy=alpha)
    assert after <= before + 1e-9 * max(1.0, before)
    if max(values) - cold_dose > 1.0 and alpha * (max(values) - cold_dose) < 700:
        assert after < before


@pytest.mark.parametrize(
    ("doses_arg", "kwargs", "field"),
    [
        ([], {}, "doses_gy"),
        ([10.0, -1.0], {}, "doses_gy"),
        ([10.0, math.nan], {}, "doses_gy"),
        (["ten"], {}, "doses_gy"),
        ([10.0], {"alpha_per_gy": 0.0}, "alpha_per_gy"),
        ([10.0], {"alpha_per_gy": -0.1}, "alpha_per_gy"),
        ([10.0, 20.0], {"weights": [1.0]}, "weights"),
        ([10.0, 20.0], {"weights": [1.0, -1.0]}, "weights"),
        ([10.0, 20.0], {"weights": [0.0, 0.0]}, "weights"),
        ([10.0, 20.0], {"weights": [1.0, math.inf]}, "weights"),
    ],
)
def test_eud_rejects(doses_arg: list[object], kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"alpha_per_gy": 0.01}
    arguments.update(kwargs)
    with pytest.raises(PlanError) as info:
        eud_gy(doses_arg, **arguments)  # type: ignore[arg-type]
    assert info.value.fields == [field]


# --------------------------------------------------------------------------- presets
def test_presets_values() -> None:
    liver, tumour = PRESETS["normal_liver"], PRESETS["tumour"]
    assert (liver.alpha_beta_gy, liver.repair_half_time_h) == (2.5, 1.5)
    assert "2.75" in liver.note and "2.5 h" in liver.note
    assert (tumour.alpha_beta_gy, tumour.repair_half_time_h, tumour.alpha_per_gy) == (
        10.0,
        1.5,
        0.01,
    )
    assert "unverified" in tumour.note


@pytest.mark.parametrize("preset_id", sorted(PRESETS))
def test_presets_cite_unverified_parameters(preset_id: str) -> None:
    preset = PRESETS[preset_id]
    assert preset.id == preset_id
    assert "radiobiology_parameters" in preset.source_ids
    assert all(source_id in SOURCES for source_id in preset.source_ids)
    assert SOURCES["radiobiology_parameters"].certainty is Certainty.UNVERIFIED
    assert "[U]" in preset.note


@pytest.mark.parametrize("preset_id", sorted(PRESETS))
def test_bed_from_preset_matches_the_formula(preset_id: str) -> None:
    preset = PRESETS[preset_id]
    expected = bed_permanent_implant_gy(
        80.0, alpha_beta_gy=preset.alpha_beta_gy, repair_half_time_h=preset.repair_half_time_h
    )
    assert bed_from_preset(80.0, preset_id) == expected
    assert bed_from_preset(80.0, preset) == expected


def test_bed_from_preset_uses_the_half_life_given() -> None:
    short = bed_from_preset(100.0, "tumour", physical_half_life_h=10.0)
    assert short > bed_from_preset(100.0, "tumour")


def test_bed_from_custom_preset() -> None:
    preset = RadiobiologyPreset(
        id="liver_alt",
        tissue="normal liver",
        alpha_beta_gy=2.75,
        repair_half_time_h=2.5,
        alpha_per_gy=None,
        note="[U] alternative",
        source_ids=("radiobiology_parameters",),
    )
    expected = 100.0 * (1.0 + 100.0 * 2.5 / ((2.5 + 64.1) * 2.75))
    assert bed_from_preset(100.0, preset) == pytest.approx(expected, rel=REL)


def test_bed_from_unknown_preset() -> None:
    with pytest.raises(PlanError, match="unknown preset") as info:
        bed_from_preset(100.0, "lung")
    assert info.value.fields == ["preset"]


def test_bed_from_preset_rejects_negative_dose() -> None:
    with pytest.raises(PlanError) as info:
        bed_from_preset(-5.0, "normal_liver")
    assert info.value.fields == ["dose_gy"]


def test_presets_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        PRESETS["tumour"].alpha_beta_gy = 3.0  # type: ignore[misc]
