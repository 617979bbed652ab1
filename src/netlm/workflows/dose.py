"""Voxel dose from images: the one pipeline behind ``netlm dose images``, the API and cohorts.

:func:`compute_dose` reads an activity image (90Y PET or SPECT, or a MAA SPECT
scaled to a planned activity) and masks, brings the activity to the **time of
implant** (:func:`netlm.imaging.activity.activity_at_implant`; a permanent
implant's dose uses the activity at implant), clips negative voxels (noise),
computes the absorbed dose by local deposition or kernel convolution with the
density of each voxel (CT, or tissue and lung densities with a lung mask) and
the statistics, BED and EUD of every volume of interest.  With an output folder
it writes the dose map (NIfTI, gzipped unless told not to), an RT Dose, DVHs (CSV, PNG) and
``dose-statistics.json``; every output records the activity's unit, the
reference time, the decay-correction factor and its basis.

Conventions (``shared/reference/dosimetry.md``): densities, dose constant and
half-life from :class:`~netlm.sirt.physics.Physics`; BED (Dale, permanent
implant) and EUD (Niemierko) with the presets of
:mod:`netlm.sirt.radiobiology` ([U] parameters): tumour VOIs (names beginning
``tumour``, ``tumor`` or ``lesion``) take the ``tumour`` preset, VOIs whose
name contains ``liver`` the ``normal_liver`` preset (which has no α, so no
EUD); other VOIs (lung, ...) get none.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from netlm.errors import GeometryError, InputError, NetlmError, UnitError
from netlm.imaging.activity import (
    ACTIVITY_MISMATCH_TOLERANCE,
    SOURCE_IDS,
    ActivityReference,
    activity_at_implant,
    activity_mismatch,
)
from netlm.sirt.physics import Physics
from netlm.units import BQ_PER_GBQ
from netlm.volume import ImageVolume
from netlm.voxel.result import DoseResult

if TYPE_CHECKING:
    from netlm.imaging.registration import RigidTransform

__all__ = [
    "MaskSpec",
    "compute_dose",
    "dose_map_name",
    "load_masks",
    "radiobiology_preset_for",
    "register_for_dose",
]

#: A mask file, named after the file (or by its segment names), or ``(name, file)``
#: for a file that holds exactly one mask.
MaskSpec = Path | tuple[str, Path]

#: VOIs that ``vois.nii.gz`` holds (one bit each); further ones are not shown by viewers.
VOI_BITS: Final = 32

#: The files written to the output folder (the dose map is ``dose.nii`` with
#: ``compress=False``).
OUTPUTS: Final = (
    "dose.nii.gz",
    "rtdose.dcm",
    "dvh.csv",
    "dvh.png",
    "vois.nii.gz",
    "dose-statistics.json",
)


#: The fused check image of a registration computed by :func:`compute_dose` (``register``).
CHECK_IMAGE: Final = "registration-ct.png"


def dose_map_name(compress: bool) -> str:
    """The dose map's file name: ``dose.nii.gz`` when gzipped, else ``dose.nii``."""
    return "dose.nii.gz" if compress else "dose.nii"


_LUNG_NAMES: Final = frozenset({"lung", "lungs"})


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_masks(paths: Sequence[MaskSpec], image: ImageVolume | None) -> dict[str, ImageVolume]:
    """Masks from every file, on ``image``'s grid (``None``: each on its own grid).

    A label map holding a single label is named after its file
    (``tumour_2.nii.gz`` -> ``tumour_2``); a ``(name, path)`` pair names the one
    mask the file must hold.
    """
    from netlm.imaging.io import read_masks, resample_to

    found: dict[str, ImageVolume] = {}
    for spec in paths:
        if isinstance(spec, tuple):
            name, path = spec
            masks = read_masks(path, reference=image)
            if len(masks) != 1:
                raise InputError(
                    [
                        (
                            f"masks.{name}",
                            f"{path} holds {len(masks)} segments ({', '.join(sorted(masks))}); "
                            "give one binary mask file per volume of interest",
                        )
                    ]
                )
            masks = {name: next(iter(masks.values()))}
        else:
            path = spec
            masks = read_masks(path, reference=image)
            if len(masks) == 1 and not path.name.lower().endswith(".seg.nrrd"):
                masks = {_stem(path): next(iter(masks.values()))}
        for name, mask in masks.items():
            if image is None or mask.same_grid(image):
                found[name] = mask
            else:
                found[name] = resample_to(mask, image, kind="label")
    return found


