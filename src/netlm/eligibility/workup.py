"""The work-up the tumour board still needs before it can decide."""

from __future__ import annotations

from collections.abc import Iterable

from netlm.case.model import FunctionalSyndrome, InvolvementMethod, PresenceStatus
from netlm.clinical import BurdenMethod, WhoGrade
from netlm.eligibility.result import (
    RADIOEMBOLIZATION,
    Assumption,
    Modality,
    ModalityOption,
    Verdict,
    WorkupItem,
)
from netlm.eligibility.rules.base import Context, fmt
from netlm.evidence import get_source

_CLOSED = (Verdict.CONTRAINDICATED, Verdict.NOT_SUITABLE)


def _item(
    id: str, message: str, sources: Iterable[str], modalities: Iterable[Modality] = ()
) -> WorkupItem:
    return WorkupItem(
        id=id,
        message=message,
        sources=tuple(get_source(s) for s in sources),
        for_modalities=tuple(modalities),
    )


def recommend_workup(ctx: Context, options: Iterable[ModalityOption]) -> tuple[WorkupItem, ...]:
    """Investigations still needed, given the case and the verdicts so far.

    Every finding an open option (not contraindicated or not suitable) was
    assumed or inferred absent for becomes one ``confirm:<field>`` item: the
    verdict stands only once it is confirmed.
    """
    case, p = ctx.case, ctx.p
    options = tuple(options)
    opts = {o.modality: o for o in options}
    items: list[WorkupItem] = []
    tumour = case.tumour

    if tumour.ki67_percent is None:
        items.append(
            _item(
                "ki67",
                "Ki-67 index (and mitotic count) on histology: grade decides most options",
                ["who2019_grading"],
            )
        )
    if ctx.grade.grade is WhoGrade.G3_OR_NEC:
        items.append(
            _item(
                "pathology_review",
                "expert pathology review of differentiation: Ki-67 > 20 % cannot separate "
                "NET G3 from NEC - no treatment plan before it",
                ["who2019_grading"],
            )
        )
    sstr = tumour.sstr_imaging
    if sstr is None or sstr.positive is None:
        items.append(
            _item(
                "sstr_pet",
                "somatostatin-receptor PET (68Ga-DOTA-peptide): staging and PRRT eligibility",
                ["sstr_pet_001", "prrt_001"],
                [Modality.PRRT, Modality.PRRT_INTRAARTERIAL],
            )
        )
    elif sstr.modality is not None and not sstr.modality.is_pet:
        items.append(
            _item(
                "sstr_pet",
                f"{sstr.modality.value} scintigraphy only: 68Ga-DOTA-peptide PET is more sensitive "
                "(current standard)",
                ["sstr_pet_001"],
            )
        )
    fdg_done = tumour.fdg_pet is not None and tumour.fdg_pet.performed
    threshold = p.fdg_pet_ki67_threshold_percent
    if not fdg_done and tumour.ki67_percent is not None and tumour.ki67_percent >= threshold:
        items.append(
            _item(
                "fdg_pet",
                f"18F-FDG PET: Ki-67 {fmt(tumour.ki67_percent)} % >= {fmt(threshold)} % "
                "(FDG-avid disease is prognostically worse)",
                ["fdg_pet_ki67_001", "fdg_prognosis_001"],
            )
        )
    if (
        ctx.burden.percent is None
        or ctx.burden.method is BurdenMethod.VISUAL_ESTIMATE
        or (case.liver.involvement_method is InvolvementMethod.VISUAL_ESTIMATE)
    ):
        items.append(
            _item(
                "volumetry",
                "CT/MRI volumetry of liver and tumour: tumour burden decides transplant, "
                "embolization and radioembolization limits",
                ["burden_method"],
            )
        )
    if not case.liver.lesions or not ctx.all_lesions_listed():
        items.append(
            _item(
                "lesion_mapping",
                "multiphasic liver MRI with DWI to map every lesion (segment, size, relation to "
                "vessels and bile ducts)",
                ["mri_detection_001"],
            )
        )
    labs = case.labs
    missing_lft = [
        name
        for name, value in (
            ("bilirubin", labs.bilirubin),
            ("albumin", labs.albumin),
            ("INR", labs.inr),
            ("platelets", labs.platelets_10e9_per_l),
        )
        if value is None
    ]
    if missing_lft:
        items.append(
            _item(
                "liver_function_tests",
                f"laboratory: {', '.join(missing_lft)} (Child-Pugh, ALBI, procedural thresholds)",
                ["child_pugh", "albi", "sir2019_bleeding"],
            )
        )
    open_tare = [m for m in RADIOEMBOLIZATION if m in opts and opts[m].verdict not in _CLOSED]
    if open_tare and case.workup.lung_shunt_fraction is None:
        items.append(
            _item(
                "maa_angiography",
                "work-up hepatic angiography with 99mTc-MAA SPECT/CT: lung shunt fraction, "
                "extrahepatic collaterals, tumour-to-normal ratio",
                ["maa_workup_004"],
                open_tare,
            )
        )
    carcinoid = tumour.functional_syndrome is FunctionalSyndrome.CARCINOID
    heart = case.history.carcinoid_heart_disease
    bnp = labs.nt_probnp.value if labs.nt_probnp is not None else None
    bnp_high = bnp is not None and bnp >= p.carcinoid_heart_ntprobnp_pg_ml
    if (carcinoid and heart in (None, PresenceStatus.UNKNOWN)) or (
        bnp_high and heart is not PresenceStatus.PRESENT
    ):
        why = (
            f"NT-proBNP {fmt(bnp or 0.0)} pg/mL >= {fmt(p.carcinoid_heart_ntprobnp_pg_ml)}"
            if bnp_high
            else "carcinoid syndrome without heart screening"
        )
        items.append(
            _item(
                "echocardiography",
                f"echocardiography for carcinoid heart disease ({why}) before embolization",
                ["carcinoid_heart"],
            )
        )
    resection = opts.get(Modality.RESECTION)
    if resection is not None and "liver.resectable_percent" in resection.missing_information:
        items.append(
            _item(
                "surgical_review",
                "hepatobiliary surgical review: share of metastases removable and remnant",
                ["resection_debulking"],
                [Modality.RESECTION],
            )
        )
    items += _confirmations(options)
    return tuple(items)


def _confirmations(options: Iterable[ModalityOption]) -> list[WorkupItem]:
    """One item per assumed finding, for the open options that rely on it."""
    by_field: dict[str, tuple[Assumption, list[Modality]]] = {}
    for o in options:
        if o.verdict in _CLOSED:
            continue
        for a in o.assumptions:
            by_field.setdefault(a.field, (a, []))[1].append(o.modality)
    return [
        WorkupItem(
            id=f"confirm:{a.field}",
            message=a.statement,
            sources=a.sources,
            for_modalities=tuple(modalities),
        )
        for a, modalities in by_field.values()
    ]
