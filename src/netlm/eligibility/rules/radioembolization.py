"""Radioembolization rules: resin, glass and radiation segmentectomy (seed 004; seed 001 §6.2).

Rules that read the radioembolization work-up (lung shunt fraction, estimated
lung dose, collaterals) do not ask for it when it has not been done yet: the
verdict then answers "candidate for work-up?", and the MAA angiography is listed
in the work-up and as a requirement.
"""

from __future__ import annotations

from netlm.case.model import (
    Collaterals,
    ContrastAllergy,
    Distribution,
    Enhancement,
    ExtrahepaticDisease,
    TreatmentType,
)
from netlm.clinical import WhoGrade
from netlm.eligibility.result import RADIOEMBOLIZATION, Effect, Modality
from netlm.eligibility.rules.base import Context, MissingData, RuleBook, fmt
from netlm.eligibility.rules.embolization import ecog_above, life_expectancy_below
from netlm.sirt.partition import lung_dose_gy

book = RuleBook()
ALL = RADIOEMBOLIZATION
LOBAR = (Modality.TARE_RESIN, Modality.TARE_GLASS)
SEG = (Modality.RADIATION_SEGMENTECTOMY,)


# --------------------------------------------------------------------------- indication
@book.rule(
    "tare.liver_dominant",
    ALL,
    Effect.NOT_SUITABLE,
    "TARE is for liver-dominant disease",
    sources=("tare_indications_004",),
)
def _liver_dominant(ctx: Context, m: Modality) -> str | None:
    ehd = ctx.need(ctx.case.tumour.extrahepatic_disease, "tumour.extrahepatic_disease")
    if ehd is ExtrahepaticDisease.EXTENSIVE:
        return "extensive extrahepatic disease: not liver-dominant (consider systemic therapy)"
    return None


@book.rule(
    "segmentectomy.localized",
    SEG,
    Effect.NOT_SUITABLE,
    "Radiation segmentectomy is for localized disease",
    sources=("segmentectomy_004",),
    parameters=("segmentectomy_max_segments", "segmentectomy_max_lesions"),
)
def _localized(ctx: Context, m: Modality) -> str | None:
    count = ctx.lesion_count()
    max_lesions = ctx.p.segmentectomy_max_lesions
    if count is None or count > max_lesions:
        shown = "too numerous" if count is None else str(count)
        return f"{shown} lesions: not localized (<= {max_lesions} lesions)"
    lesions = ctx.case.liver.lesions
    if not ctx.all_lesions_listed():
        ctx.need(None, "liver.lesions (every lesion with its segment)")
    missing = [f"liver.lesions[{i}].segment" for i, x in enumerate(lesions) if x.segment is None]
    if missing:
        ctx.need_all(**{p.replace(".", "__"): None for p in missing})
    segments = sorted({x.segment for x in lesions if x.segment is not None})
    limit = ctx.p.segmentectomy_max_segments
    if len(segments) > limit:
        return f"lesions in {len(segments)} segments ({segments}): not localized (<= {limit})"
    return None


# --------------------------------------------------------------------------- 004 exclusion criteria
@book.rule(
    "tare.ecog",
    ALL,
    Effect.CONTRAINDICATION,
    "ECOG performance status above 2",
    sources=("tare_exclusion_004",),
    parameters=("tare_max_ecog",),
)
def _ecog(ctx: Context, m: Modality) -> str | None:
    return ecog_above(ctx, ctx.p.tare_max_ecog, "TARE")


@book.rule(
    "tare.bilirubin",
    LOBAR,
    Effect.CONTRAINDICATION,
    "Bilirubin above 2 mg/dL (lobar or whole-liver treatment)",
    sources=("tare_exclusion_004",),
    parameters=("tare_bilirubin_limit_mg_dl",),
)
def _bilirubin(ctx: Context, m: Modality) -> str | None:
    bili = ctx.need(ctx.case.labs.bilirubin_mg_dl, "labs.bilirubin")
    limit = ctx.p.tare_bilirubin_limit_mg_dl
    if bili > limit:
        return (
            f"bilirubin {fmt(bili)} mg/dL > {fmt(limit)}: excluded unless highly selective "
            "treatment (radiation segmentectomy) is possible"
        )
    return None