def _spec_path(spec: MaskSpec) -> Path:
    return spec[1] if isinstance(spec, tuple) else spec


def _masks_in_frame(
    paths: Sequence[MaskSpec],
    image: ImageVolume,
    *,
    ct: ImageVolume | None,
    ct_transform: RigidTransform | None,
    mask_transform: RigidTransform | None,
    masks_on_ct: bool,
) -> tuple[dict[str, ImageVolume], dict[str, list[str]]]:
    """The masks on the activity grid, each file brought from its own frame of reference.

    A mask file is in the CT's frame when the caller says so (``masks_on_ct``)
    or when its DICOM Frame of Reference is the CT's and differs from the
    activity image's: it is read on the CT and resampled through the CT's
    registration.  A file in another frame than the activity image (declared
    by its DICOM Frame of Reference; for NIfTI/NRRD, which declare none,
    when a ``mask_transform`` is given) goes through ``mask_transform``.
    A frame mismatch without a registration is an error naming both frames;
    nothing is resampled across frames silently.

    Returns
    -------
    tuple
        The masks by name, and the names brought through each registration
        (``"ct"``, ``"masks"``).
    """
    from netlm.imaging.registration import declared_frame, frames_differ, resample_in_frame

    frame = image.frame_of_reference_uid
    found: dict[str, ImageVolume] = {}
    through: dict[str, list[str]] = {"ct": [], "masks": []}
    for spec in paths:
        path = _spec_path(spec)
        own = declared_frame(path) if path.exists() else None
        on_ct = ct is not None and (
            masks_on_ct
            or (own is not None and own == ct.frame_of_reference_uid and frames_differ(own, frame))
        )
        other = not on_ct and (
            frames_differ(own, frame) or (own is None and mask_transform is not None)
        )
        if not on_ct and not other:
            found.update(load_masks([spec], image))
            continue
        key, transform = ("ct", ct_transform) if on_ct else ("masks", mask_transform)
        if other and transform is None:
            raise InputError(
                [
                    (
                        "masks",
                        f"{path}: frame of reference {own} differs from the activity image's "
                        f"{frame}; register the image the masks were drawn on onto the "
                        "activity image ('netlm dose register') and give the transform "
                        "(--mask-registration), or give them with the CT they were drawn on "
                        "(--masks-on-ct)",
                    )
                ]
            )
        if other and transform is not None and frames_differ(own, transform.moving_frame):
            raise InputError(
                [
                    (
                        "mask_registration",
                        f"{path}: frame of reference {own} is not the registration's moving "
                        f"frame {transform.moving_frame}",
                    )
                ]
            )
        for name, mask in load_masks([spec], ct if on_ct else None).items():
            try:
                found[name] = resample_in_frame(
                    mask, image, what=f"masks.{name}", kind="label", transform=transform
                )
            except GeometryError as exc:
                raise InputError([(f"masks.{name}", str(exc))]) from None
            if transform is not None:
                through[key].append(name)
    return found, through


def radiobiology_preset_for(name: str) -> str | None:
    """The radiobiology preset a VOI takes by its name (``None``: none applies).

    Examples
    --------
    >>> [radiobiology_preset_for(n) for n in ("tumour_1", "Liver", "normal_liver", "lung")]
    ['tumour', 'normal_liver', 'normal_liver', None]
    """
    key = name.strip().lower()
    if key.startswith(("tumour", "tumor", "lesion")):
        return "tumour"
    if "liver" in key:
        return "normal_liver"
    return None


