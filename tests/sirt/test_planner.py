"""Radioembolization planning: closed forms, invariants, safety limits, CLI."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import SHARED
from netlm.cli import main
from netlm.errors import PlanError, UnsafePlanError
from netlm.sirt.plan import plan_from_mapping
from netlm.sirt.planner import energy_balance_gy_kg, solve

EXAMPLE: dict[str, Any] = yaml.safe_load(
    (SHARED / "examples" / "sirt-plan-partition-glass.yaml").read_text()
)
C, RHO = 49.67, 1.03


def plan(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return doc


def solved(**changes: Any):  # type: ignore[no-untyped-def]
    return solve(plan_from_mapping(plan(**changes)))


def test_shared_example_partition_closed_form() -> None:
    # right lobe 1050 mL incl. 300 mL tumour, T:N 3.2, LSF 0.07, tumour 200 Gy
    m_t, m_n = 300 * RHO / 1000, 750 * RHO / 1000
    d_n = 200 / 3.2
    a = (200 * m_t + d_n * m_n) / (C * (1 - 0.07))
    r = solved()
    assert r.injected_activity_gbq == pytest.approx(a, rel=1e-4)
    t = r.territories[0]
    assert t.doses_gy.tumour == pytest.approx(200, rel=1e-4)
    assert t.doses_gy.normal_liver == pytest.approx(d_n, rel=1e-4)
    assert t.doses_gy.perfused == pytest.approx(C * a * 0.93 / (1050 * RHO / 1000), rel=1e-4)
    assert r.session_lung_dose_gy == pytest.approx(C * a * 0.07 / 1.0, rel=1e-4)
    assert r.vial_activity_gbq == pytest.approx(a / (1 - 0.01), rel=1e-4)
    assert r.constants["dose_constant_gy_kg_per_gbq"] == 49.67


@pytest.mark.parametrize("target", ["normal_liver_dose_gy", "perfused_dose_gy"])
def test_other_prescription_targets_are_met(target: str) -> None:
    r = solved(prescription={target: 55.0})
    d = r.territories[0].doses_gy
    got = d.normal_liver if target == "normal_liver_dose_gy" else d.perfused
    assert got == pytest.approx(55.0, rel=1e-9)


def test_partition_with_tn_1_equals_single_compartment() -> None:
    part = solved(territories__0__tumour_to_normal_ratio=1.0, prescription={"tumour_dose_gy": 120})
    mird = solved(
        method="mird",
        territories__0__tumour_to_normal_ratio=1.0,
        prescription={"perfused_dose_gy": 120},
    )
    assert part.injected_activity_gbq == pytest.approx(mird.injected_activity_gbq, rel=1e-12)
    d = part.territories[0].doses_gy
    assert d.tumour == pytest.approx(d.normal_liver, rel=1e-12)
    assert d.perfused == pytest.approx(120, rel=1e-12)


def test_several_tumours_with_their_own_tn() -> None:
    tumours = [
        {"name": "A", "volume_ml": 100, "tumour_to_normal_ratio": 4.0},
        {"name": "B", "volume_ml": 200, "tumour_to_normal_ratio": 2.0},
    ]
    r = solved(
        territories=[{"name": "rl", "volume_ml": 1050, "tumours": tumours}],
        prescription={"normal_liver_dose_gy": 40},
    )
    t = r.territories[0]
    assert t.tumour_doses_gy == pytest.approx({"A": 160.0, "B": 80.0})
    # mass-weighted mean of the two tumours
    assert t.doses_gy.tumour == pytest.approx((100 * 160 + 200 * 80) / 300)
    m = [x * RHO / 1000 for x in (100, 200, 750)]
    a = 40 * (4 * m[0] + 2 * m[1] + m[2]) / (C * 0.93)
    assert r.injected_activity_gbq == pytest.approx(a, rel=1e-12)


def test_several_territories_add_up_in_the_lungs() -> None:
    two = [
        {"name": "right", "volume_ml": 1000, "tumour_volume_ml": 250, "tumour_to_normal_ratio": 3},
        {"name": "seg4", "volume_ml": 200, "tumour_volume_ml": 50, "tumour_to_normal_ratio": 3},
    ]
    r = solved(territories=two)
    assert r.injected_activity_gbq == pytest.approx(
        sum(t.injected_activity_gbq for t in r.territories)
    )
    assert r.session_lung_dose_gy == pytest.approx(C * r.injected_activity_gbq * 0.07)
    assert set(r.doses_gy) == {"right", "seg4"}


def test_bsa_method_closed_form() -> None:
    r = solved(
        device="resin",
        method="bsa",
        bsa_formula="mosteller",
        prescription=None,
        lung_shunt_fraction=0.12,
        territories=[
            {
                "name": "whole",
                "volume_ml": 1650,
                "tumour_volume_ml": 410,
                "tumour_to_normal_ratio": 3,
            }
        ],
    )
    bsa = math.sqrt(164 * 70 / 3600)
    expected = ((bsa - 0.2) + 410 / 1650) * (1 - 0.2)  # LSF 12 %: reduce 20 %
    assert r.injected_activity_gbq == pytest.approx(expected, rel=1e-12)
    assert r.constants["bsa_formula"] == "mosteller"


def test_bsa_lobar_is_scaled_by_the_perfused_fraction() -> None:
    common = {"device": "resin", "method": "bsa", "prescription": None}
    whole = solved(territories=[{"name": "w", "volume_ml": 1650}], **common)
    lobe = solved(territories=[{"name": "r", "volume_ml": 825}], **common)
    assert lobe.injected_activity_gbq == pytest.approx(whole.injected_activity_gbq / 2)
    assert any("perfused fraction" in w for w in lobe.warnings)


# ---------------------------------------------------------------------------- safety
def test_lung_dose_above_30_gy_is_refused() -> None:
    with pytest.raises(UnsafePlanError, match="lung_single"):
        solved(lung_shunt_fraction=0.25, prescription={"tumour_dose_gy": 400})


def test_cumulative_lung_dose_is_refused_with_prior_dose() -> None:
    ok = solved()
    assert ok.session_lung_dose_gy < 30
    prior = 50 - ok.session_lung_dose_gy + 0.5
    with pytest.raises(UnsafePlanError, match="lung_cumulative"):
        solved(prior_lung_dose_gy=prior)
    # the same prior dose recorded as a prior TARE session counts too
    with pytest.raises(UnsafePlanError, match="lung_cumulative"):
        solved(prior_treatments=[{"type": "tare", "lung_dose_gy": prior}])


def test_resin_lsf_above_20_percent_is_refused_and_override_is_recorded() -> None:
    resin = {"device": "resin", "lung_shunt_fraction": 0.21, "prescription": {"tumour_dose_gy": 60}}
    with pytest.raises(UnsafePlanError, match="resin_lsf"):
        solved(**resin)
    override = {
        "reason": "palliation of refractory carcinoid syndrome, board 2026-11-20",
        "approved_by": "Dr A. Physicist",
    }
    # An overridden LSF limit needs an explicitly prescribed activity (issue #11 item 4).
    with pytest.raises(PlanError, match=r"prescription\.activity_gbq"):
        solved(override=override, **resin)
    r = solved(override=override, **{**resin, "prescription": {"activity_gbq": 1.2}})
    assert r.injected_activity_gbq == pytest.approx(1.2)
    check = next(c for c in r.checks if c.id == "resin_lsf")
    assert check.overridden and not check.passed
    assert r.override is not None and r.override.approved_by == "Dr A. Physicist"
    assert any("OVERRIDE" in w for w in r.warnings)


def test_override_limited_to_other_limits_does_not_cover() -> None:
    with pytest.raises(UnsafePlanError, match="resin_lsf"):
        solved(
            device="resin",
            lung_shunt_fraction=0.21,
            prescription={"tumour_dose_gy": 60},
            override={
                "reason": "covers lung only, on purpose",
                "approved_by": "Dr B",
                "limits": ["lung_single"],
            },
        )


def test_override_needs_a_reason() -> None:
    with pytest.raises(PlanError, match=r"override\.reason"):
        plan_from_mapping(plan(override={"reason": "ok", "approved_by": "Dr B"}))


def test_glass_is_limited_by_lung_dose_not_lsf() -> None:
    r = solved(lung_shunt_fraction=0.22, prescription={"tumour_dose_gy": 100})
    assert r.session_lung_dose_gy < 30
    assert all(c.id != "resin_lsf" for c in r.checks)


def test_checks_report_limit_value_margin_and_source() -> None:
    r = solved()
    lung = next(c for c in r.checks if c.id == "lung_single")
    assert lung.limit == 30 and lung.value == pytest.approx(r.session_lung_dose_gy)
    assert lung.margin == pytest.approx(30 - r.session_lung_dose_gy)
    assert lung.sources and "seed 004" in " ".join(lung.sources)


def test_net_evidence_checks_for_resin_partition() -> None:
    r = solved(device="resin", prescription={"tumour_dose_gy": 150})
    ids = {c.id: c for c in r.checks}
    assert ids["net_resin_response_191"].passed is False
    assert ids["net_resin_no_response_72"].passed is True
    assert ids["net_tumour_minimum_100"].passed is True


# ---------------------------------------------------------------------------- history
def test_history_flags_retreatment_and_prior_prrt() -> None:
    r = solved(
        territories__0__name="right_lobe",
        prior_treatments=[
            {"type": "tare", "territory": "right_lobe", "liver_dose_gy": 45, "lung_dose_gy": 4},
            {"type": "prrt", "cycles": 4},
        ],
    )
    text = " ".join(r.warnings)
    assert "RETREATMENT" in text
    assert "prior PRRT (4 cycle(s)" in text


# ---------------------------------------------------------------------------- optimise
def test_optimisation_largest_activity_and_infeasible_target() -> None:
    r = solved(optimise={"normal_liver_max_gy": 40, "lung_max_gy": 30, "tumour_min_gy": 150})
    o = r.optimisation[0]
    m_t, m_n = 300 * RHO / 1000, 750 * RHO / 1000
    per_gbq_normal = C * 0.93 / (3.2 * m_t + m_n)
    assert o.max_activity_gbq == pytest.approx(40 / per_gbq_normal, rel=1e-9)
    assert o.binding_limit is not None and "normal liver" in o.binding_limit
    assert o.feasible is False  # 150 Gy tumour needs 46.9 Gy normal liver at T:N 3.2
    assert "cannot reach 150 Gy" in o.explanation
    ok = solved(optimise={"normal_liver_max_gy": 50, "tumour_min_gy": 150}).optimisation[0]
    assert ok.feasible is True
    assert ok.activity_for_tumour_gbq == pytest.approx(150 / (3.2 * per_gbq_normal), rel=1e-9)


# ---------------------------------------------------------------------------- uncertainty
def test_uncertainty_with_zero_sd_collapses_to_the_nominal_doses() -> None:
    r = solved(uncertainty={"samples": 200, "seed": 3})
    assert r.uncertainty is not None
    iv = r.uncertainty.doses_gy[r.territories[0].name]["tumour"]
    assert iv.p5 == pytest.approx(200) and iv.p95 == pytest.approx(200)


def test_uncertainty_intervals_are_ordered_and_reproducible() -> None:
    u = {
        "volume_relative_sd": 0.1,
        "lung_shunt_fraction_relative_sd": 0.2,
        "tumour_to_normal_relative_sd": 0.25,
        "activity_relative_sd": 0.05,
        "samples": 2000,
        "seed": 11,
    }
    a, b = solved(uncertainty=u), solved(uncertainty=u)
    assert a.uncertainty == b.uncertainty
    assert a.uncertainty is not None
    for comps in a.uncertainty.doses_gy.values():
        for iv in comps.values():
            assert iv.p5 < iv.p50 < iv.p95
    tumour = a.uncertainty.doses_gy[a.territories[0].name]["tumour"]
    assert tumour.p5 < 200 < tumour.p95


# ---------------------------------------------------------------------------- invariants
@given(
    activity=st.floats(0.1, 10),
    k=st.floats(0.1, 5),
    lsf=st.floats(0, 0.15),
    tn=st.floats(0.5, 8),
)
def test_dose_is_linear_in_activity_and_energy_balances(
    activity: float, k: float, lsf: float, tn: float
) -> None:
    base = {
        "lung_shunt_fraction": lsf,
        "territories__0__tumour_to_normal_ratio": tn,
        "override": {"reason": "invariant test only", "approved_by": "test"},
    }
    one = solved(prescription={"activity_gbq": activity}, **base)
    two = solved(prescription={"activity_gbq": min(activity * k, 30)}, **base)
    ratio = two.injected_activity_gbq / one.injected_activity_gbq
    for a, b in zip(one.territories, two.territories, strict=True):
        assert b.doses_gy.normal_liver == pytest.approx(ratio * a.doses_gy.normal_liver)
        assert b.doses_gy.tumour == pytest.approx(ratio * a.doses_gy.tumour)
    p = plan_from_mapping(plan(prescription={"activity_gbq": activity}, **base))
    deposited, released = energy_balance_gy_kg(p, one)
    assert deposited == pytest.approx(released, rel=1e-12)


@given(lsf=st.floats(0, 0.5), more=st.floats(0.001, 0.4))
def test_activity_increases_with_lsf(lsf: float, more: float) -> None:
    hi = min(lsf + more, 0.9)
    a = solved(
        method="mird",
        prescription={"perfused_dose_gy": 50},
        lung_shunt_fraction=lsf,
        override={"reason": "invariant test only", "approved_by": "test"},
    )
    b = solved(
        method="mird",
        prescription={"perfused_dose_gy": 50},
        lung_shunt_fraction=hi,
        override={"reason": "invariant test only", "approved_by": "test"},
    )
    assert b.injected_activity_gbq > a.injected_activity_gbq


@given(residual=st.floats(0, 0.3))
def test_residual_changes_vial_activity_only(residual: float) -> None:
    a = solved(expected_residual_fraction=0.0)
    b = solved(expected_residual_fraction=residual)
    assert b.injected_activity_gbq == a.injected_activity_gbq
    assert b.doses_gy == a.doses_gy
    assert b.vial_activity_gbq == pytest.approx(a.injected_activity_gbq / (1 - residual))


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lung_shunt_fraction": 1.0}, "lung_shunt_fraction"),
        ({"territories__0__tumour_volume_ml": 2000}, "territories[0].tumour_volume_ml"),
        ({"territories__0__tumour_to_normal_ratio": -1}, "territories[0].tumour_to_normal_ratio"),
        ({"treatment_start": "2026-12-03T10:00:00"}, "treatment_start"),
        ({"device": "ceramic"}, "device"),
        ({"prescription": {"tumour_dose_gy": 100, "activity_gbq": 2}}, "prescription"),
        ({"prescription": None}, "prescription"),
        ({"method": "bsa"}, "method"),
        ({"territories": []}, "territories"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_plans_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PlanError) as info:
        plan_from_mapping(plan(**changes))
    assert field in info.value.fields, info.value.problems


def test_tumour_prescription_without_tumour_is_an_error() -> None:
    with pytest.raises(PlanError, match="needs tumours"):
        solved(territories=[{"name": "x", "volume_ml": 500}])


# ---------------------------------------------------------------------------- CLI
def test_cli_plan_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "sirt",
                "plan",
                str(SHARED / "examples" / "sirt-plan-partition-glass.yaml"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in (
        "injected_activity_gbq",
        "vial_activity_gbq",
        "doses_gy",
        "checks",
        "vial_order",
        "constants",
        "warnings",
    ):
        assert key in out
    assert set(out["doses_gy"]["right_lobe"]) == {"tumour", "normal_liver", "perfused", "lung"}


def test_cli_unsafe_plan_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(plan(lung_shunt_fraction=0.3, prescription={"tumour_dose_gy": 400}))
    )
    assert main(["sirt", "plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "lung_single" in err and "Traceback" not in err


def test_cli_decay(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["sirt", "decay", "10", "2026-12-01T12:00:00+00:00", "2026-12-04T04:06:00+00:00"]) == 0
    )
    assert "5.0000 GBq" in capsys.readouterr().out  # 64.1 h later: half
    assert main(["sirt", "decay", "10", "2026-12-01T12:00:00", "2026-12-02T12:00:00"]) == 2


def test_case_history_adds_to_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    case = SHARED / "examples" / "case-bilobar-tare.yaml"  # 4 cycles of PRRT
    plan_file = SHARED / "examples" / "sirt-plan-partition-glass.yaml"
    assert main(["sirt", "plan", str(plan_file), "--case", str(case), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("prior PRRT (4 cycle(s)" in w for w in out["warnings"])
    assert main(["sirt", "plan", str(plan_file), "--format", "json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert not any("PRRT" in w for w in alone["warnings"])


def test_pretreated_liver_gets_the_stricter_resin_limit() -> None:
    resin = {"device": "resin", "prescription": {"normal_liver_dose_gy": 35}}
    fresh = {c.id for c in solved(**resin).checks}
    assert "resin_normal_liver_40" in fresh
    assert "resin_normal_liver_30_compromised" not in fresh
    after_prrt = solved(prior_treatments=[{"type": "prrt", "cycles": 4}], **resin)
    check = next(c for c in after_prrt.checks if c.id == "resin_normal_liver_30_compromised")
    assert not check.passed and check.value == pytest.approx(35)
    assert any("above 30 Gy" in w for w in after_prrt.warnings)
    explicit = solved(compromised_liver=False, prior_treatments=[{"type": "prrt"}], **resin)
    assert "resin_normal_liver_30_compromised" not in {c.id for c in explicit.checks}