@book.rule(
    "segmentectomy.bilirubin",
    SEG,
    Effect.CAUTION,
    "Bilirubin above 2 mg/dL: only highly selective treatment",
    sources=("tare_exclusion_004",),
    parameters=("tare_bilirubin_limit_mg_dl", "tare_bilirubin_hard_limit_mg_dl"),
)
def _seg_bilirubin(ctx: Context, m: Modality) -> str | None:
    bili = ctx.need(ctx.case.labs.bilirubin_mg_dl, "labs.bilirubin")
    lo, hi = ctx.p.tare_bilirubin_limit_mg_dl, ctx.p.tare_bilirubin_hard_limit_mg_dl
    if lo < bili < hi:
        return f"bilirubin {fmt(bili)} mg/dL > {fmt(lo)}: acceptable only because highly selective"
    return None


@book.rule(
    "tare.bilirubin_hard",
    ALL,
    Effect.CONTRAINDICATION,
    "Bilirubin at or above 3 mg/dL contraindicates SIRT",
    sources=("tare_table1_001",),
    parameters=("tare_bilirubin_hard_limit_mg_dl",),
)
def _bilirubin_hard(ctx: Context, m: Modality) -> str | None:
    bili = ctx.need(ctx.case.labs.bilirubin_mg_dl, "labs.bilirubin")
    limit = ctx.p.tare_bilirubin_hard_limit_mg_dl
    if bili >= limit:
        return f"bilirubin {fmt(bili)} mg/dL >= {fmt(limit)}: impaired hepatic function"
    return None


def _transaminase(ctx: Context, which: str) -> str | None:
    lab = getattr(ctx.case.labs, which)
    lab = ctx.need(lab, f"labs.{which}")
    uln = ctx.need(lab.uln, f"labs.{which}.uln")
    ratio = lab.value / uln
    limit = ctx.p.tare_transaminase_max_x_uln
    if ratio > limit:
        return f"{which.upper()} {fmt(ratio)} x ULN > {fmt(limit)} x ULN"
    return None


@book.rule(
    "tare.ast",
    ALL,
    Effect.CONTRAINDICATION,
    "AST above 5 x ULN",
    sources=("tare_exclusion_004",),
    parameters=("tare_transaminase_max_x_uln",),
)
def _ast(ctx: Context, m: Modality) -> str | None:
    return _transaminase(ctx, "ast")


@book.rule(
    "tare.alt",
    ALL,
    Effect.CONTRAINDICATION,
    "ALT above 5 x ULN",
    sources=("tare_exclusion_004",),
    parameters=("tare_transaminase_max_x_uln",),
)
def _alt(ctx: Context, m: Modality) -> str | None:
    return _transaminase(ctx, "alt")


@book.rule(
    "tare.involvement",
    LOBAR,
    Effect.CONTRAINDICATION,
    "Tumour burden above 70 % or nodules too numerous to count",
    sources=("tare_exclusion_004",),
    parameters=("tare_max_involvement_percent",),
)
def _involvement(ctx: Context, m: Modality) -> str | None:
    if ctx.case.liver.lesion_count == "too_numerous":
        return "tumour nodules too numerous to count"
    burden = ctx.burden_percent()
    limit = ctx.p.tare_max_involvement_percent
    if burden > limit:
        return f"tumour burden {fmt(burden)} % > {fmt(limit)} % of the liver"
    return None


