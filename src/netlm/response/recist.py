"""RECIST 1.1: target sums, non-target and new lesions, overall time-point response.

Every comparison is exact, over integers of tenths of a millimetre
(:func:`netlm.response.model.tenths`): partial response is
``10*sum <= 7*baseline`` and progression ``5*sum >= 6*nadir and
sum - nadir >= 50`` (``shared/reference/response.md``, Arithmetic).  In binary
floating point ``(32.4 - 27.0)/27.0 >= 0.20`` is false although the increase is
exactly 20 %.

Sources
-------
* Eisenhauer EA et al., New response evaluation criteria in solid tumours:
  revised RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247
  (measurability 3.1; baseline targets 3.3; response 4.3; time-point
  response 4.4.1, with and without target disease).
* RECIST working group, questions and clarifications (recist.eortc.org):
  continued PR until PD; "too small to measure" only when no value can be
  measured; a lesion reappearing when overall CR was assigned at the previous
  assessment is PD (here: the latest overall response other than NE was CR);
  a node reappears only at >= 10 mm short axis; lymph nodes are one organ.
* CDISC SDTM oncology domains (TU/TR/RS): merged lesions are "merged", not
  "disappeared", and the merged lesion is measured once.

The helpers :func:`is_partial_response`, :func:`is_progression`,
:func:`percent_change`, :func:`mm` and :func:`overall_response` are public for
the criteria adapted from RECIST to reuse.
"""

from __future__ import annotations

import decimal
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from netlm.response.io import resolve
from netlm.response.model import Observation, ResponseFile, Role, Status, TimePoint, tenths
from netlm.response.result import Engine, Response, Threshold, TimepointResult

SOURCE_RECIST: Final = "Eisenhauer EA et al., Eur J Cancer 2009;45:228-247 (RECIST 1.1)"
SOURCE_FAQ: Final = "RECIST working group, questions and clarifications (recist.eortc.org)"
SOURCE_CDISC: Final = "CDISC SDTM oncology domains TU/TR/RS (merged and split tumours)"

#: Progression needs an absolute increase of at least 5 mm (in tenths of a mm).
PD_MIN_INCREASE_TENTHS: Final = 50
#: The value of a target "too small to measure" (5 mm), when no value was measured.
TOO_SMALL_TENTHS: Final = 50
#: A lymph node with a short axis below 10 mm is normal.
NODE_NORMAL_BELOW_TENTHS: Final = 100
#: A lymph-node target needs a short axis of at least 15 mm at baseline.
NODE_TARGET_MIN_TENTHS: Final = 150
#: A non-nodal target needs a longest diameter of at least 10 mm at baseline ...
MEASURABLE_MIN_MM: Final = Decimal(10)
#: ... or twice the slice thickness when slices are thicker than 5 mm.
THICK_SLICE_ABOVE_MM: Final = Decimal(5)
MAX_TARGETS: Final = 5
MAX_TARGETS_PER_ORGAN: Final = 2

