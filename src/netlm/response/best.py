"""Best overall response (with or without confirmation) and the endpoints derived from it.

The algorithm is that of the pharmaverse admiralonco package (Bundfuss et al.),
which documents one precise reading of RECIST 1.1 section 4.4 (Eisenhauer EA et
al., Eur J Cancer 2009;45:228-247):

* ``derive_param_bor()`` (best overall response without confirmation) and
  ``derive_param_confirmed_bor()`` (confirmed), both restricted with
  ``source_pd`` to the time points up to and including the first PD;
* ``filter_confirmation()`` for the confirmation window;
* ``signal_crpr()``, which flags a CR followed by a PR as data to check.

Sources: admiralonco ``R/derive_param_bor.R``, ``R/derive_param_confirmed_bor.R``,
``R/filter_confirmation.R`` and ``R/check_crpr.R`` (github.com/pharmaverse/admiralonco;
reference manual on CRAN).  The mapping of its arguments onto
:class:`~netlm.response.model.Confirmation`: ``ref_confirm`` is ``min_days``,
``max_nr_ne`` is ``max_ne_between``, ``accept_sd`` is ``accept_sd_between``,
``ref_start_window`` is ``sd_min_days``; ``reference_date`` is the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Final

from netlm.response.model import Confirmation
from netlm.response.result import BestOverallResponse, Endpoints, Response, TimepointResult

#: Best first: admiralonco's ``aval_resp()`` order (CR 1 ... NE 6).
ORDER: Final[tuple[Response, ...]] = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)
_RESPONSES: Final = frozenset({Response.CR, Response.PR})


def _check_dates(points: Sequence[tuple[dt.date, Response]]) -> None:
    for (before, _), (after, _) in pairwise(points):
        if after <= before:
            raise ValueError(
                f"Argument 'points' must be in date order without repeats: {after} follows "
                f"{before}."
            )


def _confirmation_date(
    points: Sequence[tuple[dt.date, Response]], i: int, confirmation: Confirmation
) -> dt.date | None:
    """The date that confirms the CR or PR at ``points[i]``, or ``None``.

    admiralonco ``filter_confirmation()`` with the conditions of
    ``derive_param_confirmed_bor()``: the window runs from the assessment to the
    *first* later assessment that can confirm it (CR for a CR; CR or PR for a
    PR) at least ``min_days`` later, both included.  A CR is confirmed when the
    window holds only CR and NE; a PR when it holds only CR, PR, SD and NE, no
    PR after a CR, and at most one SD with ``accept_sd_between`` (none
    otherwise).  Either way at most ``max_ne_between`` NE.
    """
    start, response = points[i]
    confirmers = {Response.CR} if response is Response.CR else _RESPONSES
    j = next(
        (
            j
            for j in range(i + 1, len(points))
            if points[j][1] in confirmers and (points[j][0] - start).days >= confirmation.min_days
        ),
        None,
    )
    if j is None:
        return None
    window = [r for _, r in points[i : j + 1]]
    if window.count(Response.NE) > confirmation.max_ne_between:
        return None
    if response is Response.CR:
        allowed = {Response.CR, Response.NE}
        ok = all(r in allowed for r in window)
    else:
        allowed = {Response.CR, Response.PR, Response.SD, Response.NE}
        crs = [k for k, r in enumerate(window) if r is Response.CR]
        prs = [k for k, r in enumerate(window) if r is Response.PR]
        ok = (
            all(r in allowed for r in window)
            and window.count(Response.SD) <= (1 if confirmation.accept_sd_between else 0)
            and (not crs or min(crs) > max(prs))
        )
    return points[j][0] if ok else None


def best_overall_response(
    points: Sequence[tuple[dt.date, Response]],
    *,
    reference_date: dt.date | None,
    confirmation: Confirmation,
) -> BestOverallResponse:
    """The best overall response over the follow-up time points.

    Follows admiralonco (``derive_param_confirmed_bor()`` when
    ``confirmation.required``, else ``derive_param_bor()``; see the module
    docstring):

    1. Only the time points up to and including the first PD count.
    2. Each time point becomes a candidate:

       * CR / PR: itself when confirmation is not required, or when it is
         confirmed (:func:`_confirmation_date`); an unconfirmed one is SD when
         at least ``sd_min_days`` after ``reference_date``, NE before.
       * SD / non-CR/non-PD: itself when at least ``sd_min_days`` after
         ``reference_date``, NE before (so an early SD followed by PD gives PD,
         and an early SD alone NE).
       * PD and NE: themselves (``NA`` counts as NE).

    3. The best candidate in the order CR, PR, SD, non-CR/non-PD, PD, NE wins;
       among equals the earliest.

    A CR followed by a PR is kept as admiralonco keeps it: it cannot be
    confirmed (the PR breaks the CR's window, and a PR after a CR breaks a PR's
    window), so it usually ends as SD or PD; a note asks for the data to be
    checked (admiralonco ``signal_crpr()``), since the CR may need relabelling.

    Parameters
    ----------
    points
        ``(date, overall response)`` of each follow-up time point, in date
        order, the baseline excluded.
    reference_date
        Start of treatment (or randomisation), from which ``sd_min_days``
        counts.  ``None``: the minimum SD duration is not checked (and a note
        says so); pass the baseline date rather than ``None`` where there is
        no treatment date.
    confirmation
        Whether CR/PR need confirmation and the confirmation settings.

    Returns
    -------
    BestOverallResponse
        ``date`` is that of the winning time point (for a confirmed response,
        the first of the pair).  ``confirmed`` is ``None`` when confirmation is
        not required or there was no CR/PR to confirm, ``True`` for a confirmed
        CR/PR, ``False`` when a CR/PR was seen but none was confirmed.

    Raises
    ------
    ValueError
        When the dates are not strictly increasing.

    Examples
    --------
    >>> from datetime import date
    >>> from netlm.response.model import Confirmation
    >>> pts = [(date(2026, 3, 1), Response.PR), (date(2026, 4, 1), Response.PR)]
    >>> bor = best_overall_response(
    ...     pts, reference_date=date(2026, 1, 1), confirmation=Confirmation(required=True)
    ... )
    >>> str(bor.response), bor.date, bor.confirmed
    ('PR', datetime.date(2026, 3, 1), True)
    """
    _check_dates(points)
    notes: list[str] = []
    seq = [(d, r if r in ORDER else Response.NE) for d, r in points]
    first_pd = next((i for i, (_, r) in enumerate(seq) if r is Response.PD), None)
    if first_pd is not None and first_pd + 1 < len(seq):
        notes.append(
            f"{len(seq) - first_pd - 1} time point(s) after the first PD ({seq[first_pd][0]}) "
            "not considered"
        )
        seq = seq[: first_pd + 1]
    if not seq:
        return BestOverallResponse(
            response=Response.NE, date=None, confirmed=None, notes=("no follow-up time point",)
        )

    sd_from: dt.date | None = None
    if reference_date is None:
        notes.append("no reference date: the minimum duration of SD was not checked")
    else:
        sd_from = reference_date + dt.timedelta(days=confirmation.sd_min_days)

    def long_enough(d: dt.date) -> bool:
        return sd_from is None or d >= sd_from

    crs = [i for i, (_, r) in enumerate(seq) if r is Response.CR]
    if any(r is Response.PR for _, r in seq[min(crs, default=len(seq)) :]):
        notes.append("a CR is followed by a PR: check the data (the CR may need relabelling)")

    candidates: list[tuple[Response, dt.date]] = []
    confirmed_on: dict[dt.date, dt.date] = {}
    for i, (d, r) in enumerate(seq):
        if r in _RESPONSES and confirmation.required:
            on = _confirmation_date(seq, i, confirmation)
            if on is not None:
                confirmed_on[d] = on
                candidates.append((r, d))
                continue
            fallback = Response.SD if long_enough(d) else Response.NE
            notes.append(f"{r} on {d} not confirmed: counts as {fallback}")
            candidates.append((fallback, d))
        elif r in (Response.SD, Response.NON_CR_NON_PD) and not long_enough(d):
            notes.append(
                f"{r} on {d} is earlier than {confirmation.sd_min_days} days after the "
                f"reference date: counts as NE"
            )
            candidates.append((Response.NE, d))
        else:
            candidates.append((r, d))

    best, when = min(candidates, key=lambda c: ORDER.index(c[0]))  # the earliest of equals
    confirmed: bool | None = None
    if confirmation.required and any(r in _RESPONSES for _, r in seq):
        confirmed = best in _RESPONSES
    if best in _RESPONSES and when in confirmed_on:
        notes.append(f"{best} on {when} confirmed on {confirmed_on[when]}")
    return BestOverallResponse(response=best, date=when, confirmed=confirmed, notes=tuple(notes))


def endpoints(
    points: Sequence[TimepointResult],
    *,
    reference_date: dt.date | None = None,
    measures: Sequence[Decimal | None] | None = None,
) -> Endpoints:
    """Progression, response and depth of response from one criterion's time points.

    * ``progression_date``: the first follow-up with overall PD (already dated
      back by the engine when an equivocal new lesion was confirmed later);
      ``time_to_progression_days`` counts from ``reference_date`` (the baseline
      date when ``None``).
    * ``response_date``: the first CR or PR before progression (unconfirmed:
      confirmation is a property of the best overall response);
      ``duration_of_response_days`` from it to the first PD after it, ``None``
      without progression.
    * ``depth_of_response_percent``: the smallest (most negative) change of the
      measure from baseline over the follow-ups up to and including the first
      PD; positive when the measure never fell below baseline, ``None`` when
      never measured.

    Parameters
    ----------
    points
        The criterion's time points, baseline first.
    reference_date
        Start of treatment; the baseline date when ``None``.
    measures
        Changes from baseline (%) to use for the depth, one per time point
        (baseline first), instead of each point's
        ``change_from_baseline_percent``.

    Raises
    ------
    ValueError
        Without a baseline time point, or when ``measures`` does not match
        ``points`` in length.
    """
    if not points:
        raise ValueError("Argument 'points' must hold at least the baseline time point.")
    if measures is not None and len(measures) != len(points):
        raise ValueError(
            f"Argument 'measures' must have one value per time point ({len(points)}), "
            f"not {len(measures)}."
        )
    changes = (
        list(measures) if measures is not None else [p.change_from_baseline_percent for p in points]
    )
    start = reference_date or points[0].date
    follow_ups = list(zip(points[1:], changes[1:], strict=True))
    first_pd = next(
        (i for i, (p, _) in enumerate(follow_ups) if p.overall is Response.PD), len(follow_ups)
    )
    progression = follow_ups[first_pd][0].date if first_pd < len(follow_ups) else None
    response = next((p.date for p, _ in follow_ups[:first_pd] if p.overall in _RESPONSES), None)
    depths = [c for _, c in follow_ups[: first_pd + 1] if c is not None]
    return Endpoints(
        progression_date=progression,
        time_to_progression_days=None if progression is None else (progression - start).days,
        response_date=response,
        duration_of_response_days=(
            None if progression is None or response is None else (progression - response).days
        ),
        depth_of_response_percent=min(depths) if depths else None,
    )
