"""The FHIR R4 Bundle of a case: every resource validates, mCODE elements and codes present."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from conftest import edited, make_case
from netlm.case import Case, case_from_mapping, parse_case
from netlm.eligibility import Assessment, Assessor, default_profile
from netlm.evidence import SOURCES, Certainty
from netlm.fhir import PlannedSession, RecordedTreatment, bundle_json, case_bundle, codes
from netlm.sirt.plan import parse_plan
from netlm.sirt.planner import solve, with_case_history

EXAMPLES = sorted(
    p.name
    for p in resources.files("netlm").joinpath("examples").iterdir()
    if p.name.startswith("case-")
)
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"


def example(name: str) -> Case:
    return parse_case(resources.files("netlm").joinpath("examples", name).read_text())


def assess(case: Case) -> Assessment:
    return Assessor(default_profile()).assess(case)


def exported(case: Case, **kwargs: Any) -> dict[str, Any]:
    """The Bundle as the JSON a receiver gets."""
    data: dict[str, Any] = json.loads(bundle_json(case_bundle(case, **kwargs)))
    return data


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def with_profile(bundle: dict[str, Any], profile: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if MCODE + profile in e["resource"].get("meta", {}).get("profile", [])
    ]


def coded(resource: dict[str, Any], system: str, code: str) -> bool:
    return any(
        x.get("system") == system and x.get("code") == code
        for x in resource["code"].get("coding", [])
    )


def observation(bundle: dict[str, Any], system: str, code: str) -> dict[str, Any]:
    found = [r for r in of_type(bundle, "Observation") if coded(r, system, code)]
    assert len(found) == 1, f"{system}|{code}: {len(found)} Observations"
    return found[0]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_resource_and_the_bundle_validate(name: str) -> None:
    case = example(name)
    bundle = exported(case, assessment=assess(case))
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    assert bundle["type"] == "collection"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_reference_resolves_inside_the_bundle(name: str) -> None:
    case = example(name)
    bundle = exported(case, assessment=assess(case))
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                refs.append(node["reference"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bundle)
    assert refs and set(refs) <= urls


def test_patient_and_cancer_conditions_follow_mcode() -> None:
    case = example("case-bilobar-tare.yaml")  # pancreatic NET, Ki-67 8 % -> NET G2
    bundle = exported(case, assessment=assess(case))
    (patient,) = with_profile(bundle, "mcode-cancer-patient")
    assert patient["identifier"][0] == {"system": codes.NETLM_PATIENT_ID, "value": "EX-001"}
    assert patient["gender"] == "female"
    patient_url = f"urn:uuid:{patient['id']}"

    (primary,) = with_profile(bundle, "mcode-primary-cancer-condition")
    assert primary["subject"]["reference"] == patient_url
    assert primary["clinicalStatus"]["coding"][0]["code"] == "active"
    assert coded(primary, codes.MCODE_CATCH_CODES, "PCC-OTHER")
    assert coded(primary, codes.SNOMED, "1286770005")  # WHO 2019 NET G2 morphology
    assert primary["bodySite"][0]["coding"][0]["code"] == "15776009"  # pancreas
    (histology,) = primary["extension"]
    assert histology["url"] == MCODE + "mcode-histology-morphology-behavior"
    assert histology["valueCodeableConcept"]["coding"][0]["code"] == "1286770005"
    assert "NET G2" in primary["code"]["text"]

    (secondary,) = with_profile(bundle, "mcode-secondary-cancer-condition")
    assert coded(secondary, codes.SNOMED, "94381002")
    assert secondary["bodySite"][0]["coding"][0]["code"] == "10200004"  # liver
    (related,) = secondary["extension"]
    assert related["url"] == "http://hl7.org/fhir/StructureDefinition/condition-related"
    assert related["valueReference"]["reference"] == f"urn:uuid:{primary['id']}"


@pytest.mark.parametrize(
    ("changes", "morphology", "text"),
    [
        ({"tumour__ki67_percent": 1, "tumour__mitoses_per_2mm2": 1}, "1286769009", "NET G1"),
        ({"tumour__ki67_percent": 3, "tumour__mitoses_per_2mm2": 1}, "1286770005", "NET G2"),
        (
            {"tumour__ki67_percent": 60, "tumour__differentiation": "poor"},
            "1286767006",
            "NEC",
        ),
    ],
)
def test_morphology_follows_the_who_grade(
    changes: dict[str, Any], morphology: str, text: str
) -> None:
    case = case_from_mapping(edited(**changes))
    bundle = exported(case, assessment=assess(case))
    (primary,) = with_profile(bundle, "mcode-primary-cancer-condition")
    assert coded(primary, codes.SNOMED, morphology)
    assert text in primary["code"]["text"]


def test_an_undetermined_g3_or_nec_claims_no_morphology() -> None:
    """NET G3 vs NEC undetermined must not be written as either."""
    case = case_from_mapping(
        edited(**{"tumour__ki67_percent": 40, "tumour__differentiation": "unknown"})
    )
    a = assess(case)
    assert a.grade.grade is not None and a.grade.grade.value == "NET G3 vs NEC undetermined"
    bundle = exported(case, assessment=a)
    (primary,) = with_profile(bundle, "mcode-primary-cancer-condition")
    assert [x["code"] for x in primary["code"]["coding"]] == ["PCC-OTHER"]
    assert "extension" not in primary
    grade = observation(bundle, codes.LOINC, "33732-9")
    assert grade["valueCodeableConcept"]["text"] == "NET G3 vs NEC undetermined"
    assert "pathology review" in grade["note"][0]["text"]


def test_ecog_ki67_grade_and_burden_observations() -> None:
    case = example("case-bilobar-tare.yaml")
    a = assess(case)
    bundle = exported(case, assessment=a)
    (ecog,) = with_profile(bundle, "mcode-ecog-performance-status")
    assert coded(ecog, codes.LOINC, "89247-1")
    assert ecog["valueInteger"] == case.patient.ecog == 1
    assert ecog["interpretation"][0]["coding"][0]["code"] == "LA9623-5"
    (ki67,) = with_profile(bundle, "mcode-tumor-marker-test")
    assert coded(ki67, codes.LOINC, "29593-1")
    assert ki67["valueQuantity"] == {
        "value": 8.0,
        "unit": "%",
        "system": codes.UCUM,
        "code": "%",
    }
    burden = observation(bundle, codes.NETLM_SYSTEM, "liver-tumour-burden")
    # 410 mL of tumour in a 1650 mL liver
    assert burden["valueQuantity"]["value"] == pytest.approx(410 / 1650 * 100, abs=1e-3)
    grade = observation(bundle, codes.LOINC, "33732-9")
    assert grade["valueCodeableConcept"]["text"] == "NET G2"


@pytest.mark.parametrize("score", [0, 1, 2, 3, 4])
def test_each_ecog_score_has_its_own_loinc_answer(score: int) -> None:
    case = case_from_mapping(edited(**{"patient__ecog": score}))
    (ecog,) = with_profile(exported(case), "mcode-ecog-performance-status")
    assert ecog["valueInteger"] == score
    assert ecog["interpretation"][0]["coding"][0]["code"] == codes.ECOG_ANSWERS[score].code
    assert len({a.code for a in codes.ECOG_ANSWERS.values()}) == 5


def test_labs_carry_loinc_codes_and_their_own_units() -> None:
    case = example("case-bilobar-tare.yaml")
    bundle = exported(case)
    bili = observation(bundle, codes.LOINC, "1975-2")
    assert bili["valueQuantity"]["value"] == 0.7 and bili["valueQuantity"]["code"] == "mg/dL"
    ast = observation(bundle, codes.LOINC, "1920-8")
    assert ast["referenceRange"] == [
        {"high": {"value": 40.0, "unit": "U/L", "system": codes.UCUM, "code": "U/L"}}
    ]
    assert observation(bundle, codes.LOINC, "777-3")["valueQuantity"]["value"] == 215
    assert observation(bundle, codes.LOINC, "6301-6")["valueQuantity"]["value"] == 1.1
    for obs in of_type(bundle, "Observation"):
        if obs["category"][0]["coding"][0]["code"] == "laboratory" and "valueQuantity" in obs:
            assert obs["status"] == "final"

    molar = case_from_mapping(
        edited(
            **{
                "labs__bilirubin": {"value": 51.3, "unit": "µmol/L"},
                "labs__creatinine": {"value": 80, "unit": "umol/L"},
            }
        )
    )
    bundle = exported(molar)
    bili = observation(bundle, codes.LOINC, "14631-6")
    assert bili["valueQuantity"]["code"] == "umol/L" and bili["valueQuantity"]["value"] == 51.3
    assert observation(bundle, codes.LOINC, "14682-9")["valueQuantity"]["value"] == 80
    assert not [r for r in of_type(bundle, "Observation") if coded(r, codes.LOINC, "1975-2")]


def test_no_date_is_invented() -> None:
    case = example("case-bilobar-tare.yaml")  # labs without a date
    assert case.labs.date is None
    bundle = exported(case)
    assert all("effectiveDateTime" not in r for r in of_type(bundle, "Observation"))
    dated = case_from_mapping(edited(**{"labs__date": "2026-03-02"}))
    bili = observation(exported(dated), codes.LOINC, "1975-2")
    assert bili["effectiveDateTime"] == "2026-03-02"


def test_prior_liver_directed_treatments_are_procedures_with_device_and_activity() -> None:
    case = case_from_mapping(
        edited(
            **{
                "history__prior_treatments": [
                    {"type": "ssa", "agent": "octreotide", "start": "2024-01-01"},
                    {
                        "type": "tare",
                        "device": "glass",
                        "activity_gbq": 2.4,
                        "date": "2025-02-03",
                        "territory": "right_lobe",
                    },
                    {"type": "ctace", "date": "2024-06-01"},
                    {"type": "ablation", "date": "2024-03-01"},
                    {
                        "type": "prrt",
                        "agent": "lu177_dotatate",
                        "cycles": 4,
                        "activity_gbq_per_cycle": 7.4,
                    },
                ]
            }
        )
    )
    bundle = exported(case)
    procedures = {p["code"]["coding"][0]["code"]: p for p in of_type(bundle, "Procedure")}
    assert set(procedures) == {"tare", "ctace", "ablation", "prrt"}  # SSA is a drug
    tare = procedures["tare"]
    assert tare["usedCode"] == [{"text": "90Y glass microspheres"}]
    assert tare["extension"][0]["valueQuantity"]["value"] == 2.4
    assert tare["extension"][0]["valueQuantity"]["code"] == "GBq"
    assert tare["performedDateTime"] == "2025-02-03"
    assert tare["status"] == "completed"
    prrt = procedures["prrt"]
    assert prrt["extension"][0]["valueQuantity"]["value"] == pytest.approx(29.6)
    assert any("cumulative" in n["text"] for n in prrt["note"])
    (secondary,) = with_profile(bundle, "mcode-secondary-cancer-condition")
    assert all(
        p["reasonReference"][0]["reference"] == f"urn:uuid:{secondary['id']}"
        for p in procedures.values()
    )


def test_registry_treatments_keep_every_detail() -> None:
    day = dt.date(2026, 1, 5)
    treatments = [
        RecordedTreatment("ctace", day, {"device": "", "drug": "doxorubicin", "x": {"a": 1}}),
        RecordedTreatment("tare_resin", day, {"activity_gbq": "1.9", "device": "SIR-Spheres"}),
        RecordedTreatment("tare_glass", day, {"activity_gbq": 2.5}),
        RecordedTreatment("ssa", day, {"agent": "lanreotide"}),
    ]
    bundle = exported(make_case(), treatments=treatments)
    procedures = {p["code"]["coding"][0]["code"]: p for p in of_type(bundle, "Procedure")}
    assert set(procedures) == {"ctace", "tare_resin", "tare_glass"}
    assert "usedCode" not in procedures["ctace"]  # an empty device is no device
    assert {n["text"] for n in procedures["ctace"]["note"]} >= {"drug: doxorubicin"}
    # an activity that is not a number is not written as one, and not dropped either
    assert "extension" not in procedures["tare_resin"]
    assert {"text": "activity_gbq: 1.9"} in procedures["tare_resin"]["note"]
    assert procedures["tare_resin"]["usedCode"] == [{"text": "SIR-Spheres"}]
    assert procedures["tare_glass"]["extension"][0]["valueQuantity"]["value"] == 2.5
    assert procedures["tare_glass"]["performedDateTime"] == "2026-01-05"


def test_board_report_lists_every_option_with_verdict_and_rank() -> None:
    case = example("case-bilobar-tare.yaml")
    a = assess(case)
    bundle = exported(case, assessment=a)
    (report,) = of_type(bundle, "DiagnosticReport")
    assert report["status"] == "preliminary"  # decision support, not the board's decision
    assert coded(report, codes.NETLM_SYSTEM, "tumour-board-assessment")
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    options = [by_url[r["reference"]] for r in report["result"]]
    assert len(options) == len(a.options)
    ranks = {r.modality.value: r.rank for r in a.recommended_order}
    for option, obs in zip(a.options, options, strict=True):
        assert coded(obs, codes.NETLM_SYSTEM, option.modality.value)
        assert obs["valueCodeableConcept"]["text"] == option.verdict.value
        (rank,) = obs["component"]
        assert rank["valueInteger"] == ranks[option.modality.value]
    first = a.recommended_order[0]
    assert f"1. {first.label}" in report["conclusion"]
    assert a.provenance.profile.id in report["conclusion"]


def test_planned_radioembolization_is_a_course_summary_in_cgy() -> None:
    case = example("case-bilobar-tare.yaml")
    text = resources.files("netlm").joinpath("examples", "plan-partition-glass.yaml").read_text()
    plan = with_case_history(parse_plan(text), case)
    result = solve(plan)
    bundle = exported(case, sessions=[PlannedSession(plan=plan, result=result)])
    (summary,) = with_profile(bundle, "mcode-radiotherapy-course-summary")
    assert summary["status"] == "preparation"  # planned, not delivered
    assert any("PLANNED" in n["text"] for n in summary["note"])
    assert summary["category"]["coding"][0]["code"] == "108290001"
    assert coded(summary, codes.MCODE_RESOURCE_IDS, "mcode-radiotherapy-course-summary")
    (modality,) = [x for x in summary["extension"] if x["url"].endswith("and-technique")]
    assert modality["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "440252007"
    volumes = {r["id"]: r for r in with_profile(bundle, "mcode-radiotherapy-volume")}
    doses: dict[str, float] = {}
    for ext in summary["extension"]:
        if ext["url"] == MCODE + "mcode-radiotherapy-dose-delivered-to-volume":
            parts = {x["url"]: x for x in ext["extension"]}
            ref = parts["volume"]["valueReference"]["reference"]
            target = volumes[ref.removeprefix("urn:uuid:")]
            dose = parts["totalDoseDelivered"]["valueQuantity"]
            assert dose["code"] == "cGy" and dose["system"] == codes.UCUM
            doses[target["description"]] = dose["value"]
    expected = {"lungs (this session)": result.session_lung_dose_gy * 100}
    for t in result.territories:
        expected[f"{t.name}: normal liver"] = t.doses_gy.normal_liver * 100
        if t.doses_gy.tumour is not None:
            expected[f"{t.name}: tumour (mean)"] = t.doses_gy.tumour * 100
    assert doses == pytest.approx(expected, abs=1e-3)
    activity = [x for x in summary["extension"] if x["url"] == codes.ACTIVITY_EXTENSION]
    assert activity[0]["valueQuantity"]["value"] == result.injected_activity_gbq


def test_ids_are_stable_between_exports() -> None:
    case = example("case-whipple-pvt.yaml")
    first, second = exported(case), exported(case)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    other = exported(
        case.model_copy(update={"patient": case.patient.model_copy(update={"id": "OTHER"})})
    )
    assert not {e["fullUrl"] for e in first["entry"]} & {e["fullUrl"] for e in other["entry"]}


def test_every_external_code_is_cited_with_a_certainty() -> None:
    table = codes.all_codes()
    assert len(table) >= 30
    for code in table:
        assert code.source in SOURCES, code
        assert code.certainty in (Certainty.SECONDARY, Certainty.UNVERIFIED), code
        assert code.display.strip(), code
        assert code.system in (
            codes.LOINC,
            codes.SNOMED,
            codes.MCODE_CATCH_CODES,
            codes.MCODE_RESOURCE_IDS,
        ), code
    loinc = [x for x in table if x.system == codes.LOINC and not x.code.startswith("LA")]
    assert all(x.code[-2] == "-" and x.code[:-2].isdigit() for x in loinc)
    assert len({(x.system, x.code) for x in table}) == len(table)
