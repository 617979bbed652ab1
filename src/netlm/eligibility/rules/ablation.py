"""Percutaneous ablation rules (seed 001 Table 1 and §5; seeds 000, 003; SIR 2019)."""

from __future__ import annotations

from netlm.case.model import BiliaryIntervention, FunctionalSyndrome
from netlm.eligibility.result import ABLATION, Effect, Modality
from netlm.eligibility.rules.base import Context, MissingData, RuleBook, fmt

book = RuleBook()
A = ABLATION
THERMAL = (
    Modality.ABLATION_LASER,
    Modality.ABLATION_RFA,
    Modality.ABLATION_MWA,
)


def zone_mm(ctx: Context, m: Modality) -> tuple[float, float]:
    """(single applicator, largest with several applicators) ablation zone, in mm."""
    p = ctx.p
    zones = {
        Modality.ABLATION_LASER: (p.ablation_zone_laser_mm, p.ablation_zone_laser_mm),
        Modality.ABLATION_RFA: (p.ablation_zone_rfa_single_mm, p.ablation_zone_rfa_cluster_mm),
        Modality.ABLATION_MWA: (p.ablation_zone_mwa_single_mm, p.ablation_zone_mwa_cluster_mm),
        Modality.ABLATION_IRE: (p.ablation_zone_ire_mm, p.ablation_zone_ire_mm),
        Modality.ABLATION_CRYO: (p.ablation_zone_cryo_mm, p.ablation_zone_cryo_mm),
    }
    return zones[m]


_ZONE_PARAMS = (
    "ablation_zone_laser_mm",
    "ablation_zone_rfa_single_mm",
    "ablation_zone_rfa_cluster_mm",
    "ablation_zone_mwa_single_mm",
    "ablation_zone_mwa_cluster_mm",
    "ablation_zone_ire_mm",
    "ablation_zone_cryo_mm",
)
#: Each technique's own zone-size source.
ZONE_SOURCES = {
    Modality.ABLATION_LASER: ("ablation_laser_001",),
    Modality.ABLATION_RFA: ("ablation_rfa_001",),
    Modality.ABLATION_MWA: ("ablation_mwa_001",),
    Modality.ABLATION_IRE: ("ablation_ire_001",),
    Modality.ABLATION_CRYO: ("ablation_cryo_003",),
}


# --------------------------------------------------------------------------- indication
@book.rule(
    "ablation.lesion_count",
    A,
    Effect.NOT_SUITABLE,
    "Ablation is for oligometastatic disease (fewer than 3-5 lesions)",
    sources=("ablation_table1_001",),
    parameters=("ablation_max_lesions",),
)
def _count(ctx: Context, m: Modality) -> str | None:
    count = ctx.lesion_count()
    limit = ctx.p.ablation_max_lesions
    if count is None:
        return "lesions too numerous to count: not oligometastatic"
    if count > limit:
        return f"{count} liver lesions: ablation is for oligometastatic disease (<= {limit})"
    return None


@book.rule(
    "ablation.zone_size",
    A,
    Effect.NOT_SUITABLE,
    "A lesion larger than the ablation zone this modality can reach",
    sources=("ablation_with_tace_000_hcc",),
    parameters=_ZONE_PARAMS,
    modality_sources=ZONE_SOURCES,
)
def _zone(ctx: Context, m: Modality) -> str | None:
    _single, largest = zone_mm(ctx, m)
    # One measured lesion beyond reach decides, whatever the others measure.
    too_big = [(i, d) for i, d in ctx.measured_lesions_mm() if d > largest]
    if not too_big:
        ctx.lesion_diameters_mm()  # every listed lesion needs its diameter
        if not ctx.all_lesions_listed():
            raise MissingData(("liver.lesions (every lesion with its diameter)",))
    if too_big:
        listed = ", ".join(f"{i} {fmt(d)} mm" for i, d in too_big)
        return (
            f"{listed} larger than the {fmt(largest)} mm zone of {m.label.lower()} "
            "(up to 7 cm can be controlled when combined with chemoembolization: seed 000, "
            "HCC evidence)"
        )
    return None


@book.rule(
    "ablation.multiple_applicators",
    A,
    Effect.CAUTION,
    "A lesion needs several applicators (clustered electrodes/antennas)",
    sources=(),
    parameters=_ZONE_PARAMS,
    modality_sources=ZONE_SOURCES,
)
def _multi(ctx: Context, m: Modality) -> str | None:
    single, largest = zone_mm(ctx, m)
    need = [(i, d) for i, d in ctx.measured_lesions_mm() if single < d <= largest]
    if need:
        listed = ", ".join(f"{i} {fmt(d)} mm" for i, d in need)
        return f"{listed}: beyond one applicator's {fmt(single)} mm zone; needs a cluster"
    return None


