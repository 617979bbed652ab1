"""Six ordinary referral records, written from the seeds before running them (#10).

Each is the kind of record a tumour board receives: labs, grade, staging and
liver imaging are given, but the findings a radiology report or history omits
when they are absent (biliary dilatation, portal vein thrombosis, ascites,
encephalopathy, contrast allergy, coagulopathy, biliary interventions...) are
not written down.  The expected verdicts come from the seeds' criteria; the
expected assumptions from ``ASSUMABLE_FINDINGS``.  Only data that would change
the verdict may still be asked for.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from netlm.case import case_from_mapping
from netlm.eligibility import Assessor, Verdict
from netlm.eligibility.result import CHILD_PUGH_SCORE, AssumptionKind

E, EC, NS, CI, NI = (
    Verdict.ELIGIBLE,
    Verdict.ELIGIBLE_WITH_CAUTION,
    Verdict.NOT_SUITABLE,
    Verdict.CONTRAINDICATED,
    Verdict.NEEDS_INFORMATION,
)
EMBO = ("tae", "ctace", "debtace")
LOBAR_TARE = ("tare_resin", "tare_glass")
ABLATION = ("ablation_laser", "ablation_rfa", "ablation_mwa", "ablation_ire", "ablation_cryo")

# V1 - seed 004 Patient Selection / seed 001 §6: bilobar progressive ileal NET G2,
# 25 % burden, 12 lesions, unresectable.  Transarterial therapy is the option; bilobar
# low-grade disease with long survival is a caution for lobar TARE (004, chronic
# hepatotoxicity); too many lesions for ablation or segmentectomy.
V1 = """
schema: netlm/case/v1
patient: {id: V1, age_years: 62, sex: male, ecog: 1, height_cm: 178, weight_kg: 80,
          life_expectancy_months: 60}
tumour:
  primary_site: small_intestine
  primary_resected: true
  differentiation: well
  ki67_percent: 8
  functional_syndrome: none
  sstr_imaging: {modality: ga68_dotatate_pet, positive: true, krenning_score: 3}
  extrahepatic_disease: none
  liver_disease_course: progressive
liver:
  volume_ml: 1800
  tumour_volume_ml: 450
  involvement_method: volumetry
  distribution: bilobar
  lesion_count: 12
  resectable_percent: 40
  future_liver_remnant_percent: 35
labs:
  bilirubin: {value: 0.9, unit: mg/dL, uln: 1.2}
  albumin: {value: 3.9, unit: g/dL}
  inr: 1.1
  ast: {value: 35, unit: U/L, uln: 40}
  alt: {value: 31, unit: U/L, uln: 40}
  creatinine: {value: 0.9, unit: mg/dL}
  egfr_ml_min: 85
  platelets_10e9_per_l: 210
history:
  prior_treatments: [{type: ssa, agent: octreotide LAR}]
"""

# V2 - seed 001 §2 and §5, seed 003 'Ablation': two small metachronous metastases of a
# resected pancreatic NET G1.  Surgery or ablation of 1-2 lesions < 3 cm.  A resected
# pancreatic primary may have been a Whipple (bilio-enteric anastomosis: abscess risk
# after ablation/embolization), so the biliary history cannot be assumed: asked for.
V2 = """
schema: netlm/case/v1
patient: {id: V2, age_years: 45, sex: female, ecog: 0}
tumour:
  primary_site: pancreas
  primary_resected: true
  differentiation: well
  ki67_percent: 1
  functional_syndrome: none
  sstr_imaging: {modality: ga68_dotatoc_pet, positive: true, krenning_score: 3}
  extrahepatic_disease: none
  liver_disease_course: new
liver:
  volume_ml: 1500
  tumour_volume_ml: 10
  involvement_method: volumetry
  distribution: unilobar_right
  lesion_count: 2
  lesions:
    - {id: L1, segment: 7, longest_diameter_mm: 15, enhancement: hypervascular}
    - {id: L2, segment: 8, longest_diameter_mm: 22, enhancement: hypervascular}
  resectable_percent: 100
  future_liver_remnant_percent: 75
labs:
  bilirubin: {value: 0.6, unit: mg/dL}
  albumin: {value: 4.3, unit: g/dL}
  inr: 1.0
  platelets_10e9_per_l: 260
  creatinine: {value: 0.7, unit: mg/dL}
  egfr_ml_min: 105
