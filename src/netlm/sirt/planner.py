"""Solve a radioembolization plan: activity, compartment doses, checks, vials.

For each territory the activity comes from the method (BSA for resin, the
single-compartment MIRD model, or the partition model) and its prescription;
every compartment's dose is then reported (tumour, normal liver, perfused,
lung).  With several tumours in a territory the *tumour dose* prescribed and
reported is their mass-weighted mean; each tumour's own dose is listed too.
The session's lung dose is the sum over territories, checked against the
rule profile's limits (30 Gy per treatment, 50 Gy cumulative with the prior
lung dose).

Lung mass
    The 30/50 Gy limits were set with a 1 kg lung (seed 004, Patient Selection;
    ``shared/reference/dosimetry.md``, Lung dose limits: "(1 kg lung)").  The
    lung dose is therefore always computed at the profile's ``lung_mass_kg``
    (``lung_mass_basis: convention_1kg``).  A mass from CT densitovolumetry or a
    stated mass (``lung_mass_kg`` with ``lung_mass_basis``) is evaluated *as
    well*, and the lung dose judged is the larger of the two: a CT mass below
    1 kg makes the limit stricter (the lung really receives more), a CT mass
    above 1 kg never relaxes a limit that was validated at 1 kg.  Both doses
    and the basis are recorded.

Cumulative lung dose
    Prior dose = the lung doses of the prior radioembolization sessions listed
    in ``prior_treatments`` (recorded ``lung_dose_gy``, or an estimate
    C·A·LSF / 1 kg from the session's ``activity_gbq`` and
    ``lung_shunt_fraction``, labelled as such) **plus** ``prior_lung_dose_gy``,
    the dose of sessions that are not listed.  A listed session with neither
    is refused: it must not count as 0 Gy.

A plan that breaks a hard limit raises :class:`~netlm.errors.UnsafePlanError`
unless it carries an ``override`` with a reason; the override is then recorded
in the result with every limit it covered.  Overriding the resin LSF limit
needs an explicitly prescribed activity, and an activity below the profile's
``min_activity_fraction_of_basis`` of its basis is refused even with an
override.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from netlm import __version__
from netlm.case.model import Case, TreatmentType
from netlm.eligibility.profile import Parameters, RuleProfile, default_profile
from netlm.errors import PlanError, UnsafePlanError
from netlm.evidence import get_source
from netlm.results import ResultModel
from netlm.sirt import devices as dev
from netlm.sirt import radiobiology as rb
from netlm.sirt.bsa import bsa_activity_gbq, bsa_m2, resin_lsf_tier
from netlm.sirt.partition import DosesPerGbq, Tumour, doses_per_gbq
from netlm.sirt.physics import activity_at
from netlm.sirt.plan import CaseContext, Override, Plan, PlanTerritory
from netlm.sirt.presets import Constraint, Severity, constraints
from netlm.units import G_PER_KG

#: Absolute difference between the case's and the plan's lung shunt fraction
#: above which a warning is given (0.5 percentage point: beyond rounding).
LSF_MISMATCH_WARN: float = 0.005


class CompartmentDoses(BaseModel):
    model_config = ConfigDict(frozen=True)

    tumour: float | None = Field(description="Mass-weighted mean tumour dose (Gy).")
    normal_liver: float | None = Field(
        description="Normal-liver dose (Gy); null when a tumour volume has no T:N (not computable)."
    )
    perfused: float
    lung: float = Field(description="Lung dose (Gy) judged against the limits (see lung mass).")


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
    basis_activity_gbq: float | None = Field(
        default=None,
        description="The method's activity before any reduction (BSA), which the injected "
        "activity is compared with; null where the activity is the prescription itself.",
    )
    bed_gy: dict[str, float]
    not_computable: tuple[str, ...] = Field(
        default=(), description="Doses that need data the plan does not give (e.g. T:N)."
    )


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


class Percentiles(BaseModel):
    """The 5th, 50th and 95th percentiles of a sampled quantity.

    Not a confidence interval: that is :class:`netlm.outcomes.dose_response.Interval`.
    """

    model_config = ConfigDict(frozen=True)

    p5: float
    p50: float
    p95: float


class UncertaintyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    samples: int
    seed: int
    doses_gy: dict[str, dict[str, Percentiles]] = Field(
        description="Per territory, 5th/50th/95th percentile of each compartment dose."
    )
    session_lung_gy: Percentiles


class OptimisationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    territory: str
    max_activity_gbq: float | None
    binding_limit: str | None
    activity_for_tumour_gbq: float | None
    feasible: bool | None
    explanation: str


class GivenVial(BaseModel):
    """The glass vial the user has (``vial_activity_gbq`` at ``vial_calibration``), evaluated."""

    model_config = ConfigDict(frozen=True)

    size_gbq: float
    calibration: dt.datetime
    activity_at_infusion_gbq: float
    needed_at_infusion_gbq: float
    excess_fraction: float = Field(description="Activity at infusion / needed - 1 (< 0: short).")
    injected_if_fully_infused_gbq: float
    doses_if_fully_infused_gy: CompartmentDoses
    within_tolerance: bool
    breaks_limits: tuple[str, ...] = Field(
        default=(), description="Hard limits the vial breaks if fully infused."
    )


class VialOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    territory: str
    needed_at_infusion_gbq: float
    given_vial: GivenVial | None = None
    glass_options: tuple[dev.VialOption, ...] = ()
    resin_draw: dev.ResinDraw | None = None
    spheres_delivered: float | None = None
    note: str | None = None


class PriorLungDose(BaseModel):
    """One contribution to the prior lung dose, with where it comes from."""

    model_config = ConfigDict(frozen=True)

    session: str
    dose_gy: float
    source: Literal["recorded", "estimated_from_activity_and_lsf", "unlisted_sessions"]


class PlanResult(ResultModel):
    """The solved plan: the JSON contract of ``netlm sirt plan``.

    ``to_dict()`` is that document; ``to_pandas()`` one row per territory (activity,
    volumes, doses in Gy).
    """

    model_config = ConfigDict(frozen=True)

    case: str | None
    device: str
    method: str
    injected_activity_gbq: float
    vial_activity_gbq: float
    territories: tuple[TerritoryResult, ...]
    doses_gy: dict[str, CompartmentDoses] = Field(description="Per territory name.")
    session_lung_dose_gy: float = Field(
        description="This session's lung dose judged against the limits: the larger of the "
        "dose at the 1 kg convention and at a CT/stated lung mass."
    )
    cumulative_lung_dose_gy: float = Field(description="session_lung_dose_gy + prior_lung_dose_gy.")
    # The fields below are always filled by solve(); their defaults only let results
    # stored by an earlier netlm (which did not record them) be read back.
    lung_mass_basis: str | None = None
    lung_mass_convention_kg: float | None = None
    lung_mass_kg: float | None = Field(default=None, description="CT or stated lung mass.")
    lung_dose_convention_gy: float | None = Field(
        default=None, description="Session lung dose at the 1 kg convention."
    )
    lung_dose_at_lung_mass_gy: float | None = Field(
        default=None, description="Session lung dose at the CT/stated lung mass, if given."
    )
    prior_lung_dose_gy: float | None = Field(
        default=None,
        description="Listed prior sessions (recorded or estimated) plus unlisted sessions.",
    )
    prior_lung_doses: tuple[PriorLungDose, ...] = ()
    checks: tuple[Check, ...]
    vial_order: tuple[VialOrder, ...]
    constants: dict[str, float | str]
    warnings: tuple[str, ...]
    override: Override | None
    uncertainty: UncertaintyResult | None
    optimisation: tuple[OptimisationResult, ...]
    profile_id: str | None = None
    profile_digest: str | None = None
    netlm_version: str
    inputs_digest: str

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per territory."""
        return [
            {
                "case": self.case,
                "device": self.device,
                "method": self.method,
                "territory": t.name,
                "kind": t.kind,
                "injected_activity_gbq": t.injected_activity_gbq,
                "vial_activity_gbq": t.vial_activity_gbq,
                "perfused_volume_ml": t.perfused_volume_ml,
                "tumour_volume_ml": t.tumour_volume_ml,
                "tumour_dose_gy": t.doses_gy.tumour,
                "normal_liver_dose_gy": t.doses_gy.normal_liver,
                "perfused_dose_gy": t.doses_gy.perfused,
                "lung_dose_gy": t.doses_gy.lung,
            }
            for t in self.territories
        ]