def _radiobiology(
    dose: ImageVolume, masks: Mapping[str, ImageVolume], half_life_h: float
) -> dict[str, dict[str, Any]]:
    from netlm.sirt.radiobiology import PRESETS
    from netlm.voxel.dose import mask_array
    from netlm.voxel.dvh import bed_map, eud_map

    beds: dict[str, ImageVolume] = {}
    out: dict[str, dict[str, Any]] = {}
    for name, mask in masks.items():
        preset_id = radiobiology_preset_for(name)
        if preset_id is None:
            out[name] = {"preset": None, "bed_mean_gy": None, "eud_gy": None}
            continue
        preset = PRESETS[preset_id]
        if preset_id not in beds:
            beds[preset_id] = bed_map(dose, preset=preset, physical_half_life_h=half_life_h)
        selected = mask_array(mask, dose)
        bed = float(np.mean(np.asarray(beds[preset_id].array, dtype=np.float64)[selected]))
        eud = (
            eud_map(dose, {name: selected}, preset=preset)[name]
            if preset.alpha_per_gy is not None
            else None
        )
        out[name] = {
            "preset": preset_id,
            "bed_mean_gy": bed,
            "eud_gy": eud,
            "alpha_beta_gy": preset.alpha_beta_gy,
            "repair_half_time_h": preset.repair_half_time_h,
            "alpha_per_gy": preset.alpha_per_gy,
            "note": preset.note,
            "source_ids": list(preset.source_ids),
        }
    return out


def _warn(found: list[str], message: str) -> None:
    from netlm.voxel.dose import DosimetryWarning

    found.append(message)
    warnings.warn(message, DosimetryWarning, stacklevel=3)


def _image_gbq_at_implant(
    image: ImageVolume,
    mask: ImageVolume | None,
    half_life_h: float,
    implant_time: dt.datetime | None,
    scan_time: dt.datetime | None,
) -> float | None:
    """The image's own activity at implant (GBq), when its unit and times say it."""
    from netlm.imaging.io import to_bq_per_ml
    from netlm.voxel.dose import total_activity_gbq

    try:
        at, _ = activity_at_implant(
            to_bq_per_ml(image),
            half_life_h=half_life_h,
            implant_time=implant_time,
            scan_time=scan_time,
        )
    except NetlmError:
        return None
    return total_activity_gbq(at, mask=mask)


def _comments(
    reference: ActivityReference,
    activity: Mapping[str, Any],
    clipped: Mapping[str, float],
) -> str:
    return (
        "netlm: absorbed dose of a permanent 90Y implant from the activity at implant. "
        f"Activity unit read: {activity['unit_read'] or 'none'} (computed in Bq/mL). "
        f"Reference time of the image: {reference.reference_time or 'not stated'}; "
        f"implant time: {reference.implant_time or 'not stated'}; "
        f"decay-correction factor {reference.decay_factor:.6g}"
        + (
            f"; scale {activity['scale_bq_per_ml_per_unit']:.6g} Bq/mL per unit"
            if activity.get("scale_bq_per_ml_per_unit") is not None
            else ""
        )
        + f". Basis: {reference.basis}. "
        f"Negative voxels clipped to 0: {int(clipped['clipped_voxels'])} "
        f"({100 * clipped['clipped_voxel_fraction']:.3g} % of voxels, "
        f"{100 * clipped['clipped_activity_fraction']:.3g} % of the activity)."
    )


