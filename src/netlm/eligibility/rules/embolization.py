"""Transarterial rules: shared ones, and bland/chemoembolization (seed 001 §6.1, Table 1)."""

from __future__ import annotations

from netlm.case.model import (
    BiliaryIntervention,
    ContrastAllergy,
    Distribution,
    FunctionalSyndrome,
    PresenceStatus,
    TreatmentType,
)
from netlm.clinical import WhoGrade
from netlm.eligibility.result import (
    EMBOLIZATION,
    RADIOEMBOLIZATION,
    TRANSARTERIAL,
    Effect,
    Modality,
)
from netlm.eligibility.rules.base import Context, RuleBook, fmt

book = RuleBook()
E = EMBOLIZATION


# --------------------------------------------------------------------------- all transarterial
def indication_not_met(ctx: Context) -> str | None:
    """Why a palliative option has no indication yet, or ``None`` when it has one.

    The indication is progressive liver disease or symptoms refractory to
    somatostatin analogues (seed 001 §6.1 for TAE/TACE, seed 004 for TARE,
    NETTER-1 for PRRT).  A carcinoma is never sent to "SSA first line": its
    own rule (``carcinoma.systemic_therapy``, ``prrt.nec``) points to systemic
    therapy, so the indication is not judged here; while NET G3 vs NEC is
    undetermined the message asks for the pathology first.
    """
    if ctx.grade.grade is WhoGrade.NEC:
        return None
    t = ctx.case.tumour
    if t.liver_disease_course is not None and t.liver_disease_course.value == "progressive":
        return None
    if t.symptoms_refractory_to_ssa:
        return None
    ctx.need_all(
        tumour__liver_disease_course=t.liver_disease_course,
        tumour__symptoms_refractory_to_ssa=t.symptoms_refractory_to_ssa,
    )
    course = t.liver_disease_course.value if t.liver_disease_course else ""
    if ctx.grade.grade is WhoGrade.G3_OR_NEC:
        return (
            f"liver disease {course} and no refractory symptoms: no indication yet if this is "
            "a NET G3; a carcinoma goes to systemic therapy - pathology review first"
        )
    return (
        f"liver disease {course} and no symptoms refractory to somatostatin analogues: no "
        "indication yet (SSA first line)"
    )


@book.rule(
    "transarterial.indication",
    TRANSARTERIAL,
    Effect.NOT_SUITABLE,
    "Indication: progressive liver disease or symptoms despite somatostatin analogues",
    sources=("tace_001", "tare_indications_004", "ssa_first_line_001"),
)
def _indication(ctx: Context, m: Modality) -> str | None:
    return indication_not_met(ctx)


@book.rule(
    "transarterial.inr_access",
    TRANSARTERIAL,
    Effect.RELATIVE_CONTRAINDICATION,
    "INR too high for arterial access (SIR 2019)",
    sources=("sir2019_arterial",),
    parameters=("arterial_inr_max_femoral", "arterial_inr_max_radial"),
)
def _inr(ctx: Context, m: Modality) -> str | None:
    inr = ctx.need(ctx.case.labs.inr, "labs.inr")
    femoral, radial = ctx.p.arterial_inr_max_femoral, ctx.p.arterial_inr_max_radial
    if inr >= radial:
        return f"INR {fmt(inr)} >= {fmt(radial)}: correct before any arterial access"
    if inr >= femoral:
        return f"INR {fmt(inr)} >= {fmt(femoral)}: radial access (< {fmt(radial)}) or correct first"
    return None


@book.rule(
    "transarterial.platelets_access",
    TRANSARTERIAL,
    Effect.RELATIVE_CONTRAINDICATION,
    "Platelets too low for arterial access (SIR 2019)",
    sources=("sir2019_arterial",),
    parameters=("arterial_platelets_min_10e9_per_l",),
)
def _plt(ctx: Context, m: Modality) -> str | None:
    plt = ctx.need(ctx.case.labs.platelets_10e9_per_l, "labs.platelets_10e9_per_l")
    limit = ctx.p.arterial_platelets_min_10e9_per_l
    if plt < limit:
        return f"platelets {fmt(plt)} x 10^9/L < {fmt(limit)}: correct before arterial access"
    return None


