"""Shared machinery of the size-based response engines (mRECIST, WHO, EASL, Choi) and PERCIST.

Private to :mod:`netlm.response`: the overall (target, non-target, new) table,
non-target response, new-lesion detection with back-dating, exact percentages,
and :class:`SumCriterion`, the time-point loop every "sum of target lesions"
criterion shares.  RECIST 1.1 has its own module and does not depend on this one.

Every comparison is exact: sizes are integers (tenths of a millimetre, or
hundredths of a square millimetre for bidimensional products) and other
quantities (HU, SUL) are :class:`fractions.Fraction` built from their decimal
text, so a change of exactly -30 % is a partial response, not a rounding
accident.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from netlm.response.model import Observation, ResponseFile, Role, Status, TimePoint, tenths
from netlm.response.recist import overall_response  # the one RECIST table
from netlm.response.result import Response, Threshold, TimepointResult

Reference = Literal["baseline", "nadir"]
"""What an increase is measured from: the baseline value or the smallest value so far."""

Operator = Literal[">", ">="]
"""Whether a change exactly on the threshold counts (``>=``) or not (``>``)."""

#: A lesion "too small to measure" counts as 5 mm (RECIST 1.1 convention), in tenths.
TOO_SMALL_TENTHS = 50
#: A lymph node counts as normal (gone, for CR) below 10 mm short axis, in tenths.
NODE_NORMAL_TENTHS = 100

#: Statuses of a ``role: new`` lesion that make it new disease.  ``None`` (a new
#: lesion given only its measurements) is present.  Equivocal is not (yet) new
#: disease; absent, merged and not-evaluable are not disease seen at that scan.
NEW_DISEASE_STATUSES = frozenset(
    {
        None,
        Status.PRESENT,
        Status.CONFIRMED,
        Status.TOO_SMALL_TO_MEASURE,
        Status.UNEQUIVOCAL_PROGRESSION,
    }
)

#: Statuses under which a lesion contributes nothing to a sum.
GONE_STATUSES = frozenset({Status.ABSENT, Status.MERGED})

RECIST_TABLE_SOURCE = (
    "shared/reference/response.md, RECIST 1.1 overall time-point response table [V]; "
    "Eisenhauer EA et al., Eur J Cancer 2009;45:228-247, Table 4"
)
NEW_LESION_SOURCE = (
    "shared/reference/response.md, RECIST 1.1 new lesions (equivocal is not PD; "
    "confirmed later: PD dated back); seed 004 Table 3 ('and/or new lesion(s)')"
)


def check_choice(argument: str, value: str, allowed: Iterable[str]) -> None:
    """Raise a ``ValueError`` naming ``argument`` unless ``value`` is one of ``allowed``."""
    options = tuple(allowed)
    if value not in options:
        raise ValueError(
            f"Argument '{argument}' must be one of {', '.join(map(repr, options))}, not {value!r}."
        )


def exact(value: float | Decimal | int) -> Fraction:
    """A number as the exact fraction of its decimal text (``0.1`` is 1/10, not a binary float).

    Examples
    --------
    >>> exact(0.85) * 92 == exact(78.2)
    True
    """
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def increased(cur: Fraction | int, ref: Fraction | int, percent: int, op: Operator) -> bool:
    """``cur`` is ``percent`` % or more (``>=``) / more than (``>``) above ``ref``, exactly.

    Examples
    --------
    >>> increased(125, 100, 25, ">="), increased(125, 100, 25, ">")
    (True, False)
    """
    lhs, rhs = 100 * cur, (100 + percent) * ref
    return lhs >= rhs if op == ">=" else lhs > rhs


def percent_change(cur: Fraction | int, ref: Fraction | int) -> Decimal | None:
    """``100 * (cur - ref) / ref`` rounded half-up to 0.1 % (for display), ``None`` when ref is 0.

    Examples
    --------
    >>> percent_change(324, 270), percent_change(5, 0)
    (Decimal('20.0'), None)
    """
    if ref == 0:
        return None
    change = Fraction(100) * (Fraction(cur) - Fraction(ref)) / Fraction(ref)
    value = Decimal(change.numerator) / Decimal(change.denominator)
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def signed_percent(change: Decimal | None) -> str:
    """A percentage change for notes: ``+20.0 %``, ``-30.0 %``, or ``n/a`` from zero.

    Examples
    --------
    >>> signed_percent(Decimal("20.0")), signed_percent(Decimal("-30.0")), signed_percent(None)
    ('+20.0 %', '-30.0 %', 'n/a (from 0)')
    """
    if change is None:
        return "n/a (from 0)"
    return f"{'+' if change > 0 else ''}{change} %"


def scaled(value: int, scale: int) -> Decimal:
    """An exact integer of ``1/scale`` units (``scale`` a power of ten) as a Decimal in units.

    Examples
    --------
    >>> scaled(324, 10), scaled(252800, 100)
    (Decimal('32.4'), Decimal('2528.00'))
    """
    digits = len(str(scale)) - 1
    if scale != 10**digits:
        raise ValueError(f"Argument 'scale' must be a power of ten, not {scale}.")
    return Decimal(value).scaleb(-digits)


def dedupe(items: Iterable[str]) -> tuple[str, ...]:
    """``items`` without repeats, in first-seen order."""
    return tuple(dict.fromkeys(items))


# --- new lesions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLesions:
    """New disease at one time point.

    Attributes
    ----------
    present
        ``True`` when a new lesion is unequivocal here (or was equivocal here and
        confirmed at a later scan: PD is dated back to its first appearance).
    notes
        One line per new lesion that decided (or did not decide) the flag.
    """

    present: bool
    notes: tuple[str, ...]


#: Statuses a reader gives to say a new lesion is unequivocal whatever its size or pattern.
READER_CONFIRMED_STATUSES = frozenset({Status.CONFIRMED, Status.UNEQUIVOCAL_PROGRESSION})

NewLesionRule = Callable[[Observation], str | None]
"""A criterion's own test of a new-lesion sighting: ``None`` when it is new disease,
else why it is only equivocal (the note says so)."""


def new_lesions(doc: ResponseFile, qualify: NewLesionRule | None = None) -> tuple[NewLesions, ...]:
    """New disease at each time point (baseline first), with back-dating of confirmed lesions.

    A ``role: new`` lesion with status present or confirmed (or no status) is new
    disease; an equivocal one is not, unless a later scan confirms it, in which
    case every earlier equivocal sighting counts as new disease too (RECIST 1.1:
    PD is dated back to the scan where the lesion first appeared).

    Parameters
    ----------
    doc
        The resolved response file.
    qualify
        A criterion's own rule for new lesions (mRECIST: an intrahepatic lesion
        >= 10 mm with arterial-phase enhancement).  A sighting that would be new
        disease (no status, present, too small to measure) but fails it is
        equivocal, with the rule's reason in the notes; a later sighting that
        passes it, or a reader's ``confirmed`` status, confirms the lesion and
        PD is dated back as above.  ``None``: every such sighting is new disease.
    """
    sightings: dict[str, list[tuple[int, Status | None]]] = {}
    present = [False] * len(doc.timepoints)
    notes: list[list[str]] = [[] for _ in doc.timepoints]
    for i, tp in enumerate(doc.timepoints):
        for o in tp.lesions:
            if o.role is not Role.NEW:
                continue
            if (
                o.is_node
                and o.short_axis_mm is not None
                and tenths(o.short_axis_mm) < NODE_NORMAL_TENTHS
            ):
                notes[i].append(f"new node {o.id} < 10 mm short axis: normal, not a new lesion")
                continue
            status = o.status
            if (
                qualify is not None
                and status in NEW_DISEASE_STATUSES
                and status not in READER_CONFIRMED_STATUSES
            ):
                reason = qualify(o)
                if reason is not None:
                    status = Status.EQUIVOCAL
                    notes[i].append(f"new lesion {o.id}: {reason}")
            sightings.setdefault(o.id, []).append((i, status))
    for lesion_id, seen in sightings.items():
        confirmed_at = next(
            (i for i, status in seen if status in NEW_DISEASE_STATUSES),
            None,
        )
        for i, status in seen:
            if status in NEW_DISEASE_STATUSES:
                present[i] = True
                notes[i].append(f"new lesion {lesion_id}")
            elif status is Status.EQUIVOCAL:
                if confirmed_at is not None:
                    present[i] = True
                    confirmed = doc.timepoints[confirmed_at].date
                    notes[i].append(
                        f"new lesion {lesion_id}: equivocal here, confirmed {confirmed}"
                        + ("; PD dated back to this scan" if i < confirmed_at else "")
                    )
                else:
                    notes[i].append(f"equivocal new lesion {lesion_id}: not PD unless confirmed")
    return tuple(NewLesions(p, tuple(n)) for p, n in zip(present, notes, strict=True))


# --- non-targets and the overall table --------------------------------------------------------


def observations_of(tp: TimePoint, lesion_id: str) -> tuple[Observation, ...]:
    """The observations of a baseline lesion at ``tp``: itself, or the fragments it split into."""
    return tuple(o for o in tp.lesions if o.id == lesion_id or o.split_from == lesion_id)


def non_target_response(baseline: TimePoint, tp: TimePoint) -> Response:
    """Non-target response at ``tp``: CR, non-CR/non-PD, PD, NE, or NA without non-targets.

    PD when any non-target shows unequivocal progression; NE when any is not
    evaluable or not reported; CR when all are absent (or merged) and nodes are
    < 10 mm short axis; otherwise non-CR/non-PD.
    """
    declared = [o for o in baseline.lesions if o.role is Role.NON_TARGET]
    if not declared:
        return Response.NOT_APPLICABLE
    seen = [observations_of(tp, o.id) for o in declared]
    if any(o.status is Status.UNEQUIVOCAL_PROGRESSION for obs in seen for o in obs):
        return Response.PD
    if any(not obs or any(o.status is Status.NOT_EVALUABLE for o in obs) for obs in seen):
        return Response.NE

    def gone(o: Observation) -> bool:
        if o.status in GONE_STATUSES:
            return True
        return (
            o.is_node
            and o.status in (None, Status.PRESENT)
            and o.short_axis_mm is not None
            and tenths(o.short_axis_mm) < NODE_NORMAL_TENTHS
        )

    if all(gone(o) for obs in seen for o in obs):
        return Response.CR
    return Response.NON_CR_NON_PD


# --- the shared loop of sum-based criteria ------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """What a criterion's hooks may look at when judging one follow-up time point."""

    index: int
    timepoint: TimePoint
    baseline: TimePoint
    targets: tuple[Observation, ...]


