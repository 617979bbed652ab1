"""``netlm response``: response over time by RECIST 1.1, mRECIST, WHO, EASL, Choi and PERCIST.

The response reader, the criteria and the plots are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from netlm.commands import common
from netlm.commands.common import OutputFormat, fail, stdout_console
from netlm.errors import NetlmError


def response_command(
    files: Annotated[
        list[Path], typer.Argument(help="Response files (netlm/response/v1, YAML or JSON).")
    ],
    criteria: Annotated[
        list[str] | None,
        typer.Option(
            "--criteria",
            "-c",
            help="Criteria to apply (repeat): recist1.1, mrecist, who, easl, choi, mchoi, "
            "percist1.0. Default: those the file names.",
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = OutputFormat.text,
    waterfall: Annotated[
        Path | None, typer.Option(help="Write a waterfall plot of all files (.png or .svg).")
    ] = None,
    spider: Annotated[
        Path | None, typer.Option(help="Write a spider plot of all files (.png or .svg).")
    ] = None,
    plot_criterion: Annotated[str, typer.Option(help="Criterion the plots show.")] = "recist1.1",
    pdf: Annotated[
        Path | None,
        typer.Option(
            "--pdf",
            help="Also write the response report (tables, best response, waterfall and "
            "spider) as a PDF/A-3b; one file per response file, the file name numbered "
            "when several are given.",
        ),
    ] = None,
) -> None:
    """Assess response over time: per time point and criterion, and best overall response."""
    from netlm.report.response_text import render_response_markdown, render_response_rich
    from netlm.response.io import load_response
    from netlm.response.report import assess_response

    try:
        reports = [assess_response(load_response(f, today=common.today()), criteria) for f in files]
        if waterfall is not None or spider is not None:
            from netlm.report import response_plots

            plotted = [r for r in reports if any(x.criterion == plot_criterion for x in r.results)]
            if waterfall is not None:
                response_plots.waterfall(plotted or reports, waterfall, criterion=plot_criterion)
            if spider is not None:
                response_plots.spider(plotted or reports, spider, criterion=plot_criterion)
        if pdf is not None:
            from netlm.report.pdf import response_pdf

            for i, r in enumerate(reports, start=1):
                target = pdf if len(reports) == 1 else pdf.with_stem(f"{pdf.stem}-{i}")
                response_pdf(r, target)
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is OutputFormat.json:
        payload = [r.model_dump(mode="json") for r in reports]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    elif output_format is OutputFormat.markdown:
        typer.echo("\n".join(render_response_markdown(r) for r in reports), nl=False)
    else:
        console = stdout_console(160)
        for r in reports:
            console.print(render_response_rich(r))
