"""``netlm outcomes``: survival, dose-response and toxicity of a cohort folder, and the
published outcomes of the seed reviews (:mod:`netlm.workflows.outcomes`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from netlm.commands.common import TextJsonFormat, fail
from netlm.errors import NetlmError

outcomes_app = typer.Typer(
    help="Survival, dose-response and toxicity analysis.", no_args_is_help=True
)


@outcomes_app.command("survival")
def outcomes_survival(
    data: Annotated[Path, typer.Argument(help="Cohort data folder (netlm/cohort-data/v1).")],
    endpoint: Annotated[str, typer.Option(help="os, hepatic_pfs or pfs.")] = "os",
    strata: Annotated[
        str | None,
        typer.Option(help="grade, primary_site, modality, device, tumour_burden, prior_prrt ..."),
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Kaplan-Meier plot (.png/.svg).")] = None,
    cox: Annotated[
        bool, typer.Option(help="Also fit the Cox model of the seeds' factors.")
    ] = False,
) -> None:
    """Kaplan-Meier (medians with CIs, log-rank) and optionally Cox regression; JSON out."""
    from netlm.workflows.outcomes import survival_analysis

    try:
        result = survival_analysis(data, endpoint, strata, cox=cox, plot=plot)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(json.dumps(result.to_dict(), indent=2, default=str))


@outcomes_app.command("dose-response")
def outcomes_dose_response(
    data: Annotated[Path, typer.Argument(help="Cohort data folder (netlm/cohort-data/v1).")],
    criterion: Annotated[str, typer.Option(help="mrecist or recist.")] = "mrecist",
    toxicity: Annotated[
        bool, typer.Option(help="Normal-liver dose vs hepatotoxicity instead.")
    ] = False,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples (patients).")] = 1000,
    plot: Annotated[Path | None, typer.Option(help="Plot (.png/.svg).")] = None,
) -> None:
    """Logistic dose-response, ROC and the best-separating threshold with bootstrap CIs."""
    from netlm.workflows.outcomes import dose_response_analysis

    try:
        result = dose_response_analysis(
            data, criterion, toxicity=toxicity, n_bootstrap=bootstrap, plot=plot
        )
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(result.model_dump_json(indent=2))


@outcomes_app.command("toxicity")
def outcomes_toxicity(
    data: Annotated[Path, typer.Argument(help="Cohort data folder (netlm/cohort-data/v1).")],
    by: Annotated[
        str | None, typer.Option(help="Group the cohort summary (e.g. modality).")
    ] = None,
    ctcae: Annotated[str, typer.Option(help="CTCAE version 5.0 or 6.0.")] = "5.0",
) -> None:
    """CTCAE grades over time, REILD and chronic hepatotoxicity indicators, per cohort."""
    from netlm.workflows.outcomes import toxicity_analysis

    try:
        report = toxicity_analysis(data, by=by, version=ctcae)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(report.model_dump_json(indent=2))


@outcomes_app.command("evidence")
def outcomes_evidence(
    output_format: Annotated[TextJsonFormat, typer.Option("--format", "-f")] = TextJsonFormat.text,
) -> None:
    """The published outcome figures of the seed reviews, with their sources and quotes."""
    from netlm.outcomes.evidence_library import PUBLISHED_OUTCOMES

    if output_format is TextJsonFormat.json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in PUBLISHED_OUTCOMES], indent=2))
        return
    for r in PUBLISHED_OUTCOMES:
        typer.echo(json.dumps(r.model_dump(mode="json"), default=str))