def compute_dose(
    activity_path: Path,
    mask_paths: Sequence[MaskSpec],
    out: Path | None = None,
    *,
    ct_path: Path | None = None,
    method: str = "ldm",
    kernel: Any = None,
    kernel_table: Path | None = None,
    kernel_cache_dir: Path | None = None,
    activity_gbq: float | None = None,
    scale_mask: str | None = None,
    implant_time: dt.datetime | None = None,
    scan_time: dt.datetime | None = None,
    assume_implant_time_reference: bool = False,
    reference_dicom: Path | None = None,
    activity_unit: str | None = None,
    ct_registration: RigidTransform | None = None,
    masks_on_ct: bool = False,
    mask_registration: RigidTransform | None = None,
    register: bool = False,
    workers: int | None = None,
    physics: Physics | None = None,
    progress: Callable[[str], None] | None = None,
    compress: bool = True,
) -> DoseResult:
    """Dose map, statistics, BED/EUD and DVHs from an activity image and masks.

    Parameters
    ----------
    activity_path
        90Y PET or SPECT (DICOM folder or file, NIfTI, NRRD, MetaImage); or
        counts with ``activity_gbq``.
    mask_paths
        Mask files (:func:`load_masks`).  With masks named ``liver`` and
        ``tumour`` a ``normal_liver`` (liver without tumour) is added; a mask
        named ``lung`` gets the lung density.
    out
        Output folder; ``None`` writes nothing (cohort runs).
    ct_path
        CT for the density (HU -> g/mL); otherwise tissue density, and lung
        density inside a lung mask.
    method
        ``"ldm"`` (local deposition) or ``"dvk"`` (kernel convolution).
    kernel
        Dose-voxel kernel for ``"dvk"`` (default: computed for the voxel size,
        or read from ``kernel_table``).
    kernel_table
        A published S-value table to use as the kernel.
    kernel_cache_dir
        Where a computed kernel is cached; ``None`` (default) computes it in
        memory.  The front door chooses the folder (the CLI:
        :func:`netlm.voxel.kernels.default_kernel_cache_dir`).
    activity_gbq
        Scale the image so that it (or ``scale_mask``) holds this activity at
        implant.
    implant_time, scan_time
        Time-zone-aware implant time (DICOM: overrides the file's
        administration time) and, for images without times, the time their
        values refer to.
    assume_implant_time_reference
        For images without times and without the above: take the values as
        the activity at implant (recorded as an assumption).
    reference_dicom
        DICOM series the RT Dose refers to (default: the activity image when
        it is DICOM).
    activity_unit
        Unit of the activity image when the file does not say.
    ct_registration
        Rigid transform from the activity image's frame to the CT's
        (:func:`netlm.imaging.registration.register_rigid`, confirmed by the
        user).  Needed when the CT comes in another frame of reference: without
        it such a CT is refused, never resampled across frames.  Recorded in
        ``dose-statistics.json`` (``registration.ct``, with ``applied_to``:
        the CT and the masks brought through it).
    masks_on_ct
        The masks were drawn on the CT (NIfTI/NRRD masks declare no frame):
        read them on the CT's grid and bring them through ``ct_registration``
        (or the registration computed with ``register``).  A DICOM SEG or
        RTSTRUCT in the CT's Frame of Reference is taken so without it.
    mask_registration
        Rigid transform from the activity image's frame to the frame of the
        image the masks were drawn on, when that is neither the activity
        image nor the CT (``netlm dose register --fixed ACTIVITY --moving
        IMAGE``).  Applies to every mask file in another frame (by its DICOM
        Frame of Reference; NIfTI/NRRD masks, which declare none, are taken to
        be in that frame when it is given).  Recorded as
        ``registration.masks``.
    register
        Register a CT in another frame of reference (or, when the frames are
        not stated, any CT) onto the activity image here, rigidly by Mattes
        mutual information, when ``ct_registration`` is not given.  The
        transform is recorded as computed and not confirmed, a warning says so,
        and ``registration-ct.png`` (with ``out``) shows it for confirmation.
    workers
        Threads of the kernel convolution.
    physics
        Constants (default :class:`~netlm.sirt.physics.Physics`).
    progress
        Called with a short text before each step.
    compress
        Gzip the dose map (``dose.nii.gz``, the default) or write ``dose.nii``.
        On the bundled 90Y PET gzip makes a local-deposition map (float64,
        exact zeros outside the activity) 20x smaller for about 1 s, a kernel
        map (float32, FFT noise everywhere) only 18 % smaller for about 4.5 s.

    Raises
    ------
    InputError
        Bad or missing inputs, named by field (``activity_gbq``,
        ``implant_time``, ``scan_time``, ``masks.<name>``, ``method``, ``ct``...).
    """
    from netlm.imaging.io import read_image, to_bq_per_ml
    from netlm.imaging.registration import resample_in_frame
    from netlm.voxel import dose as vd
    from netlm.voxel import dvh

    def step(text: str) -> None:
        if progress is not None:
            progress(text)

    if method not in ("ldm", "dvk"):
        raise InputError([("method", f"use ldm or dvk, not {method!r}")])
    physics = physics or Physics()
    half_life_h = physics.y90_half_life_h
    found_warnings: list[str] = []

    step("reading the activity image")
    image = read_image(activity_path, unit=activity_unit)
    if out is not None and (reference_dicom is not None or image.metadata.get("format") == "DICOM"):
        # The RT Dose is filed in the reference's study: refuse an empty Study Instance
        # UID now, before anything is computed or written.
        from netlm.imaging.rtdose import reference_header

        try:
            reference_header(reference_dicom or activity_path)
        except NetlmError as exc:
            field = "activity" if reference_dicom is None else "reference_dicom"
            raise InputError([(field, str(exc))]) from None
    unit_read = image.unit
    ct: ImageVolume | None = None
    ct_transform = ct_registration
    computed = False
    if ct_path is not None:
        step("reading the CT")
        ct = read_image(ct_path)
        same = bool(ct.frame_of_reference_uid) and (
            ct.frame_of_reference_uid == image.frame_of_reference_uid
        )
        if ct_transform is None and register and not same:
            from netlm.imaging.registration import register_rigid

            step("registering the CT onto the activity image (rigid, Mattes MI)")
            try:
                ct_transform = register_rigid(image, ct)
            except InputError as exc:
                raise InputError([("ct", f"cannot register the CT: {exc}")]) from None
            computed = True
            _warn(
                found_warnings,
                f"the CT (frame {ct.frame_of_reference_uid}) was registered onto the activity "
                f"image (frame {image.frame_of_reference_uid}) here by Mattes mutual "
                "information and is not confirmed: check registration-ct.png before use",
            )
    elif masks_on_ct:
        raise InputError([("masks_on_ct", "the masks are declared on the CT; give the CT")])
    for label, given in (
        ("CT", ct_transform if not computed else None),
        ("mask", mask_registration),
    ):
        if given is not None and not (given.confirmed_by or "").strip():
            # The server refuses such a transform (workflows.registration); here it is the
            # caller's own, used as given, and said so.
            _warn(
                found_warnings,
                f"the {label} registration given names no one who confirmed it "
                "(confirmed_by): check it before use ('netlm dose register --confirmed-by')",
            )
    step("reading the masks")
    masks, through = _masks_in_frame(
        mask_paths,
        image,
        ct=ct,
        ct_transform=ct_transform,
        mask_transform=mask_registration,
        masks_on_ct=masks_on_ct,
    )
    if mask_registration is not None and not through["masks"]:
        raise InputError(
            [("mask_registration", "no mask file is in another frame than the activity image")]
        )
    if not masks:
        raise InputError([("masks", "no mask found in the given files")])
    for name, mask in masks.items():
        if not vd.mask_array(mask, image).any():
            raise InputError([(f"masks.{name}", "the mask selects no voxel")])
    if "liver" in masks and "tumour" in masks and "normal_liver" not in masks:
        liver = vd.mask_array(masks["liver"], image)
        tumour = vd.mask_array(masks["tumour"], image)
        masks["normal_liver"] = masks["liver"].with_array(liver & ~tumour)

    image, clipped = vd.clip_negative_activity(image)
    if clipped["clipped_voxels"]:
        _warn(
            found_warnings,
            f"{int(clipped['clipped_voxels'])} negative voxels "
            f"({100 * clipped['clipped_voxel_fraction']:.3g} % of the image, "
            f"{100 * clipped['clipped_activity_fraction']:.3g} % of its signal) were set to 0",
        )

    scale: ImageVolume | None = None
    recorded_gbq: float | None = None
    recorded_source: str | None = None
    image_gbq: float | None = None
    scale_factor: float | None = None
    if activity_gbq is not None:
        scale = masks.get(scale_mask) if scale_mask else None
        if scale_mask and scale is None:
            raise InputError(
                [("scale_mask", f"no mask named {scale_mask!r}; have {sorted(masks)}")]
            )
        image_gbq = _image_gbq_at_implant(image, scale, half_life_h, implant_time, scan_time)
        activity = vd.scale_to_activity(image, activity_gbq, mask=scale)
        scale_factor = float(activity.metadata["bq_per_ml_per_unit"])  # type: ignore[arg-type]
        reference = ActivityReference(
            basis=(
                "rescaled (--activity-gbq): the image"
                + (f" inside mask {scale_mask!r}" if scale_mask else "")
                + f" holds {activity_gbq:g} GBq, the activity at implant"
            ),
            decay_factor=1.0,
            reference_time=None,
            implant_time=implant_time.isoformat() if implant_time else None,
            interval_h=None,
            half_life_h=half_life_h,
        )
        recorded_gbq, recorded_source = activity_gbq, "--activity-gbq"
    else:
        try:
            concentration = to_bq_per_ml(image)
        except UnitError:
            raise InputError(
                [
                    (
                        "activity_gbq",
                        f"the image is in {unit_read or 'unknown units'}; give the injected "
                        "activity (--activity-gbq) to scale it, or its unit (--activity-unit) "
                        "if it is an activity concentration",
                    )
                ]
            ) from None
        activity, reference = activity_at_implant(
            concentration,
            half_life_h=half_life_h,
            implant_time=implant_time,
            scan_time=scan_time,
            assume_implant_reference=assume_implant_time_reference,
        )
        image_gbq = vd.total_activity_gbq(activity)
        injected = image.metadata.get("injected_activity_bq")
        if isinstance(injected, int | float) and injected > 0:
            recorded_gbq, recorded_source = (
                float(injected) / BQ_PER_GBQ,
                "DICOM Radionuclide Total Dose",
            )
    if reference.assumed:
        _warn(found_warnings, f"activity time reference {reference.basis}")
    mismatch: float | None = None
    if image_gbq is not None and recorded_gbq is not None:
        mismatch = activity_mismatch(image_gbq, recorded_gbq)
        if abs(mismatch) > ACTIVITY_MISMATCH_TOLERANCE:
            _warn(
                found_warnings,
                f"the image holds {image_gbq:.4g} GBq at implant, {100 * mismatch:+.1f} % from "
                f"the recorded {recorded_gbq:.4g} GBq ({recorded_source}); tolerance "
                f"{100 * ACTIVITY_MISMATCH_TOLERANCE:g} % [U] (activity outside the field of "
                "view, residual in the vial, or a wrong time or calibration?)",
            )

    lung = next((m for n, m in masks.items() if n.strip().lower() in _LUNG_NAMES), None)
    density: ImageVolume | float
    ct_read = ct
    if ct is not None:
        step("density from CT")
        try:
            ct = resample_in_frame(ct, activity, what="ct", kind="linear", transform=ct_transform)
        except GeometryError as exc:
            raise InputError([("ct", str(exc))]) from None
        density = vd.density_from_ct(ct)
        density_model = f"CT ({density.metadata.get('ct_calibration')})"
    elif lung is not None:
        density = vd.uniform_density(activity, physics=physics, lung_mask=lung)
        density_model = str(density.metadata.get("density_model"))
    else:
        density = physics.tissue_density_g_per_ml
        density_model = f"uniform {density:g} g/mL"

    step(f"dose by {method.upper()}")
    kernel_source: str | None = None
    if method == "ldm":
        dose = vd.dose_ldm(activity, density=density, physics=physics)
    else:
        if kernel is None:
            from netlm.voxel.kernels import load_lanconelli_table, y90_kernel

            kernel = (
                load_lanconelli_table(kernel_table)
                if kernel_table is not None
                else y90_kernel(
                    activity.spacing_mm,
                    density_g_per_ml=physics.tissue_density_g_per_ml,
                    cache_dir=kernel_cache_dir,
                )
            )
        dose = vd.dose_dvk(
            activity,
            kernel,
            physics=physics,
            workers=workers,
            density=density if isinstance(density, ImageVolume) else None,
        )
        kernel_source = str(kernel.source)
        # FFT rounding leaves values of about -1e-7 × the maximum where no activity is near.
        dose = dose.with_array(np.maximum(dose.array, 0))

    step("statistics")
    stats = {name: dvh.dose_statistics(dose, m, name=name) for name, m in masks.items()}
    radiobiology = _radiobiology(dose, masks, half_life_h)
    vois = {
        name: s.model_dump(mode="json") | {"radiobiology": radiobiology[name]}
        for name, s in stats.items()
    }
    activity_record: dict[str, Any] = {
        "time_convention": "activity at implant (administration) time",
        "unit_read": unit_read,
        "unit": "Bq/mL",
        "reference": reference.as_dict(),
        "scale_bq_per_ml_per_unit": scale_factor,
        "image_activity_at_implant_gbq": image_gbq,
        "recorded_activity_gbq": recorded_gbq,
        "recorded_activity_source": recorded_source,
        "activity_mismatch": mismatch,
        "activity_mismatch_tolerance": ACTIVITY_MISMATCH_TOLERANCE,
        "source_ids": list(SOURCE_IDS),
    }
    document: dict[str, Any] = {
        "method": method,
        "kernel": kernel_source,
        "activity_image": str(activity_path),
        "ct_image": None if ct_path is None else str(ct_path),
        "total_activity_gbq": vd.total_activity_gbq(activity),
        "activity": activity_record,
        "negative_voxels": clipped,
        "density": density_model,
        "constants": physics.model_dump(),
        "dose_metadata": {
            k: v for k, v in dose.metadata.items() if isinstance(v, int | float | str)
        },
        "vois": vois,
        "registration": _registration_record(
            ct_transform if ct is not None else None,
            mask_registration,
            through,
            computed=computed,
        ),
        "warnings": found_warnings,
    }
    if out is not None and computed and ct_transform is not None and ct_read is not None:
        from netlm.imaging.registration import apply_rigid, write_check_image

        step("writing the registration check image")
        out.mkdir(parents=True, exist_ok=True)
        write_check_image(image, apply_rigid(ct_read, image, ct_transform), out / CHECK_IMAGE)
    if out is not None:
        step("writing the dose map, RT Dose and DVHs")
        _write_outputs(
            out,
            document,
            dose,
            masks,
            activity_path=activity_path,
            dicom_activity=image.metadata.get("format") == "DICOM",
            reference_dicom=reference_dicom,
            comments=_comments(reference, activity_record, clipped),
            compress=compress,
        )
    return DoseResult(document=document, dose=dose, masks=masks, activity=activity)