class SumCriterion(ABC):
    """A criterion judged on the sum of a per-lesion measure over the baseline targets.

    Subclasses say how one lesion is measured (an exact integer of ``1/scale``
    ``unit``), which baseline targets qualify, and what PD and PR are; this
    class runs the time points: nadir, not-evaluable lesions (NE unless the
    measured lesions alone show PD), split and merged lesions, reappearance
    after CR, non-targets, new lesions and the overall table.
    """

    id: str
    version: str
    label: str
    thresholds: tuple[Threshold, ...]
    #: Unit of :attr:`TimepointResult.measure` ("mm" or "mm²").
    unit: str = "mm"
    #: Integer units per ``unit``: 10 (tenths of a mm) or 100 (hundredths of a mm²).
    scale: int = 10
    #: Value of a lesion "too small to measure" with no measurement given.
    too_small: int = TOO_SMALL_TENTHS
    #: Name of the sum in notes, e.g. "viable sum".
    measure_name: str = "sum"
    #: Keep a PR until PD (RECIST committee FAQ) instead of re-judging it against baseline.
    hold_response_until_progression: bool = False

    # -- hooks ---------------------------------------------------------------

    @abstractmethod
    def lesion_measure(self, o: Observation) -> int | None:
        """The lesion's measure in ``1/scale`` units, or ``None`` when it was not measured."""

    def baseline_problem(self, o: Observation) -> str | None:
        """Why a baseline target cannot be used (it is then left out, with a warning)."""
        if self.lesion_measure(o) is None:
            return f"target {o.id}: no measurement at baseline for {self.label}; left out"
        return None

    def baseline_warnings(self, targets: Sequence[Observation]) -> list[str]:
        """Warnings about usable baseline targets (kept in the sum)."""
        return []

    def lesion_gone(self, o: Observation, value: int) -> bool:
        """Whether a measured lesion counts as gone for CR (default: measure 0)."""
        return value == 0

    def new_lesion_problem(self, o: Observation) -> str | None:
        """Why a new-lesion sighting is only equivocal under this criterion (default: never).

        See :func:`new_lesions` (``qualify``).
        """
        return None

    @abstractmethod
    def is_pd(self, cur: int, baseline: int, nadir: int, visit: Visit) -> tuple[bool, str]:
        """Whether the (possibly partial) sum ``cur`` is progression, and a note saying why."""

    @abstractmethod
    def judge(self, cur: int, baseline: int, visit: Visit) -> tuple[Response, tuple[str, ...]]:
        """PR, SD (or NE) for a complete sum that is neither CR nor PD, with notes."""

    # -- the loop ------------------------------------------------------------

    def fmt(self, value: int) -> str:
        """An exact integer of ``1/scale`` units as text with its unit."""
        return f"{scaled(value, self.scale)} {self.unit}"

    def fmt_delta(self, value: int) -> str:
        """A signed difference as text with its unit."""
        return f"{'+' if value > 0 else ''}{self.fmt(value)}"

    def lesion_value(self, tp: TimePoint, target: Observation) -> tuple[int | None, bool]:
        """(value, gone) of a baseline target at ``tp``; value ``None`` means not evaluable."""
        obs = observations_of(tp, target.id)
        if not obs:
            return None, False
        total, gone = 0, True
        for o in obs:
            if o.status in GONE_STATUSES:
                continue
            if o.status is Status.NOT_EVALUABLE:
                return None, False
            measured = self.lesion_measure(o)
            if measured is None:
                if o.status is not Status.TOO_SMALL_TO_MEASURE:
                    return None, False
                measured = self.too_small
            total += measured
            gone = gone and self.lesion_gone(o, measured)
        return total, gone

    def assess(self, doc: ResponseFile) -> tuple[tuple[TimepointResult, ...], tuple[str, ...]]:
        """Time-point results (baseline first) and conformance warnings."""
        baseline_tp = doc.timepoints[0]
        warnings: list[str] = []
        targets: list[Observation] = []
        for o in baseline_tp.lesions:
            if o.role is not Role.TARGET:
                continue
            problem = self.baseline_problem(o)
            if problem is None:
                targets.append(o)
            else:
                warnings.append(problem)
        warnings.extend(self.baseline_warnings(targets))
        has_targets = any(o.role is Role.TARGET for o in baseline_tp.lesions)
        if not has_targets:
            warnings.append(f"no target lesions at baseline: {self.label} judges non-targets only")
        elif not targets:
            warnings.append(
                f"no baseline target qualifies for {self.label}: targets NE at every follow-up"
            )
        base = sum(self.lesion_measure(o) or 0 for o in targets)
        new = new_lesions(doc, self.new_lesion_problem)
        results = [
            TimepointResult(
                date=baseline_tp.date,
                measure=scaled(base, self.scale) if targets else None,
                unit=self.unit,
                change_from_baseline_percent=Decimal(0) if targets else None,
                nadir=scaled(base, self.scale) if targets else None,
                overall=Response.NOT_APPLICABLE,
                notes=(f"baseline {self.measure_name} {self.fmt(base)}",) if targets else (),
            )
        ]
        nadir = base
        responded = False  # target PR or CR assigned and no target PD since
        last_overall: Response | None = None  # latest overall response other than NE
        for i, tp in enumerate(doc.timepoints[1:], start=1):
            visit = Visit(i, tp, baseline_tp, tuple(targets))
            after_cr = last_overall is Response.CR
            notes: list[str] = []
            # No targets at baseline: NA; targets, but none usable by this criterion: NE.
            target = Response.NE if has_targets else Response.NOT_APPLICABLE
            measure: int | None = None
            if targets:
                values = [self.lesion_value(tp, t) for t in targets]
                missing = [t.id for t, (v, _) in zip(targets, values, strict=True) if v is None]
                back = [
                    t.id
                    for t, (v, gone) in zip(targets, values, strict=True)
                    if after_cr and v is not None and not gone
                ]
                known = sum(v for v, _ in values if v is not None)
                pd, why = self.is_pd(known, base, nadir, visit)
                if back:
                    target = Response.PD
                    notes.append(f"{', '.join(back)} present again after CR: PD")
                elif missing:
                    notes.append(f"not evaluable: {', '.join(missing)}")
                    if pd:
                        target = Response.PD
                        notes.append(f"measured lesions alone show PD: {why}")
                    else:
                        target = Response.NE
                if missing:
                    notes.append(f"{self.measure_name} of the evaluable targets {self.fmt(known)}")
                else:
                    measure = known
                    notes.append(f"{self.measure_name} {self.fmt(known)}")
                if not missing and not back:
                    if all(gone for _, gone in values):
                        target = Response.CR
                        notes.append("all targets gone")
                    elif pd:
                        target = Response.PD
                        notes.append(why)
                    else:
                        target, judged = self.judge(known, base, visit)
                        notes.extend(judged)
                        if (
                            target is Response.SD
                            and responded
                            and self.hold_response_until_progression
                        ):
                            target = Response.PR
                            notes.append("PR held until progression (not re-judged vs baseline)")
                if target in (Response.PR, Response.CR):
                    responded = True
                elif target is Response.PD:
                    responded = False
            non_target = non_target_response(baseline_tp, tp)
            if after_cr and non_target is Response.NON_CR_NON_PD:
                non_target = Response.PD
                notes.append("a non-target lesion is present again after CR: PD")
            notes.extend(new[i].notes)
            overall = overall_response(target, non_target, new[i].present)
            if overall is not Response.NE:
                last_overall = overall
            results.append(
                TimepointResult(
                    date=tp.date,
                    measure=scaled(measure, self.scale) if measure is not None else None,
                    unit=self.unit,
                    change_from_baseline_percent=(
                        percent_change(measure, base) if measure is not None else None
                    ),
                    change_from_nadir_percent=(
                        percent_change(measure, nadir) if measure is not None else None
                    ),
                    nadir=scaled(nadir, self.scale) if targets else None,
                    target=target,
                    non_target=non_target,
                    new_lesions=new[i].present,
                    overall=overall,
                    notes=tuple(notes),
                )
            )
            if measure is not None:
                nadir = min(nadir, measure)
        return tuple(results), dedupe(warnings)
