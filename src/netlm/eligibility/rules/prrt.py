"""PRRT rules: intravenous 177Lu-DOTATATE and intra-arterial PRRT (seed 001 §6.3, LUTIA)."""

from __future__ import annotations

from netlm.case.model import ExtrahepaticDisease, PriorTreatment, TreatmentType
from netlm.clinical import WhoGrade
from netlm.eligibility.result import Effect, Modality
from netlm.eligibility.rules.base import Context, MissingData, RuleBook, fmt
from netlm.eligibility.rules.embolization import ecog_above, indication_not_met

book = RuleBook()
BOTH = (Modality.PRRT, Modality.PRRT_INTRAARTERIAL)
IV = (Modality.PRRT,)
IA = (Modality.PRRT_INTRAARTERIAL,)

#: Treatments that count as prior liver-directed therapy for LUTIA (a resection
#: only when it was of the liver: see :func:`_liver_directed`).
LIVER_DIRECTED = (
    TreatmentType.TARE,
    TreatmentType.TAE,
    TreatmentType.CTACE,
    TreatmentType.DEBTACE,
    TreatmentType.ABLATION,
    TreatmentType.RESECTION,
    TreatmentType.PRRT_INTRAARTERIAL,
)

#: Words in a resection's ``agent`` that name a liver operation or a primary-tumour one.
_LIVER_WORDS = ("hepat", "liver", "metastasectomy", "segmentectomy", "lobectomy")
_PRIMARY_WORDS = (
    "whipple",
    "pancrea",
    "duoden",
    "colectomy",
    "ileo",
    "ileal",
    "bowel",
    "enterectomy",
    "jejun",
    "gastrectomy",
    "append",
    "primary",
    "rectal",
)


def _liver_directed(t: PriorTreatment) -> bool | None:
    """Whether a prior treatment was liver-directed; ``None`` when the record cannot tell.

    A resection of the primary (a Whipple, a small-bowel resection) is not
    liver-directed therapy; a resection with a liver ``territory`` or a liver
    operation as its ``agent`` is.
    """
    if t.type not in LIVER_DIRECTED:
        return False
    if t.type is not TreatmentType.RESECTION:
        return True
    agent = (t.agent or "").lower()
    if t.territory is not None or any(w in agent for w in _LIVER_WORDS):
        return True
    if any(w in agent for w in _PRIMARY_WORDS):
        return False
    return None


@book.rule(
    "prrt.sstr_imaging",
    BOTH,
    Effect.CONTRAINDICATION,
    "Negative somatostatin-receptor imaging",
    sources=("prrt_001",),
)
def _sstr(ctx: Context, m: Modality) -> str | None:
    sstr = ctx.need(ctx.case.tumour.sstr_imaging, "tumour.sstr_imaging")
    positive = ctx.need(sstr.positive, "tumour.sstr_imaging.positive")
    if not positive:
        return "somatostatin-receptor imaging negative: no target for PRRT"
    return None


@book.rule(
    "prrt.uptake",
    BOTH,
    Effect.NOT_SUITABLE,
    "SSTR uptake must be at least that of normal liver (Krenning >= 2)",
    sources=("prrt_uptake",),
    parameters=("prrt_min_krenning",),
)
def _uptake(ctx: Context, m: Modality) -> str | None:
    sstr = ctx.need(ctx.case.tumour.sstr_imaging, "tumour.sstr_imaging")
    if sstr.positive is False:
        return None  # the contraindication rule already says it
    score = ctx.need(sstr.krenning_score, "tumour.sstr_imaging.krenning_score")
    if score < ctx.p.prrt_min_krenning:
        return f"Krenning score {score} < {ctx.p.prrt_min_krenning}: uptake below normal liver"
    return None


@book.rule(
    "prrt.nec",
    BOTH,
    Effect.NOT_SUITABLE,
    "Poorly differentiated NEC is not a PRRT indication",
    sources=("prrt_001", "who2019_grading"),
)
def _nec(ctx: Context, m: Modality) -> str | None:
    grade = ctx.who_grade()
    if grade is WhoGrade.G3_OR_NEC:
        ctx.need(None, "tumour.differentiation")
    if grade is WhoGrade.NEC:
        return "neuroendocrine carcinoma: PRRT evidence (NETTER-1) is in well-differentiated NET"
    return None


