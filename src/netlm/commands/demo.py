"""``netlm demo``: every use case on the bundled examples, written to a folder.

The work is :func:`netlm.workflows.demo.write_demo`; ``--seed-db`` stores the
examples in a registry with :func:`netlm.workflows.demo.seed_demo`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from netlm.commands.common import database_url, kernel_cache_dir, stdout_console


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
    from netlm.commands.render import render_rich
    from netlm.workflows.demo import write_demo

    console = stdout_console(140)
    run = write_demo(out, kernel_cache_dir=kernel_cache_dir())
    for result in run.assessments:
        console.print(render_rich(result, all_findings=False))
    if seed_db is not None:
        from netlm.store.repository import Store
        from netlm.workflows.demo import seed_demo

        with Store(seed_db) as store:
            seed_demo(store)
        console.print(f"[bold]netlm demo:[/] registry {seed_db} seeded with the example patients")
    console.print(f"[bold]netlm demo:[/] results written to {out.resolve()}")
    db = seed_db if seed_db is not None else str(out.resolve() / "registry.sqlite")
    console.print("[bold]netlm demo:[/] to open the web application on the demo patients, run")
    console.print(  # one line, never wrapped: it is meant to be copied
        f"  NETLM_ADMIN_PASSWORD='choose-a-password' netlm serve --db {shlex.quote(db)} --demo "
        "--create-admin admin",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "and open http://127.0.0.1:8000/ as user admin with that password "
        "(--demo seeds the example patients; the admin is created once).",
        highlight=False,
    )
