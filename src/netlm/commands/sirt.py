"""``netlm sirt plan`` and ``netlm sirt decay``: 90Y radioembolization planning.

The plan reader, the planner and the renderers are imported when a command runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from netlm.commands import common
from netlm.commands.assess import rule_profile
from netlm.commands.common import OutputFormat, fail, stdout_console
from netlm.errors import NetlmError, PlanError
from netlm.sirt.physics import Y90_HALF_LIFE_H

sirt_app = typer.Typer(help="90Y radioembolization planning.", no_args_is_help=True)


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
    from netlm.case import load_case
    from netlm.commands.render import render_plan_rich
    from netlm.report.plan import render_plan_markdown
    from netlm.sirt.plan import load_plan
    from netlm.sirt.planner import solve, with_case_history

    try:
        rules = rule_profile(profile)
        plan = load_plan(plan_file)
        if case is not None:
            plan = with_case_history(plan, load_case(case, today=common.today()))
        result = solve(plan, rules)
        if pdf is not None:
            from netlm.report.pdf import plan_pdf

            plan_pdf(result, pdf, plan=plan)
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is OutputFormat.json:
        typer.echo(result.model_dump_json(indent=2))
    elif output_format is OutputFormat.markdown:
        typer.echo(render_plan_markdown(result), nl=False)
    else:
        stdout_console(140).print(render_plan_rich(result))


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
        raise fail(exc) from None
    typer.echo(
        f"{activity_gbq:g} GBq at {t0.isoformat()} -> {result:.4f} GBq at {t1.isoformat()} "
        f"({hours:+.2f} h, factor {result / activity_gbq:.5f}, T1/2 {half_life_h:g} h)"
    )