"""

# V3 - seed 001 §6.1 and seed 004: carcinoid syndrome refractory to SSA with stable,
# bilobar midgut NET G1 (45 %).  Symptoms are the indication for embolization; crisis
# prophylaxis is a requirement; echocardiography done (no carcinoid heart disease).
V3 = """
schema: netlm/case/v1
patient: {id: V3, age_years: 66, sex: female, ecog: 1}
tumour:
  primary_site: small_intestine
  primary_resected: true
  differentiation: well
  ki67_percent: 2
  functional_syndrome: carcinoid
  symptoms_refractory_to_ssa: true
  sstr_imaging: {modality: ga68_dotatate_pet, positive: true, krenning_score: 4}
  extrahepatic_disease: none
  liver_disease_course: stable
  months_stable: 8
liver:
  volume_ml: 2200
  tumour_volume_ml: 990
  involvement_method: volumetry
  distribution: bilobar
  lesion_count: 20
  resectable_percent: 20
labs:
  bilirubin: {value: 1.0, unit: mg/dL, uln: 1.2}
  albumin: {value: 3.7, unit: g/dL}
  inr: 1.0
  ast: {value: 45, unit: U/L, uln: 40}
  alt: {value: 38, unit: U/L, uln: 40}
  creatinine: {value: 1.1, unit: mg/dL}
  egfr_ml_min: 58
  platelets_10e9_per_l: 190
history:
  carcinoid_heart_disease: absent
"""

# V4 - seed 001 §5.2-5.3, seed 004 (radiation segmentectomy): one 45 mm metastasis in
# segment 8 against the right hepatic vein, not resectable.  RFA needs a cluster and
# suffers heat-sink; MWA less so; laser/IRE/cryo zones are too small; a single
# localized lesion is the indication for radiation segmentectomy.
V4 = """
schema: netlm/case/v1
patient: {id: V4, age_years: 72, sex: male, ecog: 1}
tumour:
  primary_site: small_intestine
  primary_resected: true
  differentiation: well
  ki67_percent: 6
  functional_syndrome: none
  sstr_imaging: {modality: ga68_dotatate_pet, positive: true, krenning_score: 3}
  extrahepatic_disease: none
  liver_disease_course: progressive
liver:
  volume_ml: 1600
  tumour_volume_ml: 48
  involvement_method: volumetry
  distribution: unilobar_right
  lesion_count: 1
  lesions:
    - {id: L1, segment: 8, longest_diameter_mm: 45, enhancement: hypervascular,
       abuts: [hepatic_vein]}
  resectable_percent: 0
labs:
  bilirubin: {value: 0.7, unit: mg/dL, uln: 1.2}
  albumin: {value: 4.1, unit: g/dL}
  inr: 1.0
  ast: {value: 25, unit: U/L, uln: 40}
  alt: {value: 22, unit: U/L, uln: 40}
  creatinine: {value: 1.0, unit: mg/dL}
  egfr_ml_min: 72
  platelets_10e9_per_l: 240
"""

# V5 - seed 001 §6.3 / NETTER-1, seed 004: progressive NET G2 (Ki-67 12 %) with limited
# bone metastases.  PRRT reaches extrahepatic disease (favours); extrahepatic disease
# predicts poorer survival after embolization (caution); TARE remains possible for
# liver-dominant disease.  Ki-67 >= 10 % without FDG PET: FDG PET in the work-up.
V5 = """
schema: netlm/case/v1
patient: {id: V5, age_years: 57, sex: male, ecog: 1}
tumour:
  primary_site: small_intestine
  primary_resected: true
  differentiation: well
  ki67_percent: 12
  functional_syndrome: none
  sstr_imaging: {modality: ga68_dotatate_pet, positive: true, krenning_score: 4}
  fdg_pet: {performed: false}
  extrahepatic_disease: limited
  extrahepatic_resectable: false
  liver_disease_course: progressive
liver:
  volume_ml: 1900
  tumour_volume_ml: 665
  involvement_method: volumetry
  distribution: bilobar
  lesion_count: 15
  resectable_percent: 30
labs:
  bilirubin: {value: 0.8, unit: mg/dL, uln: 1.2}
  albumin: {value: 4.0, unit: g/dL}
  inr: 1.0
  ast: {value: 30, unit: U/L, uln: 40}
  alt: {value: 28, unit: U/L, uln: 40}
  creatinine: {value: 1.0, unit: mg/dL}
  egfr_ml_min: 75
  platelets_10e9_per_l: 180
history:
  prior_treatments: [{type: ssa, agent: lanreotide}]
