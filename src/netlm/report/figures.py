"""Figures and tables of computed results: DVHs, Kaplan-Meier curves, dose-response.

The core (:mod:`netlm.voxel`, :mod:`netlm.outcomes`) computes and returns values;
it draws and writes nothing (issue #13).  This module turns those values into
matplotlib figures and CSV files.  Every ``plot_*`` function draws on a
:class:`matplotlib.figure.Figure` (the object API: no pyplot state, no display
backend, safe in servers and tests) and returns it; given a ``path`` it also
saves the figure there, in the format its suffix names.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from matplotlib.figure import Figure

from netlm.errors import InputError
from netlm.outcomes.dose_response import DoseResponseResult
from netlm.outcomes.survival import SurvivalResult
from netlm.voxel.dose import DosimetryError
from netlm.voxel.dvh import DvhCurve

__all__ = ["plot_dose_response", "plot_dvh", "plot_km", "write_dvh_csv"]

#: File formats a DVH plot can be saved as.
DVH_SUFFIXES: Final = (".png", ".svg", ".pdf")
#: File formats the cohort plots (Kaplan-Meier, dose-response) can be saved as.
COHORT_SUFFIXES: Final = (".png", ".svg")


def _save(figure: Figure, path: Path, dpi: int) -> None:
    figure.savefig(path, dpi=dpi, format=path.suffix.lower().lstrip("."))


# ---------------------------------------------------------------------------- DVH
def write_dvh_csv(curves: Iterable[DvhCurve], path: str | Path) -> Path:
    """Write DVH curves as CSV, one row per point: ``voi,dose_gy,volume_percent``.

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["voi", "dose_gy", "volume_percent"])
        for curve in curves:
            for level, volume in zip(curve.dose_gy, curve.volume_percent, strict=True):
                writer.writerow([curve.label, f"{level:.6g}", f"{volume:.6g}"])
    return target


def plot_dvh(
    curves: Sequence[DvhCurve],
    path: str | Path | None = None,
    *,
    title: str | None = None,
    reference_doses_gy: Sequence[float] = (),
    dashed: Iterable[str] = (),
    dpi: int = 150,
) -> Figure:
    """Plot cumulative DVHs (from :func:`netlm.voxel.dvh.dvh_curve`).

    Parameters
    ----------
    curves
        The curves; each is labelled by its ``label``.
    path
        Where to save the figure, if anywhere: ``*.png``, ``*.svg`` or ``*.pdf``.
    title
        A title above the axes.
    reference_doses_gy
        Vertical lines at these doses (e.g. 100 and 205 Gy).
    dashed
        Labels drawn dashed (e.g. the planned curves beside the delivered ones).
    dpi
        Resolution of a PNG.

    Returns
    -------
    Figure
        The figure (saved to ``path`` when one is given).
    """
    target = None if path is None else Path(path)
    if target is not None and target.suffix.lower() not in DVH_SUFFIXES:
        raise DosimetryError(f"Argument 'path' must end in .png, .svg or .pdf, not {target.name}")
    if not curves:
        raise DosimetryError("Argument 'curves' must hold at least one DVH")
    dashed_labels = set(dashed)
    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for curve in curves:
        axes.plot(
            curve.dose_gy,
            curve.volume_percent,
            linestyle="--" if curve.label in dashed_labels else "-",
            label=f"{curve.label} ({curve.volume_ml:.1f} mL)",
        )
    for level in reference_doses_gy:
        axes.axvline(level, color="0.6", linewidth=0.8, linestyle=":")
    axes.set_xlabel("Dose (Gy)")
    axes.set_ylabel("Volume (%) receiving at least the dose")
    axes.set_ylim(0.0, 101.0)
    axes.set_xlim(left=0.0)
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize="small")
    if title:
        axes.set_title(title)
    if target is not None:
        _save(figure, target, dpi)
    return figure


