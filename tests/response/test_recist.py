"""RECIST 1.1 engine: exact thresholds, lesion bookkeeping, the overall table, warnings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from conftest import SHARED
from netlm.response.best import best_overall_response, endpoints
from netlm.response.io import load_response, response_from_mapping
from netlm.response.model import Confirmation
from netlm.response.recist import (
    ENGINE,
    is_partial_response,
    is_progression,
    overall_response,
    percent_change,
)
from netlm.response.result import Engine, Response, TimepointResult

R = Response
BASELINE = dt.date(2026, 1, 5)


# --- helpers ---------------------------------------------------------------------------------


def liver(lesion_id: str, longest_mm: float, **extra: Any) -> dict[str, Any]:
    """A liver target at baseline."""
    return {"id": lesion_id, "organ": "liver", "role": "target", "longest_mm": longest_mm, **extra}


def node(lesion_id: str, short_axis_mm: float, **extra: Any) -> dict[str, Any]:
    """A lymph-node target at baseline."""
    return {
        "id": lesion_id,
        "organ": "lymph_node",
        "role": "target",
        "short_axis_mm": short_axis_mm,
        **extra,
    }


def non_target(lesion_id: str, organ: str = "liver", **extra: Any) -> dict[str, Any]:
    return {"id": lesion_id, "organ": organ, "role": "non_target", "status": "present", **extra}


def seen(lesion_id: str, size_mm: float | None = None, **extra: Any) -> dict[str, Any]:
    """A follow-up observation: ``size_mm`` is the longest diameter (see ``axis``)."""
    out: dict[str, Any] = {"id": lesion_id, **extra}
    if size_mm is not None:
        out["longest_mm"] = size_mm
    return out


def axis(lesion_id: str, short_axis_mm: float, **extra: Any) -> dict[str, Any]:
    return {"id": lesion_id, "short_axis_mm": short_axis_mm, **extra}


def status(lesion_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"id": lesion_id, "status": value, **extra}


def new(lesion_id: str, value: str = "present", organ: str = "liver") -> dict[str, Any]:
    return {"id": lesion_id, "organ": organ, "role": "new", "status": value}


def dates(n: int, weeks: int = 8) -> list[dt.date]:
    return [BASELINE + dt.timedelta(weeks=weeks * i) for i in range(n)]


def run(*visits: list[dict[str, Any]]) -> tuple[TimepointResult, ...]:
    """Time points of a file whose first visit is the baseline, 8 weeks apart."""
    doc = response_from_mapping(
        {
            "schema": "netlm/response/v1",
            "timepoints": [
                {"date": d.isoformat(), "lesions": lesions}
                for d, lesions in zip(dates(len(visits)), visits, strict=True)
            ],
        }
    )
    points, _ = ENGINE.assess(doc)
    return points


def warnings_of(*baseline: dict[str, Any]) -> tuple[str, ...]:
    doc = response_from_mapping(
        {
            "schema": "netlm/response/v1",
            "timepoints": [{"date": BASELINE.isoformat(), "lesions": list(baseline)}],
        }
    )
    return ENGINE.assess(doc)[1]


def overall(points: tuple[TimepointResult, ...]) -> list[Response]:
    return [p.overall for p in points[1:]]


def targets(points: tuple[TimepointResult, ...]) -> list[Response | None]:
    return [p.target for p in points[1:]]


# --- the engine and its thresholds ---------------------------------------------------------


def test_engine_identity_and_thresholds() -> None:
    engine: Engine = ENGINE
    assert (engine.id, engine.version, engine.label) == ("recist1.1", "1.1", "RECIST 1.1")
    rules = {t.name: t for t in engine.thresholds}
    assert rules["partial response"].rule.startswith("10*sum <= 7*baseline_sum")
    assert rules["progressive disease"].rule.startswith("5*sum >= 6*nadir and sum - nadir >= 50")
    assert all(t.source for t in engine.thresholds)
    assert "Eur J Cancer 2009;45:228" in rules["partial response"].source
    assert "recist.eortc.org" in rules["continued partial response"].source
    assert "CDISC" in rules["split and merged lesions"].source


def test_the_binary_float_traps_are_real() -> None:
    # Why the comparisons are over integers: in floats both boundaries are missed.
    assert not (32.4 - 27.0) / 27.0 >= 0.20
    assert not (32.2 - 46.0) / 46.0 <= -0.30


@pytest.mark.parametrize(
    ("current", "baseline", "expected"),
    [(322, 460, True), (323, 460, False), (0, 460, True), (700, 1000, True), (701, 1000, False)],
)
def test_partial_response_boundary(current: int, baseline: int, expected: bool) -> None:
    assert is_partial_response(current, baseline) is expected


@pytest.mark.parametrize(
    ("current", "nadir", "expected"),
    [
        (324, 270, True),  # +20 % exactly, +5.4 mm
        (323, 270, False),  # +19.6 %
        (294, 245, False),  # +20 % exactly but +4.9 mm
        (295, 245, True),  # +20.4 %, +5.0 mm
        (50, 0, True),  # from 0: +5 mm is progression
        (49, 0, False),
    ],
)
def test_progression_boundary(current: int, nadir: int, expected: bool) -> None:
    assert is_progression(current, nadir) is expected


def test_percent_change_is_exact_decimal() -> None:
    assert percent_change(324, 270) == Decimal(20)
    assert percent_change(322, 460) == Decimal(-30)
    assert percent_change(1, 0) is None


# --- sums against baseline and nadir ---------------------------------------------------------


def test_plus_20_percent_and_5_4_mm_is_pd() -> None:
    points = run([liver("T1", 27.0)], [seen("T1", 32.4)])
    p = points[1]
    assert p.target is R.PD and p.overall is R.PD
    assert p.measure == Decimal("32.4")
    assert p.change_from_baseline_percent == Decimal(20)
    assert p.change_from_nadir_percent == Decimal(20)
    assert p.nadir == Decimal("27.0")


def test_minus_30_percent_exactly_is_pr() -> None:
    points = run([liver("T1", 46.0)], [seen("T1", 32.2)])
    assert points[1].target is R.PR
    assert points[1].change_from_baseline_percent == Decimal(-30)


@pytest.mark.parametrize(
    ("baseline_mm", "follow_up_mm", "expected"),
    [
        (27.0, 32.3, R.SD),  # +19.6 %
        (46.0, 32.3, R.SD),  # -29.8 %
        (24.5, 29.4, R.SD),  # +20 % exactly but only +4.9 mm
        (24.5, 29.5, R.PD),
    ],
)
def test_just_inside_the_lines(baseline_mm: float, follow_up_mm: float, expected: Response) -> None:
    assert targets(run([liver("T1", baseline_mm)], [seen("T1", follow_up_mm)])) == [expected]


def test_pd_is_checked_before_pr() -> None:
    # 100 -> 60 (PR, nadir) -> 72: 28 % below baseline, yet 20 % (+12 mm) above the nadir.
    points = run([liver("T1", 100)], [seen("T1", 60)], [seen("T1", 72)])
    assert targets(points) == [R.PR, R.PD]
    assert points[2].change_from_baseline_percent == Decimal(-28)
    assert points[2].change_from_nadir_percent == Decimal(20)
    assert points[2].nadir == Decimal("60.0")


def test_pd_while_still_below_baseline() -> None:
    # 100 -> 50 -> 60: still 40 % below baseline, but +20 % and +10 mm from the nadir.
    points = run([liver("T1", 100)], [seen("T1", 50)], [seen("T1", 60)])
    assert overall(points) == [R.PR, R.PD]
    assert points[2].change_from_baseline_percent == Decimal(-40)


def test_nadir_includes_the_baseline_and_only_earlier_sums() -> None:
    points = run([liver("T1", 50)], [seen("T1", 55)], [seen("T1", 60)])
    # 55 vs nadir 50: +10 %; 60 vs nadir 50 (55 is not smaller): +20 %, +10 mm.
    assert targets(points) == [R.SD, R.PD]
    assert [p.nadir for p in points[1:]] == [Decimal("50.0"), Decimal("50.0")]


def test_continued_pr_committee_example() -> None:
    # RECIST committee FAQ: 165 mm at baseline, 63 mm at week 8, 65 mm at week 16:
    # "continued partial response" (judged from the nadir, not re-judged from baseline).
    points = run([liver("T1", 165)], [seen("T1", 63)], [seen("T1", 65)])
    assert targets(points) == [R.PR, R.PR]


def test_pr_persists_above_the_minus_30_line_until_pd() -> None:
    # 100 -> 65 (PR) -> 75 (-25 % from baseline, +15 % from nadir) -> 78 (+20 %, +13 mm).
    points = run([liver("T1", 100)], [seen("T1", 65)], [seen("T1", 75)], [seen("T1", 78)])
    assert targets(points) == [R.PR, R.PR, R.PD]
    assert any("continued PR" in n for n in points[2].notes)
    # Without an earlier PR the same -25 % is SD.
    assert targets(run([liver("T1", 100)], [seen("T1", 75)])) == [R.SD]


# --- nodes, too small, split, merged --------------------------------------------------------


def test_node_cr_with_a_non_zero_sum() -> None:
    points = run([liver("T1", 30), node("N1", 17)], [status("T1", "absent"), axis("N1", 9)])
    assert points[1].target is R.CR and points[1].overall is R.CR
    assert points[1].measure == Decimal("9.0")


def test_node_at_10_mm_is_not_cr() -> None:
    points = run([liver("T1", 30), node("N1", 17)], [status("T1", "absent"), axis("N1", 10)])
    assert points[1].target is R.PR  # 10 mm vs 47 mm: -78.7 %


def test_too_small_to_measure_counts_5_mm() -> None:
    points = run([liver("T1", 40)], [status("T1", "too_small_to_measure")])
    assert points[1].measure == Decimal("5.0")
    assert points[1].target is R.PR  # still there: not CR


def test_too_small_with_a_measured_value_keeps_it() -> None:
    points = run([liver("T1", 40)], [seen("T1", 3.0, status="too_small_to_measure")])
    assert points[1].measure == Decimal("3.0")


def test_absent_counts_0_mm() -> None:
    points = run([liver("T1", 40), liver("T2", 20)], [status("T1", "absent"), seen("T2", 20)])
    assert points[1].measure == Decimal("20.0")


def test_split_fragments_are_summed_into_the_parent() -> None:
    points = run(
        [liver("T1", 40), liver("T2", 20)],
        [seen("T1a", 15, split_from="T1"), seen("T1b", 12, split_from="T1"), seen("T2", 20)],
    )
    assert points[1].measure == Decimal("47.0")  # 15 + 12 + 20
    assert points[1].target is R.SD
    assert any("T1 split" in n for n in points[1].notes)


def test_split_parent_still_measured_adds_its_fragment() -> None:
    points = run([liver("T1", 40)], [seen("T1", 20), seen("T1a", 10, split_from="T1")])
    assert points[1].measure == Decimal("30.0")


def test_merged_lesion_counts_once_and_is_not_disappeared() -> None:
    points = run(
        [liver("T1", 30), liver("T2", 20)],
        [seen("T1", 45), status("T2", "merged", merged_into="T1")],
    )
    assert points[1].measure == Decimal("45.0")  # the merged mass once; T2 0 mm
    assert points[1].target is R.SD
    assert any("merged, not disappeared" in n for n in points[1].notes)


# --- not evaluable -------------------------------------------------------------------------


def test_not_evaluable_target_makes_the_time_point_ne() -> None:
    points = run(
        [liver("T1", 40), liver("T2", 40)], [status("T1", "not_evaluable"), seen("T2", 40)]
    )
    assert points[1].target is R.NE and points[1].overall is R.NE
    assert points[1].measure is None and points[1].change_from_baseline_percent is None


def test_unreported_target_is_not_evaluable() -> None:
    points = run([liver("T1", 40), liver("T2", 40)], [seen("T2", 40)])
    assert points[1].target is R.NE
    assert any("T1 not reported" in n for n in points[1].notes)


def test_measured_lesions_alone_showing_pd_make_pd() -> None:
    # nadir 30 (20 + 10); then T1 not evaluable and T2 alone 40 mm: +33 %, +10 mm.
    points = run(
        [liver("T1", 40), liver("T2", 20)],
        [seen("T1", 20), seen("T2", 10)],
        [status("T1", "not_evaluable"), seen("T2", 40)],
    )
    assert targets(points) == [R.PR, R.PD]
    assert points[2].measure is None
    assert any("evaluable targets alone" in n for n in points[2].notes)


def test_ne_does_not_move_the_nadir() -> None:
    points = run(
        [liver("T1", 40), liver("T2", 40)],
        [status("T1", "not_evaluable"), seen("T2", 1)],
        [seen("T1", 40), seen("T2", 40)],
    )
    assert targets(points) == [R.NE, R.SD]
    assert points[2].nadir == Decimal("80.0")


# --- new lesions ---------------------------------------------------------------------------


def test_new_lesion_is_pd() -> None:
    points = run([liver("T1", 40)], [seen("T1", 20), new("NEW1", "confirmed")])
    assert points[1].target is R.PR and points[1].new_lesions and points[1].overall is R.PD


def test_equivocal_new_lesion_is_not_pd() -> None:
    points = run([liver("T1", 40)], [seen("T1", 40), new("NEW1", "equivocal")])
    assert not points[1].new_lesions and points[1].overall is R.SD
    assert any("equivocal new lesion NEW1" in n for n in points[1].notes)


def test_equivocal_then_confirmed_dates_pd_back() -> None:
    points = run(
        [liver("T1", 40)],
        [seen("T1", 40)],
        [seen("T1", 40), new("NEW1", "equivocal")],
        [seen("T1", 40), new("NEW1", "equivocal")],
        [seen("T1", 40), new("NEW1", "confirmed")],
    )
    d = dates(5)
    assert overall(points) == [R.SD, R.PD, R.PD, R.PD]
    assert [p.new_lesions for p in points[1:]] == [False, True, True, True]
    assert any(f"confirmed on {d[4]}" in n and "dated back" in n for n in points[2].notes)
    assert any(f"dated back to {d[2]}" in n for n in points[4].notes)
    # Everything derived follows: progression on the first equivocal scan.
    ends = endpoints(points)
    assert ends.progression_date == d[2]
    assert ends.time_to_progression_days == 16 * 7
    bor = best_overall_response(
        [(p.date, p.overall) for p in points[1:]],
        reference_date=BASELINE,
        confirmation=Confirmation(),
    )
    assert bor.response is R.SD and bor.date == d[1]


def test_new_node_under_10_mm_is_not_a_new_lesion() -> None:
    points = run(
        [liver("T1", 40)], [seen("T1", 40), {**new("N9", organ="lymph_node"), "short_axis_mm": 8}]
    )
    assert not points[1].new_lesions


# --- reappearance after CR ------------------------------------------------------------------


def test_target_reappearing_after_cr_is_pd() -> None:
    # 0 -> 4 mm is not PD by the sum (+4 mm < 5 mm), but the overall CR had been assigned.
    points = run([liver("T1", 30)], [status("T1", "absent")], [seen("T1", 4)])
    assert overall(points) == [R.CR, R.PD]
    assert any("present again after CR" in n for n in points[2].notes)


@pytest.mark.parametrize(("short_axis_mm", "expected"), [(9.9, R.CR), (10.0, R.PD)])
def test_node_reappears_only_at_10_mm(short_axis_mm: float, expected: Response) -> None:
    points = run([node("N1", 17)], [axis("N1", 5)], [axis("N1", short_axis_mm)])
    assert overall(points) == [R.CR, expected]


def test_non_target_reappearing_after_cr_is_pd() -> None:
    points = run(
        [liver("T1", 30), non_target("NT1")],
        [status("T1", "absent"), status("NT1", "absent")],
        [status("T1", "absent"), status("NT1", "present")],
    )
    assert overall(points) == [R.CR, R.PD]
    assert points[2].non_target is R.PD


def test_reappearance_needs_an_overall_cr_not_a_target_cr() -> None:
    # Target CR with a non-target present is overall PR; a small return is then judged by sums.
    points = run(
        [liver("T1", 30), non_target("NT1")],
        [status("T1", "absent"), status("NT1", "present")],
        [seen("T1", 4), status("NT1", "present")],
    )
    assert overall(points) == [R.PR, R.PR]


# --- the overall table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "non_target_response", "new_lesion", "expected"),
    [
        (R.CR, R.CR, False, R.CR),
        (R.CR, R.NOT_APPLICABLE, False, R.CR),
        (R.CR, R.NON_CR_NON_PD, False, R.PR),
        (R.CR, R.NE, False, R.PR),
        (R.PR, R.NON_CR_NON_PD, False, R.PR),
        (R.PR, R.NE, False, R.PR),
        (R.PR, R.CR, False, R.PR),
        (R.SD, R.NON_CR_NON_PD, False, R.SD),
        (R.SD, R.NE, False, R.SD),
        (R.SD, R.NOT_APPLICABLE, False, R.SD),
        (R.NE, R.NON_CR_NON_PD, False, R.NE),
        (R.NE, R.CR, False, R.NE),
        (R.PD, R.CR, False, R.PD),
        (R.PD, R.NE, True, R.PD),
        (R.CR, R.PD, False, R.PD),
        (R.NE, R.PD, False, R.PD),
        (R.CR, R.CR, True, R.PD),
        (R.SD, R.NE, True, R.PD),
        # non-measurable disease only
        (None, R.CR, False, R.CR),
        (None, R.NON_CR_NON_PD, False, R.NON_CR_NON_PD),
        (None, R.NE, False, R.NE),
        (None, R.PD, False, R.PD),
        (None, R.CR, True, R.PD),
        (R.NOT_APPLICABLE, R.NON_CR_NON_PD, False, R.NON_CR_NON_PD),
        (None, R.NOT_APPLICABLE, False, R.NE),
    ],
)
def test_overall_table(
    target: Response | None, non_target_response: Response, new_lesion: bool, expected: Response
) -> None:
    assert overall_response(target, non_target_response, new_lesion) is expected


def test_cr_targets_with_non_cr_non_target_is_pr_in_the_engine() -> None:
    points = run(
        [liver("T1", 30), non_target("NT1")],
        [status("T1", "absent"), status("NT1", "present")],
    )
    p = points[1]
    assert (p.target, p.non_target, p.overall) == (R.CR, R.NON_CR_NON_PD, R.PR)


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        (status("NT1", "absent"), R.CR),
        (status("NT1", "present"), R.NON_CR_NON_PD),
        (status("NT1", "unequivocal_progression"), R.PD),
        (status("NT1", "not_evaluable"), R.NE),
    ],
)
def test_non_measurable_disease_only(observation: dict[str, Any], expected: Response) -> None:
    points = run([non_target("NT1")], [observation])
    p = points[1]
    assert p.target is R.NOT_APPLICABLE and p.measure is None
    assert p.non_target is expected and p.overall is expected


def test_no_non_targets_is_not_applicable() -> None:
    points = run([liver("T1", 30)], [seen("T1", 30)])
    assert points[1].non_target is R.NOT_APPLICABLE


def test_unreported_non_target_is_not_evaluated() -> None:
    points = run([liver("T1", 30), non_target("NT1")], [seen("T1", 15)])
    assert points[1].non_target is R.NE and points[1].overall is R.PR


@pytest.mark.parametrize(("short_axis_mm", "expected"), [(9.9, R.CR), (10.0, R.NON_CR_NON_PD)])
def test_non_target_node_is_gone_below_10_mm(short_axis_mm: float, expected: Response) -> None:
    points = run(
        [liver("T1", 30), non_target("NN1", organ="lymph_node", short_axis_mm=12)],
        [status("T1", "absent"), axis("NN1", short_axis_mm, status="present")],
    )
    assert points[1].non_target is expected


# --- baseline conformance --------------------------------------------------------------------


def test_conforming_baseline_has_no_warnings() -> None:
    assert warnings_of(liver("T1", 10), liver("T2", 30), node("N1", 15), non_target("NT1")) == ()


def test_more_than_five_targets() -> None:
    organs = ["liver", "liver", "lung", "lung", "bone", "bone"]
    lesions = [
        {"id": f"T{i}", "organ": o, "role": "target", "longest_mm": 20}
        for i, o in enumerate(organs)
    ]
    (warning,) = warnings_of(*lesions)
    assert "6 target lesions" in warning and "at most 5" in warning


def test_more_than_two_per_organ_with_all_nodes_one_organ() -> None:
    found = warnings_of(
        node("N1", 20),
        {**node("N2", 20), "organ": "node"},
        {**node("N3", 20), "organ": "lymph node"},
        liver("T1", 20),
        liver("T2", 20),
    )
    assert len(found) == 1 and "3 target lesions in lymph_node" in found[0]
    assert "N1, N2, N3" in found[0]
    (liver_warning,) = warnings_of(liver("T1", 20), liver("T2", 20), liver("T3", 20))
    assert "in liver" in liver_warning


@pytest.mark.parametrize(
    ("lesion", "warned"),
    [
        (liver("T1", 9.9), True),
        (liver("T1", 10.0), False),
        (liver("T1", 13.9, slice_thickness_mm=7), True),  # needs 2 x 7 = 14 mm
        (liver("T1", 14.0, slice_thickness_mm=7), False),
        (liver("T1", 10.0, slice_thickness_mm=5), False),  # 5 mm slices: 10 mm suffices
        (node("N1", 14.9), True),
        (node("N1", 15.0), False),
        (liver("T1", 30, previously_treated=True), True),
    ],
)
def test_target_measurability_warnings(lesion: dict[str, Any], warned: bool) -> None:
    assert bool(warnings_of(lesion)) is warned


def test_warnings_do_not_stop_the_assessment() -> None:
    doc = response_from_mapping(
        {
            "schema": "netlm/response/v1",
            "timepoints": [
                {"date": "2026-01-05", "lesions": [node("N1", 12)]},
                {"date": "2026-03-05", "lesions": [axis("N1", 8)]},
            ],
        }
    )
    points, found = ENGINE.assess(doc)
    assert found and "short axis 12.0 mm < 15 mm" in found[0]
    assert points[1].overall is R.CR


def test_no_targets_warns_non_measurable_only() -> None:
    (warning,) = warnings_of(non_target("NT1"))
    assert "non-measurable disease only" in warning


# --- the shared example file -----------------------------------------------------------------


def test_shared_example_file() -> None:
    doc = load_response(SHARED / "examples" / "response-recist.yaml")
    points, found = ENGINE.assess(doc)
    # Baseline 2026-01-05: T1 58 + T2 41 (liver, longest) + N1 17 (node, short axis) = 116.0 mm.
    # 3 targets, 2 in the liver, N1 >= 15 mm, all >= 10 mm: no conformance warning.
    assert found == ()
    assert points[0].measure == Decimal("116.0")
    assert points[0].overall is R.NOT_APPLICABLE
    # 2026-04-02: 50 + 35 + 9 = 94.0 mm, -18.97 % from 116 (not <= -30 %), nadir 116: SD.
    # T1 and T2 are still there, so N1 < 10 mm does not make CR. NT1 present: non-CR/non-PD.
    # SD + non-CR/non-PD + no new lesion: SD.
    p1 = points[1]
    assert p1.measure == Decimal("94.0")
    assert p1.change_from_baseline_percent is not None
    assert p1.change_from_baseline_percent.quantize(Decimal("0.01")) == Decimal("-18.97")
    assert (p1.target, p1.non_target, p1.new_lesions, p1.overall) == (
        R.SD,
        R.NON_CR_NON_PD,
        False,
        R.SD,
    )
    # 2026-07-01: 44 + 5 (T2 too small to measure) + 8 = 57.0 mm; 10*570 = 5700 <= 7*1160 = 8120:
    # PR (-50.86 %); nadir 94, no increase. NEW1 is equivocal and never confirmed: not PD.
    p2 = points[2]
    assert p2.measure == Decimal("57.0")
    assert p2.nadir == Decimal("94.0")
    assert p2.change_from_baseline_percent is not None
    assert p2.change_from_baseline_percent.quantize(Decimal("0.01")) == Decimal("-50.86")
    assert (p2.target, p2.non_target, p2.new_lesions, p2.overall) == (
        R.PR,
        R.NON_CR_NON_PD,
        False,
        R.PR,
    )
    assert any("equivocal new lesion NEW1" in n for n in p2.notes)
    follow_ups = [(p.date, p.overall) for p in points[1:]]
    # Without confirmation (the file's default): the best is the PR of 2026-07-01.
    bor = best_overall_response(
        follow_ups, reference_date=doc.reference_date, confirmation=doc.confirmation
    )
    assert (bor.response, bor.date, bor.confirmed) == (R.PR, dt.date(2026, 7, 1), None)
    # With confirmation the PR has no later scan to confirm it: it counts as SD, and the
    # first SD-qualifying scan (2026-04-02, 82 days after the 2026-01-10 reference >= 42) wins.
    bor = best_overall_response(
        follow_ups,
        reference_date=doc.reference_date,
        confirmation=Confirmation(required=True),
    )
    assert (bor.response, bor.date, bor.confirmed) == (R.SD, dt.date(2026, 4, 2), False)
    ends = endpoints(points, reference_date=doc.reference_date)
    assert ends.progression_date is None and ends.time_to_progression_days is None
    assert ends.response_date == dt.date(2026, 7, 1)
    assert ends.duration_of_response_days is None
    assert ends.depth_of_response_percent == p2.change_from_baseline_percent