THRESHOLDS: Final[tuple[Threshold, ...]] = (
    Threshold(
        name="complete response (targets)",
        rule="every non-nodal target == 0 and every nodal target short axis < 100 (tenths of a "
        "mm); the sum may be > 0",
        source=f"{SOURCE_RECIST}, 4.3.1",
    ),
    Threshold(
        name="partial response",
        rule="10*sum <= 7*baseline_sum (tenths of a mm)",
        source=f"{SOURCE_RECIST}, 4.3.1",
    ),
    Threshold(
        name="progressive disease",
        rule="5*sum >= 6*nadir and sum - nadir >= 50 (tenths of a mm); nadir = smallest sum so "
        "far, baseline included; checked before PR",
        source=f"{SOURCE_RECIST}, 4.3.1",
    ),
    Threshold(
        name="continued partial response",
        rule="once PR, PR until PD (not re-judged against the baseline)",
        source=f"{SOURCE_FAQ}, definition of SD",
    ),
    Threshold(
        name="too small to measure",
        rule="50 tenths unless a value was measured (a measured value < 50 is kept); absent = 0",
        source=f"{SOURCE_RECIST}, 4.3.2; {SOURCE_FAQ}, lesions less than 5 mm",
    ),
    Threshold(
        name="split and merged lesions",
        rule="fragments (split_from) summed into the parent; a merged lesion's diameter counts "
        "once, the others 0 as 'merged', not 'disappeared'",
        source=f"{SOURCE_RECIST}, 4.3.2; {SOURCE_CDISC}",
    ),
    Threshold(
        name="measurable target at baseline",
        rule="non-nodal longest >= 100 tenths (>= 2*slice thickness when slices > 5 mm); nodal "
        "short axis >= 150 tenths",
        source=f"{SOURCE_RECIST}, 3.1.2",
    ),
    Threshold(
        name="target count",
        rule="<= 5 targets, <= 2 per organ (all lymph nodes one organ)",
        source=f"{SOURCE_RECIST}, 3.3.1; {SOURCE_FAQ}, two target lesions",
    ),
    Threshold(
        name="reappearance after CR",
        rule="after an overall CR, a lesion present again (a node only at short axis >= 100 "
        "tenths) is PD",
        source=f"{SOURCE_FAQ}, does a new lesion always result in PD; abnormal lymph node",
    ),
    Threshold(
        name="equivocal new lesion",
        rule="not PD when equivocal; PD dated back to the first equivocal scan when confirmed",
        source=f"{SOURCE_RECIST}, 4.3.5",
    ),
)

_MEASURE_CONTEXT: Final = decimal.Context(prec=28)
_NEW_LESION: Final = frozenset(
    {
        None,
        Status.PRESENT,
        Status.CONFIRMED,
        Status.TOO_SMALL_TO_MEASURE,
        Status.UNEQUIVOCAL_PROGRESSION,
    }
)


# --- exact comparisons (shared with mRECIST and Choi) -----------------------------------------


def is_partial_response(current: int, baseline: int) -> bool:
    """Whether ``current`` is at least 30 % below ``baseline`` (``10*cur <= 7*baseline``).

    Parameters
    ----------
    current, baseline
        Sums in integer tenths of a millimetre.

    Examples
    --------
    >>> is_partial_response(322, 460), is_partial_response(323, 460)
    (True, False)
    """
    return 10 * current <= 7 * baseline


def is_progression(current: int, nadir: int, *, min_increase: int = PD_MIN_INCREASE_TENTHS) -> bool:
    """Whether ``current`` is at least 20 % and ``min_increase`` above ``nadir``.

    ``5*cur >= 6*nadir and cur - nadir >= min_increase``.

    Parameters
    ----------
    current, nadir
        Sums in integer tenths of a millimetre.
    min_increase
        The smallest absolute increase, in tenths of a millimetre (RECIST 1.1: 5 mm).

    Examples
    --------
    >>> is_progression(324, 270), is_progression(294, 245)  # +20 % both; +5.4 vs +4.9 mm
    (True, False)
    """
    return 5 * current >= 6 * nadir and current - nadir >= min_increase


def percent_change(current: int, reference: int) -> Decimal | None:
    """``100*(current - reference)/reference`` as a :class:`~decimal.Decimal`.

    Exact whenever the quotient terminates (28 significant digits otherwise);
    ``None`` for a zero reference.

    Examples
    --------
    >>> percent_change(324, 270), percent_change(322, 460), percent_change(5, 0)
    (Decimal('20'), Decimal('-30'), None)
    """
    if reference == 0:
        return None
    return _MEASURE_CONTEXT.divide(Decimal(100 * (current - reference)), Decimal(reference))


def mm(value_tenths: int) -> Decimal:
    """Tenths of a millimetre as millimetres, exactly.

    Examples
    --------
    >>> mm(324), mm(1160)
    (Decimal('32.4'), Decimal('116.0'))
    """
    return Decimal(value_tenths).scaleb(-1)


