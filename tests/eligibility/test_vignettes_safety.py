"""Clinical vignettes for issue #10, written from the seeds before they were run.

Each test is one patient story; the expected verdicts are what the seeds (and,
where they are silent, the named [U] profile parameters) support:

* seed 001 §6.1 / Table 1 - TAE/TACE: G1/G2, unresectable or progressive or
  symptomatic despite SSA; contraindicated by portal vein thrombosis,
  bilio-enteric anastomosis, > 75 % involvement, bilirubin >= 3 mg/dL, ascites,
  contrast allergy, irreversible coagulopathy.
* seed 004 Patient Selection - TARE: ECOG > 2, bilirubin > 2 mg/dL, ... are
  exclusions, criteria "similar to TAE/TACE", portal vein thrombosis is not.
* seed 001 Table 1 - SIRT: bilirubin >= 3 mg/dL, ascites, LSF > 20 %.
* seed 001 §1 - surgery is the only curative treatment.
"""

from __future__ import annotations

from typing import Any

from conftest import make_case
from netlm.eligibility import Assessment, Assessor, Effect, Modality, Verdict
from netlm.eligibility.result import ABLATION, EMBOLIZATION, RADIOEMBOLIZATION

E = EMBOLIZATION
LOBAR_TARE = (Modality.TARE_RESIN, Modality.TARE_GLASS)
USABLE = (Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_CAUTION)
OUT = (Verdict.CONTRAINDICATED, Verdict.NOT_SUITABLE)


def assess(assessor: Assessor, **changes: Any) -> Assessment:
    return assessor.assess(make_case(**changes))


def rule_ids(a: Assessment, m: Modality | str) -> set[str]:
    return {f.rule_id for f in a.option(m).findings}


def messages(a: Assessment, m: Modality | str) -> str:
    return " | ".join(f.message for f in a.option(m).findings)


BILOBAR_UNRESECTABLE: dict[str, Any] = {
    "liver__distribution": "bilobar",
    "liver__lesion_count": 12,
    "liver__lesions": [
        {"id": "L1", "segment": 3, "longest_diameter_mm": 35},
        {"id": "L2", "segment": 7, "longest_diameter_mm": 42},
    ],
    "liver__resectable_percent": 40,
}


def test_v01_child_pugh_c12_with_grade_3_4_encephalopathy(assessor: Assessor) -> None:
    """64-year-old, pancreatic NET G2 (Ki-67 8 %), bilobar progressive metastases.

    Bilirubin 2.5 mg/dL, albumin 2.5 g/dL, INR 2.5, no ascites, encephalopathy
    grade 3-4: Child-Pugh C12.  001 §6.1: liver function impairment - high risk
    of acute liver failure; 004: inadequate liver reserve.  No procedure on the
    liver; PRRT at least a caution.
    """
    a = assess(
        assessor,
        patient__age_years=64,
        tumour__primary_site="pancreas",
        tumour__ki67_percent=8,
        tumour__mitoses_per_2mm2=3,
        **BILOBAR_UNRESECTABLE,
        labs__bilirubin={"value": 2.5, "unit": "mg/dL", "uln": 1.2},
        labs__albumin={"value": 2.5, "unit": "g/dL"},
        labs__inr=2.5,
        liver__encephalopathy="grade_3_4",
    )
    assert a.liver_function.child_pugh.score == 12
    for m in (*E, *RADIOEMBOLIZATION, Modality.RESECTION, *ABLATION):
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
        assert "liver.decompensated" in rule_ids(a, m), m
    assert a.option(Modality.PRRT).verdict is not Verdict.ELIGIBLE
    assert "liver.prrt" in rule_ids(a, Modality.PRRT)


def test_v02_ecog_4_with_two_months_to_live(assessor: Assessor) -> None:
    """71-year-old bedbound (ECOG 4), midgut NET G1, bilobar progressive, 2 months.

    004 excludes TARE for ECOG > 2; its criteria are "similar to TAE/TACE"; no
    surgery at ECOG 4; PRRT (NETTER-1 population KPS >= 60) at least a caution.
    """
    a = assess(
        assessor,
        patient__age_years=71,
        patient__ecog=4,
        patient__life_expectancy_months=2,
        **BILOBAR_UNRESECTABLE,
    )
    for m in (*E, *RADIOEMBOLIZATION):
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
    for m in E:
        assert {"embolization.ecog", "embolization.life_expectancy"} <= rule_ids(a, m)
    assert a.option(Modality.RESECTION).verdict is Verdict.CONTRAINDICATED
    prrt = a.option(Modality.PRRT)
    assert prrt.verdict is not Verdict.ELIGIBLE
    assert "prrt.performance" in rule_ids(a, Modality.PRRT)


