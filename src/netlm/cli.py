"""The ``netlm`` command line: a thin layer over the Python API.

Exit codes: 0 success; 2 bad input (the message on stderr names the field);
1 anything else.  Bad input never produces a traceback.  Every document is read
by :mod:`netlm.documents` (duplicate keys, YAML tags, alias bombs, deep nesting,
oversized and non-UTF-8 files are refused); dates in a case file may not be
after today's date.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from netlm import __version__
from netlm.case import load_case, parse_case
from netlm.commands import common as _common
from netlm.documents import read_stream
from netlm.eligibility import Assessment, Assessor, RuleProfile, default_profile, load_profile
from netlm.errors import CaseError, NetlmError
from netlm.evidence import get_source
from netlm.report.board import render_markdown, render_rich
from netlm.sirt.physics import Y90_HALF_LIFE_H

app = typer.Typer(
    name="netlm",
    help="netlm: planning and follow-up of liver-directed therapy for neuroendocrine "
    "tumour liver metastases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = _common.EXIT_BAD_INPUT
OutputFormat = _common.OutputFormat
_fail = _common.fail
_stderr = _common.stderr_console


def _profile(path: Path | None) -> RuleProfile:
    return load_profile(path) if path is not None else default_profile()


def assessment_json(a: Assessment) -> str:
    """The JSON output contract of ``netlm assess --format json``."""
    return a.model_dump_json(by_alias=True, indent=2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netlm {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """netlm: liver-directed therapy of NET liver metastases."""


@app.command()
def assess(
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
    try:
        if str(case) == "-":
            stdin = read_stream(typer.get_binary_stream("stdin"), error=CaseError)
            parsed = parse_case(stdin, today=_common.today())
        else:
            parsed = load_case(case, today=_common.today())
        result = Assessor(_profile(profile)).assess(parsed)
        if pdf is not None:
            from netlm.report.pdf import board_pdf

            board_pdf(result, pdf, case=parsed)
    except NetlmError as exc:
        raise _fail(exc) from None
    if output_format is OutputFormat.json:
        typer.echo(assessment_json(result))
    elif output_format is OutputFormat.markdown:
        typer.echo(render_markdown(result), nl=False)
    else:
        Console(width=140).print(render_rich(result))


@app.command()
def rules(
    profile: Annotated[
        Path | None,
        typer.Option("--profile", "-p", help="Show parameter values from this profile."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = OutputFormat.text,
) -> None:
    """List every rule with its modalities, effect, parameters and sources."""
    try:
        prof = _profile(profile)
    except NetlmError as exc:
        raise _fail(exc) from None
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
    Console(width=180).print(table)


sirt_app = typer.Typer(help="90Y radioembolization planning.", no_args_is_help=True)
app.add_typer(sirt_app, name="sirt")


@sirt_app.command("plan")
def sirt_plan(
    plan_file: Annotated[
        Path, typer.Argument(help="Plan file (netlm/sirt-plan/v1, YAML or JSON).")
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = OutputFormat.text,
    case: Annotated[
        Path | None,
        typer.Option(
            "--case",
            help="Case file whose history (prior TARE sessions, PRRT cycles, prior lung dose) "
            "adds to the plan's cumulative doses; a lung shunt fraction that differs from the "
            "plan's is warned about.",
        ),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            "-p",
            help="Rule profile file (default: netlm's own): lung limits, resin LSF tiers, dose "
            "constant and lung-mass convention, the same numbers `netlm assess` reads.",
        ),
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also write the dosimetry report as a PDF.")
    ] = None,
) -> None:
    """Solve a radioembolization plan: activity, doses, checks, vial order.

    A plan that breaks a hard limit (lung 30/50 Gy, resin LSF > 20 %; the
    profile's values) is refused (exit code 2) unless the plan carries
    `override: {reason, approved_by}`. The lung limits are evaluated at the 1 kg
    convention and also at a CT or stated `lung_mass_kg`. A prior TARE session
    without a lung dose is refused, not counted as 0 Gy. Overriding the resin LSF
    limit needs `prescription: {activity_gbq: ...}`.
    """
    from netlm.report.plan import render_plan_markdown, render_plan_rich
    from netlm.sirt.plan import load_plan
    from netlm.sirt.planner import solve, with_case_history

    try:
        rules = _profile(profile)
        plan = load_plan(plan_file)
        if case is not None:
            plan = with_case_history(plan, load_case(case, today=_common.today()))
        result = solve(plan, rules)
        if pdf is not None:
            from netlm.report.pdf import plan_pdf

            plan_pdf(result, pdf, plan=plan)
    except NetlmError as exc:
        raise _fail(exc) from None
    if output_format is OutputFormat.json:
        typer.echo(result.model_dump_json(indent=2))
    elif output_format is OutputFormat.markdown:
        typer.echo(render_plan_markdown(result), nl=False)
    else:
        Console(width=140).print(render_plan_rich(result))


@sirt_app.command("decay")
def sirt_decay(
    activity_gbq: Annotated[float, typer.Argument(help="Activity at the reference time (GBq).")],
    reference: Annotated[str, typer.Argument(help="Reference time, ISO 8601 with time zone.")],
    when: Annotated[str, typer.Argument(help="Time to decay to (or back to), ISO 8601 with zone.")],
    half_life_h: Annotated[
        float, typer.Option(help="90Y half-life in hours (default: the Physics constant).")
    ] = Y90_HALF_LIFE_H,
) -> None:
    """Decay arithmetic: the activity at WHEN of ACTIVITY_GBQ at REFERENCE (either direction)."""
    import datetime as dt

    from netlm.errors import PlanError
    from netlm.sirt.physics import activity_at, hours_between

    try:
        try:
            t0, t1 = dt.datetime.fromisoformat(reference), dt.datetime.fromisoformat(when)
        except ValueError as exc:
            raise PlanError([("time", f"not an ISO 8601 date-time: {exc}")]) from None
        if activity_gbq <= 0:
            raise PlanError([("activity_gbq", "must be > 0")])
        result = activity_at(activity_gbq, t0, t1, half_life_h)
        hours = hours_between(t0, t1)
    except NetlmError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"{activity_gbq:g} GBq at {t0.isoformat()} -> {result:.4f} GBq at {t1.isoformat()} "
        f"({hours:+.2f} h, factor {result / activity_gbq:.5f}, T1/2 {half_life_h:g} h)"
    )


@app.command()
def response(
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
        reports = [
            assess_response(load_response(f, today=_common.today()), criteria) for f in files
        ]
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
        raise _fail(exc) from None
    if output_format is OutputFormat.json:
        payload = [r.model_dump(mode="json") for r in reports]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    elif output_format is OutputFormat.markdown:
        typer.echo("\n".join(render_response_markdown(r) for r in reports), nl=False)
    else:
        console = Console(width=160)
        for r in reports:
            console.print(render_response_rich(r))


from netlm.commands import dose as _dose_commands  # noqa: E402 - after the root app

app.add_typer(_dose_commands.dose_app, name="dose")
app.command("kernel", cls=_common.VoxelSizeCommand)(_dose_commands.kernel_command)
app.command("workup")(_dose_commands.workup_command)

from netlm.commands import cohort as _cohort_commands  # noqa: E402 - after the root app

app.add_typer(_cohort_commands.cohort_app, name="cohort")
app.add_typer(_cohort_commands.outcomes_app, name="outcomes")

from netlm.commands import store as _store_commands  # noqa: E402 - after the root app

app.add_typer(_store_commands.db_app, name="db")
app.command("import")(_store_commands.import_command)

from netlm.commands import fhir as _fhir_commands  # noqa: E402 - after the root app

app.add_typer(_fhir_commands.fhir_app, name="fhir")

from netlm.commands.users import users_app  # noqa: E402 - after the root app

app.add_typer(users_app, name="users")

from netlm.commands.pacs import pacs_app  # noqa: E402 - after the root app

app.add_typer(pacs_app, name="pacs")

from netlm.commands.serve import serve_command  # noqa: E402 - after the root app

app.command("serve")(serve_command)


def bundled_examples(prefix: str = "case-") -> list[tuple[str, str]]:
    """(file name, text) of the example files shipped inside the package."""
    folder = resources.files("netlm").joinpath("examples")
    return sorted(
        (item.name, item.read_text(encoding="utf-8"))
        for item in folder.iterdir()
        if item.name.startswith(prefix) and item.name.endswith(".yaml")
    )


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the results into.")
    ] = Path("netlm-demo"),
    seed_db: Annotated[
        str | None,
        typer.Option(
            "--seed-db",
            help="Also seed this registry (URL or SQLite file) with the example patients, "
            "for `netlm serve --db ...`.",
        ),
    ] = None,
) -> None:
    """Assess the bundled example cases, solve the bundled radioembolization plans,
    assess the bundled response files (with waterfall and spider plots), compute voxel
    doses on a phantom netlm generates itself, and write the results to a folder:
    JSON and Markdown, the board and dosimetry PDFs of every example and a voxel-dose
    PDF of the phantom (PDF/A-3b, draft until signed).  Ends with how to open the web
    application on the demo patients."""
    from netlm.report.pdf import board_pdf, plan_pdf

    out.mkdir(parents=True, exist_ok=True)
    assessor = Assessor()
    console = Console(width=140)
    index = ["# netlm demo", "", "| case | file | verdicts |", "|---|---|---|"]
    for name, text in bundled_examples():
        case = parse_case(text)
        result = assessor.assess(case)
        stem = Path(name).stem
        (out / f"{stem}.assessment.json").write_text(assessment_json(result) + "\n")
        (out / f"{stem}.assessment.md").write_text(render_markdown(result))
        board_pdf(result, out / f"{stem}.board.pdf", case=case)
        counts: dict[str, int] = {}
        for o in result.options:
            counts[o.verdict.value] = counts.get(o.verdict.value, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        index.append(f"| {result.case_id} | {name} | {summary} |")
        console.print(render_rich(result, all_findings=False))
    from netlm.report.plan import render_plan_markdown
    from netlm.sirt.plan import parse_plan
    from netlm.sirt.planner import solve

    for name, text in bundled_examples("plan-"):
        plan = parse_plan(text)
        plan_result = solve(plan)
        stem = Path(name).stem
        (out / f"{stem}.json").write_text(plan_result.model_dump_json(indent=2) + "\n")
        (out / f"{stem}.md").write_text(render_plan_markdown(plan_result))
        plan_pdf(plan_result, out / f"{stem}.pdf", plan=plan)
        index.append(
            f"| {plan_result.case or '-'} | {name} | radioembolization plan: "
            f"{plan_result.injected_activity_gbq:.2f} GBq injected |"
        )
    from netlm.report import response_plots
    from netlm.report.response_text import render_response_markdown
    from netlm.response.io import parse_response
    from netlm.response.report import assess_response

    reports = []
    for name, text in bundled_examples("response-"):
        report = assess_response(parse_response(text))
        reports.append(report)
        stem = Path(name).stem
        (out / f"{stem}.json").write_text(report.model_dump_json(indent=2) + "\n")
        (out / f"{stem}.md").write_text(render_response_markdown(report))
        best = report.results[0].best_overall.response.value
        index.append(f"| {report.case or '-'} | {name} | response: best overall {best} |")
    if reports:
        response_plots.waterfall(reports, out / "response-waterfall.png")
        response_plots.spider(reports, out / "response-spider.png")
    from netlm.commands.dose import phantom_demo, phantom_dose_pdf

    voxel = phantom_demo(out / "voxel-phantom")
    phantom_dose_pdf(out / "voxel-phantom", out / "voxel-phantom" / "voxel-dose.pdf")
    liver = voxel["statistics"]["dvk"]["liver"]["mean_gy"]
    index.append(
        f"| phantom | voxel-phantom/ | voxel dose (LDM and DVK): liver mean {liver:.1f} Gy |"
    )
    (out / "index.md").write_text("\n".join(index) + "\n")
    if seed_db is not None:
        from netlm.commands.serve import seed_demo
        from netlm.store.repository import Store

        with Store(seed_db) as store:
            seed_demo(store)
        console.print(f"[bold]netlm demo:[/] registry {seed_db} seeded with the example patients")
    console.print(f"[bold]netlm demo:[/] results written to {out.resolve()}")
    db = seed_db if seed_db is not None else str(out.resolve() / "registry.sqlite")
    console.print(
        "[bold]netlm demo:[/] to open the web application on the demo patients, run\n"
        f"  NETLM_ADMIN_PASSWORD='choose-a-password' netlm serve --db {db} --demo "
        "--create-admin admin\n"
        "and open http://127.0.0.1:8000/ as user admin with that password "
        "(--demo seeds the example patients; the admin is created once).",
        markup=True,
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (testable without a subprocess)."""
    try:
        result = app(
            args=list(argv) if argv is not None else None,
            prog_name="netlm",
            standalone_mode=False,
        )
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        _stderr().print("aborted")
        return 1
    except TyperException as exc:  # usage errors: unknown option, bad choice, ...
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:  # pragma: no cover - every usage error typer raises can show itself
            _stderr().print(str(exc), markup=False)
        return EXIT_BAD_INPUT
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