def register_for_dose(
    fixed: Path,
    moving: Path,
    out: Path,
    *,
    check: Path | None = None,
    confirmed_by: str | None = None,
) -> tuple[RigidTransform, Path]:
    """Register ``moving`` rigidly onto the activity image ``fixed`` (``netlm dose register``).

    Writes the transform to ``out`` (JSON, for :func:`compute_dose`'s
    ``ct_registration`` or ``mask_registration``) and a fused check image to
    ``check`` (PNG; default ``out`` with suffix ``.png``): the moving image resampled
    through the transform, the fixed image in colour on it.  A person looks at it
    before the transform is used; ``confirmed_by`` records who did.

    Returns
    -------
    tuple
        The transform and the check image's path.
    """
    import dataclasses

    from netlm.imaging.io import read_image
    from netlm.imaging.registration import apply_rigid, register_rigid, write_check_image

    fixed_image = read_image(fixed)
    moving_image = read_image(moving)
    transform = register_rigid(fixed_image, moving_image)
    if confirmed_by:
        transform = dataclasses.replace(transform, confirmed_by=confirmed_by)
    check = check or out.with_suffix(".png")
    write_check_image(fixed_image, apply_rigid(moving_image, fixed_image, transform), check)
    out.write_text(json.dumps(transform.as_dict(), indent=2) + "\n", encoding="utf-8")
    return transform, check