def test_v03_neuroendocrine_carcinoma_ki67_60(assessor: Assessor) -> None:
    """58-year-old, poorly differentiated pancreatic NEC, Ki-67 60 %, one 25 mm lesion.

    The liver-directed pathways of 001 (Fig. 1, §6.1) are for G1/G2; survival
    after TARE is shortest in G3/NEC (004).  Every option says "carcinoma" and
    points to systemic therapy; none advises SSA first line.
    """
    a = assess(
        assessor,
        tumour__primary_site="pancreas",
        tumour__differentiation="poor",
        tumour__ki67_percent=60,
        tumour__mitoses_per_2mm2=40,
        tumour__liver_disease_course="stable",
        liver__lesions=[{"id": "L1", "segment": 6, "longest_diameter_mm": 25}],
    )
    for opt in a.options:
        assert opt.verdict in OUT, opt.modality
        assert "SSA first line" not in messages(a, opt.modality)
        assert "carcinoma" in messages(a, opt.modality).lower(), opt.modality
    for m in (Modality.RESECTION, *ABLATION, *E, *RADIOEMBOLIZATION):
        assert "systemic therapy" in messages(a, m), m
    assert not [r for r in a.recommended_order if r.verdict in USABLE]


def test_v04_platelets_10_before_prrt(assessor: Assessor) -> None:
    """66-year-old, midgut NET G2, SSTR-positive, bone metastases, platelets 10.

    NETTER-1 floor 75 x 10^9/L: below it PRRT is contraindicated.  Arterial
    access needs >= 20 (SIR 2019), TARE < 50 is relative (004).
    """
    a = assess(
        assessor,
        tumour__ki67_percent=5,
        tumour__extrahepatic_disease="limited",
        tumour__extrahepatic_resectable=False,
        **BILOBAR_UNRESECTABLE,
        labs__platelets_10e9_per_l=10,
    )
    assert a.option(Modality.PRRT).verdict is Verdict.CONTRAINDICATED
    assert a.option(Modality.TAE).verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "transarterial.platelets_access" in rule_ids(a, Modality.TAE)
    assert a.option(Modality.TARE_RESIN).verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_v05_future_liver_remnant_18_percent(assessor: Assessor) -> None:
    """52-year-old, three right-lobe metastases, all resectable, remnant 18 %.

    A normal liver needs a remnant of at least 20 % (CRLM consensus [U]):
    resection not suitable, and never "potentially curative"; no surgery-first
    finding on the other options.
    """
    a = assess(
        assessor,
        liver__lesion_count=3,
        liver__lesions=[
            {"id": "L1", "segment": 6, "longest_diameter_mm": 50},
            {"id": "L2", "segment": 7, "longest_diameter_mm": 60},
            {"id": "L3", "segment": 8, "longest_diameter_mm": 45},
        ],
        liver__future_liver_remnant_percent=18,
    )
    resection = a.option(Modality.RESECTION)
    assert resection.verdict is Verdict.NOT_SUITABLE
    assert "potentially curative" not in messages(a, Modality.RESECTION)
    assert "preference.surgery_first" not in rule_ids(a, Modality.TAE)


def test_v06_resectable_single_lesion(assessor: Assessor) -> None:
    """45-year-old, ileal NET G1, one 30 mm segment-6 lesion, progressive, liver only.

    Surgery is the only curative treatment (001 §1): resection first; TAE/TARE
    and PRRT carry a surgery-preferred finding; ablation (curative intent for
    oligometastatic disease) ranks before the palliative options.
    """
    a = assess(
        assessor,
        patient__age_years=45,
        liver__lesions=[{"id": "L1", "segment": 6, "longest_diameter_mm": 30}],
    )
    assert a.option(Modality.RESECTION).verdict is Verdict.ELIGIBLE
    assert a.recommended_order[0].modality is Modality.RESECTION
    for m in (*E, *RADIOEMBOLIZATION, Modality.PRRT):
        assert "preference.surgery_first" in rule_ids(a, m), m
    ranks = {r.modality: r.rank for r in a.recommended_order}
    assert ranks[Modality.ABLATION_MWA] < ranks[Modality.TAE] < ranks[Modality.PRRT]