@book.rule(
    "tare.involvement_low_albumin",
    LOBAR,
    Effect.CONTRAINDICATION,
    "Tumour volume above 50 % with albumin below 3 g/dL",
    sources=("tare_exclusion_004",),
    parameters=("tare_low_albumin_involvement_percent", "tare_low_albumin_g_dl"),
)
def _involvement_albumin(ctx: Context, m: Modality) -> str | None:
    burden = ctx.burden_percent()
    if burden <= ctx.p.tare_low_albumin_involvement_percent:
        return None
    albumin = ctx.need(ctx.case.labs.albumin_g_dl, "labs.albumin")
    if albumin < ctx.p.tare_low_albumin_g_dl:
        return (
            f"tumour burden {fmt(burden)} % > {fmt(ctx.p.tare_low_albumin_involvement_percent)} % "
            f"with albumin {fmt(albumin)} g/dL < {fmt(ctx.p.tare_low_albumin_g_dl)}"
        )
    return None


# --------------------------------------------------------------------------- after work-up
@book.rule(
    "tare.collaterals",
    ALL,
    Effect.CONTRAINDICATION,
    "Extrahepatic GI collaterals that cannot be avoided or coiled",
    sources=("tare_absolute_004", "tare_table1_001"),
)
def _collaterals(ctx: Context, m: Modality) -> str | None:
    if ctx.case.workup.extrahepatic_collaterals is Collaterals.UNAVOIDABLE:
        return "extrahepatic collaterals to the GI tract that cannot be avoided or coiled (reflux)"
    return None


@book.rule(
    "tare.collaterals_coil",
    ALL,
    Effect.REQUIREMENT,
    "Coil-embolize extrahepatic collaterals before treatment",
    sources=("tare_absolute_004",),
)
def _coil(ctx: Context, m: Modality) -> str | None:
    if ctx.case.workup.extrahepatic_collaterals is Collaterals.COILABLE:
        return "extrahepatic collaterals: coil-embolize (or avoid) at treatment"
    return None


@book.rule(
    "tare.maa_workup",
    ALL,
    Effect.REQUIREMENT,
    "Work-up angiography with 99mTc-MAA before treatment",
    sources=("maa_workup_004",),
)
def _maa(ctx: Context, m: Modality) -> str | None:
    if ctx.case.workup.lung_shunt_fraction is None:
        return (
            "work-up angiography with 99mTc-MAA (100-150 MBq): lung shunt, collaterals, "
            "tumour deposition - the verdict is provisional until then"
        )
    return None


@book.rule(
    "tare.resin_lsf",
    (Modality.TARE_RESIN,),
    Effect.CONTRAINDICATION,
    "Resin: lung shunt fraction above 20 %",
    sources=("resin_lsf_tiers", "tare_table1_001"),
    parameters=("resin_lsf_max",),
)
def _resin_lsf(ctx: Context, m: Modality) -> str | None:
    lsf = ctx.case.workup.lung_shunt_fraction
    limit = ctx.p.resin_lsf_max
    if lsf is not None and lsf > limit:
        return f"lung shunt fraction {fmt(100 * lsf)} % > {fmt(100 * limit)} %: do not treat"
    return None


@book.rule(
    "tare.resin_lsf_reduction",
    (Modality.TARE_RESIN,),
    Effect.CAUTION,
    "Resin: activity reduction for a lung shunt fraction of 10-20 %",
    sources=("resin_lsf_tiers",),
    parameters=("resin_lsf_no_reduction_below", "resin_lsf_reduce_20_below", "resin_lsf_max"),
)
def _resin_reduction(ctx: Context, m: Modality) -> str | None:
    lsf = ctx.case.workup.lung_shunt_fraction
    p = ctx.p
    if lsf is None or lsf < p.resin_lsf_no_reduction_below or lsf > p.resin_lsf_max:
        return None
    cut = 20 if lsf < p.resin_lsf_reduce_20_below else 40
    return f"lung shunt fraction {fmt(100 * lsf)} %: reduce the BSA activity by {cut} %"