def _registration_record(
    ct_transform: RigidTransform | None,
    mask_transform: RigidTransform | None,
    through: Mapping[str, list[str]],
    *,
    computed: bool,
) -> dict[str, Any] | None:
    """``registration`` of the statistics document: each transform used and what went through it."""
    record: dict[str, Any] = {}
    if ct_transform is not None:
        record["ct"] = ct_transform.as_dict() | {
            "applied_to": ["ct", *through.get("ct", [])],
            "computed_here": computed,
            "check_image": CHECK_IMAGE if computed else None,
        }
    if mask_transform is not None and through.get("masks"):
        record["masks"] = mask_transform.as_dict() | {
            "applied_to": list(through["masks"]),
            "computed_here": False,
        }
    return record or None


def _write_outputs(
    out: Path,
    document: dict[str, Any],
    dose: ImageVolume,
    masks: Mapping[str, ImageVolume],
    *,
    activity_path: Path,
    dicom_activity: bool,
    reference_dicom: Path | None,
    comments: str,
    compress: bool,
) -> None:
    from netlm.imaging.io import write_image
    from netlm.imaging.rtdose import referenced_images_of, write_rt_dose
    from netlm.report.figures import plot_dvh, write_dvh_csv
    from netlm.voxel import dose as vd
    from netlm.voxel import dvh

    out.mkdir(parents=True, exist_ok=True)
    curves = [dvh.dvh_curve(dose, m, label=name) for name, m in masks.items()]
    write_dvh_csv(curves, out / "dvh.csv")
    plot_dvh(curves, out / "dvh.png")
    dose_map = dose_map_name(compress)
    write_image(dose, out / dose_map)
    (out / dose_map_name(not compress)).unlink(missing_ok=True)  # no stale map of a re-run
    # The VOIs for viewers, on the dose grid: bit i of a voxel is set where it lies in the
    # i-th of voi_labels (VOIs overlap: normal_liver lies in liver); at most 32.
    bits = np.zeros(dose.array.shape, dtype=np.uint32)
    names = list(masks)[:VOI_BITS]
    for index, name in enumerate(names):
        bits[vd.mask_array(masks[name], dose)] |= np.uint32(1 << index)
    write_image(dose.with_array(bits, unit="label"), out / "vois.nii.gz")
    document["voi_labels"] = names
    method: Literal["ldm", "dvk"] = "dvk" if document["method"] == "dvk" else "ldm"
    write_rt_dose(
        dose,
        out / "rtdose.dcm",
        reference_dicom=reference_dicom or (activity_path if dicom_activity else None),
        description=f"netlm 90Y absorbed dose ({method.upper()}), activity at implant",
        bits_allocated=16,  # 32-bit RT Dose cannot be checked by Debian's dciodvfy
        referenced_images=referenced_images_of(activity_path) if dicom_activity else (),
        comments=comments,
    )
    document["outputs"] = [dose_map, *OUTPUTS[1:]]
    (out / "dose-statistics.json").write_text(json.dumps(document, indent=2) + "\n")
