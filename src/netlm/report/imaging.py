"""HTML of the voxel-dose and response-assessment reports.

* the **voxel dosimetry report** of a :class:`~netlm.voxel.result.DoseResult`
  (``voxel_dose.html``): activity and method, dose statistics, BED and EUD per
  volume of interest, the DVH figure and a fused axial slice (activity in grey,
  dose as a colour wash, VOI outlines), warnings and a signature block;
* the **response-assessment report** of a
  :class:`~netlm.response.report.ResponseReport` (``response.html``): per
  criterion a table per time point and the best overall response, with the
  waterfall and spider plots of :mod:`netlm.report.response_plots`.

Both extend ``base.html`` like the board and plan reports (two identifiers and
the status on every page, page X of Y, version and digests) and embed their
figures as SVG ``data:`` URIs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from netlm import __version__
from netlm.errors import NetlmError
from netlm.report.html import (
    MISSING,
    _environment,
    _identity,
    _now,
    dvh_figure,
)
from netlm.units import BQ_PER_KBQ

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from netlm.response.report import ResponseReport
    from netlm.volume import ImageVolume
    from netlm.voxel.result import DoseResult

__all__ = [
    "fused_slice_uri",
    "render_response_html",
    "render_voxel_dose_html",
    "response_context",
    "voxel_dose_context",
]

#: Doses below this fraction of the slice's maximum are left uncoloured in the fused image.
WASH_THRESHOLD: Final = 0.05


def _svg_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _dose_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the statistics document (sorted keys, no whitespace)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fused_slice_uri(
    dose: ImageVolume,
    masks: dict[str, ImageVolume],
    activity: ImageVolume | None = None,
) -> tuple[str, int]:
    """An axial slice through the dose maximum as an SVG ``data:`` URI, and its index k.

    Activity (when given, on the dose grid) in grey, the dose as a colour wash
    (above :data:`WASH_THRESHOLD` of the maximum) with a colour bar in Gy, and
    the outline of each VOI.  The slice is the one with the largest summed dose.
    """
    from matplotlib.figure import Figure

    dose_array = np.asarray(dose.array, dtype=float)
    k = int(np.argmax(dose_array.reshape(dose_array.shape[0], -1).sum(axis=1)))
    spacing_i, spacing_j = dose.spacing_mm[0], dose.spacing_mm[1]
    fig = Figure(figsize=(6.0, 4.6))
    ax = fig.add_subplot()
    if activity is not None and activity.array.shape == dose_array.shape:
        background = np.asarray(activity.array[k], dtype=float) / BQ_PER_KBQ
        shown = ax.imshow(background, cmap="gray", aspect=spacing_j / spacing_i)
        fig.colorbar(
            shown,
            ax=ax,
            orientation="horizontal",
            fraction=0.05,
            pad=0.14,
            label="activity at implant (kBq/mL)",
        )
    slice_dose = dose_array[k]
    top = float(slice_dose.max())
    wash = np.ma.masked_less_equal(slice_dose, WASH_THRESHOLD * top if top > 0 else 0.0)
    image = ax.imshow(
        wash, cmap="inferno", alpha=0.6, aspect=spacing_j / spacing_i, vmin=0.0, vmax=top or 1.0
    )
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="absorbed dose (Gy)")
    colours = ("#00c8ff", "#3cff3c", "#ff4df0", "#ffffff", "#ffd000")
    for index, (name, mask) in enumerate(masks.items()):
        plane = np.asarray(mask.array[k], dtype=float)
        if plane.any() and not plane.all():
            colour = colours[index % len(colours)]
            ax.contour(plane, levels=[0.5], colors=[colour], linewidths=1.0)
            ax.plot([], [], color=colour, label=name)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize="small", framealpha=0.6)
    ax.set_title(f"Axial slice k = {k} (largest summed dose)")
    ax.set_xlabel("i (patient left →)")
    ax.set_ylabel("j (posterior ↓)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    return _svg_uri(buffer.getvalue()), k


def voxel_dose_context(
    result: DoseResult,
    *,
    patient_id: str | None = None,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    generated_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The template context of the voxel dosimetry report.

    Keys: ``doc`` (the statistics document), ``vois`` (name, statistics,
    radiobiology), ``dvh`` (a :class:`~netlm.report.html.DvhFigure`),
    ``slice_uri`` and ``slice_k``, ``approved_by``, plus those of ``base.html``.
    The second identifier is the SHA-256 of the statistics document.
    """
    from netlm.voxel.dvh import dvh_curve

    doc = result.document
    patient = patient_id or None
    curves = [dvh_curve(result.dose, m, label=name) for name, m in result.masks.items()]
    slice_uri, k = fused_slice_uri(result.dose, result.masks, result.activity)
    digest = _dose_digest(doc)
    activity = doc.get("activity", {})
    return {
        "doc": doc,
        "vois": list(doc["vois"].items()),
        "activity_record": activity,
        "dvh": dvh_figure(curves) if curves else None,
        "slice_uri": slice_uri,
        "slice_k": k,
        "approved_by": approved_by,
        "signature_note": "the dosimetry must be checked and signed before it is filed.",
        "generated_at": _now(generated_at),
        "document_title": "Voxel dosimetry report",
        "case_id": str(patient) if patient else MISSING,
        "footer_digests": [("statistics sha256", digest[:12])],
        "software_version": __version__,
        "identity": _identity(
            str(patient) if patient else None,
            "dose statistics sha256",
            digest,
            approved_by,
            approved_at,
        ),
    }


