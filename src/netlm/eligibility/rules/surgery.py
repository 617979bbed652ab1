"""Resection and transplantation rules (seed 001 §1-2; Milan-NET)."""

from __future__ import annotations

from netlm.case.model import ExtrahepaticDisease, PrimarySite
from netlm.clinical import WhoGrade
from netlm.eligibility.result import Effect, Modality
from netlm.eligibility.rules.base import Context, MissingData, RuleBook, fmt

book = RuleBook()
R = (Modality.RESECTION,)
T = (Modality.TRANSPLANT,)

#: Primary sites drained by the portal system (pancreas and midgut, seed 001 §2).
PORTAL_DRAINED = frozenset(
    {
        PrimarySite.PANCREAS,
        PrimarySite.STOMACH,
        PrimarySite.SMALL_INTESTINE,
        PrimarySite.APPENDIX,
        PrimarySite.COLON,
    }
)


# --------------------------------------------------------------------------- resection
@book.rule(
    "resection.grade",
    R,
    Effect.NOT_SUITABLE,
    "Resection is for well-differentiated G1/G2 disease",
    sources=("resection_001", "who2019_grading"),
)
def _resection_grade(ctx: Context, m: Modality) -> str | None:
    grade = ctx.who_grade()
    if grade is WhoGrade.G3_OR_NEC:
        ctx.need(None, "tumour.differentiation")
    if grade in (WhoGrade.G3, WhoGrade.NEC):
        return f"{grade.value}: resection of liver metastases is considered for G1/G2 disease"
    return None


@book.rule(
    "resection.performance_status",
    R,
    Effect.CONTRAINDICATION,
    "Performance status too poor for liver surgery",
    sources=("resection_fitness",),
    parameters=("resection_max_ecog",),
)
def _resection_ecog(ctx: Context, m: Modality) -> str | None:
    ecog = ctx.need(ctx.case.patient.ecog, "patient.ecog")
    limit = ctx.p.resection_max_ecog
    if ecog > limit:
        return f"ECOG {ecog} > {limit}: performance status not acceptable for liver surgery"
    return None


@book.rule(
    "resection.extrahepatic",
    R,
    Effect.CONTRAINDICATION,
    "Extensive or unresectable extrahepatic disease",
    sources=("resection_debulking",),
)
def _resection_extrahepatic(ctx: Context, m: Modality) -> str | None:
    ehd = ctx.need(ctx.case.tumour.extrahepatic_disease, "tumour.extrahepatic_disease")
    if ehd is ExtrahepaticDisease.EXTENSIVE:
        return "extensive extrahepatic disease: liver resection is not curative"
    if ehd is ExtrahepaticDisease.LIMITED:
        resectable = ctx.need(
            ctx.case.tumour.extrahepatic_resectable, "tumour.extrahepatic_resectable"
        )
        if not resectable:
            return "extrahepatic disease that cannot be resected"
    return None


@book.rule(
    "resection.extrahepatic_limited",
    R,
    Effect.CAUTION,
    "Limited extrahepatic disease: only if resectable too",
    sources=("resection_debulking",),
)
def _resection_extrahepatic_limited(ctx: Context, m: Modality) -> str | None:
    ehd = ctx.case.tumour.extrahepatic_disease
    if ehd is ExtrahepaticDisease.LIMITED and ctx.case.tumour.extrahepatic_resectable:
        return "limited extrahepatic disease judged resectable: plan a combined resection"
    return None


@book.rule(
    "resection.resectable_fraction",
    R,
    Effect.NOT_SUITABLE,
    "Too small a share of the metastases is removable",
    sources=("resection_debulking",),
    parameters=("resection_min_resectable_percent",),
)
def _resection_fraction(ctx: Context, m: Modality) -> str | None:
    pct = ctx.need(ctx.case.liver.resectable_percent, "liver.resectable_percent")
    limit = ctx.p.resection_min_resectable_percent
    if pct <= limit:
        return (
            f"only {fmt(pct)} % of the liver metastases removable "
            f"(resection requires > {fmt(limit)} %)"
        )
    return None


@book.rule(
    "resection.future_liver_remnant",
    R,
    Effect.NOT_SUITABLE,
    "Future liver remnant below the floor for a normal or compromised liver",
    sources=("flr_consensus_crlm",),
    parameters=(
        "resection_min_flr_normal_liver_percent",
        "resection_min_flr_compromised_liver_percent",
    ),
)
def _resection_flr(ctx: Context, m: Modality) -> str | None:
    flr = ctx.case.liver.future_liver_remnant_percent
    if flr is None:
        return None  # a small resection needs no volumetry; the work-up asks when relevant
    normal = ctx.p.resection_min_flr_normal_liver_percent
    compromised = ctx.p.resection_min_flr_compromised_liver_percent
    if flr < normal:
        return (
            f"future liver remnant {fmt(flr)} % < {fmt(normal)} %: risk of post-hepatectomy "
            "liver failure"
        )
    if flr < compromised:
        diseased = ctx.need(ctx.case.liver.chronic_liver_disease, "liver.chronic_liver_disease")
        if diseased:
            return (
                f"future liver remnant {fmt(flr)} % < {fmt(compromised)} % required with chronic "
                "liver disease: risk of post-hepatectomy liver failure"
            )
    return None


@book.rule(
    "resection.curative",
    R,
    Effect.FAVOURS,
    "Surgery is the only curative treatment",
    sources=("resection_001",),
)
def _resection_curative(ctx: Context, m: Modality) -> str | None:
    try:
        remnant_too_small = _resection_flr(ctx, m) is not None
    except MissingData:
        remnant_too_small = False
    if (
        (ctx.case.liver.resectable_percent or 0) >= 100
        and ctx.case.tumour.extrahepatic_disease is ExtrahepaticDisease.NONE
        and not remnant_too_small
    ):
        return "all metastases removable and no extrahepatic disease: potentially curative"
    return None


