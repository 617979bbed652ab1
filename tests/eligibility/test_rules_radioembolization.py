"""Radioembolization rules: resin and glass TARE, radiation segmentectomy.

The tables drive one trigger and one quiet test per row (and the coverage
meta-test); the explicit tests below pin the clinically decisive boundaries,
the lung-dose arithmetic and the verdicts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import DELETE, make_case
from netlm.eligibility import Assessor
from netlm.eligibility.profile import load_profile
from netlm.eligibility.result import Effect, Finding, ModalityOption, Verdict

LOBAR = ("tare_resin", "tare_glass")
SEG = "radiation_segmentectomy"
RADIO = (*LOBAR, SEG)

#: Independent statement of the lung-dose model: D [Gy] = C * A [GBq] * LSF / M_lung [kg].
DOSE_CONSTANT_GY_KG_PER_GBQ = 49.67
LUNG_MASS_KG = 1.0


def _burden(tumour_ml: float, liver_ml: float = 1000) -> dict[str, Any]:
    return {"liver__volume_ml": liver_ml, "liver__tumour_volume_ml": tumour_ml}


def _bili(value: float, unit: str = "mg/dL") -> dict[str, Any]:
    return {"labs__bilirubin": {"value": value, "unit": unit}}


def _ast(value: float, uln: float = 40) -> dict[str, Any]:
    return {"labs__ast": {"value": value, "unit": "U/L", "uln": uln}}


def _alt(value: float, uln: float = 40) -> dict[str, Any]:
    return {"labs__alt": {"value": value, "unit": "U/L", "uln": uln}}


def _prior(*treatments: dict[str, Any]) -> dict[str, Any]:
    return {"history__prior_treatments": list(treatments)}


def _lesions(*segments: int) -> dict[str, Any]:
    return {
        "liver__lesion_count": len(segments),
        "liver__lesions": [
            {"id": f"L{i}", "segment": s, "longest_diameter_mm": 15}
            for i, s in enumerate(segments, 1)
        ],
    }


BILOBAR = {"liver__distribution": "bilobar"}
G3 = {"tumour__ki67_percent": 25, "tumour__differentiation": "well"}
NO_LSF = {"workup__lung_shunt_fraction": DELETE}
STENT = {"history__biliary_intervention": ["plastic_stent"]}

TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("tare.liver_dominant", "tare_resin", {"tumour__extrahepatic_disease": "extensive"}),
    ("tare.liver_dominant", SEG, {"tumour__extrahepatic_disease": "extensive"}),
    ("segmentectomy.localized", SEG, {"liver__lesion_count": 4}),
    ("segmentectomy.localized", SEG, {"liver__lesion_count": "too_numerous"}),
    ("segmentectomy.localized", SEG, _lesions(2, 5, 6)),
    ("tare.ecog", "tare_resin", {"patient__ecog": 3}),
    ("tare.ecog", SEG, {"patient__ecog": 4}),
    ("tare.bilirubin", "tare_resin", _bili(2.01)),
    ("tare.bilirubin", "tare_glass", _bili(2.01)),
    ("tare.bilirubin", "tare_resin", _bili(34.4, "umol/L")),
    ("segmentectomy.bilirubin", SEG, _bili(2.01)),
    ("segmentectomy.bilirubin", SEG, _bili(2.99)),
    ("tare.bilirubin_hard", SEG, _bili(3.0)),
    ("tare.bilirubin_hard", "tare_resin", _bili(3.0)),
    ("tare.ast", "tare_resin", _ast(201)),
    ("tare.ast", SEG, _ast(201)),
    ("tare.alt", "tare_glass", _alt(201)),
    ("tare.involvement", "tare_resin", _burden(701)),
    ("tare.involvement", "tare_glass", {"liver__lesion_count": "too_numerous"}),
    (
        "tare.involvement_low_albumin",
        "tare_resin",
        {**_burden(510), "labs__albumin": {"value": 2.9, "unit": "g/dL"}},
    ),
    (
        "tare.involvement_low_albumin",
        "tare_glass",
        {**_burden(510), "labs__albumin": {"value": 29, "unit": "g/L"}},
    ),
    ("tare.collaterals", "tare_resin", {"workup__extrahepatic_collaterals": "unavoidable"}),
    ("tare.collaterals", SEG, {"workup__extrahepatic_collaterals": "unavoidable"}),
    ("tare.collaterals_coil", "tare_glass", {"workup__extrahepatic_collaterals": "coilable"}),
    ("tare.maa_workup", "tare_resin", NO_LSF),
    ("tare.maa_workup", SEG, NO_LSF),
    ("tare.resin_lsf", "tare_resin", {"workup__lung_shunt_fraction": 0.2001}),
    ("tare.resin_lsf_reduction", "tare_resin", {"workup__lung_shunt_fraction": 0.10}),
    ("tare.resin_lsf_reduction", "tare_resin", {"workup__lung_shunt_fraction": 0.15}),
    ("tare.resin_lsf_reduction", "tare_resin", {"workup__lung_shunt_fraction": 0.20}),
    ("tare.lung_dose", "tare_glass", {"workup__estimated_lung_dose_gy": 30.1}),
    (
        "tare.lung_dose",
        "tare_glass",
        {"workup__prior_lung_dose_gy": 25, "workup__estimated_lung_dose_gy": 25.1},
    ),
    (
        "tare.lung_dose",
        "tare_resin",
        {
            **_prior({"type": "tare", "lung_dose_gy": 25}),
            "workup__estimated_lung_dose_gy": 25.1,
        },
    ),
    ("tare.lung_dose_budget", "tare_resin", {}),
    ("tare.lung_dose_budget", "tare_glass", {"workup__lung_shunt_fraction": 0.25}),
    ("tare.biliary_dilatation", "tare_resin", {"liver__biliary_dilatation": True}),
    ("tare.ascites_encephalopathy", "tare_resin", {"liver__ascites": "mild"}),
    ("tare.ascites_encephalopathy", SEG, {"liver__encephalopathy": "grade_1_2"}),
    ("tare.creatinine", "tare_resin", {"labs__creatinine": {"value": 2.01, "unit": "mg/dL"}}),
    ("tare.platelets", "tare_resin", {"labs__platelets_10e9_per_l": 49.9}),
    ("tare.contrast_allergy", "tare_glass", {"history__contrast_allergy": "severe"}),
    ("tare.pulmonary_function", "tare_resin", {"patient__pulmonary_function": "compromised"}),
    ("tare.life_expectancy", "tare_resin", {"patient__life_expectancy_months": 2.9}),
    ("tare.bilobar_low_burden", "tare_resin", {**BILOBAR, **_burden(199)}),
    ("tare.reild_risk", "tare_resin", {"liver__chronic_liver_disease": True}),
    ("tare.reild_risk", SEG, _prior({"type": "chemotherapy"})),
    ("tare.portal_vein_thrombosis", "tare_resin", {"liver__portal_vein_thrombosis": True}),
    ("tare.portal_vein_thrombosis", SEG, {"liver__portal_vein_thrombosis": True}),
    ("tare.sequencing", "tare_resin", BILOBAR),
    ("tare.sequencing", "tare_glass", BILOBAR),
    ("tare.low_grade_bilobar", "tare_resin", BILOBAR),
    ("tare.low_grade_bilobar", "tare_glass", {**BILOBAR, "tumour__ki67_percent": 15}),
    ("tare.aggressive_or_after_tace", "tare_resin", _prior({"type": "ctace"})),
    ("tare.aggressive_or_after_tace", "tare_glass", G3),
    (
        "tare.biliary_instrumentation",
        "tare_resin",
        {"history__biliary_intervention": "sphincterotomy"},
    ),
    ("tare.biliary_instrumentation", "tare_glass", STENT),
    ("tare.glass_biliary_infection", "tare_glass", STENT),
    ("tare.retreatment", "tare_resin", _prior({"type": "tare", "territory": "right_lobe"})),
    ("tare.retreatment", SEG, _prior({"type": "tare"})),
    ("tare.after_prrt", "tare_resin", _prior({"type": "prrt", "cycles": 4})),
    ("tare.after_prrt", SEG, _prior({"type": "prrt_intraarterial"})),
    (
        "tare.hypovascular",
        "tare_resin",
        {"liver__lesions": [{"id": "L1", "segment": 6, "enhancement": "hypovascular"}]},
    ),
    ("segmentectomy.selective", SEG, {}),
    ("segmentectomy.selective", SEG, _lesions(5, 6, 6)),
]

QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("tare.liver_dominant", "tare_resin", {}),
    ("tare.liver_dominant", "tare_resin", {"tumour__extrahepatic_disease": "limited"}),
    ("segmentectomy.localized", SEG, {}),
    ("segmentectomy.localized", SEG, _lesions(5, 6, 6)),
    ("tare.ecog", "tare_resin", {"patient__ecog": 2}),
    ("tare.bilirubin", "tare_resin", _bili(2.0)),
    ("tare.bilirubin", "tare_glass", _bili(2.0)),
    ("tare.bilirubin", "tare_resin", _bili(34.2, "umol/L")),  # = 2.0 mg/dL
    ("tare.bilirubin", SEG, _bili(2.5)),  # lobar rule only
    ("segmentectomy.bilirubin", SEG, _bili(2.0)),
    ("segmentectomy.bilirubin", SEG, _bili(3.0)),
    ("tare.bilirubin_hard", SEG, _bili(2.99)),
    ("tare.ast", "tare_resin", _ast(200)),
    ("tare.alt", "tare_glass", _alt(200)),
    ("tare.involvement", "tare_resin", _burden(700)),
    ("tare.involvement", SEG, _burden(701)),  # lobar rule only
    (
        "tare.involvement_low_albumin",
        "tare_resin",
        {**_burden(510), "labs__albumin": {"value": 3.0, "unit": "g/dL"}},
    ),
    (
        "tare.involvement_low_albumin",
        "tare_resin",
        {**_burden(500), "labs__albumin": {"value": 2.9, "unit": "g/dL"}},
    ),
    ("tare.collaterals", "tare_resin", {"workup__extrahepatic_collaterals": "coilable"}),
    ("tare.collaterals_coil", "tare_glass", {}),
    ("tare.collaterals_coil", "tare_glass", {"workup__extrahepatic_collaterals": "unavoidable"}),
    ("tare.maa_workup", "tare_resin", {}),
    ("tare.resin_lsf", "tare_resin", {"workup__lung_shunt_fraction": 0.20}),
    ("tare.resin_lsf", "tare_glass", {"workup__lung_shunt_fraction": 0.25}),
    ("tare.resin_lsf_reduction", "tare_resin", {"workup__lung_shunt_fraction": 0.0999}),
    ("tare.resin_lsf_reduction", "tare_resin", {"workup__lung_shunt_fraction": 0.2001}),
    ("tare.resin_lsf_reduction", "tare_glass", {"workup__lung_shunt_fraction": 0.15}),
    ("tare.lung_dose", "tare_glass", {"workup__estimated_lung_dose_gy": 30}),
    (
        "tare.lung_dose",
        "tare_glass",
        {"workup__prior_lung_dose_gy": 25, "workup__estimated_lung_dose_gy": 25},
    ),
    ("tare.lung_dose", "tare_glass", {"workup__lung_shunt_fraction": 0.25}),
    ("tare.lung_dose_budget", "tare_resin", {"workup__estimated_lung_dose_gy": 10}),
    ("tare.lung_dose_budget", "tare_resin", NO_LSF),
    ("tare.lung_dose_budget", "tare_resin", {"workup__lung_shunt_fraction": 0}),
    ("tare.biliary_dilatation", "tare_resin", {}),
    ("tare.ascites_encephalopathy", "tare_resin", {}),
    ("tare.creatinine", "tare_resin", {"labs__creatinine": {"value": 2.0, "unit": "mg/dL"}}),
    ("tare.platelets", "tare_resin", {"labs__platelets_10e9_per_l": 50}),
    ("tare.contrast_allergy", "tare_glass", {"history__contrast_allergy": "mild"}),
    ("tare.pulmonary_function", "tare_resin", {}),
    ("tare.life_expectancy", "tare_resin", {"patient__life_expectancy_months": 3}),
    ("tare.life_expectancy", "tare_resin", {"patient__life_expectancy_months": DELETE}),
    ("tare.bilobar_low_burden", "tare_resin", {**BILOBAR, **_burden(200)}),
    ("tare.bilobar_low_burden", "tare_resin", _burden(199)),  # unilobar
    ("tare.reild_risk", "tare_resin", {}),
    ("tare.reild_risk", "tare_resin", _prior({"type": "ssa"})),
    ("tare.portal_vein_thrombosis", "tare_resin", {}),
    ("tare.sequencing", "tare_resin", {}),
    ("tare.sequencing", SEG, BILOBAR),  # lobar rule only
    ("tare.low_grade_bilobar", "tare_resin", {}),
    ("tare.low_grade_bilobar", "tare_resin", {**BILOBAR, **G3}),
    ("tare.aggressive_or_after_tace", "tare_resin", {}),
    ("tare.aggressive_or_after_tace", "tare_resin", _prior({"type": "tare"})),
    ("tare.aggressive_or_after_tace", "tare_resin", {"tumour__ki67_percent": 20}),
    ("tare.biliary_instrumentation", "tare_resin", {}),
    ("tare.glass_biliary_infection", "tare_resin", STENT),
    ("tare.glass_biliary_infection", "tare_glass", {}),
    ("tare.retreatment", "tare_resin", {}),
    ("tare.retreatment", "tare_resin", _prior({"type": "tae"})),
    ("tare.after_prrt", "tare_resin", {}),
    ("tare.after_prrt", "tare_resin", _prior({"type": "ssa"})),
    (
        "tare.hypovascular",
        "tare_resin",
        {"liver__lesions": [{"id": "L1", "segment": 6, "enhancement": "isovascular"}]},
    ),
    ("tare.hypovascular", "tare_resin", {}),
    ("segmentectomy.selective", SEG, {"liver__lesion_count": 4}),
    ("segmentectomy.selective", SEG, {"liver__lesion_count": "too_numerous"}),
]


# --------------------------------------------------------------------------- helpers
def _option(assessor: Assessor, modality: str, **changes: Any) -> ModalityOption:
    return assessor.assess(make_case(**changes)).option(modality)


def _finding(option: ModalityOption, rule_id: str) -> Finding:
    matches = [f for f in option.findings if f.rule_id == rule_id]
    assert len(matches) == 1, f"{rule_id} not (exactly once) in {option.findings}"
    return matches[0]


def _ids(option: ModalityOption) -> set[str]:
    return {f.rule_id for f in option.findings}


@pytest.fixture(scope="module")
def centre_assessor(tmp_path_factory: pytest.TempPathFactory) -> Assessor:
    """A centre profile that adopts the seed-001 TARE bilirubin limit (3 mg/dL)."""
    path: Path = tmp_path_factory.mktemp("profile") / "centre.yaml"
    path.write_text(
        "schema: netlm/rule-profile/v1\n"
        "id: centre\n"
        "name: x\n"
        'version: "1"\n'
        "extends: default\n"
        "parameters: {tare_bilirubin_limit_mg_dl: 3.0}\n",
        encoding="utf-8",
    )
    return Assessor(load_profile(path))


# --------------------------------------------------------------------------- baseline
@pytest.mark.parametrize("modality", RADIO)
def test_base_case_is_eligible_for_radioembolization(assessor: Assessor, modality: str) -> None:
    assert _option(assessor, modality).verdict is Verdict.ELIGIBLE


# --------------------------------------------------------------------------- bilirubin
@pytest.mark.parametrize("modality", LOBAR)
def test_lobar_tare_bilirubin_2_is_allowed(assessor: Assessor, modality: str) -> None:
    opt = _option(assessor, modality, **_bili(2.0))
    assert opt.verdict is Verdict.ELIGIBLE
    assert "tare.bilirubin" not in _ids(opt)


@pytest.mark.parametrize("modality", LOBAR)
def test_lobar_tare_bilirubin_above_2_contraindicates(assessor: Assessor, modality: str) -> None:
    opt = _option(assessor, modality, **_bili(2.01))
    f = _finding(opt, "tare.bilirubin")
    assert f.effect is Effect.CONTRAINDICATION
    assert f.parameters == {"tare_bilirubin_limit_mg_dl": 2.0}
    assert opt.verdict is Verdict.CONTRAINDICATED


@pytest.mark.parametrize("bilirubin", [2.01, 2.5, 2.99])
def test_segmentectomy_bilirubin_2_to_3_is_only_a_caution(
    assessor: Assessor, bilirubin: float
) -> None:
    result = assessor.assess(make_case(**_bili(bilirubin)))
    seg = result.option(SEG)
    assert seg.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert _finding(seg, "segmentectomy.bilirubin").effect is Effect.CAUTION
    assert "tare.bilirubin_hard" not in _ids(seg)
    for modality in LOBAR:
        assert result.option(modality).verdict is Verdict.CONTRAINDICATED


@pytest.mark.parametrize("bilirubin", [3.0, 4.5])
def test_bilirubin_3_contraindicates_every_radioembolization(
    assessor: Assessor, bilirubin: float
) -> None:
    result = assessor.assess(make_case(**_bili(bilirubin)))
    for modality in RADIO:
        opt = result.option(modality)
        assert opt.verdict is Verdict.CONTRAINDICATED, modality
        assert "tare.bilirubin_hard" in _ids(opt), modality
    assert "segmentectomy.bilirubin" not in _ids(result.option(SEG))


def test_segmentectomy_bilirubin_2_is_plainly_eligible(assessor: Assessor) -> None:
    opt = _option(assessor, SEG, **_bili(2.0))
    assert opt.verdict is Verdict.ELIGIBLE


def test_tare_bilirubin_in_umol_per_l(assessor: Assessor) -> None:
    # 34.2 µmol/L = 2.0 mg/dL (allowed), 34.4 µmol/L = 2.012 mg/dL (excluded)
    assert _option(assessor, "tare_resin", **_bili(34.2, "µmol/L")).verdict is Verdict.ELIGIBLE
    high = _option(assessor, "tare_resin", **_bili(34.4, "µmol/L"))
    assert high.verdict is Verdict.CONTRAINDICATED


def test_tare_hard_bilirubin_limit_given_in_umol_per_l(assessor: Assessor) -> None:
    opt = _option(assessor, SEG, **_bili(51.3, "µmol/L"))
    assert "tare.bilirubin_hard" in _ids(opt)
    assert opt.verdict is Verdict.CONTRAINDICATED


def test_centre_profile_raises_the_tare_bilirubin_limit(centre_assessor: Assessor) -> None:
    result = centre_assessor.assess(make_case(**_bili(2.5)))
    resin = result.option("tare_resin")
    assert "tare.bilirubin" not in _ids(resin)
    assert resin.verdict is Verdict.ELIGIBLE
    # no "only because highly selective" caution either: 2.5 is within the centre's limit
    assert "segmentectomy.bilirubin" not in _ids(result.option(SEG))
    assert result.provenance.profile.id == "centre"


def test_centre_profile_reports_its_limit_in_the_finding(centre_assessor: Assessor) -> None:
    result = centre_assessor.assess(make_case(**_bili(3.2)))
    f = _finding(result.option("tare_resin"), "tare.bilirubin")
    assert f.parameters == {"tare_bilirubin_limit_mg_dl": 3.0}
    assert "> 3" in f.message
    assert result.provenance.profile.id == "centre"
    assert result.provenance.profile.digest != Assessor().profile.digest


def test_centre_profile_still_contraindicates_at_3(centre_assessor: Assessor) -> None:
    # the seed-001 limit is inclusive: bilirubin >= 3 mg/dL
    opt = centre_assessor.assess(make_case(**_bili(3.0))).option("tare_resin")
    assert opt.verdict is Verdict.CONTRAINDICATED


def test_default_profile_is_named_in_provenance(assessor: Assessor) -> None:
    assert assessor.assess(make_case()).provenance.profile.id == "default"


def test_missing_bilirubin_needs_information_for_tare(assessor: Assessor) -> None:
    result = assessor.assess(make_case(labs__bilirubin=DELETE))
    for modality in RADIO:
        opt = result.option(modality)
        assert opt.verdict is Verdict.NEEDS_INFORMATION, modality
        assert "labs.bilirubin" in opt.missing_information, modality
        assert opt.provisional_verdict is Verdict.ELIGIBLE


# --------------------------------------------------------------------------- transaminases
@pytest.mark.parametrize(("lab", "which"), [(_ast, "tare.ast"), (_alt, "tare.alt")])
@pytest.mark.parametrize(
    ("value", "uln", "fires"),
    [(200, 40, False), (201, 40, True), (150, 30, False), (150.3, 30, True)],
)
def test_transaminase_5_x_uln(
    assessor: Assessor, lab: Any, which: str, value: float, uln: float, fires: bool
) -> None:
    opt = _option(assessor, "tare_resin", **lab(value, uln))
    assert (which in _ids(opt)) is fires
    assert opt.verdict is (Verdict.CONTRAINDICATED if fires else Verdict.ELIGIBLE)


def test_transaminase_without_uln_needs_information(assessor: Assessor) -> None:
    opt = _option(assessor, "tare_resin", labs__ast={"value": 100, "unit": "U/L"})
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "labs.ast.uln" in opt.missing_information


# --------------------------------------------------------------------------- tumour burden
@pytest.mark.parametrize("modality", LOBAR)
def test_involvement_70_allowed_70_1_contraindicated(assessor: Assessor, modality: str) -> None:
    at = _option(assessor, modality, **_burden(700))
    assert "tare.involvement" not in _ids(at)
    assert at.verdict is Verdict.ELIGIBLE
    above = _option(assessor, modality, **_burden(701))
    f = _finding(above, "tare.involvement")
    assert "70.1 %" in f.message
    assert above.verdict is Verdict.CONTRAINDICATED


def test_involvement_limit_does_not_apply_to_segmentectomy(assessor: Assessor) -> None:
    assert _option(assessor, SEG, **_burden(701)).verdict is Verdict.ELIGIBLE


def test_too_numerous_nodules_contraindicate_lobar_tare(assessor: Assessor) -> None:
    result = assessor.assess(make_case(liver__lesion_count="too_numerous"))
    for modality in LOBAR:
        opt = result.option(modality)
        assert opt.verdict is Verdict.CONTRAINDICATED
        assert "too numerous" in _finding(opt, "tare.involvement").message
    assert result.option(SEG).verdict is Verdict.NOT_SUITABLE


@pytest.mark.parametrize(
    ("tumour_ml", "albumin", "fires"),
    [
        (510, 2.9, True),
        (510, 3.0, False),
        (500, 2.9, False),  # exactly 50 %: not above
        (501, 2.99, True),
        (300, 2.0, False),
    ],
)
def test_involvement_over_50_with_low_albumin(
    assessor: Assessor, tumour_ml: float, albumin: float, fires: bool
) -> None:
    opt = _option(
        assessor,
        "tare_resin",
        **_burden(tumour_ml),
        labs__albumin={"value": albumin, "unit": "g/dL"},
    )
    assert ("tare.involvement_low_albumin" in _ids(opt)) is fires
    if fires:
        assert opt.verdict is Verdict.CONTRAINDICATED


def test_low_albumin_matters_only_when_burden_over_50(assessor: Assessor) -> None:
    # albumin is not needed to decide when the burden is at most 50 %
    low = _option(assessor, "tare_resin", **_burden(500), labs__albumin=DELETE)
    assert "labs.albumin" not in low.missing_information
    high = _option(assessor, "tare_resin", **_burden(510), labs__albumin=DELETE)
    assert high.verdict is Verdict.NEEDS_INFORMATION
    assert "labs.albumin" in high.missing_information


@pytest.mark.parametrize(("tumour_ml", "fires"), [(199, True), (200, False), (300, False)])
def test_bilobar_treatment_with_burden_under_20(
    assessor: Assessor, tumour_ml: float, fires: bool
) -> None:
    opt = _option(assessor, "tare_resin", **BILOBAR, **_burden(tumour_ml))
    assert ("tare.bilobar_low_burden" in _ids(opt)) is fires
    if fires:
        f = _finding(opt, "tare.bilobar_low_burden")
        assert f.effect is Effect.RELATIVE_CONTRAINDICATION
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


# --------------------------------------------------------------------------- lung shunt / dose
@pytest.mark.parametrize(
    ("lsf", "reduction", "contraindicated"),
    [
        (0.05, None, False),
        (0.0999, None, False),
        (0.10, 20, False),
        (0.1499, 20, False),
        (0.15, 40, False),
        (0.20, 40, False),
        (0.2001, None, True),
        (0.30, None, True),
    ],
)
def test_resin_lsf_tiers(
    assessor: Assessor, lsf: float, reduction: int | None, contraindicated: bool
) -> None:
    opt = _option(assessor, "tare_resin", workup__lung_shunt_fraction=lsf)
    found = [f for f in opt.findings if f.rule_id == "tare.resin_lsf_reduction"]
    if reduction is None:
        assert not found
    else:
        assert len(found) == 1
        assert found[0].effect is Effect.CAUTION
        assert f"by {reduction} %" in found[0].message
    assert ("tare.resin_lsf" in _ids(opt)) is contraindicated
    if contraindicated:
        expected = Verdict.CONTRAINDICATED
    elif reduction is not None:
        expected = Verdict.ELIGIBLE_WITH_CAUTION
    else:
        expected = Verdict.ELIGIBLE
    assert opt.verdict is expected


def test_glass_not_contraindicated_by_lsf_alone(assessor: Assessor) -> None:
    opt = _option(assessor, "tare_glass", workup__lung_shunt_fraction=0.25)
    # Issue #10: seed 001 (LSF > 20 %) and the glass lung-dose limit disagree: a caution.
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "tare.glass_lsf_conflict" in _ids(opt)
    assert not _ids(opt) & {"tare.resin_lsf", "tare.resin_lsf_reduction", "tare.lung_dose"}
    # resin with the same shunt is contraindicated
    resin = _option(assessor, "tare_resin", workup__lung_shunt_fraction=0.25)
    assert resin.verdict is Verdict.CONTRAINDICATED


@pytest.mark.parametrize(("dose", "fires"), [(30, False), (30.1, True)])
@pytest.mark.parametrize("modality", RADIO)
def test_single_treatment_lung_dose_limit(
    assessor: Assessor, modality: str, dose: float, fires: bool
) -> None:
    opt = _option(
        assessor,
        modality,
        workup__lung_shunt_fraction=0.25 if modality == "tare_glass" else 0.05,
        workup__estimated_lung_dose_gy=dose,
    )
    assert ("tare.lung_dose" in _ids(opt)) is fires
    # glass at LSF 25 % also carries the seed-001 conflict caution (issue #10)
    quiet = Verdict.ELIGIBLE_WITH_CAUTION if modality == "tare_glass" else Verdict.ELIGIBLE
    assert opt.verdict is (Verdict.CONTRAINDICATED if fires else quiet)


@pytest.mark.parametrize(
    ("prior", "estimated", "fires"),
    [(25, 25.1, True), (25, 25, False), (0, 30, False), (45, 5.1, True), (20, 30, False)],
)
def test_cumulative_lung_dose_limit(
    assessor: Assessor, prior: float, estimated: float, fires: bool
) -> None:
    opt = _option(
        assessor,
        "tare_glass",
        workup__prior_lung_dose_gy=prior,
        workup__estimated_lung_dose_gy=estimated,
    )
    assert ("tare.lung_dose" in _ids(opt)) is fires
    if fires:
        assert "cumulative" in _finding(opt, "tare.lung_dose").message
        assert opt.verdict is Verdict.CONTRAINDICATED


def test_cumulative_lung_dose_counts_recorded_prior_tare(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tare_glass",
        history__prior_treatments=[
            {"type": "tare", "territory": "right_lobe", "lung_dose_gy": 15},
            {"type": "tare", "territory": "left_lobe", "lung_dose_gy": 10},
        ],
        workup__estimated_lung_dose_gy=25.1,
    )
    assert "tare.lung_dose" in _ids(opt)


@pytest.mark.parametrize(("unlisted", "fires"), [(0.0, False), (0.1, True)])
def test_cumulative_lung_dose_sums_listed_and_unlisted_sessions(
    assessor: Assessor, unlisted: float, fires: bool
) -> None:
    """Listed sessions (15 + 10 Gy) PLUS prior_lung_dose_gy (sessions not listed), as the
    planner counts them (issue #11): 25 + 25 + unlisted > 50 Gy fires at 0.1 Gy;
    max() of the two sources, as before, gave 25 + 25 and never fired."""
    opt = _option(
        assessor,
        "tare_glass",
        history__prior_treatments=[
            {"type": "tare", "territory": "right_lobe", "lung_dose_gy": 15},
            {"type": "tare", "territory": "left_lobe", "lung_dose_gy": 10},
        ],
        workup__prior_lung_dose_gy=unlisted,
        workup__estimated_lung_dose_gy=25,
    )
    assert ("tare.lung_dose" in _ids(opt)) is fires


def test_prior_tare_without_lung_dose_is_not_zero_gy(assessor: Assessor) -> None:
    """A listed TARE session with no lung dose (and no activity + LSF) cannot count as 0 Gy."""
    opt = _option(
        assessor,
        "tare_glass",
        history__prior_treatments=[{"type": "tare", "territory": "right_lobe"}],
        workup__estimated_lung_dose_gy=25,
    )
    assert opt.verdict is Verdict.NEEDS_INFORMATION
    assert "history.prior_treatments[0].lung_dose_gy" in opt.missing_information


@pytest.mark.parametrize(("activity_gbq", "fires"), [(2.0, False), (2.1, True)])
def test_prior_tare_lung_dose_estimated_from_activity_and_lsf(
    assessor: Assessor, activity_gbq: float, fires: bool
) -> None:
    """Estimate C·A·LSF/1 kg: 49.67 · A · 0.2 = 19.87 Gy at 2.0 GBq, 20.86 Gy at 2.1 GBq;
    with 30 Gy planned the 50 Gy cumulative limit is crossed only by the second."""
    opt = _option(
        assessor,
        "tare_glass",
        history__prior_treatments=[
            {
                "type": "tare",
                "territory": "right_lobe",
                "activity_gbq": activity_gbq,
                "lung_shunt_fraction": 0.2,
            }
        ],
        workup__estimated_lung_dose_gy=30,
    )
    assert ("tare.lung_dose" in _ids(opt)) is fires
    assert opt.verdict is not Verdict.NEEDS_INFORMATION


def _budget_gbq(message: str) -> float:
    match = re.search(r"at most ([0-9.]+) GBq", message)
    assert match, message
    return float(match.group(1))


@pytest.mark.parametrize("lsf", [0.02, 0.05, 0.1234, 0.25, 0.6])
def test_lung_dose_budget_max_activity(assessor: Assessor, lsf: float) -> None:
    opt = _option(assessor, "tare_glass", workup__lung_shunt_fraction=lsf)
    f = _finding(opt, "tare.lung_dose_budget")
    assert f.effect is Effect.REQUIREMENT
    expected = 30 * LUNG_MASS_KG / (DOSE_CONSTANT_GY_KG_PER_GBQ * lsf)
    shown = _budget_gbq(f.message)
    # printed to 4 significant digits: within half a unit of the last digit
    assert shown == pytest.approx(expected, rel=5.1e-4)
    assert "<= 30 Gy" in f.message


def test_lung_dose_budget_after_prior_lung_dose(assessor: Assessor) -> None:
    lsf = 0.05
    opt = _option(
        assessor,
        "tare_glass",
        workup__lung_shunt_fraction=lsf,
        workup__prior_lung_dose_gy=25,
    )
    f = _finding(opt, "tare.lung_dose_budget")
    # 50 Gy cumulative - 25 Gy received = 25 Gy left (< 30 Gy single limit)
    expected = 25 * LUNG_MASS_KG / (DOSE_CONSTANT_GY_KG_PER_GBQ * lsf)
    assert _budget_gbq(f.message) == pytest.approx(expected, rel=5.1e-4)
    assert "<= 25 Gy" in f.message


def test_lung_dose_budget_exhausted(assessor: Assessor) -> None:
    opt = _option(assessor, "tare_resin", workup__prior_lung_dose_gy=50)
    assert "no lung dose budget" in _finding(opt, "tare.lung_dose_budget").message


def test_lung_dose_budget_notes_planar_overestimate(assessor: Assessor) -> None:
    planar = _option(assessor, "tare_resin", workup__lung_shunt_method="planar")
    assert "planar" in _finding(planar, "tare.lung_dose_budget").message
    spect = _option(assessor, "tare_resin")
    assert "planar" not in _finding(spect, "tare.lung_dose_budget").message


def test_missing_lsf_is_a_workup_step_not_missing_information(assessor: Assessor) -> None:
    result = assessor.assess(make_case(**NO_LSF))
    for modality in RADIO:
        opt = result.option(modality)
        assert opt.verdict is Verdict.ELIGIBLE, modality
        assert _finding(opt, "tare.maa_workup").effect is Effect.REQUIREMENT
        assert not opt.missing_information
    items = {w.id: w for w in result.workup}
    assert "maa_angiography" in items
    assert set(items["maa_angiography"].for_modalities) == set(RADIO)


# --------------------------------------------------------------------------- after work-up
def test_unavoidable_collaterals_contraindicate(assessor: Assessor) -> None:
    result = assessor.assess(make_case(workup__extrahepatic_collaterals="unavoidable"))
    for modality in RADIO:
        assert result.option(modality).verdict is Verdict.CONTRAINDICATED


def test_coilable_collaterals_are_a_requirement(assessor: Assessor) -> None:
    opt = _option(assessor, "tare_resin", workup__extrahepatic_collaterals="coilable")
    assert _finding(opt, "tare.collaterals_coil").effect is Effect.REQUIREMENT
    assert opt.verdict is Verdict.ELIGIBLE


# --------------------------------------------------------------------------- relative
@pytest.mark.parametrize(
    "changes",
    [
        {"liver__ascites": "mild"},
        {"liver__encephalopathy": "grade_1_2"},
        {"labs__creatinine": {"value": 2.1, "unit": "mg/dL"}},
        {"labs__platelets_10e9_per_l": 49},
        {"history__contrast_allergy": "severe"},
        {"patient__pulmonary_function": "compromised"},
        {"patient__life_expectancy_months": 2},
    ],
)
def test_relative_contraindications_lower_to_caution(
    assessor: Assessor, changes: dict[str, Any]
) -> None:
    opt = _option(assessor, "tare_resin", **changes)
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert any(f.effect is Effect.RELATIVE_CONTRAINDICATION for f in opt.findings)


@pytest.mark.parametrize(
    ("value", "unit", "fires"),
    [(2.0, "mg/dL", False), (176.8, "umol/L", False), (177, "umol/L", True)],
)
def test_creatinine_2_mg_dl_boundary(
    assessor: Assessor, value: float, unit: str, fires: bool
) -> None:
    # 176.8 µmol/L = 2.0 mg/dL (88.4 µmol/L per mg/dL): not above the limit
    opt = _option(assessor, "tare_resin", labs__creatinine={"value": value, "unit": unit})
    assert ("tare.creatinine" in _ids(opt)) is fires


def test_ecog_above_2_contraindicates(assessor: Assessor) -> None:
    assert _option(assessor, "tare_glass", patient__ecog=2).verdict is Verdict.ELIGIBLE
    assert _option(assessor, "tare_glass", patient__ecog=3).verdict is Verdict.CONTRAINDICATED


def test_extensive_extrahepatic_disease_is_not_liver_dominant(assessor: Assessor) -> None:
    result = assessor.assess(make_case(tumour__extrahepatic_disease="extensive"))
    for modality in RADIO:
        assert result.option(modality).verdict is Verdict.NOT_SUITABLE


# --------------------------------------------------------------------------- segmentectomy
@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        (_lesions(5, 6, 6), Verdict.ELIGIBLE),  # 3 lesions, 2 segments
        (_lesions(5, 6, 7), Verdict.NOT_SUITABLE),  # 3 segments
        (_lesions(2, 3, 5, 6), Verdict.NOT_SUITABLE),  # 4 lesions
        ({"liver__lesion_count": 2}, Verdict.NEEDS_INFORMATION),  # one of two listed
    ],
)
def test_segmentectomy_needs_localized_disease(
    assessor: Assessor, changes: dict[str, Any], verdict: Verdict
) -> None:
    opt = _option(assessor, SEG, **changes)
    assert opt.verdict is verdict
    if verdict is Verdict.ELIGIBLE:
        assert _finding(opt, "segmentectomy.selective").effect is Effect.FAVOURS


# --------------------------------------------------------------------------- preferences
def test_low_grade_bilobar_disease(assessor: Assessor) -> None:
    result = assessor.assess(make_case(**BILOBAR))
    for modality in LOBAR:
        opt = result.option(modality)
        assert _finding(opt, "tare.low_grade_bilobar").effect is Effect.CAUTION
        seq = _finding(opt, "tare.sequencing")
        assert seq.effect is Effect.REQUIREMENT
        assert "one lobe at a time" in seq.message
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    seg = result.option(SEG)
    assert not _ids(seg) & {"tare.low_grade_bilobar", "tare.sequencing"}


def test_high_grade_bilobar_disease_has_no_chronic_toxicity_caution(assessor: Assessor) -> None:
    opt = _option(assessor, "tare_resin", **BILOBAR, **G3)
    assert "tare.low_grade_bilobar" not in _ids(opt)
    assert "tare.sequencing" in _ids(opt)
    assert _finding(opt, "tare.aggressive_or_after_tace").effect is Effect.FAVOURS


def test_prior_tare_is_a_relative_contraindication_to_retreatment(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tare_resin",
        **_prior(
            {"type": "tare", "territory": "right_lobe", "liver_dose_gy": 120, "lung_dose_gy": 5}
        ),
    )
    f = _finding(opt, "tare.retreatment")
    assert f.effect is Effect.RELATIVE_CONTRAINDICATION
    assert "right_lobe" in f.message
    assert "120 Gy" in f.message
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_prior_prrt_is_a_caution(assessor: Assessor) -> None:
    result = assessor.assess(make_case(**_prior({"type": "prrt", "cycles": 4})))
    for modality in RADIO:
        opt = result.option(modality)
        f = _finding(opt, "tare.after_prrt")
        assert f.effect is Effect.CAUTION
        assert "4 cycle" in f.message
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "whole-liver" in _finding(result.option("tare_resin"), "tare.after_prrt").message
    assert "whole-liver" not in _finding(result.option(SEG), "tare.after_prrt").message


def test_prior_tace_favours_tare(assessor: Assessor) -> None:
    opt = _option(assessor, "tare_resin", **_prior({"type": "debtace"}))
    assert "prior TAE/TACE" in _finding(opt, "tare.aggressive_or_after_tace").message
    assert opt.verdict is Verdict.ELIGIBLE


def test_reild_risk_caution(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tare_glass",
        liver__chronic_liver_disease=True,
        **_prior({"type": "chemotherapy"}),
    )
    f = _finding(opt, "tare.reild_risk")
    assert "pre-existing liver disease" in f.message
    assert "prior chemotherapy" in f.message
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_hypovascular_lesion_is_named(assessor: Assessor) -> None:
    opt = _option(
        assessor,
        "tare_resin",
        liver__lesions=[{"id": "M7", "segment": 6, "enhancement": "hypovascular"}],
    )
    assert "M7" in _finding(opt, "tare.hypovascular").message
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_biliary_dilatation_contraindicates(assessor: Assessor) -> None:
    result = assessor.assess(make_case(liver__biliary_dilatation=True))
    for modality in RADIO:
        assert result.option(modality).verdict is Verdict.CONTRAINDICATED
