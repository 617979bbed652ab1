"""Waterfall and spider plots of tumour response (PNG or SVG by file suffix).

Uses matplotlib's object API (``Figure``), never pyplot's global state, so the
functions are safe in servers and tests and pick no display backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from matplotlib.figure import Figure

from netlm.errors import NetlmError
from netlm.response.report import ResponseReport
from netlm.response.result import CriterionResult, Response
from netlm.units import DAYS_PER_WEEK

_COLOURS = {
    Response.CR: "#1a9850",
    Response.PR: "#91cf60",
    Response.SD: "#fee08b",
    Response.PD: "#d73027",
    Response.NE: "#bdbdbd",
    Response.NON_CR_NON_PD: "#fee08b",
    Response.NOT_APPLICABLE: "#bdbdbd",
}
_LINES = {
    "recist1.1": (-30, 20),
    "mrecist": (-30, 20),
    "who": (-50, 25),
    "easl": (-50, 25),
    "choi": (-10, 10),
    "mchoi": (-10, 10),
    "percist1.0": (-30, 30),
}


def _result(report: ResponseReport, criterion: str) -> CriterionResult:
    try:
        return report.result(criterion)
    except KeyError:
        raise NetlmError(f"{report.case or 'a file'} was not assessed by {criterion}") from None


def best_change_percent(
    result: CriterionResult, reference_date: dt.date | None = None
) -> Decimal | None:
    """The best (lowest) change of the measure from baseline over the follow-ups.

    Scans dated before ``reference_date`` (start of treatment) are baseline
    material, not responses, and are left out.
    """
    changes = [
        p.change_from_baseline_percent
        for p in result.timepoints[1:]
        if p.change_from_baseline_percent is not None
        and (reference_date is None or p.date >= reference_date)
    ]
    return min(changes) if changes else None


def _check_path(path: str | Path | None) -> Path | None:
    if path is None:
        return None
    target = Path(path)
    if target.suffix.lower() not in (".png", ".svg"):
        raise NetlmError(f"{target}: plots are written as .png or .svg")
    return target


def _save(fig: Figure, path: Path | None) -> Figure:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def waterfall(
    reports: Sequence[ResponseReport],
    path: str | Path | None = None,
    *,
    criterion: str = "recist1.1",
) -> Figure:
    """Best change from baseline per patient, sorted, coloured by best overall response.

    Returns the matplotlib :class:`~matplotlib.figure.Figure` (shown inline in a
    notebook); with ``path`` (``.png`` or ``.svg``) it is also saved there.
    """
    target = _check_path(path)
    rows = []
    for i, report in enumerate(reports):
        result = _result(report, criterion)
        change = best_change_percent(result, report.reference_date)
        if change is not None:
            rows.append((report.case or f"#{i + 1}", float(change), result.best_overall.response))
    if not rows:
        raise NetlmError("no follow-up measurement to plot")
    rows.sort(key=lambda r: r[1], reverse=True)
    fig = Figure(figsize=(max(4.0, 0.5 * len(rows) + 2), 4))
    ax = fig.add_subplot()
    ax.bar(
        range(len(rows)),
        [r[1] for r in rows],
        color=[_COLOURS[r[2]] for r in rows],
        edgecolor="black",
        linewidth=0.5,
    )
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], rotation=45, ha="right")
    lo, hi = _LINES.get(criterion, (-30, 20))
    for y in (lo, hi):
        ax.axhline(y, color="grey", linestyle="--", linewidth=0.8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel(f"best change from baseline (%), {criterion}")
    ax.set_title(f"Waterfall: best response ({criterion})")
    handles = {r[2] for r in rows}
    for response in (Response.CR, Response.PR, Response.SD, Response.PD, Response.NE):
        if response in handles:
            ax.bar([0], [0], color=_COLOURS[response], label=response.value)
    ax.legend(title="best overall", loc="lower left", fontsize="small")
    return _save(fig, target)


def spider(
    reports: Sequence[ResponseReport],
    path: str | Path | None = None,
    *,
    criterion: str = "recist1.1",
) -> Figure:
    """Change from baseline over time, one line per patient.

    Returns the :class:`~matplotlib.figure.Figure`; with ``path`` (``.png`` or
    ``.svg``) it is also saved there.
    """
    target = _check_path(path)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    drawn = 0
    for i, report in enumerate(reports):
        result = _result(report, criterion)
        xs, ys = [], []
        for p in result.timepoints:
            if p.change_from_baseline_percent is None and p is not result.timepoints[0]:
                continue
            xs.append((p.date - report.reference_date).days / DAYS_PER_WEEK)
            ys.append(
                0.0 if p is result.timepoints[0] else float(p.change_from_baseline_percent or 0)
            )
        if len(xs) > 1:
            colour = _COLOURS[result.best_overall.response]
            ax.plot(xs, ys, marker="o", color=colour, label=report.case or f"#{i + 1}")
            drawn += 1
    if not drawn:
        raise NetlmError("no follow-up measurement to plot")
    lo, hi = _LINES.get(criterion, (-30, 20))
    for y in (lo, hi):
        ax.axhline(y, color="grey", linestyle="--", linewidth=0.8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("weeks from reference date")
    ax.set_ylabel(f"change from baseline (%), {criterion}")
    ax.set_title(f"Spider plot ({criterion})")
    ax.legend(fontsize="small")
    return _save(fig, target)
