"""A patient's stored image files, and voxel dose computed on them.

The API's image, viewer and dose routes and the web pages call these
functions: :func:`image_file` finds a stored file (only files under the
server's files folder are ever served), :func:`compute_patient_dose` runs
:func:`netlm.workflows.dose.compute_dose` on uploaded images and records the RT
Dose as a new image, and :func:`voxel_dvh` reads back the DVHs written beside
it (:func:`dose_document` its statistics);
:func:`check_image` and :func:`check_masks` refuse a stored file netlm cannot
read.  They raise netlm errors (never HTTP errors): a missing image is a
:class:`~netlm.errors.NotFoundError`, an image that cannot be used an
:class:`~netlm.errors.InputError` naming the request field.
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from netlm.errors import InputError, NetlmError, NotFoundError
from netlm.store.repository import ImageOut, Store
from netlm.voxel.dvh import DvhCurve
from netlm.workflows.proposals import check_usable_transform, patient_files_dir

if TYPE_CHECKING:  # SimpleITK is imported when a dose is computed
    from netlm.imaging.limits import ImageLimits

__all__ = [
    "DoseRequest",
    "check_image",
    "check_masks",
    "compute_patient_dose",
    "dose_document",
    "image_file",
    "patient_files_dir",
    "voxel_dvh",
]


class DoseRequest(BaseModel):
    """Voxel dosimetry from images already uploaded for the patient."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    activity_image_id: int = Field(description="90Y PET or SPECT (or MAA SPECT) image record.")
    mask_image_ids: Annotated[list[int], Field(min_length=1, max_length=32)]
    ct_image_id: int | None = Field(default=None, description="CT for density (HU -> g/mL).")
    ct_registration: dict[str, Any] | None = Field(
        default=None,
        description="A CT in another frame of reference: the confirmed rigid transform "
        "(as written by 'netlm dose register --confirmed-by'); without it such a CT is "
        "first registered and the registration proposed for confirmation (nothing is "
        "computed); a transform without 'confirmed_by', or one that was rejected, is refused.",
    )
    method: Literal["ldm", "dvk"] = "ldm"
    activity_gbq: Annotated[float | None, Field(gt=0, le=30)] = Field(
        default=None, description="Scale the image to this activity at implant (GBq)."
    )
    implant_time: AwareDatetime | None = Field(
        default=None, description="Implant time (DICOM: replaces the file's administration time)."
    )
    scan_time: AwareDatetime | None = Field(
        default=None, description="NIfTI/NRRD: the time the image's values refer to."
    )
    assume_implant_time_reference: bool = Field(
        default=False,
        description="NIfTI/NRRD without times: the values are the activity at implant (recorded).",
    )


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def image_file(
    store: Store, files_dir: Path, patient_id: int, image_id: int
) -> tuple[ImageOut, Path]:
    """One of the patient's images and its file (only files under ``files_dir`` are served).

    Raises
    ------
    NotFoundError
        If the patient has no such image, or its file is not one the server holds.
    """
    for image in store.images(patient_id):
        if image.id == image_id:
            if image.path is None:
                raise NotFoundError(f"image {image_id} is a reference without a file")
            path = Path(image.path)
            if not (_inside(path, files_dir) and (path.is_file() or path.is_dir())):
                raise NotFoundError(f"the file of image {image_id} is not held by this server")
            return image, path
    raise NotFoundError(f"patient {patient_id} has no image {image_id}")