# ---------------------------------------------------------------------------- helpers
def _kind(t: PlanTerritory, plan: Plan) -> str:
    if t.kind:
        return t.kind
    if plan.whole_liver_volume_ml and t.volume_ml >= 0.999 * plan.whole_liver_volume_ml:
        return "whole_liver"
    return "unspecified"


def _dpg(plan: Plan, t: PlanTerritory, lung_mass_kg: float) -> DosesPerGbq:
    """Doses per GBq; the lung at ``lung_mass_kg`` (the mass the lung dose is judged at)."""
    phys = plan.physics
    tumours = [
        Tumour(x.name, phys.mass_kg(x.volume_ml), x.tumour_to_normal_ratio) for x in t.tumour_list
    ]
    # A tumour volume without T:N: only the perfused (single-compartment) dose is computable.
    normal_ml = t.volume_ml - (t.total_tumour_ml if t.tumour_to_normal_known else 0.0)
    return doses_per_gbq(
        normal_mass_kg=phys.mass_kg(normal_ml),
        tumours=tumours,
        lsf=plan.lung_shunt_fraction,
        constant_gy_kg_per_gbq=phys.dose_constant_gy_kg_per_gbq,
        lung_mass_kg=lung_mass_kg,
    )


def _lung_mass(plan: Plan, convention_kg: float) -> tuple[str, float | None, float]:
    """(basis, measured or stated mass or None, mass the lung dose is judged at)."""
    mass, basis = plan.lung_mass_kg, plan.lung_mass_basis
    if mass is None:
        return "convention_1kg", None, convention_kg
    if basis in (None, "convention_1kg"):
        if abs(mass - convention_kg) > 1e-9:
            raise PlanError(
                [
                    (
                        "lung_mass_basis",
                        f"lung_mass_kg {mass:g} kg is not the {convention_kg:g} kg convention of "
                        "the lung dose limits; give lung_mass_basis: ct_densitovolumetry or "
                        "stated (the limits are then evaluated at both masses)",
                    )
                ]
            )
        return "convention_1kg", None, convention_kg
    return basis, mass, min(mass, convention_kg)


