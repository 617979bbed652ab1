"""Issue #11 (items 2, 3, 4, 5, 7) and #10 (BSA without T:N): safety of the planner.

Each refusal is tested on both sides of its limit; every test here fails on the
planner before these fixes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_planner import plan, solved

from conftest import SHARED, make_case
from netlm.cli import main
from netlm.eligibility import Assessor, default_profile, load_profile
from netlm.errors import PlanError, UnsafePlanError
from netlm.sirt.bsa import bsa_m2
from netlm.sirt.plan import plan_from_mapping
from netlm.sirt.planner import energy_balance_gy_kg, solve, with_case_history

C, RHO = 49.67, 1.03
OVERRIDE = {"reason": "palliation of refractory carcinoid syndrome", "approved_by": "Dr A"}
PROFILE_HEADER = "schema: netlm/rule-profile/v1\nid: centre\nname: Centre X\nversion: '1'\n"


def lung_at_1kg(activity_gbq: float, lsf: float = 0.07) -> float:
    return C * activity_gbq * lsf / 1.0


def activity_for_lung(lung_gy: float, lsf: float = 0.07) -> float:
    """The injected activity that gives ``lung_gy`` at the 1 kg convention."""
    return lung_gy / (C * lsf)


def profile_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "centre.yaml"
    path.write_text(PROFILE_HEADER + "extends: default\nparameters:\n" + body)
    return path


# ------------------------------------------------------------- item 2: lung mass basis
@pytest.mark.parametrize("basis", ["stated", "ct_densitovolumetry"])
def test_a_large_lung_mass_never_relaxes_the_1kg_limit(basis: str) -> None:
    # The case: refused at 34.9 Gy with 1 kg; a 2.88 kg mass (VOI x 0.3 g/mL)
    # would give 12.1 Gy. The limit is judged at the larger dose: still refused.
    rx = {"activity_gbq": activity_for_lung(34.9)}
    with pytest.raises(UnsafePlanError, match="lung_single"):
        solved(prescription=rx, lung_mass_kg=2.88, lung_mass_basis=basis)
    ok = solved(
        prescription={"activity_gbq": activity_for_lung(29.9)},
        lung_mass_kg=2.88,
        lung_mass_basis=basis,
    )
    assert ok.session_lung_dose_gy == pytest.approx(29.9)
    assert ok.lung_dose_convention_gy == pytest.approx(29.9)
    assert ok.lung_dose_at_lung_mass_gy == pytest.approx(29.9 / 2.88)
    assert (ok.lung_mass_basis, ok.lung_mass_kg) == (basis, 2.88)


def test_a_ct_mass_below_1kg_makes_the_limit_stricter() -> None:
    # 24 Gy at 1 kg is 30 Gy at 0.8 kg: the lung really receives more.
    below = solved(
        prescription={"activity_gbq": activity_for_lung(23.9)},
        lung_mass_kg=0.8,
        lung_mass_basis="ct_densitovolumetry",
    )
    assert below.session_lung_dose_gy == pytest.approx(23.9 / 0.8)
    assert below.lung_dose_convention_gy == pytest.approx(23.9)
    with pytest.raises(UnsafePlanError, match="lung_single"):
        solved(
            prescription={"activity_gbq": activity_for_lung(24.1)},
            lung_mass_kg=0.8,
            lung_mass_basis="ct_densitovolumetry",
        )


def test_a_lung_mass_without_its_basis_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        solved(lung_mass_kg=2.5)
    assert info.value.fields == ["lung_mass_basis"]
    # the convention value itself needs no basis (the shared example writes 1.0)
    assert solved(lung_mass_kg=1.0).lung_mass_basis == "convention_1kg"
    with pytest.raises(PlanError, match="lung_mass_kg"):
        plan_from_mapping(plan(lung_mass_kg=None, lung_mass_basis="stated"))


def test_energy_still_balances_with_a_measured_lung_mass() -> None:
    r = solved(lung_mass_kg=0.7, lung_mass_basis="stated")
    deposited, released = energy_balance_gy_kg(
        plan_from_mapping(plan(lung_mass_kg=0.7, lung_mass_basis="stated")), r
    )
    assert deposited == pytest.approx(released, rel=1e-12)


# ---------------------------------------------------------- item 3: cumulative lung dose
def test_a_prior_tare_session_without_lung_dose_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        solved(prior_treatments=[{"type": "tare", "territory": "left_lobe"}])
    assert info.value.fields == ["prior_treatments[0].lung_dose_gy"]
    assert "must not count as 0 Gy" in str(info.value)
    # PRRT has no lung dose to give
    assert solved(prior_treatments=[{"type": "prrt", "cycles": 4}]).prior_lung_dose_gy == 0


def test_a_prior_session_estimate_from_activity_and_lsf_is_labelled() -> None:
    r = solved(prior_treatments=[{"type": "tare", "activity_gbq": 2.0, "lung_shunt_fraction": 0.1}])
    (prior,) = r.prior_lung_doses
    assert prior.source == "estimated_from_activity_and_lsf"
    assert prior.dose_gy == pytest.approx(C * 2.0 * 0.1)
    assert r.cumulative_lung_dose_gy == pytest.approx(r.session_lung_dose_gy + C * 0.2)
    assert any("ESTIMATED" in w for w in r.warnings)


def test_listed_and_unlisted_prior_doses_are_summed_not_maxed() -> None:
    session = solved().session_lung_dose_gy  # 8.3 Gy
    # 21 + 21 + session > 50, while max(21, 21) + session < 50.
    over = {"prior_lung_dose_gy": 21.0, "prior_treatments": [{"type": "tare", "lung_dose_gy": 21}]}
    with pytest.raises(UnsafePlanError, match="lung_cumulative"):
        solved(**over)
    margin = 50 - session - 21.0
    under = solved(
        prior_lung_dose_gy=margin - 0.1,
        prior_treatments=[{"type": "tare", "lung_dose_gy": 21}],
    )
    assert under.prior_lung_dose_gy == pytest.approx(21 + margin - 0.1)
    assert under.cumulative_lung_dose_gy == pytest.approx(49.9)
    assert {x.source for x in under.prior_lung_doses} == {"recorded", "unlisted_sessions"}
    assert any("PLUS" in w and "set it to 0" in w for w in under.warnings)


def test_case_and_plan_prior_lung_doses_that_disagree_are_warned_about() -> None:
    case = make_case(workup__prior_lung_dose_gy=12.0)
    stated = with_case_history(plan_from_mapping(plan(prior_lung_dose_gy=5.0)), case)
    r = solve(stated)
    assert r.prior_lung_dose_gy == pytest.approx(12.0)
    assert any("the case says 12 Gy, the plan 5 Gy" in w for w in r.warnings)
    same = solve(with_case_history(plan_from_mapping(plan(prior_lung_dose_gy=12.0)), case))
    assert not any("the case says" in w for w in same.warnings)


def test_a_case_session_already_in_the_plan_counts_once() -> None:
    session = {"type": "tare", "lung_dose_gy": 10.0, "territory": "left_lobe"}
    case = make_case(history__prior_treatments=[session])
    r = solve(with_case_history(plan_from_mapping(plan(prior_treatments=[session])), case))
    assert r.prior_lung_dose_gy == pytest.approx(10.0)


# ---------------------------------------------------------------- item 4: overrides
def bsa_resin(lsf: float, **changes: Any) -> dict[str, Any]:
    return {
        "device": "resin",
        "method": "bsa",
        "prescription": None,
        "lung_shunt_fraction": lsf,
        "territories": [{"name": "whole", "volume_ml": 1650, "tumour_volume_ml": 410}],
        **changes,
    }


BSA_BASE = (bsa_m2(164, 70) - 0.2) + 410 / 1650


def test_overriding_the_resin_lsf_limit_needs_an_explicit_activity() -> None:
    # Before: 0.0022 GBq ("draw 0.1 %") presented as a normal plan.
    with pytest.raises(PlanError) as info:
        solved(**bsa_resin(0.25, override=OVERRIDE))
    assert info.value.fields == ["territories[0].prescription.activity_gbq"]
    r = solved(**bsa_resin(0.25, override=OVERRIDE, prescription={"activity_gbq": 0.8}))
    assert r.injected_activity_gbq == pytest.approx(0.8)
    assert r.territories[0].basis_activity_gbq == pytest.approx(BSA_BASE)
    assert next(c for c in r.checks if c.id == "resin_lsf").overridden
    # below the limit the BSA method gives the activity (a 40 % reduction at 20 %)
    at_limit = solved(**bsa_resin(0.20))
    assert at_limit.injected_activity_gbq == pytest.approx(BSA_BASE * 0.6)


def test_an_activity_that_is_a_tiny_fraction_of_its_basis_is_refused() -> None:
    floor = default_profile().parameters.min_activity_fraction_of_basis
    assert floor == 0.10
    with pytest.raises(UnsafePlanError, match="activity_fraction_of_basis"):
        solved(**bsa_resin(0.25, override=OVERRIDE, prescription={"activity_gbq": 0.0022}))
    with pytest.raises(UnsafePlanError, match="activity_fraction_of_basis"):
        solved(
            **bsa_resin(0.25, override=OVERRIDE, prescription={"activity_gbq": 0.099 * BSA_BASE})
        )
    ok = solved(
        **bsa_resin(0.25, override=OVERRIDE, prescription={"activity_gbq": 0.101 * BSA_BASE})
    )
    assert ok.injected_activity_gbq == pytest.approx(0.101 * BSA_BASE)


def test_a_bsa_plan_refuses_dose_targets() -> None:
    with pytest.raises(PlanError, match="takes no dose target"):
        plan_from_mapping(plan(**bsa_resin(0.05, prescription={"tumour_dose_gy": 100})))


# ---------------------------------------------------------------- item 5: the given vial
def glass_with_vial(size: float, calibration: str, **changes: Any) -> Any:
    return solved(
        treatment_start="2026-12-03T10:00:00+01:00",
        vial_calibration=calibration,
        vial_activity_gbq=size,
        **changes,
    )


def test_the_given_glass_vial_is_evaluated_first() -> None:
    r = glass_with_vial(5.0, "2026-11-30T12:00:00-05:00")
    (order,) = r.vial_order
    g = order.given_vial
    assert g is not None
    hours = (
        dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC) - dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC)
    ).total_seconds() / 3600
    assert g.activity_at_infusion_gbq == pytest.approx(5.0 * 2 ** (-hours / 64.1), rel=1e-12)
    needed = r.territories[0].vial_activity_gbq
    assert g.excess_fraction == pytest.approx(g.activity_at_infusion_gbq / needed - 1, rel=1e-12)
    assert g.injected_if_fully_infused_gbq == pytest.approx(g.activity_at_infusion_gbq * 0.99)
    k = g.injected_if_fully_infused_gbq / r.injected_activity_gbq
    assert g.doses_if_fully_infused_gy.tumour == pytest.approx(200 * k)
    assert g.within_tolerance and g.breaks_limits == ()


def test_a_given_vial_that_breaks_the_lung_limit_if_fully_infused_is_flagged() -> None:
    # Lung 28 Gy planned; a 20 GBq vial calibrated the same morning holds far more.
    rx = {"activity_gbq": activity_for_lung(28.0)}
    big = glass_with_vial(20.0, "2026-12-03T09:00:00+01:00", prescription=rx)
    g = big.vial_order[0].given_vial
    assert g is not None
    assert g.breaks_limits == ("lung_single", "lung_cumulative")
    assert not g.within_tolerance
    assert any("do not infuse it whole" in w for w in big.warnings)
    # a vial that holds just what is needed breaks nothing
    needed = big.territories[0].vial_activity_gbq
    fits = glass_with_vial(needed, "2026-12-03T09:00:00+00:00", prescription=rx)
    assert fits.vial_order[0].given_vial is not None
    assert fits.vial_order[0].given_vial.breaks_limits == ()


def test_a_given_calibration_without_size_restricts_the_options_to_it() -> None:
    r = solved(
        treatment_start="2026-12-03T10:00:00+01:00", vial_calibration="2026-11-30T12:00:00-05:00"
    )
    calibrations = {o.calibration for o in r.vial_order[0].glass_options}
    assert calibrations == {dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC)}


def test_vial_activity_needs_its_calibration_and_a_glass_device() -> None:
    with pytest.raises(PlanError, match="vial_calibration"):
        plan_from_mapping(plan(vial_activity_gbq=5.0, treatment_start="2026-12-03T10:00:00Z"))
    with pytest.raises(PlanError, match="vial_activity_gbq"):
        plan_from_mapping(
            plan(
                device="resin",
                vial_activity_gbq=3.0,
                vial_calibration="2026-12-03T18:00:00Z",
                treatment_start="2026-12-03T10:00:00Z",
            )
        )


# ---------------------------------------------------------------- item 7: one profile
def test_a_centre_resin_lsf_limit_changes_board_and_planner_alike(tmp_path: Path) -> None:
    centre = load_profile(profile_file(tmp_path, "  resin_lsf_max: 0.15\n"))
    resin = {"device": "resin", "lung_shunt_fraction": 0.17, "prescription": {"tumour_dose_gy": 60}}
    assert solved(**resin).checks  # default 20 %: solved
    with pytest.raises(UnsafePlanError, match="resin_lsf"):
        solve(plan_from_mapping(plan(**resin)), centre)
    below = solve(plan_from_mapping(plan(**{**resin, "lung_shunt_fraction": 0.149})), centre)
    assert next(c for c in below.checks if c.id == "resin_lsf").limit == 0.15
    case = make_case(workup__lung_shunt_fraction=0.17)
    rules = {f.rule_id for f in Assessor(centre).assess(case).option("tare_resin").findings}
    assert "tare.resin_lsf" in rules
    assert "tare.resin_lsf" not in {
        f.rule_id for f in Assessor().assess(case).option("tare_resin").findings
    }


def test_profile_lung_limits_and_tiers_reach_the_planner(tmp_path: Path) -> None:
    centre = load_profile(
        profile_file(
            tmp_path, "  lung_dose_limit_single_gy: 25\n  resin_lsf_no_reduction_below: 0.05\n"
        )
    )
    rx = {"prescription": {"activity_gbq": activity_for_lung(26.0)}}
    assert solved(**rx).session_lung_dose_gy == pytest.approx(26.0)
    with pytest.raises(UnsafePlanError, match="lung_single"):
        solve(plan_from_mapping(plan(**rx)), centre)
    ok = solve(
        plan_from_mapping(plan(prescription={"activity_gbq": activity_for_lung(24.9)})), centre
    )
    assert next(c for c in ok.checks if c.id == "lung_single").limit == 25
    # the resin tiers: 7 % is reduced by 20 % under the centre's 5 % cut-off
    bsa = plan_from_mapping(plan(**bsa_resin(0.07)))
    assert solve(bsa).injected_activity_gbq == pytest.approx(BSA_BASE)
    assert solve(bsa, centre).injected_activity_gbq == pytest.approx(BSA_BASE * 0.8)


def test_profile_dose_constant_unless_the_plan_states_one(tmp_path: Path) -> None:
    centre = load_profile(profile_file(tmp_path, "  dose_constant_gy_kg_per_gbq: 50\n"))
    unstated = plan_from_mapping(plan(physics=None))
    a49 = solve(unstated).injected_activity_gbq
    a50 = solve(unstated, centre).injected_activity_gbq
    assert a49 / a50 == pytest.approx(50 / 49.67, rel=1e-12)
    stated = solve(plan_from_mapping(plan()), centre)  # the example states 49.67
    assert stated.constants["dose_constant_gy_kg_per_gbq"] == 49.67
    assert any("differs from the profile" in w for w in stated.warnings)


def test_results_record_the_profile(tmp_path: Path) -> None:
    r = solved()
    assert (r.profile_id, r.profile_digest) == ("default", default_profile().digest)
    centre = load_profile(profile_file(tmp_path, "  resin_lsf_max: 0.15\n"))
    assert solve(plan_from_mapping(plan()), centre).profile_digest == centre.digest


def test_cli_plan_profile_and_lsf_mismatch_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resin = plan(device="resin", lung_shunt_fraction=0.17, prescription={"tumour_dose_gy": 60})
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(resin))
    centre = profile_file(tmp_path, "  resin_lsf_max: 0.15\n")
    assert main(["sirt", "plan", str(path), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["sirt", "plan", str(path), "--profile", str(centre)]) == 2
    assert "resin_lsf" in capsys.readouterr().err
    case = tmp_path / "case.yaml"
    case_doc = yaml.safe_load((SHARED / "examples" / "case-bilobar-tare.yaml").read_text())
    case_doc.setdefault("workup", {})["lung_shunt_fraction"] = 0.09
    case.write_text(yaml.safe_dump(case_doc))
    assert main(["sirt", "plan", str(path), "--case", str(case), "-f", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("lung shunt fraction: the case" in w for w in out["warnings"])
    case_doc["workup"]["lung_shunt_fraction"] = 0.17
    case.write_text(yaml.safe_dump(case_doc))
    assert main(["sirt", "plan", str(path), "--case", str(case), "-f", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not any("lung shunt fraction: the case" in w for w in out["warnings"])
    assert out["profile_id"] == "default"


# ------------------------------------------------------------- #10: BSA without T:N
def test_a_bsa_plan_with_tumour_volume_but_no_tn_solves() -> None:
    r = solved(**bsa_resin(0.05))
    (t,) = r.territories
    assert r.injected_activity_gbq == pytest.approx(BSA_BASE, rel=1e-12)
    assert t.doses_gy.tumour is None and t.doses_gy.normal_liver is None
    assert t.not_computable == ("tumour", "normal_liver")
    assert t.tumour_volume_ml == 410
    assert t.doses_gy.perfused == pytest.approx(
        C * BSA_BASE * 0.95 / (1650 * RHO / 1000), rel=1e-12
    )
    assert any("not computable" in w for w in r.warnings)
    deposited, released = energy_balance_gy_kg(plan_from_mapping(plan(**bsa_resin(0.05))), r)
    assert deposited == pytest.approx(released, rel=1e-12)
    assert math.isfinite(r.session_lung_dose_gy)


def test_other_methods_still_need_tn_with_a_tumour_volume() -> None:
    with pytest.raises(PlanError) as info:
        plan_from_mapping(plan(territories__0__tumour_to_normal_ratio=None))
    assert info.value.fields == ["territories"]
    assert "territories[0] (right_lobe): tumour_to_normal_ratio is needed" in str(info.value)


def test_a_result_stored_before_these_fields_is_still_readable() -> None:
    from netlm.report.plan import render_plan_markdown
    from netlm.sirt.planner import PlanResult

    stored = solved().model_dump(mode="json")
    for key in ("profile_id", "profile_digest", "lung_mass_basis", "lung_mass_convention_kg"):
        stored.pop(key)
    old = PlanResult.model_validate(stored)
    assert old.profile_id is None
    assert "lung mass: not recorded" in render_plan_markdown(old)


def test_partition_helpers_default_to_the_profile() -> None:
    from netlm.sirt.partition import lung_dose_gy, mird_dose_gy

    p = default_profile().parameters
    assert lung_dose_gy(2.0, lsf=0.1) == pytest.approx(
        p.dose_constant_gy_kg_per_gbq * 0.2 / p.lung_mass_kg
    )
    assert mird_dose_gy(1.0, 1.0, lsf=0.0) == pytest.approx(p.dose_constant_gy_kg_per_gbq)