@book.rule(
    "prrt.g3",
    IV,
    Effect.CAUTION,
    "NET G3: PRRT evidence mainly in G1/G2 (NETTER-2 for higher grades)",
    sources=("prrt_001",),
)
def _g3(ctx: Context, m: Modality) -> str | None:
    if ctx.grade.grade is WhoGrade.G3:
        return "NET G3: NETTER-1 enrolled low-grade midgut NET; NETTER-2 studies G2/G3 first line"
    return None


@book.rule(
    "prrt.indication",
    BOTH,
    Effect.NOT_SUITABLE,
    "Indication: progressive disease or symptoms despite somatostatin analogues",
    sources=("prrt_001", "ssa_first_line_001"),
)
def _indication(ctx: Context, m: Modality) -> str | None:
    return indication_not_met(ctx)


@book.rule(
    "prrt.performance",
    BOTH,
    Effect.CAUTION,
    "Poor performance status or short life expectancy (outside the NETTER-1 population)",
    sources=("netter1_inclusion",),
    parameters=("prrt_max_ecog", "prrt_min_life_expectancy_months"),
)
def _performance(ctx: Context, m: Modality) -> str | None:
    reasons = [ecog_above(ctx, ctx.p.prrt_max_ecog, "PRRT (NETTER-1: Karnofsky >= 60)")]
    months = ctx.case.patient.life_expectancy_months
    limit = ctx.p.prrt_min_life_expectancy_months
    if months is not None and months < limit:
        reasons.append(
            f"life expectancy {fmt(months)} months < {fmt(limit)}: four cycles take ~8 months"
        )
    found = [r for r in reasons if r]
    return "; ".join(found) if found else None


@book.rule(
    "prrt.leukocytes",
    IV,
    Effect.CONTRAINDICATION,
    "White cells below the PRRT floor (bone marrow toxicity)",
    sources=("netter1_inclusion",),
    parameters=("prrt_leukocytes_min_10e9_per_l",),
)
def _leukocytes(ctx: Context, m: Modality) -> str | None:
    wbc = ctx.case.labs.leukocytes_10e9_per_l
    limit = ctx.p.prrt_leukocytes_min_10e9_per_l
    if wbc is not None and wbc < limit:
        return f"white cells {fmt(wbc)} x 10^9/L < {fmt(limit)}: marrow reserve too low"
    return None


@book.rule(
    "prrt.platelets",
    IV,
    Effect.CONTRAINDICATION,
    "Platelets below the PRRT floor (bone marrow toxicity)",
    sources=("netter1_eligibility", "lutia"),
    parameters=("prrt_platelets_min_10e9_per_l",),
)
def _platelets(ctx: Context, m: Modality) -> str | None:
    plt = ctx.need(ctx.case.labs.platelets_10e9_per_l, "labs.platelets_10e9_per_l")
    limit = ctx.p.prrt_platelets_min_10e9_per_l
    if plt < limit:
        return f"platelets {fmt(plt)} x 10^9/L < {fmt(limit)}: marrow reserve too low"
    return None


@book.rule(
    "prrt.renal",
    IV,
    Effect.RELATIVE_CONTRAINDICATION,
    "Renal function below the PRRT threshold (radiation nephropathy)",
    sources=("netter1_eligibility", "prrt_001"),
    parameters=("prrt_min_egfr_ml_min",),
)
def _renal(ctx: Context, m: Modality) -> str | None:
    egfr = ctx.need(ctx.case.labs.egfr_ml_min, "labs.egfr_ml_min")
    limit = ctx.p.prrt_min_egfr_ml_min
    if egfr < limit:
        return f"eGFR {fmt(egfr)} mL/min < {fmt(limit)}: risk of radiation nephropathy"
    return None