def _profile_physics(plan: Plan, profile: RuleProfile, warnings: list[str]) -> Plan:
    """``plan`` with the profile's dose constant unless the plan states its own."""
    constant = float(profile.parameters.dose_constant_gy_kg_per_gbq)
    phys = plan.physics
    if "dose_constant_gy_kg_per_gbq" in phys.model_fields_set:
        if abs(phys.dose_constant_gy_kg_per_gbq - constant) > 1e-9:
            warnings.append(
                f"the plan's dose constant {phys.dose_constant_gy_kg_per_gbq:g} Gy kg/GBq "
                f"differs from the profile's {constant:g} ({profile.id}); the plan's is used"
            )
        return plan
    return plan.model_copy(
        update={"physics": phys.model_copy(update={"dose_constant_gy_kg_per_gbq": constant})}
    )


def _mean_tumour(t: PlanTerritory, d: DosesPerGbq) -> float | None:
    tumours = t.tumour_list
    if not tumours:
        return None
    total = sum(x.volume_ml for x in tumours)
    return sum(x.volume_ml * dose for x, dose in zip(tumours, d.tumours, strict=True)) / total


def _activity(
    plan: Plan, t: PlanTerritory, d: DosesPerGbq, warnings: list[str], params: Parameters
) -> tuple[float, str, float | None]:
    """(injected activity, how it was obtained, the method's unreduced activity or None)."""
    rx = t.prescription or plan.prescription
    target = rx.target if rx else None
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
        tier = resin_lsf_tier(
            plan.lung_shunt_fraction,
            no_reduction_below=params.resin_lsf_no_reduction_below,
            reduce_20_below=params.resin_lsf_reduce_20_below,
            maximum=params.resin_lsf_max,
        )
        if base <= 0:
            raise PlanError([("patient", f"BSA {bsa:.2f} m² gives no activity")])
        if fraction < 1:
            warnings.append(
                f"{t.name}: lobar BSA activity scaled by the perfused fraction "
                "[U: lobar_bsa_scaling]"
            )
        head = (
            f"BSA ({plan.bsa_formula.value}) {bsa:.3f} m2: {base:.3f} GBq x perfused fraction "
            f"{fraction:.3f} included"
        )
        if target is not None:  # the model allows only activity_gbq here
            return target[1], f"prescribed activity {target[1]:g} GBq ({head})", base
        activity = base * (1.0 - min(tier.reduction_fraction, 0.999))
        return activity, f"{head}; {tier.rule}", base
    if target is None:  # pragma: no cover - the plan model requires one
        raise PlanError([("prescription", "is required")])
    name, value = target
    if name == "activity_gbq":
        return value, f"prescribed activity {value:g} GBq", None
    if name == "perfused_dose_gy":
        return value / d.perfused, f"perfused dose {value:g} Gy (single compartment)", None
    if name == "normal_liver_dose_gy":
        return value / d.normal_liver, f"normal-liver dose {value:g} Gy (partition)", None
    mean = _mean_tumour(t, d)
    if mean is None:
        raise PlanError(
            [(f"territories.{t.name}", "a tumour-dose prescription needs tumours in the territory")]
        )
    return value / mean, f"mean tumour dose {value:g} Gy (partition)", None