"""

# V6 - seed 001 §6.1 (ascites contraindicates TAE/TACE), seed 004 exclusions
# (ascites: inadequate liver reserve, relative for TARE): mild ascites reported,
# encephalopathy not mentioned.  Child-Pugh from its parts: bilirubin 1.6 (1),
# albumin 3.2 (2), INR 1.2 (1), mild ascites (2), encephalopathy assumed none (1) = B7.
V6 = """
schema: netlm/case/v1
patient: {id: V6, age_years: 74, sex: female, ecog: 1}
tumour:
  primary_site: small_intestine
  primary_resected: true
  differentiation: well
  ki67_percent: 2
  functional_syndrome: none
  sstr_imaging: {modality: ga68_dotatate_pet, positive: true, krenning_score: 3}
  extrahepatic_disease: none
  liver_disease_course: progressive
liver:
  volume_ml: 1700
  tumour_volume_ml: 255
  involvement_method: volumetry
  distribution: unilobar_right
  lesion_count: 4
  lesions:
    - {id: L1, segment: 6, longest_diameter_mm: 35, enhancement: hypervascular}
    - {id: L2, segment: 7, longest_diameter_mm: 20, enhancement: hypervascular}
    - {id: L3, segment: 7, longest_diameter_mm: 15, enhancement: hypervascular}
    - {id: L4, segment: 8, longest_diameter_mm: 12, enhancement: hypervascular}
  ascites: mild
  resectable_percent: 60
labs:
  bilirubin: {value: 1.6, unit: mg/dL, uln: 1.2}
  albumin: {value: 3.2, unit: g/dL}
  inr: 1.2
  ast: {value: 48, unit: U/L, uln: 40}
  alt: {value: 41, unit: U/L, uln: 40}
  creatinine: {value: 1.0, unit: mg/dL}
  egfr_ml_min: 60
  platelets_10e9_per_l: 150
