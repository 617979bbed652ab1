"""``netlm kernel``: a 90Y dose-voxel kernel, computed or fetched from the cache."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from netlm.commands.common import (
    TextJsonFormat,
    fail,
    kernel_cache_dir,
    spinner,
    voxel_triplet,
)
from netlm.errors import NetlmError
from netlm.sirt.physics import TISSUE_DENSITY_G_PER_ML


def kernel_command(
    nuclide: Annotated[str, typer.Argument(help="Y-90")],
    voxel_mm: Annotated[
        list[float],
        typer.Option(help="Voxel size in mm: one value, or three (i j k): --voxel-mm 2 3 4."),
    ],
    density: Annotated[
        float, typer.Option(help="Medium density in g/mL (liver and tumour tissue).")
    ] = TISSUE_DENSITY_G_PER_ML,
    histories: Annotated[int | None, typer.Option(help="Monte Carlo histories.")] = None,
    output_format: Annotated[TextJsonFormat, typer.Option("--format", "-f")] = TextJsonFormat.text,
) -> None:
    """Compute (or fetch from the cache) a 90Y dose-voxel kernel; print S values and energy.

    The cache is ``$XDG_CACHE_HOME/netlm/kernels`` (``~/.cache/netlm/kernels``).
    """
    from netlm.voxel.kernels import KernelError, y90_kernel

    try:
        if nuclide.upper().replace("-", "") not in ("Y90", "90Y"):
            raise KernelError(
                f"Argument 'nuclide' must be Y-90 (the one supported), not {nuclide!r}"
            )
        size = voxel_triplet(voxel_mm)
        kwargs: dict[str, Any] = {"density_g_per_ml": density, "cache_dir": kernel_cache_dir()}
        if histories is not None:
            kwargs["histories"] = histories
        with spinner() as progress:
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
        "escaped_bremsstrahlung_fraction": kernel.escaped_bremsstrahlung_fraction,
        "s_values": s_values,
        "metadata": {k: v for k, v in kernel.metadata.items() if isinstance(v, int | float | str)},
    }
    if output_format is TextJsonFormat.json:
        typer.echo(json.dumps(document, indent=2))
        return
    for key, value in s_values.items():
        typer.echo(f"{key} = {value:.4g} mGy/(MBq·s)")
    typer.echo(
        f"energy deposited inside the kernel: {100 * fraction:.2f} % "
        f"of the mean β energy; shape {document['shape']}; {kernel.source}"
    )
    escaped = kernel.escaped_bremsstrahlung_fraction
    if escaped is not None:
        typer.echo(
            f"bremsstrahlung escaping the kernel: {100 * escaped:.2f} % of the emitted energy "
            f"(not deposited: DVK doses are about {100 * escaped:.2f} % below LDM in a large "
            "uniform region)"
        )