@book.rule(
    "ablation.margin",
    A,
    Effect.CAUTION,
    "The 5 mm ablation margin may not be reachable",
    sources=("ablation_margin_crlm",),
    parameters=("ablation_margin_mm", *_ZONE_PARAMS),
)
def _margin(ctx: Context, m: Modality) -> str | None:
    _single, largest = zone_mm(ctx, m)
    margin = ctx.p.ablation_margin_mm
    tight = [(i, d) for i, d in ctx.measured_lesions_mm() if d <= largest < d + 2 * margin]
    if tight:
        listed = ", ".join(f"{i} {fmt(d)} mm" for i, d in tight)
        return (
            f"{listed}: a {fmt(margin)} mm margin all round needs a zone of diameter + "
            f"{fmt(2 * margin)} mm > {fmt(largest)} mm (margin evidence from colorectal metastases)"
        )
    return None


@book.rule(
    "ablation.ideal",
    A,
    Effect.FAVOURS,
    "1-2 lesions under 3 cm: ablation is best suited",
    sources=("ablation_best_003", "ablation_rfa_000"),
    parameters=("ablation_ideal_max_lesions", "ablation_ideal_max_diameter_mm"),
)
def _ideal(ctx: Context, m: Modality) -> str | None:
    count = ctx.case.liver.lesion_total
    if not isinstance(count, int) or count == 0 or count > ctx.p.ablation_ideal_max_lesions:
        return None
    if not ctx.all_lesions_listed():
        return None
    limit = ctx.p.ablation_ideal_max_diameter_mm
    diameters = [d for _i, d in ctx.measured_lesions_mm()]
    if len(diameters) != count:
        return None
    if all(d < limit for d in diameters):
        return f"{count} lesion(s), all < {fmt(limit)} mm: the best indication for ablation"
    return None


# --------------------------------------------------------------------------- location
@book.rule(
    "ablation.heat_sink",
    (Modality.ABLATION_RFA, Modality.ABLATION_LASER),
    Effect.CAUTION,
    "Lesion next to a large vessel: heat-sink effect",
    sources=("ablation_rfa_001",),
)
def _heat_sink(ctx: Context, m: Modality) -> str | None:
    near = [
        f"{lesion.id} ({', '.join(s.value for s in lesion.abuts if s.is_large_vessel)})"
        for lesion in ctx.case.liver.lesions
        if any(s.is_large_vessel for s in lesion.abuts)
    ]
    if near:
        return (
            f"{'; '.join(near)}: heat-sink effect limits the zone and raises local recurrence; "
            "MWA suffers less from it"
        )
    return None


@book.rule(
    "ablation.mwa_near_vessel",
    (Modality.ABLATION_MWA,),
    Effect.FAVOURS,
    "Lesion next to a large vessel: MWA is less affected by heat-sink",
    sources=("ablation_mwa_001",),
)
def _mwa_vessel(ctx: Context, m: Modality) -> str | None:
    if any(s.is_large_vessel for lesion in ctx.case.liver.lesions for s in lesion.abuts):
        return "a lesion abuts a large vessel: MWA suffers less from heat-sink than RFA"
    return None


@book.rule(
    "ablation.central_biliary_thermal",
    (*THERMAL, Modality.ABLATION_CRYO),
    Effect.RELATIVE_CONTRAINDICATION,
    "Central lesion at the bile ducts/hilum: thermal injury to bile ducts",
    sources=("ablation_ire_001",),
)
def _central_thermal(ctx: Context, m: Modality) -> str | None:
    central = [
        lesion.id
        for lesion in ctx.case.liver.lesions
        if any(s.is_central_biliary for s in lesion.abuts)
    ]
    if central:
        return (
            f"{', '.join(central)} at the hilum/bile ducts: thermal ablation risks biliary "
            "injury; IRE spares bile ducts and vessels"
        )
    return None


@book.rule(
    "ablation.central_biliary_ire",
    (Modality.ABLATION_IRE,),
    Effect.FAVOURS,
    "Central lesion at the bile ducts/hilum: IRE spares them",
    sources=("ablation_ire_001",),
)
def _central_ire(ctx: Context, m: Modality) -> str | None:
    if any(s.is_central_biliary for lesion in ctx.case.liver.lesions for s in lesion.abuts):
        return "central lesion at the bile ducts/hilum: IRE spares collagenous structures"
    return None


# --------------------------------------------------------------------------- contraindications
@book.rule(
    "ablation.coagulopathy",
    A,
    Effect.CONTRAINDICATION,
    "Irreversible coagulopathy",
    sources=("ablation_table1_001",),
)
def _coag(ctx: Context, m: Modality) -> str | None:
    coag = ctx.need(ctx.case.history.irreversible_coagulopathy, "history.irreversible_coagulopathy")
    return "irreversible coagulation disorder" if coag else None


