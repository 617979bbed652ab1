"""``netlm assess`` and ``netlm rules``: tumour-board verdicts and the rules behind them.

The case reader, the rule engine and the board renderers are imported when a
command runs, so that ``netlm --help`` and ``netlm --version`` do not load them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netlm.commands import common
from netlm.commands.common import OutputFormat, fail
from netlm.errors import NetlmError

if TYPE_CHECKING:
    from netlm.eligibility import Assessment, RuleProfile


def rule_profile(path: Path | None) -> RuleProfile:
    """The rule profile in ``path``, or netlm's own (parsed once per process) without one."""
    from netlm.eligibility import default_profile, load_profile

    return load_profile(path) if path is not None else default_profile()


def assessment_json(a: Assessment) -> str:
    """The JSON output contract of ``netlm assess --format json``."""
    return a.to_json()


def assess_command(
    case: Annotated[
        Path,
        typer.Argument(help="Case file (netlm/case/v1, YAML or JSON); '-' reads stdin."),
    ],
    profile: Annotated[
        Path | None,
        typer.Option("--profile", "-p", help="Rule profile file (default: netlm's own)."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = OutputFormat.text,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also write the board summary as a PDF.")
    ] = None,
) -> None:
    """Assess a case for every liver-directed treatment: verdicts, reasons, sources, work-up.

    Unrecorded findings (biliary dilatation, contrast allergy...) are
    assumed absent, listed with each option and in the work-up to confirm;
    missing data (labs, Ki-67, ECOG...) give needs_information.
    A profile with missing_findings: ask asks for every finding instead.
    Duplicate keys, YAML tags, alias bombs, deep nesting, files over 4 MiB and
    non-UTF-8 text are refused (exit code 2), as are dates after today's date.
    Likely unit mix-ups (bilirubin umol/L vs mg/dL, albumin g/L vs g/dL) are
    shown as warnings under "Check these values".
    """
    from netlm.case import load_case, parse_case
    from netlm.commands.render import render_rich
    from netlm.documents import read_stream
    from netlm.eligibility import Assessor
    from netlm.errors import CaseError
    from netlm.report.board import render_markdown

    try:
        if str(case) == "-":
            stdin = read_stream(typer.get_binary_stream("stdin"), error=CaseError)
            parsed = parse_case(stdin, today=common.today())
        else:
            parsed = load_case(case, today=common.today())
        result = Assessor(rule_profile(profile)).assess(parsed)
        if pdf is not None:
            from netlm.report.pdf import board_pdf

            board_pdf(result, pdf, case=parsed)
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is OutputFormat.json:
        typer.echo(assessment_json(result))
    elif output_format is OutputFormat.markdown:
        typer.echo(render_markdown(result), nl=False)
    else:
        common.stdout_console(140).print(render_rich(result))


def rules_command(
    profile: Annotated[
        Path | None,
        typer.Option("--profile", "-p", help="Show parameter values from this profile."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = OutputFormat.text,
) -> None:
    """List every rule with its modalities, effect, parameters and sources."""
    from rich.table import Table

    from netlm.eligibility import Assessor
    from netlm.evidence import get_source

    try:
        prof = rule_profile(profile)
    except NetlmError as exc:
        raise fail(exc) from None
    assessor = Assessor(prof)
    records = [
        {
            "id": r.id,
            "modalities": [m.value for m in r.modalities],
            "effect": r.effect.value,
            "summary": r.summary,
            "parameters": {name: prof.value(name) for name in r.parameters},
            "sources": [
                get_source(s).model_dump(mode="json") | {"citation": get_source(s).cite()}
                for s in r.all_source_ids
            ],
        }
        for r in assessor.rules
    ]
    if output_format is OutputFormat.json:
        typer.echo(json.dumps({"profile": prof.id, "rules": records}, indent=2))
        return
    if output_format is OutputFormat.markdown:
        lines = ["| rule | modalities | effect | parameters | sources |", "|---|---|---|---|---|"]
        for r in assessor.rules:
            params = ", ".join(f"{n}={prof.value(n)}" for n in r.parameters)
            cites = "<br>".join(get_source(s).cite() for s in r.all_source_ids)
            mods = ", ".join(m.value for m in r.modalities)
            lines.append(
                f"| `{r.id}` {r.summary} | {mods} | {r.effect.value} | {params} | {cites} |"
            )
        typer.echo("\n".join(lines))
        return
    table = Table(title=f"netlm rules ({len(records)}), profile {prof.id}", show_lines=True)
    for col in ("rule", "modalities", "effect", "parameters", "sources"):
        table.add_column(col)
    for r in assessor.rules:
        table.add_row(
            f"{r.id}\n{r.summary}",
            "\n".join(m.value for m in r.modalities),
            r.effect.value,
            "\n".join(f"{n} = {prof.value(n)}" for n in r.parameters),
            "\n".join(get_source(s).cite() for s in r.all_source_ids),
        )
    common.stdout_console(180).print(table)
