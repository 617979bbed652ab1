"""The case form (``netlm/case/v1``): sections of inputs, a lesion table, the rest as YAML.

:func:`case_form_values` fills the form from a case document and
:func:`case_from_form` reads a submitted form back into a document, checked by
:func:`netlm.case.case_from_mapping` like a case file; each problem is named by
the input it belongs to (:func:`case_problems`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import yaml

from netlm.api.forms.inputs import (
    Input,
    Problems,
    Row,
    Table,
    column,
    convert,
    delete_path,
    dump_extra,
    field_input,
    get_path,
    place_problems,
    prune,
    read_extra,
    row_problem,
    set_path,
    shown,
)
from netlm.case import SCHEMA_ID, Case, case_from_mapping
from netlm.case.model import Lesion
from netlm.errors import CaseError

#: The name of the "advanced" YAML box of the case form.
EXTRA_FIELD = "extra_yaml"


# --------------------------------------------------------------------------- the case form
def _input(path: str) -> Input:
    return field_input(Case, path)


def _row(label: str, *paths: str, hint: str = "") -> Row:
    return Row(label, tuple(_input(p) for p in paths), hint)


def _lab(label: str, name: str, *, uln: bool = False) -> Row:
    """A laboratory value: its value, its unit (the canonical one first) and, for the
    analytes whose rules read it, the laboratory's upper limit of normal."""
    value, unit = _input(f"labs.{name}.value"), _input(f"labs.{name}.unit")
    inputs = [value, replace(unit, label=f"{label} unit")]
    if uln:
        upper = _input(f"labs.{name}.uln")
        inputs.append(replace(upper, placeholder="ULN", label=f"{label} upper limit of normal"))
    return Row(label, tuple(inputs), "value, unit" + (", ULN" if uln else ""))


@functools.cache
def case_form_sections() -> tuple[tuple[str, tuple[Row, ...]], ...]:
    """The sections of the case form; every other field is edited as YAML below them."""
    return (
        (
            "Patient",
            (
                _row("Patient id", "patient.id", hint="as registered"),
                _row("Age (years)", "patient.age_years"),
                _row("Sex", "patient.sex"),
                _row("ECOG performance status", "patient.ecog"),
                _row("Height (cm)", "patient.height_cm"),
                _row("Weight (kg)", "patient.weight_kg"),
                _row("Life expectancy (months)", "patient.life_expectancy_months"),
                _row("Anaesthesia contraindicated", "patient.anaesthesia_contraindicated"),
                _row("Pulmonary function", "patient.pulmonary_function"),
            ),
        ),
        (
            "Tumour",
            (
                _row("Primary site", "tumour.primary_site"),
                _row("Primary resected", "tumour.primary_resected"),
                _row("Differentiation", "tumour.differentiation"),
                _row("Ki-67 (%)", "tumour.ki67_percent"),
                _row("Mitoses per 2 mm²", "tumour.mitoses_per_2mm2"),
                _row("Functional syndrome", "tumour.functional_syndrome"),
                _row("Symptoms refractory to SSA", "tumour.symptoms_refractory_to_ssa"),
                _row("SSTR imaging", "tumour.sstr_imaging.modality"),
                _row("SSTR imaging positive", "tumour.sstr_imaging.positive"),
                _row("Krenning score", "tumour.sstr_imaging.krenning_score"),
                _row("FDG PET performed", "tumour.fdg_pet.performed"),
                _row("FDG PET positive", "tumour.fdg_pet.positive"),
                _row("Extrahepatic disease", "tumour.extrahepatic_disease"),
                _row("Extrahepatic disease resectable", "tumour.extrahepatic_resectable"),
                _row("Liver disease course", "tumour.liver_disease_course"),
                _row("Months stable", "tumour.months_stable"),
            ),
        ),
        (
            "Liver",
            (
                _row("Liver volume (mL)", "liver.volume_ml"),
                _row("Tumour volume (mL)", "liver.tumour_volume_ml"),
                _row("Involvement (%)", "liver.involvement_percent"),
                _row("Involvement method", "liver.involvement_method"),
                _row("Distribution", "liver.distribution"),
                _row("Lesion count", "liver.lesion_count"),
                _row("Portal vein thrombosis", "liver.portal_vein_thrombosis"),
                _row("Biliary dilatation", "liver.biliary_dilatation"),
                _row("Ascites", "liver.ascites"),
                _row("Encephalopathy", "liver.encephalopathy"),
                _row("Chronic liver disease", "liver.chronic_liver_disease"),
                _row("Resectable (%)", "liver.resectable_percent"),
                _row("Future liver remnant (%)", "liver.future_liver_remnant_percent"),
            ),
        ),
        (
            "Laboratory",
            (
                _row("Date", "labs.date"),
                _lab("Bilirubin", "bilirubin"),
                _lab("Albumin", "albumin"),
                _row("INR", "labs.inr"),
                _lab("AST", "ast", uln=True),
                _lab("ALT", "alt", uln=True),
                _lab("Creatinine", "creatinine"),
                _row("eGFR (mL/min)", "labs.egfr_ml_min"),
                _row("Platelets (10⁹/L)", "labs.platelets_10e9_per_l"),
                _row("Leukocytes (10⁹/L)", "labs.leukocytes_10e9_per_l"),
                _lab("Chromogranin A", "chromogranin_a", uln=True),
            ),
        ),
        (
            "History",
            (
                _row("Contrast allergy", "history.contrast_allergy"),
                _row("Irreversible coagulopathy", "history.irreversible_coagulopathy"),
                _row("Cardiac arrhythmia", "history.cardiac_arrhythmia"),
                _row("Carcinoid heart disease", "history.carcinoid_heart_disease"),
            ),
        ),
        (
            "Radioembolization work-up",
            (
                _row("Lung shunt fraction (0-1)", "workup.lung_shunt_fraction"),
                _row("Lung shunt method", "workup.lung_shunt_method"),
                _row("Extrahepatic collaterals", "workup.extrahepatic_collaterals"),
                _row("Tumour-to-normal ratio", "workup.tumour_to_normal_ratio"),
                _row("Estimated lung dose (Gy)", "workup.estimated_lung_dose_gy"),
                _row("Prior lung dose (Gy)", "workup.prior_lung_dose_gy"),
                _row("MAA date", "workup.maa_date"),
            ),
        ),
    )


