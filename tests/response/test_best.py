"""Best overall response and endpoints.

The exhaustive test checks :func:`best_overall_response` against an independent
statement of the rules (:func:`oracle`) written over strings of letters: the
confirming pairs are enumerated explicitly and each confirmation window is
matched by a regular expression, instead of walking forward to the first
confirming scan as the implementation does (admiralonco's
``filter_confirmation()``).  The two agree because every window condition only
gets harder as the window grows, so "some later scan confirms" and "the first
scan that could confirm does confirm" are the same statement.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlm.response.best import best_overall_response, endpoints
from netlm.response.model import Confirmation
from netlm.response.result import Response, TimepointResult

R = Response
START = dt.date(2026, 1, 5)
LETTERS = {"C": R.CR, "P": R.PR, "S": R.SD, "D": R.PD, "N": R.NE, "X": R.NON_CR_NON_PD}


def series(letters: str, days: list[int]) -> list[tuple[dt.date, Response]]:
    return [(START + dt.timedelta(days=d), LETTERS[c]) for c, d in zip(letters, days, strict=True)]


# --- the independent statement of the rules ------------------------------------------------


def oracle(
    letters: str, days: list[int], conf: Confirmation
) -> tuple[Response, int | None, bool | None]:
    """(best response, day of the deciding scan, confirmed) for scans ``letters`` on ``days``.

    C = CR, P = PR, S = SD, D = PD, N = NE, X = non-CR/non-PD; days count from the
    reference date.
    """
    if "D" in letters:  # nothing after the first PD counts
        cut = letters.index("D") + 1
        letters, days = letters[:cut], days[:cut]
    if not letters:
        return R.NE, None, None
    seen_response = bool(set(letters) & {"C", "P"})
    confirmed: set[int] = set()
    if conf.required:
        sd_allowed = 1 if conf.accept_sd_between else 0
        for a, b in itertools.combinations(range(len(letters)), 2):
            if days[b] - days[a] < conf.min_days:
                continue
            window = letters[a : b + 1]
            if window.count("N") > conf.max_ne_between:
                continue
            # CR: CR ... CR with only CR or NE in between.
            if re.fullmatch(r"C[CN]*C", window):
                confirmed.add(a)
            # PR: PR ... CR/PR, only CR/PR/SD/NE, no PR after a CR, SD at most as accepted.
            if (
                re.fullmatch(r"P[CPSN]*[CP]", window)
                and re.fullmatch(r"P+C*", re.sub(r"[SN]", "", window))
                and window.count("S") <= sd_allowed
            ):
                confirmed.add(a)

    def first(predicate: str, pool: set[int] | None = None) -> int | None:
        hits = [i for i, c in enumerate(letters) if c in predicate and (pool is None or i in pool)]
        return hits[0] if hits else None

    long_enough = {i for i, d in enumerate(days) if d >= conf.sd_min_days}
    # Required and a CR/PR seen but none confirmed: False; nothing to confirm: None.
    flag = (False if seen_response else None) if conf.required else None
    for letter, response in (("C", R.CR), ("P", R.PR)):
        hit = first(letter, confirmed if conf.required else None)
        if hit is not None:
            return response, days[hit], True if conf.required else None
    # Unconfirmed CR/PR count as SD (when confirmation is required) once long enough.
    hit = first("CPS", long_enough)
    if hit is not None:
        return R.SD, days[hit], flag
    hit = first("X", long_enough)
    if hit is not None:
        return R.NON_CR_NON_PD, days[hit], flag
    if "D" in letters:
        return R.PD, days[letters.index("D")], flag
    return R.NE, days[0], flag


def check(letters: str, days: list[int], conf: Confirmation) -> None:
    got = best_overall_response(series(letters, days), reference_date=START, confirmation=conf)
    want, day, confirmed = oracle(letters, days, conf)
    got_day = None if got.date is None else (got.date - START).days
    assert (got.response, got_day, got.confirmed) == (want, day, confirmed), (letters, days)


CONFIGS = {
    "unconfirmed": Confirmation(required=False),
    "confirmed": Confirmation(required=True),  # 28 days, 1 NE, no SD, SD from day 42
    "confirmed-no-NE-one-SD": Confirmation(required=True, max_ne_between=0, accept_sd_between=True),
    "confirmed-56-days-2-NE": Confirmation(
        required=True, min_days=56, max_ne_between=2, sd_min_days=56
    ),
}


@pytest.mark.parametrize("weeks", [2, 4, 6, 8])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_short_sequence_matches_the_rules(weeks: int, config: str) -> None:
    conf = CONFIGS[config]
    checked = 0
    for n in range(1, 5):
        days = [7 * weeks * k for k in range(1, n + 1)]
        for letters in itertools.product("CPSDN", repeat=n):
            check("".join(letters), days, conf)
            checked += 1
    assert checked == 5 + 25 + 125 + 625


@given(
    letters=st.text(alphabet="CPSDNX", min_size=0, max_size=7),
    gaps=st.lists(st.integers(min_value=1, max_value=70), min_size=7, max_size=7),
    required=st.booleans(),
    max_ne=st.integers(min_value=0, max_value=2),
    accept_sd=st.booleans(),
    min_days=st.sampled_from([14, 28, 29]),
    sd_min_days=st.sampled_from([0, 42, 56]),
)
def test_irregular_schedules_match_the_rules(
    letters: str,
    gaps: list[int],
    required: bool,
    max_ne: int,
    accept_sd: bool,
    min_days: int,
    sd_min_days: int,
) -> None:
    conf = Confirmation(
        required=required,
        max_ne_between=max_ne,
        accept_sd_between=accept_sd,
        min_days=min_days,
        sd_min_days=sd_min_days,
    )
    days = list(itertools.accumulate(gaps))[: len(letters)]
    check(letters, days, conf)


# --- admiralonco's own test expectations ---------------------------------------------------

# tests/testthat/test-derive_param_confirmed_bor.R and test-derive_param_bor.R (pharmaverse
# admiralonco): subject -> (treatment start, assessments).
ADMIRALONCO = {
    "1": ("2020-01-01", [("2020-01-01", "P"), ("2020-02-01", "C"), ("2020-02-16", "N"),
                         ("2020-03-01", "C"), ("2020-04-01", "S")]),
    "2": ("2019-12-12", [("2020-01-01", "S"), ("2020-02-01", "P"), ("2020-03-01", "S"),
                         ("2020-03-13", "C")]),
    "3": ("2019-11-11", [("2019-11-12", "C"), ("2019-12-02", "C"), ("2020-01-01", "S")]),
    "4": ("2019-12-30", [("2020-01-01", "P"), ("2020-03-01", "S"), ("2020-04-01", "S"),
                         ("2020-05-01", "P"), ("2020-05-15", "X")]),
    "5": ("2020-01-01", [("2020-01-01", "P"), ("2020-01-10", "S"), ("2020-01-20", "P"),
                         ("2020-05-15", "X")]),
    "6": ("2020-02-02", [("2020-02-06", "P"), ("2020-02-16", "C"), ("2020-03-30", "P")]),
    "7": ("2020-02-02", [("2020-02-06", "P"), ("2020-02-16", "C"), ("2020-04-01", "N")]),
    "8": ("2020-04-01", []),
    "9": ("2020-02-01", [("2020-02-16", "D"), ("2020-03-06", "S")]),
}  # fmt: skip


def _admiralonco(subject: str, conf: Confirmation) -> tuple[Response, str | None]:
    start, assessments = ADMIRALONCO[subject]
    got = best_overall_response(
        [(dt.date.fromisoformat(d), LETTERS[c]) for d, c in assessments],
        reference_date=dt.date.fromisoformat(start),
        confirmation=conf,
    )
    return got.response, None if got.date is None else got.date.isoformat()


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("1", (R.CR, "2020-02-01")),
        ("2", (R.SD, "2020-02-01")),
        ("3", (R.SD, "2020-01-01")),
        ("4", (R.SD, "2020-03-01")),
        ("5", (R.NON_CR_NON_PD, "2020-05-15")),
        ("6", (R.SD, "2020-03-30")),
        ("7", (R.NE, "2020-02-06")),
        ("8", (R.NE, None)),  # admiralonco: MISSING (NE with missing_as_ne)
        ("9", (R.PD, "2020-02-16")),
    ],
)
def test_admiralonco_confirmed_bor_test_1(subject: str, expected: tuple[Response, str]) -> None:
    conf = Confirmation(required=True, min_days=28, sd_min_days=28)
    assert _admiralonco(subject, conf) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("1", (R.PR, "2020-01-01")),
        ("2", (R.PR, "2020-02-01")),
        ("3", (R.CR, "2019-11-12")),
        ("4", (R.SD, "2020-03-01")),
        ("5", (R.PR, "2020-01-01")),
        ("6", (R.SD, "2020-03-30")),
        ("8", (R.NE, None)),
        ("9", (R.PD, "2020-02-16")),
    ],
)
def test_admiralonco_confirmed_bor_test_2(subject: str, expected: tuple[Response, str]) -> None:
    # ref_confirm 14, max_nr_ne 0, accept_sd TRUE (subject 7 there is "ND", which netlm lacks).
    conf = Confirmation(
        required=True, min_days=14, max_ne_between=0, accept_sd_between=True, sd_min_days=28
    )
    assert _admiralonco(subject, conf) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("1", (R.CR, "2020-02-01")),
        ("2", (R.CR, "2020-03-13")),
        ("3", (R.CR, "2019-11-12")),
        ("4", (R.PR, "2020-01-01")),
        ("5", (R.PR, "2020-01-01")),
        ("6", (R.CR, "2020-02-16")),
        ("7", (R.CR, "2020-02-16")),
    ],
)
def test_admiralonco_bor_without_confirmation(subject: str, expected: tuple[Response, str]) -> None:
    assert _admiralonco(subject, Confirmation(required=False, sd_min_days=28)) == expected


# --- single behaviours ---------------------------------------------------------------------


def bor(letters: str, days: list[int], **conf: object) -> tuple[Response, int | None]:
    got = best_overall_response(
        series(letters, days),
        reference_date=START,
        confirmation=Confirmation.model_validate(conf),
    )
    return got.response, None if got.date is None else (got.date - START).days


@pytest.mark.parametrize(("gap", "expected"), [(27, R.SD), (28, R.CR)])
def test_confirmation_needs_min_days_exactly(gap: int, expected: Response) -> None:
    assert bor("CC", [56, 56 + gap], required=True)[0] is expected


@pytest.mark.parametrize(("day", "expected"), [(41, R.NE), (42, R.SD)])
def test_sd_needs_sd_min_days_exactly(day: int, expected: Response) -> None:
    assert bor("S", [day]) == (expected, day)


def test_early_sd_then_pd_is_pd() -> None:
    assert bor("SD", [28, 56]) == (R.PD, 56)


def test_not_required_takes_unconfirmed_responses() -> None:
    assert bor("PS", [14, 56]) == (R.PR, 14)  # even before the SD window
    assert bor("PS", [14, 56], required=True) == (R.SD, 56)


def test_ne_between_is_limited() -> None:
    assert bor("CNC", [56, 70, 84], required=True) == (R.CR, 56)
    assert bor("CNNC", [56, 63, 70, 84], required=True) == (R.SD, 56)
    assert bor("CNNC", [56, 63, 70, 84], required=True, max_ne_between=2) == (R.CR, 56)


def test_sd_between_only_for_pr_and_only_when_accepted() -> None:
    assert bor("PSP", [56, 70, 84], required=True) == (R.SD, 56)
    assert bor("PSP", [56, 70, 84], required=True, accept_sd_between=True) == (R.PR, 56)
    assert bor("CSC", [56, 70, 84], required=True, accept_sd_between=True) == (R.SD, 56)


def test_cr_then_pr_is_flagged_and_not_a_confirmed_response() -> None:
    got = best_overall_response(
        series("CP", [56, 112]), reference_date=START, confirmation=Confirmation(required=True)
    )
    assert (got.response, got.confirmed) == (R.SD, False)
    assert any("CR is followed by a PR" in n for n in got.notes)


def test_pr_then_cr_confirms_the_pr() -> None:
    got = best_overall_response(
        series("PC", [56, 112]), reference_date=START, confirmation=Confirmation(required=True)
    )
    assert (got.response, got.confirmed) == (R.PR, True)
    assert any("confirmed on" in n for n in got.notes)


def test_scans_after_the_first_pd_do_not_count() -> None:
    got = best_overall_response(
        series("DCC", [56, 112, 168]), reference_date=START, confirmation=Confirmation()
    )
    assert got.response is R.PD
    assert any("after the first PD" in n for n in got.notes)


def test_not_applicable_counts_as_ne() -> None:
    got = best_overall_response(
        [(START + dt.timedelta(days=56), R.NOT_APPLICABLE)],
        reference_date=START,
        confirmation=Confirmation(),
    )
    assert got.response is R.NE


def test_no_follow_up_is_ne() -> None:
    got = best_overall_response([], reference_date=START, confirmation=Confirmation())
    assert (got.response, got.date) == (R.NE, None)


def test_without_reference_date_sd_duration_is_not_checked() -> None:
    got = best_overall_response(series("S", [7]), reference_date=None, confirmation=Confirmation())
    assert got.response is R.SD
    assert any("not checked" in n for n in got.notes)


def test_dates_must_increase() -> None:
    with pytest.raises(ValueError, match="Argument 'points'"):
        best_overall_response(
            series("SS", [56, 56]), reference_date=START, confirmation=Confirmation()
        )


# --- endpoints -----------------------------------------------------------------------------


def point(day: int, overall: Response, change: str | None = None) -> TimepointResult:
    return TimepointResult(
        date=START + dt.timedelta(days=day),
        unit="mm",
        overall=overall,
        change_from_baseline_percent=None if change is None else Decimal(change),
    )


def test_endpoints_progression_response_and_depth() -> None:
    points = [
        point(0, R.NOT_APPLICABLE, "0"),
        point(56, R.SD, "-12.5"),
        point(112, R.PR, "-40"),
        point(168, R.PR, "-45.5"),
        point(224, R.PD, "-10"),
        point(280, R.CR, "-100"),  # after progression: ignored
    ]
    ends = endpoints(points, reference_date=START + dt.timedelta(days=5))
    assert ends.progression_date == START + dt.timedelta(days=224)
    assert ends.time_to_progression_days == 219  # from the reference date
    assert ends.response_date == START + dt.timedelta(days=112)
    assert ends.duration_of_response_days == 112
    assert ends.depth_of_response_percent == Decimal("-45.5")


def test_endpoints_from_baseline_without_reference_date() -> None:
    ends = endpoints([point(0, R.NOT_APPLICABLE), point(70, R.PD)])
    assert ends.time_to_progression_days == 70
    assert ends.response_date is None and ends.duration_of_response_days is None
    assert ends.depth_of_response_percent is None


def test_endpoints_without_progression() -> None:
    ends = endpoints(
        [point(0, R.NOT_APPLICABLE, "0"), point(56, R.PR, "-31"), point(112, R.SD, "5")]
    )
    assert ends.progression_date is None and ends.duration_of_response_days is None
    assert ends.response_date == START + dt.timedelta(days=56)
    assert ends.depth_of_response_percent == Decimal(-31)


def test_depth_is_positive_when_the_measure_never_fell() -> None:
    ends = endpoints([point(0, R.NOT_APPLICABLE, "0"), point(56, R.SD, "4"), point(112, R.SD, "9")])
    assert ends.depth_of_response_percent == Decimal(4)


def test_endpoints_measures_override() -> None:
    points = [point(0, R.NOT_APPLICABLE), point(56, R.SD), point(112, R.SD)]
    ends = endpoints(points, measures=[None, Decimal(-5), Decimal(-8)])
    assert ends.depth_of_response_percent == Decimal(-8)
    with pytest.raises(ValueError, match="Argument 'measures'"):
        endpoints(points, measures=[Decimal(1)])


def test_endpoints_need_a_baseline() -> None:
    with pytest.raises(ValueError, match="Argument 'points'"):
        endpoints([])