@book.rule(
    "tare.glass_lsf_conflict",
    (Modality.TARE_GLASS,),
    Effect.CAUTION,
    "Glass: lung shunt above 20 % - seed 001 contraindicates, the lung-dose limit may allow",
    sources=("tare_table1_001", "lung_dose_limits"),
    parameters=("glass_lsf_conflict_fraction", "lung_dose_limit_single_gy"),
)
def _glass_lsf(ctx: Context, m: Modality) -> str | None:
    lsf = ctx.case.workup.lung_shunt_fraction
    limit = ctx.p.glass_lsf_conflict_fraction
    if lsf is not None and lsf > limit:
        return (
            f"lung shunt fraction {fmt(100 * lsf)} % > {fmt(100 * limit)} % - sources disagree: "
            "seed 001 Table 1 lists it as a contraindication to SIRT; for glass the limit is the "
            f"lung dose (<= {fmt(ctx.p.lung_dose_limit_single_gy)} Gy per treatment, seed 004) - "
            "decide on the computed lung dose"
        )
    return None


def _max_activity_gbq(ctx: Context, lsf: float, limit_gy: float) -> float:
    """Activity that gives ``limit_gy`` to the lungs: D = C · A · LSF / M_lung."""
    return limit_gy * ctx.p.lung_mass_kg / (ctx.p.dose_constant_gy_kg_per_gbq * lsf)


def _prior_lung_dose(ctx: Context) -> float:
    """Prior lung dose in Gy, as the planner counts it (:mod:`netlm.sirt.planner`).

    Every listed prior TARE session counts: its recorded lung dose, else an
    estimate from its activity and lung shunt fraction (D = C · A · LSF / M at
    the profile's constant and lung mass), **plus** ``workup.prior_lung_dose_gy``,
    the dose of sessions not listed.  A listed session with neither is missing
    data (the cumulative check cannot treat it as 0 Gy).
    """
    total = ctx.case.workup.prior_lung_dose_gy or 0.0
    missing: list[str] = []
    for i, t in enumerate(ctx.case.history.prior_treatments or ()):
        if t.type is not TreatmentType.TARE:
            continue
        if t.lung_dose_gy is not None:
            total += t.lung_dose_gy
        elif t.activity_gbq is not None and t.lung_shunt_fraction is not None:
            total += lung_dose_gy(
                t.activity_gbq,
                lsf=t.lung_shunt_fraction,
                lung_mass_kg=ctx.p.lung_mass_kg,
                constant_gy_kg_per_gbq=ctx.p.dose_constant_gy_kg_per_gbq,
            )
        else:
            missing.append(f"history.prior_treatments[{i}].lung_dose_gy")
    if missing:
        raise MissingData(missing)
    return total


@book.rule(
    "tare.lung_dose",
    ALL,
    Effect.CONTRAINDICATION,
    "Lung dose above 30 Gy in one treatment or 50 Gy cumulative",
    sources=("tare_absolute_004", "lung_dose_limits"),
    parameters=("lung_dose_limit_single_gy", "lung_dose_limit_cumulative_gy"),
)
def _lung_dose(ctx: Context, m: Modality) -> str | None:
    dose = ctx.case.workup.estimated_lung_dose_gy
    if dose is None:
        return None
    single, cumulative = ctx.p.lung_dose_limit_single_gy, ctx.p.lung_dose_limit_cumulative_gy
    prior = _prior_lung_dose(ctx)
    if dose > single:
        return f"estimated lung dose {fmt(dose)} Gy > {fmt(single)} Gy in one treatment"
    if dose + prior > cumulative:
        return (
            f"cumulative lung dose {fmt(dose + prior)} Gy (prior {fmt(prior)} Gy) > "
            f"{fmt(cumulative)} Gy"
        )
    return None


