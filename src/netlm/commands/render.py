"""Terminal renderings (rich) of an assessment, a plan and a response report.

The CLI's text format.  The words and numbers come from :mod:`netlm.report`
(:mod:`~netlm.report.board`, :mod:`~netlm.report.plan`,
:mod:`~netlm.report.response_text`), which also writes them as Markdown, HTML and
PDF; only the tables, colours and panels are here, since rich is a CLI library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from netlm.eligibility.result import Verdict
from netlm.report.board import headline, verdict_reasons
from netlm.report.plan import dose_cell, lung_lines, vial_lines
from netlm.report.response_text import COLUMNS, summary_line, timepoint_rows
from netlm.sirt.presets import Severity

if TYPE_CHECKING:
    from netlm.eligibility.result import Assessment
    from netlm.response.report import ResponseReport
    from netlm.sirt.planner import PlanResult

__all__ = ["render_plan_rich", "render_response_rich", "render_rich"]

VERDICT_STYLE: dict[Verdict, str] = {
    Verdict.ELIGIBLE: "bold green",
    Verdict.ELIGIBLE_WITH_CAUTION: "bold yellow",
    Verdict.NEEDS_INFORMATION: "bold cyan",
    Verdict.NOT_SUITABLE: "bold magenta",
    Verdict.CONTRAINDICATED: "bold red",
}

_STATUS = {True: ("ok", "green"), False: ("BREACH", "bold red")}


def render_rich(a: Assessment, *, all_findings: bool = True) -> RenderableType:
    """A rich renderable of the board summary."""
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    for label, value in headline(a):
        header.add_row(label, value)

    options = Table(title="Options", show_lines=True, expand=True)
    options.add_column("Modality", ratio=2)
    options.add_column("Verdict", ratio=2)
    options.add_column("Reasons and sources", ratio=7)
    for o in a.options:
        options.add_row(
            o.label,
            Text(o.verdict.value.replace("_", " "), style=VERDICT_STYLE[o.verdict]),
            Text("\n".join(verdict_reasons(o, all_findings=all_findings)) or "no findings"),
        )
    order = Table(title="Recommended order", expand=True)
    order.add_column("#", justify="right", no_wrap=True)
    order.add_column("Modality", ratio=2)
    order.add_column("Why here", ratio=5)
    for r in a.recommended_order:
        order.add_row(str(r.rank), r.label, r.reason)
    warnings = Table(title="Check these values", expand=True, show_header=False)
    warnings.add_column("warning", style="yellow")
    for warning in a.warnings:
        warnings.add_row(f"⚠ {warning.field}: {warning.message}")
    workup = Table(title="Work-up still needed", expand=True, show_header=False)
    workup.add_column("item")
    for w in a.workup:
        workup.add_row(f"• {w.message}")
    if not a.workup:
        workup.add_row("nothing further")
    prov = a.provenance
    footer = Text(
        f"netlm {prov.netlm_version} · profile {prov.profile.id} {prov.profile.version} "
        f"({prov.profile.digest[:12]}) · {prov.rules_evaluated} rules · "
        f"missing findings: {prov.missing_findings} · inputs {prov.inputs_digest[:12]}",
        style="dim",
    )
    parts: list[RenderableType] = [Panel(header, title="netlm tumour-board assessment")]
    parts += [warnings] if a.warnings else []
    return Group(*parts, options, order, workup, footer)


def render_plan_rich(result: PlanResult) -> RenderableType:
    """A rich renderable of the plan."""
    doses = Table(title=f"Radioembolization plan ({result.device}, {result.method})")
    for col in (
        "territory",
        "activity GBq",
        "vial GBq",
        "tumour Gy",
        "normal liver Gy",
        "perfused Gy",
        "lung Gy",
    ):
        doses.add_column(col, justify="right" if col != "territory" else "left")
    for t in result.territories:
        d = t.doses_gy
        doses.add_row(
            t.name,
            f"{t.injected_activity_gbq:.3f}",
            f"{t.vial_activity_gbq:.3f}",
            dose_cell(d.tumour),
            dose_cell(d.normal_liver),
            dose_cell(d.perfused),
            dose_cell(d.lung),
        )
    doses.add_row(
        "session",
        f"{result.injected_activity_gbq:.3f}",
        f"{result.vial_activity_gbq:.3f}",
        "",
        "",
        "",
        f"{result.session_lung_dose_gy:.1f} (cumulative {result.cumulative_lung_dose_gy:.1f})",
    )
    checks = Table(title="Checks")
    for col in ("check", "severity", "value", "limit", "margin", "status"):
        checks.add_column(col)
    for c in result.checks:
        label, style = _STATUS[c.passed]
        if c.overridden:
            label, style = "OVERRIDDEN", "bold yellow"
        elif not c.passed and c.severity is Severity.EVIDENCE:
            label, style = "below/above evidence", "yellow"
        where = f" [{c.territory}]" if c.territory else ""
        op = "<=" if c.bound == "max" else ">="
        checks.add_row(
            Text(c.description + where),
            c.severity.value,
            f"{c.value:.4g} {c.unit}",
            f"{op} {c.limit:g}",
            f"{c.margin:+.4g}",
            Text(label, style=style),
        )
    parts: list[RenderableType] = [doses, checks]
    vial = vial_lines(result)
    if vial:
        parts.append(Text("Vial order\n" + "\n".join(vial)))
    if result.uncertainty:
        u = Table(title=f"Uncertainty (5th-95th percentile, {result.uncertainty.samples} samples)")
        for col in ("territory", "compartment", "p5", "p50", "p95"):
            u.add_column(col)
        for name, comps in result.uncertainty.doses_gy.items():
            for comp, iv in comps.items():
                u.add_row(name, comp, f"{iv.p5:.1f}", f"{iv.p50:.1f}", f"{iv.p95:.1f}")
        parts.append(u)
    for o in result.optimisation:
        parts.append(Text(f"Optimisation [{o.territory}]: {o.explanation}"))
    if result.warnings:
        parts.append(
            Text("Warnings\n" + "\n".join(f"• {w}" for w in result.warnings), style="yellow")
        )
    parts.append(Text("\n".join(lung_lines(result))))
    consts = ", ".join(f"{k}={v}" for k, v in result.constants.items())
    parts.append(
        Text(
            f"constants: {consts}\nprofile {result.profile_id} "
            f"{(result.profile_digest or '')[:12]} · netlm {result.netlm_version} · inputs "
            f"{result.inputs_digest[:12]}",
            style="dim",
        )
    )
    return Group(*parts)


def render_response_rich(report: ResponseReport) -> RenderableType:
    """A rich renderable of the response report: one table per criterion."""
    parts: list[RenderableType] = [
        Text(
            f"Response assessment {report.case or ''} (reference {report.reference_date})",
            style="bold",
        )
    ]
    for r in report.results:
        table = Table(title=f"{r.label} {'(primary)' if r.primary else ''}")
        for col in COLUMNS:
            table.add_column(col)
        for row in timepoint_rows(r):
            table.add_row(*row)
        parts += [table, Text(summary_line(r))]
        parts += [Text(f"warning: {w}", style="yellow") for w in r.warnings]
    for m in (m for m in report.exploratory_sstr if m.suv_max is not None):
        parts.append(
            Text(f"SSTR PET (exploratory, not classified) {m.model_dump_json()}", style="dim")
        )
    return Group(*parts)