"""


def _assess(text: str) -> Any:
    return Assessor().assess(case_from_mapping(yaml.safe_load(text)))


def _fields(assessment: Any, modality: str) -> set[str]:
    return {a.field for a in assessment.option(modality).assumptions}


def _no_finding_asked_for(assessment: Any) -> None:
    for opt in assessment.options:
        for path in opt.missing_information:
            assert not path.startswith(("liver.biliary", "liver.portal", "liver.ascites")), path
            assert path != "history.contrast_allergy", path


def test_v1_bilobar_progressive_g2() -> None:
    a = _assess(V1)
    # Only the LUTIA trial option asks, for data (the lesion map), not for findings.
    assert [o.modality.value for o in a.options if o.verdict is NI] == ["prrt_intraarterial"]
    assert all(
        p.startswith("liver.lesions") for p in a.option("prrt_intraarterial").missing_information
    )
    for m in EMBO:
        assert a.option(m).verdict is E, m
        assert _fields(a, m) >= {
            "liver.portal_vein_thrombosis",
            "liver.ascites",
            "history.contrast_allergy",
            "history.irreversible_coagulopathy",
            "history.biliary_intervention",
        }, m
    for m in LOBAR_TARE:
        assert a.option(m).verdict is EC, m
        assert "tare.low_grade_bilobar" in {f.rule_id for f in a.option(m).findings}
        assert _fields(a, m) >= {
            "liver.biliary_dilatation",
            "liver.ascites",
            "liver.encephalopathy",
            "history.contrast_allergy",
        }, m
    for m in (*ABLATION, "radiation_segmentectomy", "resection", "transplant"):
        assert a.option(m).verdict is NS, m
    coag = next(x for x in a.assumptions if x.field == "history.irreversible_coagulopathy")
    assert coag.kind is AssumptionKind.INFERRED_ABSENT
    assert "INR 1.1" in coag.basis and "platelets 210" in coag.basis
    # MAA angiography and the confirmations for the open options are in the work-up.
    ids = {w.id for w in a.workup}
    assert "maa_angiography" in ids
    assert {"confirm:liver.biliary_dilatation", "confirm:history.contrast_allergy"} <= ids


def test_v2_oligometastatic_after_pancreatic_resection() -> None:
    a = _assess(V2)
    assert a.option("resection").verdict is E
    assert a.option("transplant").verdict is NS  # new disease: not stable 6 months
    for m in ("ablation_rfa", "ablation_mwa"):
        opt = a.option(m)
        assert opt.verdict is NI, m
        assert opt.missing_information == ("history.biliary_intervention",), m
        assert opt.provisional_verdict is E, m
        assert _fields(a, m) == {
            "history.irreversible_coagulopathy",
            "patient.anaesthesia_contraindicated",
            "liver.biliary_dilatation",
            # liver reserve (issue #10 rules): unrecorded, assumed none
            "liver.ascites",
            "liver.encephalopathy",
        }, m
    assert a.option("ablation_laser").verdict is NS  # 22 mm > 20 mm laser zone
    for m in EMBO:
        assert a.option(m).verdict is NS, m  # no indication yet: SSA first line
        assert "tumour.symptoms_refractory_to_ssa" in _fields(a, m), m
    _no_finding_asked_for(a)


def test_v3_refractory_carcinoid_syndrome() -> None:
    a = _assess(V3)
    for m in EMBO:
        opt = a.option(m)
        assert opt.verdict is E, m
        assert "transarterial.carcinoid_syndrome" in {f.rule_id for f in opt.findings}
        assert "liver.portal_vein_thrombosis" in _fields(a, m), m
        assert "tumour.symptoms_refractory_to_ssa" not in _fields(a, m), m  # recorded
    for m in LOBAR_TARE:
        assert a.option(m).verdict is EC, m
        assert "liver.biliary_dilatation" in _fields(a, m), m
    assert a.option("transplant").verdict is NS
    assert a.option("resection").verdict is NS
    assert not [o.modality for o in a.options if o.verdict is NI]


def test_v4_single_lesion_at_the_hepatic_vein() -> None:
    a = _assess(V4)
    assert a.option("resection").verdict is NS
    rfa = a.option("ablation_rfa")
    assert rfa.verdict is EC
    assert {"ablation.heat_sink", "ablation.multiple_applicators"} <= {
        f.rule_id for f in rfa.findings
    }
    assert a.option("ablation_mwa").verdict is EC
    for m in ("ablation_laser", "ablation_ire", "ablation_cryo"):
        assert a.option(m).verdict is NS, m
    assert _fields(a, "ablation_rfa") == {
        "history.irreversible_coagulopathy",
        "patient.anaesthesia_contraindicated",
        "history.biliary_intervention",
        "liver.biliary_dilatation",
        # liver reserve (issue #10 rules): unrecorded, assumed none
        "liver.ascites",
        "liver.encephalopathy",
    }
    seg = a.option("radiation_segmentectomy")
    assert seg.verdict is E
    assert "segmentectomy.selective" in {f.rule_id for f in seg.findings}
    assert _fields(a, "radiation_segmentectomy") >= {
        "liver.biliary_dilatation",
        "liver.encephalopathy",
        "history.contrast_allergy",
    }
    assert not [o.modality for o in a.options if o.verdict is NI]


def test_v5_progressive_g2_with_bone_metastases() -> None:
    a = _assess(V5)
    prrt = a.option("prrt")
    assert prrt.verdict is E
    assert "prrt.extrahepatic" in {f.rule_id for f in prrt.findings}
    for m in EMBO:
        assert a.option(m).verdict is EC, m
        assert "prognosis.embolization_extrahepatic" in {f.rule_id for f in a.option(m).findings}
    for m in LOBAR_TARE:
        assert a.option(m).verdict is EC, m
    assert a.option("transplant").verdict is NS
    # Extrahepatic disease is recorded: never assumed.
    assert "tumour.extrahepatic_disease" not in {x.field for x in a.assumptions}
    assert "fdg_pet" in {w.id for w in a.workup}
    _no_finding_asked_for(a)


def test_v6_mild_ascites_reported_encephalopathy_not() -> None:
    a = _assess(V6)
    cp = a.liver_function.child_pugh
    assert (cp.child_pugh_class.value if cp.child_pugh_class else None, cp.score) == ("B", 7)
    enc = next(x for x in a.assumptions if x.field == "liver.encephalopathy")
    assert CHILD_PUGH_SCORE in enc.used_by
    assert "tare.ascites_encephalopathy" in enc.used_by
    for m in EMBO:
        opt = a.option(m)
        assert opt.verdict is CI, m
        assert "embolization.ascites" in {f.rule_id for f in opt.findings}
        assert "liver.ascites" not in _fields(a, m)  # reported, not assumed
    for m in LOBAR_TARE:
        opt = a.option(m)
        assert opt.verdict is EC, m
        assert "tare.ascites_encephalopathy" in {f.rule_id for f in opt.findings}
    assert a.option("ablation_rfa").verdict is EC  # 35 mm lesion: needs a cluster
    assert a.option("ablation_laser").verdict is NS
    assert not [o.modality for o in a.options if o.verdict is NI]


@pytest.mark.parametrize("text", [V1, V2, V3, V4, V5, V6])
def test_vignettes_under_ask_need_information_for_findings(text: str) -> None:
    from conftest import ask_profile

    strict = Assessor(ask_profile()).assess(case_from_mapping(yaml.safe_load(text)))
    assert strict.assumptions == ()
    assert any(o.verdict is NI for o in strict.options)