def form_inputs() -> list[Input]:
    return [i for _, rows in case_form_sections() for r in rows for i in r.inputs]


#: Where the case keeps its lesions: one row of the lesion table each.
LESIONS = "liver.lesions"
LESION_TABLE = Table(
    LESIONS,
    (
        column(Lesion, "id", "Lesion id"),
        column(Lesion, "segment", "Couinaud segment"),
        column(Lesion, "longest_diameter_mm", "Longest diameter (mm)"),
        column(Lesion, "enhancement", "Enhancement"),
        column(Lesion, "abuts", "Abuts (comma-separated)"),
    ),
    max_rows=200,
)
#: Empty lesion rows offered below the recorded ones.
SPARE_LESION_ROWS = 3


def lesion_input(row: int, column: str) -> str:
    """The name of a lesion table input: the lesion field's path in the case."""
    return LESION_TABLE.name(row, column)


def case_form_names(lesion_rows: int = LESION_TABLE.max_rows) -> set[str]:
    """Every input name of a case form with that many lesion rows."""
    return {i.name for i in form_inputs()} | LESION_TABLE.names(lesion_rows) | {LESIONS}


def case_form_values(document: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(form values by field path, YAML of every other field) of a case document."""
    values = {i.name: shown(get_path(document, i.name)) for i in form_inputs()}
    rest: dict[str, Any] = yaml.safe_load(yaml.safe_dump(dict(document))) or {}
    rest.pop("schema", None)
    for i in form_inputs():
        delete_path(rest, i.name)
    lesions = get_path(rest, LESIONS)
    if LESION_TABLE.fits(lesions):  # the table shows them; anything else stays in the YAML
        values |= LESION_TABLE.values(lesions)
        delete_path(rest, LESIONS)
    return values, dump_extra(rest)


def case_from_form(
    form: Mapping[str, str],
) -> tuple[Case | None, dict[str, Any], Problems]:
    """The case a submitted form describes, the document built and every problem found."""
    problems: Problems = []
    document = read_extra(form.get(EXTRA_FIELD, ""), EXTRA_FIELD, problems)
    for item in form_inputs():
        delete_path(document, item.name)
    skipped: set[str] = set()
    for item in form_inputs():
        raw = form.get(item.name, "").strip()
        group = item.name.rsplit(".", 1)[0]
        if item.name.endswith(".value") and not raw:
            skipped.add(group)
        if not raw or group in skipped:
            continue
        value, error = convert(raw, item)
        if error is not None:
            problems.append((item.name, error))
            continue
        set_path(document, item.name, value)
    used = _lesions_from_form(form, document, problems)
    document = {"schema": SCHEMA_ID, **prune(document)}
    case: Case | None = None
    try:
        case = case_from_mapping(document)
    except CaseError as exc:
        bad = {p for p, _ in problems}
        moved = (row_problem(p, LESION_TABLE, used) or p for p in exc.problems)
        problems.extend(p for p in moved if p[0] not in bad)
    return (case if not problems else None), document, problems


def _lesions_from_form(
    form: Mapping[str, str], document: dict[str, Any], problems: Problems
) -> list[int]:
    """Put the filled rows of the lesion table into ``document`` (they replace lesions given
    in the YAML box); returns the form row of each lesion, in order."""
    rows = LESION_TABLE.read(form, problems, skip=lambda raw: False)
    if rows:
        set_path(document, LESIONS, [record for _, record in rows])
    return [row for row, _ in rows]


def case_problems(problems: Iterable[tuple[str, str]]) -> tuple[dict[str, list[str]], Problems]:
    """Problems by form input (shown next to it) and the rest (shown with the YAML)."""
    return place_problems(problems, case_form_names())
