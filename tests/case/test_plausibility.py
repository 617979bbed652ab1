"""Unit plausibility across fields (warnings) and dates in the future (refused)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from netlm.case import Case, case_from_mapping, parse_case
from netlm.case.plausibility import (
    ALBUMIN_SUSPECT_BELOW_G_L,
    BILIRUBIN_LLN_UMOL_L,
    BILIRUBIN_ULN_MG_DL,
    BILIRUBIN_ULN_UMOL_L,
    INR_HIGH,
    unit_warnings,
)
from netlm.eligibility import Assessor
from netlm.errors import CaseError
from netlm.report.board import render_markdown


def _case(labs: dict[str, Any], liver: dict[str, Any] | None = None) -> Case:
    doc: dict[str, Any] = {"schema": "netlm/case/v1", "patient": {"id": "U1"}, "labs": labs}
    if liver:
        doc["liver"] = liver
    return case_from_mapping(doc)


def _bili(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def _fields(case: Case) -> list[str]:
    return [w.field for w in unit_warnings(case)]


# --------------------------------------------------------------------------- bilirubin in umol/L
@pytest.mark.parametrize(
    ("value", "warned"),
    [
        (BILIRUBIN_ULN_MG_DL - 0.01, False),  # normal even in mg/dL: no better reading
        (BILIRUBIN_ULN_MG_DL, True),
        (2.5, True),
        (BILIRUBIN_LLN_UMOL_L - 0.01, True),
        (BILIRUBIN_LLN_UMOL_L, False),  # inside the umol/L reference interval
        (40.0, False),
    ],
)
def test_low_umol_bilirubin_with_liver_dysfunction(value: float, warned: bool) -> None:
    case = _case({"bilirubin": _bili(value, "umol/L"), "albumin": _bili(2.6, "g/dL")})
    assert _fields(case) == (["labs.bilirubin"] if warned else [])


def test_the_warning_names_the_likely_unit_error_and_the_value_used() -> None:
    case = _case({"bilirubin": _bili(2.5, "µmol/L"), "inr": 1.9})
    [warning] = unit_warnings(case)
    assert "2.5 mg/dL" in warning.message and "42.8 µmol/L" in warning.message
    assert "INR 1.9" in warning.message and "0.15 mg/dL" in warning.message
    assert [s.certainty.value for s in warning.sources] == ["U"]


@pytest.mark.parametrize(
    ("labs", "liver", "warned"),
    [
        ({"albumin": _bili(3.5, "g/dL")}, None, False),  # Child-Pugh 1 point: normal
        ({"albumin": _bili(3.4, "g/dL")}, None, True),
        ({"inr": INR_HIGH}, None, False),
        ({"inr": INR_HIGH + 0.01}, None, True),
        ({}, {"ascites": "none", "encephalopathy": "none"}, False),
        ({}, {"ascites": "mild"}, True),
        ({}, {"encephalopathy": "grade_1_2"}, True),
        ({}, None, False),  # nothing to compare with
    ],
)
def test_which_liver_findings_count_as_dysfunction(
    labs: dict[str, Any], liver: dict[str, Any] | None, warned: bool
) -> None:
    case = _case({"bilirubin": _bili(2.5, "umol/L"), **labs}, liver)
    assert _fields(case) == (["labs.bilirubin"] if warned else [])


# --------------------------------------------------------------------------- bilirubin in mg/dL
@pytest.mark.parametrize(
    ("value", "warned"),
    [(5.0, False), (5.1, True), (17.0, True), (BILIRUBIN_ULN_UMOL_L, True), (21.1, False)],
)
def test_jaundice_level_mg_dl_bilirubin_with_normal_liver_markers(
    value: float, warned: bool
) -> None:
    case = _case({"bilirubin": _bili(value, "mg/dL"), "albumin": _bili(4.1, "g/dL"), "inr": 1.0})
    assert _fields(case) == (["labs.bilirubin"] if warned else [])


def test_jaundice_with_abnormal_or_unknown_liver_markers_is_believed() -> None:
    assert _fields(_case({"bilirubin": _bili(17, "mg/dL"), "albumin": _bili(2.9, "g/dL")})) == []
    assert _fields(_case({"bilirubin": _bili(17, "mg/dL")})) == []


# --------------------------------------------------------------------------- albumin
@pytest.mark.parametrize(
    ("value", "unit", "warned"),
    [
        (ALBUMIN_SUSPECT_BELOW_G_L - 0.1, "g/L", True),
        (ALBUMIN_SUSPECT_BELOW_G_L, "g/L", False),
        (35.0, "g/L", False),
        (1.4, "g/dL", False),
    ],
)
def test_albumin_in_g_per_l_that_reads_like_g_per_dl(value: float, unit: str, warned: bool) -> None:
    case = _case({"albumin": _bili(value, unit)})
    assert _fields(case) == (["labs.albumin"] if warned else [])
    if warned:
        assert f"{value:g} g/dL meant" in unit_warnings(case)[0].message


# --------------------------------------------------------------------------- where warnings show
def test_assessment_carries_the_warnings_into_json_and_markdown() -> None:
    case = _case({"bilirubin": _bili(2.5, "umol/L"), "albumin": _bili(2.6, "g/dL")})
    assessment = Assessor().assess(case)
    assert [w.field for w in assessment.warnings] == ["labs.bilirubin"]
    dumped = assessment.model_dump(mode="json")
    assert dumped["warnings"][0]["sources"][0]["id"] == "lab_unit_plausibility"
    markdown = render_markdown(assessment)
    assert "## Check these values" in markdown and "2.5 mg/dL" in markdown
    plain = Assessor().assess(_case({"bilirubin": _bili(20, "umol/L")}))
    assert plain.warnings == () and "Check these values" not in render_markdown(plain)


# --------------------------------------------------------------------------- future dates
TODAY = dt.date(2026, 6, 1)


@pytest.mark.parametrize(
    ("yaml_fragment", "field"),
    [
        ("labs: {date: DATE}", "labs.date"),
        ("workup: {maa_date: DATE}", "workup.maa_date"),
        ("tumour: {sstr_imaging: {date: DATE}}", "tumour.sstr_imaging.date"),
        ("history: {prior_treatments: [{type: ctace, date: DATE}]}",
         "history.prior_treatments[0].date"),
        ("history: {prior_treatments: [{type: prrt, start: 2026-01-01, end: DATE}]}",
         "history.prior_treatments[0].end"),
    ],
)  # fmt: skip
def test_dates_after_today_are_refused_naming_the_field(yaml_fragment: str, field: str) -> None:
    head = "schema: netlm/case/v1\npatient: {id: D1}\n"
    on_the_day = head + yaml_fragment.replace("DATE", TODAY.isoformat())
    assert parse_case(on_the_day, today=TODAY).patient.id == "D1"
    next_day = head + yaml_fragment.replace("DATE", (TODAY + dt.timedelta(days=1)).isoformat())
    with pytest.raises(CaseError) as info:
        parse_case(next_day, today=TODAY)
    [(path, message)] = info.value.problems
    assert path == field and "in the future" in message and "2026-06-01" in message


def test_without_today_dates_are_not_checked() -> None:
    # The core never reads the clock: only a caller that passes `today` checks.
    assert parse_case("schema: netlm/case/v1\npatient: {id: D2}\nlabs: {date: 2999-01-01}\n")
