"""``netlm dose images``, ``netlm dose register`` and ``netlm workup``: images to dose
and to a plan."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from netlm.commands import pacs as _pacs
from netlm.commands.common import (
    TextJsonFormat,
    check_writable,
    fail,
    kernel_cache_dir,
    spinner,
    stdout_console,
    today,
)
from netlm.errors import InputError, NetlmError, PlanError

dose_app = typer.Typer(help="Voxel dosimetry from images.", no_args_is_help=True)


def _aware_time(name: str, text: str | None) -> dt.datetime | None:
    """An ISO 8601 date-time with a UTC offset from an option; a zone-less time is refused."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError([(name, f"{text!r} is not an ISO 8601 date-time")]) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise InputError(
            [(name, f"{text!r} has no UTC offset; give one, e.g. 2026-03-02T14:30+01:00")]
        )
    return when


@dose_app.command("images")
def dose_images(
    out: Annotated[Path, typer.Option(help="Output folder.")],
    activity: Annotated[
        Path | None,
        typer.Option(help="90Y PET or SPECT (DICOM folder, NIfTI, NRRD); or --pacs and --study."),
    ] = None,
    masks: Annotated[
        list[Path] | None,
        typer.Option(help="Mask files (.seg.nrrd, label map, SEG, RTSTRUCT); repeat."),
    ] = None,
    ct: Annotated[Path | None, typer.Option(help="CT for density (HU -> g/mL).")] = None,
    method: Annotated[str, typer.Option(help="ldm (local deposition) or dvk (kernel).")] = "ldm",
    activity_gbq: Annotated[
        float | None, typer.Option(help="Scale the image to this activity at implant (GBq).")
    ] = None,
    scale_mask: Annotated[
        str | None, typer.Option(help="Scale only the activity inside this mask.")
    ] = None,
    kernel_table: Annotated[
        Path | None, typer.Option(help="Use a Lanconelli-format kernel table instead.")
    ] = None,
    reference_dicom: Annotated[
        Path | None, typer.Option(help="DICOM series the RT Dose refers to (patient, frame).")
    ] = None,
    activity_unit: Annotated[
        str | None,
        typer.Option(
            help="Unit of the activity image when the file does not say "
            "(Bq/mL, kBq/mL, MBq/mL, counts)."
        ),
    ] = None,
    implant_time: Annotated[
        str | None,
        typer.Option(
            help="Implant (administration) time, ISO 8601 with UTC offset; for DICOM it "
            "replaces the file's Radiopharmaceutical Start Date Time."
        ),
    ] = None,
    scan_time: Annotated[
        str | None,
        typer.Option(
            help="NIfTI/NRRD: the time the image's values refer to (its decay-correction "
            "reference), ISO 8601 with UTC offset."
        ),
    ] = None,
    assume_implant_time_reference: Annotated[
        bool,
        typer.Option(
            "--assume-implant-time-reference",
            help="NIfTI/NRRD without times: take the values as the activity at implant "
            "(recorded in the outputs as an assumption).",
        ),
    ] = False,
    dicom_results: Annotated[
        bool,
        typer.Option(
            "--dicom-results",
            help="Also write seg.dcm (VOIs), sr.dcm (TID 1500 statistics) and an Encapsulated "
            "PDF report (DICOM activity only; implied by --push).",
        ),
    ] = False,
    pacs: Annotated[
        str | None,
        typer.Option(help="DICOMweb base URL to pull the series from (with --study)."),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study Instance UID in the PACS.")] = None,
    activity_series: Annotated[
        str | None, typer.Option(help="PACS: the activity series' UID (default: the one PT/NM).")
    ] = None,
    activity_modality: Annotated[
        str | None, typer.Option(help="PACS: the activity series' modality, PT or NM.")
    ] = None,
    ct_series: Annotated[
        str | None, typer.Option(help="PACS: a CT series' UID for the density.")
    ] = None,
    mask_series: Annotated[
        list[str] | None, typer.Option(help="PACS: a SEG/RTSTRUCT series' UID of VOIs; repeat.")
    ] = None,
    push: Annotated[
        bool,
        typer.Option(
            "--push", help="Send RT Dose, SEG, SR and the PDF report to the PACS (STOW-RS)."
        ),
    ] = False,
    pacs_token: _pacs.Token = None,
    pacs_user: _pacs.User = None,
    pacs_password: _pacs.Password = None,
    pacs_insecure: _pacs.Insecure = False,
    pacs_ca_bundle: _pacs.CaBundle = None,
    compress: Annotated[
        bool,
        typer.Option(
            "--compress/--no-compress",
            help="Gzip the dose map (dose.nii.gz, the default) or not (dose.nii: faster, "
            "most for dvk maps, which gzip shrinks by only about 20 %).",
        ),
    ] = True,
    ct_registration: Annotated[
        Path | None,
        typer.Option(
            help="CT in another frame of reference: the confirmed rigid transform "
            "(JSON from 'netlm dose register --confirmed-by'; one that names no one is "
            "used with a warning); without it such a CT is refused."
        ),
    ] = None,
    masks_on_ct: Annotated[
        bool,
        typer.Option(
            "--masks-on-ct",
            help="The masks were drawn on the CT (NIfTI/NRRD masks name no frame): bring "
            "them with the CT's registration. A SEG/RTSTRUCT in the CT's frame is taken so.",
        ),
    ] = False,
    mask_registration: Annotated[
        Path | None,
        typer.Option(
            help="Masks drawn on an image in a third frame of reference: the rigid transform "
            "from 'netlm dose register --fixed ACTIVITY --moving THAT_IMAGE'.",
        ),
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register",
            help="Register a CT in another frame here (rigid, Mattes MI) when no "
            "--ct-registration is given; recorded as not confirmed, with "
            "OUT/registration-ct.png to check.",
        ),
    ] = False,
    output_format: Annotated[TextJsonFormat, typer.Option("--format", "-f")] = TextJsonFormat.text,
    pdf: Annotated[
        Path | None,
        typer.Option(
            "--pdf",
            help="Also write the voxel dosimetry report (statistics, DVH, fused slice) "
            "as a PDF/A-3b.",
        ),
    ] = None,
    patient_id: Annotated[
        str | None, typer.Option("--patient-id", help="Patient id printed on every PDF page.")
    ] = None,
    response: Annotated[
        Path | None,
        typer.Option(
            "--response",
            help="With --dicom-results/--push: the patient's response file "
            "(netlm/response/v1), written (and sent) as response-sr.dcm (TID 1500).",
        ),
    ] = None,
) -> None:
    """Dose maps (NIfTI, RT Dose), per-VOI statistics, BED and EUD (JSON), DVHs (CSV, PNG).

    Doses are those of the implant: the activity is decay-corrected to the
    implant time (DICOM: from its Decay Correction, series and administration
    times; NIfTI/NRRD: from the implant and scan times given), or scaled to the
    activity given at implant.

    With --pacs and --study the activity series (and --ct-series,
    --mask-series) are pulled into OUT/pacs/ first; --push sends the DICOM
    results (RT Dose, SEG, SR, Encapsulated PDF) back to that PACS.
    """
    from netlm.imaging.registration import RigidTransform
    from netlm.workflows.dose import compute_dose

    check_writable(out)
    if pdf is not None:
        check_writable(pdf)
    try:
        if response is not None and not (dicom_results or push):
            raise InputError([("response", "--response needs --dicom-results or --push")])
        from netlm.response.io import load_response

        response_doc = None if response is None else load_response(response, today=today())
        transform = RigidTransform.read(ct_registration) if ct_registration else None
        masks_transform = RigidTransform.read(mask_registration) if mask_registration else None
        implant = _aware_time("implant_time", implant_time)
        scan = _aware_time("scan_time", scan_time)
        config = None
        if pacs is not None or study is not None:
            if pacs is None or study is None:
                raise InputError([("pacs", "give both --pacs URL and --study UID")])
            if activity is not None:
                raise InputError([("activity", "give --activity or --pacs/--study, not both")])
            config = _pacs.pacs_config(
                pacs, pacs_token, pacs_user, pacs_password, pacs_insecure, pacs_ca_bundle
            )
        elif push:
            raise InputError([("push", "--push needs --pacs and --study")])
        elif activity is None:
            raise InputError([("activity", "give --activity, or --pacs and --study")])
        elif activity_series or activity_modality or ct_series or mask_series:
            raise InputError([("pacs", "the --*-series options need --pacs and --study")])
        mask_files: list[Path] = list(masks or [])
        with spinner() as progress:

            def step(text: str) -> None:
                progress.add_task(text, total=None)

            if config is not None:
                from netlm.workflows.pacs import pull_for_dose

                assert study is not None
                step("pulling the series from the PACS")
                pulled = pull_for_dose(
                    config,
                    study,
                    out / "pacs",
                    activity_series=activity_series,
                    activity_modality=activity_modality,
                    ct_series=ct_series,
                    mask_series=tuple(mask_series or ()),
                )
                activity = pulled.activity
                ct = ct if ct is not None else pulled.ct
                mask_files.extend(pulled.masks)
            assert activity is not None
            if not mask_files:
                raise InputError([("masks", "give --masks files or --mask-series")])
            if dicom_results or push:
                from netlm.workflows.dicom_results import check_dicom_activity

                check_dicom_activity(activity, response_doc)  # before any dose is written
            result = compute_dose(
                activity,
                mask_files,
                out,
                ct_path=ct,
                method=method,
                activity_gbq=activity_gbq,
                scale_mask=scale_mask,
                implant_time=implant,
                scan_time=scan,
                assume_implant_time_reference=assume_implant_time_reference,
                kernel_table=kernel_table,
                kernel_cache_dir=kernel_cache_dir(),
                reference_dicom=reference_dicom,
                activity_unit=activity_unit,
                ct_registration=transform,
                masks_on_ct=masks_on_ct,
                mask_registration=masks_transform,
                register=register,
                progress=step,
                compress=compress,
            )
            document = result.document
            sent: list[str] = []
            if dicom_results or push:
                from netlm.workflows.dicom_results import write_dicom_results

                step("writing SEG, SR and the Encapsulated PDF")
                files = write_dicom_results(
                    result,
                    activity,
                    out,
                    response=response_doc,
                )
                if push:
                    from netlm.pacs import push_files

                    assert config is not None
                    step("sending the results to the PACS")
                    sent = push_files(config, files)
            if pdf is not None:
                from netlm.report.pdf import voxel_dose_pdf

                step("writing the voxel dosimetry PDF")
                voxel_dose_pdf(result, pdf, patient_id=patient_id)
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is TextJsonFormat.json:
        typer.echo(json.dumps(document, indent=2))
        return
    table = Table(
        title=f"Absorbed dose ({method.upper()}), {document['total_activity_gbq']:.3f} GBq"
    )
    for col in ("VOI", "mL", "mean Gy", "D70", "D90", "V100 %"):
        table.add_column(col)
    for name, s in document["vois"].items():
        table.add_row(
            name,
            f"{s['volume_ml']:.1f}",
            f"{s['mean_gy']:.1f}",
            f"{s['d70_gy']:.1f}",
            f"{s['d90_gy']:.1f}",
            f"{s['v100_percent']:.1f}",
        )
    stdout_console(120).print(table)
    typer.echo(f"written to {out.resolve()}")
    if sent:
        typer.echo(f"sent {len(sent)} instances to {pacs}")