@book.rule(
    "tare.lung_dose_budget",
    ALL,
    Effect.REQUIREMENT,
    "Lung limit: the largest activity the shunt allows",
    sources=("lung_dose_limits", "dose_constant"),
    parameters=(
        "lung_dose_limit_single_gy",
        "lung_dose_limit_cumulative_gy",
        "dose_constant_gy_kg_per_gbq",
        "lung_mass_kg",
    ),
)
def _lung_budget(ctx: Context, m: Modality) -> str | None:
    lsf = ctx.case.workup.lung_shunt_fraction
    if lsf is None or lsf == 0 or ctx.case.workup.estimated_lung_dose_gy is not None:
        return None
    p = ctx.p
    prior = _prior_lung_dose(ctx)
    allowed_gy = min(p.lung_dose_limit_single_gy, p.lung_dose_limit_cumulative_gy - prior)
    if allowed_gy <= 0:
        return f"prior lung dose {fmt(prior)} Gy leaves no lung dose budget"
    a_max = _max_activity_gbq(ctx, lsf, allowed_gy)
    method = ctx.case.workup.lung_shunt_method
    note = " (planar LSF overestimates vs SPECT/CT)" if method and method.value == "planar" else ""
    return (
        f"LSF {fmt(100 * lsf)} %{note}: at most {fmt(a_max)} GBq injected keeps the lungs "
        f"<= {fmt(allowed_gy)} Gy ({fmt(p.lung_mass_kg)} kg lung, "
        f"{fmt(p.dose_constant_gy_kg_per_gbq)} "
        "Gy kg/GBq)"
    )


@book.rule(
    "tare.biliary_dilatation",
    ALL,
    Effect.CONTRAINDICATION,
    "Intrahepatic biliary dilatation",
    sources=("tare_table1_001",),
)
def _biliary(ctx: Context, m: Modality) -> str | None:
    dil = ctx.need(ctx.case.liver.biliary_dilatation, "liver.biliary_dilatation")
    return "intrahepatic biliary duct dilatation" if dil else None


# --------------------------------------------------------------------------- relative (004)
@book.rule(
    "tare.ascites_encephalopathy",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Inadequate liver reserve: ascites or encephalopathy",
    sources=("tare_relative_004", "tare_table1_001"),
)
def _reserve(ctx: Context, m: Modality) -> str | None:
    liver = ctx.case.liver
    ctx.need_all(liver__ascites=liver.ascites, liver__encephalopathy=liver.encephalopathy)
    found = []
    if liver.ascites is not None and liver.ascites.value != "none":
        found.append(f"{liver.ascites.value.replace('_', '-')} ascites")
    if liver.encephalopathy is not None and liver.encephalopathy.value != "none":
        found.append(f"encephalopathy {liver.encephalopathy.value.replace('_', ' ')}")
    if found:
        return (
            f"inadequate liver reserve: {', '.join(found)} "
            "(seed 001 lists ascites as a contraindication)"
        )
    return None


@book.rule(
    "tare.creatinine",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Serum creatinine above 2.0 mg/dL",
    sources=("tare_relative_004",),
    parameters=("tare_creatinine_max_mg_dl",),
)
def _creatinine(ctx: Context, m: Modality) -> str | None:
    crea = ctx.need(ctx.case.labs.creatinine_mg_dl, "labs.creatinine")
    if crea > ctx.p.tare_creatinine_max_mg_dl:
        return f"creatinine {fmt(crea)} mg/dL > {fmt(ctx.p.tare_creatinine_max_mg_dl)}"
    return None


@book.rule(
    "tare.platelets",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Platelets below 50 x 10^9/L",
    sources=("tare_relative_004",),
    parameters=("tare_platelets_min_10e9_per_l",),
)
def _platelets(ctx: Context, m: Modality) -> str | None:
    plt = ctx.need(ctx.case.labs.platelets_10e9_per_l, "labs.platelets_10e9_per_l")
    if plt < ctx.p.tare_platelets_min_10e9_per_l:
        return f"platelets {fmt(plt)} x 10^9/L < {fmt(ctx.p.tare_platelets_min_10e9_per_l)}"
    return None


@book.rule(
    "tare.contrast_allergy",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Severe iodinated contrast allergy",
    sources=("tare_relative_004",),
)
def _contrast(ctx: Context, m: Modality) -> str | None:
    allergy = ctx.need(ctx.case.history.contrast_allergy, "history.contrast_allergy")
    return "severe iodinated contrast allergy" if allergy is ContrastAllergy.SEVERE else None


@book.rule(
    "tare.pulmonary_function",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Compromised pulmonary function",
    sources=("tare_relative_004",),
)
def _lungs(ctx: Context, m: Modality) -> str | None:
    if ctx.case.patient.pulmonary_function == "compromised":
        return "compromised pulmonary function: keep the lung dose well below the limits"
    return None