def overall_response(
    target: Response | None, non_target: Response | None, new_lesions: bool
) -> Response:
    """The overall time-point response from the target, non-target and new-lesion results.

    RECIST 1.1 time-point response (Eisenhauer 2009, 4.4.1; ``shared/reference/response.md``):

    ========================  ==============================  ====  =================
    target                    non-target                      new   overall
    ========================  ==============================  ====  =================
    CR                        CR (or none at baseline)        no    CR
    CR                        non-CR/non-PD                   no    PR
    CR                        not evaluated                   no    PR
    PR                        non-PD or not all evaluated     no    PR
    SD                        non-PD or not all evaluated     no    SD
    not all evaluated         non-PD                          no    NE
    PD                        any                             any   PD
    any                       PD                              any   PD
    any                       any                             yes   PD
    none (non-measurable)     CR / non-CR/non-PD / NE         no    same
    ========================  ==============================  ====  =================

    Parameters
    ----------
    target
        ``CR``, ``PR``, ``SD``, ``PD`` or ``NE``; ``None`` or ``NA`` when there
        were no target lesions at baseline (non-measurable disease only).
    non_target
        ``CR``, ``non-CR/non-PD``, ``PD`` or ``NE``; ``None`` or ``NA`` when
        there were no non-target lesions at baseline.
    new_lesions
        Whether an unequivocal new lesion is present.

    Examples
    --------
    >>> str(overall_response(Response.CR, Response.NON_CR_NON_PD, False))
    'PR'
    >>> str(overall_response(None, Response.NON_CR_NON_PD, False))
    'non-CR/non-PD'
    """
    if new_lesions or Response.PD in (target, non_target):
        return Response.PD
    if target is None or target is Response.NOT_APPLICABLE:
        if non_target is Response.CR or non_target is Response.NON_CR_NON_PD:
            return non_target
        return Response.NE  # not evaluated, or no disease recorded at baseline
    if target is Response.CR:
        if non_target in (None, Response.NOT_APPLICABLE, Response.CR):
            return Response.CR
        return Response.PR
    if target is Response.PR or target is Response.SD:
        return target
    return Response.NE


# --- lesion values --------------------------------------------------------------------------


def _size(o: Observation) -> int | None:
    """The RECIST size of ``o`` in tenths: short axis for a node, longest diameter otherwise."""
    value = o.short_axis_mm if o.is_node else o.longest_mm
    return None if value is None else tenths(value)


def _organ(o: Observation) -> str:
    return "lymph_node" if o.is_node else (o.organ or "unspecified").strip().lower()


@dataclass
class _Value:
    tenths: int | None  # None: not evaluable
    notes: list[str] = field(default_factory=list)


def _target_value(o: Observation) -> _Value:
    """One target observation (or split fragment) at a follow-up, in tenths."""
    if o.status is Status.MERGED:
        into = f" into {o.merged_into}" if o.merged_into else ""
        return _Value(0, [f"{o.id} merged{into}: counted 0 mm (merged, not disappeared)"])
    if o.status is Status.ABSENT:
        return _Value(0)
    if o.status is Status.NOT_EVALUABLE:
        return _Value(None, [f"{o.id} not evaluable"])
    measured = _size(o)
    if o.status is Status.TOO_SMALL_TO_MEASURE:
        if measured is not None:
            return _Value(
                measured, [f"{o.id} too small to measure: measured {mm(measured)} mm kept"]
            )
        return _Value(TOO_SMALL_TENTHS, [f"{o.id} too small to measure: counted 5 mm"])
    if measured is None:
        return _Value(None, [f"{o.id} has no measurement: not evaluable"])
    return _Value(measured)


def _target_at(target: Observation, tp: TimePoint) -> _Value:
    """A baseline target at a follow-up: its own observation plus any split fragments."""
    own = next((o for o in tp.lesions if o.id == target.id and o.split_from is None), None)
    fragments = [o for o in tp.lesions if o.split_from == target.id]
    if own is None and not fragments:
        return _Value(None, [f"{target.id} not reported: not evaluable"])
    parts = [_target_value(o) for o in (own, *fragments) if o is not None]
    notes = [n for p in parts for n in p.notes]
    if fragments:
        names = ", ".join(o.id for o in fragments)
        notes.append(f"{target.id} split: fragments {names} summed into {target.id}")
    values = [p.tenths for p in parts]
    if any(v is None for v in values):
        return _Value(None, notes)
    return _Value(sum(v for v in values if v is not None), notes)


