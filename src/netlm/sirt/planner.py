"""Solve a radioembolization plan: activity, compartment doses, checks, vials.

For each territory the activity comes from the method (BSA for resin, the
single-compartment MIRD model, or the partition model) and its prescription;
every compartment's dose is then reported (tumour, normal liver, perfused,
lung).  With several tumours in a territory the *tumour dose* prescribed and
reported is their mass-weighted mean; each tumour's own dose is listed too.
The session's lung dose is the sum over territories, checked against 30 Gy
per treatment and 50 Gy cumulative with the prior lung dose.

A plan that breaks a hard limit raises :class:`~netlm.errors.UnsafePlanError`
unless it carries an ``override`` with a reason; the override is then recorded
in the result with every limit it covered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from netlm import __version__
from netlm.case.model import Case, TreatmentType
from netlm.errors import PlanError, UnsafePlanError
from netlm.evidence import get_source
from netlm.sirt import devices as dev
from netlm.sirt import radiobiology as rb
from netlm.sirt.bsa import bsa_activity_gbq, bsa_m2, resin_lsf_tier
from netlm.sirt.partition import DosesPerGbq, Tumour, doses_per_gbq
from netlm.sirt.plan import Override, Plan, PlanTerritory
from netlm.sirt.presets import CONSTRAINTS, Constraint, Severity


class CompartmentDoses(BaseModel):
    model_config = ConfigDict(frozen=True)

    tumour: float | None = Field(description="Mass-weighted mean tumour dose (Gy).")
    normal_liver: float
    perfused: float
    lung: float


class TerritoryResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    injected_activity_gbq: float
    vial_activity_gbq: float
    perfused_volume_ml: float
    tumour_volume_ml: float
    doses_gy: CompartmentDoses
    tumour_doses_gy: dict[str, float]
    activity_basis: str
    bed_gy: dict[str, float]


class Check(BaseModel):
    """One constraint evaluated on the plan (like an assessment finding)."""

    model_config = ConfigDict(frozen=True)

    id: str
    description: str
    territory: str | None
    severity: Severity
    bound: str
    limit: float
    value: float
    unit: str
    margin: float = Field(description="How far inside the limit (negative: breached).")
    passed: bool
    overridden: bool = False
    population: str
    sources: tuple[str, ...]


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    p5: float
    p50: float
    p95: float


class UncertaintyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    samples: int
    seed: int
    doses_gy: dict[str, dict[str, Interval]] = Field(
        description="Per territory, 5th/50th/95th percentile of each compartment dose."
    )
    session_lung_gy: Interval


class OptimisationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    territory: str
    max_activity_gbq: float | None
    binding_limit: str | None
    activity_for_tumour_gbq: float | None
    feasible: bool | None
    explanation: str


class VialOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    territory: str
    needed_at_infusion_gbq: float
    glass_options: tuple[dev.VialOption, ...] = ()
    resin_draw: dev.ResinDraw | None = None
    spheres_delivered: float | None = None
    note: str | None = None


class PlanResult(BaseModel):
    """The solved plan: the JSON contract of ``netlm sirt plan``."""

    model_config = ConfigDict(frozen=True)

    case: str | None
    device: str
    method: str
    injected_activity_gbq: float
    vial_activity_gbq: float
    territories: tuple[TerritoryResult, ...]
    doses_gy: dict[str, CompartmentDoses] = Field(description="Per territory name.")
    session_lung_dose_gy: float
    cumulative_lung_dose_gy: float
    checks: tuple[Check, ...]
    vial_order: tuple[VialOrder, ...]
    constants: dict[str, float | str]
    warnings: tuple[str, ...]
    override: Override | None
    uncertainty: UncertaintyResult | None
    optimisation: tuple[OptimisationResult, ...]
    netlm_version: str
    inputs_digest: str


# ---------------------------------------------------------------------------- helpers
def _kind(t: PlanTerritory, plan: Plan) -> str:
    if t.kind:
        return t.kind
    if plan.whole_liver_volume_ml and t.volume_ml >= 0.999 * plan.whole_liver_volume_ml:
        return "whole_liver"
    return "unspecified"


def _dpg(plan: Plan, t: PlanTerritory, *, lsf: float | None = None) -> DosesPerGbq:
    phys = plan.physics
    tumours = [
        Tumour(x.name, phys.mass_kg(x.volume_ml), x.tumour_to_normal_ratio) for x in t.tumour_list
    ]
    return doses_per_gbq(
        normal_mass_kg=phys.mass_kg(t.volume_ml - t.total_tumour_ml),
        tumours=tumours,
        lsf=plan.lung_shunt_fraction if lsf is None else lsf,
        constant_gy_kg_per_gbq=phys.dose_constant_gy_kg_per_gbq,
        lung_mass_kg=plan.lung_mass,
    )


def _mean_tumour(t: PlanTerritory, d: DosesPerGbq) -> float | None:
    tumours = t.tumour_list
    if not tumours:
        return None
    total = sum(x.volume_ml for x in tumours)
    return sum(x.volume_ml * dose for x, dose in zip(tumours, d.tumours, strict=True)) / total


def _activity(
    plan: Plan, t: PlanTerritory, d: DosesPerGbq, warnings: list[str]
) -> tuple[float, str]:
    if plan.method == "bsa":
        height, weight = plan.patient.height_cm, plan.patient.weight_kg
        liver_ml = plan.whole_liver_volume_ml
        if height is None or weight is None or liver_ml is None:  # pragma: no cover - validated
            raise PlanError([("method", "the BSA method needs height, weight and liver volume")])
        bsa = bsa_m2(height, weight, plan.bsa_formula)
        fraction = t.volume_ml / liver_ml
        base = bsa_activity_gbq(
            bsa,
            liver_volume_ml=liver_ml,
            liver_tumour_volume_ml=plan.whole_liver_tumour_volume_ml or 0.0,
            perfused_fraction=min(1.0, fraction),
        )
        tier = resin_lsf_tier(plan.lung_shunt_fraction)
        if base <= 0:
            raise PlanError([("patient", f"BSA {bsa:.2f} m² gives no activity")])
        activity = base * (1.0 - min(tier.reduction_fraction, 0.999))
        basis = (
            f"BSA ({plan.bsa_formula.value}) {bsa:.3f} m2: {base:.3f} GBq x perfused fraction "
            f"{fraction:.3f} included; {tier.rule}"
        )
        if fraction < 1:
            warnings.append(
                f"{t.name}: lobar BSA activity scaled by the perfused fraction "
                "[U: lobar_bsa_scaling]"
            )
        return activity, basis
    rx = t.prescription or plan.prescription
    target = rx.target if rx else None
    if target is None:  # pragma: no cover - the plan model requires one
        raise PlanError([("prescription", "is required")])
    name, value = target
    if name == "activity_gbq":
        return value, f"prescribed activity {value:g} GBq"
    if name == "perfused_dose_gy":
        return value / d.perfused, f"perfused dose {value:g} Gy (single compartment)"
    if name == "normal_liver_dose_gy":
        return value / d.normal_liver, f"normal-liver dose {value:g} Gy (partition)"
    mean = _mean_tumour(t, d)
    if mean is None:
        raise PlanError(
            [(f"territories.{t.name}", "a tumour-dose prescription needs tumours in the territory")]
        )
    return value / mean, f"mean tumour dose {value:g} Gy (partition)"


def _applies(c: Constraint, plan: Plan, kind: str) -> bool:
    if c.only_if_compromised_liver and not plan.liver_compromised:
        return False
    return plan.device in c.devices and plan.method in c.methods and kind in c.territory_kinds


def _check(c: Constraint, value: float, territory: str | None) -> Check:
    margin = c.value - value if c.bound == "max" else value - c.value
    return Check(
        id=c.id,
        description=c.description,
        territory=territory,
        severity=c.severity,
        bound=c.bound,
        limit=c.value,
        value=value,
        unit=c.unit,
        margin=margin,
        passed=margin >= -1e-12,
        population=c.population,
        sources=tuple(get_source(s).cite() for s in c.source_ids),
    )


def _prior_lung_dose(plan: Plan) -> float:
    recorded = sum(
        t.lung_dose_gy or 0.0 for t in plan.prior_treatments if t.type is TreatmentType.TARE
    )
    return max(plan.prior_lung_dose_gy, recorded)


def _history_warnings(plan: Plan) -> list[str]:
    out: list[str] = []
    names = {t.name for t in plan.territories} | {
        "whole_liver" for t in plan.territories if t.kind == "whole_liver"
    }
    for prior in plan.prior_treatments:
        if prior.type is TreatmentType.TARE:
            where = prior.territory.value if prior.territory else "territory not recorded"
            dose = f", {prior.liver_dose_gy:g} Gy" if prior.liver_dose_gy is not None else ""
            same = prior.territory is not None and (
                prior.territory.value in names or prior.territory.value == "whole_liver"
            )
            out.append(
                f"prior TARE ({where}{dose}): "
                + (
                    "RETREATMENT of a treated territory - extreme caution, review the dose "
                    "already received (seed 004, General Recommendations)"
                    if same
                    else "count its liver dose in the normal-liver exposure"
                )
            )
        if prior.type in (TreatmentType.PRRT, TreatmentType.PRRT_INTRAARTERIAL):
            cycles = prior.cycles or 1
            dose = f", liver {prior.liver_dose_gy:g} Gy" if prior.liver_dose_gy is not None else ""
            out.append(
                f"prior PRRT ({cycles} cycle(s){dose}): the whole liver is already irradiated; "
                "liver radiation adds up (seed 004, Sequencing with PRRT; Braat: fatal REILD 1/44)"
            )
    return out


def _percentiles(values: np.ndarray) -> Interval:
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return Interval(p5=float(p5), p50=float(p50), p95=float(p95))


def _uncertainty(plan: Plan, activities: Sequence[float]) -> UncertaintyResult | None:
    u = plan.uncertainty
    if u is None:
        return None
    rng = np.random.default_rng(u.seed)
    n = u.samples
    phys = plan.physics

    def factor(sd: float) -> np.ndarray:
        # Multiplicative normal error, truncated to stay positive.
        return np.clip(rng.normal(1.0, sd, n), 0.05, None)

    lsf = np.clip(plan.lung_shunt_fraction * factor(u.lung_shunt_fraction_relative_sd), 0, 0.99)
    lung_total = np.zeros(n)
    per_territory: dict[str, dict[str, Interval]] = {}
    c = phys.dose_constant_gy_kg_per_gbq
    for t, activity in zip(plan.territories, activities, strict=True):
        a = activity * factor(u.activity_relative_sd)
        tumours = t.tumour_list
        tumour_mass = [phys.mass_kg(x.volume_ml) * factor(u.volume_relative_sd) for x in tumours]
        tn = [x.tumour_to_normal_ratio * factor(u.tumour_to_normal_relative_sd) for x in tumours]
        normal_mass = phys.mass_kg(t.volume_ml - t.total_tumour_ml) * factor(u.volume_relative_sd)
        weighted = normal_mass + sum(
            (r * m for r, m in zip(tn, tumour_mass, strict=True)), start=np.zeros(n)
        )
        liver_energy = c * a * (1 - lsf)
        normal = liver_energy / weighted
        perfused = liver_energy / (normal_mass + sum(tumour_mass, start=np.zeros(n)))
        lung = c * a * lsf / plan.lung_mass
        lung_total += lung
        doses = {"normal_liver": normal, "perfused": perfused, "lung": lung}
        if tumours:
            tumour_mean = sum(
                (r * normal * m for r, m in zip(tn, tumour_mass, strict=True)), start=np.zeros(n)
            ) / sum(tumour_mass, start=np.zeros(n))
            doses["tumour"] = tumour_mean
        per_territory[t.name] = {k: _percentiles(v) for k, v in doses.items()}
    return UncertaintyResult(
        samples=n, seed=u.seed, doses_gy=per_territory, session_lung_gy=_percentiles(lung_total)
    )


def _optimise(
    plan: Plan, dpgs: Sequence[DosesPerGbq], activities: Sequence[float]
) -> tuple[OptimisationResult, ...]:
    o = plan.optimise
    if o is None:
        return ()
    prior = _prior_lung_dose(plan)
    lung_cap = o.lung_max_gy if o.lung_max_gy is not None else 30.0
    lung_budget_total = min(lung_cap, 50.0 - prior)
    results = []
    for i, (t, d) in enumerate(zip(plan.territories, dpgs, strict=True)):
        others = sum(
            dd.lung * a for j, (dd, a) in enumerate(zip(dpgs, activities, strict=True)) if j != i
        )
        caps: list[tuple[float, str]] = []
        budget = lung_budget_total - others
        if d.lung > 0:
            caps.append(
                (
                    max(budget, 0.0) / d.lung,
                    f"lung <= {lung_budget_total:g} Gy (incl. prior {prior:g} Gy)",
                )
            )
        if o.normal_liver_max_gy is not None:
            caps.append(
                (
                    o.normal_liver_max_gy / d.normal_liver,
                    f"normal liver <= {o.normal_liver_max_gy:g} Gy",
                )
            )
        a_max, binding = min(caps) if caps else (None, None)
        mean = _mean_tumour(t, d)
        needed = o.tumour_min_gy / mean if (o.tumour_min_gy and mean) else None
        if needed is None:
            feasible = None
            text = (
                f"at most {a_max:.3f} GBq ({binding})"
                if a_max is not None
                else "no limit given to optimise against"
            )
        elif a_max is None or needed <= a_max:
            feasible = True
            text = f"{needed:.3f} GBq reaches a mean tumour dose of {o.tumour_min_gy:g} Gy"
            if a_max is not None:
                text += f" within the limits (max {a_max:.3f} GBq, {binding})"
        else:
            feasible = False
            reached = a_max * (mean or 0.0)
            text = (
                f"cannot reach {o.tumour_min_gy:g} Gy: it needs {needed:.3f} GBq but {binding} "
                f"allows {a_max:.3f} GBq, giving {reached:.1f} Gy to the tumour"
            )
        results.append(
            OptimisationResult(
                territory=t.name,
                max_activity_gbq=a_max,
                binding_limit=binding,
                activity_for_tumour_gbq=needed,
                feasible=feasible,
                explanation=text,
            )
        )
    return tuple(results)


def _vials(
    plan: Plan, results: Sequence[TerritoryResult], warnings: list[str]
) -> tuple[VialOrder, ...]:
    device = dev.get_device(plan.device)
    if plan.treatment_start is None:
        warnings.append("no treatment_start: vial ordering skipped")
        return tuple(
            VialOrder(
                territory=r.name,
                needed_at_infusion_gbq=r.vial_activity_gbq,
                note="give treatment_start (with time zone) to order a vial",
            )
            for r in results
        )
    orders = []
    for r in results:
        if plan.device == "glass":
            options = dev.glass_vial_options(
                r.vial_activity_gbq,
                plan.treatment_start,
                device=device,
                half_life_h=plan.physics.y90_half_life_h,
            )
            spheres = None
            if options:
                best = options[0]
                spheres = dev.spheres_delivered(
                    device,
                    r.injected_activity_gbq,
                    vial_activity_at_infusion_gbq=best.activity_at_infusion_gbq,
                    vial_calibration_activity_gbq=best.size_gbq,
                )
            orders.append(
                VialOrder(
                    territory=r.name,
                    needed_at_infusion_gbq=r.vial_activity_gbq,
                    glass_options=options[:8],
                    spheres_delivered=spheres,
                    note=None
                    if options
                    else "no glass vial fits: split the dose or change the day",
                )
            )
        else:
            calibration = plan.vial_calibration or plan.treatment_start
            if plan.vial_calibration is None:
                warnings.append(
                    "no vial_calibration: the resin vial is assumed calibrated at "
                    "the treatment time"
                )
            draw = dev.resin_draw(
                r.vial_activity_gbq,
                plan.treatment_start,
                calibration,
                device=device,
                half_life_h=plan.physics.y90_half_life_h,
            )
            spheres = dev.spheres_delivered(
                device,
                r.injected_activity_gbq,
                vial_activity_at_infusion_gbq=draw.vial_activity_at_infusion_gbq,
                vial_calibration_activity_gbq=draw.vial_gbq_at_calibration,
            )
            orders.append(
                VialOrder(
                    territory=r.name,
                    needed_at_infusion_gbq=r.vial_activity_gbq,
                    resin_draw=draw,
                    spheres_delivered=spheres,
                )
            )
    return tuple(orders)


def with_case_history(plan: Plan, case: Case) -> Plan:
    """``plan`` with the case's prior treatments and prior lung dose added.

    Prior treatments already in the plan are kept; the larger of the two prior
    lung doses is used (they describe the same lungs).
    """
    history = case.history.prior_treatments or ()
    prior_lung = max(plan.prior_lung_dose_gy, case.workup.prior_lung_dose_gy or 0.0)
    return plan.model_copy(
        update={
            "prior_treatments": (*plan.prior_treatments, *history),
            "prior_lung_dose_gy": prior_lung,
            "case": plan.case or case.patient.id,
        }
    )


# ---------------------------------------------------------------------------- solve
def solve(plan: Plan) -> PlanResult:
    """Solve ``plan``.

    Raises
    ------
    UnsafePlanError
        If a hard limit is broken and no override with a reason covers it.
    PlanError
        If the plan cannot be solved (e.g. a tumour-dose prescription with no tumour).
    """
    warnings: list[str] = []
    device = dev.get_device(plan.device)
    residual = (
        plan.expected_residual_fraction
        if plan.expected_residual_fraction is not None
        else device.expected_residual_fraction
    )
    dpgs = [_dpg(plan, t) for t in plan.territories]
    results: list[TerritoryResult] = []
    activities: list[float] = []
    for t, d in zip(plan.territories, dpgs, strict=True):
        activity, basis = _activity(plan, t, d, warnings)
        activities.append(activity)
        mean = _mean_tumour(t, d)
        doses = CompartmentDoses(
            tumour=None if mean is None else mean * activity,
            normal_liver=d.normal_liver * activity,
            perfused=d.perfused * activity,
            lung=d.lung * activity,
        )
        bed = {
            "normal_liver": rb.bed_from_preset(
                doses.normal_liver, "normal_liver", plan.physics.y90_half_life_h
            ),
        }
        if doses.tumour is not None:
            bed["tumour"] = rb.bed_from_preset(doses.tumour, "tumour", plan.physics.y90_half_life_h)
        results.append(
            TerritoryResult(
                name=t.name,
                kind=_kind(t, plan),
                injected_activity_gbq=activity,
                vial_activity_gbq=dev.vial_activity_needed_gbq(activity, residual),
                perfused_volume_ml=t.volume_ml,
                tumour_volume_ml=t.total_tumour_ml,
                doses_gy=doses,
                tumour_doses_gy={
                    x.name: dd * activity for x, dd in zip(t.tumour_list, d.tumours, strict=True)
                },
                activity_basis=basis,
                bed_gy=bed,
            )
        )
        if plan.method != "partition" and t.tumour_list:
            warnings.append(
                f"{t.name}: tumour and normal-liver doses use the partition model "
                "for reporting; the activity came from the " + plan.method + " method"
            )

    session_lung = sum(r.doses_gy.lung for r in results)
    prior_lung = _prior_lung_dose(plan)
    checks: list[Check] = []
    for c in CONSTRAINTS:
        if c.quantity in ("lung", "lung_cumulative", "lung_shunt_fraction"):
            if plan.device not in c.devices:
                continue
            value = {
                "lung": session_lung,
                "lung_cumulative": session_lung + prior_lung,
                "lung_shunt_fraction": plan.lung_shunt_fraction,
            }[c.quantity]
            checks.append(_check(c, value, None))
            continue
        for r in results:
            if not _applies(c, plan, r.kind):
                continue
            value_or_none = getattr(r.doses_gy, c.quantity)
            if value_or_none is not None:
                checks.append(_check(c, float(value_or_none), r.name))

    broken = [ch for ch in checks if ch.severity is Severity.HARD and not ch.passed]
    override = plan.override
    if broken:
        covered = [
            ch for ch in broken if override and (not override.limits or ch.id in override.limits)
        ]
        uncovered = [ch for ch in broken if ch not in covered]
        if uncovered:
            raise UnsafePlanError(
                [
                    f"{ch.id}: {ch.description} {ch.value:.4g} {ch.unit} exceeds {ch.limit:g} "
                    f"{ch.unit} ({ch.sources[0]})"
                    for ch in uncovered
                ]
            )
        checks = [
            ch.model_copy(update={"overridden": True}) if ch in covered else ch for ch in checks
        ]
        assert override is not None
        warnings.append(f"OVERRIDE by {override.approved_by}: {override.reason}")
    for ch in checks:
        if not ch.passed and ch.severity in (Severity.LIMIT, Severity.TARGET):
            where = f"{ch.territory}: " if ch.territory else ""
            word = "above" if ch.bound == "max" else "below"
            warnings.append(
                f"{where}{ch.description} {ch.value:.1f} {ch.unit} {word} {ch.limit:g} {ch.unit}"
            )
    warnings.extend(_history_warnings(plan))
    if plan.lung_shunt_method is not None and plan.lung_shunt_method.value == "planar":
        warnings.append("planar LSF overestimates the shunt compared with SPECT/CT")

    vial_order = _vials(plan, results, warnings)
    injected = sum(activities)
    constants: dict[str, float | str] = {
        **plan.physics.model_dump(),
        "lung_mass_kg": plan.lung_mass,
        "expected_residual_fraction": residual,
        "tumour_dose_definition": "mass-weighted mean over the territory's tumours",
    }
    if plan.method == "bsa":
        constants["bsa_formula"] = plan.bsa_formula.value
    canonical = plan.model_dump_json(by_alias=True, exclude_none=True)
    return PlanResult(
        case=plan.case,
        device=plan.device,
        method=plan.method,
        injected_activity_gbq=injected,
        vial_activity_gbq=sum(r.vial_activity_gbq for r in results),
        territories=tuple(results),
        doses_gy={r.name: r.doses_gy for r in results},
        session_lung_dose_gy=session_lung,
        cumulative_lung_dose_gy=session_lung + prior_lung,
        checks=tuple(checks),
        vial_order=vial_order,
        constants=constants,
        warnings=tuple(warnings),
        override=override if broken else None,
        uncertainty=_uncertainty(plan, activities),
        optimisation=_optimise(plan, dpgs, activities),
        netlm_version=__version__,
        inputs_digest=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def energy_balance_gy_kg(plan: Plan, result: PlanResult) -> tuple[float, float]:
    """(Σ dose × mass over compartments incl. lung, C × injected activity).

    The two are equal by construction: the energy released is all deposited.
    """
    phys = plan.physics
    total = 0.0
    for t, r in zip(plan.territories, result.territories, strict=True):
        total += r.doses_gy.normal_liver * phys.mass_kg(t.volume_ml - t.total_tumour_ml)
        for x in t.tumour_list:
            total += r.tumour_doses_gy[x.name] * phys.mass_kg(x.volume_ml)
    total += result.session_lung_dose_gy * plan.lung_mass
    return total, phys.dose_constant_gy_kg_per_gbq * result.injected_activity_gbq


__all__ = ["PlanResult", "energy_balance_gy_kg", "solve", "with_case_history"]
