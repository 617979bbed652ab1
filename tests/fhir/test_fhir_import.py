"""Filling a case from a FHIR Bundle: round trip, unit conversion, refusals naming the resource."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import make_case
from netlm.case import Case, load_case, parse_case
from netlm.case.model import Labs
from netlm.cli import app
from netlm.fhir import bundle_json, case_bundle, codes, import_bundle
from netlm.fhir.importer import FhirImportError

EXAMPLES = sorted(
    p.name
    for p in resources.files("netlm").joinpath("examples").iterdir()
    if p.name.startswith("case-")
)


def example(name: str) -> Case:
    return parse_case(resources.files("netlm").joinpath("examples", name).read_text())


def bundle_of(case: Case) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bundle_json(case_bundle(case)))
    return data


def emptied(case: Case) -> Case:
    """The case without labs, ECOG, Ki-67 and mitoses."""
    return case.model_copy(
        update={
            "labs": Labs(),
            "patient": case.patient.model_copy(update={"ecog": None}),
            "tumour": case.tumour.model_copy(
                update={"ki67_percent": None, "mitoses_per_2mm2": None}
            ),
        }
    )


def lab_entry(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and any(x["code"] == code for x in e["resource"]["code"]["coding"])
    ]
    return found


def refused(data: dict[str, Any], case: Case) -> list[tuple[str, str]]:
    with pytest.raises(FhirImportError) as info:
        import_bundle(data, case)
    return info.value.problems


@pytest.mark.parametrize("name", EXAMPLES)
def test_round_trip_gives_the_same_labs_and_observations(name: str) -> None:
    case = example(name)
    result = import_bundle(bundle_of(case), emptied(case))
    assert result.case.labs == case.labs
    assert result.case.patient.ecog == case.patient.ecog
    assert result.case.tumour.ki67_percent == case.tumour.ki67_percent
    assert result.case.tumour.mitoses_per_2mm2 == case.tumour.mitoses_per_2mm2
    assert result.case == case  # nothing else changed


def test_units_are_converted_as_for_case_files() -> None:
    source = make_case(
        labs__bilirubin={"value": 51.3, "unit": "umol/L", "uln": 20.52},
        labs__albumin={"value": 35, "unit": "g/L"},
        labs__creatinine={"value": 88.4, "unit": "umol/L"},
    )
    result = import_bundle(bundle_of(source), emptied(source))
    labs = result.case.labs
    assert labs.bilirubin_mg_dl == 3.0  # 51.3 / 17.1
    assert labs.bilirubin is not None and labs.bilirubin.canonical_limit("uln") == pytest.approx(
        1.2, abs=1e-9
    )
    assert labs.albumin_g_dl == 3.5
    assert labs.creatinine_mg_dl == 1.0


def test_a_ucum_spelling_is_read_through_the_unit_table() -> None:
    case = make_case()
    data = bundle_of(case)
    bili = lab_entry(data, "1975-2")
    bili["valueQuantity"] = {"value": 1.5, "unit": "mg/dl"}  # no UCUM system: unit text
    result = import_bundle(data, emptied(case))
    assert result.case.labs.bilirubin_mg_dl == 1.5


def test_unknown_code_is_refused_naming_the_resource() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "777-3")
    obs["code"]["coding"] = [{"system": codes.LOINC, "code": "2345-7"}]  # glucose
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']}.code"
    assert "2345-7" in problem[1]


def test_unknown_unit_is_refused_naming_the_field() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "1975-2")
    obs["valueQuantity"] = {"value": 1.0, "unit": "mg/kg", "system": codes.UCUM, "code": "mg/kg"}
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']}.valueQuantity.unit"
    assert "mg/kg" in problem[1]


def test_a_molar_unit_on_the_mass_code_is_refused() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "1975-2")  # Bilirubin [Mass/volume]
    obs["valueQuantity"] = {"value": 20, "unit": "umol/L", "system": codes.UCUM, "code": "umol/L"}
    (problem,) = refused(data, case)
    assert problem[0].endswith(".valueQuantity.unit")
    assert "does not fit" in problem[1]


def test_a_plain_number_field_needs_its_unit() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "777-3")  # platelets in 10*9/L
    obs["valueQuantity"] = {"value": 220000, "unit": "/uL"}
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']}.valueQuantity.unit"


def test_a_bound_is_not_read_as_a_value() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "1975-2")
    obs["valueQuantity"]["comparator"] = "<"
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']}.valueQuantity.comparator"


def test_an_absent_value_is_skipped_and_a_missing_one_refused() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "6301-6")
    del obs["valueQuantity"]
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']}.valueQuantity"
    obs["dataAbsentReason"] = {"text": "not performed"}
    result = import_bundle(data, emptied(case))
    assert result.case.labs.inr is None
    assert any("dataAbsentReason" in line for line in result.skipped)


def test_an_implausible_value_is_refused_naming_the_observation_and_case_field() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "1975-2")
    obs["valueQuantity"]["value"] = 40.0  # mg/dL: a unit mix-up
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']} -> labs.bilirubin.value"
    assert "implausible" in problem[1]


def test_another_patients_bundle_is_refused() -> None:
    case = make_case()
    other = make_case(patient__id="SOMEONE-ELSE")
    (problem,) = refused(bundle_of(other), case)
    assert problem[0].endswith(".identifier")
    assert "not the same patient" in problem[1]


def test_a_bundle_without_a_patient_is_refused() -> None:
    case = make_case()
    data = bundle_of(case)
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Patient"]
    (problem,) = refused(data, case)
    assert "no Patient" in problem[1]


def test_an_observation_about_someone_else_is_refused() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "6301-6")
    obs["subject"] = {"reference": "Patient/somebody"}
    (problem,) = refused(data, case)
    assert problem[0] == f"Observation/{obs['id']}.subject"


def test_the_most_recent_value_wins_and_a_same_day_conflict_is_refused() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "6301-6")
    obs["effectiveDateTime"] = "2026-01-10"
    newer = copy.deepcopy(obs)
    newer["id"] = "inr-newer"
    newer["effectiveDateTime"] = "2026-02-10"
    newer["valueQuantity"]["value"] = 1.4
    data["entry"].append({"fullUrl": "urn:uuid:inr-newer", "resource": newer})
    result = import_bundle(data, emptied(case))
    assert result.case.labs.inr == 1.4
    assert result.case.labs.date is not None and result.case.labs.date.isoformat() == "2026-02-10"
    assert dict(result.filled)["labs.inr"] == "Observation/inr-newer"
    assert any("labs.date" in w for w in result.warnings)  # undated values now under it

    newer["effectiveDateTime"] = "2026-01-10"
    (problem,) = refused(data, case)
    assert "conflicts" in problem[1] and problem[0] == "Observation/inr-newer.value[x]"

    newer["valueQuantity"]["value"] = obs["valueQuantity"]["value"]  # same value: no conflict
    assert import_bundle(data, emptied(case)).case.labs.inr == case.labs.inr


def test_unfinished_observations_are_skipped() -> None:
    case = make_case()
    data = bundle_of(case)
    obs = lab_entry(data, "6301-6")
    obs["status"] = "preliminary"
    result = import_bundle(data, emptied(case))
    assert result.case.labs.inr is None
    assert any(obs["id"] in line and "preliminary" in line for line in result.skipped)


def test_a_structurally_invalid_bundle_is_refused() -> None:
    case = make_case()
    data = bundle_of(case)
    data["entry"][0]["resource"]["gender"] = 7
    problems = refused(data, case)
    assert problems and "gender" in problems[0][0]
    with pytest.raises(FhirImportError):
        import_bundle({"resourceType": "Patient"}, case)


def test_cli_export_then_import(tmp_path: Path) -> None:
    source = resources.files("netlm").joinpath("examples", "case-bilobar-tare.yaml")
    case_file = tmp_path / "case.yaml"
    case_file.write_text(source.read_text())
    bundle_file = tmp_path / "bundle.json"
    runner = CliRunner()
    r = runner.invoke(app, ["fhir", "export", "--case", str(case_file), "-o", str(bundle_file)])
    assert r.exit_code == 0, r.output
    assert json.loads(bundle_file.read_text())["resourceType"] == "Bundle"

    empty = yaml.safe_load(source.read_text())
    del empty["labs"]
    empty_file = tmp_path / "empty.yaml"
    empty_file.write_text(yaml.safe_dump(empty))
    new_file = tmp_path / "new.yaml"
    r = runner.invoke(
        app,
        ["fhir", "import", str(bundle_file), "--case", str(empty_file), "--out", str(new_file)],
    )
    assert r.exit_code == 0, r.output
    assert load_case(new_file).labs == load_case(case_file).labs
    assert "labs.bilirubin <- Observation/" in r.stderr

    r = runner.invoke(
        app,
        [
            "fhir",
            "import",
            str(bundle_file),
            "--case",
            str(empty_file),
            "-o",
            str(new_file),
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert {x["field"] for x in report["filled"]} >= {"labs.bilirubin", "patient.ecog"}

    bad = json.loads(bundle_file.read_text())
    bad["entry"][0]["resource"]["identifier"][0]["value"] = "NOT-EX-001"
    bundle_file.write_text(json.dumps(bad))
    r = runner.invoke(
        app,
        ["fhir", "import", str(bundle_file), "--case", str(empty_file), "--out", str(new_file)],
    )
    assert r.exit_code == 2
    assert "identifier" in r.stderr and "not the same patient" in r.stderr


def test_cli_export_needs_a_patient_or_a_case(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["fhir", "export"])
    assert r.exit_code == 2 and "PATIENT_ID" in r.stderr
    case_file = tmp_path / "c.yaml"
    case_file.write_text("schema: netlm/case/v1\npatient: {id: A, ecog: 9}\n")
    r = CliRunner().invoke(app, ["fhir", "export", "--case", str(case_file)])
    assert r.exit_code == 2 and "patient.ecog" in r.stderr
