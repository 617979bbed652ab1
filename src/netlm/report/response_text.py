"""Response assessment as rich tables or Markdown."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from netlm.response.report import ResponseReport
from netlm.response.result import CriterionResult


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def _num(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _category(alias: str, category: str | None) -> str:
    """A criterion's own category with its RECIST-like alias, e.g. ``PMR (PR)``."""
    return alias if category is None or category == alias else f"{category} ({alias})"


def _rows(r: CriterionResult) -> list[list[str]]:
    rows = []
    for p in r.timepoints:
        rows.append(
            [
                p.date.isoformat(),
                f"{_num(p.measure)} {p.unit}",
                _pct(p.change_from_baseline_percent),
                _pct(p.change_from_nadir_percent),
                p.target.value if p.target else "-",
                p.non_target.value if p.non_target else "-",
                "yes" if p.new_lesions else "no",
                _category(p.overall.value, p.category),
                "; ".join(p.notes),
            ]
        )
    return rows


_HEAD = [
    "date",
    "measure",
    "vs baseline",
    "vs nadir",
    "target",
    "non-target",
    "new",
    "overall",
    "notes",
]


def _summary(r: CriterionResult) -> str:
    b, e = r.best_overall, r.endpoints
    text = f"best overall response: {_category(b.response.value, b.category)}"
    if b.date:
        text += f" ({b.date.isoformat()}"
        text += ", confirmed)" if b.confirmed else ")"
    if e.progression_date:
        text += (
            f"; progression {e.progression_date.isoformat()} (TTP {e.time_to_progression_days} d)"
        )
    if e.duration_of_response_days is not None:
        text += f"; duration of response {e.duration_of_response_days} d"
    if e.depth_of_response_percent is not None:
        text += f"; depth {_pct(e.depth_of_response_percent)}"
    return text


def render_response_rich(report: ResponseReport) -> RenderableType:
    parts: list[RenderableType] = [
        Text(
            f"Response assessment {report.case or ''} (reference {report.reference_date})",
            style="bold",
        )
    ]
    for r in report.results:
        table = Table(title=f"{r.label} {'(primary)' if r.primary else ''}")
        for col in _HEAD:
            table.add_column(col)
        for row in _rows(r):
            table.add_row(*row)
        parts += [table, Text(_summary(r))]
        parts += [Text(f"warning: {w}", style="yellow") for w in r.warnings]
    for m in (m for m in report.exploratory_sstr if m.suv_max is not None):
        parts.append(
            Text(f"SSTR PET (exploratory, not classified) {m.model_dump_json()}", style="dim")
        )
    return Group(*parts)


def render_response_markdown(report: ResponseReport) -> str:
    out = [
        f"# Response assessment {report.case or ''}".rstrip(),
        "",
        f"Reference date {report.reference_date}.",
        "",
    ]
    for r in report.results:
        out += [
            f"## {r.label}{' (primary)' if r.primary else ''}",
            "",
            "| " + " | ".join(_HEAD) + " |",
            "|" + "---|" * len(_HEAD),
        ]
        out += ["| " + " | ".join(row) + " |" for row in _rows(r)]
        out += ["", f"**{_summary(r)}**", ""]
        out += [f"- warning: {w}" for w in r.warnings]
        out += [f"- threshold `{t.name}`: {t.rule} ({t.source})" for t in r.thresholds]
        out.append("")
    sstr = [m for m in report.exploratory_sstr if m.suv_max is not None]
    if sstr:
        out += ["## SSTR PET (exploratory, not classified)", ""]
        out += [f"- {m.model_dump_json()}" for m in sstr]
    return "\n".join(out) + "\n"