def _require_explicit_activity(plan: Plan, params: Parameters) -> None:
    """Overriding the resin LSF limit needs an explicitly prescribed activity."""
    override = plan.override
    if (
        plan.device != "resin"
        or plan.lung_shunt_fraction <= params.resin_lsf_max
        or override is None
        or (override.limits and "resin_lsf" not in override.limits)
    ):
        return
    problems = []
    for i, t in enumerate(plan.territories):
        rx = t.prescription or plan.prescription
        if rx is None or rx.target is None or rx.target[0] != "activity_gbq":
            problems.append(
                (
                    f"territories[{i}].prescription.activity_gbq",
                    f"the resin LSF limit ({params.resin_lsf_max:.0%}) is overridden at LSF "
                    f"{plan.lung_shunt_fraction:.1%}: prescribe the activity explicitly "
                    f"(activity_gbq) for {t.name}; no method gives one beyond the limit",
                )
            )
    if problems:
        raise PlanError(problems)


def _applies(c: Constraint, plan: Plan, kind: str) -> bool:
    if c.only_if_compromised_liver and not plan.liver_compromised:
        return False
    return plan.device in c.devices and plan.method in c.methods and kind in c.territory_kinds


def _check(c: Constraint, value: float, territory: str | None, note: str = "") -> Check:
    margin = c.value - value if c.bound == "max" else value - c.value
    return Check(
        id=c.id,
        description=c.description + note,
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


def _prior_lung_doses(
    plan: Plan, convention_kg: float, warnings: list[str]
) -> tuple[PriorLungDose, ...]:
    """Every contribution to the prior lung dose (see the module notes).

    Raises
    ------
    PlanError
        For a listed prior radioembolization session with no lung dose and no
        activity and LSF to estimate it from.
    """
    out: list[PriorLungDose] = []
    missing: list[tuple[str, str]] = []
    c = plan.physics.dose_constant_gy_kg_per_gbq
    for i, t in enumerate(plan.prior_treatments):
        if t.type is not TreatmentType.TARE:
            continue
        when = t.date or t.end or t.start
        label = f"prior_treatments[{i}] (TARE{f' {when}' if when else ''})"
        if t.lung_dose_gy is not None:
            out.append(PriorLungDose(session=label, dose_gy=t.lung_dose_gy, source="recorded"))
        elif t.activity_gbq is not None and t.lung_shunt_fraction is not None:
            dose = c * t.activity_gbq * t.lung_shunt_fraction / convention_kg
            out.append(
                PriorLungDose(session=label, dose_gy=dose, source="estimated_from_activity_and_lsf")
            )
            warnings.append(
                f"{label}: lung dose ESTIMATED as {dose:.1f} Gy from its activity "
                f"{t.activity_gbq:g} GBq and LSF {t.lung_shunt_fraction:.3f} "
                f"({c:g} Gy kg/GBq, {convention_kg:g} kg lung; source prior_lung_dose_estimate)"
            )
        else:
            missing.append(
                (
                    f"prior_treatments[{i}].lung_dose_gy",
                    f"{label} has no recorded lung dose: the cumulative "
                    "lung dose cannot be checked (it must not count as 0 Gy); give lung_dose_gy, "
                    "or activity_gbq and lung_shunt_fraction for a labelled estimate",
                )
            )
    if missing:
        raise PlanError(missing)
    unlisted = plan.prior_lung_dose_gy
    case_value = plan.from_case.prior_lung_dose_gy if plan.from_case else None
    if case_value is not None:
        stated = "prior_lung_dose_gy" in plan.model_fields_set
        if stated and abs(case_value - unlisted) > 0.05:
            warnings.append(
                f"prior lung dose of unlisted sessions: the case says {case_value:g} Gy, the plan "
                f"{unlisted:g} Gy; the larger ({max(case_value, unlisted):g} Gy) is used - "
                "reconcile the two"
            )
        unlisted = max(unlisted, case_value) if stated else case_value
    if unlisted > 0:
        out.append(
            PriorLungDose(
                session="prior_lung_dose_gy (sessions not listed)",
                dose_gy=unlisted,
                source="unlisted_sessions",
            )
        )
        listed = sum(x.dose_gy for x in out[:-1])
        if listed > 0:
            warnings.append(
                f"prior lung dose: {listed:g} Gy from the listed sessions PLUS {unlisted:g} Gy "
                "of sessions not listed (prior_lung_dose_gy); if prior_lung_dose_gy already "
                "includes the listed sessions, set it to 0"
            )
    return tuple(out)


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


def _percentiles(values: np.ndarray) -> Percentiles:
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return Percentiles(p5=float(p5), p50=float(p50), p95=float(p95))


def _uncertainty(
    plan: Plan, activities: Sequence[float], lung_mass_kg: float
) -> UncertaintyResult | None:
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
    per_territory: dict[str, dict[str, Percentiles]] = {}
    c = phys.dose_constant_gy_kg_per_gbq
    for t, activity in zip(plan.territories, activities, strict=True):
        a = activity * factor(u.activity_relative_sd)
        tumours = t.tumour_list
        tumour_mass = [phys.mass_kg(x.volume_ml) * factor(u.volume_relative_sd) for x in tumours]
        tn = [x.tumour_to_normal_ratio * factor(u.tumour_to_normal_relative_sd) for x in tumours]
        known = t.tumour_to_normal_known
        normal_ml = t.volume_ml - (t.total_tumour_ml if known else 0.0)
        normal_mass = phys.mass_kg(normal_ml) * factor(u.volume_relative_sd)
        weighted = normal_mass + sum(
            (r * m for r, m in zip(tn, tumour_mass, strict=True)), start=np.zeros(n)
        )
        liver_energy = c * a * (1 - lsf)
        normal = liver_energy / weighted
        perfused = liver_energy / (normal_mass + sum(tumour_mass, start=np.zeros(n)))
        lung = c * a * lsf / lung_mass_kg
        lung_total += lung
        doses = {"perfused": perfused, "lung": lung}
        if known:
            doses["normal_liver"] = normal
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
    plan: Plan,
    dpgs: Sequence[DosesPerGbq],
    activities: Sequence[float],
    prior: float,
    params: Parameters,
) -> tuple[OptimisationResult, ...]:
    o = plan.optimise
    if o is None:
        return ()
    single = params.lung_dose_limit_single_gy
    lung_cap = min(o.lung_max_gy, single) if o.lung_max_gy is not None else single
    lung_budget_total = min(lung_cap, params.lung_dose_limit_cumulative_gy - prior)
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
        if o.normal_liver_max_gy is not None and t.tumour_to_normal_known:
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


