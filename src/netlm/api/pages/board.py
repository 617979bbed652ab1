"""The parts of the tumour-board page: the answer it leads with, the timeline, charts, doses.

:func:`board_summary` (the options by availability, the same facts as the
board PDF), :func:`timeline` (treatments, plans, follow-up and toxicity by
date), :func:`response_chart` (an SVG of the change from baseline) and
:func:`dose_summary` / :func:`voxel_doses` (planned and computed doses) feed
``board_page.html``; the plan review and dose pages reuse the voxel doses
and :func:`viewer_headers`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

from netlm.api.middleware import VIEWER_CONTENT_SECURITY_POLICY
from netlm.api.templating import render_partials
from netlm.case import Case
from netlm.eligibility.ordering import recommend_order
from netlm.eligibility.result import (
    Assessment,
    Assumption,
    Effect,
    ModalityOption,
    RankedOption,
    Verdict,
)
from netlm.report.html import dvh_figure, plan_context
from netlm.store.repository import ResponseOut, Store
from netlm.workflows.images import voxel_dvh
from netlm.workflows.plans import plan_report_inputs

#: Verdicts of the options the board can offer (listed first, in the recommended order).
OFFERABLE = frozenset({Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_CAUTION})
#: Verdicts of the options collapsed below the answer (with a count).
UNAVAILABLE = frozenset({Verdict.NOT_SUITABLE, Verdict.CONTRAINDICATED})
#: The facts of the one patient line, by their label in the report's case header.
PATIENT_LINE = (
    "Patient",
    "Primary",
    "WHO 2019 grade",
    "Pathology",
    "SSTR imaging",
    "Tumour burden",
    "Child-Pugh",
    "ALBI",
)


@dataclass(frozen=True)
class SummaryOption:
    """One option of the board page's answer: its rank, verdict and key reasons."""

    ranked: RankedOption
    option: ModalityOption
    reasons: tuple[str, ...]

    @property
    def intent(self) -> str:
        """Why the option sits at its place, without the verdict its badge already shows."""
        _, _, intent = self.ranked.reason.partition("; ")
        return intent or self.ranked.reason


@dataclass(frozen=True)
class BoardSummary:
    """The answer the board page leads with (the same facts as the board PDF).

    ``patient_line`` holds the (label, value) pairs of :data:`PATIENT_LINE`
    taken from the report's case header; ``offered`` the options with a verdict
    in :data:`OFFERABLE`, ``pending`` those that need information, and
    ``unavailable`` those in :data:`UNAVAILABLE`, each in the recommended order;
    ``assumptions`` the findings the verdicts took as absent, to confirm (the
    PDF's "Assumptions to confirm").
    """

    patient_line: tuple[tuple[str, str], ...]
    offered: tuple[SummaryOption, ...]
    pending: tuple[SummaryOption, ...]
    unavailable: tuple[SummaryOption, ...]
    assumptions: tuple[Assumption, ...] = ()


def _key_reasons(option: ModalityOption) -> tuple[str, ...]:
    """The findings that shape the verdict (conditions to fulfil are left to the table)."""
    return tuple(f.message for f in option.findings if f.effect is not Effect.REQUIREMENT)


def board_summary(assessment: Assessment, context: Mapping[str, Any]) -> BoardSummary:
    """The answer of ``assessment``: the patient line and its options by availability.

    ``context`` is the :func:`netlm.report.html.board_context` of the
    assessment, whose ``headline`` and ``case_facts`` the PDF prints too.
    Assessments recorded before the recommended order existed are ordered now
    by :func:`netlm.eligibility.ordering.recommend_order`.
    """
    facts = dict([*context.get("headline", ()), *context.get("case_facts", ())])
    line = tuple((label, str(facts[label])) for label in PATIENT_LINE if label in facts)
    order = assessment.recommended_order or recommend_order(assessment.options)
    by_modality = {o.modality: o for o in assessment.options}
    ranked = [
        SummaryOption(r, by_modality[r.modality], _key_reasons(by_modality[r.modality]))
        for r in order
        if r.modality in by_modality
    ]
    return BoardSummary(
        patient_line=line,
        offered=tuple(o for o in ranked if o.option.verdict in OFFERABLE),
        pending=tuple(o for o in ranked if o.option.verdict is Verdict.NEEDS_INFORMATION),
        unavailable=tuple(o for o in ranked if o.option.verdict in UNAVAILABLE),
        assumptions=assessment.assumptions,
    )


