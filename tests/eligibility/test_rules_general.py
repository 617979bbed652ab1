"""Rules shared by many modalities (issue #10): liver reserve, carcinoma, pregnancy,
surgery first, performance status, PRRT indication and haematology, remnant, and
the seed conflicts (bilirubin 2 vs 3 mg/dL, glass LSF, portal vein thrombosis).

Child-Pugh points (eligibility.md): bilirubin < 2 / 2-3 / > 3 mg/dL; albumin
> 3.5 / 2.8-3.5 / < 2.8 g/dL; INR < 1.7 / 1.7-2.3 / > 2.3; ascites none / mild /
moderate-severe; encephalopathy none / 1-2 / 3-4.  A 5-6, B 7-9, C 10-15.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DELETE, make_case
from netlm.eligibility import Assessor, Effect, Modality, ModalityOption, Verdict
from netlm.eligibility.result import ABLATION, EMBOLIZATION, RADIOEMBOLIZATION, Finding


def labs(bilirubin: float, albumin: float, inr: float) -> dict[str, Any]:
    return {
        "labs__bilirubin": {"value": bilirubin, "unit": "mg/dL", "uln": 1.2},
        "labs__albumin": {"value": albumin, "unit": "g/dL"},
        "labs__inr": inr,
    }


#: Child-Pugh C11: bilirubin 3.5 (3) + albumin 2.5 (3) + INR 2.4 (3) + none + none.
CP_C11 = labs(3.5, 2.5, 2.4)
#: Child-Pugh C10 with normal bilirubin: 1 + albumin 2.5 (3) + INR 2.4 (3) + mild ascites (2)
#: + encephalopathy none (1).
CP_C10_NORMAL_BILI = {**labs(0.8, 2.5, 2.4), "liver__ascites": "mild"}
#: Child-Pugh B8: bilirubin 2.5 (2) + albumin 3.0 (2) + INR 1.8 (2) + none + none.
CP_B8 = labs(2.5, 3.0, 1.8)
#: Child-Pugh A6: albumin 3.0 (2), the rest normal.
CP_A6 = labs(0.8, 3.0, 1.0)
HE_3_4 = {"liver__encephalopathy": "grade_3_4"}
HE_1_2 = {"liver__encephalopathy": "grade_1_2"}
ASCITES_SEVERE = {"liver__ascites": "moderate_severe"}
ASCITES_MILD = {"liver__ascites": "mild"}
NEC = {"tumour__differentiation": "poor", "tumour__ki67_percent": 60}
PREGNANT = {"patient__pregnant": True}
STABLE = {"tumour__liver_disease_course": "stable", "tumour__symptoms_refractory_to_ssa": False}
BILI_2_5 = {"labs__bilirubin": {"value": 2.5, "unit": "mg/dL", "uln": 1.2}}


def bili(value: float) -> dict[str, Any]:
    return {"labs__bilirubin": {"value": value, "unit": "mg/dL", "uln": 1.2}}


TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("liver.decompensated", "tae", HE_3_4),
    ("liver.decompensated", "ctace", CP_C10_NORMAL_BILI),
    ("liver.decompensated", "debtace", CP_C11),
    ("liver.decompensated", "resection", ASCITES_SEVERE),
    ("liver.decompensated", "ablation_rfa", CP_C11),
    ("liver.decompensated", "ablation_ire", HE_3_4),
    ("liver.decompensated", "tare_resin", HE_3_4),
    ("liver.decompensated", "tare_glass", CP_C10_NORMAL_BILI),
    ("liver.decompensated", "radiation_segmentectomy", ASCITES_SEVERE),
    ("liver.impaired", "resection", CP_B8),
    ("liver.impaired", "ablation_mwa", HE_1_2),
    ("liver.impaired", "tae", HE_1_2),
    ("liver.impaired", "resection", ASCITES_MILD),
    ("liver.prrt", "prrt", HE_3_4),
    ("liver.prrt", "prrt_intraarterial", ASCITES_SEVERE),
    ("carcinoma.systemic_therapy", "resection", NEC),
    ("carcinoma.systemic_therapy", "transplant", NEC),
    ("carcinoma.systemic_therapy", "ablation_rfa", NEC),
    ("carcinoma.systemic_therapy", "tae", NEC),
    ("carcinoma.systemic_therapy", "tare_resin", NEC),
    ("carcinoma.systemic_therapy", "radiation_segmentectomy", NEC),
    ("pregnancy.radiation", "tare_resin", PREGNANT),
    ("pregnancy.radiation", "tare_glass", PREGNANT),
    ("pregnancy.radiation", "radiation_segmentectomy", PREGNANT),
    ("pregnancy.radiation", "prrt", PREGNANT),
    ("pregnancy.radiation", "prrt_intraarterial", PREGNANT),
    ("pregnancy.procedure", "resection", PREGNANT),
    ("pregnancy.procedure", "ablation_mwa", PREGNANT),
    ("pregnancy.procedure", "ctace", PREGNANT),
    ("pregnancy.procedure", "tae", PREGNANT),
    ("preference.surgery_first", "tae", {}),
    ("preference.surgery_first", "tare_resin", {}),
    ("preference.surgery_first", "prrt", {}),
    ("embolization.ecog", "tae", {"patient__ecog": 3}),
    ("embolization.ecog", "debtace", {"patient__ecog": 4}),
    ("embolization.life_expectancy", "ctace", {"patient__life_expectancy_months": 2.9}),
    ("embolization.coagulopathy", "tare_resin", {"history__irreversible_coagulopathy": True}),
    (
        "embolization.coagulopathy",
        "radiation_segmentectomy",
        {"history__irreversible_coagulopathy": True},
    ),
    ("transarterial.bilirubin_conflict", "tae", BILI_2_5),
    ("transarterial.bilirubin_conflict", "tare_resin", bili(2.01)),
    ("transarterial.bilirubin_conflict", "radiation_segmentectomy", bili(2.99)),
    ("tare.glass_lsf_conflict", "tare_glass", {"workup__lung_shunt_fraction": 0.21}),
    ("prrt.indication", "prrt", STABLE),
    ("prrt.indication", "prrt_intraarterial", STABLE),
    ("prrt.leukocytes", "prrt", {"labs__leukocytes_10e9_per_l": 1.9}),
    ("prrt.performance", "prrt", {"patient__ecog": 3}),
    ("prrt.performance", "prrt_intraarterial", {"patient__life_expectancy_months": 2}),
    ("resection.future_liver_remnant", "resection", {"liver__future_liver_remnant_percent": 19.9}),
    (
        "resection.future_liver_remnant",
        "resection",
        {"liver__future_liver_remnant_percent": 39.9, "liver__chronic_liver_disease": True},
    ),
]

QUIET: list[tuple[str, str, dict[str, Any]]] = [
    ("liver.decompensated", "tae", {}),
    ("liver.decompensated", "resection", CP_B8),
    ("liver.decompensated", "ablation_rfa", HE_1_2),
    ("liver.decompensated", "tare_glass", ASCITES_MILD),
    ("liver.impaired", "resection", {}),
    ("liver.impaired", "resection", CP_A6),
    ("liver.impaired", "tae", ASCITES_MILD),  # embolization.ascites already says it
    ("liver.impaired", "ablation_mwa", HE_3_4),  # liver.decompensated says it
    ("liver.prrt", "prrt", ASCITES_MILD),
    ("liver.prrt", "prrt", {}),
    ("carcinoma.systemic_therapy", "tare_resin", {"tumour__ki67_percent": 25}),
    ("carcinoma.systemic_therapy", "resection", {}),
    ("pregnancy.radiation", "prrt", {"patient__pregnant": False}),
    ("pregnancy.radiation", "tare_resin", {}),
    ("pregnancy.procedure", "resection", {"patient__pregnant": False}),
    ("preference.surgery_first", "tae", {"liver__resectable_percent": 60}),
    (
        "preference.surgery_first",
        "tare_glass",
        {"tumour__extrahepatic_disease": "limited", "tumour__extrahepatic_resectable": True},
    ),
    ("preference.surgery_first", "prrt", {"liver__future_liver_remnant_percent": 15}),
    ("embolization.ecog", "tae", {"patient__ecog": 2}),
    ("embolization.life_expectancy", "ctace", {"patient__life_expectancy_months": 3}),
    ("embolization.life_expectancy", "ctace", {"patient__life_expectancy_months": DELETE}),
    ("embolization.coagulopathy", "tare_glass", {}),
    ("transarterial.bilirubin_conflict", "tare_resin", bili(2.0)),
    ("transarterial.bilirubin_conflict", "tae", bili(3.0)),
    ("tare.glass_lsf_conflict", "tare_glass", {"workup__lung_shunt_fraction": 0.20}),
    ("prrt.indication", "prrt", {**STABLE, "tumour__symptoms_refractory_to_ssa": True}),
    ("prrt.indication", "prrt", {}),
    ("prrt.leukocytes", "prrt", {"labs__leukocytes_10e9_per_l": 2.0}),
    ("prrt.leukocytes", "prrt", {}),
    ("prrt.performance", "prrt", {"patient__ecog": 2, "patient__life_expectancy_months": 3}),
    ("resection.future_liver_remnant", "resection", {"liver__future_liver_remnant_percent": 20}),
    (
        "resection.future_liver_remnant",
        "resection",
        {"liver__future_liver_remnant_percent": 40, "liver__chronic_liver_disease": True},
    ),
    (
        "resection.future_liver_remnant",
        "resection",
        {"liver__future_liver_remnant_percent": 30, "liver__chronic_liver_disease": False},
    ),
    ("resection.future_liver_remnant", "resection", {}),
]


def option(assessor: Assessor, modality: str, **changes: Any) -> ModalityOption:
    return assessor.assess(make_case(**changes)).option(modality)


def finding(opt: ModalityOption, rule_id: str) -> Finding:
    return next(f for f in opt.findings if f.rule_id == rule_id)


# --------------------------------------------------------------------------- liver reserve
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({**CP_B8, "labs__albumin": {"value": 2.7, "unit": "g/dL"}}, True),  # B9
        ({**CP_B8, "labs__albumin": {"value": 2.7, "unit": "g/dL"}, **HE_1_2}, True),  # C10
    ],
)
def test_child_pugh_boundary_9_vs_10(
    assessor: Assessor, changes: dict[str, Any], expected: bool
) -> None:
    result = assessor.assess(make_case(**changes))
    score = result.liver_function.child_pugh.score
    assert score in (9, 10)
    fired = "liver.decompensated" in {f.rule_id for f in result.option("resection").findings}
    assert fired is (score == 10)


@pytest.mark.parametrize("modality", ["tae", "ctace", "debtace", "resection", "ablation_mwa"])
def test_child_pugh_c12_with_grade_3_4_encephalopathy_is_contraindicated(
    assessor: Assessor, modality: str
) -> None:
    # bilirubin 2.5 (2) + albumin 2.5 (3) + INR 2.5 (3) + no ascites (1) + HE 3-4 (3) = C12
    opt = option(assessor, modality, **labs(2.5, 2.5, 2.5), **HE_3_4)
    assert opt.verdict is Verdict.CONTRAINDICATED
    msg = finding(opt, "liver.decompensated").message
    assert "Child-Pugh C12" in msg and "encephalopathy grade 3-4" in msg


def test_child_pugh_c_is_certain_even_with_a_missing_part(assessor: Assessor) -> None:
    # albumin missing: 3 + ? + 3 + 1 + 3 >= 11 whatever it is.
    changes = {**labs(3.5, 2.5, 2.5), **HE_3_4, "labs__albumin": DELETE}
    opt = option(assessor, "resection", **changes)
    assert "Child-Pugh >= 11" in finding(opt, "liver.decompensated").message


def test_missing_albumin_is_asked_only_when_it_could_matter(assessor: Assessor) -> None:
    # 1 + ? + 1 + 1 + 1: at most 7, never C - the decompensation rule does not ask for it
    opt = option(assessor, "resection", labs__albumin=DELETE)
    missing = {u.rule_id: u.fields for u in opt.unevaluated_rules}
    assert "liver.decompensated" not in missing
    # ... but Child-Pugh B is still possible, so the impairment rule asks.
    assert missing["liver.impaired"] == ("labs.albumin",)


def test_unrecorded_encephalopathy_is_asked_for_procedures(
    assessor: Assessor, ask_assessor: Assessor
) -> None:
    # missing_findings: ask -> the decompensation rule asks for it
    opt = option(ask_assessor, "ablation_rfa", liver__encephalopathy=DELETE)
    missing = {u.rule_id: u.fields for u in opt.unevaluated_rules}
    assert "liver.encephalopathy" in missing["liver.decompensated"]
    # default (assume_absent) -> assumed absent, listed, verdict unchanged
    opt = option(assessor, "ablation_rfa", liver__encephalopathy=DELETE)
    assert "liver.encephalopathy" in {a.field for a in opt.assumptions}
    assert opt.verdict is option(assessor, "ablation_rfa").verdict


def test_prrt_with_decompensated_liver_is_at_least_cautioned(assessor: Assessor) -> None:
    opt = option(assessor, "prrt", **CP_C11, **HE_3_4)
    assert finding(opt, "liver.prrt").effect is Effect.CAUTION
    assert opt.verdict is not Verdict.ELIGIBLE


def test_tare_decompensation_names_both_seeds(assessor: Assessor) -> None:
    msg = finding(option(assessor, "tare_resin", **ASCITES_SEVERE), "liver.decompensated").message
    assert "seed 001" in msg and "seed 004" in msg


def test_resection_and_ablation_liver_evidence_is_labelled_hcc(assessor: Assessor) -> None:
    for modality in ("resection", "ablation_rfa"):
        f = finding(option(assessor, modality, **ASCITES_SEVERE), "liver.decompensated")
        by_id = {s.id: s.population.value for s in f.sources}
        assert by_id["local_therapy_liver_function_hcc"] == "HCC"
        assert by_id["liver_failure_001"] == "NET"
        assert "HCC" in f.population


# --------------------------------------------------------------------------- carcinoma
def test_carcinoma_never_reads_ssa_first_line(assessor: Assessor) -> None:
    result = assessor.assess(make_case(**NEC, **STABLE))
    for opt in result.options:
        for f in opt.findings:
            assert "SSA first line" not in f.message, (opt.modality, f.rule_id)
            assert "somatostatin analogues: no indication" not in f.message
    for modality in (*ABLATION, *EMBOLIZATION, *RADIOEMBOLIZATION, Modality.RESECTION):
        opt = result.option(modality)
        assert opt.verdict is Verdict.NOT_SUITABLE, modality
        msg = finding(opt, "carcinoma.systemic_therapy").message
        assert "neuroendocrine carcinoma" in msg and "systemic therapy" in msg


def test_undetermined_g3_or_nec_asks_for_differentiation(assessor: Assessor) -> None:
    opt = option(assessor, "tare_resin", tumour__ki67_percent=40, tumour__differentiation="unknown")
    missing = {u.rule_id: u.fields for u in opt.unevaluated_rules}
    assert missing["carcinoma.systemic_therapy"] == ("tumour.differentiation",)


# --------------------------------------------------------------------------- pregnancy
def test_pregnancy_contraindicates_radiation_and_cautions_the_rest(assessor: Assessor) -> None:
    result = assessor.assess(make_case(**PREGNANT))
    for m in (*RADIOEMBOLIZATION, Modality.PRRT, Modality.PRRT_INTRAARTERIAL):
        assert result.option(m).verdict is Verdict.CONTRAINDICATED, m
    for m in (Modality.RESECTION, *ABLATION, *EMBOLIZATION):
        opt = result.option(m)
        assert finding(opt, "pregnancy.procedure").effect is Effect.CAUTION
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION, m


def test_pregnant_male_is_refused() -> None:
    from netlm.errors import CaseError

    with pytest.raises(CaseError, match=r"patient\.pregnant: true contradicts sex: male"):
        make_case(patient__sex="male", **PREGNANT)


# --------------------------------------------------------------------------- surgery first
def test_resectable_case_lists_resection_first_with_reason(assessor: Assessor) -> None:
    result = assessor.assess(make_case())
    order = result.recommended_order
    assert [r.rank for r in order] == list(range(1, len(result.options) + 1))
    assert order[0].modality is Modality.RESECTION
    assert "curative" in order[0].reason
    tae = result.option("tae")
    assert finding(tae, "preference.surgery_first").effect is Effect.REQUIREMENT
    ranks = {r.modality: r.rank for r in order}
    assert ranks[Modality.RESECTION] < ranks[Modality.TAE] < ranks[Modality.PRRT]


def test_recommended_order_puts_usable_before_unusable(assessor: Assessor) -> None:
    result = assessor.assess(make_case(liver__portal_vein_thrombosis=True))
    verdicts = [r.verdict for r in result.recommended_order]
    usable = {Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_CAUTION}
    first_unusable = next(i for i, v in enumerate(verdicts) if v not in usable)
    assert all(v not in usable for v in verdicts[first_unusable:])
    ranks = {r.modality: r for r in result.recommended_order}
    assert "contraindicated" in ranks[Modality.TAE].reason


def test_recommended_order_in_json_and_markdown(assessor: Assessor) -> None:
    from netlm.report.board import render_markdown

    result = assessor.assess(make_case())
    doc = result.model_dump(mode="json")
    assert doc["recommended_order"][0]["modality"] == "resection"
    assert doc["recommended_order"][0]["reason"]
    md = render_markdown(result)
    assert "## Recommended order" in md
    assert "1. **Liver resection**" in md


# --------------------------------------------------------------------------- remnant
def test_remnant_18_percent_is_not_potentially_curative(assessor: Assessor) -> None:
    opt = option(assessor, "resection", liver__future_liver_remnant_percent=18)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "resection.curative" not in {f.rule_id for f in opt.findings}


def test_remnant_between_floors_needs_liver_status(assessor: Assessor) -> None:
    opt = option(
        assessor,
        "resection",
        liver__future_liver_remnant_percent=30,
        liver__chronic_liver_disease=DELETE,
    )
    missing = {u.rule_id: u.fields for u in opt.unevaluated_rules}
    assert missing["resection.future_liver_remnant"] == ("liver.chronic_liver_disease",)


# --------------------------------------------------------------------------- PRRT
@pytest.mark.parametrize(
    ("plt", "verdict"), [(10, Verdict.CONTRAINDICATED), (75, Verdict.ELIGIBLE)]
)
def test_prrt_platelets_floor_is_a_contraindication(
    assessor: Assessor, plt: float, verdict: Verdict
) -> None:
    opt = option(assessor, "prrt", labs__platelets_10e9_per_l=plt, liver__resectable_percent=50)
    assert opt.verdict is verdict


def test_prrt_stable_asymptomatic_has_no_indication_yet(assessor: Assessor) -> None:
    opt = option(assessor, "prrt", **STABLE)
    assert opt.verdict is Verdict.NOT_SUITABLE
    assert "no indication yet" in finding(opt, "prrt.indication").message


# --------------------------------------------------------------------------- conflicts
def test_bilirubin_conflict_cites_each_number_to_its_seed(assessor: Assessor) -> None:
    f = finding(option(assessor, "tare_resin", **BILI_2_5), "transarterial.bilirubin_conflict")
    assert "seed 004" in f.message and "> 2" in f.message.replace("above 2", "> 2")
    assert "seed 001" in f.message and ">= 3" in f.message
    cited = {s.id for s in f.sources}
    assert {"tare_exclusion_004", "tare_table1_001"} <= cited


def test_tare_bilirubin_2_cites_only_seed_004(assessor: Assessor) -> None:
    """Seed 001 says >= 3 mg/dL, not > 2: the > 2 rule must not cite it (issue #10)."""
    opt = option(assessor, "tare_resin", **BILI_2_5)
    assert {s.id for s in finding(opt, "tare.bilirubin").sources} == {"tare_exclusion_004"}
    assert "tare_table1_001" in {
        s.id
        for s in finding(option(assessor, "tare_resin", **bili(3.0)), "tare.bilirubin_hard").sources
    }


def test_embolization_involvement_over_75_names_both_readings(assessor: Assessor) -> None:
    opt = option(assessor, "tae", liver__volume_ml=1000, liver__tumour_volume_ml=760)
    msg = finding(opt, "embolization.involvement").message
    assert "Table 1" in msg and "treat carefully" in msg
    assert opt.verdict is not Verdict.ELIGIBLE


def test_glass_lsf_conflict_is_at_least_a_caution(assessor: Assessor) -> None:
    opt = option(assessor, "tare_glass", workup__lung_shunt_fraction=0.25)
    f = finding(opt, "tare.glass_lsf_conflict")
    assert "seed 001" in f.message and "lung dose" in f.message
    assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_undetermined_g3_or_nec_is_not_sent_to_ssa_first_line(assessor: Assessor) -> None:
    changes = {**STABLE, "tumour__ki67_percent": 40, "tumour__differentiation": "unknown"}
    result = assessor.assess(make_case(**changes))
    for m in ("tae", "tare_resin", "prrt"):
        opt = result.option(m)
        rule = "prrt.indication" if m == "prrt" else "transarterial.indication"
        msg = finding(opt, rule).message
        assert "SSA first line" not in msg and "pathology review" in msg


def test_hcc_and_colorectal_evidence_is_never_labelled_net(assessor: Assessor) -> None:
    """Seed 000's RFA figures come from colorectal (ref. 22) and HCC (refs. 23-24) series."""
    big = make_case(liver__lesions=[{"id": "L1", "segment": 6, "longest_diameter_mm": 70}])
    zone = finding(assessor.assess(big).option("ablation_rfa"), "ablation.zone_size")
    seven_cm = {s.id: s.population.value for s in zone.sources}
    assert seven_cm["ablation_with_tace_000_hcc"] == "HCC"
    assert "HCC evidence" in zone.message
    ideal = finding(assessor.assess(make_case()).option("ablation_rfa"), "ablation.ideal")
    assert {s.id: s.population.value for s in ideal.sources}["ablation_rfa_000"] == "CRLM"
    assert "NET" not in {s.population.value for s in ideal.sources if s.id == "ablation_rfa_000"}


def test_child_pugh_cut_is_a_profile_parameter(tmp_path: Any) -> None:
    from netlm.eligibility import load_profile

    path = tmp_path / "centre.yaml"
    path.write_text(
        "schema: netlm/rule-profile/v1\nid: strict\nname: Strict\nversion: '1'\n"
        "extends: default\nparameters:\n  child_pugh_contraindication_min_score: 9\n"
    )
    b9 = make_case(**{**CP_B8, "labs__albumin": {"value": 2.7, "unit": "g/dL"}})
    default = Assessor().assess(b9).option("resection")
    strict = Assessor(load_profile(path)).assess(b9).option("resection")
    assert "liver.decompensated" not in {f.rule_id for f in default.findings}
    f = finding(strict, "liver.decompensated")
    assert "Child-Pugh B9" in f.message
    assert f.parameters == {"child_pugh_contraindication_min_score": 9}
    assert strict.verdict is Verdict.CONTRAINDICATED


@pytest.mark.parametrize("modality", ["tare_glass", "tare_resin", "prrt"])
def test_unrecorded_pregnancy_is_an_assumption_to_confirm_for_radiation(
    assessor: Assessor, ask_assessor: Assessor, modality: str
) -> None:
    """A woman's unrecorded pregnancy status is never a silent 'not pregnant'."""
    opt = option(assessor, modality, patient__pregnant=DELETE)
    assert "patient.pregnant" in {a.field for a in opt.assumptions}
    assert opt.verdict is option(assessor, modality).verdict
    strict = option(ask_assessor, modality, patient__pregnant=DELETE)
    assert strict.verdict is Verdict.NEEDS_INFORMATION
    assert "patient.pregnant" in strict.missing_information
    male = option(assessor, modality, patient__pregnant=DELETE, patient__sex="male")
    assert "patient.pregnant" not in {a.field for a in male.assumptions}


def test_the_resection_rules_are_every_shipped_rule_on_resection() -> None:
    # curative_resection() names its books instead of importing the registry (an import
    # circle); a resection rule added to another book must be added there too.
    from netlm.eligibility.rules import all_rules
    from netlm.eligibility.rules.general import resection_rules

    shipped = [r.id for r in all_rules() if Modality.RESECTION in r.modalities]
    assert [r.id for r in resection_rules()] == shipped
    assert "resection.curative" in shipped