def _non_target_at(non_target: Observation, tp: TimePoint) -> Response:
    """One baseline non-target at a follow-up: PD, NE, non-CR/non-PD (present) or CR (gone).

    Gone is absent or merged, or a node under 10 mm short axis; not reported is NE.
    """
    seen = [o for o in tp.lesions if non_target.id in (o.id, o.split_from)]
    if not seen:
        return Response.NE
    states = set()
    for o in seen:
        if o.status is Status.UNEQUIVOCAL_PROGRESSION:
            states.add(Response.PD)
        elif o.status is Status.NOT_EVALUABLE:
            states.add(Response.NE)
        elif o.status in (Status.ABSENT, Status.MERGED) or (
            non_target.is_node
            and o.short_axis_mm is not None
            and tenths(o.short_axis_mm) < NODE_NORMAL_BELOW_TENTHS
        ):
            states.add(Response.CR)
        else:
            states.add(Response.NON_CR_NON_PD)
    return next(
        s for s in (Response.PD, Response.NE, Response.NON_CR_NON_PD, Response.CR) if s in states
    )


def _reappeared(target: Observation, value: int) -> bool:
    """Whether a target is present again (a node only at >= 10 mm short axis)."""
    return value >= NODE_NORMAL_BELOW_TENTHS if target.is_node else value > 0


def _is_new_node_normal(o: Observation) -> bool:
    return (
        o.is_node
        and o.short_axis_mm is not None
        and tenths(o.short_axis_mm) < NODE_NORMAL_BELOW_TENTHS
    )


# --- baseline ------------------------------------------------------------------------------


def conformance_warnings(baseline: TimePoint) -> tuple[str, ...]:
    """Where the baseline selection departs from RECIST 1.1 (warnings, not errors).

    More than 5 targets, more than 2 per organ (all lymph nodes one organ), a
    non-nodal target under 10 mm (or under twice the slice thickness when
    slices are thicker than 5 mm), a nodal target under 15 mm short axis, a
    previously treated target; no target at all (non-measurable disease only).
    """
    targets = [o for o in baseline.lesions if o.role is Role.TARGET]
    out: list[str] = []
    if not targets:
        out.append(
            "no target lesion at baseline: non-measurable disease only "
            "(overall response CR, non-CR/non-PD, PD or NE)"
        )
    if len(targets) > MAX_TARGETS:
        out.append(
            f"{len(targets)} target lesions at baseline: RECIST 1.1 allows at most {MAX_TARGETS}"
        )
    for organ, n in sorted(Counter(_organ(o) for o in targets).items()):
        if n > MAX_TARGETS_PER_ORGAN:
            ids = ", ".join(o.id for o in targets if _organ(o) == organ)
            out.append(
                f"{n} target lesions in {organ} ({ids}): RECIST 1.1 allows at most "
                f"{MAX_TARGETS_PER_ORGAN} per organ (all lymph nodes are one organ)"
            )
    for o in targets:
        size = _size(o)
        if o.is_node:
            if size is not None and size < NODE_TARGET_MIN_TENTHS:
                out.append(
                    f"target node {o.id}: short axis {mm(size)} mm < 15 mm is not measurable "
                    "(10-15 mm is a non-target node)"
                )
        elif size is not None:
            minimum_mm = MEASURABLE_MIN_MM
            slice_mm = o.slice_thickness_mm
            if slice_mm is not None and Decimal(str(slice_mm)) > THICK_SLICE_ABOVE_MM:
                minimum_mm = max(minimum_mm, 2 * Decimal(str(slice_mm)))
            if mm(size) < minimum_mm:
                why = f" (twice the slice thickness {slice_mm} mm)" if minimum_mm > 10 else ""
                out.append(
                    f"target {o.id}: longest diameter {mm(size)} mm < {minimum_mm} mm{why} is "
                    "not measurable"
                )
        if o.previously_treated:
            out.append(
                f"target {o.id} was treated loco-regionally before: usually not measurable "
                "unless it has progressed since"
            )
    return tuple(out)


