"""Rules shared by many modalities: liver reserve, carcinoma, pregnancy, surgery first.

Each fact is decided once, by one helper (:func:`liver_reserve`,
:func:`curative_resection`), and every modality it concerns reads the same
answer; only the effect differs (a contraindication for a procedure on the
liver, a caution for systemic PRRT).

Hepatic encephalopathy: the usual cut is West Haven grade >= 2 (overt).  The
case format records the grade in Child-Pugh's bins (``grade_1_2``,
``grade_3_4``), so grade 2 cannot be told from grade 1: grade 3-4 is a
contraindication, grade 1-2 a relative contraindication whose message asks the
board to treat an overt grade 2 as decompensation.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlm.case.model import Ascites, Encephalopathy, Sex
from netlm.clinical import WhoGrade
from netlm.eligibility.result import (
    ABLATION,
    EMBOLIZATION,
    RADIOEMBOLIZATION,
    TRANSARTERIAL,
    Effect,
    Modality,
)
from netlm.eligibility.rules.base import Context, MissingData, Rule, RuleBook, fmt
from netlm.eligibility.rules.prognosis import book as prognosis_book
from netlm.eligibility.rules.surgery import book as surgery_book

book = RuleBook()

PRRT_BOTH = (Modality.PRRT, Modality.PRRT_INTRAARTERIAL)
#: Procedures on the liver that liver decompensation rules out.
LIVER_PROCEDURES = (Modality.RESECTION, *ABLATION, *TRANSARTERIAL)
#: Options that deliver radiation to the patient (and a conceptus).
RADIATION = (*RADIOEMBOLIZATION, *PRRT_BOTH)
#: Every option except PRRT, whose own rule (``prrt.nec``) covers carcinoma.
LIVER_DIRECTED = (Modality.RESECTION, Modality.TRANSPLANT, *ABLATION, *TRANSARTERIAL)

#: Child-Pugh components (argument names of :func:`netlm.clinical.child_pugh`) -> case fields.
_CHILD_PUGH_FIELDS = {
    "bilirubin_mg_dl": "labs.bilirubin",
    "albumin_g_dl": "labs.albumin",
    "inr": "labs.inr",
    "ascites": "liver.ascites",
    "encephalopathy": "liver.encephalopathy",
}

_LIVER_SOURCES = {
    **{m: ("tace_001",) for m in EMBOLIZATION},
    **{m: ("tare_relative_004", "tare_table1_001") for m in RADIOEMBOLIZATION},
    **{m: ("liver_failure_001", "local_therapy_liver_function_hcc") for m in ABLATION},
    Modality.RESECTION: ("liver_failure_001", "local_therapy_liver_function_hcc"),
}


@dataclass(frozen=True)
class LiverReserve:
    """What the record says about liver reserve.

    Attributes
    ----------
    decompensated
        Reasons that rule out a procedure on the liver: Child-Pugh C (or a
        score that cannot be below C whatever the missing parts), moderate or
        severe ascites, encephalopathy grade 3-4.
    impaired
        Reasons for a relative contraindication: Child-Pugh B, mild ascites,
        encephalopathy grade 1-2.
    unknown_decompensated
        Case fields not recorded that could still make the liver decompensated.
    unknown_impaired
        Case fields not recorded that could still make it impaired.
    assumed
        Unrecorded ascites/encephalopathy that the missing-data policy takes as
        absent; a rule that relies on it logs it with :meth:`Context.need`.
    """

    decompensated: tuple[str, ...]
    impaired: tuple[str, ...]
    unknown_decompensated: tuple[str, ...]
    unknown_impaired: tuple[str, ...]
    assumed: tuple[str, ...] = ()

    def rely_on_assumptions(self, ctx: Context) -> None:
        """Log the assumed-absent findings a verdict now rests on."""
        for path in self.assumed:
            ctx.need(None, path)


def liver_reserve(ctx: Context) -> LiverReserve:
    """Liver reserve from the Child-Pugh score and its clinical parts.

    Examples
    --------
    >>> from netlm.case import case_from_mapping
    >>> from netlm.eligibility import Assessor
    >>> case = case_from_mapping({"schema": "netlm/case/v1", "patient": {"id": "X"},
    ...     "liver": {"ascites": "moderate_severe", "encephalopathy": "none"}})
    >>> liver_reserve(Assessor().context(case)).decompensated
    ('moderate-severe ascites',)
    """
    # The score with unrecorded ascites/encephalopathy taken as none where the
    # missing-data policy allows it; read without logging (rules log what they rely on).
    p, liver = ctx.p, ctx.case.liver
    recorded = ctx.child_pugh_recorded
    cp = ctx.child_pugh_assuming or recorded
    decompensated: list[str] = []
    impaired: list[str] = []
    # Every missing component scores at least 1 point: the lowest score the record allows.
    lowest = sum(cp.points.values()) + len(cp.missing)
    cls = cp.child_pugh_class.value if cp.child_pugh_class else ""
    if lowest >= p.child_pugh_contraindication_min_score:
        decompensated.append(
            f"Child-Pugh {cls}{cp.score}" if cp.score is not None else f"Child-Pugh >= {lowest}"
        )
    elif cp.score is not None and cp.score >= p.child_pugh_caution_min_score:
        impaired.append(f"Child-Pugh {cls}{cp.score}")
    if liver.ascites is Ascites.MODERATE_SEVERE:
        decompensated.append("moderate-severe ascites")
    elif liver.ascites is Ascites.MILD:
        impaired.append("mild ascites")
    if liver.encephalopathy is Encephalopathy.GRADE_3_4:
        decompensated.append("hepatic encephalopathy grade 3-4")
    elif liver.encephalopathy is Encephalopathy.GRADE_1_2:
        impaired.append(
            "hepatic encephalopathy grade 1-2 (an overt grade 2 counts as decompensation)"
        )
    # Unrecorded ascites or encephalopathy: assumed absent (1 point) when the
    # missing-data policy allows it for this case (logged as an assumption).
    findings = ("ascites", "encephalopathy")
    assumed = {
        n for n in recorded.missing if n in findings and ctx.assumable(_CHILD_PUGH_FIELDS[n])
    }
    # Any other missing component scores at most 3 points; ascites and
    # encephalopathy matter on their own too.
    open_parts = [n for n in cp.missing if n not in assumed]
    highest = sum(cp.points.values()) + len(cp.missing) - len(open_parts) + 3 * len(open_parts)

    def unknown(threshold: int) -> tuple[str, ...]:
        return tuple(
            _CHILD_PUGH_FIELDS[name]
            for name in cp.missing
            if name not in assumed and (name in findings or highest >= threshold)
        )

    return LiverReserve(
        tuple(decompensated),
        tuple(impaired),
        unknown(p.child_pugh_contraindication_min_score),
        unknown(p.child_pugh_caution_min_score),
        tuple(_CHILD_PUGH_FIELDS[n] for n in recorded.missing if n in assumed),
    )


# --------------------------------------------------------------------------- liver reserve
@book.rule(
    "liver.decompensated",
    LIVER_PROCEDURES,
    Effect.CONTRAINDICATION,
    "Decompensated liver: Child-Pugh C, moderate-severe ascites or encephalopathy grade 3-4",
    sources=("child_pugh", "hepatic_encephalopathy_grading"),
    parameters=("child_pugh_contraindication_min_score",),
    modality_sources=_LIVER_SOURCES,
)
def _decompensated(ctx: Context, m: Modality) -> str | None:
    reserve = liver_reserve(ctx)
    if not reserve.decompensated:
        if reserve.unknown_decompensated:
            raise MissingData(reserve.unknown_decompensated)
        reserve.rely_on_assumptions(ctx)
        return None
    what = ", ".join(reserve.decompensated)
    if m in RADIOEMBOLIZATION:
        return (
            f"{what}: inadequate liver reserve, high risk of liver failure (seed 001 Table 1 "
            "contraindicates SIRT with ascites; seed 004 lists ascites/encephalopathy as relative)"
        )
    if m in EMBOLIZATION:
        return (
            f"{what}: impaired liver function, high risk of acute liver failure after embolization"
        )
    return f"{what}: decompensated liver, high risk of liver failure after {m.label.lower()}"


@book.rule(
    "liver.impaired",
    (Modality.RESECTION, *ABLATION, *EMBOLIZATION),
    Effect.RELATIVE_CONTRAINDICATION,
    "Impaired liver reserve: Child-Pugh B, mild ascites or encephalopathy grade 1-2",
    sources=("child_pugh", "hepatic_encephalopathy_grading"),
    parameters=("child_pugh_caution_min_score", "child_pugh_contraindication_min_score"),
    modality_sources=_LIVER_SOURCES,
)
def _impaired(ctx: Context, m: Modality) -> str | None:
    reserve = liver_reserve(ctx)
    if reserve.decompensated:
        return None  # liver.decompensated says it
    # Any ascites already contraindicates TAE/TACE (embolization.ascites).
    reasons = [r for r in reserve.impaired if not (m in EMBOLIZATION and r.endswith("ascites"))]
    if reasons:
        return f"{', '.join(reasons)}: impaired liver reserve, weigh the risk of liver failure"
    if reserve.unknown_impaired:
        raise MissingData(reserve.unknown_impaired)
    reserve.rely_on_assumptions(ctx)
    return None


@book.rule(
    "liver.prrt",
    PRRT_BOTH,
    Effect.CAUTION,
    "Decompensated liver: PRRT trials excluded it",
    sources=("netter1_inclusion", "liver_failure_001"),
)
def _liver_prrt(ctx: Context, m: Modality) -> str | None:
    reserve = liver_reserve(ctx)
    if reserve.decompensated:
        return (
            f"{', '.join(reserve.decompensated)}: outside the NETTER-1 population; weigh "
            "hepatotoxicity and the prognosis of liver failure before PRRT"
        )
    return None


# --------------------------------------------------------------------------- carcinoma
@book.rule(
    "carcinoma.systemic_therapy",
    LIVER_DIRECTED,
    Effect.NOT_SUITABLE,
    "Neuroendocrine carcinoma: no liver-directed pathway; systemic therapy",
    sources=("grade_pathway_001", "tare_grade_survival_004", "who2019_grading"),
)
def _carcinoma(ctx: Context, m: Modality) -> str | None:
    grade = ctx.grade.grade
    if grade is WhoGrade.G3_OR_NEC:
        ctx.need(None, "tumour.differentiation")
    if grade is WhoGrade.NEC:
        ki67 = ctx.case.tumour.ki67_percent
        shown = f", Ki-67 {fmt(ki67)} %" if ki67 is not None else ""
        return (
            f"neuroendocrine carcinoma (poorly differentiated{shown}): not a candidate for "
            f"{m.label.lower()} - the seeds' liver-directed pathways are for well-differentiated "
            "G1/G2 NET (001), survival after TARE is shortest in G3/NEC (004); refer for "
            "systemic therapy"
        )
    return None


# --------------------------------------------------------------------------- pregnancy
@book.rule(
    "pregnancy.radiation",
    RADIATION,
    Effect.CONTRAINDICATION,
    "Pregnancy: no radionuclide therapy",
    sources=("pregnancy_radiation",),
)
def _pregnancy_radiation(ctx: Context, m: Modality) -> str | None:
    if ctx.case.patient.sex is Sex.MALE:
        return None
    # Unrecorded in a woman (or sex unrecorded): an assumption to confirm, never silent.
    if ctx.need(ctx.case.patient.pregnant, "patient.pregnant"):
        return f"pregnancy: {m.label.lower()} irradiates the conceptus"
    return None


@book.rule(
    "pregnancy.procedure",
    (Modality.RESECTION, Modality.TRANSPLANT, *ABLATION, *EMBOLIZATION),
    Effect.CAUTION,
    "Pregnancy: weigh fluoroscopy, anaesthesia and chemotherapy with obstetrics",
    sources=("pregnancy_procedures",),
)
def _pregnancy_procedure(ctx: Context, m: Modality) -> str | None:
    if not ctx.case.patient.pregnant:
        return None
    extra = {
        Modality.CTACE: "; chemotherapy (doxorubicin and others) is teratogenic",
        Modality.DEBTACE: "; chemotherapy (doxorubicin and others) is teratogenic",
        Modality.TAE: "; fluoroscopy dose to the conceptus",
    }.get(m, "")
    return f"pregnancy: plan {m.label.lower()} with obstetrics (anaesthesia, timing){extra}"


# --------------------------------------------------------------------------- surgery first
def resection_rules() -> tuple[Rule, ...]:
    """Every rule netlm ships that judges resection (surgery, prognosis and this module).

    Named here rather than filtered from :func:`netlm.eligibility.rules.all_rules`,
    which imports this module; a test checks that the two agree.
    """
    books = (surgery_book, prognosis_book, book)
    return tuple(r for b in books for r in b.rules if Modality.RESECTION in r.modalities)


def curative_resection(ctx: Context) -> bool:
    """Whether resection is eligible with curative intent on this record.

    Runs netlm's resection rules themselves: no resection rule may
    contraindicate, find the indication unmet or lack data, and
    ``resection.curative`` must fire.
    """
    curative = False
    for rule in resection_rules():
        try:
            message = rule.check(ctx, Modality.RESECTION)
        except MissingData:
            return False
        if message and rule.effect in (Effect.CONTRAINDICATION, Effect.NOT_SUITABLE):
            return False
        curative = curative or bool(message and rule.id == "resection.curative")
    return curative


@book.rule(
    "preference.surgery_first",
    (*TRANSARTERIAL, *PRRT_BOTH),
    Effect.REQUIREMENT,
    "Resectable with curative intent: surgery is preferred",
    sources=("curative_first_001", "resection_001"),
)
def _surgery_first(ctx: Context, m: Modality) -> str | None:
    if curative_resection(ctx):
        return (
            "resection is eligible with curative intent: surgery is preferred (the only curative "
            f"treatment); consider {m.label.lower()} only if resection is declined or not possible"
        )
    return None