@dataclass(frozen=True)
class Event:
    """One line of the treatment timeline."""

    date: dt.date
    kind: str
    text: str
    link: str | None = None


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def timeline(store: Store, patient_id: int, case: Case | None, plans: Sequence[Any]) -> list[Event]:
    """Treatments from the case history and the registry, plans, follow-up and toxicity, by date."""
    events: list[Event] = []
    if case is not None:
        for prior in case.history.prior_treatments or ():
            when = prior.date or prior.start or prior.end
            if when is None:
                continue
            parts = [prior.type.value.replace("_", " ")]
            if prior.agent:
                parts.append(prior.agent.replace("_", " "))
            if prior.cycles:
                parts.append(f"{prior.cycles} cycles")
            if prior.end and prior.end != when:
                parts.append(f"until {prior.end.isoformat()}")
            events.append(Event(when, "prior treatment", ", ".join(parts)))
    for t in store.treatments(patient_id):
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(t.details.items()) if _scalar(v))
        text = t.modality.replace("_", " ") + (f" ({detail})" if detail else "")
        events.append(Event(t.date, "treatment", text))
    for p in plans:
        label = f"{p.device} {p.method} plan #{p.id} ({p.status.value})"
        events.append(Event(_day(p.created_at), "plan", label, f"/plans/{p.id}"))
        if p.approved_at is not None:
            events.append(
                Event(
                    _day(p.approved_at),
                    "approval",
                    f"plan #{p.id} approved by {p.approved_by}",
                    f"/plans/{p.id}",
                )
            )
    for r in store.response_timepoints(patient_id):
        if r.criterion == "recist1.1":
            events.append(Event(r.date, "response", f"RECIST 1.1: {r.overall}"))
    for x in store.toxicity_events(patient_id):
        events.append(
            Event(x.date, "toxicity", f"{x.term}, CTCAE v{x.ctcae_version} grade {x.grade}")
        )
    return sorted(events, key=lambda e: (e.date, e.kind))


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


_SERIES_COLOURS = ("#1f4e79", "#b5541c", "#2e7d32", "#6a3d9a", "#9b1c1c", "#00838f", "#7a5200")


def response_chart(points: Sequence[ResponseOut]) -> Markup | None:
    """An SVG line chart of the change of the measure from baseline, one line per criterion.

    Reference lines at -30 % (RECIST partial response) and +20 % (progression);
    each point is labelled with its overall response.
    """
    series: dict[str, list[tuple[dt.date, float, str]]] = {}
    for p in points:
        change = p.details.get("change_from_baseline_percent")
        if isinstance(change, int | float) and not isinstance(change, bool):
            series.setdefault(p.criterion, []).append((p.date, float(change), p.overall))
    if not series:
        return None
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
    return Markup("".join(out))


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

    found: list[dict[str, Any]] = []
    for image in store.images(patient_id):
        if image.kind != "rtdose" or image.path is None:
            continue
        read = voxel_dvh(Path(image.path))
        if read is None:
            continue
        curves, stats = read
        found.append(
            {
                "image": image,
                "stats": stats.get("vois", {}),
                "figure": dvh_figure(curves) if curves else None,
                "layers": available_layers(Path(image.path), stats),
                "voi_labels": list(stats.get("voi_labels") or []),
                "levels": list(ISODOSE_LEVELS_GY),
                "registration": (stats.get("registration") or {}).get("ct"),
            }
        )
    return found