def test_v07_stable_asymptomatic_g1(assessor: Assessor) -> None:
    """60-year-old, midgut NET G1 on octreotide, liver disease stable, no symptoms.

    SSA first line (001 §2); TAE/TACE, TARE (004) and PRRT (NETTER-1:
    progressive) need progression or refractory symptoms: no indication yet.
    """
    a = assess(
        assessor,
        tumour__liver_disease_course="stable",
        tumour__months_stable=14,
        tumour__symptoms_refractory_to_ssa=False,
        **BILOBAR_UNRESECTABLE,
        history__prior_treatments=[{"type": "ssa", "agent": "octreotide LAR"}],
    )
    for m in (*E, *LOBAR_TARE, Modality.PRRT, Modality.PRRT_INTRAARTERIAL):
        assert a.option(m).verdict is Verdict.NOT_SUITABLE, m
        assert "no indication yet" in messages(a, m), m


def test_v08_pregnant_patient(assessor: Assessor) -> None:
    """32-year-old pregnant woman, pancreatic NET G2, progressive single lesion.

    Radionuclide therapy irradiates the conceptus: TARE, segmentectomy and PRRT
    contraindicated; the others are a caution to plan with obstetrics.
    """
    a = assess(
        assessor,
        patient__age_years=32,
        patient__sex="female",
        patient__pregnant=True,
        tumour__primary_site="pancreas",
        tumour__ki67_percent=6,
    )
    for m in (*RADIOEMBOLIZATION, Modality.PRRT, Modality.PRRT_INTRAARTERIAL):
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
    for m in (Modality.RESECTION, *ABLATION, *E):
        assert a.option(m).verdict is Verdict.ELIGIBLE_WITH_CAUTION, m


def test_v09_portal_vein_thrombosis(assessor: Assessor) -> None:
    """68-year-old, pancreatic NET G2, bilobar progressive, segmental PVT.

    001: PVT contraindicates TAE/TACE and "portal vein obstruction" SIRT; 004:
    PVT is not a contraindication to TARE.  TARE stays possible, with a
    conflict finding that names both seeds.
    """
    a = assess(assessor, **BILOBAR_UNRESECTABLE, liver__portal_vein_thrombosis=True)
    for m in E:
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
    for m in LOBAR_TARE:
        opt = a.option(m)
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION, m
        msg = next(f.message for f in opt.findings if f.rule_id == "tare.portal_vein_thrombosis")
        assert "seed 001" in msg and "seed 004" in msg


def test_v10_glass_with_lung_shunt_25_percent(assessor: Assessor) -> None:
    """59-year-old, bilobar NET G2, MAA SPECT/CT lung shunt 25 %, lung dose 18 Gy.

    Resin: LSF > 20 % do not treat (label, 001 Table 1).  Glass: 001 says
    contraindicated, the glass lung-dose limit (<= 30 Gy, 004) allows 18 Gy: a
    conflict, eligible with caution.
    """
    a = assess(
        assessor,
        **BILOBAR_UNRESECTABLE,
        workup__lung_shunt_fraction=0.25,
        workup__estimated_lung_dose_gy=18,
    )
    assert a.option(Modality.TARE_RESIN).verdict is Verdict.CONTRAINDICATED
    glass = a.option(Modality.TARE_GLASS)
    assert glass.verdict is Verdict.ELIGIBLE_WITH_CAUTION
    assert "tare.glass_lsf_conflict" in rule_ids(a, Modality.TARE_GLASS)


def test_v11_bilirubin_2_5(assessor: Assessor) -> None:
    """62-year-old, bilobar NET G2, bilirubin 2.5 mg/dL.

    004 excludes lobar TARE above 2 mg/dL unless highly selective; 001 Table 1
    contraindicates TAE/TACE and SIRT only at >= 3 mg/dL.  TAE is a caution
    that names both seeds, not a contraindication.
    """
    a = assess(
        assessor,
        **BILOBAR_UNRESECTABLE,
        labs__bilirubin={"value": 2.5, "unit": "mg/dL", "uln": 1.2},
    )
    for m in LOBAR_TARE:
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
    for m in E:
        opt = a.option(m)
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION, m
        assert "transarterial.bilirubin_conflict" in rule_ids(a, m)


def test_v12_whipple_is_not_prior_liver_directed_therapy(assessor: Assessor) -> None:
    """55-year-old after a Whipple for a pancreatic NET G2 (Ki-67 10 %).

    Bilobar disease with a 35 mm lesion in each lobe, burden 20 %, normal labs.
    The pancreaticoduodenectomy removed the primary: it is not prior
    liver-directed therapy for LUTIA.  The bilio-enteric anastomosis rules out
    TAE/TACE (001).
    """
    a = assess(
        assessor,
        tumour__primary_site="pancreas",
        tumour__ki67_percent=10,
        tumour__mitoses_per_2mm2=3,
        liver__volume_ml=1500,
        liver__tumour_volume_ml=300,
        **{**BILOBAR_UNRESECTABLE, "liver__lesion_count": 2},
        history__biliary_intervention="bilioenteric_anastomosis",
        history__prior_treatments=[
            {"type": "resection", "agent": "pancreaticoduodenectomy (Whipple)"}
        ],
    )
    assert "prrt_ia.lutia_prior_ldt" not in rule_ids(a, Modality.PRRT_INTRAARTERIAL)
    assert a.option(Modality.PRRT_INTRAARTERIAL).verdict in USABLE
    for m in E:
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m