def render_voxel_dose_html(
    result: DoseResult,
    *,
    patient_id: str | None = None,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    generated_at: dt.datetime | None = None,
) -> str:
    """The voxel dosimetry report of ``result`` as a self-contained HTML document.

    Parameters
    ----------
    result
        The output of :func:`netlm.workflows.dose.compute_dose`.
    patient_id
        The patient the images belong to (printed "not recorded" when not
        given: the images' own patient data are not read).
    approved_by, approved_at
        Who approved the dosimetry and when; without them every page reads
        "draft — not approved".
    generated_at
        The print time shown on the report (default: now, UTC).
    """
    context = voxel_dose_context(
        result,
        patient_id=patient_id,
        approved_by=approved_by,
        approved_at=approved_at,
        generated_at=generated_at,
    )
    return _environment().get_template("voxel_dose.html").render(context)


def _plot_uri(
    plot: Callable[..., Figure], reports: Sequence[ResponseReport], criterion: str
) -> str:
    svg = io.BytesIO()
    plot(reports, criterion=criterion).savefig(svg, format="svg", bbox_inches="tight")
    return _svg_uri(svg.getvalue())


def response_context(
    report: ResponseReport,
    *,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    generated_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The template context of the response-assessment report.

    Keys: ``report``, ``head`` (column titles), ``criteria`` (per criterion:
    result, rows, summary, waterfall and spider ``data:`` URIs; plotted for the
    primary criterion (else the first), ``None`` for the others and when there
    is no follow-up to plot), plus those of ``base.html``.
    """
    from netlm.report import response_plots
    from netlm.report.response_text import COLUMNS, summary_line, timepoint_rows

    criteria = []
    plotted = {r.criterion for r in report.results if r.primary} or {
        r.criterion for r in report.results[:1]
    }
    for r in report.results:
        figures: dict[str, str | None] = {"waterfall": None, "spider": None}
        for name, plot in (
            ("waterfall", response_plots.waterfall),
            ("spider", response_plots.spider),
        ):
            if r.criterion not in plotted:
                continue
            try:
                figures[name] = _plot_uri(plot, [report], r.criterion)
            except NetlmError:  # no follow-up measurement to plot
                figures[name] = None
        criteria.append(
            {"result": r, "rows": timepoint_rows(r), "summary": summary_line(r)} | figures
        )
    return {
        "report": report,
        "head": COLUMNS,
        "criteria": criteria,
        "signature_note": "the assessment must be checked and signed before it is filed.",
        "generated_at": _now(generated_at),
        "document_title": "Response assessment",
        "case_id": report.case or MISSING,
        "footer_digests": [("inputs sha256", report.inputs_digest[:12])],
        "software_version": report.netlm_version,
        "identity": _identity(
            report.case, "response file sha256", report.inputs_digest, approved_by, approved_at
        ),
    }


def render_response_html(
    report: ResponseReport,
    *,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
    generated_at: dt.datetime | None = None,
) -> str:
    """The response-assessment report as a self-contained HTML document.

    Parameters are those of :func:`render_voxel_dose_html` (``report`` from
    :func:`netlm.response.report.assess_response`).
    """
    context = response_context(
        report, approved_by=approved_by, approved_at=approved_at, generated_at=generated_at
    )
    return _environment().get_template("response.html").render(context)
