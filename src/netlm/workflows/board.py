"""What the tumour-board page shows of a patient's course, gathered from the registry.

:func:`timeline` (treatments, plans, follow-up and toxicity by date),
:func:`response_changes` (the points of the change-from-baseline chart,
:func:`netlm.report.response_chart.change_chart_svg`) and
:func:`computed_doses` (the voxel-dose files with their DVHs).  Data only: the
web page (:mod:`netlm.api.pages.board`) renders it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netlm.case import Case
from netlm.report.response_chart import ChangePoint
from netlm.store.repository import ImageOut, ResponseOut, Store
from netlm.voxel.dvh import DvhCurve
from netlm.workflows.images import voxel_dvh

__all__ = ["ComputedDose", "Event", "computed_doses", "response_changes", "timeline"]


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


def response_changes(points: Sequence[ResponseOut]) -> dict[str, list[ChangePoint]]:
    """The change of the measure from baseline of each time point, by criterion (in the
    order given); time points without a numeric change are left out."""
    series: dict[str, list[ChangePoint]] = {}
    for p in points:
        change = p.details.get("change_from_baseline_percent")
        if isinstance(change, int | float) and not isinstance(change, bool):
            series.setdefault(p.criterion, []).append(ChangePoint(p.date, float(change), p.overall))
    return series


@dataclass(frozen=True)
class ComputedDose:
    """One computed voxel dose of a patient: its RT Dose image, DVH curves and statistics
    (the dose document beside the file, :func:`netlm.workflows.images.voxel_dvh`)."""

    image: ImageOut
    curves: list[DvhCurve]
    stats: dict[str, Any]


def computed_doses(store: Store, patient_id: int) -> list[ComputedDose]:
    """The patient's RT Dose images whose file and DVH can be read, in registry order."""
    found: list[ComputedDose] = []
    for image in store.images(patient_id):
        if image.kind != "rtdose" or image.path is None:
            continue
        read = voxel_dvh(Path(image.path))
        if read is not None:
            found.append(ComputedDose(image, *read))
    return found
