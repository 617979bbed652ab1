"""Analyses of a cohort folder: survival, dose-response and toxicity (``netlm outcomes``).

Each reads a cohort data folder (``netlm/cohort-data/v1``, CSV or Parquet, by
:func:`netlm.outcomes.io.load_cohort_data`) once, runs the analyses of
:mod:`netlm.outcomes` and, when asked, draws the plot
(:mod:`netlm.report.figures`) after everything is computed, so that an analysis
that fails writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlm.outcomes.io import load_cohort_data

if TYPE_CHECKING:
    from netlm.outcomes.dose_response import DoseResponseResult
    from netlm.outcomes.survival import CoxResult, SurvivalResult
    from netlm.outcomes.toxicity import ToxicityReport

__all__ = ["SurvivalAnalysis", "dose_response_analysis", "survival_analysis", "toxicity_analysis"]


@dataclass(frozen=True)
class SurvivalAnalysis:
    """A Kaplan-Meier estimate and, when asked for, the Cox model of the same endpoint."""

    kaplan_meier: SurvivalResult
    cox: CoxResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"kaplan_meier": ..., "cox": ...}`` (``cox`` only when fitted), JSON-ready."""
        found = {"kaplan_meier": self.kaplan_meier.model_dump(mode="json")}
        if self.cox is not None:
            found["cox"] = self.cox.model_dump(mode="json")
        return found


def survival_analysis(
    data: str | Path,
    endpoint: str = "os",
    strata: str | None = None,
    *,
    cox: bool = False,
    plot: str | Path | None = None,
) -> SurvivalAnalysis:
    """Kaplan-Meier of ``endpoint`` (by ``strata``), the Cox model if ``cox``, the plot if ``plot``.

    Parameters
    ----------
    data
        The cohort data folder.
    endpoint, strata
        As :func:`netlm.outcomes.survival.kaplan_meier`.
    cox
        Also fit :func:`netlm.outcomes.survival.cox` (the seeds' factors).
    plot
        Kaplan-Meier plot to write (``.png``, ``.svg``).
    """
    from netlm.outcomes import survival

    cohort = load_cohort_data(data)
    result = SurvivalAnalysis(
        survival.kaplan_meier(cohort, endpoint, strata),
        survival.cox(cohort, endpoint) if cox else None,
    )
    if plot is not None:
        from netlm.report.figures import plot_km

        plot_km(result.kaplan_meier, plot)
    return result


def dose_response_analysis(
    data: str | Path,
    criterion: str = "mrecist",
    *,
    toxicity: bool = False,
    n_bootstrap: int = 1000,
    plot: str | Path | None = None,
) -> DoseResponseResult:
    """Tumour dose vs response by ``criterion``, or (``toxicity``) normal-liver dose vs
    hepatotoxicity; the plot if ``plot``.

    See :func:`netlm.outcomes.dose_response.tumour_dose_response` and
    :func:`~netlm.outcomes.dose_response.normal_liver_dose_toxicity`.
    """
    from netlm.outcomes import dose_response as dr

    cohort = load_cohort_data(data)
    result = (
        dr.normal_liver_dose_toxicity(cohort, n_bootstrap=n_bootstrap)
        if toxicity
        else dr.tumour_dose_response(cohort, criterion, n_bootstrap=n_bootstrap)
    )
    if plot is not None:
        from netlm.report.figures import plot_dose_response

        plot_dose_response(result, plot)
    return result


def toxicity_analysis(
    data: str | Path, *, by: str | None = None, version: str = "5.0"
) -> ToxicityReport:
    """CTCAE grades over time, REILD and chronic indicators of the cohort in ``data``.

    See :func:`netlm.outcomes.toxicity.toxicity_report`.
    """
    from netlm.outcomes.toxicity import toxicity_report

    return toxicity_report(load_cohort_data(data), by=by, version=version)
