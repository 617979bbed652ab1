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
from netlm.errors import InputError, NetlmError


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
    # DICOM SR (issue #14): grouped here.
    sr: Annotated[
        Path | None,
        typer.Option(
            "--sr",
            help="Also write the lesion measurements, each criterion's response per time "
            "point and the best overall response as a DICOM SR (TID 1500); one file per "
            "response file, numbered when several are given. Send it with 'netlm pacs push'.",
        ),
    ] = None,
    sr_images: Annotated[
        list[Path] | None,
        typer.Option(
            "--sr-images",
            help="DICOM files or folders of the scans (repeat): referenced by the SR, and "
            "its study is the latest follow-up's. Without them the SR makes a new study "
            "for the file's case.",
        ),
    ] = None,
) -> None:
    """Assess response over time: per time point and criterion, and best overall response."""
    from netlm.commands.render import render_response_rich
    from netlm.report.response_text import render_response_markdown
    from netlm.response.io import load_response
    from netlm.response.report import assess_response

    try:
        docs = [load_response(f, today=common.today()) for f in files]
        reports = [assess_response(d, criteria) for d in docs]
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
        if sr is not None:
            from netlm.imaging.response_sr import read_evidence, write_response_sr

            evidence = read_evidence(sr_images or [])
            for i, (d, r) in enumerate(zip(docs, reports, strict=True), start=1):
                target = sr if len(reports) == 1 else sr.with_stem(f"{sr.stem}-{i}")
                write_response_sr(d, target, report=r, evidence=evidence)
        elif sr_images:
            raise InputError([("sr_images", "--sr-images needs --sr")])
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
