"""``netlm pacs find|pull|push``: a PACS over DICOMweb (QIDO-RS, WADO-RS, STOW-RS)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from netlm.commands.common import TextJsonFormat, fail, stdout_console
from netlm.errors import InputError, NetlmError

if TYPE_CHECKING:
    from netlm.pacs import PacsConfig

pacs_app = typer.Typer(
    help="Find, pull and push DICOM over DICOMweb (QIDO-RS, WADO-RS, STOW-RS).",
    no_args_is_help=True,
)

# Connection options, shared with ``netlm dose images --pacs``.
Url = Annotated[
    str,
    typer.Option(
        "--url", envvar="NETLM_PACS_URL", help="DICOMweb base URL, e.g. https://pacs/dicom-web."
    ),
]
Token = Annotated[
    str | None,
    typer.Option(envvar="NETLM_PACS_TOKEN", help="Bearer token (or set NETLM_PACS_TOKEN)."),
]
User = Annotated[str | None, typer.Option(help="User name for HTTP basic authentication.")]
Password = Annotated[
    str | None,
    typer.Option(envvar="NETLM_PACS_PASSWORD", help="Password (or set NETLM_PACS_PASSWORD)."),
]
Insecure = Annotated[
    bool, typer.Option("--insecure", help="Do not verify the TLS certificate (test servers only).")
]
CaBundle = Annotated[
    Path | None, typer.Option(help="CA bundle (PEM) to verify the server's TLS certificate.")
]


def pacs_config(
    url: str,
    token: str | None,
    user: str | None,
    password: str | None,
    insecure: bool,
    ca_bundle: Path | None,
) -> PacsConfig:
    """A :class:`netlm.pacs.PacsConfig` from the command-line options."""
    from netlm.pacs import PacsConfig

    if insecure and ca_bundle is not None:
        raise InputError([("insecure", "give --insecure or --ca-bundle, not both")])
    verify: bool | Path = False if insecure else (ca_bundle if ca_bundle is not None else True)
    return PacsConfig(url=url, token=token, username=user, password=password, verify=verify)


@pacs_app.command("find")
def find_command(
    url: Url,
    patient_id: Annotated[str | None, typer.Option(help="Patient ID.")] = None,
    accession: Annotated[str | None, typer.Option(help="Accession number.")] = None,
    study: Annotated[
        str | None, typer.Option(help="Study Instance UID: list the study's series.")
    ] = None,
    modality: Annotated[str | None, typer.Option(help="With --study: only this modality.")] = None,
    token: Token = None,
    user: User = None,
    password: Password = None,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
    output_format: Annotated[TextJsonFormat, typer.Option("--format", "-f")] = TextJsonFormat.text,
) -> None:
    """Find studies by patient ID or accession number, or the series of a study (QIDO-RS)."""
    from netlm.pacs import find_series, find_studies

    try:
        config = pacs_config(url, token, user, password, insecure, ca_bundle)
        if study is not None:
            rows = [asdict(s) for s in find_series(config, study, modality=modality)]
        else:
            if modality is not None:
                raise InputError([("modality", "give --study to list series of a modality")])
            if patient_id is None and accession is None:
                raise InputError([("patient_id", "give --patient-id, --accession or --study")])
            rows = [
                asdict(s)
                for s in find_studies(config, patient_id=patient_id, accession_number=accession)
            ]
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is TextJsonFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} {'series' if study else 'studies'}")
    for column in rows[0] if rows else ():
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    stdout_console(200).print(table)


@pacs_app.command("pull")
def pull_command(
    url: Url,
    study: Annotated[str, typer.Option(help="Study Instance UID.")],
    out: Annotated[Path, typer.Option(help="Folder; one sub-folder per series.")],
    series: Annotated[
        list[str] | None, typer.Option(help="Series Instance UID; repeat. Default: all.")
    ] = None,
    modality: Annotated[str | None, typer.Option(help="Only series of this modality.")] = None,
    token: Token = None,
    user: User = None,
    password: Password = None,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
) -> None:
    """Retrieve series of a study (WADO-RS) into OUT/<Series Instance UID>/."""
    from netlm.pacs import find_series, pull_series

    try:
        config = pacs_config(url, token, user, password, insecure, ca_bundle)
        found = find_series(config, study, modality=modality)
        wanted = set(series or [])
        missing = wanted - {s.series_uid for s in found}
        if missing:
            raise InputError([("series", f"study {study} has no series {sorted(missing)}")])
        chosen = [s for s in found if not wanted or s.series_uid in wanted]
        if not chosen:
            raise InputError([("study", f"study {study} has no series to pull")])
        for s in chosen:
            files = pull_series(config, study, s.series_uid, out / s.series_uid)
            typer.echo(f"{s.series_uid} ({s.modality}): {len(files)} files -> {out / s.series_uid}")
    except NetlmError as exc:
        raise fail(exc) from None


@pacs_app.command("push")
def push_command(
    url: Url,
    paths: Annotated[list[Path], typer.Argument(help="DICOM files or folders of them.")],
    token: Token = None,
    user: User = None,
    password: Password = None,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
) -> None:
    """Send DICOM files (or the DICOM files in the folders given) to the PACS (STOW-RS)."""
    from netlm.imaging.io import _dicom_files, _read_dicom_header
    from netlm.pacs import push_files

    try:
        config = pacs_config(url, token, user, password, insecure, ca_bundle)
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files.extend(f for f in _dicom_files(path) if _read_dicom_header(f) is not None)
            elif path.is_file():
                files.append(path)
            else:
                raise InputError([("paths", f"{path}: no such file or folder")])
        stored = push_files(config, files)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"stored {len(stored)} instances at {url}")


@pacs_app.command("push-pdf")
def push_pdf_command(
    url: Url,
    pdf: Annotated[Path, typer.Argument(help="PDF report (e.g. netlm board --pdf).")],
    study: Annotated[str, typer.Option(help="Study Instance UID the report belongs to.")],
    title: Annotated[str, typer.Option(help="Document Title.")] = "netlm report",
    out: Annotated[
        Path | None, typer.Option(help="Also keep the Encapsulated PDF file here.")
    ] = None,
    token: Token = None,
    user: User = None,
    password: Password = None,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
) -> None:
    """Send a PDF report (board summary, dosimetry) to a study as Encapsulated PDF (STOW-RS)."""
    import tempfile

    from netlm.imaging.pdf import write_encapsulated_pdf
    from netlm.pacs import push_files
    from netlm.pacs.client import study_attributes

    try:
        config = pacs_config(url, token, user, password, insecure, ca_bundle)
        if not pdf.is_file():
            raise InputError([("pdf", f"{pdf}: no such file")])
        attributes = study_attributes(config, study)
        with tempfile.TemporaryDirectory() as folder:
            target = out or Path(folder) / "report-pdf.dcm"
            write_encapsulated_pdf(pdf, target, study=attributes, title=title)
            stored = push_files(config, [target])
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"stored {len(stored)} Encapsulated PDF in study {study} at {url}")
