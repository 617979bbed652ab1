"""Bad case input gives a CaseError naming each field path and its problem; netlm.units."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BASE, DELETE, edited
from netlm.case import SCHEMA_ID, case_from_mapping, load_case, parse_case
from netlm.errors import CaseError, NetlmError, UnitError
from netlm.units import (
    ALBUMIN_G_L_PER_G_DL,
    BILIRUBIN_UMOL_L_PER_MG_DL,
    CREATININE_UMOL_L_PER_MG_DL,
    canonical_unit,
    convert,
    units_for,
)


def _problems(doc: object) -> list[tuple[str, str]]:
    with pytest.raises(CaseError) as info:
        case_from_mapping(doc)
    return info.value.problems


def _text_problems(text: str | bytes, fmt: str = "yaml") -> list[tuple[str, str]]:
    with pytest.raises(CaseError) as info:
        parse_case(text, format=fmt)  # type: ignore[arg-type]
    return info.value.problems


def _has(problems: list[tuple[str, str]], path: str, fragment: str) -> bool:
    return any(p == path and fragment.lower() in m.lower() for p, m in problems)


# --------------------------------------------------------------------------- one bad field
BAD_FIELDS: list[tuple[str, dict[str, Any], str, str]] = [
    # (id, changes to BASE, expected field path, expected message fragment)
    ("enum", {"tumour__differentiation": "moderate"}, "tumour.differentiation", "'well'"),
    ("enum-sex", {"patient__sex": "f"}, "patient.sex", "'female'"),
    (
        "unknown-unit",
        {"labs__bilirubin": {"value": 1.0, "unit": "mmol/L"}},
        "labs.bilirubin.unit",
        "unknown unit",
    ),
    (
        "unit-of-another-analyte",
        {"labs__albumin": {"value": 35, "unit": "umol/L"}},
        "labs.albumin.unit",
        "unknown unit",
    ),
    ("unknown-field", {"patient__foo": 1}, "patient.foo", "unknown field"),
    ("unknown-section", {"imaging": {}}, "imaging", "unknown field"),
    ("negative-volume", {"liver__volume_ml": -1200}, "liver.volume_ml", "greater than 0"),
    ("zero-volume", {"liver__volume_ml": 0}, "liver.volume_ml", "greater than 0"),
    ("tiny-volume", {"liver__volume_ml": 1.6}, "liver.volume_ml", "implausible"),
    (
        "tumour-larger-than-liver",
        {"liver__tumour_volume_ml": 1601},
        "liver.tumour_volume_ml",
        "larger than the liver",
    ),
    ("negative-tumour", {"liver__tumour_volume_ml": -1}, "liver.tumour_volume_ml", "greater"),
    (
        "lsf-above-1",
        {"workup__lung_shunt_fraction": 1.4},
        "workup.lung_shunt_fraction",
        "less than or equal to 1",
    ),
    (
        "lsf-percent",
        {"workup__lung_shunt_fraction": 7},
        "workup.lung_shunt_fraction",
        "less than or equal to 1",
    ),
    (
        "lsf-negative",
        {"workup__lung_shunt_fraction": -0.1},
        "workup.lung_shunt_fraction",
        "greater than or equal to 0",
    ),
    (
        "bilirubin-40-mg-dl",
        {"labs__bilirubin": {"value": 40, "unit": "mg/dL"}},
        "labs.bilirubin.value",
        "implausible",
    ),
    (
        "bilirubin-negative",
        {"labs__bilirubin": {"value": -1, "unit": "mg/dL"}},
        "labs.bilirubin.value",
        "greater than or equal to 0",
    ),
    (
        "albumin-40-g-dl",
        {"labs__albumin": {"value": 40, "unit": "g/dL"}},
        "labs.albumin.value",
        "implausible",
    ),
    (
        "creatinine-88-mg-dl",
        {"labs__creatinine": {"value": 88.4, "unit": "mg/dL"}},
        "labs.creatinine.value",
        "implausible",
    ),
    (
        "lab-without-unit",
        {"labs__bilirubin": {"value": 1.0}},
        "labs.bilirubin.unit",
        "is required",
    ),
    (
        "lab-as-bare-number",
        {"labs__bilirubin": 1.0},
        "labs.bilirubin",
        "valid dictionary",
    ),
    (
        "lln-above-uln",
        {"labs__ast": {"value": 30, "unit": "U/L", "uln": 40, "lln": 50}},
        "labs.ast.lln",
        "below uln",
    ),
    (
        "ki67-100.1",
        {"tumour__ki67_percent": 100.1},
        "tumour.ki67_percent",
        "less than or equal to 100",
    ),
    (
        "ki67-negative",
        {"tumour__ki67_percent": -0.5},
        "tumour.ki67_percent",
        "greater than or equal to 0",
    ),
    ("ecog-5", {"patient__ecog": 5}, "patient.ecog", "less than or equal to 4"),
    ("ecog-fraction", {"patient__ecog": 1.5}, "patient.ecog", "integer"),
    (
        "krenning-5",
        {"tumour__sstr_imaging__krenning_score": 5},
        "tumour.sstr_imaging.krenning_score",
        "less than or equal to 4",
    ),
    (
        "krenning-contradicts-negative-scan",
        {"tumour__sstr_imaging": {"positive": False, "krenning_score": 3}},
        "tumour.sstr_imaging.krenning_score",
        "contradicts",
    ),
    (
        "lesion-count-too-small",
        {"liver__lesion_count": 2, "liver__lesions": [{"id": "a"}, {"id": "b"}, {"id": "c"}]},
        "liver.lesion_count",
        "smaller than the number of lesions",
    ),
    ("lesion-count-negative", {"liver__lesion_count": -1}, "liver.lesion_count", "whole number"),
    ("lesion-count-word", {"liver__lesion_count": "many"}, "liver.lesion_count", "whole number"),
    (
        "duplicate-lesion-ids",
        {"liver__lesion_count": DELETE, "liver__lesions": [{"id": "L1"}, {"id": "L1"}]},
        "liver.lesions",
        "unique; repeated: L1",
    ),
    (
        "segment-9",
        {"liver__lesions": [{"id": "L1", "segment": 9}]},
        "liver.lesions[0].segment",
        "",
    ),
    (
        "segment-4c",
        {"liver__lesions": [{"id": "L1", "segment": "4c"}]},
        "liver.lesions[0].segment",
        "",
    ),
    (
        "zero-diameter",
        {"liver__lesions": [{"id": "L1", "longest_diameter_mm": 0}]},
        "liver.lesions[0].longest_diameter_mm",
        "greater than 0",
    ),
    (
        "treatment-ends-before-start",
        {
            "history__prior_treatments": [
                {"type": "prrt", "start": "2024-05-01", "end": "2024-04-30"}
            ]
        },
        "history.prior_treatments[0].end",
        "before start",
    ),
    (
        "treatment-type-unknown",
        {"history__prior_treatments": [{"type": "surgery"}]},
        "history.prior_treatments[0].type",
        "",
    ),
    (
        "treatment-type-missing",
        {"history__prior_treatments": [{"agent": "lanreotide"}]},
        "history.prior_treatments[0].type",
        "is required",
    ),
    (
        "biliary-none-with-other",
        {"history__biliary_intervention": ["none", "metal_stent"]},
        "history.biliary_intervention",
        "cannot be combined",
    ),
    (
        "fdg-positive-not-performed",
        {"tumour__fdg_pet": {"performed": False, "positive": True}},
        "tumour.fdg_pet.positive",
        "performed is false",
    ),
    ("bad-date", {"labs__date": "2024-02-30"}, "labs.date", "date"),
    ("wrong-schema", {"schema": "netlm/case/v2"}, "schema", "unsupported schema"),
    ("schema-not-a-string", {"schema": 1}, "schema", "unsupported schema"),
    ("missing-schema", {"schema": DELETE}, "schema", "is required"),
    ("missing-patient", {"patient": DELETE}, "patient", "is required"),
    ("missing-patient-id", {"patient__id": DELETE}, "patient.id", "is required"),
    ("blank-patient-id", {"patient__id": "   "}, "patient.id", "blank"),
    ("empty-patient-id", {"patient__id": ""}, "patient.id", "at least 1 character"),
    ("numeric-patient-id", {"patient__id": 17}, "patient.id", "valid string"),
    ("section-not-a-mapping", {"liver": [1, 2]}, "liver", "valid dictionary"),
]


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [pytest.param(c, p, f, id=i) for i, c, p, f in BAD_FIELDS],
)
def test_bad_field_names_path_and_problem(
    changes: dict[str, Any], path: str, fragment: str
) -> None:
    problems = _problems(edited(**changes))
    assert _has(problems, path, fragment), problems


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [pytest.param(c, p, f, id=i) for i, c, p, f in BAD_FIELDS],
)
def test_bad_field_is_reported_from_yaml_and_json_too(
    changes: dict[str, Any], path: str, fragment: str
) -> None:
    doc = edited(**changes)
    for problems in (
        _text_problems(yaml.safe_dump(doc)),
        _text_problems(json.dumps(doc), "json"),
    ):
        assert _has(problems, path, fragment), problems


def test_message_text_carries_path_and_problem() -> None:
    with pytest.raises(CaseError, match=r"patient\.ecog: .*less than or equal to 4"):
        case_from_mapping(edited(patient__ecog=5))
    with pytest.raises(CaseError, match=r"tumour\.differentiation: "):
        case_from_mapping(edited(tumour__differentiation="moderate"))


# --------------------------------------------------------------------------- boundaries that pass
ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("bilirubin-40-umol-l", {"labs__bilirubin": {"value": 40, "unit": "µmol/L"}}),
    ("bilirubin-30-mg-dl", {"labs__bilirubin": {"value": 30, "unit": "mg/dL"}}),
    ("albumin-40-g-l", {"labs__albumin": {"value": 40, "unit": "g/L"}}),
    ("albumin-7-g-dl", {"labs__albumin": {"value": 7, "unit": "g/dL"}}),
    ("creatinine-88.4-umol-l", {"labs__creatinine": {"value": 88.4, "unit": "umol/L"}}),
    ("ki67-100", {"tumour__ki67_percent": 100}),
    ("ki67-0", {"tumour__ki67_percent": 0}),
    ("lsf-0", {"workup__lung_shunt_fraction": 0}),
    ("lsf-1", {"workup__lung_shunt_fraction": 1}),
    ("ecog-4", {"patient__ecog": 4}),
    ("ecog-0", {"patient__ecog": 0}),
    ("tumour-equals-liver", {"liver__tumour_volume_ml": 1600}),
    ("lesion-count-equals-listed", {"liver__lesion_count": 1}),
    ("lesion-count-above-listed", {"liver__lesion_count": 12}),
    (
        "treatment-one-day",
        {
            "history__prior_treatments": [
                {"type": "tare", "start": "2024-05-01", "end": "2024-05-01"}
            ]
        },
    ),
]


@pytest.mark.parametrize("changes", [pytest.param(c, id=i) for i, c in ACCEPTED])
def test_boundary_values_are_accepted(changes: dict[str, Any]) -> None:
    case_from_mapping(edited(**changes))


def test_bilirubin_40_umol_l_is_about_2_3_mg_dl() -> None:
    case = case_from_mapping(edited(labs__bilirubin={"value": 40, "unit": "umol/L"}))
    assert case.labs.bilirubin_mg_dl == pytest.approx(40 / 17.1)


# --------------------------------------------------------------------------- NaN and infinity
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("fragment", "path"),
    [
        ('"patient": {"id": "A", "age_years": %s}', "patient.age_years"),
        ('"patient": {"id": "A"}, "labs": {"inr": %s}', "labs.inr"),
        (
            '"patient": {"id": "A"}, "labs": {"bilirubin": {"value": %s, "unit": "mg/dL"}}',
            "labs.bilirubin.value",
        ),
        ('"patient": {"id": "A"}, "liver": {"volume_ml": %s}', "liver.volume_ml"),
        (
            '"patient": {"id": "A"}, "workup": {"lung_shunt_fraction": %s}',
            "workup.lung_shunt_fraction",
        ),
    ],
)
def test_json_nan_and_infinity_are_refused(token: str, fragment: str, path: str) -> None:
    text = '{"schema": "netlm/case/v1", ' + (fragment % token) + "}"
    problems = _text_problems(text, "json")
    assert [p for p, _ in problems] == [path]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_python_nan_and_infinity_are_refused(value: float) -> None:
    assert _has(_problems(edited(tumour__ki67_percent=value)), "tumour.ki67_percent", "finite")


@pytest.mark.parametrize("token", [".nan", ".inf", "-.inf", ".NaN"])
def test_yaml_nan_and_infinity_are_refused(token: str) -> None:
    problems = _text_problems(f"schema: netlm/case/v1\npatient: {{id: A, height_cm: {token}}}")
    assert _has(problems, "patient.height_cm", "finite")


# --------------------------------------------------------------------------- not a case at all
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- schema: netlm/case/v1\n- patient: {id: A}\n", "mapping, not list"),
        ("42", "mapping, not int"),
        ("just a sentence", "mapping, not str"),
        ("", "mapping, not NoneType"),
        ("~", "mapping, not NoneType"),
        ("schema: netlm/case/v1\npatient: {id: A\n", "not valid YAML"),
        ("schema: netlm/case/v1\n  patient: x\n bad: [", "not valid YAML"),
        ("schema: netlm/case/v1\npatient: *nowhere\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['true']", "not valid YAML"),
        ("1: x\nschema: netlm/case/v1\n", "key"),
    ],
)
def test_yaml_that_is_not_a_case(text: str, fragment: str) -> None:
    problems = _text_problems(text)
    assert any(fragment.lower() in m.lower() for _, m in problems), problems


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[1, 2]", "mapping, not list"),
        ('"netlm/case/v1"', "mapping, not str"),
        ("null", "mapping, not NoneType"),
        ("NaN", "mapping, not float"),
        ('{"schema": "netlm/case/v1",}', "not valid JSON"),
        ("schema: netlm/case/v1", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_json_that_is_not_a_case(text: str, fragment: str) -> None:
    problems = _text_problems(text, "json")
    assert any(fragment.lower() in m.lower() for _, m in problems), problems


@pytest.mark.parametrize(
    "data", [b"\xff\xfe\x00s\x00c", b"schema: netlm/case/v1\npatient: {id: \xe9}\n", b"\x80"]
)
def test_non_utf8_bytes(data: bytes) -> None:
    problems = _text_problems(data)
    assert any("UTF-8" in m for _, m in problems), problems


def test_utf8_bytes_are_accepted() -> None:
    case = parse_case("schema: netlm/case/v1\npatient: {id: Zoë}\n".encode())
    assert case.patient.id == "Zoë"


def test_unknown_format() -> None:
    with pytest.raises(CaseError, match="unknown format"):
        parse_case("{}", format="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [[BASE], "netlm/case/v1", 3, None, {1: "x"}])
def test_case_from_mapping_refuses_non_mappings(data: object) -> None:
    problems = _problems(data)
    assert problems[0][0] == ""


# ------------------------------------------------------------------ inputs that once escaped
@pytest.mark.parametrize(
    "text",
    [
        # PyYAML's constructors for explicitly tagged scalars raise KeyError,
        # IndexError or AttributeError on bad values.
        "schema: netlm/case/v1\npatient: {id: A, anaesthesia_contraindicated: !!bool maybe}",
        "a: !!bool ''",
        "a: !!int ''",
        "a: !!int '-'",
        "a: !!int '_'",
        "a: !!float ''",
        "a: !!timestamp yesterday",
        "schema: netlm/case/v1\npatient: {id: A}\nlabs: {date: !!timestamp 'x'}",
        # YAML hex/binary/octal/sexagesimal ints have no digit limit; printing
        # one with more than 4300 decimal digits raised ValueError.
        "schema: netlm/case/v1\npatient: {id: A, ecog: 0x" + "F" * 4000 + "}",
        "schema: netlm/case/v1\npatient: {id: A, ecog: 0b" + "1" * 15000 + "}",
        "schema: netlm/case/v1\npatient: {id: 0x" + "F" * 4000 + "}",
        "schema: netlm/case/v1\npatient: {id: A}\nliver: {lesion_count: 0x" + "F" * 4000 + "}",
        "schema: 0x" + "F" * 4000 + "\npatient: {id: A}",
        "schema: netlm/case/v1\npatient:\n  id: A\n  ? 0x" + "F" * 4000 + "\n  : 1\n",
        # Deep nesting.
        "[" * 50_000,
        "schema: netlm/case/v1\npatient: {id: A, foo: " + "{a: " * 3000 + "}",
    ],
)
def test_hostile_yaml_gives_case_error(text: str) -> None:
    with pytest.raises(CaseError) as info:
        parse_case(text)
    assert info.value.problems
    assert str(info.value).startswith("invalid case: ")


def test_hostile_mapping_gives_case_error() -> None:
    problems = _problems(edited(patient__ecog=10**5000))
    assert _has(problems, "patient.ecog", "")
    assert _problems({"schema": 10**5000, "patient": {"id": "A"}})[0][0] == "schema"


# --------------------------------------------------------------------------- several at once
def test_several_problems_are_reported_together() -> None:
    doc = edited(
        patient__ecog=5,
        patient__foo="bar",
        tumour__differentiation="moderate",
        tumour__ki67_percent=100.1,
        liver__volume_ml=-3,
        labs__bilirubin={"value": 40, "unit": "mg/dL"},
        labs__albumin={"value": 3.5, "unit": "mmol/L"},
        workup__lung_shunt_fraction=1.4,
        history__prior_treatments=[{"type": "ssa", "start": "2024-02-01", "end": "2023-01-01"}],
    )
    with pytest.raises(CaseError) as info:
        case_from_mapping(doc)
    error = info.value
    expected = {
        "patient.ecog",
        "patient.foo",
        "tumour.differentiation",
        "tumour.ki67_percent",
        "liver.volume_ml",
        "labs.bilirubin.value",
        "labs.albumin.unit",
        "workup.lung_shunt_fraction",
        "history.prior_treatments[0].end",
    }
    assert set(error.fields) == expected
    assert len(error.problems) == len(expected)
    for path in expected:
        assert path + ": " in str(error)


def test_case_error_is_a_value_error_and_netlm_error() -> None:
    with pytest.raises(CaseError) as info:
        case_from_mapping({"schema": SCHEMA_ID})
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, NetlmError)
    assert info.value.fields == ["patient"]


def test_case_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        CaseError([])


# --------------------------------------------------------------------------- files
def test_load_case_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="cannot read") as info:
        load_case(tmp_path / "absent.yaml")
    assert info.value.problems[0][0] == ""


def test_load_case_directory(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="cannot read"):
        load_case(tmp_path)


def test_load_case_bad_json_file(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text("schema: netlm/case/v1\npatient: {id: A}\n", encoding="utf-8")
    with pytest.raises(CaseError, match="not valid JSON"):
        load_case(path)


def test_load_case_bad_value_in_file(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(edited(patient__ecog=9)), encoding="utf-8")
    with pytest.raises(CaseError) as info:
        load_case(path)
    assert info.value.fields == ["patient.ecog"]


# --------------------------------------------------------------------------- units.py
FACTOR_PAIRS = [
    ("bilirubin", "mg/dL", "umol/L", BILIRUBIN_UMOL_L_PER_MG_DL),
    ("albumin", "g/dL", "g/L", ALBUMIN_G_L_PER_G_DL),
    ("creatinine", "mg/dL", "umol/L", CREATININE_UMOL_L_PER_MG_DL),
    ("activity", "GBq", "MBq", 1000.0),
    ("activity", "mCi", "MBq", 37.0),
    ("activity", "mCi", "GBq", 0.037),
]


def test_published_factors() -> None:
    assert BILIRUBIN_UMOL_L_PER_MG_DL == 17.1
    assert ALBUMIN_G_L_PER_G_DL == 10.0
    assert CREATININE_UMOL_L_PER_MG_DL == 88.4


@pytest.mark.parametrize(("analyte", "a", "b", "factor"), FACTOR_PAIRS)
@pytest.mark.parametrize("value", [0.0, 0.37, 1.0, 17.1, 1234.5])
def test_convert_round_trip(analyte: str, a: str, b: str, factor: float, value: float) -> None:
    there = convert(value, a, b, analyte=analyte)
    assert there == pytest.approx(value * factor)
    assert convert(there, b, a, analyte=analyte) == pytest.approx(value)


@pytest.mark.parametrize(("analyte", "a", "b", "factor"), FACTOR_PAIRS)
def test_convert_same_unit_is_identity(analyte: str, a: str, b: str, factor: float) -> None:
    assert convert(2.5, a, a, analyte=analyte) == 2.5
    assert convert(2.5, b, b.lower(), analyte=analyte) == 2.5


def test_convert_activity_chain_is_consistent() -> None:
    via_mbq = convert(
        convert(2.0, "mCi", "MBq", analyte="activity"), "MBq", "GBq", analyte="activity"
    )
    assert via_mbq == pytest.approx(convert(2.0, "mCi", "GBq", analyte="activity"))


def test_convert_accepts_spellings() -> None:
    assert convert(1.0, "MG/DL", "µmol/l", analyte="bilirubin") == pytest.approx(17.1)
    assert convert(17.1, "μmol/L", "mg/dl", analyte="bilirubin") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("value", "a", "b", "analyte"),
    [
        (1.0, "mmol/L", "mg/dL", "bilirubin"),
        (1.0, "mg/dL", "furlongs", "bilirubin"),
        (1.0, "", "mg/dL", "bilirubin"),
        (1.0, "mg/dL", "g/L", "bilirubin"),
        (1.0, "g/dL", "umol/L", "albumin"),
        (1.0, "mg/dL", "umol/L", "albumin"),
        (1.0, "mg/dL", "umol/L", "glucose"),
        (1.0, "GBq", "mCi", "bilirubin"),
    ],
)
def test_convert_refuses(value: float, a: str, b: str, analyte: str) -> None:
    with pytest.raises(UnitError):
        convert(value, a, b, analyte=analyte)


def test_unit_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown unit 'mmol/L'"):
        canonical_unit("mmol/L")
    with pytest.raises(NetlmError):
        convert(1, "mg/dL", "g/L", analyte="bilirubin")


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("mg/dl", "mg/dL"),
        ("µmol/L", "umol/L"),
        ("μmol/L", "umol/L"),
        ("umol/l", "umol/L"),
        ("IU/L", "U/L"),
        ("µg/L", "ng/mL"),
        ("ng/L", "pg/mL"),
        (" GBQ ", "GBq"),
    ],
)
def test_canonical_unit(spelling: str, canonical: str) -> None:
    assert canonical_unit(spelling) == canonical


def test_units_for() -> None:
    assert units_for("bilirubin") == {"mg/dL", "umol/L"}
    assert units_for("albumin") == {"g/dL", "g/L"}
    assert units_for("creatinine") == {"mg/dL", "umol/L"}
    assert units_for("activity") == {"GBq", "MBq", "mCi"}
    assert units_for("glucose") == frozenset()


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"patient__ecog": True}, "patient.ecog"),
        ({"workup__lung_shunt_fraction": True}, "workup.lung_shunt_fraction"),
        ({"tumour__ki67_percent": False}, "tumour.ki67_percent"),
        ({"labs__bilirubin": {"value": True, "unit": "mg/dL"}}, "labs.bilirubin.value"),
        ({"labs__platelets_10e9_per_l": True}, "labs.platelets_10e9_per_l"),
    ],
)
def test_true_false_is_not_a_number(changes: dict[str, Any], path: str) -> None:
    # pydantic's lax mode would read `ecog: true` as ECOG 1: refused instead.
    assert _has(_problems(edited(**changes)), path, "must be a number")


def test_booleans_still_accepted_where_a_yes_no_is_asked() -> None:
    case = case_from_mapping(edited(tumour__primary_resected=False, liver__ascites="none"))
    assert case.tumour.primary_resected is False