def compute_patient_dose(
    store: Store,
    files_dir: Path,
    patient_id: int,
    request: DoseRequest,
    *,
    actor: str,
    kernel_cache_dir: Path | None = None,
    limits: ImageLimits | None = None,
) -> tuple[ImageOut, dict[str, Any]]:
    """Voxel dosimetry on the patient's stored images; the RT Dose becomes a new image record.

    Parameters
    ----------
    store
        The registry holding the patient's image records.
    files_dir
        The server's files folder; the outputs go to a new ``dose-<id>`` folder in
        the patient's folder (:func:`patient_files_dir`).
    patient_id
        The registry's patient number.
    request
        Which stored images to use, and how (see :class:`DoseRequest`).
    actor
        The user recorded in the audit trail.
    kernel_cache_dir
        Folder of cached dose-voxel kernels (``method="dvk"``); the caller
        resolves it (the CLI and API: ``$XDG_CACHE_HOME/netlm/kernels``).
    limits
        The largest images the computation reads (the server's settings;
        :data:`netlm.imaging.limits.DEFAULT_IMAGE_LIMITS` when omitted).

    Returns
    -------
    tuple
        The new ``rtdose`` image record and the dose statistics document
        (``dose-statistics.json``).

    Raises
    ------
    InputError
        An image is not the patient's (naming the request field), or the images
        cannot be used together; nothing is left on disk or in the registry.
    """

    from netlm.imaging.limits import DEFAULT_IMAGE_LIMITS, image_limits
    from netlm.workflows.dose import compute_dose

    def path_of(image_id: int, field: str) -> Path:
        try:
            return image_file(store, files_dir, patient_id, image_id)[1]
        except NotFoundError as exc:
            raise InputError([(field, str(exc))]) from None

    activity = path_of(request.activity_image_id, "activity_image_id")
    masks = [path_of(i, f"mask_image_ids[{n}]") for n, i in enumerate(request.mask_image_ids)]
    ct = None if request.ct_image_id is None else path_of(request.ct_image_id, "ct_image_id")
    transform = None
    if request.ct_registration is not None:
        from netlm.imaging.registration import RigidTransform

        transform = RigidTransform.from_mapping(request.ct_registration)
        check_usable_transform(files_dir, patient_id, request.ct_registration)
    out = patient_files_dir(files_dir, patient_id) / f"dose-{uuid.uuid4().hex[:12]}"
    try:
        with image_limits(limits or DEFAULT_IMAGE_LIMITS):
            document = compute_dose(
                activity,
                masks,
                out,
                ct_path=ct,
                method=request.method,
                activity_gbq=request.activity_gbq,
                implant_time=request.implant_time,
                scan_time=request.scan_time,
                assume_implant_time_reference=request.assume_implant_time_reference,
                kernel_cache_dir=kernel_cache_dir,
                ct_registration=transform,
            ).document
        image = store.add_image(
            patient_id,
            kind="rtdose",
            path=str(out / "rtdose.dcm"),
            description=(
                f"netlm 90Y absorbed dose ({request.method.upper()}) from image "
                f"{request.activity_image_id}"
            ),
            actor=actor,
        )
    except NetlmError:
        shutil.rmtree(out, ignore_errors=True)
        raise
    except (RuntimeError, OSError, ValueError, MemoryError) as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise InputError(
            [("activity_image_id", f"the images could not be used ({type(exc).__name__})")]
        ) from None
    return image, document


def voxel_dvh(rtdose_path: Path) -> tuple[list[DvhCurve], dict[str, Any]] | None:
    """The DVH curves and statistics written beside a computed RT Dose, if readable."""
    folder = rtdose_path.parent
    try:
        stats = json.loads((folder / "dose-statistics.json").read_text(encoding="utf-8"))
        rows: dict[str, tuple[list[float], list[float]]] = {}
        with (folder / "dvh.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                levels, volumes = rows.setdefault(row["voi"], ([], []))
                levels.append(float(row["dose_gy"]))
                volumes.append(float(row["volume_percent"]))
    except (OSError, ValueError, KeyError):
        return None
    curves = [
        DvhCurve(
            label=name,
            dose_gy=np.asarray(levels),
            volume_percent=np.asarray(volumes),
            volume_ml=float(stats.get("vois", {}).get(name, {}).get("volume_ml", 0.0)),
        )
        for name, (levels, volumes) in rows.items()
    ]
    return curves, stats


def dose_document(rtdose_path: Path) -> dict[str, Any]:
    """``dose-statistics.json`` beside a computed RT Dose.

    Raises
    ------
    NotFoundError
        The RT Dose was not computed by this server (no statistics beside it).
    """
    try:
        document = json.loads((rtdose_path.parent / "dose-statistics.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise NotFoundError("this RT Dose has no dose outputs to view") from None
    if not isinstance(document, dict):
        raise NotFoundError("this RT Dose has no dose outputs to view")
    return document


def check_image(path: Path, field: str) -> None:
    """Refuse (by ``field``) a file or folder netlm cannot read as a 3-D image.

    Raises
    ------
    InputError
        (``field``) The file is not a readable image or DICOM series.
    """
    from netlm.imaging.io import read_image

    try:
        read_image(path)
    except (NetlmError, OSError, ValueError, RuntimeError) as exc:
        raise InputError([(field, f"not a readable image or DICOM series: {exc}")]) from None


def check_masks(path: Path, field: str) -> None:
    """Refuse (by ``field``) a file that holds no mask netlm can read.

    Raises
    ------
    InputError
        (``field``) The file holds no mask, or cannot be read as masks.
    """
    from netlm.imaging.io import read_masks

    try:
        if not read_masks(path):
            raise InputError([(field, f"{path.name} holds no mask")])
    except InputError:
        raise
    except (NetlmError, OSError, ValueError, RuntimeError) as exc:
        raise InputError([(field, f"{path.name}: not a readable mask file: {exc}")]) from None