def _given_glass_vial(
    plan: Plan,
    r: TerritoryResult,
    residual: float,
    prior: float,
    params: Parameters,
    warnings: list[str],
    tolerance: float = 0.10,
) -> GivenVial:
    """The glass vial at hand, fully infused: activity, excess and doses."""
    size, calibration, start = plan.vial_activity_gbq, plan.vial_calibration, plan.treatment_start
    assert size is not None
    assert calibration is not None
    assert start is not None
    at_infusion = activity_at(size, calibration, start, plan.physics.y90_half_life_h)
    needed = r.vial_activity_gbq
    injected = at_infusion * (1.0 - residual)
    k = injected / r.injected_activity_gbq
    d = r.doses_gy
    doses = CompartmentDoses(
        tumour=None if d.tumour is None else d.tumour * k,
        normal_liver=None if d.normal_liver is None else d.normal_liver * k,
        perfused=d.perfused * k,
        lung=d.lung * k,
    )
    excess = at_infusion / needed - 1.0
    breaks = []
    if doses.lung > params.lung_dose_limit_single_gy + 1e-12:
        breaks.append("lung_single")
    if doses.lung + prior > params.lung_dose_limit_cumulative_gy + 1e-12:
        breaks.append("lung_cumulative")
    within = -1e-12 <= excess <= tolerance + 1e-12
    where = f"{r.name}: the given {size:g} GBq vial (calibrated {calibration.isoformat()})"
    if not within:
        what = "short of" if excess < 0 else "above"
        warnings.append(
            f"{where} holds {at_infusion:.3f} GBq at infusion, {abs(excess):.1%} {what} the "
            f"{needed:.3f} GBq needed; fully infused it gives {injected:.3f} GBq"
        )
    if breaks:
        warnings.append(
            f"{where} fully infused gives a lung dose of {doses.lung:.1f} Gy: it breaks "
            f"{', '.join(breaks)} - do not infuse it whole"
        )
    return GivenVial(
        size_gbq=size,
        calibration=calibration,
        activity_at_infusion_gbq=at_infusion,
        needed_at_infusion_gbq=needed,
        excess_fraction=excess,
        injected_if_fully_infused_gbq=injected,
        doses_if_fully_infused_gy=doses,
        within_tolerance=within,
        breaks_limits=tuple(breaks),
    )


