"""``netlm cohort``: task runs over many patients and synthetic cohorts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netlm.commands.common import TextJsonFormat, fail
from netlm.errors import InputError, NetlmError

cohort_app = typer.Typer(help="Cohort runs over many patients (Dask).", no_args_is_help=True)


@cohort_app.command("run")
def cohort_run(
    manifest: Annotated[
        Path, typer.Argument(help="Manifest (netlm/cohort-manifest/v1, YAML or CSV).")
    ],
    task: Annotated[str, typer.Option(help="assess, plan, dose or response.")],
    out: Annotated[Path, typer.Option(help="Results folder (Parquet, CSV, failures).")] = Path(
        "netlm-cohort"
    ),
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address (tcp://host:8786); 'inline' for a plain loop."),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Local workers (default: CPUs).")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Recompute stored failures.")] = False,
    dose_model: Annotated[
        str,
        typer.Option(
            help="dose task: ldm (local deposition) or dvk (90Y kernel convolution; one "
            "kernel per voxel size, computed once and sent to every worker)."
        ),
    ] = "ldm",
    memory_resource: Annotated[
        str | None,
        typer.Option(
            help="Worker resource in bytes (dask worker --resources MEMORY=8e9) each task "
            "claims its expected memory from."
        ),
    ] = None,
    output_format: Annotated[TextJsonFormat, typer.Option("--format", "-f")] = TextJsonFormat.text,
) -> None:
    """Run a task over every patient; failures are reported, never stop the run; re-runs skip
    what is done (by input digest). Exit code 1 when some patients failed."""
    from netlm.cohort.runner import CohortTask, dose_cohort_task, run_cohort

    try:
        if dose_model not in ("ldm", "dvk"):
            raise InputError([("dose_model", f"use ldm or dvk, not {dose_model!r}")])
        if dose_model != "ldm" and task != "dose":
            raise InputError([("dose_model", "applies to the dose task only")])
        the_task: str | CohortTask = (
            dose_cohort_task("dvk") if task == "dose" and dose_model == "dvk" else task
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as progress:
            bar = progress.add_task(f"cohort {task}", total=None)

            def report(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            summary = run_cohort(
                manifest,
                the_task,
                out_dir=out,
                scheduler=scheduler,
                n_workers=workers,
                progress=report,
                retry_failed=retry_failed,
                memory_resource=memory_resource,
            )
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is TextJsonFormat.json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        typer.echo(
            f"{summary.patients} patients: {len(summary.computed)} computed, "
            f"{len(summary.skipped)} skipped (unchanged), {len(summary.not_applicable)} not "
            f"applicable, {summary.succeeded} with results, {len(summary.failures)} failed "
            f"({summary.elapsed_s:.1f} s, {summary.scheduler})"
        )
        for f in summary.failures:
            typer.echo(f"  FAILED {f.patient_id}: {f.error_type}: {f.message}")
        typer.echo(f"results: {summary.results_parquet}, {summary.results_csv}")
    if summary.failures:
        raise typer.Exit(1)


@cohort_app.command("generate")
def cohort_generate(
    out: Annotated[Path, typer.Argument(help="Folder to write the synthetic cohort into.")],
    n: Annotated[int, typer.Option(help="Number of patients.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    threshold_gy: Annotated[float, typer.Option(help="Planted dose-response threshold.")] = 120.0,
    images: Annotated[
        bool, typer.Option(help="Also write small activity images and masks.")
    ] = False,
) -> None:
    """Write a synthetic cohort with known truth: cases, plans, responses, follow-up, manifest."""
    from netlm.cohort.synthetic import generate_cohort

    try:
        cohort = generate_cohort(out, n, seed=seed, threshold_gy=threshold_gy, images=images)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"{n} synthetic patients written to {Path(out).resolve()} ({type(cohort).__name__})")