# --------------------------------------------------------------------------- transplant
def _criteria(ctx: Context) -> str:
    return ctx.p.transplant_criteria


@book.rule(
    "transplant.age",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: age limit",
    sources=("milan_net_001", "milan_net_age60"),
    parameters=(
        "transplant_age_limit_years",
        "transplant_age_limit_inclusive",
        "transplant_criteria",
    ),
)
def _tx_age(ctx: Context, m: Modality) -> str | None:
    age = ctx.need(ctx.case.patient.age_years, "patient.age_years")
    limit = ctx.p.transplant_age_limit_years
    inclusive = ctx.p.transplant_age_limit_inclusive
    over = age > limit if inclusive else age >= limit
    if over:
        op = "<=" if inclusive else "<"
        return f"age {fmt(age)} years; {_criteria(ctx)} requires age {op} {fmt(limit)}"
    return None


@book.rule(
    "transplant.primary_portal",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: primary drained by the portal system",
    sources=("milan_net_001",),
    parameters=("transplant_criteria",),
)
def _tx_portal(ctx: Context, m: Modality) -> str | None:
    site = ctx.need(ctx.case.tumour.primary_site, "tumour.primary_site")
    if site not in PORTAL_DRAINED:
        return (
            f"primary site {site.value} is not portal-drained; "
            f"{_criteria(ctx)} requires pancreas or midgut"
        )
    return None


@book.rule(
    "transplant.primary_resected",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: primary already removed by curative resection",
    sources=("milan_net_001",),
    parameters=("transplant_criteria",),
)
def _tx_resected(ctx: Context, m: Modality) -> str | None:
    resected = ctx.need(ctx.case.tumour.primary_resected, "tumour.primary_resected")
    if not resected:
        return (
            f"primary tumour not yet resected; {_criteria(ctx)} requires prior curative resection"
        )
    return None


@book.rule(
    "transplant.involvement",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: liver involvement below the limit",
    sources=("milan_net_001", "burden_method"),
    parameters=("transplant_max_involvement_percent", "transplant_criteria"),
)
def _tx_burden(ctx: Context, m: Modality) -> str | None:
    burden = ctx.burden_percent()
    limit = ctx.p.transplant_max_involvement_percent
    if burden >= limit:
        return f"liver involvement {fmt(burden)} %; {_criteria(ctx)} requires < {fmt(limit)} %"
    return None


@book.rule(
    "transplant.stable_disease",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: stable disease for at least 6 months",
    sources=("milan_net_001",),
    parameters=("transplant_min_months_stable", "transplant_criteria"),
)
def _tx_stable(ctx: Context, m: Modality) -> str | None:
    course = ctx.need(ctx.case.tumour.liver_disease_course, "tumour.liver_disease_course")
    limit = ctx.p.transplant_min_months_stable
    if course.value != "stable":
        return f"liver disease is {course.value}; {_criteria(ctx)} requires stable disease"
    months = ctx.need(ctx.case.tumour.months_stable, "tumour.months_stable")
    if months < limit:
        return f"stable for {fmt(months)} months; {_criteria(ctx)} requires >= {fmt(limit)} months"
    return None


@book.rule(
    "transplant.ki67",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: Ki-67 below the limit",
    sources=("milan_net_001",),
    parameters=("transplant_ki67_limit_percent", "transplant_criteria"),
)
def _tx_ki67(ctx: Context, m: Modality) -> str | None:
    ki67 = ctx.need(ctx.case.tumour.ki67_percent, "tumour.ki67_percent")
    limit = ctx.p.transplant_ki67_limit_percent
    if ki67 >= limit:
        return f"Ki-67 {fmt(ki67)} %; {_criteria(ctx)} requires < {fmt(limit)} %"
    return None


@book.rule(
    "transplant.grade",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: well-differentiated G1/G2",
    sources=("milan_net_001", "who2019_grading"),
    parameters=("transplant_criteria",),
)
def _tx_grade(ctx: Context, m: Modality) -> str | None:
    grade = ctx.who_grade()
    if grade is WhoGrade.G3_OR_NEC:
        ctx.need(None, "tumour.differentiation")
    if grade in (WhoGrade.G3, WhoGrade.NEC):
        return f"{grade.value}; {_criteria(ctx)} requires well-differentiated G1/G2"
    diff = ctx.need(ctx.case.tumour.differentiation, "tumour.differentiation")
    if diff.value == "unknown":
        ctx.need(None, "tumour.differentiation")
    return None


@book.rule(
    "transplant.extrahepatic",
    T,
    Effect.NOT_SUITABLE,
    "Milan-NET: no extrahepatic disease",
    sources=("milan_net_001",),
    parameters=("transplant_criteria",),
)
def _tx_extrahepatic(ctx: Context, m: Modality) -> str | None:
    ehd = ctx.need(ctx.case.tumour.extrahepatic_disease, "tumour.extrahepatic_disease")
    if ehd is not ExtrahepaticDisease.NONE:
        return f"{ehd.value} extrahepatic disease; {_criteria(ctx)} requires none"
    return None


@book.rule(
    "transplant.evidence",
    T,
    Effect.CAUTION,
    "Transplant for NET metastases remains debated",
    sources=("milan_net_001",),
    parameters=("transplant_criteria",),
)
def _tx_debated(ctx: Context, m: Modality) -> str | None:
    return (
        f"criteria: {_criteria(ctx)}; no randomised evidence, recurrence after transplant "
        "about 60 %, organ shortage; also requires no extrahepatic combined resection"
    )