@book.rule(
    "prrt.schedule",
    IV,
    Effect.REQUIREMENT,
    "NETTER-1 schedule and long-term kidney/marrow follow-up",
    sources=("prrt_001",),
)
def _schedule(ctx: Context, m: Modality) -> str | None:
    return (
        "NETTER-1: 4 x 7.4 GBq 177Lu-DOTATATE every 8 weeks; follow kidney function and "
        "blood counts long term"
    )


@book.rule(
    "prrt.extrahepatic",
    IV,
    Effect.FAVOURS,
    "Extrahepatic disease: a systemic treatment reaches it",
    sources=("prrt_001",),
)
def _extrahepatic(ctx: Context, m: Modality) -> str | None:
    ehd = ctx.case.tumour.extrahepatic_disease
    if ehd in (ExtrahepaticDisease.LIMITED, ExtrahepaticDisease.EXTENSIVE):
        return f"{ehd.value} extrahepatic disease: PRRT treats disease outside the liver too"
    return None


@book.rule(
    "prrt.prior_prrt",
    IV,
    Effect.CAUTION,
    "Repeat PRRT: cumulative kidney and marrow dose",
    sources=("prrt_001",),
)
def _prior_prrt(ctx: Context, m: Modality) -> str | None:
    prior = ctx.case.history.treatments_of(TreatmentType.PRRT)
    if prior:
        cycles = sum(t.cycles or 1 for t in prior)
        return f"{cycles} prior PRRT cycle(s): re-treatment adds kidney and marrow dose"
    return None


@book.rule(
    "prrt.after_tare",
    BOTH,
    Effect.CAUTION,
    "PRRT after radioembolization: hepatotoxicity concern",
    sources=("tare_after_prrt_004",),
)
def _after_tare(ctx: Context, m: Modality) -> str | None:
    if ctx.case.history.treatments_of(TreatmentType.TARE):
        return (
            "prior radioembolization: 10/17 heavily pretreated patients developed hepatotoxicity "
            "after embolotherapy then PRRT (small series); liver radiation adds up"
        )
    return None


# --------------------------------------------------------------------------- intra-arterial
@book.rule(
    "prrt_ia.trials_only",
    IA,
    Effect.CAUTION,
    "Intra-arterial PRRT: within clinical trials only",
    sources=("prrt_ia_001",),
)
def _trials(ctx: Context, m: Modality) -> str | None:
    return "intra-arterial PRRT is available in clinical trials only, not in most centres"


@book.rule(
    "prrt_ia.lutia_ki67",
    IA,
    Effect.NOT_SUITABLE,
    "LUTIA: Ki-67 at most 20 %",
    sources=("lutia",),
    parameters=("lutia_max_ki67_percent",),
)
def _lutia_ki67(ctx: Context, m: Modality) -> str | None:
    ki67 = ctx.need(ctx.case.tumour.ki67_percent, "tumour.ki67_percent")
    if ki67 > ctx.p.lutia_max_ki67_percent:
        return f"Ki-67 {fmt(ki67)} % > {fmt(ctx.p.lutia_max_ki67_percent)} % (LUTIA inclusion)"
    return None


@book.rule(
    "prrt_ia.lutia_lesions",
    IA,
    Effect.NOT_SUITABLE,
    "LUTIA: at least one lesion >= 3 cm in each lobe",
    sources=("lutia",),
    parameters=("lutia_min_lesion_mm",),
)
def _lutia_lesions(ctx: Context, m: Modality) -> str | None:
    limit = ctx.p.lutia_min_lesion_mm
    lesions = ctx.case.liver.lesions
    if not lesions:
        ctx.need(None, "liver.lesions")
    lobes = {
        x.lobe
        for x in lesions
        if x.longest_diameter_mm is not None and x.longest_diameter_mm >= limit
    }
    if {"left", "right"} <= lobes:
        return None  # met, whatever the other lesions measure
    # Only lesions that could still be >= limit in a lacking lobe matter.
    lacking = {"left", "right"} - lobes
    unknown = [
        f"liver.lesions[{i}].longest_diameter_mm"
        for i, x in enumerate(lesions)
        if x.longest_diameter_mm is None and (x.segment is None or x.lobe in lacking)
    ] + [
        f"liver.lesions[{i}].segment"
        for i, x in enumerate(lesions)
        if x.segment is None and (x.longest_diameter_mm or limit) >= limit
    ]
    if unknown:
        ctx.need_all(**{p.replace(".", "__"): None for p in unknown})
    if not ctx.all_lesions_listed():
        ctx.need(None, "liver.lesions (every lesion with segment and diameter)")
    return (
        f"no lesion >= {fmt(limit)} mm in the {' and '.join(sorted(lacking))} lobe "
        "(LUTIA inclusion)"
    )


