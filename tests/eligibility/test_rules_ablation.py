"""Percutaneous ablation rules (seed 001 Table 1 and §5; seeds 000, 003; SIR 2019).

Default zones (profile ``default``): laser 20 mm; RFA 30 mm single, 45 mm
clustered; MWA 40 mm single, 60 mm with several antennas; IRE and cryo 30 mm.
The tables feed the rule-coverage meta-test; the explicit tests check the
boundaries, verdict precedence and what the findings say.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DELETE, fired, make_case
from netlm.eligibility import Assessor, Effect, Modality, ModalityOption, Verdict
from netlm.evidence.sources import SEED_001

LASER, RFA, MWA, IRE, CRYO = (
    "ablation_laser",
    "ablation_rfa",
    "ablation_mwa",
    "ablation_ire",
    "ablation_cryo",
)
ALL = (LASER, RFA, MWA, IRE, CRYO)
THERMAL_AND_CRYO = (LASER, RFA, MWA, CRYO)

#: (modality, single-applicator zone, largest zone) in mm, from the default profile.
ZONES = [(LASER, 20, 20), (RFA, 30, 45), (MWA, 40, 60), (IRE, 30, 30), (CRYO, 30, 30)]


def lesion(
    id: str = "L1", mm: float | None = 20, segment: int | None = 6, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": id, **extra}
    if mm is not None:
        doc["longest_diameter_mm"] = mm
    if segment is not None:
        doc["segment"] = segment
    return doc


def one(mm: float, **extra: Any) -> dict[str, Any]:
    """A case edit: a single listed lesion of ``mm`` millimetres."""
    return {"liver__lesion_count": 1, "liver__lesions": [lesion(mm=mm, **extra)]}


def several(*mms: float) -> dict[str, Any]:
    """A case edit: every lesion listed, with these diameters."""
    lesions = [lesion(f"L{i + 1}", mm, 5 + i % 4) for i, mm in enumerate(mms)]
    return {"liver__lesion_count": len(lesions), "liver__lesions": lesions}


def abutting(*structures: str) -> dict[str, Any]:
    return one(20, abuts=list(structures))


def biliary(*interventions: str) -> dict[str, Any]:
    return {"history__biliary_intervention": list(interventions)}


TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("ablation.lesion_count", RFA, {"liver__lesion_count": 6}),
    ("ablation.lesion_count", MWA, {"liver__lesion_count": "too_numerous"}),
    ("ablation.lesion_count", LASER, {"liver__lesion_count": 12}),
    ("ablation.lesion_count", IRE, {"liver__lesion_count": 12}),
    ("ablation.lesion_count", CRYO, several(10, 10, 10, 10, 10, 10)),
    ("ablation.zone_size", LASER, one(20.1)),
    ("ablation.zone_size", RFA, one(45.1)),
    ("ablation.zone_size", MWA, one(60.1)),
    ("ablation.zone_size", IRE, one(30.1)),
    ("ablation.zone_size", CRYO, one(30.1)),
    ("ablation.zone_size", RFA, {"liver__lesion_count": 3, "liver__lesions": [lesion(mm=50)]}),
    ("ablation.multiple_applicators", RFA, one(30.1)),
    ("ablation.multiple_applicators", RFA, one(45)),
    ("ablation.multiple_applicators", MWA, one(40.1)),
    ("ablation.multiple_applicators", MWA, one(60)),
    ("ablation.margin", LASER, {}),  # 20 mm lesion, 20 mm zone
    ("ablation.margin", LASER, one(10.1)),
    ("ablation.margin", RFA, one(35.1)),
    ("ablation.margin", MWA, one(50.1)),
    ("ablation.margin", IRE, one(20.1)),
    ("ablation.margin", CRYO, one(20.1)),
    ("ablation.ideal", RFA, {}),
    ("ablation.ideal", MWA, several(29.9, 29.9)),
    ("ablation.ideal", LASER, one(10)),
    ("ablation.heat_sink", RFA, abutting("hepatic_vein")),
    ("ablation.heat_sink", LASER, abutting("right_portal_vein")),
    ("ablation.heat_sink", RFA, abutting("capsule", "ivc")),
    ("ablation.mwa_near_vessel", MWA, abutting("hepatic_artery")),
    ("ablation.central_biliary_thermal", RFA, abutting("hilum")),
    ("ablation.central_biliary_thermal", MWA, abutting("bile_duct")),
    ("ablation.central_biliary_thermal", LASER, abutting("bile_duct")),
    ("ablation.central_biliary_thermal", CRYO, abutting("hilum")),
    ("ablation.central_biliary_ire", IRE, abutting("hilum")),
    ("ablation.central_biliary_ire", IRE, abutting("bile_duct")),
    *[("ablation.coagulopathy", m, {"history__irreversible_coagulopathy": True}) for m in ALL],
    ("ablation.anaesthesia", RFA, {"patient__anaesthesia_contraindicated": True}),
    ("ablation.anaesthesia", IRE, {"patient__anaesthesia_contraindicated": True}),
    ("ablation.bilioenteric", RFA, biliary("bilioenteric_anastomosis")),
    ("ablation.bilioenteric", MWA, biliary("sphincterotomy")),
    ("ablation.bilioenteric", IRE, biliary("sphincterotomy", "metal_stent")),
    ("ablation.biliary_dilatation", RFA, {"liver__biliary_dilatation": True}),
    ("ablation.biliary_dilatation", CRYO, {"liver__biliary_dilatation": True}),
    ("ablation.ire_arrhythmia", IRE, {"history__cardiac_arrhythmia": True}),
    ("ablation.ire_metal_stent", IRE, biliary("metal_stent")),
    ("ablation.ire_metal_stent", IRE, biliary("sphincterotomy", "metal_stent")),
    ("ablation.inr", RFA, {"labs__inr": 1.51}),
    ("ablation.inr", IRE, {"labs__inr": 2.5}),
    ("ablation.platelets", RFA, {"labs__platelets_10e9_per_l": 49.9}),
    ("ablation.platelets", MWA, {"labs__platelets_10e9_per_l": 20}),
    ("ablation.carcinoid_syndrome", RFA, {"tumour__functional_syndrome": "carcinoid"}),
    ("ablation.carcinoid_syndrome", IRE, {"tumour__functional_syndrome": "carcinoid"}),
]

QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("ablation.lesion_count", RFA, {}),
    ("ablation.lesion_count", RFA, several(10, 10, 10, 10, 10)),
    ("ablation.zone_size", LASER, one(20)),
    ("ablation.zone_size", RFA, one(45)),
    ("ablation.zone_size", MWA, one(60)),
    ("ablation.zone_size", IRE, one(30)),
    ("ablation.zone_size", CRYO, one(30)),
    ("ablation.multiple_applicators", RFA, one(30)),
    ("ablation.multiple_applicators", RFA, one(45.1)),  # beyond the cluster: zone_size says it
    ("ablation.multiple_applicators", MWA, one(40)),
    ("ablation.multiple_applicators", LASER, one(20)),  # one fibre is all there is
    ("ablation.multiple_applicators", IRE, one(30)),
    ("ablation.margin", LASER, one(10)),
    ("ablation.margin", RFA, one(35)),
    ("ablation.margin", RFA, one(45.1)),  # too big for the zone: zone_size says it
    ("ablation.margin", MWA, one(50)),
    ("ablation.margin", IRE, one(20)),
    ("ablation.margin", CRYO, one(20)),
    ("ablation.ideal", RFA, one(30)),
    ("ablation.ideal", RFA, several(10, 10, 10)),
    ("ablation.ideal", RFA, {"liver__lesion_count": 2}),  # one of two lesions unmeasured
    ("ablation.heat_sink", RFA, {}),
    ("ablation.heat_sink", RFA, abutting("gallbladder", "capsule")),
    ("ablation.heat_sink", LASER, abutting("bile_duct")),
    ("ablation.mwa_near_vessel", MWA, {}),
    ("ablation.mwa_near_vessel", MWA, abutting("diaphragm")),
    ("ablation.central_biliary_thermal", RFA, {}),
    ("ablation.central_biliary_thermal", RFA, abutting("hepatic_vein", "gallbladder")),
    ("ablation.central_biliary_thermal", IRE, abutting("hilum")),  # IRE spares bile ducts
    ("ablation.central_biliary_ire", IRE, {}),
    ("ablation.central_biliary_ire", IRE, abutting("portal_vein")),
    ("ablation.coagulopathy", RFA, {}),
    ("ablation.anaesthesia", RFA, {}),
    ("ablation.bilioenteric", RFA, {}),
    ("ablation.bilioenteric", RFA, biliary("plastic_stent")),
    ("ablation.bilioenteric", RFA, biliary("metal_stent")),
    ("ablation.biliary_dilatation", RFA, {}),
    ("ablation.ire_arrhythmia", IRE, {}),
    ("ablation.ire_arrhythmia", RFA, {"history__cardiac_arrhythmia": True}),
    ("ablation.ire_metal_stent", IRE, {}),
    ("ablation.ire_metal_stent", IRE, biliary("plastic_stent")),
    ("ablation.ire_metal_stent", RFA, biliary("metal_stent")),
    ("ablation.inr", RFA, {"labs__inr": 1.5}),
    ("ablation.platelets", RFA, {"labs__platelets_10e9_per_l": 50}),
    ("ablation.carcinoid_syndrome", RFA, {}),
    ("ablation.carcinoid_syndrome", RFA, {"tumour__functional_syndrome": "insulinoma"}),
]


# --------------------------------------------------------------------------- helpers
def option(assessor: Assessor, modality: str, **changes: Any) -> ModalityOption:
    return assessor.assess(make_case(**changes)).option(modality)


def ids(opt: ModalityOption) -> set[str]:
    return {f.rule_id for f in opt.findings}


def finding_message(opt: ModalityOption, rule_id: str) -> str:
    matches = [f.message for f in opt.findings if f.rule_id == rule_id]
    assert matches, f"{rule_id} did not fire; findings: {sorted(ids(opt))}"
    return matches[0]


def unevaluated(opt: ModalityOption) -> dict[str, tuple[str, ...]]:
    return {u.rule_id: u.fields for u in opt.unevaluated_rules}


# --------------------------------------------------------------------------- lesion count
@pytest.mark.parametrize("modality", ALL)
def test_five_lesions_is_oligometastatic_six_is_not(assessor: Assessor, modality: str) -> None:
    five = option(assessor, modality, **several(10, 10, 10, 10, 10))
    assert "ablation.lesion_count" not in ids(five)
    assert five.verdict is not Verdict.NOT_SUITABLE

    six = option(assessor, modality, **several(10, 10, 10, 10, 10, 10))
    assert six.verdict is Verdict.NOT_SUITABLE
    msg = finding_message(six, "ablation.lesion_count")
    assert msg.startswith("6 liver lesions")
    assert "(<= 5)" in msg


@pytest.mark.parametrize("modality", ALL)
def test_twelve_lesions_are_not_suitable_for_ablation(assessor: Assessor, modality: str) -> None:
    # Only one lesion is listed: the zone rule lacks data, but too many lesions
    # settles it and the verdict does not wait for the missing diameters.
    opt = option(assessor, modality, liver__lesion_count=12)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "12 liver lesions" in finding_message(opt, "ablation.lesion_count")
    assert opt.missing_information == ()


def test_too_numerous_to_count_is_not_oligometastatic(assessor: Assessor) -> None:
    opt = option(assessor, RFA, liver__lesion_count="too_numerous")
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "too numerous" in finding_message(opt, "ablation.lesion_count")
    assert "ablation.ideal" not in ids(opt)


def test_unknown_lesion_count_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, RFA, liver__lesion_count=DELETE, liver__lesions=[])
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.lesion_count" in opt.missing_information


def test_lesion_count_falls_back_to_the_listed_lesions(assessor: Assessor) -> None:
    listed = several(10, 10, 10, 10, 10, 10)
    listed["liver__lesion_count"] = DELETE
    assert "ablation.lesion_count" in fired(assessor, make_case(**listed), RFA)


# --------------------------------------------------------------------------- zone size
@pytest.mark.parametrize(("modality", "single", "largest"), ZONES)
def test_zone_size_boundary(
    assessor: Assessor, modality: str, single: float, largest: float
) -> None:
    at = option(assessor, modality, **one(largest))
    assert "ablation.zone_size" not in ids(at)
    assert at.verdict is not Verdict.NOT_SUITABLE

    over = largest + 0.1
    beyond = option(assessor, modality, **one(over))
    assert beyond.verdict is Verdict.NOT_SUITABLE
    msg = finding_message(beyond, "ablation.zone_size")
    assert f"L1 {over:g} mm" in msg
    assert f"larger than the {largest:g} mm zone" in msg
    assert Modality(modality).label.lower() in msg


def test_zone_size_lists_only_the_lesions_too_big(assessor: Assessor) -> None:
    opt = option(assessor, RFA, **several(20, 46, 50))
    msg = finding_message(opt, "ablation.zone_size")
    assert "L2 46 mm, L3 50 mm" in msg
    assert "L1" not in msg


def test_same_lesion_fits_mwa_but_not_rfa(assessor: Assessor) -> None:
    case = make_case(**one(50))
    assert "ablation.zone_size" in fired(assessor, case, RFA)
    assert "ablation.zone_size" not in fired(assessor, case, MWA)
    assert assessor.assess(case).option(MWA).verdict is not Verdict.NOT_SUITABLE


def test_zone_size_needs_every_lesion_measured(assessor: Assessor) -> None:
    # Three lesions counted, one listed and small: the others could be too big.
    opt = option(assessor, RFA, liver__lesion_count=3)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "ablation.zone_size" in unevaluated(opt)
    assert "ablation.zone_size" not in ids(opt)


def test_one_listed_lesion_too_big_settles_zone_size(assessor: Assessor) -> None:
    opt = option(assessor, RFA, liver__lesion_count=3, liver__lesions=[lesion(mm=50)])
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "ablation.zone_size" in ids(opt)


def test_a_lesion_too_big_is_not_hidden_by_an_unmeasured_one(assessor: Assessor) -> None:
    # L1 exceeds the 45 mm RFA cluster zone whatever L2 measures: not suitable,
    # not "needs information" with a provisional "eligible".
    opt = option(
        assessor,
        RFA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 50, 6), lesion("L2", None, 7)],
    )
    assert "ablation.zone_size" in ids(opt)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert opt.provisional_verdict is Verdict.NOT_SUITABLE


def test_a_lesion_needing_a_cluster_is_reported_despite_an_unmeasured_one(
    assessor: Assessor,
) -> None:
    opt = option(
        assessor,
        RFA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 35, 6), lesion("L2", None, 7)],
    )
    assert "L1 35 mm" in finding_message(opt, "ablation.multiple_applicators")
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert opt.provisional_verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_a_tight_margin_is_reported_despite_an_unmeasured_lesion(assessor: Assessor) -> None:
    opt = option(
        assessor,
        RFA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 40, 6), lesion("L2", None, 7)],
    )
    assert "ablation.margin" in ids(opt)
    assert opt.provisional_verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_unmeasured_lesion_needs_its_diameter(assessor: Assessor) -> None:
    opt = option(
        assessor,
        RFA,
        liver__lesion_count=2,
        liver__lesions=[lesion("L1", 20, 6), lesion("L2", None, 7)],
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.lesions[1].longest_diameter_mm" in opt.missing_information


# --------------------------------------------------------------------------- applicators
@pytest.mark.parametrize(("modality", "single", "largest"), [(RFA, 30, 45), (MWA, 40, 60)])
def test_multiple_applicators_between_single_and_cluster_zone(
    assessor: Assessor, modality: str, single: float, largest: float
) -> None:
    assert "ablation.multiple_applicators" not in fired(
        assessor, make_case(**one(single)), modality
    )
    over = single + 0.1
    opt = option(assessor, modality, **one(over))
    msg = finding_message(opt, "ablation.multiple_applicators")
    assert f"L1 {over:g} mm" in msg
    assert f"{single:g} mm zone" in msg
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "ablation.multiple_applicators" in fired(assessor, make_case(**one(largest)), modality)


@pytest.mark.parametrize("modality", [LASER, IRE, CRYO])
def test_single_zone_modalities_never_ask_for_a_cluster(assessor: Assessor, modality: str) -> None:
    for mm in (10, 20, 30, 30.1, 60):
        assert "ablation.multiple_applicators" not in fired(
            assessor, make_case(**one(mm)), modality
        )


# --------------------------------------------------------------------------- margin
@pytest.mark.parametrize(("modality", "single", "largest"), ZONES)
def test_margin_needs_diameter_plus_10_mm(
    assessor: Assessor, modality: str, single: float, largest: float
) -> None:
    # A 5 mm margin all round: diameter + 10 mm must fit in the zone.
    fits = largest - 10
    assert "ablation.margin" not in fired(assessor, make_case(**one(fits)), modality)
    tight = fits + 0.1
    opt = option(assessor, modality, **one(tight))
    msg = finding_message(opt, "ablation.margin")
    assert f"L1 {tight:g} mm" in msg
    assert f"diameter + 10 mm > {largest:g} mm" in msg
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_margin_evidence_is_from_colorectal_metastases(assessor: Assessor) -> None:
    opt = option(assessor, RFA, **one(40))
    finding = next(f for f in opt.findings if f.rule_id == "ablation.margin")
    assert finding.population == ("CRLM",)
    assert finding.effect is Effect.CAUTION
    assert finding.parameters["ablation_margin_mm"] == 5


def test_base_lesion_fills_the_laser_zone(assessor: Assessor) -> None:
    # 20 mm lesion, 20 mm laser zone: reachable, but not with a 5 mm margin.
    opt = option(assessor, LASER)
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "ablation.zone_size" not in ids(opt)
    assert "ablation.margin" in ids(opt)


# --------------------------------------------------------------------------- ideal
def test_ideal_indication_boundaries(assessor: Assessor) -> None:
    two = option(assessor, RFA, **several(29.9, 12))
    assert "2 lesion(s), all < 30 mm" in finding_message(two, "ablation.ideal")
    assert two.verdict is Verdict.ELIGIBLE  # favours does not change the verdict
    assert "ablation.ideal" not in fired(assessor, make_case(**several(29.9, 30)), RFA)
    assert "ablation.ideal" not in fired(assessor, make_case(**several(10, 10, 10)), RFA)


# --------------------------------------------------------------------------- location
def test_heat_sink_lowers_rfa_but_favours_mwa(assessor: Assessor) -> None:
    assessment = assessor.assess(make_case(**abutting("hepatic_vein")))
    rfa = assessment.option(RFA)
    assert rfa.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "L1 (hepatic_vein)" in finding_message(rfa, "ablation.heat_sink")
    mwa = assessment.option(MWA)
    assert mwa.verdict is Verdict.ELIGIBLE
    assert "ablation.mwa_near_vessel" in ids(mwa)
    assert "ablation.heat_sink" not in ids(mwa)


def test_central_lesion_favours_ire_over_thermal(assessor: Assessor) -> None:
    assessment = assessor.assess(make_case(**abutting("hilum")))
    for modality in THERMAL_AND_CRYO:
        opt = assessment.option(modality)
        assert "ablation.central_biliary_thermal" in ids(opt), modality
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION, modality
    ire = assessment.option(IRE)
    assert ire.verdict is Verdict.ELIGIBLE
    favours = [f for f in ire.findings if f.rule_id == "ablation.central_biliary_ire"]
    assert [f.effect for f in favours] == [Effect.FAVOURS]


# --------------------------------------------------------------------------- contraindications
def test_metal_stent_contraindicates_only_ire(assessor: Assessor) -> None:
    assessment = assessor.assess(make_case(**biliary("metal_stent")))
    ire = assessment.option(IRE)
    assert ire.verdict is Verdict.CONTRAINDICATED
    assert "metal biliary stent" in finding_message(ire, "ablation.ire_metal_stent")
    rfa = assessment.option(RFA)
    assert rfa.verdict is not Verdict.CONTRAINDICATED
    assert rfa.verdict is Verdict.ELIGIBLE
    for modality in THERMAL_AND_CRYO:
        assert assessment.option(modality).verdict is not Verdict.CONTRAINDICATED


def test_cardiac_arrhythmia_only_contraindicates_ire(assessor: Assessor) -> None:
    assessment = assessor.assess(make_case(history__cardiac_arrhythmia=True))
    assert assessment.option(IRE).verdict is Verdict.CONTRAINDICATED
    assert "arrhythmia" in finding_message(assessment.option(IRE), "ablation.ire_arrhythmia")
    base = assessor.assess(make_case())
    for modality in THERMAL_AND_CRYO:
        assert assessment.option(modality).verdict is base.option(modality).verdict
        assert assessment.option(modality).verdict is not Verdict.CONTRAINDICATED


@pytest.mark.parametrize(
    ("changes", "rule_id", "text"),
    [
        (
            {"history__irreversible_coagulopathy": True},
            "ablation.coagulopathy",
            "irreversible coagulation",
        ),
        (
            {"patient__anaesthesia_contraindicated": True},
            "ablation.anaesthesia",
            "anaesthesia",
        ),
        (biliary("bilioenteric_anastomosis"), "ablation.bilioenteric", "bilioenteric_anastomosis"),
        (biliary("sphincterotomy"), "ablation.bilioenteric", "sphincterotomy"),
        ({"liver__biliary_dilatation": True}, "ablation.biliary_dilatation", "dilatation"),
    ],
)
def test_table1_contraindications_apply_to_every_ablation(
    assessor: Assessor, changes: dict[str, Any], rule_id: str, text: str
) -> None:
    assessment = assessor.assess(make_case(**changes))
    for modality in ALL:
        opt = assessment.option(modality)
        assert opt.verdict is Verdict.CONTRAINDICATED, modality
        assert text in finding_message(opt, rule_id)


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("history__irreversible_coagulopathy", "history.irreversible_coagulopathy"),
        ("patient__anaesthesia_contraindicated", "patient.anaesthesia_contraindicated"),
        ("history__biliary_intervention", "history.biliary_intervention"),
        ("liver__biliary_dilatation", "liver.biliary_dilatation"),
    ],
)
def test_unknown_contraindication_is_an_assumption(
    assessor: Assessor, ask_assessor: Assessor, field: str, path: str
) -> None:
    # Unreported on a complete record: assumed (or, for coagulopathy, inferred from
    # INR 1.0 / platelets 220) absent, listed, verdict unchanged (#10).
    opt = option(assessor, RFA, **{field: DELETE})
    assert opt.verdict is Verdict.ELIGIBLE
    assert path not in opt.missing_information
    assert [a.field for a in opt.assumptions] == [path]
    # missing_findings: ask keeps netlm 0.1: needs information.
    strict = ask_assessor.assess(make_case(**{field: DELETE})).option(RFA)
    assert strict.verdict is Verdict.NEEDS_INFORMATION
    assert path in strict.missing_information
    assert strict.provisional_verdict is Verdict.ELIGIBLE
    assert strict.assumptions == ()


def test_unknown_arrhythmia_matters_only_for_ire(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    assessment = assessor.assess(make_case(history__cardiac_arrhythmia=DELETE))
    assert [a.field for a in assessment.option(IRE).assumptions] == ["history.cardiac_arrhythmia"]
    assert assessment.option(RFA).assumptions == ()
    assert assessment.option(RFA).verdict is Verdict.ELIGIBLE
    strict = ask_assessor.assess(make_case(history__cardiac_arrhythmia=DELETE))
    assert "history.cardiac_arrhythmia" in strict.option(IRE).missing_information
    assert strict.option(RFA).verdict is Verdict.ELIGIBLE


# --------------------------------------------------------------------------- bleeding
@pytest.mark.parametrize(("inr", "fires"), [(1.0, False), (1.5, False), (1.51, True), (2.0, True)])
def test_inr_limit_1_5(assessor: Assessor, inr: float, fires: bool) -> None:
    opt = option(assessor, RFA, labs__inr=inr)
    assert ("ablation.inr" in ids(opt)) is fires
    if fires:
        assert f"INR {inr:g} > 1.5" in finding_message(opt, "ablation.inr")
        # Correctable: relative, not absolute.
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    else:
        assert opt.verdict is Verdict.ELIGIBLE


@pytest.mark.parametrize(("plt", "fires"), [(50, False), (49.9, True), (10, True)])
def test_platelet_floor_50(assessor: Assessor, plt: float, fires: bool) -> None:
    opt = option(assessor, RFA, labs__platelets_10e9_per_l=plt)
    assert ("ablation.platelets" in ids(opt)) is fires
    if fires:
        msg = finding_message(opt, "ablation.platelets")
        assert f"platelets {plt:g} x 10^9/L < 50" in msg
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    else:
        assert opt.verdict is Verdict.ELIGIBLE


def test_missing_inr_needs_information(assessor: Assessor) -> None:
    opt = option(assessor, MWA, labs__inr=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "labs.inr" in opt.missing_information


# --------------------------------------------------------------------------- peri-procedural
def test_carcinoid_prophylaxis_is_a_requirement_not_a_caution(assessor: Assessor) -> None:
    opt = option(assessor, RFA, tumour__functional_syndrome="carcinoid")
    finding = next(f for f in opt.findings if f.rule_id == "ablation.carcinoid_syndrome")
    assert finding.effect is Effect.REQUIREMENT
    assert "prophylaxis per local protocol" in finding.message
    assert opt.verdict is Verdict.ELIGIBLE


# --------------------------------------------------------------------------- sources
def test_ablation_findings_carry_sources_and_population(assessor: Assessor) -> None:
    opt = option(
        assessor,
        RFA,
        liver__lesion_count=6,
        liver__lesions=[lesion(mm=50, abuts=["hilum", "hepatic_vein"])],
        labs__inr=1.8,
        history__irreversible_coagulopathy=True,
    )
    assert len(opt.findings) >= 5
    for f in opt.findings:
        assert f.sources, f.rule_id
        for src in f.sources:
            assert src.seed or src.reference, (f.rule_id, src.id)
            assert src.population, (f.rule_id, src.id)
        assert f.population == tuple(dict.fromkeys(s.population.value for s in f.sources))

    count = next(f for f in opt.findings if f.rule_id == "ablation.lesion_count")
    assert [s.seed for s in count.sources] == [SEED_001]
    assert count.population == ("NET",)
    assert count.parameters == {"ablation_max_lesions": 5}

    inr = next(f for f in opt.findings if f.rule_id == "ablation.inr")
    assert inr.sources[0].seed is None
    assert "SIR" in inr.sources[0].reference
    assert inr.population == ("guideline / consensus",)

    # Worst first: the contraindication leads the findings.
    assert opt.findings[0].effect is Effect.CONTRAINDICATION
    assert opt.verdict is Verdict.CONTRAINDICATED
