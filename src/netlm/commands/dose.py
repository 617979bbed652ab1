"""``netlm dose images``, ``netlm workup`` and ``netlm kernel``: images to dose."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from netlm.commands.common import OutputFormat, fail
from netlm.errors import NetlmError, PlanError

dose_app = typer.Typer(help="Voxel dosimetry from images.", no_args_is_help=True)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_masks(paths: list[Path], image: Any) -> dict[str, Any]:
    """Masks from every file, on ``image``'s grid; a label map holding a single label is
    named after its file (``tumour_2.nii.gz`` -> ``tumour_2``)."""
    from netlm.imaging.io import read_masks, resample_to

    found: dict[str, Any] = {}
    for path in paths:
        masks = read_masks(path, reference=image)
        if len(masks) == 1 and not path.name.lower().endswith(".seg.nrrd"):
            masks = {_stem(path): next(iter(masks.values()))}
        for name, mask in masks.items():
            found[name] = mask if mask.same_grid(image) else resample_to(mask, image, kind="label")
    return found


def compute_dose(
    activity_path: Path,
    mask_paths: list[Path],
    out: Path,
    *,
    ct_path: Path | None = None,
    method: str = "ldm",
    activity_gbq: float | None = None,
    scale_mask: str | None = None,
    kernel_table: Path | None = None,
    reference_dicom: Path | None = None,
    activity_unit: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Dose maps, statistics and DVHs from an activity image and masks (the CLI's engine).

    Returns the statistics document that is also written to ``out/dose-statistics.json``.
    """
    from netlm.imaging.io import read_image, resample_to, write_image
    from netlm.imaging.rtdose import write_rt_dose
    from netlm.sirt.physics import Physics
    from netlm.voxel import dose as vd
    from netlm.voxel import dvh

    def step(text: str) -> None:
        if progress is not None:
            progress.add_task(text, total=None)

    physics = Physics()
    step("reading the activity image")
    activity = read_image(activity_path, unit=activity_unit)
    step("reading the masks")
    masks = load_masks(mask_paths, activity)
    if not masks:
        raise PlanError([("masks", "no mask found in the given files")])
    if activity_gbq is not None:
        scale = masks.get(scale_mask) if scale_mask else None
        if scale_mask and scale is None:
            raise PlanError([("scale_mask", f"no mask named {scale_mask!r}; have {sorted(masks)}")])
        activity = vd.scale_to_activity(activity, activity_gbq, mask=scale)
    elif activity.unit not in ("Bq/mL",):
        raise PlanError(
            [
                (
                    "activity_gbq",
                    f"the image is in {activity.unit or 'unknown units'}; give the "
                    "injected activity (--activity-gbq) to scale it",
                )
            ]
        )
    lung = masks.get("lung")
    if ct_path is not None:
        step("density from CT")
        ct = read_image(ct_path)
        ct = ct if ct.same_grid(activity) else resample_to(ct, activity, kind="linear")
        density: Any = vd.density_from_ct(ct)
    else:
        density = (
            vd.uniform_density(activity, lung_mask=lung)
            if lung is not None
            else (physics.tissue_density_g_per_ml)
        )
    step(f"dose by {method.upper()}")
    if method == "ldm":
        dose = vd.dose_ldm(activity, density=density, physics=physics)
        kernel_source = None
    elif method == "dvk":
        from netlm.voxel.kernels import load_lanconelli_table, y90_kernel

        kernel = (
            load_lanconelli_table(kernel_table)
            if kernel_table is not None
            else y90_kernel(activity.spacing_mm, density_g_per_ml=physics.tissue_density_g_per_ml)
        )
        dose = vd.dose_dvk(activity, kernel, physics=physics)
        kernel_source = kernel.source
    else:
        raise PlanError([("method", f"use ldm or dvk, not {method!r}")])
    step("statistics and DVHs")
    out.mkdir(parents=True, exist_ok=True)
    stats = {name: dvh.dose_statistics(dose, m, name=name) for name, m in masks.items()}
    curves = [dvh.dvh_curve(dose, m, label=name) for name, m in masks.items()]
    dvh.write_dvh_csv(curves, out / "dvh.csv")
    dvh.plot_dvh(curves, out / "dvh.png")
    write_image(dose, out / "dose.nii.gz")
    write_rt_dose(
        dose,
        out / "rtdose.dcm",
        reference_dicom=reference_dicom,
        description=f"netlm 90Y absorbed dose ({method.upper()})",
        bits_allocated=16,  # 32-bit RT Dose cannot be checked by Debian's dciodvfy
    )
    document: dict[str, Any] = {
        "method": method,
        "kernel": kernel_source,
        "activity_image": str(activity_path),
        "total_activity_gbq": vd.total_activity_gbq(activity),
        "constants": physics.model_dump(),
        "dose_metadata": {
            k: v for k, v in dose.metadata.items() if isinstance(v, int | float | str)
        },
        "vois": {name: s.model_dump(mode="json") for name, s in stats.items()},
        "outputs": ["dose.nii.gz", "rtdose.dcm", "dvh.csv", "dvh.png", "dose-statistics.json"],
    }
    (out / "dose-statistics.json").write_text(json.dumps(document, indent=2) + "\n")
    return document