@book.rule(
    "tare.life_expectancy",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Life expectancy under 3 months",
    sources=("tare_relative_004",),
    parameters=("tare_min_life_expectancy_months",),
)
def _life(ctx: Context, m: Modality) -> str | None:
    return life_expectancy_below(ctx, ctx.p.tare_min_life_expectancy_months)


@book.rule(
    "tare.bilobar_low_burden",
    LOBAR,
    Effect.RELATIVE_CONTRAINDICATION,
    "Tumour burden under 20 % for bilobar treatment",
    sources=("tare_relative_004",),
    parameters=("tare_bilobar_min_involvement_percent",),
)
def _bilobar_low(ctx: Context, m: Modality) -> str | None:
    if ctx.case.liver.distribution is not Distribution.BILOBAR:
        return None
    burden = ctx.burden_percent()
    limit = ctx.p.tare_bilobar_min_involvement_percent
    if burden < limit:
        return f"bilobar treatment with tumour burden {fmt(burden)} % < {fmt(limit)} %"
    return None


# --------------------------------------------------------------------------- 001 REILD risk
@book.rule(
    "tare.reild_risk",
    ALL,
    Effect.CAUTION,
    "Pre-existing liver disease or prior chemotherapy raise the risk of REILD",
    sources=("tare_table1_001",),
)
def _reild(ctx: Context, m: Modality) -> str | None:
    reasons = []
    if ctx.case.liver.chronic_liver_disease:
        reasons.append("pre-existing liver disease")
    if ctx.case.history.treatments_of(TreatmentType.CHEMOTHERAPY):
        reasons.append("prior chemotherapy")
    if reasons:
        return f"{' and '.join(reasons)}: higher risk of radioembolization-induced liver disease"
    return None


# ------------------------------------------------------------- sequencing, preferences
@book.rule(
    "tare.portal_vein_thrombosis",
    ALL,
    Effect.CAUTION,
    "Portal vein thrombosis: seed 004 allows TARE, seed 001 lists portal obstruction against it",
    sources=("tare_pvt_004", "tare_table1_001"),
)
def _pvt(ctx: Context, m: Modality) -> str | None:
    if ctx.case.liver.portal_vein_thrombosis:
        return (
            "portal vein thrombosis - sources disagree: seed 004 says it is not a "
            "contraindication to TARE (minimal embolic effect), unlike TAE/TACE; seed 001 §6.2 "
            "lists portal vein obstruction as a contraindication to SIRT - review its extent"
        )
    return None


@book.rule(
    "tare.sequencing",
    LOBAR,
    Effect.REQUIREMENT,
    "Bilobar disease: one lobe at a time, 4-6 weeks apart",
    sources=("tare_sequencing_004",),
)
def _sequencing(ctx: Context, m: Modality) -> str | None:
    if ctx.case.liver.distribution is Distribution.BILOBAR:
        return "bilobar disease: treat one lobe at a time, 4-6 weeks apart, after recovery"
    return None


@book.rule(
    "tare.low_grade_bilobar",
    LOBAR,
    Effect.CAUTION,
    "Low-grade bilobar disease with long life expectancy: chronic hepatotoxicity",
    sources=("tare_general_004", "tare_chronic_004"),
)
def _low_grade_bilobar(ctx: Context, m: Modality) -> str | None:
    if ctx.case.liver.distribution is not Distribution.BILOBAR:
        return None
    grade = ctx.who_grade()
    if grade in (WhoGrade.G1, WhoGrade.G2):
        return (
            f"{grade.value} bilobar disease, long expected survival: cirrhosis-like morphology in "
            "56 % after bilobar glass TARE (median 1.8 years); avoid sequential bilobar or "
            "whole-liver treatment unless normal-liver dose is predicted low"
        )
    return None


