"""PERCIST 1.0 (Wahl et al. 2009): FDG-PET response from the hottest lesion's SULpeak.

At each time point the measure is the SULpeak of the hottest lesion (any
baseline target or non-target; not necessarily the same lesion every time).
PERCIST reports its own categories (``TimepointResult.category`` and
``BestOverallResponse.category``: CMR, PMR, SMD, PMD, or NE), each with a
RECIST-like alias in ``overall`` / ``response`` (CMR -> CR, PMR -> PR,
SMD -> SD, PMD -> PD) on which the best-overall-response machinery runs.

* Measurable at baseline only when ``SULpeak > 1.5 x liver_sul_mean + 2 x
  liver_sul_sd`` (strictly above); otherwise, or without the liver
  background, every follow-up is NE (new lesions still PD) with a warning.
* CMR: hottest SULpeak at or below the liver mean (``<=``; the follow-up's
  ``liver_sul_mean``, else the baseline's).
* PMR: >= 30 % **and** >= 0.8 SUL decrease from baseline.
* PMD: > 30 % **and** > 0.8 SUL increase from baseline, new lesions, or
  unequivocal progression of a non-target lesion.
* Otherwise SMD.  A 35 % drop of only 0.7 SUL is SMD.

All comparisons are exact fractions of the decimal values in the file.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from netlm.response._common import (
    GONE_STATUSES,
    NEW_LESION_SOURCE,
    dedupe,
    exact,
    new_lesions,
    non_target_response,
    observations_of,
    percent_change,
    signed_percent,
)
from netlm.response.model import Observation, ResponseFile, Role, TimePoint
from netlm.response.result import Response, Threshold, TimepointResult

__all__ = ["CATEGORY", "ENGINE", "METABOLIC", "PercistEngine", "category"]

PERCIST_SOURCE = (
    "Wahl RL, Jacene H, Kasamon Y, Lodge MA, J Nucl Med 2009;50 Suppl 1:122S-150S; "
    "shared/reference/response.md §PERCIST 1.0"
)

#: PERCIST's metabolic name for each response category.
METABOLIC: dict[Response, str] = {
    Response.CR: "CMR (complete metabolic response)",
    Response.PR: "PMR (partial metabolic response)",
    Response.SD: "SMD (stable metabolic disease)",
    Response.PD: "PMD (progressive metabolic disease)",
}

#: PERCIST's category for each RECIST-like alias (NE: not evaluable).
CATEGORY: dict[Response, str] = {
    Response.CR: "CMR",
    Response.PR: "PMR",
    Response.SD: "SMD",
    Response.PD: "PMD",
    Response.NE: "NE",
}

_POINT_8 = Fraction(4, 5)


def category(response: Response) -> str | None:
    """PERCIST's name of a RECIST-like alias, ``None`` for NA (the baseline).

    Examples
    --------
    >>> category(Response.PR), category(Response.NOT_APPLICABLE)
    ('PMR', None)
    """
    return CATEGORY.get(response)


class PercistEngine:
    """PERCIST 1.0 on the hottest lesion's SULpeak.

    Examples
    --------
    >>> ENGINE.id, ENGINE.thresholds[0].rule
    ('percist1.0', '2*sul_peak > 3*liver_sul_mean + 4*liver_sul_sd')
    """

    id: str
    version: str
    label: str
    thresholds: tuple[Threshold, ...]

    def __init__(self) -> None:
        self.id = "percist1.0"
        self.version = "1.0"
        self.label = "PERCIST 1.0"
        self.thresholds = (
            Threshold(
                name="measurable",
                rule="2*sul_peak > 3*liver_sul_mean + 4*liver_sul_sd",
                source=PERCIST_SOURCE,
            ),
            Threshold(name="CMR", rule="sul_peak <= liver_sul_mean", source=PERCIST_SOURCE),
            Threshold(
                name="PMR",
                rule="10*cur <= 7*baseline and baseline - cur >= 0.8",
                source=PERCIST_SOURCE,
            ),
            Threshold(
                name="PMD",
                rule="10*cur > 13*baseline and cur - baseline > 0.8",
                source=PERCIST_SOURCE,
            ),
            Threshold(
                name="new lesion",
                rule="any role: new lesion present or confirmed -> PMD",
                source=NEW_LESION_SOURCE,
            ),
            Threshold(
                name="liver comparability",
                rule="|liver - liver_baseline| <= 0.2*liver_baseline or <= 0.3 (warning only)",
                source=PERCIST_SOURCE,
            ),
        )

    def assess(self, doc: ResponseFile) -> tuple[tuple[TimepointResult, ...], tuple[str, ...]]:
        """Time-point results (baseline first) and conformance warnings."""
        baseline = doc.timepoints[0]
        warnings: list[str] = []
        lesions = [
            o
            for o in baseline.lesions
            if o.role in (Role.TARGET, Role.NON_TARGET) and o.sul_peak is not None
        ]
        base = max((exact(o.sul_peak) for o in lesions if o.sul_peak is not None), default=None)
        measurable = False
        if base is None:
            warnings.append("no lesion has sul_peak at baseline: PERCIST not evaluable")
        elif baseline.liver_sul_mean is None or baseline.liver_sul_sd is None:
            warnings.append(
                "no liver background at baseline (liver_sul_mean and liver_sul_sd): "
                "PERCIST measurability cannot be checked; not evaluable"
            )
        else:
            limit = Fraction(3, 2) * exact(baseline.liver_sul_mean) + 2 * exact(
                baseline.liver_sul_sd
            )
            measurable = base > limit
            if not measurable:
                warnings.append(
                    f"hottest baseline SULpeak {_sul(base)} is not above 1.5 x liver mean + "
                    f"2 SD = {_sul(limit)}: not measurable by PERCIST; not evaluable"
                )
        new = new_lesions(doc)
        results = [
            TimepointResult(
                date=baseline.date,
                measure=_decimal(base),
                unit="SUL",
                nadir=_decimal(base),
                overall=Response.NOT_APPLICABLE,
                notes=(f"hottest SULpeak {_sul(base)}",) if base is not None else (),
            )
        ]
        nadir = base
        for i, tp in enumerate(doc.timepoints[1:], start=1):
            notes: list[str] = []
            cur, complete = _hottest(tp, lesions)
            target: Response | None
            if base is None or not measurable:
                target = Response.NE
            else:
                target = self._metabolic(tp, baseline, base, cur, complete, notes, warnings)
            non_target = non_target_response(baseline, tp)
            notes.extend(new[i].notes)
            overall = target
            if new[i].present or non_target is Response.PD:
                overall = Response.PD
                notes.append(METABOLIC[Response.PD])
            measure = cur if complete else None
            results.append(
                TimepointResult(
                    date=tp.date,
                    measure=_decimal(measure),
                    unit="SUL",
                    change_from_baseline_percent=_change(measure, base),
                    change_from_nadir_percent=_change(measure, nadir),
                    nadir=_decimal(nadir),
                    target=target,
                    non_target=non_target,
                    new_lesions=new[i].present,
                    overall=overall,
                    category=category(overall),
                    notes=tuple(dict.fromkeys(notes)),
                )
            )
            if measure is not None and nadir is not None:
                nadir = min(nadir, measure)
        return tuple(results), dedupe(warnings)

    def _metabolic(
        self,
        tp: TimePoint,
        baseline: TimePoint,
        base: Fraction,
        cur: Fraction | None,
        complete: bool,
        notes: list[str],
        warnings: list[str],
    ) -> Response:
        """The metabolic category of a measurable baseline at ``tp``."""
        if cur is None:
            notes.append("no SULpeak measured")
            return Response.NE
        pmd = 10 * cur > 13 * base and cur - base > _POINT_8
        change = signed_percent(percent_change(cur, base))
        delta = cur - base
        notes.append(
            f"hottest SULpeak {_sul(cur)} vs baseline {_sul(base)} ({change}, "
            f"{'+' if delta > 0 else ''}{_sul(delta)} SUL)"
        )
        if not complete:
            notes.append("not every baseline lesion has a SULpeak here")
            if pmd:
                notes.append("the measured lesions alone show PMD")
                return Response.PD
            return Response.NE
        liver_value = tp.liver_sul_mean
        if liver_value is None:
            liver_value = baseline.liver_sul_mean
            notes.append("no liver background here: baseline liver_sul_mean used")
        elif baseline.liver_sul_mean is not None:
            now, then = exact(liver_value), exact(baseline.liver_sul_mean)
            if abs(now - then) * 5 > then and abs(now - then) > Fraction(3, 10):
                warnings.append(
                    f"{tp.date}: liver SUL mean {liver_value} vs baseline "
                    f"{baseline.liver_sul_mean} differs by > 20 % and > 0.3; scans may not "
                    "be comparable"
                )
        liver = exact(liver_value) if liver_value is not None else None
        if liver is not None and cur <= liver:
            response = Response.CR
            notes.append(f"at or below liver mean {_sul(liver)}: sul_peak <= liver_sul_mean")
        elif pmd:
            response = Response.PD
            notes.append("10*cur > 13*baseline and cur - baseline > 0.8")
        elif 10 * cur <= 7 * base and base - cur >= _POINT_8:
            response = Response.PR
            notes.append("10*cur <= 7*baseline and baseline - cur >= 0.8")
        else:
            response = Response.SD
        notes.append(METABOLIC[response])
        return response


def _hottest(tp: TimePoint, lesions: list[Observation]) -> tuple[Fraction | None, bool]:
    """(hottest SULpeak of the non-new lesions at ``tp``, whether every baseline lesion is known).

    A baseline lesion is known when it (or a fragment) has a SULpeak or is gone
    (absent, merged); when every one is gone the hottest is 0.
    """
    values = [
        exact(o.sul_peak)
        for o in tp.lesions
        if o.role is not Role.NEW and o.sul_peak is not None and o.status not in GONE_STATUSES
    ]
    complete = all(
        (obs := observations_of(tp, b.id))
        and all(o.sul_peak is not None or o.status in GONE_STATUSES for o in obs)
        for b in lesions
    )
    if values:
        return max(values), complete
    return (Fraction(0) if complete and lesions else None), complete


def _sul(value: Fraction | None) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value.numerator) / Decimal(value.denominator):.2f}"


def _decimal(value: Fraction | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value.numerator) / Decimal(value.denominator)


def _change(cur: Fraction | None, ref: Fraction | None) -> Decimal | None:
    return None if cur is None or ref is None else percent_change(cur, ref)


ENGINE = PercistEngine()
