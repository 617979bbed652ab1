"""``netlm pacs find|pull|push``: a PACS over DICOMweb (QIDO-RS, WADO-RS, STOW-RS) or DIMSE."""

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
    from types import ModuleType

    from netlm.pacs import PacsConfig
    from netlm.pacs.dimse import DimseConfig

pacs_app = typer.Typer(
    help="Find, pull and push DICOM over DICOMweb (QIDO-RS, WADO-RS, STOW-RS) or DIMSE "
    "(C-FIND, C-MOVE, C-STORE).",
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
    Path | None,
    typer.Option(
        help="CA bundle (PEM) to verify the server's TLS certificate "
        "(REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE are not used).",
    ),
]


# DIMSE options of find, pull and push (C-FIND, C-MOVE, C-STORE with pynetdicom), grouped.
OptionalUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="NETLM_PACS_URL",
        help="DICOMweb base URL, e.g. https://pacs/dicom-web (or --dimse).",
    ),
]
Dimse = Annotated[
    str | None,
    typer.Option(
        "--dimse", help="The PACS's DICOM service as HOST:PORT: DIMSE instead of DICOMweb."
    ),
]
Aet = Annotated[str, typer.Option("--aet", help="DIMSE: netlm's AE title.")]
CalledAet = Annotated[str | None, typer.Option("--called-aet", help="DIMSE: the PACS's AE title.")]
MovePort = Annotated[
    int | None,
    typer.Option(
        "--move-port",
        help="DIMSE pull: the port netlm receives the C-MOVE on; the PACS must know --aet "
        "at this host and port.",
    ),
]


def connection(
    url: str | None,
    dimse: str | None,
    aet: str,
    called_aet: str | None,
    move_port: int | None,
    token: str | None,
    user: str | None,
    password: str | None,
    insecure: bool,
    ca_bundle: Path | None,
) -> PacsConfig | DimseConfig:
    """DICOMweb (``--url``) or DIMSE (``--dimse``) settings from the command-line options."""
    if dimse is None:
        if url is None:
            raise InputError([("url", "give the PACS: --url (DICOMweb) or --dimse (DIMSE)")])
        if called_aet is not None or move_port is not None:
            raise InputError([("dimse", "--called-aet and --move-port need --dimse")])
        return pacs_config(url, token, user, password, insecure, ca_bundle)
    from netlm.pacs.dimse import DimseConfig, parse_address

    if url is not None:
        raise InputError([("dimse", "give --url or --dimse, not both")])
    if token or user or insecure or ca_bundle:
        raise InputError([("dimse", "DIMSE takes no token, user, --insecure or --ca-bundle")])
    if called_aet is None:
        raise InputError([("called_aet", "DIMSE needs the PACS's AE title (--called-aet)")])
    host, port = parse_address(dimse)
    return DimseConfig(host, port, called_aet, calling_aet=aet, move_port=move_port)


def operations(config: PacsConfig | DimseConfig) -> ModuleType:
    """The module whose find/pull/push functions talk to ``config``'s PACS."""
    from netlm.pacs.dimse import DimseConfig

    if isinstance(config, DimseConfig):
        from netlm.pacs import dimse

        return dimse
    from netlm.pacs import client

    return client


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
    url: OptionalUrl = None,
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
    dimse: Dimse = None,
    aet: Aet = "NETLM",
    called_aet: CalledAet = None,
) -> None:
    """Find studies by patient ID or accession number, or the series of a study.

    Over DICOMweb (QIDO-RS) with --url, or DIMSE (C-FIND) with --dimse.
    """
    try:
        config = connection(
            url, dimse, aet, called_aet, None, token, user, password, insecure, ca_bundle
        )
        ops = operations(config)
        if study is not None:
            rows = [asdict(s) for s in ops.find_series(config, study, modality=modality)]
        else:
            if modality is not None:
                raise InputError([("modality", "give --study to list series of a modality")])
            if patient_id is None and accession is None:
                raise InputError([("patient_id", "give --patient-id, --accession or --study")])
            rows = [
                asdict(s)
                for s in ops.find_studies(config, patient_id=patient_id, accession_number=accession)
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
    study: Annotated[str, typer.Option(help="Study Instance UID.")],
    out: Annotated[Path, typer.Option(help="Folder; one sub-folder per series.")],
    url: OptionalUrl = None,
    series: Annotated[
        list[str] | None, typer.Option(help="Series Instance UID; repeat. Default: all.")
    ] = None,
    modality: Annotated[str | None, typer.Option(help="Only series of this modality.")] = None,
    token: Token = None,
    user: User = None,
    password: Password = None,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
    dimse: Dimse = None,
    aet: Aet = "NETLM",
    called_aet: CalledAet = None,
    move_port: MovePort = None,
) -> None:
    """Retrieve series of a study into OUT/<Series Instance UID>/.

    Over DICOMweb (WADO-RS) with --url, or DIMSE (C-FIND, then C-MOVE to
    netlm's own Storage SCP on --move-port) with --dimse.
    """
    try:
        config = connection(
            url, dimse, aet, called_aet, move_port, token, user, password, insecure, ca_bundle
        )
        ops = operations(config)
        found = ops.find_series(config, study, modality=modality)
        wanted = set(series or [])
        missing = wanted - {s.series_uid for s in found}
        if missing:
            raise InputError([("series", f"study {study} has no series {sorted(missing)}")])
        chosen = [s for s in found if not wanted or s.series_uid in wanted]
        if not chosen:
            raise InputError([("study", f"study {study} has no series to pull")])
        for s in chosen:
            files = ops.pull_series(config, study, s.series_uid, out / s.series_uid)
            typer.echo(f"{s.series_uid} ({s.modality}): {len(files)} files -> {out / s.series_uid}")
    except NetlmError as exc:
        raise fail(exc) from None


@pacs_app.command("push")
def push_command(
    paths: Annotated[list[Path], typer.Argument(help="DICOM files or folders of them.")],
    url: OptionalUrl = None,
    token: Token = None,
    user: User = None,
    password: Password = None,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
    dimse: Dimse = None,
    aet: Aet = "NETLM",
    called_aet: CalledAet = None,
) -> None:
    """Send DICOM files (or the DICOM files in the folders given) to the PACS.

    Over DICOMweb (STOW-RS) with --url, or DIMSE (C-STORE) with --dimse.
    """
    from netlm.imaging.io import dicom_files

    try:
        config = connection(
            url, dimse, aet, called_aet, None, token, user, password, insecure, ca_bundle
        )
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files.extend(dicom_files(path))
            elif path.is_file():
                files.append(path)
            else:
                raise InputError([("paths", f"{path}: no such file or folder")])
        stored = operations(config).push_files(config, files)
    except NetlmError as exc:
        raise fail(exc) from None
    typer.echo(f"stored {len(stored)} instances at {url or dimse}")


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
