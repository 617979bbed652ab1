"""Reading netlm/case/v1 documents: examples, YAML vs JSON, units, optional fields."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BASE, SHARED, edited
from netlm.case import SCHEMA_ID, Case, case_from_mapping, load_case, parse_case
from netlm.case.model import BiliaryIntervention
from netlm.clinical import albi, child_pugh

SHARED_CASES = sorted((SHARED / "examples").glob("case-*.yaml"))
BUNDLED = resources.files("netlm").joinpath("examples")
BUNDLED_NAMES = sorted(
    p.name for p in BUNDLED.iterdir() if p.name.startswith("case-") and p.name.endswith(".yaml")
)


def _with_lab(name: str, value: float, unit: str) -> Case:
    return case_from_mapping(edited(**{f"labs__{name}": {"value": value, "unit": unit}}))


# --------------------------------------------------------------------------- examples
def test_there_are_example_cases() -> None:
    assert SHARED_CASES, f"no case-*.yaml in {SHARED / 'examples'}"
    assert BUNDLED_NAMES, "no case-*.yaml bundled in netlm/examples"


@pytest.mark.parametrize("path", SHARED_CASES, ids=lambda p: p.name)
def test_shared_example_parses(path: Path) -> None:
    case = load_case(path)
    assert case.schema_id == SCHEMA_ID
    assert case.patient.id.strip()
    assert case == parse_case(path.read_text(encoding="utf-8"))
    assert case == parse_case(path.read_bytes())


@pytest.mark.parametrize("name", BUNDLED_NAMES)
def test_bundled_example_parses_and_matches_shared(name: str) -> None:
    case = parse_case(BUNDLED.joinpath(name).read_text(encoding="utf-8"))
    assert case.patient.id.strip()
    shared = SHARED / "examples" / name
    if shared.exists():
        assert case == load_case(shared)


def test_bilobar_example_values() -> None:
    case = load_case(SHARED / "examples" / "case-bilobar-tare.yaml")
    assert case.patient.id == "EX-001"
    assert case.liver.lesion_total == 9
    assert [lesion.lobe for lesion in case.liver.lesions] == ["right", "right", "left"]
    assert case.labs.bilirubin_mg_dl == pytest.approx(0.7)
    assert case.history.prior_treatments is not None
    assert len(case.history.prior_treatments) == 2
    assert case.history.biliary_instrumented is False


def test_oligometastatic_example_converts_si_units() -> None:
    case = load_case(SHARED / "examples" / "case-oligometastatic.yaml")
    assert case.labs.bilirubin_mg_dl == pytest.approx(11 / 17.1)
    assert case.labs.albumin_g_dl == pytest.approx(4.4)


# --------------------------------------------------------------------------- YAML == JSON
@pytest.mark.parametrize("path", SHARED_CASES, ids=lambda p: p.name)
def test_yaml_and_json_of_the_same_document_are_equal(path: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    text = json.dumps(doc, default=str)  # dates become ISO strings
    from_yaml = parse_case(path.read_text(encoding="utf-8"))
    assert parse_case(text, format="json") == from_yaml
    json_file = tmp_path / "case.json"
    json_file.write_text(text, encoding="utf-8")
    assert load_case(json_file) == from_yaml


def test_base_case_yaml_and_json_are_equal(tmp_path: Path) -> None:
    from_json = parse_case(json.dumps(BASE), format="json")
    assert from_json == parse_case(yaml.safe_dump(BASE))
    assert from_json == case_from_mapping(BASE)
    yaml_file = tmp_path / "case.yml"
    yaml_file.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    assert load_case(yaml_file) == from_json


def test_json_upper_case_suffix_is_json(tmp_path: Path) -> None:
    path = tmp_path / "CASE.JSON"
    path.write_text(json.dumps(BASE), encoding="utf-8")
    assert load_case(path) == case_from_mapping(BASE)


# --------------------------------------------------------------------------- units
@pytest.mark.parametrize(
    ("lab", "value", "unit", "attribute", "expected"),
    [
        ("bilirubin", 17.1, "umol/L", "bilirubin_mg_dl", 1.0),
        ("bilirubin", 1.0, "mg/dL", "bilirubin_mg_dl", 1.0),
        ("bilirubin", 34.2, "umol/L", "bilirubin_mg_dl", 2.0),
        ("albumin", 35.0, "g/L", "albumin_g_dl", 3.5),
        ("albumin", 3.5, "g/dL", "albumin_g_dl", 3.5),
        ("creatinine", 88.4, "umol/L", "creatinine_mg_dl", 1.0),
        ("creatinine", 1.0, "mg/dL", "creatinine_mg_dl", 1.0),
    ],
)
def test_lab_units_are_converted_at_the_boundary(
    lab: str, value: float, unit: str, attribute: str, expected: float
) -> None:
    labs = _with_lab(lab, value, unit).labs
    assert getattr(labs, attribute) == pytest.approx(expected)


@pytest.mark.parametrize(
    "spelling",
    [
        "umol/L",
        "µmol/L",  # U+00B5 MICRO SIGN
        "μmol/L",  # U+03BC GREEK SMALL LETTER MU
        "umol/l",
        "µmol/l",
        "UMOL/L",
        "micromol/L",
        " umol/L ",
    ],
)
def test_micromole_spellings_are_accepted(spelling: str) -> None:
    case = _with_lab("bilirubin", 17.1, spelling)
    assert case.labs.bilirubin is not None
    assert case.labs.bilirubin.unit == "umol/L"
    assert case.labs.bilirubin_mg_dl == pytest.approx(1.0)


@pytest.mark.parametrize("spelling", ["mg/dL", "mg/dl", "MG/DL"])
def test_mg_dl_spellings_are_accepted(spelling: str) -> None:
    case = _with_lab("creatinine", 1.2, spelling)
    assert case.labs.creatinine is not None
    assert case.labs.creatinine.unit == "mg/dL"
    assert case.labs.creatinine_mg_dl == pytest.approx(1.2)


def test_limits_are_given_in_the_value_unit() -> None:
    case = case_from_mapping(
        edited(labs__bilirubin={"value": 17.1, "unit": "umol/L", "uln": 20.52, "lln": 3.42})
    )
    bilirubin = case.labs.bilirubin
    assert bilirubin is not None
    assert bilirubin.canonical_limit("uln") == pytest.approx(1.2)
    assert bilirubin.canonical_limit("lln") == pytest.approx(0.2)


def test_same_value_in_either_unit_gives_the_same_case_values() -> None:
    si = case_from_mapping(
        edited(
            labs__bilirubin={"value": 17.1, "unit": "µmol/L"},
            labs__albumin={"value": 35, "unit": "g/L"},
            labs__creatinine={"value": 88.4, "unit": "umol/L"},
        )
    )
    conventional = case_from_mapping(
        edited(
            labs__bilirubin={"value": 1.0, "unit": "mg/dL"},
            labs__albumin={"value": 3.5, "unit": "g/dL"},
            labs__creatinine={"value": 1.0, "unit": "mg/dL"},
        )
    )
    for attribute in ("bilirubin_mg_dl", "albumin_g_dl", "creatinine_mg_dl"):
        assert getattr(si.labs, attribute) == pytest.approx(getattr(conventional.labs, attribute))


# --------------------------------------------------------------------------- optional fields
MINIMAL: dict[str, Any] = {"schema": SCHEMA_ID, "patient": {"id": "MIN-1"}}


def test_minimal_case_parses_with_every_score_none() -> None:
    case = case_from_mapping(MINIMAL)
    assert case.patient.id == "MIN-1"
    assert case.labs.bilirubin_mg_dl is None
    assert case.labs.albumin_g_dl is None
    assert case.labs.creatinine_mg_dl is None
    assert case.liver.lesion_total is None
    assert case.liver.lesions == ()
    assert case.history.biliary_instrumented is None
    assert case.history.treatments_of() == ()
    liver, labs = case.liver, case.labs
    cp = child_pugh(
        bilirubin_mg_dl=labs.bilirubin_mg_dl,
        albumin_g_dl=labs.albumin_g_dl,
        inr=labs.inr,
        ascites=liver.ascites,
        encephalopathy=liver.encephalopathy,
    )
    assert cp.score is None
    assert cp.child_pugh_class is None
    result = albi(bilirubin_mg_dl=labs.bilirubin_mg_dl, albumin_g_dl=labs.albumin_g_dl)
    assert result.score is None
    assert result.grade is None


def test_minimal_case_every_optional_field_is_none() -> None:
    case = case_from_mapping(MINIMAL)
    dumped = case.model_dump(by_alias=True, exclude_none=True)
    assert dumped == {
        "schema": SCHEMA_ID,
        "patient": {"id": "MIN-1"},
        "tumour": {},
        "liver": {"lesions": ()},
        "labs": {},
        "history": {},
        "workup": {},
    }


@pytest.mark.parametrize(
    "text",
    [
        "schema: netlm/case/v1\npatient: {id: MIN-1}\n",
        '{"schema": "netlm/case/v1", "patient": {"id": "MIN-1"}}',
        "schema: netlm/case/v1\npatient:\n  id: MIN-1\ntumour: {}\nliver: {}\nlabs: {}\n",
    ],
)
def test_minimal_text_parses(text: str) -> None:
    assert parse_case(text) == case_from_mapping(MINIMAL)


@pytest.mark.parametrize("section", ["tumour", "liver", "labs", "history", "workup"])
def test_every_section_may_be_left_out(section: str) -> None:
    doc = dict(BASE)
    del doc[section]
    case = case_from_mapping(doc)
    assert getattr(case, section) == getattr(case_from_mapping(MINIMAL), section)


# --------------------------------------------------------------------------- lesions
@pytest.mark.parametrize(
    ("given", "segment"),
    [("4a", 4), ("4b", 4), ("4A", 4), ("IVa", 4), ("ivb", 4), ("4", 4), (" 7 ", 7), (1, 1), (8, 8)],
)
def test_lesion_segment(given: object, segment: int) -> None:
    case = case_from_mapping(edited(liver__lesions=[{"id": "L1", "segment": given}]))
    assert case.liver.lesions[0].segment == segment


@pytest.mark.parametrize(
    ("segment", "lobe"), [(1, None), (2, "left"), ("4a", "left"), (5, "right"), (8, "right")]
)
def test_lesion_lobe(segment: object, lobe: str | None) -> None:
    case = case_from_mapping(edited(liver__lesions=[{"id": "L1", "segment": segment}]))
    assert case.liver.lesions[0].lobe == lobe


def test_lesion_segment_4a_in_yaml() -> None:
    case = parse_case(
        "schema: netlm/case/v1\npatient: {id: S}\n"
        "liver: {lesions: [{id: A, segment: 4a}, {id: B, segment: 4b}]}\n"
    )
    assert [lesion.segment for lesion in case.liver.lesions] == [4, 4]
    assert case.liver.lesion_total == 2


def test_too_numerous_lesions() -> None:
    case = case_from_mapping(edited(liver__lesion_count="too_numerous"))
    assert case.liver.lesion_total == "too_numerous"


# --------------------------------------------------------------------------- biliary
@pytest.mark.parametrize(
    ("given", "expected", "instrumented"),
    [
        ("none", (BiliaryIntervention.NONE,), False),
        ("sphincterotomy", (BiliaryIntervention.SPHINCTEROTOMY,), True),
        (["none"], (BiliaryIntervention.NONE,), False),
        (["metal_stent"], (BiliaryIntervention.METAL_STENT,), True),
        (
            ["bilioenteric_anastomosis", "plastic_stent"],
            (BiliaryIntervention.BILIOENTERIC_ANASTOMOSIS, BiliaryIntervention.PLASTIC_STENT),
            True,
        ),
    ],
)
def test_biliary_intervention_string_or_list(
    given: object, expected: tuple[BiliaryIntervention, ...], instrumented: bool
) -> None:
    case = case_from_mapping(edited(history__biliary_intervention=given))
    assert case.history.biliary_intervention == expected
    assert case.history.biliary_instrumented is instrumented


def test_biliary_intervention_yaml_scalar_equals_list() -> None:
    head = "schema: netlm/case/v1\npatient: {id: B}\n"
    scalar = parse_case(head + "history: {biliary_intervention: sphincterotomy}\n")
    listed = parse_case(head + "history:\n  biliary_intervention:\n    - sphincterotomy\n")
    assert scalar == listed


# --------------------------------------------------------------------------- misc
def test_case_is_frozen() -> None:
    case = case_from_mapping(BASE)
    with pytest.raises(ValueError, match="frozen"):
        case.patient.id = "other"  # type: ignore[misc]


def test_dates_are_parsed() -> None:
    case = load_case(SHARED / "examples" / "case-bilobar-tare.yaml")
    treatments = case.history.prior_treatments
    assert treatments is not None
    assert str(treatments[0].start) == "2024-02-01"
    assert str(treatments[1].end) == "2025-01-15"