@book.rule(
    "transarterial.carcinoid_syndrome",
    TRANSARTERIAL,
    Effect.REQUIREMENT,
    "Carcinoid syndrome: crisis prophylaxis per local protocol",
    sources=("carcinoid_crisis",),
)
def _carcinoid(ctx: Context, m: Modality) -> str | None:
    if ctx.case.tumour.functional_syndrome is FunctionalSyndrome.CARCINOID:
        return (
            "carcinoid syndrome: risk of carcinoid crisis; prophylaxis per local protocol "
            "(evidence for octreotide prophylaxis is weak)"
        )
    return None


@book.rule(
    "transarterial.carcinoid_heart",
    TRANSARTERIAL,
    Effect.CAUTION,
    "Carcinoid heart disease present or not yet excluded",
    sources=("carcinoid_heart",),
)
def _heart(ctx: Context, m: Modality) -> str | None:
    status = ctx.case.history.carcinoid_heart_disease
    if status is PresenceStatus.PRESENT:
        return "carcinoid heart disease: cardiology review before embolization"
    if ctx.case.tumour.functional_syndrome is FunctionalSyndrome.CARCINOID and status in (
        None,
        PresenceStatus.UNKNOWN,
    ):
        return "carcinoid syndrome without heart screening: echocardiography before embolization"
    return None


# --------------------------------------------------------------------------- TAE / TACE
def ecog_above(ctx: Context, limit: int, what: str) -> str | None:
    """The finding for an ECOG performance status above ``limit``, or ``None``."""
    ecog = ctx.need(ctx.case.patient.ecog, "patient.ecog")
    if ecog > limit:
        return f"ECOG {ecog} > {limit}: not a good candidate for {what}"
    return None


def life_expectancy_below(ctx: Context, limit: float) -> str | None:
    """The finding for a recorded life expectancy below ``limit`` months, or ``None``."""
    months = ctx.case.patient.life_expectancy_months
    if months is not None and months < limit:
        return f"life expectancy {fmt(months)} months < {fmt(limit)}"
    return None


@book.rule(
    "embolization.ecog",
    E,
    Effect.CONTRAINDICATION,
    "ECOG performance status above 2 (as for TARE)",
    sources=("tare_exclusion_004", "tare_similar_tace_004"),
    parameters=("embolization_max_ecog",),
)
def _ecog(ctx: Context, m: Modality) -> str | None:
    return ecog_above(ctx, ctx.p.embolization_max_ecog, "TAE/TACE")


@book.rule(
    "embolization.life_expectancy",
    E,
    Effect.RELATIVE_CONTRAINDICATION,
    "Life expectancy under 3 months (as for TARE)",
    sources=("tare_relative_004", "tare_similar_tace_004"),
    parameters=("embolization_min_life_expectancy_months",),
)
def _life(ctx: Context, m: Modality) -> str | None:
    return life_expectancy_below(ctx, ctx.p.embolization_min_life_expectancy_months)


@book.rule(
    "transarterial.bilirubin_conflict",
    (*E, *RADIOEMBOLIZATION),
    Effect.CAUTION,
    "Bilirubin between 2 and 3 mg/dL: seeds 004 (> 2) and 001 (>= 3) disagree",
    sources=("tare_exclusion_004", "tare_table1_001"),
    parameters=("tare_bilirubin_limit_mg_dl", "tare_bilirubin_hard_limit_mg_dl"),
    modality_sources={m: ("tace_001", "tare_similar_tace_004") for m in E},
)
def _bilirubin_conflict(ctx: Context, m: Modality) -> str | None:
    bili = ctx.need(ctx.case.labs.bilirubin_mg_dl, "labs.bilirubin")
    lo, hi = ctx.p.tare_bilirubin_limit_mg_dl, ctx.p.tare_bilirubin_hard_limit_mg_dl
    if lo < bili < hi:
        return (
            f"bilirubin {fmt(bili)} mg/dL - sources disagree: seed 004 excludes TARE above "
            f"{fmt(lo)} mg/dL unless highly selective (and calls its criteria similar to "
            f"TAE/TACE); seed 001 Table 1 contraindicates TAE/TACE and SIRT only at >= {fmt(hi)}"
        )
    return None


