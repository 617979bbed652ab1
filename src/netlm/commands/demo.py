"""``netlm demo``: every use case on the bundled examples, written to a folder.

The examples come from :mod:`netlm.examples`; ``--seed-db`` stores them in a
registry with :func:`netlm.workflows.demo.seed_demo`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netlm.commands.common import database_url, stdout_console


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the results into.")
    ] = Path("netlm-demo"),
    seed_db: Annotated[
        str | None,
        typer.Option(
            "--seed-db",
            callback=database_url,
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
    from netlm.case import parse_case
    from netlm.commands.assess import assessment_json
    from netlm.commands.dose import phantom_demo, phantom_dose_pdf
    from netlm.commands.render import render_rich
    from netlm.eligibility import Assessor
    from netlm.examples import bundled_examples
    from netlm.report import response_plots
    from netlm.report.board import render_markdown
    from netlm.report.pdf import board_pdf, plan_pdf
    from netlm.report.plan import render_plan_markdown
    from netlm.report.response_text import render_response_markdown
    from netlm.response.io import parse_response
    from netlm.response.report import assess_response
    from netlm.sirt.plan import parse_plan
    from netlm.sirt.planner import solve

    out.mkdir(parents=True, exist_ok=True)
    assessor = Assessor()
    console = stdout_console(140)
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

    voxel = phantom_demo(out / "voxel-phantom")
    phantom_dose_pdf(out / "voxel-phantom", out / "voxel-phantom" / "voxel-dose.pdf")
    liver = voxel["statistics"]["dvk"]["liver"]["mean_gy"]
    index.append(
        f"| phantom | voxel-phantom/ | voxel dose (LDM and DVK): liver mean {liver:.1f} Gy |"
    )
    (out / "index.md").write_text("\n".join(index) + "\n")
    if seed_db is not None:
        from netlm.store.repository import Store
        from netlm.workflows.demo import seed_demo

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
