"""The parts of the tumour-board page, rendered: the response chart and the doses.

The data comes from below: the answer the page leads with is
:func:`netlm.report.board.board_summary`, the timeline
:func:`netlm.workflows.board.timeline`, the chart's points
:func:`netlm.workflows.board.response_changes` drawn by
:func:`netlm.report.response_chart.change_chart_svg`, the computed doses
:func:`netlm.workflows.board.computed_doses`.  Here :func:`response_chart`,
:func:`dose_summary` and :func:`voxel_doses` (planned and computed doses, with
their DVH figures and viewer layers) feed ``board_page.html``; the plan review
and dose pages reuse the voxel doses and :func:`viewer_headers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from netlm.api.middleware import VIEWER_CONTENT_SECURITY_POLICY
from netlm.api.templating import render_partials
from netlm.report.html import dvh_figure, plan_context
from netlm.report.response_chart import change_chart_svg
from netlm.store.repository import ResponseOut, Store
from netlm.workflows.board import computed_doses, response_changes
from netlm.workflows.plans import plan_report_inputs


def response_chart(points: Sequence[ResponseOut]) -> Markup | None:
    """The board page's SVG chart of the change from baseline of ``points`` (``None``
    when none has a numeric change); the SVG escapes every text it holds."""
    svg = change_chart_svg(response_changes(points))
    return None if svg is None else Markup(svg)  # every text in it is escaped


@dataclass
class DoseSummary:
    """What the tumour-board page shows of the planned and computed doses."""

    plan: Any = None
    plan_html: Markup | None = None
    voxel: list[dict[str, Any]] = field(default_factory=list)


def dose_summary(store: Store, patient_id: int, plans: Sequence[Any]) -> DoseSummary:
    summary = DoseSummary()
    solved = [p for p in plans if p.latest_result_id is not None]
    if solved:
        chosen = next((p for p in reversed(solved) if p.approved_result_id), solved[-1])
        plan, result, curves = plan_report_inputs(store, chosen.id)
        if result is not None:
            context = plan_context(
                result.to_result(),
                plan=plan.to_plan(),
                dvh_curves=curves,
                approved_by=plan.approved_by,
            )
            summary.plan = plan
            summary.plan_html = render_partials(("plan_summary", "plan_doses", "dvh"), context)
    summary.voxel = voxel_doses(store, patient_id)
    return summary


def viewer_headers(voxel: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """The Content-Security-Policy that lets a page with the image viewer run its scripts."""
    if any("dose" in v.get("layers", ()) for v in voxel):
        return {"content-security-policy": VIEWER_CONTENT_SECURITY_POLICY}
    return None


def voxel_doses(store: Store, patient_id: int) -> list[dict[str, Any]]:
    """The patient's computed voxel doses: statistics, DVH figure and viewer layers."""
    from netlm.api.viewer import ISODOSE_LEVELS_GY, available_layers

    return [
        {
            "image": dose.image,
            "stats": dose.stats.get("vois", {}),
            "figure": dvh_figure(dose.curves) if dose.curves else None,
            "layers": available_layers(Path(dose.image.path or ""), dose.stats),
            "voi_labels": list(dose.stats.get("voi_labels") or []),
            "levels": list(ISODOSE_LEVELS_GY),
            "registration": (dose.stats.get("registration") or {}).get("ct"),
        }
        for dose in computed_doses(store, patient_id)
    ]