def _backdated_new_lesions(follow_ups: Sequence[TimePoint]) -> dict[int, list[str]]:
    """Notes by follow-up index for equivocal new lesions confirmed later (PD dated back)."""
    equivocal: dict[str, list[int]] = {}
    notes: dict[int, list[str]] = {}
    for k, tp in enumerate(follow_ups):
        for o in tp.lesions:
            if o.role is not Role.NEW or o.split_from is not None:
                continue
            if o.status is Status.EQUIVOCAL:
                equivocal.setdefault(o.id, []).append(k)
            elif o.status in _NEW_LESION and o.id in equivocal and not _is_new_node_normal(o):
                seen = equivocal.pop(o.id)
                first = follow_ups[seen[0]].date
                for j in seen:
                    notes.setdefault(j, []).append(
                        f"new lesion {o.id}, equivocal here, confirmed on {tp.date}: PD dated "
                        f"back to {first}"
                    )
                notes.setdefault(k, []).append(
                    f"new lesion {o.id} confirmed: PD dated back to {first}, when it was first "
                    "seen (equivocal)"
                )
    return notes


# --- one follow-up time point ------------------------------------------------------------


@dataclass
class _Judged:
    response: Response
    notes: list[str] = field(default_factory=list)
    sum: int | None = None  # the complete target sum, in tenths


def _judge_targets(
    targets: Sequence[Observation],
    tp: TimePoint,
    *,
    baseline_sum: int,
    nadir: int,
    responded: bool,
    after_cr: bool,
) -> _Judged:
    """Target response: reappearance after CR, NE, CR, PD (before PR), PR, continued PR, SD.

    CR is judged before PD: with every non-nodal target gone and every node
    under 10 mm there is no measurable disease, even if normal nodes grew.
    """
    values = [_target_at(t, tp) for t in targets]
    notes = [n for v in values for n in v.notes]
    known = [(t, v.tenths) for t, v in zip(targets, values, strict=True)]
    evaluable = sum(v for _, v in known if v is not None)
    complete = all(v is not None for _, v in known)
    back = [t.id for t, v in known if after_cr and v is not None and _reappeared(t, v)]
    if back:
        notes.append(f"{', '.join(back)} present again after CR: PD")
        response = Response.PD
    elif not complete:
        notes.append(f"sum of the evaluable targets {mm(evaluable)} mm")
        response = Response.NE
        if is_progression(evaluable, nadir):
            notes.append(f"the evaluable targets alone show PD against the nadir {mm(nadir)} mm")
            response = Response.PD
    elif all(
        (v is not None and v < NODE_NORMAL_BELOW_TENTHS) if t.is_node else v == 0 for t, v in known
    ):
        response = Response.CR
    elif is_progression(evaluable, nadir):
        response = Response.PD
    elif is_partial_response(evaluable, baseline_sum):
        response = Response.PR
    elif responded:
        notes.append("continued PR: above -30 % of baseline but not PD from the nadir")
        response = Response.PR
    else:
        response = Response.SD
    return _Judged(response, notes, evaluable if complete else None)


def _judge_non_targets(
    non_targets: Sequence[Observation], tp: TimePoint, *, after_cr: bool
) -> _Judged:
    """Non-target response: PD, NE, non-CR/non-PD or CR; NA without non-targets at baseline.

    PD for unequivocal progression, or a non-target present again after an overall CR.
    """
    if not non_targets:
        return _Judged(Response.NOT_APPLICABLE)
    states = {nt.id: _non_target_at(nt, tp) for nt in non_targets}
    notes = []
    missing = [i for i in states if not any(i in (o.id, o.split_from) for o in tp.lesions)]
    if missing:
        notes.append(f"non-target {', '.join(missing)} not reported: not evaluated")
    back = [i for i, s in states.items() if after_cr and s is Response.NON_CR_NON_PD]
    if back:
        notes.append(f"non-target {', '.join(back)} present again after CR: PD")
        return _Judged(Response.PD, notes)
    for response in (Response.PD, Response.NE, Response.NON_CR_NON_PD):
        if response in states.values():
            return _Judged(response, notes)
    return _Judged(Response.CR, notes)


def _new_lesions_at(tp: TimePoint) -> tuple[bool, list[str]]:
    """Whether an unequivocal new lesion is present (before back-dating), with notes."""
    present, notes = False, []
    for o in tp.lesions:
        if o.role is not Role.NEW or o.split_from is not None:
            continue
        if _is_new_node_normal(o):
            notes.append(f"new node {o.id} < 10 mm short axis: normal, not a new lesion")
        elif o.status is Status.EQUIVOCAL:
            notes.append(f"equivocal new lesion {o.id}: not PD at this time point")
        elif o.status in _NEW_LESION:
            present = True
    return present, notes


