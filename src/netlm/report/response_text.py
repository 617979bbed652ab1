"""Response assessment as Markdown, and the rows and summary it is made of.

The terminal rendering (rich) is :mod:`netlm.commands.render`; the PDF is
:mod:`netlm.report.imaging`.
"""

from __future__ import annotations

from decimal import Decimal

from netlm.response.report import ResponseReport
from netlm.response.result import CriterionResult


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+.1f} %"


def _num(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _category(alias: str, category: str | None) -> str:
    """A criterion's own category with its RECIST-like alias, e.g. ``PMR (PR)``."""
    return alias if category is None or category == alias else f"{category} ({alias})"


def timepoint_rows(r: CriterionResult) -> list[list[str]]:
    """One row of :data:`COLUMNS` per time point of ``r``."""
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


#: The columns of the time-point table.
COLUMNS = [
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


def summary_line(r: CriterionResult) -> str:
    """Best overall response, progression and the endpoints of ``r``, on one line."""
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
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "---|" * len(COLUMNS),
        ]
        out += ["| " + " | ".join(row) + " |" for row in timepoint_rows(r)]
        out += ["", f"**{summary_line(r)}**", ""]
        out += [f"- warning: {w}" for w in r.warnings]
        out += [f"- threshold `{t.name}`: {t.rule} ({t.source})" for t in r.thresholds]
        out.append("")
    sstr = [m for m in report.exploratory_sstr if m.suv_max is not None]
    if sstr:
        out += ["## SSTR PET (exploratory, not classified)", ""]
        out += [f"- {m.model_dump_json()}" for m in sstr]
    return "\n".join(out) + "\n"