@dose_app.command("register")
def dose_register(
    fixed: Annotated[Path, typer.Option(help="Reference image: the 90Y PET or SPECT.")],
    moving: Annotated[
        Path,
        typer.Option(
            help="Image in another frame of reference: the CT, another PET/SPECT, or the "
            "image the masks were drawn on."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Transform to write (JSON).")],
    check: Annotated[
        Path | None, typer.Option(help="Fused check image to look at (PNG; default beside --out).")
    ] = None,
    confirmed_by: Annotated[
        str | None, typer.Option(help="Who looked at the check image and confirms it.")
    ] = None,
) -> None:
    """Register an image rigidly onto the activity image (Mattes mutual information).

    Writes the transform for ``netlm dose images --ct-registration`` (a CT) or
    ``--mask-registration`` (the image the masks were drawn on) and a fused
    check image (the moving image resampled through the transform, the fixed
    image in colour on it): look at it before using the transform.
    """
    from netlm.workflows.dose import register_for_dose

    try:
        with spinner() as progress:
            progress.add_task("registering (rigid, Mattes MI)", total=None)
            transform, check = register_for_dose(
                fixed, moving, out, check=check, confirmed_by=confirmed_by
            )
    except NetlmError as exc:
        raise fail(exc) from None
    tx, ty, tz = transform.translation_mm
    rx, ry, rz = (math.degrees(float(v)) for v in transform.rotation_rad)
    typer.echo(
        f"translation {tx:.1f} {ty:.1f} {tz:.1f} mm, rotation {rx:.1f} {ry:.1f} {rz:.1f} deg, "
        f"Mattes MI {transform.metric:.4f}"
    )
    typer.echo(f"check {check.resolve()} before use; transform written to {out.resolve()}")


def workup_command(
    spect: Annotated[
        Path | None, typer.Option(help="99mTc-MAA SPECT (counts); or --pacs and --study.")
    ] = None,
    masks: Annotated[list[Path] | None, typer.Option(help="Mask files; repeat.")] = None,
    liver: Annotated[str, typer.Option(help="Name of the liver mask.")] = "liver",
    tumour: Annotated[list[str] | None, typer.Option(help="Tumour mask names; repeat.")] = None,
    territory: Annotated[
        list[str] | None,
        typer.Option(help="Perfused territory mask NAME[:lobar|segmental|whole_liver]."),
    ] = None,
    lung: Annotated[str | None, typer.Option(help="Name of the lung mask (for LSF).")] = None,
    lsf: Annotated[
        float | None, typer.Option(help="LSF from planar imaging, if no lung VOI.")
    ] = None,
    ct: Annotated[
        Path | None,
        typer.Option(
            help="CT of the SPECT/CT: lung mass by densitovolumetry (resampled onto the SPECT "
            "grid; in another frame of reference only with --ct-registration); the lung limits "
            "are then evaluated at 1 kg and at that mass. Without it the 1 kg convention is "
            "used (the lung VOI volume x 0.30 g/mL is not used for the limits)."
        ),
    ] = None,
    ct_registration: Annotated[
        Path | None,
        typer.Option(
            help="CT in another frame of reference than the SPECT: the confirmed rigid "
            "transform (JSON from 'netlm dose register --fixed SPECT --moving CT')."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="glass or resin.")] = "glass",
    tumour_dose_gy: Annotated[
        float | None, typer.Option(help="Prescribed mean tumour dose.")
    ] = None,
    normal_liver_dose_gy: Annotated[
        float | None, typer.Option(help="Prescribed normal-liver dose.")
    ] = None,
    treatment_start: Annotated[str | None, typer.Option(help="ISO date-time with zone.")] = None,
    out: Annotated[Path, typer.Option(help="Plan file to write (YAML).")] = Path("plan.yaml"),
    profile: Annotated[
        Path | None,
        typer.Option("--profile", "-p", help="Rule profile for the check solve (default: netlm)."),
    ] = None,
    pacs: Annotated[
        str | None, typer.Option(help="DICOMweb base URL to pull the series from (with --study).")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study Instance UID in the PACS.")] = None,
    spect_series: Annotated[
        str | None, typer.Option(help="PACS: the SPECT series' UID (default: the one NM series).")
    ] = None,
    ct_series: Annotated[str | None, typer.Option(help="PACS: a CT series' UID.")] = None,
    mask_series: Annotated[
        list[str] | None, typer.Option(help="PACS: a SEG/RTSTRUCT series' UID of VOIs; repeat.")
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="PACS: folder for the pulled series (default: beside --out)."),
    ] = None,
    pacs_token: _pacs.Token = None,
    pacs_user: _pacs.User = None,
    pacs_password: _pacs.Password = None,
    pacs_insecure: _pacs.Insecure = False,
    pacs_ca_bundle: _pacs.CaBundle = None,
) -> None:
    """MAA SPECT/CT work-up: volumes, lung shunt, T:N -> a radioembolization plan file.

    A lung VOI outside a plausible volume (1-10 L, lungs partly in the field of
    view) is refused.  With --pacs and --study the SPECT (the study's one NM
    series, or --spect-series), --ct-series and --mask-series are pulled into
    --work-dir first.
    """
    from netlm.eligibility.profile import default_profile, load_profile
    from netlm.workflows.workup import plan_from_maa_spect

    try:
        start = dt.datetime.fromisoformat(treatment_start) if treatment_start else None
    except ValueError as exc:
        raise fail(PlanError([("treatment_start", str(exc))])) from None
    try:
        if device not in ("glass", "resin"):
            raise PlanError([("device", f"use glass or resin, not {device!r}")])
        mask_files = list(masks or [])
        if pacs is not None or study is not None:
            from netlm.workflows.pacs import pull_for_dose

            if pacs is None or study is None:
                raise PlanError([("pacs", "give both --pacs URL and --study UID")])
            if spect is not None:
                raise PlanError([("spect", "give --spect or --pacs/--study, not both")])
            config = _pacs.pacs_config(
                pacs, pacs_token, pacs_user, pacs_password, pacs_insecure, pacs_ca_bundle
            )
            pulled = pull_for_dose(
                config,
                study,
                work_dir or out.parent / f"pacs-{study}",
                activity_series=spect_series,
                activity_modality=None if spect_series else "NM",
                ct_series=ct_series,
                mask_series=tuple(mask_series or ()),
            )
            spect, ct = pulled.activity, ct if ct is not None else pulled.ct
            mask_files.extend(pulled.masks)
        elif spect_series or ct_series or mask_series:
            raise PlanError([("pacs", "the --*-series options need --pacs and --study")])
        if spect is None:
            raise PlanError([("spect", "give --spect, or --pacs and --study")])
        if not mask_files:
            raise PlanError([("masks", "give --masks files or --mask-series")])
        territories: dict[str, str | None] = {}
        for spec in territory or []:
            name, _, kind = spec.partition(":")
            territories[name] = kind or None
        made = plan_from_maa_spect(
            spect,
            mask_files,
            liver=liver,
            tumours=tumour or [],
            territories=territories,
            lung=lung,
            lung_shunt_fraction=lsf,
            ct=ct,
            ct_registration=ct_registration,
            device=device,
            tumour_dose_gy=tumour_dose_gy,
            normal_liver_dose_gy=normal_liver_dose_gy,
            treatment_start=start,
            profile=load_profile(profile) if profile is not None else default_profile(),
            out=out,
        )
    except NetlmError as exc:
        raise fail(exc) from None
    result = made.result
    mass = (
        f"{result.lung_mass_convention_kg:g} kg convention"
        if result.lung_mass_kg is None
        else f"larger of {result.lung_mass_convention_kg:g} kg convention and "
        f"{result.lung_mass_basis} {result.lung_mass_kg:.3f} kg"
    )
    typer.echo(
        f"plan written to {out} - {result.injected_activity_gbq:.3f} GBq, lung "
        f"{result.session_lung_dose_gy:.1f} Gy ({mass}); run: netlm sirt plan {out}"
    )
