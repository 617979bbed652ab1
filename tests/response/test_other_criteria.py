"""mRECIST, WHO, EASL, Choi / modified Choi, PERCIST 1.0 and exploratory SSTR-PET metrics.

Boundaries are tested exactly on the threshold (-50 %, +25 %, -10 %, -15 %,
30 % / 0.8 SUL, 1.5 x liver + 2 SD) and one step beside it.  RECIST 1.1 sides
of the discordance examples are computed by hand here, in integer tenths of a
millimetre, not by importing the RECIST engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from netlm.response import choi, easl, mrecist, percist, sstr, who
from netlm.response._common import overall_response
from netlm.response.io import response_from_mapping
from netlm.response.model import ALL_CRITERIA, ResponseFile, tenths
from netlm.response.result import Engine, Response, TimepointResult

R = Response
DATES = ("2026-01-05", "2026-04-02", "2026-07-01", "2026-10-01", "2027-01-05")
ENGINES: tuple[Engine, ...] = (
    mrecist.ENGINE,
    who.ENGINE,
    easl.ENGINE,
    choi.CHOI_ENGINE,
    choi.MCHOI_ENGINE,
    percist.ENGINE,
)


def make_doc(*timepoints: dict[str, Any] | list[dict[str, Any]]) -> ResponseFile:
    """A response file; each time point is its lesion list or a dict with ``lesions``."""
    points = []
    for date, tp in zip(DATES, timepoints, strict=False):
        body = {"lesions": tp} if isinstance(tp, list) else dict(tp)
        points.append({"date": date, **body})
    return response_from_mapping({"schema": "netlm/response/v1", "timepoints": points})


def target(lesion_id: str = "T1", **fields: Any) -> dict[str, Any]:
    return {"id": lesion_id, "organ": "liver", "role": "target", **fields}


def follow(lesion_id: str = "T1", **fields: Any) -> dict[str, Any]:
    return {"id": lesion_id, **fields}


def run(engine: Engine, doc: ResponseFile) -> tuple[tuple[TimepointResult, ...], tuple[str, ...]]:
    return engine.assess(doc)


def overall(engine: Engine, doc: ResponseFile) -> list[Response]:
    """Overall responses of the follow-ups (baseline left out)."""
    return [p.overall for p in engine.assess(doc)[0][1:]]


def recist_target_by_hand(baseline_mm: float, nadir_mm: float, cur_mm: float) -> Response:
    """RECIST 1.1 for one non-nodal target, in integer tenths (response.md, Arithmetic)."""
    base, nadir, cur = tenths(baseline_mm), tenths(nadir_mm), tenths(cur_mm)
    if cur == 0:
        return R.CR
    if 5 * cur >= 6 * nadir and cur - nadir >= 50:
        return R.PD
    if 10 * cur <= 7 * base:
        return R.PR
    return R.SD


# --- every engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.id)
def test_engine_interface_and_cited_thresholds(engine: Engine) -> None:
    assert engine.id in ALL_CRITERIA
    assert engine.version and engine.label
    assert engine.thresholds
    assert all(t.name and t.rule and t.source for t in engine.thresholds)


@pytest.mark.parametrize(
    ("engine", "lesion", "measure", "unit"),
    [
        (mrecist.ENGINE, target(longest_mm=50, viable_mm=42.5), Decimal("42.5"), "mm"),
        (who.ENGINE, target(longest_mm=50, perpendicular_mm=40.5), Decimal("2025"), "mm²"),
        (easl.ENGINE, target(longest_mm=50, viable_mm=40, viable_perpendicular_mm=30), 1200, "mm²"),
        (choi.CHOI_ENGINE, target(longest_mm=50.5, mean_hu=90), Decimal("50.5"), "mm"),
        (choi.MCHOI_ENGINE, target(longest_mm=50.5, mean_hu=90), Decimal("50.5"), "mm"),
    ],
    ids=lambda v: getattr(v, "id", None),
)
def test_baseline_is_not_applicable_and_carries_the_baseline_sum(
    engine: Engine, lesion: dict[str, Any], measure: Decimal, unit: str
) -> None:
    points, _ = run(engine, make_doc([lesion], [follow(**lesion | {"id": "T1"})]))
    base = points[0]
    assert base.overall is R.NOT_APPLICABLE
    assert base.measure == measure and base.unit == unit
    assert base.target is None and base.non_target is None
    assert len(points) == 2


def test_baseline_of_percist_is_the_hottest_sulpeak() -> None:
    doc = make_doc(
        {
            "liver_sul_mean": 1.0,
            "liver_sul_sd": 0.1,
            "lesions": [
                target(longest_mm=30, sul_peak=4.2),
                target("T2", longest_mm=20, sul_peak=6.1),
            ],
        },
        [follow(sul_peak=4.0), follow("T2", sul_peak=6.0)],
    )
    points, warnings = run(percist.ENGINE, doc)
    assert points[0].overall is R.NOT_APPLICABLE
    assert points[0].measure == Decimal("6.1") and points[0].unit == "SUL"
    assert warnings == ()


@pytest.mark.parametrize(
    ("tgt", "non_target", "new", "expected"),
    [
        (R.CR, R.CR, False, R.CR),
        (R.CR, R.NOT_APPLICABLE, False, R.CR),
        (R.CR, R.NON_CR_NON_PD, False, R.PR),
        (R.CR, R.NE, False, R.PR),
        (R.PR, R.NON_CR_NON_PD, False, R.PR),
        (R.PR, R.NE, False, R.PR),
        (R.SD, R.NE, False, R.SD),
        (R.NE, R.NON_CR_NON_PD, False, R.NE),
        (R.PD, R.CR, False, R.PD),
        (R.CR, R.PD, False, R.PD),
        (R.CR, R.CR, True, R.PD),
        (None, R.CR, False, R.CR),
        (None, R.NON_CR_NON_PD, False, R.NON_CR_NON_PD),
        (None, R.NE, False, R.NE),
        (None, R.NOT_APPLICABLE, True, R.PD),
    ],
)
def test_overall_table(
    tgt: Response | None, non_target: Response, new: bool, expected: Response
) -> None:
    assert overall_response(tgt, non_target, new) is expected


@pytest.mark.parametrize("engine", ENGINES[:5], ids=lambda e: e.id)
def test_equivocal_new_lesion_is_pd_only_once_confirmed_and_then_dated_back(
    engine: Engine,
) -> None:
    base = target(
        longest_mm=50, perpendicular_mm=40, viable_mm=50, viable_perpendicular_mm=40, mean_hu=100
    )
    same = follow(**{k: v for k, v in base.items() if k not in ("organ", "role")})
    new = {"id": "N1", "organ": "liver", "role": "new"}
    never = make_doc([base], [same, new | {"status": "equivocal"}], [same])
    assert overall(engine, never) == [R.SD, R.SD]
    confirmed = make_doc(
        [base], [same, new | {"status": "equivocal"}], [same, {"id": "N1", "status": "confirmed"}]
    )
    points, _ = run(engine, confirmed)
    assert [p.overall for p in points[1:]] == [R.PD, R.PD]
    assert points[1].new_lesions
    assert any("dated back" in n for n in points[1].notes)


def test_new_node_under_10_mm_is_not_new_disease() -> None:
    base = target(longest_mm=40, perpendicular_mm=40)
    node = {"id": "N9", "organ": "lymph_node", "role": "new"}
    doc = make_doc(
        [base],
        [follow(longest_mm=40, perpendicular_mm=40), node | {"short_axis_mm": 9.9}],
        [follow(longest_mm=40, perpendicular_mm=40), {"id": "N9", "short_axis_mm": 10}],
    )
    points, _ = run(who.ENGINE, doc)
    assert [p.new_lesions for p in points[1:]] == [False, True]
    assert [p.overall for p in points[1:]] == [R.SD, R.PD]


def test_non_target_back_after_complete_response_is_pd() -> None:
    nt = {"id": "NT1", "organ": "liver", "role": "non_target", "status": "present"}
    doc = make_doc(
        [target(longest_mm=40, viable_mm=30), nt],
        [follow(status="absent"), {"id": "NT1", "status": "absent"}],
        [follow(status="absent"), {"id": "NT1", "status": "present"}],
    )
    points, _ = run(mrecist.ENGINE, doc)
    assert [p.overall for p in points[1:]] == [R.CR, R.PD]
    assert points[2].non_target is R.PD


# --- WHO --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("longest", "perpendicular", "operator", "expected"),
    [
        (32, 25, ">=", R.PR),  # 800 / 1600 mm²: exactly -50 %
        (32.1, 25, ">=", R.SD),  # 802.5 mm²
        (50, 40, ">=", R.PD),  # 2000 mm²: exactly +25 %, Miller "25 % or more"
        (50, 40, ">", R.SD),  # seed 004 "> 25 %"
        (50.1, 40, ">", R.PD),
        (49.9, 40, ">=", R.SD),
    ],
)
def test_who_boundaries(
    longest: float, perpendicular: float, operator: Any, expected: Response
) -> None:
    doc = make_doc(
        [target(longest_mm=40, perpendicular_mm=40)],
        [follow(longest_mm=longest, perpendicular_mm=perpendicular)],
    )
    assert overall(who.WhoEngine(pd_operator=operator), doc) == [expected]


def test_who_pd_reference_nadir_or_baseline() -> None:
    doc = make_doc(
        [target(longest_mm=40, perpendicular_mm=40)],  # 1600 mm²
        [follow(longest_mm=32, perpendicular_mm=25)],  # 800: PR, the nadir
        [follow(longest_mm=40, perpendicular_mm=25)],  # 1000: +25 % from nadir, -37.5 % baseline
    )
    assert overall(who.ENGINE, doc) == [R.PR, R.PD]
    assert overall(who.WhoEngine(pd_reference="baseline"), doc) == [R.PR, R.SD]
    assert who.ENGINE.thresholds[2].rule == "4*cur >= 5*nadir"


def test_who_and_recist_disagree() -> None:
    # Partial response by area, stable by diameter: 40x40 -> 32x25.
    doc = make_doc(
        [target(longest_mm=40, perpendicular_mm=40)],
        [follow(longest_mm=32, perpendicular_mm=25)],
    )
    assert recist_target_by_hand(40, 40, 32) is R.SD  # -20 %
    assert overall(who.ENGINE, doc) == [R.PR]  # -50 %
    # Progression by area, stable by diameter: 20x20 -> 24x24 (+20 % but only +4 mm).
    doc = make_doc(
        [target(longest_mm=20, perpendicular_mm=20)],
        [follow(longest_mm=24, perpendicular_mm=24)],
    )
    assert recist_target_by_hand(20, 20, 24) is R.SD
    points, _ = run(who.ENGINE, doc)
    assert points[1].overall is R.PD
    assert points[1].change_from_baseline_percent == Decimal("44.0")


def test_who_complete_response_and_missing_perpendicular() -> None:
    doc = make_doc(
        [target(longest_mm=40, perpendicular_mm=30), target("T2", longest_mm=25)],
        [follow(status="absent"), follow("T2", status="absent")],
    )
    points, warnings = run(who.ENGINE, doc)
    assert points[1].overall is R.CR
    assert any("T2" in w and "perpendicular_mm" in w for w in warnings)


def test_who_not_evaluable_unless_measured_lesions_show_pd() -> None:
    base = [  # 1700 mm²; 2400 mm² measured with T2 unknown is already +41 %
        target(longest_mm=40, perpendicular_mm=40),
        target("T2", longest_mm=10, perpendicular_mm=10),
    ]
    grown = make_doc(
        base, [follow(longest_mm=60, perpendicular_mm=40), follow("T2", status="not_evaluable")]
    )
    same = make_doc(
        base, [follow(longest_mm=40, perpendicular_mm=40), follow("T2", status="not_evaluable")]
    )
    assert overall(who.ENGINE, grown) == [R.PD]
    assert overall(who.ENGINE, same) == [R.NE]


@pytest.mark.parametrize(
    ("argument", "kwargs"),
    [("pd_operator", {"pd_operator": "=>"}), ("pd_reference", {"pd_reference": "max"})],
)
def test_who_parameters_are_checked(argument: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=f"Argument '{argument}'"):
        who.WhoEngine(**kwargs)


@given(st.integers(50, 1500), st.integers(50, 1500), st.integers(0, 1500), st.integers(0, 1500))
def test_who_follows_the_exact_integer_rule(a: int, b: int, c: int, d: int) -> None:
    doc = make_doc(
        [target(longest_mm=a / 10, perpendicular_mm=b / 10)],
        [follow(longest_mm=c / 10, perpendicular_mm=d / 10)],
    )
    base, cur = a * b, c * d
    expected = (
        R.CR if cur == 0 else R.PD if 4 * cur >= 5 * base else R.PR if 2 * cur <= base else R.SD
    )
    assert overall(who.ENGINE, doc) == [expected]


# --- mRECIST ----------------------------------------------------------------------------------


def test_mrecist_after_tace_is_pr_where_recist_is_sd() -> None:
    doc = make_doc(
        [target(longest_mm=50, viable_mm=50, enhancing=True)],
        [follow(longest_mm=45, viable_mm=20)],  # 10 % smaller, 60 % less viable
    )
    assert recist_target_by_hand(50, 50, 45) is R.SD
    points, warnings = run(mrecist.ENGINE, doc)
    assert points[1].overall is R.PR
    assert points[1].change_from_baseline_percent == Decimal("-60.0")
    assert warnings == ()


@pytest.mark.parametrize(("viable", "expected"), [(32.2, R.PR), (32.3, R.SD)])
def test_mrecist_pr_exactly_minus_30_percent(viable: float, expected: Response) -> None:
    # (32.2 - 46.0) / 46.0 <= -0.30 is False in binary floats.
    doc = make_doc([target(longest_mm=50, viable_mm=46)], [follow(longest_mm=50, viable_mm=viable)])
    assert overall(mrecist.ENGINE, doc) == [expected]


@pytest.mark.parametrize(
    ("viable", "hold", "expected"),
    [
        (32.4, True, R.PD),  # +20.0 % and +5.4 mm from the 27.0 mm nadir
        (32.3, True, R.PR),  # -19.3 % from baseline: PR held until PD
        (32.3, False, R.SD),
    ],
)
def test_mrecist_pd_exactly_plus_20_percent_from_nadir(
    viable: float, hold: bool, expected: Response
) -> None:
    doc = make_doc(
        [target(longest_mm=50, viable_mm=40)],
        [follow(longest_mm=50, viable_mm=27)],
        [follow(longest_mm=50, viable_mm=viable)],
    )
    engine = mrecist.MrecistEngine(hold_response_until_progression=hold)
    assert overall(engine, doc) == [R.PR, expected]


@pytest.mark.parametrize(("floor", "expected"), [(5, R.PR), (2.1, R.PR), (2, R.PD), (0, R.PD)])
def test_mrecist_5_mm_floor_is_a_parameter(floor: float, expected: Response) -> None:
    doc = make_doc(
        [target(longest_mm=30, viable_mm=20)],
        [follow(longest_mm=30, viable_mm=10)],
        [follow(longest_mm=30, viable_mm=12)],  # +20 % but only +2 mm
    )
    engine = mrecist.MrecistEngine(pd_min_increase_mm=floor)
    assert overall(engine, doc) == [R.PR, expected]


def test_mrecist_rule_strings_follow_the_floor() -> None:
    assert mrecist.ENGINE.thresholds[2].rule == "5*cur >= 6*nadir and cur - nadir >= 5 mm"
    assert mrecist.MrecistEngine(pd_min_increase_mm=0).thresholds[2].rule == "5*cur >= 6*nadir"
    with pytest.raises(ValueError, match="Argument 'pd_min_increase_mm'"):
        mrecist.MrecistEngine(pd_min_increase_mm=0.25)


def test_mrecist_cr_is_no_enhancement_and_nodes_below_10_mm() -> None:
    doc = make_doc(
        [
            target(longest_mm=40, viable_mm=35),
            {"id": "N1", "organ": "lymph_node", "role": "target", "short_axis_mm": 22},
        ],
        [follow(longest_mm=38, viable_mm=0), follow("N1", short_axis_mm=9.9)],
        [follow(longest_mm=38, enhancing=False), follow("N1", short_axis_mm=10)],
    )
    points, warnings = run(mrecist.ENGINE, doc)
    assert [p.overall for p in points[1:]] == [R.CR, R.PD]  # node back at 10 mm after CR
    assert any("N1 present again after CR" in n for n in points[2].notes)
    assert warnings == ()  # a 22 mm node is malignant even in the porta hepatis


def test_mrecist_baseline_targets_must_enhance() -> None:
    doc = make_doc(
        [
            target(longest_mm=40, viable_mm=30),
            target("T2", longest_mm=30, enhancing=False),
            target("T3", longest_mm=30),
            {"id": "N1", "organ": "lymph_node", "role": "target", "short_axis_mm": 17},
        ],
        [
            follow(longest_mm=40, viable_mm=20),
            follow("T2", longest_mm=30),
            follow("T3", longest_mm=30),
            follow("N1", short_axis_mm=17),
        ],
    )
    points, warnings = run(mrecist.ENGINE, doc)
    assert points[0].measure == Decimal("47.0")  # T1 30 + N1 17; T2 and T3 left out
    assert any("T2" in w and "enhancing" in w for w in warnings)
    assert any("T3" in w and "viable_mm" in w for w in warnings)
    assert any("N1" in w and "porta-hepatis" in w for w in warnings)


@given(st.integers(10, 1500), st.integers(0, 1500), st.integers(0, 1500))
def test_mrecist_follows_the_exact_integer_rule(base: int, first: int, second: int) -> None:
    doc = make_doc(
        [target(longest_mm=200, viable_mm=base / 10)],
        [follow(longest_mm=200, viable_mm=first / 10)],
        [follow(longest_mm=200, viable_mm=second / 10)],
    )

    def rule(cur: int, nadir: int, responded: bool, after_cr: bool) -> Response:
        if cur == 0:
            return R.CR
        if after_cr or (5 * cur >= 6 * nadir and cur - nadir >= 50):
            return R.PD
        return R.PR if 10 * cur <= 7 * base or responded else R.SD

    one = rule(first, base, False, False)
    two = rule(second, min(base, first), one in (R.PR, R.CR), one is R.CR)
    assert overall(mrecist.ENGINE, doc) == [one, two]


# --- EASL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viable", "perpendicular", "expected"),
    [(32, 25, R.PR), (32.1, 25, R.SD), (50, 40, R.PD), (49.9, 40, R.SD), (0, 0, R.CR)],
)
def test_easl_boundaries(viable: float, perpendicular: float, expected: Response) -> None:
    doc = make_doc(
        [target(longest_mm=60, viable_mm=40, viable_perpendicular_mm=40)],
        [follow(longest_mm=60, viable_mm=viable, viable_perpendicular_mm=perpendicular)],
    )
    assert overall(easl.ENGINE, doc) == [expected]


def test_easl_without_viable_diameters_is_not_evaluable() -> None:
    doc = make_doc([target(longest_mm=60, viable_mm=40)], [follow(longest_mm=60, viable_mm=20)])
    points, warnings = run(easl.ENGINE, doc)
    assert points[1].overall is R.NE
    assert any("viable_perpendicular_mm" in w for w in warnings)


# --- Choi and modified Choi -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "hu", "choi_response", "mchoi_response"),
    [
        (45, 100, R.PR, R.SD),  # size exactly -10 %
        (50, 85, R.PR, R.SD),  # density exactly -15 %
        (45, 85, R.PR, R.PR),  # both: modified Choi PR
        (45.1, 85.1, R.SD, R.SD),
        (55, 100, R.PD, R.PD),  # size exactly +10 %
        (54.9, 100, R.SD, R.SD),
        (55, 85, R.PR, R.SD),  # +10 % size but PR by density: not PD
        (0, 100, R.CR, R.CR),
    ],
)
def test_choi_boundaries(
    size: float, hu: float, choi_response: Response, mchoi_response: Response
) -> None:
    status = {"status": "absent"} if size == 0 else {"longest_mm": size, "mean_hu": hu}
    doc = make_doc([target(longest_mm=50, mean_hu=100)], [follow(**status)])
    assert overall(choi.CHOI_ENGINE, doc) == [choi_response]
    assert overall(choi.MCHOI_ENGINE, doc) == [mchoi_response]


def test_choi_density_is_exact_mean_of_targets() -> None:
    # 0.85 * 92 == 78.19999999999999 in floats; the mean of 92 and 92 falls exactly 15 %.
    doc = make_doc(
        [target(longest_mm=50, mean_hu=90), target("T2", longest_mm=30, mean_hu=94)],
        [follow(longest_mm=50, mean_hu=78.2), follow("T2", longest_mm=30, mean_hu=78.2)],
    )
    points, _ = run(choi.CHOI_ENGINE, doc)
    assert points[1].overall is R.PR
    assert any("-15.0 %" in n for n in points[1].notes)
    assert overall(choi.MCHOI_ENGINE, doc) == [R.SD]


def test_choi_without_density_is_size_only_and_mchoi_cannot_be_pr() -> None:
    doc = make_doc([target(longest_mm=50)], [follow(longest_mm=40)])
    points, warnings = run(choi.CHOI_ENGINE, doc)
    assert points[1].overall is R.PR
    assert any("size alone" in w for w in warnings)
    assert overall(choi.MCHOI_ENGINE, doc) == [R.NE]


# --- PERCIST 1.0 ------------------------------------------------------------------------------


def percist_doc(base: float, cur: float, **liver: float) -> ResponseFile:
    background = {"liver_sul_mean": 1.0, "liver_sul_sd": 0.1} | liver
    return make_doc(
        {**background, "lesions": [target(longest_mm=30, sul_peak=base)]},
        {"liver_sul_mean": background["liver_sul_mean"], "lesions": [follow(sul_peak=cur)]},
    )


@pytest.mark.parametrize(
    ("base", "cur", "expected", "metabolic"),
    [
        (2.0, 1.3, R.SD, "SMD"),  # 35 % drop but only 0.7 SUL
        (4.0, 2.8, R.PR, "PMR"),  # exactly -30 %, -1.2 SUL
        (4.0, 2.81, R.SD, "SMD"),
        (2.0, 1.2, R.PR, "PMR"),  # -40 %, exactly -0.8 SUL
        (2.0, 1.21, R.SD, "SMD"),
        (4.0, 5.2, R.SD, "SMD"),  # exactly +30 %: PMD needs more
        (4.0, 5.21, R.PD, "PMD"),
        (2.0, 2.8, R.SD, "SMD"),  # +40 % but exactly +0.8 SUL
        (2.0, 2.81, R.PD, "PMD"),
        (2.0, 1.0, R.CR, "CMR"),  # at the liver mean
        (2.0, 1.01, R.PR, "PMR"),
    ],
)
def test_percist_boundaries(base: float, cur: float, expected: Response, metabolic: str) -> None:
    points, warnings = run(percist.ENGINE, percist_doc(base, cur))
    assert warnings == ()
    assert points[1].overall is expected
    assert any(n.startswith(metabolic) for n in points[1].notes)


@pytest.mark.parametrize(("base", "measurable"), [(2.95, False), (2.96, True)])
def test_percist_measurable_only_strictly_above_1_5_liver_plus_2_sd(
    base: float, measurable: bool
) -> None:
    # 1.5 x 1.7 + 2 x 0.2 is exactly 2.95 (2.9499999999999997 in floats).
    points, warnings = run(
        percist.ENGINE, percist_doc(base, 1.0, liver_sul_mean=1.7, liver_sul_sd=0.2)
    )
    if measurable:
        assert warnings == () and points[1].overall is R.CR
    else:
        assert points[1].overall is R.NE
        assert any("not measurable" in w for w in warnings)


def test_percist_needs_the_liver_background() -> None:
    doc = make_doc(
        [target(longest_mm=30, sul_peak=6.0)],
        [follow(sul_peak=2.0)],
        [follow(sul_peak=2.0), {"id": "N1", "organ": "liver", "role": "new"}],
    )
    points, warnings = run(percist.ENGINE, doc)
    assert [p.overall for p in points[1:]] == [R.NE, R.PD]  # new lesions stay PMD
    assert any("liver background" in w for w in warnings)


def test_percist_warns_when_liver_background_shifts() -> None:
    doc = make_doc(
        {
            "liver_sul_mean": 2.0,
            "liver_sul_sd": 0.2,
            "lesions": [target(longest_mm=30, sul_peak=8)],
        },
        {"liver_sul_mean": 2.5, "lesions": [follow(sul_peak=8)]},  # +25 %, +0.5 SUL
        {"liver_sul_mean": 2.3, "lesions": [follow(sul_peak=8)]},  # +15 %
    )
    points, warnings = run(percist.ENGINE, doc)
    assert [p.overall for p in points[1:]] == [R.SD, R.SD]
    assert len(warnings) == 1 and "2026-04-02" in warnings[0]


# --- SSTR PET (exploratory) -------------------------------------------------------------------


def test_sstr_ratios_are_computed_and_never_classified() -> None:
    doc = make_doc(
        {
            "liver_suv_mean": 8.2,
            "spleen_suv_mean": 20.5,
            "lesions": [
                target(longest_mm=30, suv_max=24.6),
                target("T2", longest_mm=20, suv_max=10),
            ],
        },
        {"liver_suv_mean": 7.5, "lesions": [follow(suv_max=15), follow("T2", status="absent")]},
    )
    metrics = sstr.sstr_metrics(doc)
    assert [m.hottest_lesion for m in metrics] == ["T1", "T1"]
    assert metrics[0].tumour_to_liver == Decimal("3.00")
    assert metrics[0].tumour_to_spleen == Decimal("1.20")
    assert [lesion.tumour_to_liver for lesion in metrics[0].lesions] == [
        Decimal("3.00"),
        Decimal("1.22"),
    ]
    assert metrics[1].tumour_to_liver == Decimal("2.00")
    assert metrics[1].tumour_to_spleen is None
    assert [lesion.id for lesion in metrics[1].lesions] == ["T1"]
    assert all(sstr.EXPLORATORY_NOTE in m.notes for m in metrics)

    def values(model: BaseModel) -> list[object]:
        out: list[object] = []
        for name in type(model).model_fields:
            value = getattr(model, name)
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                out.extend(values(item) if isinstance(item, BaseModel) else [item])
        return out

    assert not any(isinstance(v, Response) for m in metrics for v in values(m))
    assert not {"overall", "target", "response"} & set(sstr.SstrMetrics.model_fields)