@dose_app.command("images")
def dose_images(
    activity: Annotated[Path, typer.Option(help="90Y PET or SPECT (DICOM folder, NIfTI, NRRD).")],
    masks: Annotated[
        list[Path], typer.Option(help="Mask files (.seg.nrrd, label map, SEG, RTSTRUCT); repeat.")
    ],
    out: Annotated[Path, typer.Option(help="Output folder.")],
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
        typer.Option(help="Unit of the activity image when the file does not say (Bq/mL, counts)."),
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.text,
) -> None:
    """Dose maps (NIfTI, RT Dose), per-VOI statistics (JSON), DVHs (CSV, PNG)."""
    try:
        with _progress() as progress:
            document = compute_dose(
                activity,
                masks,
                out,
                ct_path=ct,
                method=method,
                activity_gbq=activity_gbq,
                scale_mask=scale_mask,
                kernel_table=kernel_table,
                reference_dicom=reference_dicom,
                activity_unit=activity_unit,
                progress=progress,
            )
    except NetlmError as exc:
        raise fail(exc) from None
    if output_format is OutputFormat.json:
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
    Console(width=120).print(table)
    typer.echo(f"written to {out.resolve()}")


def kernel_command(
    nuclide: Annotated[str, typer.Argument(help="Y-90")],
    voxel_mm: Annotated[list[float], typer.Option(help="Voxel size: one value or three (i j k).")],
    density: Annotated[float, typer.Option(help="Medium density in g/mL.")] = 1.03,
    histories: Annotated[int | None, typer.Option(help="Monte Carlo histories.")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.text,
) -> None:
    """Compute (or fetch from the cache) a 90Y dose-voxel kernel; print S values and energy."""
    from netlm.voxel.kernels import y90_kernel

    try:
        if nuclide.upper().replace("-", "") not in ("Y90", "90Y"):
            raise PlanError([("nuclide", f"only Y-90 is supported, not {nuclide!r}")])
        if len(voxel_mm) not in (1, 3):
            raise PlanError([("voxel_mm", "give one value or three")])
        size = voxel_mm[0] if len(voxel_mm) == 1 else (voxel_mm[0], voxel_mm[1], voxel_mm[2])
        kwargs: dict[str, Any] = {"density_g_per_ml": density}
        if histories is not None:
            kwargs["histories"] = histories
        with _progress() as progress:
            progress.add_task("computing or loading the kernel", total=None)
            kernel = y90_kernel(size, **kwargs)
    except NetlmError as exc:
        raise fail(exc) from None
    values = kernel.values
    ck, cj, ci = (n // 2 for n in values.shape)
    picks = {
        "S(0,0,0)": values[ck, cj, ci],
        "S(1,0,0)": values[ck, cj, ci + 1],
        "S(1,1,0)": values[ck, cj + 1, ci + 1],
        "S(1,1,1)": values[ck + 1, cj + 1, ci + 1],
        "S(2,0,0)": values[ck, cj, ci + 2],
    }
    s_values = {k: float(v) for k, v in picks.items()}
    fraction = kernel.energy_fraction()
    document: dict[str, Any] = {
        "nuclide": "Y-90",
        "voxel_mm": list(kernel.voxel_mm),
        "density_g_per_ml": density,
        "shape": list(values.shape),
        "unit": "mGy/(MBq s)",
        "source": kernel.source,
        "energy_fraction": fraction,
        "s_values": s_values,
        "metadata": {k: v for k, v in kernel.metadata.items() if isinstance(v, int | float | str)},
    }
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(document, indent=2))
        return
    for key, value in s_values.items():
        typer.echo(f"{key} = {value:.4g} mGy/(MBq·s)")
    typer.echo(
        f"energy deposited inside the kernel: {100 * fraction:.2f} % "
        f"of the mean β energy; shape {document['shape']}; {kernel.source}"
    )


def workup_command(
    spect: Annotated[Path, typer.Option(help="99mTc-MAA SPECT (counts).")],
    masks: Annotated[list[Path], typer.Option(help="Mask files; repeat.")],
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
            help="CT on the SPECT grid: lung mass by densitovolumetry; the lung limits are then "
            "evaluated at 1 kg and at that mass. Without it the 1 kg convention is used (the "
            "lung VOI volume x 0.30 g/mL is not used for the limits)."
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
) -> None:
    """MAA SPECT/CT work-up: volumes, lung shunt, T:N -> a radioembolization plan file.

    A lung VOI outside a plausible volume (1-10 L, lungs partly in the field of
    view) is refused.
    """
    from netlm.eligibility.profile import default_profile, load_profile
    from netlm.imaging.io import read_image
    from netlm.sirt.plan import plan_from_mapping
    from netlm.sirt.planner import solve
    from netlm.voxel.workup import maa_workup, plan_from_workup

    try:
        if device not in ("glass", "resin"):
            raise PlanError([("device", f"use glass or resin, not {device!r}")])
        image = read_image(spect)
        found = load_masks(masks, image)

        def get(name: str) -> Any:
            if name not in found:
                raise PlanError([("masks", f"no mask named {name!r}; have {sorted(found)}")])
            return found[name]

        kinds: dict[str, Any] = {}
        terr: dict[str, Any] = {}
        for spec in territory or []:
            name, _, kind = spec.partition(":")
            terr[name] = get(name)
            if kind:
                kinds[name] = kind
        work = maa_workup(
            image,
            liver=get(liver),
            tumours={t: get(t) for t in tumour or []},
            territories=terr or None,
            territory_kinds=kinds or None,
            lung=get(lung) if lung else None,
            ct=read_image(ct) if ct else None,
            lung_shunt_fraction=lsf,
            lung_shunt_method="planar" if lsf is not None else None,
        )
        rx = {
            k: v
            for k, v in (
                ("tumour_dose_gy", tumour_dose_gy),
                ("normal_liver_dose_gy", normal_liver_dose_gy),
            )
            if v is not None
        }
        if len(rx) != 1:
            raise PlanError(
                [("prescription", "give one of --tumour-dose-gy, --normal-liver-dose-gy")]
            )
        start = dt.datetime.fromisoformat(treatment_start) if treatment_start else None
        document = plan_from_workup(
            work,
            device="resin" if device == "resin" else "glass",
            prescription=rx,
            treatment_start=start,
        )
        rules = load_profile(profile) if profile is not None else default_profile()
        result = solve(plan_from_mapping(document), rules)
    except NetlmError as exc:
        raise fail(exc) from None
    except ValueError as exc:
        raise fail(PlanError([("treatment_start", str(exc))])) from None
    out.write_text(yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False))
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