@book.rule(
    "ablation.anaesthesia",
    A,
    Effect.CONTRAINDICATION,
    "Contraindication to sedation or general anaesthesia",
    sources=("ablation_table1_001",),
)
def _anaesthesia(ctx: Context, m: Modality) -> str | None:
    contra = ctx.need(
        ctx.case.patient.anaesthesia_contraindicated, "patient.anaesthesia_contraindicated"
    )
    return "contraindication to sedation or general anaesthesia" if contra else None


@book.rule(
    "ablation.bilioenteric",
    A,
    Effect.CONTRAINDICATION,
    "Bilio-enteric anastomosis or prior sphincterotomy (abscess risk)",
    sources=("ablation_table1_001",),
)
def _bilioenteric(ctx: Context, m: Modality) -> str | None:
    bi = ctx.need(ctx.case.history.biliary_intervention, "history.biliary_intervention")
    hits = [
        b.value
        for b in bi
        if b in (BiliaryIntervention.BILIOENTERIC_ANASTOMOSIS, BiliaryIntervention.SPHINCTEROTOMY)
    ]
    if hits:
        return f"{', '.join(hits)}: colonised biliary tree, high risk of liver abscess"
    return None


@book.rule(
    "ablation.biliary_dilatation",
    A,
    Effect.CONTRAINDICATION,
    "Intrahepatic biliary dilatation from strictures",
    sources=("ablation_table1_001",),
)
def _biliary_dilatation(ctx: Context, m: Modality) -> str | None:
    dil = ctx.need(ctx.case.liver.biliary_dilatation, "liver.biliary_dilatation")
    return "intrahepatic biliary dilatation due to strictures" if dil else None


@book.rule(
    "ablation.ire_arrhythmia",
    (Modality.ABLATION_IRE,),
    Effect.CONTRAINDICATION,
    "Cardiac arrhythmia contraindicates IRE",
    sources=("ablation_table1_001", "ablation_ire_001"),
)
def _ire_arrhythmia(ctx: Context, m: Modality) -> str | None:
    arr = ctx.need(ctx.case.history.cardiac_arrhythmia, "history.cardiac_arrhythmia")
    return "cardiac arrhythmia: IRE can induce arrhythmia" if arr else None


@book.rule(
    "ablation.ire_metal_stent",
    (Modality.ABLATION_IRE,),
    Effect.CONTRAINDICATION,
    "Metal biliary stent contraindicates IRE",
    sources=("ire_metal_stent",),
)
def _ire_stent(ctx: Context, m: Modality) -> str | None:
    bi = ctx.need(ctx.case.history.biliary_intervention, "history.biliary_intervention")
    if BiliaryIntervention.METAL_STENT in bi:
        return "metal biliary stent in place: absolute contraindication to IRE"
    return None


@book.rule(
    "ablation.inr",
    A,
    Effect.RELATIVE_CONTRAINDICATION,
    "INR above the SIR 2019 threshold for high-bleeding-risk procedures",
    sources=("sir2019_bleeding",),
    parameters=("ablation_inr_max",),
)
def _inr(ctx: Context, m: Modality) -> str | None:
    inr = ctx.need(ctx.case.labs.inr, "labs.inr")
    limit = ctx.p.ablation_inr_max
    if inr > limit:
        return f"INR {fmt(inr)} > {fmt(limit)}: correct before a high-bleeding-risk procedure"
    return None


@book.rule(
    "ablation.platelets",
    A,
    Effect.RELATIVE_CONTRAINDICATION,
    "Platelets below the SIR 2019 threshold for high-bleeding-risk procedures",
    sources=("sir2019_bleeding",),
    parameters=("ablation_platelets_min_10e9_per_l",),
)
def _platelets(ctx: Context, m: Modality) -> str | None:
    plt = ctx.need(ctx.case.labs.platelets_10e9_per_l, "labs.platelets_10e9_per_l")
    limit = ctx.p.ablation_platelets_min_10e9_per_l
    if plt < limit:
        return f"platelets {fmt(plt)} x 10^9/L < {fmt(limit)}: transfuse/correct first"
    return None


@book.rule(
    "ablation.carcinoid_syndrome",
    A,
    Effect.REQUIREMENT,
    "Carcinoid syndrome: crisis prophylaxis per local protocol",
    sources=("carcinoid_crisis",),
)
def _carcinoid(ctx: Context, m: Modality) -> str | None:
    if ctx.case.tumour.functional_syndrome is FunctionalSyndrome.CARCINOID:
        return "carcinoid syndrome: risk of carcinoid crisis; prophylaxis per local protocol"
    return None