@book.rule(
    "embolization.grade",
    E,
    Effect.RELATIVE_CONTRAINDICATION,
    "TAE/TACE are palliative options for low-grade (G1/G2) disease",
    sources=("tace_001",),
)
def _grade(ctx: Context, m: Modality) -> str | None:
    grade = ctx.who_grade()
    if grade is WhoGrade.G3_OR_NEC:
        ctx.need(None, "tumour.differentiation")
    if grade in (WhoGrade.G3, WhoGrade.NEC):
        return f"{grade.value}: the evidence for TAE/TACE is in G1/G2 disease"
    return None


@book.rule(
    "embolization.portal_vein_thrombosis",
    E,
    Effect.CONTRAINDICATION,
    "Portal vein thrombosis",
    sources=("tace_001",),
)
def _pvt(ctx: Context, m: Modality) -> str | None:
    pvt = ctx.need(ctx.case.liver.portal_vein_thrombosis, "liver.portal_vein_thrombosis")
    if pvt:
        return (
            "portal vein thrombosis: embolization risks liver infarction (seed 001); seed 004 "
            "does not exclude TARE"
        )
    return None


@book.rule(
    "embolization.bilioenteric",
    E,
    Effect.CONTRAINDICATION,
    "Bilio-enteric anastomosis or sphincterotomy",
    sources=("tace_001", "tace_biliary_abscess"),
)
def _bilioenteric(ctx: Context, m: Modality) -> str | None:
    bi = ctx.need(ctx.case.history.biliary_intervention, "history.biliary_intervention")
    hits = [
        b.value
        for b in bi
        if b in (BiliaryIntervention.BILIOENTERIC_ANASTOMOSIS, BiliaryIntervention.SPHINCTEROTOMY)
    ]
    if hits:
        return f"{', '.join(hits)}: high risk of liver abscess after embolization; prefer TARE"
    return None


@book.rule(
    "embolization.biliary_stent",
    E,
    Effect.CAUTION,
    "Biliary stent: high abscess risk, prefer TARE or give antibiotic prophylaxis",
    sources=("tace_biliary_abscess", "tare_general_004", "tare_infection_004"),
)
def _stent(ctx: Context, m: Modality) -> str | None:
    bi = ctx.case.history.biliary_intervention or ()
    hits = [
        b.value
        for b in bi
        if b in (BiliaryIntervention.PLASTIC_STENT, BiliaryIntervention.METAL_STENT)
    ]
    if hits:
        return (
            f"{', '.join(hits)}: infection ~20 % after TAE/TACE vs ~10 % after TARE; "
            "prefer TARE, otherwise aggressive antibiotic prophylaxis"
        )
    return None


@book.rule(
    "embolization.involvement",
    E,
    Effect.RELATIVE_CONTRAINDICATION,
    "Liver involvement above 75 %: high risk of acute liver failure",
    sources=("tace_001", "tace_burden_mortality"),
    parameters=("embolization_max_involvement_percent",),
)
def _burden(ctx: Context, m: Modality) -> str | None:
    burden = ctx.burden_percent()
    limit = ctx.p.embolization_max_involvement_percent
    if burden > limit:
        return (
            f"liver involvement {fmt(burden)} % > {fmt(limit)} %: high risk of acute liver "
            "failure (30-day mortality 7 % in one NET series); sources disagree - seed 001 "
            "Table 1 lists > 75 % as a contraindication, its §6.1 text says 'treat carefully'"
        )
    return None


@book.rule(
    "embolization.involvement_high",
    E,
    Effect.CAUTION,
    "Liver replacement above 50 % predicts poor survival after embolization",
    sources=("tace_burden_mortality",),
    parameters=(
        "embolization_high_risk_involvement_percent",
        "embolization_max_involvement_percent",
    ),
)
def _burden_high(ctx: Context, m: Modality) -> str | None:
    burden = ctx.burden_percent()
    lo, hi = (
        ctx.p.embolization_high_risk_involvement_percent,
        ctx.p.embolization_max_involvement_percent,
    )
    if lo < burden <= hi:
        return (
            f"liver involvement {fmt(burden)} % > {fmt(lo)} %: poorer survival after embolization"
        )
    return None


