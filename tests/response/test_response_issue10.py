"""Issue 10, response assessment: mRECIST new intrahepatic lesions, scans before the
reference date, the ``disappeared`` status and PERCIST's own categories.

Expected values are stated from the rules (Lencioni & Llovet 2010; RECIST 1.1 as in
``shared/reference/response.md``; Wahl 2009), not taken from the engines.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from netlm.errors import ResponseError
from netlm.report.response_text import render_response_markdown
from netlm.response import mrecist, percist, recist
from netlm.response.io import response_from_mapping
from netlm.response.model import Observation, ResponseFile, Status
from netlm.response.report import assess_response
from netlm.response.result import Response

R = Response
DATES = ("2026-01-05", "2026-04-02", "2026-07-01", "2026-10-01")


def make_doc(*timepoints: list[dict[str, Any]], **top: Any) -> ResponseFile:
    points = [{"date": d, "lesions": tp} for d, tp in zip(DATES, timepoints, strict=False)]
    return response_from_mapping({"schema": "netlm/response/v1", "timepoints": points, **top})


BASE = {"id": "T1", "organ": "liver", "role": "target", "longest_mm": 50, "viable_mm": 40}
SAME = {"id": "T1", "longest_mm": 50, "viable_mm": 40}


def new(**fields: Any) -> dict[str, Any]:
    return {"id": "N1", "role": "new", "organ": "liver", **fields}


# --- mRECIST: a new intrahepatic lesion is PD only if >= 10 mm and arterially enhancing ----


@pytest.mark.parametrize(
    ("fields", "is_pd", "why"),
    [
        ({"longest_mm": 10.0, "enhancing": True}, True, None),
        ({"longest_mm": 9.9, "enhancing": True}, False, "9.9 mm < 10 mm"),
        ({"longest_mm": 25.0, "enhancing": False}, False, "no arterial-phase enhancement"),
        ({"longest_mm": 25.0}, False, "enhancement not recorded"),
        ({"enhancing": True}, False, "size not recorded"),
        ({"status": "too_small_to_measure", "enhancing": True}, False, "too small to measure"),
        ({"status": "present", "longest_mm": 12.0, "enhancing": True}, True, None),
    ],
)
def test_mrecist_new_intrahepatic_lesion_needs_10_mm_and_enhancement(
    fields: dict[str, Any], is_pd: bool, why: str | None
) -> None:
    doc = make_doc([BASE], [SAME, new(**fields)])
    point = mrecist.ENGINE.assess(doc)[0][1]
    assert point.new_lesions is is_pd
    assert point.overall is (R.PD if is_pd else R.SD)
    if why is not None:
        assert any(why in n and "equivocal by mRECIST" in n for n in point.notes), point.notes


def test_recist_keeps_every_new_lesion_as_pd() -> None:
    # The same 6 mm non-enhancing liver lesion is PD by RECIST 1.1, equivocal by mRECIST.
    doc = make_doc([BASE], [SAME, new(longest_mm=6.0, enhancing=False)])
    assert recist.ENGINE.assess(doc)[0][1].overall is R.PD
    assert mrecist.ENGINE.assess(doc)[0][1].overall is R.SD


def test_mrecist_extrahepatic_new_lesion_is_pd_whatever_its_size() -> None:
    doc = make_doc([BASE], [SAME, new(organ="lung", longest_mm=5.0)])
    assert mrecist.ENGINE.assess(doc)[0][1].overall is R.PD


def test_mrecist_equivocal_lesion_that_grows_to_the_rule_is_pd_dated_back() -> None:
    doc = make_doc(
        [BASE],
        [SAME, new(longest_mm=8.0, enhancing=True)],
        [SAME, {"id": "N1", "longest_mm": 9.0}],
        [SAME, {"id": "N1", "longest_mm": 13.0, "enhancing": True}],
    )
    points = mrecist.ENGINE.assess(doc)[0]
    assert [p.overall for p in points[1:]] == [R.PD, R.PD, R.PD]
    assert any("dated back" in n for n in points[1].notes)
    report = assess_response(doc, ["mrecist"])
    assert report.results[0].endpoints.progression_date == dt.date(2026, 4, 2)


def test_mrecist_equivocal_lesion_never_confirmed_is_never_pd() -> None:
    doc = make_doc(
        [BASE], [SAME, new(longest_mm=8.0, enhancing=True)], [SAME, {"id": "N1", "longest_mm": 8}]
    )
    points = mrecist.ENGINE.assess(doc)[0]
    assert [p.overall for p in points[1:]] == [R.SD, R.SD]


def test_mrecist_reader_confirmation_dates_pd_back() -> None:
    doc = make_doc(
        [BASE], [SAME, new(longest_mm=25.0)], [SAME, {"id": "N1", "status": "confirmed"}]
    )
    points = mrecist.ENGINE.assess(doc)[0]
    assert [p.overall for p in points[1:]] == [R.PD, R.PD]
    assert any("dated back" in n for n in points[1].notes)


@pytest.mark.parametrize(("size", "is_pd"), [(15.0, True), (14.9, False)])
def test_mrecist_new_lesion_size_is_a_parameter(size: float, is_pd: bool) -> None:
    engine = mrecist.MrecistEngine(new_lesion_min_mm=15)
    doc = make_doc([BASE], [SAME, new(longest_mm=size, enhancing=True)])
    assert engine.assess(doc)[0][1].new_lesions is is_pd
    assert any(t.name == "new intrahepatic lesion" and ">= 15" in t.rule for t in engine.thresholds)


@pytest.mark.parametrize("bad", [0, -1, 10.05, 101])
def test_mrecist_new_lesion_size_is_checked(bad: float) -> None:
    with pytest.raises(ValueError, match="new_lesion_min_mm"):
        mrecist.MrecistEngine(new_lesion_min_mm=bad)


# --- scans dated before reference_date are baseline material ----------------------------------


def _pre_reference_doc(reference: str) -> ResponseFile:
    # Baseline 50 mm; 2026-04-02: 30 mm (-40 %, PR); 2026-07-01: 45 mm (SD vs baseline,
    # +50 % and +15 mm vs the nadir 30 mm: PD by RECIST 1.1).
    return make_doc(
        [{"id": "T1", "organ": "liver", "role": "target", "longest_mm": 50}],
        [{"id": "T1", "longest_mm": 30}],
        [{"id": "T1", "longest_mm": 45}],
        reference_date=reference,
    )


def test_scan_before_reference_date_never_counts_toward_best_response() -> None:
    report = assess_response(_pre_reference_doc("2026-05-01"))
    result = report.result("recist1.1")
    early, late = result.timepoints[1], result.timepoints[2]
    assert early.overall is R.NOT_APPLICABLE
    assert any("before the reference date" in n for n in early.notes)
    assert late.overall is R.PD
    # Without the early PR, the only response counted is the PD.
    assert result.best_overall.response is R.PD
    assert result.best_overall.date == dt.date(2026, 7, 1)
    assert result.endpoints.response_date is None
    assert any("2026-04-02" in w and "before the reference date" in w for w in result.warnings)


def test_scan_on_the_reference_date_counts() -> None:
    result = assess_response(_pre_reference_doc("2026-04-02")).result("recist1.1")
    assert result.timepoints[1].overall is R.PR
    assert result.best_overall.response is R.PR
    assert not any("before the reference date" in w for w in result.warnings)


def test_progression_before_treatment_is_not_an_endpoint() -> None:
    doc = make_doc(
        [{"id": "T1", "organ": "liver", "role": "target", "longest_mm": 50}],
        [{"id": "T1", "longest_mm": 50}, {"id": "N1", "organ": "lung", "role": "new"}],
        [{"id": "T1", "longest_mm": 50}, {"id": "N1"}],
        reference_date="2026-05-01",
    )
    result = assess_response(doc).result("recist1.1")
    assert result.timepoints[1].overall is R.NOT_APPLICABLE
    assert result.endpoints.progression_date == dt.date(2026, 7, 1)
    assert (
        result.endpoints.time_to_progression_days
        == (dt.date(2026, 7, 1) - dt.date(2026, 5, 1)).days
    )


# --- the "disappeared" status --------------------------------------------------------------


def test_disappeared_is_an_alias_of_absent() -> None:
    assert Observation(id="T1", status="disappeared").status is Status.ABSENT  # type: ignore[arg-type]
    doc = make_doc(
        [{"id": "T1", "organ": "liver", "role": "target", "longest_mm": 40}],
        [{"id": "T1", "status": "disappeared"}],
    )
    assert recist.ENGINE.assess(doc)[0][1].overall is R.CR
    dumped = json.loads(doc.model_dump_json(by_alias=True))
    assert dumped["timepoints"][1]["lesions"][0]["status"] == "absent"


def test_unknown_status_is_still_refused() -> None:
    with pytest.raises(ValidationError):
        Observation(id="T1", status="vanished")  # type: ignore[arg-type]
    with pytest.raises(ResponseError, match="status"):
        make_doc(
            [{"id": "T1", "organ": "liver", "role": "target", "longest_mm": 40}],
            [{"id": "T1", "status": "vanished"}],
        )


# --- PERCIST's own categories ----------------------------------------------------------------


def _percist_doc(*suls: float) -> ResponseFile:
    first = {"id": "T1", "organ": "liver", "role": "target", "longest_mm": 30}
    points = [[first | {"sul_peak": suls[0]}]] + [[{"id": "T1", "sul_peak": s}] for s in suls[1:]]
    doc = make_doc(*points, criteria=["percist1.0"])
    liver = {"liver_sul_mean": 1.0, "liver_sul_sd": 0.1}
    return doc.model_copy(
        update={"timepoints": tuple(tp.model_copy(update=liver) for tp in doc.timepoints)}
    )


@pytest.mark.parametrize(
    ("suls", "categories", "aliases"),
    [
        ((4.0, 2.8, 2.0), ["PMR", "PMR"], [R.PR, R.PR]),  # -30 % and -1.2 SUL, then -50 %
        ((4.0, 5.21), ["PMD"], [R.PD]),
        ((4.0, 4.0), ["SMD"], [R.SD]),
        ((4.0, 1.0), ["CMR"], [R.CR]),  # at the liver mean
    ],
)
def test_percist_reports_its_own_categories_with_recist_aliases(
    suls: tuple[float, ...], categories: list[str], aliases: list[Response]
) -> None:
    points = percist.ENGINE.assess(_percist_doc(*suls))[0]
    assert points[0].category is None
    assert [p.category for p in points[1:]] == categories
    assert [p.overall for p in points[1:]] == aliases


def test_percist_best_response_and_json_carry_category_and_alias() -> None:
    report = assess_response(_percist_doc(4.0, 2.8, 2.0), ["percist1.0", "recist1.1"])
    best = report.result("percist1.0").best_overall
    assert (best.response, best.category) == (R.PR, "PMR")
    assert report.result("recist1.1").best_overall.category is None
    payload = json.loads(report.model_dump_json())
    row = payload["results"][0]["timepoints"][1]
    assert (row["overall"], row["category"]) == ("PR", "PMR")
    assert payload["results"][0]["best_overall"]["category"] == "PMR"
    markdown = render_response_markdown(report)
    assert "PMR (PR)" in markdown and "best overall response: PMR (PR)" in markdown


def test_waterfall_depth_leaves_out_scans_before_the_reference_date() -> None:
    from netlm.report.response_plots import best_change_percent

    report = assess_response(_pre_reference_doc("2026-05-01"))
    result = report.result("recist1.1")
    # The -40 % scan predates treatment: the best change counted is the later -10 %.
    assert best_change_percent(result, report.reference_date) == Decimal("-10.0")
    assert best_change_percent(result) == Decimal("-40.0")
