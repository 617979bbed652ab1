"""The board page's chart of the tumour measure's change from baseline, as SVG.

Written by hand (a few lines and points), so that the page needs no plotting
library; the waterfall and spider plots of a response file are
:mod:`netlm.report.response_plots`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import NamedTuple


class ChangePoint(NamedTuple):
    """One time point of a criterion: its date, change from baseline and overall response."""

    date: dt.date
    change_percent: float
    overall: str


_SERIES_COLOURS = ("#1f4e79", "#b5541c", "#2e7d32", "#6a3d9a", "#9b1c1c", "#00838f", "#7a5200")


def change_chart_svg(series: Mapping[str, Sequence[ChangePoint]]) -> str | None:
    """An SVG line chart of the change of the measure from baseline, one line per criterion.

    ``series`` maps each criterion to its (date, change in percent, overall
    response) points (:func:`netlm.workflows.board.response_changes`).
    Reference lines at -30 % (RECIST partial response) and +20 % (progression);
    each point is labelled with its overall response.  ``None`` when there is no
    point.  Names and responses are escaped: the SVG can be put into HTML as is.
    """
    if not any(series.values()):
        return None
    series = {criterion: points for criterion, points in series.items() if points}
    dates = [d for s in series.values() for d, _, _ in s]
    values = [v for s in series.values() for _, v, _ in s] + [-30.0, 20.0, 0.0]
    start = min(dates) - dt.timedelta(days=30)
    end = max(dates) + dt.timedelta(days=30)
    low, high = min(*values, -100.0) - 5, max(*values, 40.0) + 5
    width, height, left, right, top, bottom = 720, 300, 60, 150, 20, 40
    span_days = max((end - start).days, 1)

    def x(d: dt.date) -> float:
        return left + (width - left - right) * (d - start).days / span_days

    def y(v: float) -> float:
        return top + (height - top - bottom) * (high - v) / (high - low)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Change of the tumour measure from baseline over time">',
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" fill="#fff" stroke="#c9d0d9"/>',
    ]
    for level, label, colour in (
        (0.0, "baseline", "#5a6472"),
        (-30.0, "−30 %", "#1d6a2e"),
        (20.0, "+20 %", "#9b1c1c"),
    ):
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            f'stroke="{colour}" stroke-dasharray="4 3" stroke-width="1"/>'
            f'<text x="{width - right + 4}" y="{y(level) + 4:.1f}" font-size="14" '
            f'fill="{colour}">{label}</text>'
        )
    for tick in range(math.ceil(low / 20.0) * 20, int(high) + 1, 20):
        out.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="14" text-anchor="end" '
            f'fill="#5a6472">{tick}</text>'
        )
    for d in sorted(set(dates)):
        out.append(
            f'<text x="{x(d):.1f}" y="{height - bottom + 16}" font-size="14" '
            f'text-anchor="middle" fill="#5a6472">{d.isoformat()}</text>'
        )
    out.append(
        f'<text x="14" y="{(top + height - bottom) / 2:.0f}" font-size="14" fill="#5a6472" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.0f})" text-anchor="middle">'
        "change from baseline (%)</text>"
    )
    for n, (criterion, rows) in enumerate(sorted(series.items())):
        colour = _SERIES_COLOURS[n % len(_SERIES_COLOURS)]
        rows = sorted(rows)
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v, _ in rows)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for d, v, overall in rows:
            out.append(
                f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="4" fill="{colour}">'
                f"<title>{escape(criterion)} {d.isoformat()}: {v:+.1f} % ({escape(overall)})"
                "</title></circle>"
                f'<text x="{x(d) + 6:.1f}" y="{y(v) - 6:.1f}" font-size="14" fill="{colour}">'
                f"{escape(overall)}</text>"
            )
        ly = top + 16 * n + 10
        out.append(
            f'<line x1="{width - right + 60}" x2="{width - right + 78}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{width - right + 82}" y="{ly + 4}" font-size="14" fill="{colour}">'
            f"{escape(criterion)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