@book.rule(
    "embolization.bilirubin",
    E,
    Effect.CONTRAINDICATION,
    "Bilirubin at or above 3 mg/dL",
    sources=("tace_001",),
    parameters=("embolization_bilirubin_limit_mg_dl",),
)
def _bilirubin(ctx: Context, m: Modality) -> str | None:
    bili = ctx.need(ctx.case.labs.bilirubin_mg_dl, "labs.bilirubin")
    limit = ctx.p.embolization_bilirubin_limit_mg_dl
    if bili >= limit:
        return (
            f"bilirubin {fmt(bili)} mg/dL >= {fmt(limit)}: impaired liver function, high risk of "
            "acute liver failure"
        )
    return None


@book.rule(
    "embolization.ascites",
    E,
    Effect.CONTRAINDICATION,
    "Ascites",
    sources=("tace_001",),
)
def _ascites(ctx: Context, m: Modality) -> str | None:
    ascites = ctx.need(ctx.case.liver.ascites, "liver.ascites")
    if ascites.value != "none":
        return f"{ascites.value.replace('_', '-')} ascites: impaired liver function"
    return None


@book.rule(
    "embolization.contrast_allergy",
    E,
    Effect.CONTRAINDICATION,
    "Allergy to iodinated contrast",
    sources=("tace_001",),
)
def _contrast(ctx: Context, m: Modality) -> str | None:
    allergy = ctx.need(ctx.case.history.contrast_allergy, "history.contrast_allergy")
    if allergy is ContrastAllergy.SEVERE:
        return "severe allergy to iodinated contrast"
    return None


@book.rule(
    "embolization.contrast_allergy_mild",
    E,
    Effect.CAUTION,
    "Mild contrast allergy: premedication",
    sources=("tace_001",),
)
def _contrast_mild(ctx: Context, m: Modality) -> str | None:
    if ctx.case.history.contrast_allergy is ContrastAllergy.MILD:
        return "mild contrast allergy: premedicate per local protocol"
    return None


@book.rule(
    "embolization.coagulopathy",
    TRANSARTERIAL,
    Effect.CONTRAINDICATION,
    "Irreversible coagulopathy (TAE/TACE and, its criteria being similar, TARE)",
    sources=("tace_001",),
    modality_sources={m: ("tare_similar_tace_004",) for m in RADIOEMBOLIZATION},
)
def _coag(ctx: Context, m: Modality) -> str | None:
    coag = ctx.need(ctx.case.history.irreversible_coagulopathy, "history.irreversible_coagulopathy")
    return "irreversible coagulation disorder" if coag else None


@book.rule(
    "embolization.sequencing",
    E,
    Effect.REQUIREMENT,
    "One lobe per session, repeated every 4-6 weeks",
    sources=("tace_001",),
)
def _sequencing(ctx: Context, m: Modality) -> str | None:
    if ctx.case.liver.distribution is Distribution.BILOBAR:
        return (
            "bilobar disease: treat one lobe per session, repeat every 4-6 weeks while "
            "eligible and effective"
        )
    return None


@book.rule(
    "embolization.post_embolization_syndrome",
    E,
    Effect.REQUIREMENT,
    "Expect post-embolization syndrome (80-86 %)",
    sources=("tace_001",),
)
def _pes(ctx: Context, m: Modality) -> str | None:
    return (
        "post-embolization syndrome in 80-86 % (analgesics, steroids, hydration); major "
        "complications 3-17 % (liver failure, ischaemic cholecystitis, carcinoid crisis, abscess)"
    )


@book.rule(
    "embolization.chemo_vs_bland",
    (Modality.CTACE, Modality.DEBTACE),
    Effect.FAVOURS,
    "Trend to better PFS/OS with chemoembolization than bland embolization",
    sources=("tace_vs_tae_000", "tace_001"),
)
def _chemo(ctx: Context, m: Modality) -> str | None:
    return (
        "trend to better PFS/OS with chemoembolization than bland embolization in NET series; "
        "no prospective evidence of TACE over TAE (seed 001)"
    )


@book.rule(
    "embolization.prior_tare",
    E,
    Effect.CAUTION,
    "Embolization after radioembolization",
    sources=("tare_general_004",),
)
def _after_tare(ctx: Context, m: Modality) -> str | None:
    if ctx.case.history.treatments_of(TreatmentType.TARE):
        return "prior radioembolization: review the liver dose received before embolizing"
    return None
