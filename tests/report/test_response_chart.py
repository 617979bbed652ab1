"""The board page's change-from-baseline chart (issue #13: drawn in report/, fed by
workflows/board.py)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import pytest

from netlm.report.response_chart import ChangePoint, change_chart_svg
from netlm.workflows.board import response_changes


def _point(criterion: str, day: int, change: Any, overall: str = "SD") -> Any:
    return SimpleNamespace(
        criterion=criterion,
        date=dt.date(2026, 1, day),
        overall=overall,
        details={"change_from_baseline_percent": change},
    )


def test_only_numeric_changes_are_points_by_criterion_in_the_order_given() -> None:
    points = [
        _point("recist1.1", 20, -31.5, "PR"),
        _point("recist1.1", 5, 0, "SD"),
        _point("mrecist", 5, None),
        _point("mrecist", 6, True),  # a flag, not a number
        _point("choi", 7, "12"),
    ]
    assert response_changes(points) == {
        "recist1.1": [
            ChangePoint(dt.date(2026, 1, 20), -31.5, "PR"),
            ChangePoint(dt.date(2026, 1, 5), 0.0, "SD"),
        ]
    }


@pytest.mark.parametrize("series", [{}, {"recist1.1": []}])
def test_no_point_no_chart(series: dict[str, list[ChangePoint]]) -> None:
    assert change_chart_svg(series) is None


def test_one_line_per_criterion_with_the_reference_lines_and_escaped_labels() -> None:
    series = {
        "recist1.1": [
            ChangePoint(dt.date(2026, 3, 1), -35.0, "PR"),
            ChangePoint(dt.date(2026, 1, 1), 0.0, "SD"),
        ],
        "<b>x</b>": [ChangePoint(dt.date(2026, 2, 1), 25.0, "PD & more")],
        "empty": [],
    }
    svg = change_chart_svg(series)
    assert svg is not None and svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 3
    for label in ("baseline", "−30 %", "+20 %", "2026-01-01", "2026-03-01"):
        assert label in svg, label
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg and "PD &amp; more" in svg
    # points of a line are drawn in date order: x grows along the polyline
    recist = re.findall(r'<polyline points="([^"]+)"', svg)
    xs = [[float(p.split(",")[0]) for p in line.split()] for line in recist]
    assert all(line == sorted(line) for line in xs)