def _vials(
    plan: Plan,
    results: Sequence[TerritoryResult],
    warnings: list[str],
    residual: float,
    prior: float,
    params: Parameters,
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
            given = (
                _given_glass_vial(plan, r, residual, prior, params, warnings)
                if plan.vial_activity_gbq is not None
                else None
            )
            # A calibration time without a size: the vial sizes at that calibration;
            # otherwise the manufacturer's calibration instants (devices module notes).
            options = dev.glass_vial_options(
                r.vial_activity_gbq,
                plan.treatment_start,
                calibrations=None if plan.vial_calibration is None else [plan.vial_calibration],
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
            if given is not None:
                spheres = dev.spheres_delivered(
                    device,
                    given.injected_if_fully_infused_gbq,
                    vial_activity_at_infusion_gbq=given.activity_at_infusion_gbq,
                    vial_calibration_activity_gbq=given.size_gbq,
                )
            note = None
            if not options and given is None:
                note = "no glass vial fits: split the dose or change the day"
            elif not options:
                note = "no other glass vial fits at the candidate calibrations"
            orders.append(
                VialOrder(
                    territory=r.name,
                    needed_at_infusion_gbq=r.vial_activity_gbq,
                    given_vial=given,
                    glass_options=options[:8],
                    spheres_delivered=spheres,
                    note=note,
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
    """``plan`` with the case's prior treatments, and the case's values for cross-checks.

    The case's prior treatments are added to the plan's (an entry identical to
    one the plan already lists is not added twice).  The case's lung shunt
    fraction and ``workup.prior_lung_dose_gy`` (read, like the plan's, as the
    dose of sessions not listed) are kept in ``from_case``: :func:`solve` warns
    when they differ from the plan's and uses the larger prior dose.
    """
    listed = plan.prior_treatments
    history = tuple(t for t in case.history.prior_treatments or () if t not in listed)
    context = CaseContext(
        case_id=case.patient.id,
        lung_shunt_fraction=case.workup.lung_shunt_fraction,
        lung_shunt_method=case.workup.lung_shunt_method,
        prior_lung_dose_gy=case.workup.prior_lung_dose_gy,
    )
    return plan.model_copy(
        update={
            "prior_treatments": (*plan.prior_treatments, *history),
            "from_case": context,
            "case": plan.case or case.patient.id,
        }
    )


def _case_warnings(plan: Plan) -> list[str]:
    ctx = plan.from_case
    if ctx is None or ctx.lung_shunt_fraction is None:
        return []
    if abs(ctx.lung_shunt_fraction - plan.lung_shunt_fraction) <= LSF_MISMATCH_WARN:
        return []
    return [
        f"lung shunt fraction: the case {ctx.case_id or ''} records {ctx.lung_shunt_fraction:.3f}"
        f"{f' ({ctx.lung_shunt_method.value})' if ctx.lung_shunt_method else ''}, the plan "
        f"uses {plan.lung_shunt_fraction:.3f}: the board's verdict and the plan rest on "
        "different shunts - reconcile them"
    ]


# ---------------------------------------------------------------------------- solve
def solve(plan: Plan, profile: RuleProfile | None = None) -> PlanResult:
    """Solve ``plan`` with the limits of ``profile`` (default: netlm's own).

    The lung limits, resin LSF tiers, dose constant (unless the plan's
    ``physics`` states one) and lung-mass convention are the profile's, the
    same numbers the tumour board reads; the result records the profile id and
    digest.

    Raises
    ------
    UnsafePlanError
        If a hard limit is broken and no override with a reason covers it, or
        an activity is below ``min_activity_fraction_of_basis`` of its basis.
    PlanError
        If the plan cannot be solved (e.g. a tumour-dose prescription with no
        tumour, a prior radioembolization session without lung dose, a lung
        mass without its basis, an overridden LSF limit without an explicit
        activity).
    """
    profile = profile or default_profile()
    params = profile.parameters
    warnings: list[str] = []
    plan = _profile_physics(plan, profile, warnings)
    convention = float(params.lung_mass_kg)
    lung_basis, measured_mass, judged_mass = _lung_mass(plan, convention)
    device = dev.get_device(plan.device)
    residual = (
        plan.expected_residual_fraction
        if plan.expected_residual_fraction is not None
        else device.expected_residual_fraction
    )
    _require_explicit_activity(plan, params)
    prior_doses = _prior_lung_doses(plan, convention, warnings)
    prior_lung = sum(x.dose_gy for x in prior_doses)
    dpgs = [_dpg(plan, t, judged_mass) for t in plan.territories]
    results: list[TerritoryResult] = []
    activities: list[float] = []
    for t, d in zip(plan.territories, dpgs, strict=True):
        activity, basis, basis_activity = _activity(plan, t, d, warnings, params)
        activities.append(activity)
        mean = _mean_tumour(t, d)
        known = t.tumour_to_normal_known
        doses = CompartmentDoses(
            tumour=None if mean is None else mean * activity,
            normal_liver=d.normal_liver * activity if known else None,
            perfused=d.perfused * activity,
            lung=d.lung * activity,
        )
        bed: dict[str, float] = {}
        if doses.normal_liver is not None:
            bed["normal_liver"] = rb.bed_from_preset(
                doses.normal_liver, "normal_liver", plan.physics.y90_half_life_h
            )
        if doses.tumour is not None:
            bed["tumour"] = rb.bed_from_preset(doses.tumour, "tumour", plan.physics.y90_half_life_h)
        missing = () if known else ("tumour", "normal_liver")
        if missing:
            warnings.append(
                f"{t.name}: tumour and normal-liver doses not computable: tumour_volume_ml "
                f"{t.total_tumour_ml:g} mL has no tumour_to_normal_ratio (the activity needs "
                "only the tumour fraction)"
            )
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
                basis_activity_gbq=basis_activity,
                bed_gy=bed,
                not_computable=missing,
            )
        )
        if plan.method != "partition" and t.tumour_list:
            warnings.append(
                f"{t.name}: tumour and normal-liver doses use the partition model "
                "for reporting; the activity came from the " + plan.method + " method"
            )

    session_lung = sum(r.doses_gy.lung for r in results)
    lung_1kg = session_lung * judged_mass / convention
    lung_at_mass = None if measured_mass is None else session_lung * judged_mass / measured_mass
    mass_note = (
        ""
        if measured_mass is None
        else f" (the larger of {convention:g} kg convention and {lung_basis} {measured_mass:g} kg)"
    )
    checks: list[Check] = []
    for c in constraints(profile):
        if c.quantity in ("lung", "lung_cumulative", "lung_shunt_fraction"):
            if plan.device not in c.devices:
                continue
            value = {
                "lung": session_lung,
                "lung_cumulative": session_lung + prior_lung,
                "lung_shunt_fraction": plan.lung_shunt_fraction,
            }[c.quantity]
            note = mass_note if c.quantity != "lung_shunt_fraction" else ""
            checks.append(_check(c, value, None, note))
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
    floor = params.min_activity_fraction_of_basis
    tiny = [
        f"activity_fraction_of_basis: {r.name}: {r.injected_activity_gbq:.4g} GBq is "
        f"{r.injected_activity_gbq / r.basis_activity_gbq:.1%} of its basis "
        f"{r.basis_activity_gbq:.4g} GBq, below the profile's min_activity_fraction_of_basis "
        f"{floor:g} ({get_source('activity_fraction_floor').cite()}); not a treatment plan, "
        "even with an override"
        for r in results
        if r.basis_activity_gbq is not None
        and r.injected_activity_gbq < floor * r.basis_activity_gbq
    ]
    if tiny:
        raise UnsafePlanError(tiny)
    for ch in checks:
        if not ch.passed and ch.severity in (Severity.LIMIT, Severity.TARGET):
            where = f"{ch.territory}: " if ch.territory else ""
            word = "above" if ch.bound == "max" else "below"
            warnings.append(
                f"{where}{ch.description} {ch.value:.1f} {ch.unit} {word} {ch.limit:g} {ch.unit}"
            )
    warnings.extend(_history_warnings(plan))
    warnings.extend(_case_warnings(plan))
    if plan.lung_shunt_method is not None and plan.lung_shunt_method.value == "planar":
        warnings.append("planar LSF overestimates the shunt compared with SPECT/CT")

    vial_order = _vials(plan, results, warnings, residual, prior_lung, params)
    injected = sum(activities)
    constants: dict[str, float | str] = {
        **plan.physics.model_dump(),
        "lung_mass_kg": judged_mass,
        "lung_mass_basis": lung_basis,
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
        lung_mass_basis=lung_basis,
        lung_mass_convention_kg=convention,
        lung_mass_kg=measured_mass,
        lung_dose_convention_gy=lung_1kg,
        lung_dose_at_lung_mass_gy=lung_at_mass,
        prior_lung_dose_gy=prior_lung,
        prior_lung_doses=prior_doses,
        checks=tuple(checks),
        vial_order=vial_order,
        constants=constants,
        warnings=tuple(warnings),
        override=override if broken else None,
        uncertainty=_uncertainty(plan, activities, judged_mass),
        optimisation=_optimise(plan, dpgs, activities, prior_lung, params),
        profile_id=profile.id,
        profile_digest=profile.digest,
        netlm_version=__version__,
        inputs_digest=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def energy_balance_gy_kg(plan: Plan, result: PlanResult) -> tuple[float, float]:
    """(Σ dose × mass over compartments incl. lung, C × injected activity).

    The two are equal by construction: the energy released is all deposited.
    """
    constant = float(result.constants["dose_constant_gy_kg_per_gbq"])
    density = float(result.constants["tissue_density_g_per_ml"])
    total = 0.0
    for t, r in zip(plan.territories, result.territories, strict=True):
        if r.doses_gy.normal_liver is None:
            total += r.doses_gy.perfused * t.volume_ml * density / G_PER_KG
            continue
        total += r.doses_gy.normal_liver * (t.volume_ml - t.total_tumour_ml) * density / G_PER_KG
        for x in t.tumour_list:
            total += r.tumour_doses_gy[x.name] * x.volume_ml * density / G_PER_KG
    total += result.session_lung_dose_gy * float(result.constants["lung_mass_kg"])
    return total, constant * result.injected_activity_gbq


__all__ = [
    "LSF_MISMATCH_WARN",
    "PlanResult",
    "energy_balance_gy_kg",
    "solve",
    "with_case_history",
]