# ---------------------------------------------------------------------------- cohort plots
def _cohort_path(path: str | Path | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() not in COHORT_SUFFIXES:
        raise InputError(
            [("path", f"suffix must be one of {', '.join(COHORT_SUFFIXES)}, not {out.suffix!r}")]
        )
    return out


def plot_km(
    result: SurvivalResult,
    path: str | Path | None = None,
    *,
    title: str | None = None,
    show_ci: bool = True,
    dpi: int = 150,
) -> Figure:
    """Plot Kaplan-Meier curves with the numbers at risk below the axis.

    Parameters
    ----------
    result
        From :func:`netlm.outcomes.survival.kaplan_meier`.
    path
        Where to save the figure, if anywhere: ``*.png`` or ``*.svg``.
    title
        Defaults to the endpoint (and strata and log-rank p).
    show_ci
        Shade the pointwise confidence bands.
    dpi
        Resolution of a PNG.

    Returns
    -------
    Figure
        The figure (saved to ``path`` when one is given).
    """
    from lifelines.plotting import add_at_risk_counts

    out = _cohort_path(path)
    n_groups = len(result.groups)
    table_in = 0.9 + 0.2 * (n_groups + 1)  # x label and the at-risk table, in inches
    height_in = 4.2 + table_in
    fig = Figure(figsize=(7.5, height_in))
    ax = fig.add_subplot(1, 1, 1)
    fitters: list[Any] = []
    for group in result.groups:
        fitter = group.fitter(result.confidence)
        median = "NR" if group.median_months is None else f"{group.median_months:.1f}"
        fitter.plot_survival_function(
            ax=ax,
            ci_show=show_ci,
            show_censors=True,
            censor_styles={"marker": "|", "ms": 6},
            label=f"{group.label} (n={group.n}, median {median})",
        )
        fitters.append(fitter)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("Months since treatment")
    ax.set_ylabel(result.endpoint.label)
    if title is None:
        title = result.endpoint.label
        if result.strata:
            title += f" by {result.strata}"
        if result.logrank is not None:
            title += f" (log-rank p = {result.logrank.p_value:.3g})"
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    add_at_risk_counts(
        *fitters,
        ax=ax,
        fig=fig,
        rows_to_show=["At risk"],
        labels=[g.label for g in result.groups],
    )
    fig.subplots_adjust(left=0.2, bottom=table_in / height_in, right=0.97, top=1 - 0.45 / height_in)
    if out is not None:
        _save(fig, out, dpi)
    return fig


def plot_dose_response(
    result: DoseResponseResult,
    path: str | Path | None = None,
    *,
    title: str | None = None,
    dpi: int = 150,
) -> Figure:
    """Plot the dose-response curve (left) and the ROC curve (right).

    Left: each unit's outcome against its dose (jittered), the fitted
    logistic curve, the Youden threshold with its bootstrap interval.  Right:
    the ROC curve with the Youden point.

    Parameters
    ----------
    result
        From :func:`netlm.outcomes.dose_response.fit_dose_response`.
    path
        Where to save the figure, if anywhere: ``*.png`` or ``*.svg``.
    title
        Defaults to "<outcome> vs dose".
    dpi
        Resolution of a PNG.

    Returns
    -------
    Figure
        The figure (saved to ``path`` when one is given).
    """
    out = _cohort_path(path)
    fig = Figure(figsize=(11.0, 4.5))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1.0]})
    doses = np.asarray(result.doses_gy, dtype=float)
    positive = np.asarray(result.positive, dtype=bool)
    jitter = np.random.default_rng(0).uniform(-0.04, 0.04, len(doses))
    left.scatter(
        doses,
        positive.astype(float) + jitter,
        s=14,
        alpha=0.6,
        c=np.where(positive, "tab:green", "tab:red"),
        label=f"{result.unit}s (n={result.n})",
    )
    grid = np.linspace(0.0, float(doses.max()) * 1.05, 300)
    if result.slope_per_gy is not None and result.intercept is not None:
        curve = 1.0 / (1.0 + np.exp(-(result.intercept + result.slope_per_gy * grid)))
        left.plot(grid, curve, color="k", label="logistic fit")
    left.axvline(
        result.threshold_gy,
        color="tab:blue",
        ls="--",
        label=f"Youden threshold {result.threshold_gy:.1f} Gy",
    )
    if result.threshold_ci is not None:
        left.axvspan(
            result.threshold_ci.lower,
            result.threshold_ci.upper,
            color="tab:blue",
            alpha=0.12,
            label=f"{result.bootstrap.confidence:.0%} CI {result.threshold_ci.lower:.1f}-"
            f"{result.threshold_ci.upper:.1f} Gy",
        )
    left.set_xlabel(
        "Tumour absorbed dose (Gy)" if result.unit == "lesion" else "Normal-liver dose (Gy)"
    )
    left.set_ylabel(f"P({result.outcome})")
    left.set_ylim(-0.1, 1.1)
    left.legend(loc="center right", fontsize="small")
    right.plot(result.roc_fpr, result.roc_tpr, color="k")
    right.plot([0, 1], [0, 1], color="0.7", ls=":")
    right.scatter(
        [1.0 - result.specificity], [result.sensitivity], color="tab:blue", zorder=3, label="Youden"
    )
    auc = f"AUC {result.auc:.2f}"
    if result.auc_ci is not None:
        auc += f" ({result.auc_ci.lower:.2f}-{result.auc_ci.upper:.2f})"
    right.set_title(auc, fontsize="medium")
    right.set_xlabel("1 - specificity")
    right.set_ylabel("Sensitivity")
    right.set_aspect("equal")
    right.legend(loc="lower right", fontsize="small")
    fig.suptitle(title or f"{result.outcome} vs dose")
    fig.tight_layout()
    if out is not None:
        _save(fig, out, dpi)
    return fig