def phantom_demo(out: Path) -> dict[str, Any]:
    """Voxel dosimetry on the phantom netlm generates itself (used by ``netlm demo``).

    Local deposition and kernel convolution on a liver/tumour/lung phantom with
    known T:N and LSF; writes the dose maps, RT Dose, statistics and DVHs.
    """
    from netlm.imaging.io import write_image
    from netlm.imaging.rtdose import write_rt_dose
    from netlm.sirt.physics import Physics
    from netlm.voxel import dose as vd
    from netlm.voxel import dvh
    from netlm.voxel.kernels import y90_kernel
    from netlm.voxel.phantom import liver_phantom

    physics = Physics()
    phantom = liver_phantom(seed=0)
    out.mkdir(parents=True, exist_ok=True)
    write_image(phantom.activity, out / "activity.nii.gz")
    density = vd.uniform_density(phantom.activity, lung_mask=phantom.masks["lung"])
    ldm = vd.dose_ldm(phantom.activity, density=density, physics=physics)
    kernel = y90_kernel(
        phantom.activity.spacing_mm, density_g_per_ml=physics.tissue_density_g_per_ml
    )
    dvk = vd.dose_dvk(phantom.activity, kernel, physics=physics)
    write_image(ldm, out / "dose-ldm.nii.gz")
    write_image(dvk, out / "dose-dvk.nii.gz")
    write_rt_dose(
        dvk, out / "rtdose-dvk.dcm", description="netlm phantom DVK dose", bits_allocated=16
    )
    vois = {k: v for k, v in phantom.masks.items() if k != "body"}
    stats = {
        method: {
            n: dvh.dose_statistics(d, m, name=n).model_dump(mode="json") for n, m in vois.items()
        }
        for method, d in (("ldm", ldm), ("dvk", dvk))
    }
    curves = [dvh.dvh_curve(dvk, m, label=n) for n, m in vois.items()]
    dvh.write_dvh_csv(curves, out / "dvh-dvk.csv")
    dvh.plot_dvh(curves, out / "dvh-dvk.png")
    document = {
        "phantom_truth": phantom.truth.model_dump(mode="json")
        if hasattr(phantom.truth, "model_dump")
        else str(phantom.truth),
        "statistics": stats,
    }
    (out / "dose-statistics.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    return document
