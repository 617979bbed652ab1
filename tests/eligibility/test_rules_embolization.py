"""Transarterial (shared) and bland/chemoembolization rules (TAE, cTACE, DEB-TACE).

The tables drive one trigger and one quiet test per row (and the coverage
meta-test); the explicit tests below pin the clinically decisive boundaries and
the verdicts they produce.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import DELETE, fired, make_case
from netlm.eligibility import Assessor
from netlm.eligibility.result import Effect, Finding, ModalityOption, Verdict

EMBO = ("tae", "ctace", "debtace")
RADIO = ("tare_resin", "tare_glass", "radiation_segmentectomy")

NOT_INDICATED = {
    "tumour__liver_disease_course": "stable",
    "tumour__symptoms_refractory_to_ssa": False,
}
G3 = {"tumour__ki67_percent": 25, "tumour__differentiation": "well"}


def _burden(tumour_ml: float, liver_ml: float = 1000) -> dict[str, Any]:
    return {"liver__volume_ml": liver_ml, "liver__tumour_volume_ml": tumour_ml}


def _bili(value: float, unit: str = "mg/dL") -> dict[str, Any]:
    return {"labs__bilirubin": {"value": value, "unit": unit}}


def _prior(*types: str) -> dict[str, Any]:
    return {"history__prior_treatments": [{"type": t} for t in types]}


TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    # --- shared transarterial rules: evaluated for TAE/TACE and for TARE alike
    ("transarterial.indication", "tae", NOT_INDICATED),
    ("transarterial.indication", "tare_resin", NOT_INDICATED),
    ("transarterial.indication", "ctace", {**NOT_INDICATED, "tumour__liver_disease_course": "new"}),
    ("transarterial.inr_access", "tae", {"labs__inr": 1.8}),
    ("transarterial.inr_access", "ctace", {"labs__inr": 2.2}),
    ("transarterial.inr_access", "tare_glass", {"labs__inr": 2.0}),
    ("transarterial.platelets_access", "debtace", {"labs__platelets_10e9_per_l": 19.9}),
    (
        "transarterial.platelets_access",
        "radiation_segmentectomy",
        {"labs__platelets_10e9_per_l": 5},
    ),
    ("transarterial.carcinoid_syndrome", "tae", {"tumour__functional_syndrome": "carcinoid"}),
    (
        "transarterial.carcinoid_syndrome",
        "tare_resin",
        {"tumour__functional_syndrome": "carcinoid"},
    ),
    ("transarterial.carcinoid_heart", "tae", {"history__carcinoid_heart_disease": "present"}),
    (
        "transarterial.carcinoid_heart",
        "ctace",
        {"tumour__functional_syndrome": "carcinoid", "history__carcinoid_heart_disease": "unknown"},
    ),
    (
        "transarterial.carcinoid_heart",
        "tare_glass",
        {"tumour__functional_syndrome": "carcinoid", "history__carcinoid_heart_disease": DELETE},
    ),
    # --- TAE / TACE
    ("embolization.grade", "tae", G3),
    ("embolization.grade", "ctace", {"tumour__differentiation": "poor"}),
    ("embolization.portal_vein_thrombosis", "tae", {"liver__portal_vein_thrombosis": True}),
    ("embolization.portal_vein_thrombosis", "debtace", {"liver__portal_vein_thrombosis": True}),
    ("embolization.bilioenteric", "tae", {"history__biliary_intervention": ["sphincterotomy"]}),
    (
        "embolization.bilioenteric",
        "ctace",
        {"history__biliary_intervention": ["bilioenteric_anastomosis"]},
    ),
    ("embolization.biliary_stent", "tae", {"history__biliary_intervention": ["plastic_stent"]}),
    ("embolization.biliary_stent", "debtace", {"history__biliary_intervention": "metal_stent"}),
    ("embolization.involvement", "tae", _burden(751)),
    ("embolization.involvement", "ctace", {**_burden(900)}),
    ("embolization.involvement_high", "tae", _burden(501)),
    ("embolization.involvement_high", "debtace", _burden(750)),
    ("embolization.bilirubin", "tae", _bili(3.0)),
    ("embolization.bilirubin", "ctace", _bili(52, "umol/L")),
    ("embolization.ascites", "tae", {"liver__ascites": "mild"}),
    ("embolization.ascites", "debtace", {"liver__ascites": "moderate_severe"}),
    ("embolization.contrast_allergy", "tae", {"history__contrast_allergy": "severe"}),
    ("embolization.contrast_allergy_mild", "ctace", {"history__contrast_allergy": "mild"}),
    ("embolization.coagulopathy", "tae", {"history__irreversible_coagulopathy": True}),
    ("embolization.sequencing", "tae", {"liver__distribution": "bilobar"}),
    ("embolization.post_embolization_syndrome", "tae", {}),
    ("embolization.post_embolization_syndrome", "debtace", {}),
    ("embolization.chemo_vs_bland", "ctace", {}),
    ("embolization.chemo_vs_bland", "debtace", {}),
    ("embolization.prior_tare", "tae", _prior("tare")),
]

QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("transarterial.indication", "tae", {}),
    (
        "transarterial.indication",
        "tae",
        {**NOT_INDICATED, "tumour__symptoms_refractory_to_ssa": True},
    ),
    ("transarterial.inr_access", "tae", {"labs__inr": 1.79}),
    ("transarterial.inr_access", "tare_resin", {"labs__inr": 1.79}),
    ("transarterial.platelets_access", "tae", {"labs__platelets_10e9_per_l": 20}),
    ("transarterial.platelets_access", "tare_resin", {"labs__platelets_10e9_per_l": 20}),
    ("transarterial.carcinoid_syndrome", "tae", {}),
    ("transarterial.carcinoid_syndrome", "tae", {"tumour__functional_syndrome": "insulinoma"}),
    (
        "transarterial.carcinoid_heart",
        "tae",
        {"tumour__functional_syndrome": "carcinoid", "history__carcinoid_heart_disease": "absent"},
    ),
    # unknown heart status matters only with carcinoid syndrome
    ("transarterial.carcinoid_heart", "tae", {"history__carcinoid_heart_disease": "unknown"}),
    ("embolization.grade", "tae", {}),
    ("embolization.grade", "tae", {"tumour__ki67_percent": 20, "tumour__differentiation": "well"}),
    ("embolization.portal_vein_thrombosis", "tae", {}),
    ("embolization.portal_vein_thrombosis", "tare_resin", {"liver__portal_vein_thrombosis": True}),
    ("embolization.bilioenteric", "tae", {}),
    ("embolization.bilioenteric", "tae", {"history__biliary_intervention": ["plastic_stent"]}),
    ("embolization.biliary_stent", "tae", {}),
    ("embolization.biliary_stent", "tae", {"history__biliary_intervention": ["sphincterotomy"]}),
    ("embolization.involvement", "tae", _burden(750)),
    ("embolization.involvement_high", "tae", _burden(500)),
    ("embolization.involvement_high", "tae", _burden(751)),
    ("embolization.bilirubin", "tae", _bili(2.99)),
    ("embolization.bilirubin", "tae", _bili(51.2, "umol/L")),
    ("embolization.ascites", "tae", {}),
    ("embolization.contrast_allergy", "tae", {"history__contrast_allergy": "mild"}),
    ("embolization.contrast_allergy_mild", "tae", {}),
    ("embolization.contrast_allergy_mild", "tae", {"history__contrast_allergy": "severe"}),
    ("embolization.coagulopathy", "tae", {}),
    ("embolization.sequencing", "tae", {}),
    ("embolization.sequencing", "tae", {"liver__distribution": "unilobar_left"}),
    # a TAE/TACE-only rule is never reported for radioembolization
    ("embolization.post_embolization_syndrome", "tare_resin", {}),
    ("embolization.chemo_vs_bland", "tae", {}),
    ("embolization.prior_tare", "tae", {}),
    ("embolization.prior_tare", "tae", _prior("tae", "ctace")),
]


# --------------------------------------------------------------------------- helpers
def _option(assessor: Assessor, modality: str, **changes: Any) -> ModalityOption:
    return assessor.assess(make_case(**changes)).option(modality)


def _finding(option: ModalityOption, rule_id: str) -> Finding:
    matches = [f for f in option.findings if f.rule_id == rule_id]
    assert len(matches) == 1, f"{rule_id} not (exactly once) in {option.findings}"
    return matches[0]


# --------------------------------------------------------------------------- baseline
@pytest.mark.parametrize("modality", EMBO)
def test_base_case_is_eligible_for_embolization(assessor: Assessor, modality: str) -> None:
    opt = _option(assessor, modality)
    assert opt.verdict is Verdict.ELIGIBLE
    # the expected post-embolization syndrome is a requirement, not a caution
    pes = _finding(opt, "embolization.post_embolization_syndrome")
    assert pes.effect is Effect.REQUIREMENT


# --------------------------------------------------------------------------- bilirubin
@pytest.mark.parametrize("modality", EMBO)
def test_tace_bilirubin_just_below_3_is_not_contraindicated(
    assessor: Assessor, modality: str
) -> None:
    opt = _option(assessor, modality, **_bili(2.99))
    assert "embolization.bilirubin" not in {f.rule_id for f in opt.findings}
    # Issue #10: 2-3 mg/dL is where seeds 004 (> 2) and 001 (>= 3) disagree: a caution.
    assert "transarterial.bilirubin_conflict" in {f.rule_id for f in opt.findings}
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


@pytest.mark.parametrize("modality", EMBO)
def test_tace_bilirubin_3_contraindicates(assessor: Assessor, modality: str) -> None:
    opt = _option(assessor, modality, **_bili(3.0))
    f = _finding(opt, "embolization.bilirubin")
    assert f.effect is Effect.CONTRAINDICATION
    assert f.parameters == {"embolization_bilirubin_limit_mg_dl": 3.0}
    assert opt.verdict is Verdict.CONTRAINDICATED


def test_tace_bilirubin_in_umol_per_l_below_limit(assessor: Assessor) -> None:
    # 51.2 µmol/L = 2.994 mg/dL
    opt = _option(assessor, "ctace", **_bili(51.2, "µmol/L"))
    assert "embolization.bilirubin" not in {f.rule_id for f in opt.findings}
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION  # the 2-3 mg/dL seed conflict


def test_tace_bilirubin_in_umol_per_l_above_limit(assessor: Assessor) -> None:
    # 51.4 µmol/L = 3.006 mg/dL
    opt = _option(assessor, "ctace", **_bili(51.4, "µmol/L"))
    assert opt.verdict is Verdict.CONTRAINDICATED


@pytest.mark.parametrize("unit", ["µmol/L", "umol/L"])
def test_tace_bilirubin_limit_given_in_umol_per_l(assessor: Assessor, unit: str) -> None:
    opt = _option(assessor, "ctace", **_bili(51.3, unit))
    assert "embolization.bilirubin" in {f.rule_id for f in opt.findings}
    assert opt.verdict is Verdict.CONTRAINDICATED


def test_missing_bilirubin_makes_tace_need_information(assessor: Assessor) -> None:
    opt = _option(assessor, "ctace", labs__bilirubin=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "labs.bilirubin" in opt.missing_information
    assert opt.provisional_verdict is Verdict.ELIGIBLE


# --------------------------------------------------------------------------- tumour burden
@pytest.mark.parametrize(
    ("tumour_ml", "involvement", "high"),
    [
        (500, False, False),  # exactly 50 %: below the caution band
        (501, False, True),  # 50.1 %
        (700, False, True),
        (750, False, True),  # exactly 75 %: still allowed, with caution
        (751, True, False),  # 75.1 %: relative contraindication instead
    ],
)
def test_embolization_involvement_bands(
    assessor: Assessor, tumour_ml: float, involvement: bool, high: bool
) -> None:
    ids = fired(assessor, make_case(**_burden(tumour_ml)), "tae")
    assert ("embolization.involvement" in ids) is involvement
    assert ("embolization.involvement_high" in ids) is high


def test_embolization_involvement_above_75_is_relative_not_absolute(assessor: Assessor) -> None:
    opt = _option(assessor, "tae", **_burden(751))
    f = _finding(opt, "embolization.involvement")
    assert f.effect is Effect.RELATIVE_CONTRAINDICATION
    assert "75.1 %" in f.message
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_embolization_involvement_caution_band_verdict(assessor: Assessor) -> None:
    opt = _option(assessor, "ctace", **_burden(600))
    f = _finding(opt, "embolization.involvement_high")
    assert f.effect is Effect.CAUTION
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_embolization_involvement_from_reported_percent(assessor: Assessor) -> None:
    changes = {
        "liver__volume_ml": DELETE,
        "liver__tumour_volume_ml": DELETE,
        "liver__involvement_percent": 80,
        "liver__involvement_method": "visual_estimate",
    }
    assert "embolization.involvement" in fired(assessor, make_case(**changes), "tae")


def test_unknown_burden_makes_embolization_need_volumes(assessor: Assessor) -> None:
    opt = _option(assessor, "tae", liver__tumour_volume_ml=DELETE)
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.tumour_volume_ml" in opt.missing_information


# --------------------------------------------------------------------------- arterial access
@pytest.mark.parametrize(
    ("inr", "fires", "text"),
    [
        (1.79, False, None),
        (1.8, True, "radial access"),
        (2.19, True, "radial access"),
        (2.2, True, "correct before any arterial access"),
        (3.0, True, "correct before any arterial access"),
    ],
)
@pytest.mark.parametrize("modality", ["tae", "tare_resin"])
def test_inr_access_tiers(
    assessor: Assessor, modality: str, inr: float, fires: bool, text: str | None
) -> None:
    opt = _option(assessor, modality, labs__inr=inr)
    found = [f for f in opt.findings if f.rule_id == "transarterial.inr_access"]
    assert bool(found) is fires
    if fires:
        assert found[0].effect is Effect.RELATIVE_CONTRAINDICATION
        assert text in found[0].message
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
        assert found[0].parameters == {
            "arterial_inr_max_femoral": 1.8,
            "arterial_inr_max_radial": 2.2,
        }


def test_inr_1_8_offers_radial_not_correction(assessor: Assessor) -> None:
    msg = _finding(_option(assessor, "tae", labs__inr=1.8), "transarterial.inr_access").message
    assert "correct before any" not in msg


@pytest.mark.parametrize(("platelets", "fires"), [(19.9, True), (20, False), (20.1, False)])
def test_platelets_access_boundary(assessor: Assessor, platelets: float, fires: bool) -> None:
    opt = _option(assessor, "tae", labs__platelets_10e9_per_l=platelets)
    assert ("transarterial.platelets_access" in {f.rule_id for f in opt.findings}) is fires
    assert opt.verdict is (Verdict.ELIGIBLE_WITH_CAUTION if fires else Verdict.ELIGIBLE)


def test_missing_inr_makes_every_transarterial_option_need_it(assessor: Assessor) -> None:
    result = assessor.assess(make_case(labs__inr=DELETE))
    for modality in EMBO + RADIO:
        opt = result.option(modality)
        assert opt.verdict is Verdict.NEEDS_INFORMATION, modality
        assert "labs.inr" in opt.missing_information, modality


# --------------------------------------------------------------------------- indication and grade
@pytest.mark.parametrize("modality", EMBO + RADIO)
def test_stable_asymptomatic_disease_is_not_an_indication(
    assessor: Assessor, modality: str
) -> None:
    opt = _option(assessor, modality, **NOT_INDICATED)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert _finding(opt, "transarterial.indication").effect is Effect.NOT_SUITABLE


def test_refractory_symptoms_are_an_indication_despite_stable_disease(
    assessor: Assessor,
) -> None:
    changes = {**NOT_INDICATED, "tumour__symptoms_refractory_to_ssa": True}
    assert _option(assessor, "tae", **changes).verdict is Verdict.ELIGIBLE


def test_unknown_course_without_refractory_symptoms_needs_information(
    assessor: Assessor,
) -> None:
    opt = _option(
        assessor,
        "tae",
        tumour__liver_disease_course=DELETE,
        tumour__symptoms_refractory_to_ssa=False,
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert opt.missing_information == ("tumour.liver_disease_course",)


def test_contraindication_outranks_missing_indication(assessor: Assessor) -> None:
    opt = _option(assessor, "tae", **NOT_INDICATED, liver__portal_vein_thrombosis=True)
    assert opt.verdict is Verdict.CONTRAINDICATED


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({"tumour__ki67_percent": 20, "tumour__differentiation": "well"}, Verdict.ELIGIBLE),
        (G3, Verdict.ELIGIBLE_WITH_CAUTION),
        # Issue #10: a carcinoma is not a TAE/TACE candidate (carcinoma.systemic_therapy).
        ({"tumour__differentiation": "poor"}, Verdict.NOT_SUITABLE),
        (
            {"tumour__ki67_percent": 25, "tumour__differentiation": "unknown"},
            Verdict.NEEDS_INFORMATION,
        ),
    ],
)
def test_embolization_grade(assessor: Assessor, changes: dict[str, Any], verdict: Verdict) -> None:
    opt = _option(assessor, "ctace", **changes)
    assert opt.verdict is verdict
    if verdict is Verdict.NEEDS_INFORMATION:
        assert "tumour.differentiation" in opt.missing_information
    if verdict is Verdict.ELIGIBLE_WITH_CAUTION:
        assert _finding(opt, "embolization.grade").effect is Effect.RELATIVE_CONTRAINDICATION


# --------------------------------------------------------------------------- liver function etc.
@pytest.mark.parametrize("ascites", ["mild", "moderate_severe"])
def test_any_ascites_contraindicates_embolization(assessor: Assessor, ascites: str) -> None:
    opt = _option(assessor, "tae", liver__ascites=ascites)
    assert opt.verdict is Verdict.CONTRAINDICATED
    assert _finding(opt, "embolization.ascites").effect is Effect.CONTRAINDICATION


@pytest.mark.parametrize(
    ("allergy", "verdict", "rule_id"),
    [
        ("severe", Verdict.CONTRAINDICATED, "embolization.contrast_allergy"),
        ("mild", Verdict.ELIGIBLE_WITH_CAUTION, "embolization.contrast_allergy_mild"),
    ],
)
def test_contrast_allergy(assessor: Assessor, allergy: str, verdict: Verdict, rule_id: str) -> None:
    opt = _option(assessor, "debtace", history__contrast_allergy=allergy)
    assert opt.verdict is verdict
    assert rule_id in {f.rule_id for f in opt.findings}


def test_severe_contrast_allergy_is_only_relative_for_tare(assessor: Assessor) -> None:
    result = assessor.assess(make_case(history__contrast_allergy="severe"))
    assert result.option("tae").verdict is Verdict.CONTRAINDICATED
    assert result.option("tare_resin").verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_irreversible_coagulopathy_contraindicates(assessor: Assessor) -> None:
    opt = _option(assessor, "tae", history__irreversible_coagulopathy=True)
    assert opt.verdict is Verdict.CONTRAINDICATED


def test_bilobar_disease_requires_one_lobe_per_session(assessor: Assessor) -> None:
    opt = _option(assessor, "tae", liver__distribution="bilobar")
    f = _finding(opt, "embolization.sequencing")
    assert f.effect is Effect.REQUIREMENT
    assert opt.verdict is Verdict.ELIGIBLE  # a requirement does not lower the verdict


# --------------------------------------------------------------------------- carcinoid
def test_carcinoid_syndrome_requires_crisis_prophylaxis(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tae",
        tumour__functional_syndrome="carcinoid",
        history__carcinoid_heart_disease="absent",
    )
    assert _finding(opt, "transarterial.carcinoid_syndrome").effect is Effect.REQUIREMENT
    assert "transarterial.carcinoid_heart" not in {f.rule_id for f in opt.findings}
    assert opt.verdict is Verdict.ELIGIBLE


def test_carcinoid_syndrome_without_heart_screening_is_a_caution(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tae",
        tumour__functional_syndrome="carcinoid",
        history__carcinoid_heart_disease="unknown",
    )
    f = _finding(opt, "transarterial.carcinoid_heart")
    assert f.effect is Effect.CAUTION
    assert "echocardiography" in f.message
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


# --------------------------------------------------------------------------- preferences
def test_portal_vein_thrombosis_excludes_embolization_not_tare(assessor: Assessor) -> None:
    result = assessor.assess(make_case(liver__portal_vein_thrombosis=True))
    for modality in EMBO:
        opt = result.option(modality)
        assert opt.verdict is Verdict.CONTRAINDICATED, modality
        f = _finding(opt, "embolization.portal_vein_thrombosis")
        assert f.effect is Effect.CONTRAINDICATION
    for modality in RADIO:
        opt = result.option(modality)
        assert opt.verdict not in (Verdict.CONTRAINDICATED, Verdict.NOT_SUITABLE), modality
        # Issue #10: seeds 004 and 001 disagree on PVT for TARE - a caution naming both.
        conflict = _finding(opt, "tare.portal_vein_thrombosis")
        assert conflict.effect is Effect.CAUTION
        assert "seed 004" in conflict.message and "seed 001" in conflict.message
    assert result.option("tare_resin").verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_missing_portal_vein_status_is_assumed_absent(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    opt = _option(assessor, "tae", liver__portal_vein_thrombosis=DELETE)
    assert opt.verdict is Verdict.ELIGIBLE
    assert [a.field for a in opt.assumptions] == ["liver.portal_vein_thrombosis"]
    assert "portal vein thrombosis" in opt.assumptions[0].statement
    strict = _option(ask_assessor, "tae", liver__portal_vein_thrombosis=DELETE)
    assert strict.verdict is Verdict.NEEDS_INFORMATION
    assert "liver.portal_vein_thrombosis" in strict.missing_information


@pytest.mark.parametrize("intervention", ["sphincterotomy", "bilioenteric_anastomosis"])
def test_biliary_instrumentation_prefers_tare(assessor: Assessor, intervention: str) -> None:
    result = assessor.assess(make_case(history__biliary_intervention=[intervention]))
    for modality in EMBO:
        opt = result.option(modality)
        assert opt.verdict is Verdict.CONTRAINDICATED, modality
        assert "abscess" in _finding(opt, "embolization.bilioenteric").message
    resin = result.option("tare_resin")
    assert _finding(resin, "tare.biliary_instrumentation").effect is Effect.FAVOURS
    assert resin.verdict is Verdict.ELIGIBLE
    glass = result.option("tare_glass")
    assert _finding(glass, "tare.biliary_instrumentation").effect is Effect.FAVOURS
    assert _finding(glass, "tare.glass_biliary_infection").effect is Effect.CAUTION
    assert glass.verdict is Verdict.ELIGIBLE_WITH_CAUTION


@pytest.mark.parametrize("stent", ["plastic_stent", "metal_stent"])
def test_biliary_stent_is_a_caution_for_embolization(assessor: Assessor, stent: str) -> None:
    result = assessor.assess(make_case(history__biliary_intervention=[stent]))
    tae = result.option("tae")
    assert tae.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    f = _finding(tae, "embolization.biliary_stent")
    assert f.effect is Effect.CAUTION
    assert "embolization.bilioenteric" not in {x.rule_id for x in tae.findings}
    assert "tare.biliary_instrumentation" in {
        x.rule_id for x in result.option("tare_resin").findings
    }


def test_stent_and_sphincterotomy_both_reported(assessor: Assessor) -> None:
    opt = _option(
        assessor, "tae", history__biliary_intervention=["sphincterotomy", "plastic_stent"]
    )
    ids = {f.rule_id for f in opt.findings}
    assert {"embolization.bilioenteric", "embolization.biliary_stent"} <= ids
    assert opt.verdict is Verdict.CONTRAINDICATED


def test_missing_biliary_history_is_assumed_absent(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    opt = _option(assessor, "tae", history__biliary_intervention=DELETE)
    assert opt.verdict is Verdict.ELIGIBLE
    assert [a.field for a in opt.assumptions] == ["history.biliary_intervention"]
    strict = _option(ask_assessor, "tae", history__biliary_intervention=DELETE)
    assert strict.verdict is Verdict.NEEDS_INFORMATION
    assert "history.biliary_intervention" in strict.missing_information


def test_missing_biliary_history_after_pancreatic_resection_needs_information(
    assessor: Assessor,
) -> None:
    # A resected pancreatic primary may have been a Whipple (bilio-enteric anastomosis).
    opt = _option(
        assessor, "tae", history__biliary_intervention=DELETE, tumour__primary_site="pancreas"
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "history.biliary_intervention" in opt.missing_information


def test_prior_tare_is_a_caution_for_embolization(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tae",
        history__prior_treatments=[{"type": "tare", "territory": "right_lobe"}],
    )
    assert _finding(opt, "embolization.prior_tare").effect is Effect.CAUTION
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_chemoembolization_favoured_over_bland_only_for_tace(assessor: Assessor) -> None:
    result = assessor.assess(make_case())
    for modality in ("ctace", "debtace"):
        f = _finding(result.option(modality), "embolization.chemo_vs_bland")
        assert f.effect is Effect.FAVOURS
    assert "embolization.chemo_vs_bland" not in {f.rule_id for f in result.option("tae").findings}


def test_findings_sorted_worst_first(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "ctace",
        liver__portal_vein_thrombosis=True,
        labs__inr=1.9,
        history__contrast_allergy="mild",
    )
    order = [f.effect for f in opt.findings]
    rank = [
        Effect.CONTRAINDICATION,
        Effect.NOT_SUITABLE,
        Effect.RELATIVE_CONTRAINDICATION,
        Effect.CAUTION,
        Effect.REQUIREMENT,
        Effect.FAVOURS,
    ]
    assert order == sorted(order, key=rank.index)
    assert order[0] is Effect.CONTRAINDICATION


def test_messages_quote_the_value(assessor: Assessor) -> None:
    opt = _option(assessor, "tae", labs__platelets_10e9_per_l=15)
    msg = _finding(opt, "transarterial.platelets_access").message
    assert re.search(r"\b15\b", msg)
    assert "20" in msg