# --- the engine ----------------------------------------------------------------------------


class Recist11:
    """RECIST 1.1 (Eisenhauer 2009), the primary criterion.

    Examples
    --------
    >>> from netlm.response.io import response_from_mapping
    >>> doc = response_from_mapping({
    ...     "schema": "netlm/response/v1",
    ...     "timepoints": [
    ...         {"date": "2026-01-05", "lesions": [
    ...             {"id": "T1", "organ": "liver", "role": "target", "longest_mm": 46.0}]},
    ...         {"date": "2026-03-05", "lesions": [{"id": "T1", "longest_mm": 32.2}]},
    ...     ],
    ... })
    >>> points, warnings = ENGINE.assess(doc)
    >>> points[1].measure, points[1].change_from_baseline_percent, str(points[1].overall)
    (Decimal('32.2'), Decimal('-30'), 'PR')
    """

    id = "recist1.1"
    version = "1.1"
    label = "RECIST 1.1"
    thresholds = THRESHOLDS

    def assess(self, doc: ResponseFile) -> tuple[tuple[TimepointResult, ...], tuple[str, ...]]:
        """Time-point results (baseline first) and the baseline conformance warnings.

        ``doc`` is resolved against its baseline first
        (:func:`netlm.response.io.resolve`), so follow-up lesions need not
        repeat their organ and role.  The baseline's overall response is ``NA``.

        Raises
        ------
        ResponseError
            For a follow-up lesion that the baseline does not explain.
        """
        doc = resolve(doc)
        baseline, *follow_ups = doc.timepoints
        targets = [o for o in baseline.lesions if o.role is Role.TARGET]
        non_targets = [o for o in baseline.lesions if o.role is Role.NON_TARGET]
        backdated = _backdated_new_lesions(follow_ups)

        base_sum = sum(_size(o) or 0 for o in targets)  # resolve() ensured every size
        results = [
            TimepointResult(
                date=baseline.date,
                measure=mm(base_sum) if targets else None,
                unit="mm",
                change_from_baseline_percent=Decimal(0) if targets else None,
                nadir=mm(base_sum) if targets else None,
                overall=Response.NOT_APPLICABLE,
                notes=(f"baseline sum {mm(base_sum)} mm",) if targets else ("baseline",),
            )
        ]
        nadir = base_sum  # the smallest complete sum so far, baseline included
        responded = False  # a target PR or CR since the last target PD
        last_overall: Response | None = None  # the latest overall response other than NE

        for k, tp in enumerate(follow_ups):
            after_cr = last_overall is Response.CR
            target = (
                _judge_targets(
                    targets,
                    tp,
                    baseline_sum=base_sum,
                    nadir=nadir,
                    responded=responded,
                    after_cr=after_cr,
                )
                if targets
                else _Judged(Response.NOT_APPLICABLE)
            )
            non_target = _judge_non_targets(non_targets, tp, after_cr=after_cr)
            new, new_notes = _new_lesions_at(tp)
            if k in backdated:
                new = True
                new_notes.extend(backdated[k])
            overall = overall_response(target.response, non_target.response, new)
            current = target.sum
            results.append(
                TimepointResult(
                    date=tp.date,
                    measure=None if current is None else mm(current),
                    unit="mm",
                    change_from_baseline_percent=(
                        None if current is None else percent_change(current, base_sum)
                    ),
                    change_from_nadir_percent=(
                        None if current is None else percent_change(current, nadir)
                    ),
                    nadir=mm(nadir) if targets else None,
                    target=target.response,
                    non_target=non_target.response,
                    new_lesions=new,
                    overall=overall,
                    notes=(*target.notes, *non_target.notes, *new_notes),
                )
            )
            if target.response in (Response.PR, Response.CR):
                responded = True
            elif target.response is Response.PD:
                responded = False
            if overall is not Response.NE:
                last_overall = overall
            if current is not None:
                nadir = min(nadir, current)
        return tuple(results), conformance_warnings(baseline)


ENGINE: Final[Engine] = Recist11()