def test_v13_irreversible_coagulopathy(assessor: Assessor) -> None:
    """57-year-old with severe haemophilia A (irreversible coagulopathy), INR 1.0.

    Impaired haemostasis is a general contraindication to vascular procedures
    (001 §6.1) and to ablation (001 Table 1); TARE criteria are similar (004).
    """
    a = assess(assessor, **BILOBAR_UNRESECTABLE, history__irreversible_coagulopathy=True)
    for m in (*E, *RADIOEMBOLIZATION, *ABLATION):
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m


def test_v14_moderate_ascites_child_pugh_b9(assessor: Assessor) -> None:
    """69-year-old, bilobar NET G2 with moderate ascites; bilirubin 1.5, albumin 2.9, INR 1.8.

    Child-Pugh 1 + 2 + 2 + 3 + 1 = B9; ascites is a contraindication to TAE/TACE
    and SIRT in 001 Table 1; decompensation rules out surgery and ablation.
    """
    a = assess(
        assessor,
        **BILOBAR_UNRESECTABLE,
        labs__bilirubin={"value": 1.5, "unit": "mg/dL", "uln": 1.2},
        labs__albumin={"value": 2.9, "unit": "g/dL"},
        labs__inr=1.8,
        liver__ascites="moderate_severe",
    )
    assert a.liver_function.child_pugh.score == 9
    for m in (*E, *RADIOEMBOLIZATION, Modality.RESECTION, *ABLATION):
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
    assert a.option(Modality.PRRT).verdict is Verdict.ELIGIBLE_WITH_CAUTION


def test_v15_refractory_carcinoid_syndrome_with_stable_liver(assessor: Assessor) -> None:
    """63-year-old, ileal NET G2, carcinoid syndrome uncontrolled on lanreotide.

    Liver disease stable but unresectable.  Persistent symptoms despite SSA are
    an indication for TAE/TACE (001) and TARE (004) and for PRRT; prophylaxis
    for carcinoid crisis is required.
    """
    a = assess(
        assessor,
        tumour__ki67_percent=5,
        tumour__functional_syndrome="carcinoid",
        tumour__symptoms_refractory_to_ssa=True,
        tumour__liver_disease_course="stable",
        **BILOBAR_UNRESECTABLE,
    )
    for m in (*E, *LOBAR_TARE, Modality.PRRT):
        assert a.option(m).verdict in USABLE, m
        assert "transarterial.indication" not in rule_ids(a, m)
        assert "prrt.indication" not in rule_ids(a, m)
    assert any(
        f.effect is Effect.REQUIREMENT and "carcinoid crisis" in f.message
        for f in a.option(Modality.TAE).findings
    )


def test_v16_encephalopathy_grade_1_2_only(assessor: Assessor) -> None:
    """61-year-old, bilobar NET G2, minimal encephalopathy (grade 1-2), labs normal.

    Child-Pugh A6.  Grade 1-2 cannot be split in the record; an overt grade 2
    is decompensation: a relative contraindication, never plain eligible.
    """
    a = assess(assessor, **BILOBAR_UNRESECTABLE, liver__encephalopathy="grade_1_2")
    assert a.liver_function.child_pugh.score == 6
    for m in E:
        opt = a.option(m)
        assert opt.verdict is Verdict.ELIGIBLE_WITH_CAUTION, m
        assert "liver.impaired" in rule_ids(a, m)
    assert "overt grade 2" in messages(a, Modality.TAE)


def test_v17_ecog_3_alone(assessor: Assessor) -> None:
    """74-year-old, ECOG 3 (capable of limited self-care), bilobar progressive NET G1.

    ECOG > 2 excludes TARE (004) and, by the same criteria, TAE/TACE.
    """
    a = assess(assessor, patient__ecog=3, **BILOBAR_UNRESECTABLE)
    for m in (*E, *LOBAR_TARE):
        assert a.option(m).verdict is Verdict.CONTRAINDICATED, m
    assert a.option(Modality.PRRT).verdict is Verdict.ELIGIBLE_WITH_CAUTION
