"""``netlm fhir export`` and ``netlm fhir import``: FHIR R4 for the record.

``export`` writes a patient as an mCODE R4 Bundle (:mod:`netlm.fhir`), from the
registry (``PATIENT_ID``, ``--db``; the export is written to the audit log) or
from a case file (``--case``, assessed with the rule profile; ``--plan`` files
are solved and summarised as planned radioembolization sessions).  ``import``
fills a case's laboratory values and observations from a Bundle and writes the
new case file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from netlm.case import load_case
from netlm.commands.common import (
    ActorOption,
    DbOption,
    TextJsonFormat,
    actor_name,
    fail,
    registry_number,
    stderr_console,
    write_atomically,
    write_or_print,
)
from netlm.errors import InputError, NetlmError

fhir_app = typer.Typer(
    help="FHIR R4 for the record: a patient as an mCODE Bundle, labs from a Bundle.",
    no_args_is_help=True,
)


@fhir_app.command("export")
def export_command(
    patient_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[PATIENT_ID]",
            help="The patient's registry id (a number); with --external, the centre's id. "
            "Leave out with --case.",
        ),
    ] = None,
    case: Annotated[
        Path | None,
        typer.Option("--case", help="Export this case file instead of a registry patient."),
    ] = None,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            help="With --case: a SIRT plan file to solve and summarise as a planned session "
            "(repeatable).",
        ),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option("--profile", "-p", help="With --case: rule profile (default: netlm's own)."),
    ] = None,
    external: Annotated[
        bool, typer.Option("--external", help="PATIENT_ID is the centre's patient id.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the Bundle here (default: stdout).")
    ] = None,
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    """Write a patient as a FHIR R4 Bundle (mCODE).

    The Bundle holds the patient, the primary and secondary cancer conditions, grade,
    Ki-67, ECOG, tumour burden and labs (LOINC), the liver-directed procedures, the
    planned radioembolization doses (status preparation) and the board assessment
    with each option's verdict and rank.  A registry export is audited.
    """
    from netlm.fhir import bundle_json

    try:
        if (patient_id is None) == (case is None):
            raise InputError([("PATIENT_ID", "give a registry PATIENT_ID or --case, not both")])
        if case is not None:
            from netlm.eligibility import load_profile
            from netlm.workflows.fhir import case_and_plans_bundle

            parsed = load_case(case)
            rules = load_profile(profile) if profile is not None else None
            bundle = case_and_plans_bundle(parsed, plan or (), profile=rules)
            what = f"case {parsed.patient.id}"
        else:
            assert patient_id is not None
            if plan or profile is not None:
                raise InputError(
                    [("--plan", "--plan and --profile go with --case (the registry has its own)")]
                )
            number = registry_number(patient_id, external=external)
            from netlm.store import Store
            from netlm.workflows.fhir import export_patient_bundle

            with Store(db, upgrade=False) as store:
                pid = store.find_patient(patient_id).id if number is None else number
                bundle = export_patient_bundle(store, pid, actor=actor_name(actor))
            what = f"patient {pid}"
        text = bundle_json(bundle) + "\n"
        write_or_print(out, text)
    except NetlmError as exc:
        raise fail(exc) from None
    if out is not None:
        typer.echo(
            f"{what}: FHIR Bundle with {len(bundle.entry or [])} resources in {out}", err=True
        )


@fhir_app.command("import")
def import_command(
    bundle: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON).")],
    case: Annotated[Path, typer.Option("--case", help="The case file to fill.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the filled case here (YAML).")],
    output_format: Annotated[
        TextJsonFormat, typer.Option("--format", "-f", help="Report as text or json.")
    ] = TextJsonFormat.text,
) -> None:
    """Fill a case's labs and observations (ECOG, Ki-67, mitoses) from a FHIR Bundle.

    The Bundle must be about the case's patient (a Patient identifier equal to
    patient.id).  Units are converted as for case files; an unknown code or unit
    is refused naming the resource and field.  The result is validated as a case.
    """
    from netlm.fhir import import_bundle, load_bundle

    try:
        result = import_bundle(load_bundle(bundle), load_case(case))
        document = result.case.model_dump(mode="json", by_alias=True, exclude_none=True)
        write_atomically(out, yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is TextJsonFormat.json:
        report = {
            "out": str(out),
            "filled": [{"field": f, "source": r} for f, r in result.filled],
            "skipped": list(result.skipped),
            "warnings": list(result.warnings),
        }
        typer.echo(json.dumps(report, indent=2))
        return
    console = stderr_console()
    console.print(f"{len(result.filled)} value(s) from {bundle} written to {out}", markup=False)
    for field, source in result.filled:
        console.print(f"  {field} <- {source}", markup=False)
    for line in result.warnings:
        console.print(f"[yellow]warning:[/] {line}")
    for line in result.skipped:
        console.print(f"  skipped {line}", markup=False)