@book.rule(
    "prrt_ia.lutia_burden",
    IA,
    Effect.NOT_SUITABLE,
    "LUTIA: tumour burden at most 25 %",
    sources=("lutia",),
    parameters=("lutia_max_involvement_percent",),
)
def _lutia_burden(ctx: Context, m: Modality) -> str | None:
    burden = ctx.burden_percent()
    if burden > ctx.p.lutia_max_involvement_percent:
        return (
            f"tumour burden {fmt(burden)} % > {fmt(ctx.p.lutia_max_involvement_percent)} % "
            "(LUTIA inclusion)"
        )
    return None


@book.rule(
    "prrt_ia.lutia_labs",
    IA,
    Effect.NOT_SUITABLE,
    "LUTIA: GFR >= 50, platelets >= 100, bilirubin <= ULN, albumin >= 3.0 g/dL",
    sources=("lutia",),
    parameters=(
        "lutia_min_egfr_ml_min",
        "lutia_min_platelets_10e9_per_l",
        "lutia_min_albumin_g_dl",
    ),
)
def _lutia_labs(ctx: Context, m: Modality) -> str | None:
    labs, p = ctx.case.labs, ctx.p
    ctx.need_all(
        labs__egfr_ml_min=labs.egfr_ml_min,
        labs__platelets_10e9_per_l=labs.platelets_10e9_per_l,
        labs__bilirubin=labs.bilirubin,
        labs__albumin=labs.albumin,
    )
    bili = ctx.need(labs.bilirubin, "labs.bilirubin")
    uln = ctx.need(bili.uln, "labs.bilirubin.uln")
    failed = []
    if (labs.egfr_ml_min or 0.0) < p.lutia_min_egfr_ml_min:
        failed.append(
            f"eGFR {fmt(labs.egfr_ml_min or 0.0)} < {fmt(p.lutia_min_egfr_ml_min)} mL/min"
        )
    if (labs.platelets_10e9_per_l or 0.0) < p.lutia_min_platelets_10e9_per_l:
        failed.append(
            f"platelets {fmt(labs.platelets_10e9_per_l or 0.0)} < "
            f"{fmt(p.lutia_min_platelets_10e9_per_l)} x 10^9/L"
        )
    if bili.value > uln:
        failed.append(f"bilirubin {fmt(bili.value)} > ULN {fmt(uln)} {bili.unit}")
    if (labs.albumin_g_dl or 0.0) < p.lutia_min_albumin_g_dl:
        failed.append(
            f"albumin {fmt(labs.albumin_g_dl or 0.0)} < {fmt(p.lutia_min_albumin_g_dl)} g/dL"
        )
    if failed:
        return "; ".join(failed) + " (LUTIA inclusion)"
    return None


@book.rule(
    "prrt_ia.lutia_prior_ldt",
    IA,
    Effect.NOT_SUITABLE,
    "LUTIA: no prior liver-directed therapy",
    sources=("lutia",),
)
def _lutia_prior(ctx: Context, m: Modality) -> str | None:
    prior = ctx.need(ctx.case.history.prior_treatments, "history.prior_treatments")
    done = sorted({t.type.value for t in prior if _liver_directed(t)})
    if done:
        return f"prior liver-directed therapy ({', '.join(done)}) (LUTIA exclusion)"
    unclear = [
        f"history.prior_treatments[{i}].territory"
        for i, t in enumerate(prior)
        if _liver_directed(t) is None
    ]
    if unclear:
        raise MissingData(unclear)  # a liver resection, or the primary's?
    return None