@book.rule(
    "tare.aggressive_or_after_tace",
    ALL,
    Effect.FAVOURS,
    "Aggressive tumours or prior TAE/TACE favour TARE",
    sources=("tare_general_004",),
)
def _aggressive(ctx: Context, m: Modality) -> str | None:
    reasons = []
    if ctx.case.history.treatments_of(
        TreatmentType.TAE, TreatmentType.CTACE, TreatmentType.DEBTACE
    ):
        reasons.append("prior TAE/TACE")
    if ctx.grade.grade is WhoGrade.G3:
        reasons.append("relatively aggressive tumour (NET G3)")
    if reasons:
        return f"{' and '.join(reasons)}: appropriate candidate for TARE"
    return None


@book.rule(
    "tare.biliary_instrumentation",
    ALL,
    Effect.FAVOURS,
    "Prior biliary instrumentation favours TARE over TAE/TACE",
    sources=("tare_general_004", "tare_infection_004"),
)
def _biliary_instrumented(ctx: Context, m: Modality) -> str | None:
    if ctx.case.history.biliary_instrumented:
        return "prior biliary instrumentation: infection ~10 % after TARE vs ~20 % after TAE/TACE"
    return None


@book.rule(
    "tare.glass_biliary_infection",
    (Modality.TARE_GLASS,),
    Effect.CAUTION,
    "Glass microspheres carry a higher infection risk after biliary instrumentation",
    sources=("tare_infection_004",),
)
def _glass_infection(ctx: Context, m: Modality) -> str | None:
    if ctx.case.history.biliary_instrumented:
        return (
            "prior biliary instrumentation: glass carries a higher infection risk than resin "
            "(higher activity per sphere, deeper penetration)"
        )
    return None


@book.rule(
    "tare.retreatment",
    ALL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Retreating a lobe with 90Y: extreme caution after reviewing the dose received",
    sources=("tare_general_004",),
)
def _retreatment(ctx: Context, m: Modality) -> str | None:
    prior = ctx.case.history.treatments_of(TreatmentType.TARE)
    if not prior:
        return None
    where = ", ".join(
        f"{t.territory.value if t.territory else 'territory not recorded'}"
        + (f" ({fmt(t.liver_dose_gy)} Gy)" if t.liver_dose_gy is not None else "")
        for t in prior
    )
    return f"prior radioembolization: {where}; review the dose already received"


@book.rule(
    "tare.after_prrt",
    ALL,
    Effect.CAUTION,
    "Prior PRRT: liver radiation adds up",
    sources=("tare_after_prrt_004", "prrt_sequencing_003"),
)
def _after_prrt(ctx: Context, m: Modality) -> str | None:
    prrt = ctx.case.history.treatments_of(TreatmentType.PRRT, TreatmentType.PRRT_INTRAARTERIAL)
    if not prrt:
        return None
    cycles = sum(t.cycles or 1 for t in prrt)
    whole = " (whole-liver exposure)" if m in LOBAR else ""
    return (
        f"prior PRRT ({cycles} cycle(s)){whole}: feasible (Braat: ORR 16 %, DCR 91 %, fatal "
        "REILD 1/44) but liver radiation adds up - count it in the normal-liver dose"
    )


@book.rule(
    "tare.hypovascular",
    ALL,
    Effect.CAUTION,
    "Hypovascular metastases: rapidly progressive disease only",
    sources=("tare_hypovascular_004",),
)
def _hypovascular(ctx: Context, m: Modality) -> str | None:
    hypo = [x.id for x in ctx.case.liver.lesions if x.enhancement is Enhancement.HYPOVASCULAR]
    if hypo:
        return (
            f"{', '.join(hypo)} hypovascular: use TARE carefully, for rapidly progressing disease"
        )
    return None


@book.rule(
    "segmentectomy.selective",
    SEG,
    Effect.FAVOURS,
    "Localized unresectable or unablatable tumour: radiation segmentectomy",
    sources=("segmentectomy_004",),
)
def _seg_favours(ctx: Context, m: Modality) -> str | None:
    count = ctx.case.liver.lesion_total
    if isinstance(count, int) and 0 < count <= ctx.p.segmentectomy_max_lesions:
        return "localized disease: superselective radiation segmentectomy spares normal liver"
    return None
