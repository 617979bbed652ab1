"""The volumes the image viewer shows of a computed dose, as NIfTI.

A voxel dose computed by the server (:func:`netlm.workflows.dose.compute_dose`)
leaves beside its RT Dose the dose map, the VOIs (``vois.nii.gz``, one bit per
VOI) and ``dose-statistics.json``, which names the activity image, the CT and
any registration of the CT.  The viewer (``static/viewer.js``, NiiVue) loads:

``ct``
    The CT, in its own grid when it shares the activity image's frame, or
    resampled onto the activity grid through the recorded (confirmed) rigid
    transform; never across frames without one.
``activity``
    The 90Y PET or SPECT (or MAA SPECT) the dose was computed from.
``dose``
    The absorbed dose (Gy).
``vois``
    The outline of each VOI, labelled ``i + 1`` for the ``i``-th of ``voi_labels``.
``isodose``
    The outlines of the isodose levels, labelled ``i + 1`` for the ``i``-th level.

Only files under the server's own files folder are read, and each only after
its header (and, gzip-compressed, its whole stream) passed the server's image
limits (:func:`netlm.imaging.limits.check_image_file`; ``netlm serve
--max-image-voxels/--max-image-bytes``): a file over a limit is not read
(``413`` naming it, see :func:`netlm.api.limits.image_reads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
from scipy import ndimage

from netlm.errors import InputError, NotFoundError
from netlm.volume import ImageVolume
from netlm.workflows.images import dose_document

if TYPE_CHECKING:  # SimpleITK is imported when an image is first read
    from netlm.imaging.limits import ImageLimits

__all__ = [
    "ISODOSE_LEVELS_GY",
    "VIEWER_LAYERS",
    "ViewerLayer",
    "available_layers",
    "outlines",
    "write_layer",
]

ViewerLayer = Literal["ct", "activity", "dose", "vois", "isodose"]
VIEWER_LAYERS: Final[tuple[str, ...]] = ("ct", "activity", "dose", "vois", "isodose")

#: Isodose lines drawn by default (Gy) [U]: display only, chosen to bracket the usual
#: normal-liver and tumour dose ranges of 90Y radioembolization; they decide nothing
#: (the plan's checks and the dose statistics do).  ``?levels=`` draws others.
ISODOSE_LEVELS_GY: Final[tuple[float, ...]] = (40.0, 70.0, 120.0)
#: Most isodose levels one request may ask for.
MAX_ISODOSE_LEVELS: Final = 8


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def available_layers(rtdose_path: Path, document: dict[str, Any]) -> list[str]:
    """The layers :func:`write_layer` can give for this dose."""
    folder = rtdose_path.parent
    found = ["activity"] if document.get("activity_image") else []
    if document.get("ct_image"):
        found.insert(0, "ct")
    if (folder / "dose.nii.gz").is_file():
        found += ["dose", "isodose"]
    if (folder / "vois.nii.gz").is_file() and document.get("voi_labels"):
        found.append("vois")
    return found


def outlines(mask: np.ndarray) -> np.ndarray:
    """The voxels of ``mask`` on its border, in-plane (each axial slice's outline)."""
    inside = np.asarray(mask, dtype=bool)
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    eroded = np.asarray(ndimage.binary_erosion(inside, structure=structure, border_value=0))
    border: np.ndarray = inside & ~eroded
    return border


def parse_levels(text: str | None) -> tuple[float, ...]:
    """Isodose levels from ``"40,70,120"`` (Gy); the default when ``None``."""
    if text is None or not text.strip():
        return ISODOSE_LEVELS_GY
    try:
        levels = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InputError([("levels", f"{text!r} is not a comma-separated list of Gy")]) from None
    if not 1 <= len(levels) <= MAX_ISODOSE_LEVELS:
        raise InputError([("levels", f"give 1 to {MAX_ISODOSE_LEVELS} levels")])
    if any(not np.isfinite(v) or v <= 0 or v > 10_000 for v in levels):
        raise InputError([("levels", "each level must be above 0 and at most 10000 Gy")])
    return tuple(sorted(levels))


def _held(files_dir: Path, value: object, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise NotFoundError(f"this dose has no {what}")
    path = Path(value)
    if not (_inside(path, files_dir) and path.exists()):
        raise NotFoundError(f"the {what} of this dose is not held by this server")
    return path


def _read(path: Path, limits: ImageLimits | None) -> ImageVolume:
    """``path`` read under ``limits``; a single file is checked from its header first."""
    from netlm.imaging.io import read_image
    from netlm.imaging.limits import check_image_file, current_limits, image_limits

    chosen = limits or current_limits()
    if path.is_file():  # a DICOM series folder is checked by the reader, from its headers
        check_image_file(path, chosen, field="layer")
    with image_limits(chosen):
        return read_image(path)


def layer_volume(
    files_dir: Path,
    rtdose_path: Path,
    layer: str,
    *,
    levels: Sequence[float] = ISODOSE_LEVELS_GY,
    limits: ImageLimits | None = None,
) -> ImageVolume:
    """The volume of one viewer ``layer`` (see the module's description).

    ``limits``: the image limits of every file read (default:
    :func:`netlm.imaging.limits.current_limits`).

    Raises
    ------
    NotFoundError
        The dose lacks that layer, or its file is not held by this server.
    InputError
        An unknown layer.
    netlm.imaging.limits.ImageLimitError
        A file over ``limits`` (``limit`` names which) or damaged; nothing of it is read.
    """
    from netlm.imaging.registration import RigidTransform, resample_in_frame

    if layer not in VIEWER_LAYERS:
        raise InputError([("layer", f"use one of {', '.join(VIEWER_LAYERS)}, not {layer!r}")])
    document = dose_document(rtdose_path)
    folder = rtdose_path.parent
    if layer == "activity":
        return _read(_held(files_dir, document.get("activity_image"), "activity image"), limits)
    if layer == "ct":
        ct = _read(_held(files_dir, document.get("ct_image"), "CT"), limits)
        activity = _read(_held(files_dir, document.get("activity_image"), "activity image"), limits)
        record = (document.get("registration") or {}).get("ct")
        if record is None and not (
            ct.frame_of_reference_uid
            and activity.frame_of_reference_uid
            and ct.frame_of_reference_uid != activity.frame_of_reference_uid
        ):
            return ct
        transform = None if record is None else RigidTransform.from_mapping(record)
        return resample_in_frame(ct, activity, what="ct", kind="linear", transform=transform)
    if layer in ("dose", "isodose"):
        dose = _read(_held(files_dir, str(folder / "dose.nii.gz"), "dose map"), limits)
        if layer == "dose":
            return dose
        labels = np.zeros(dose.array.shape, dtype=np.uint8)
        for index, level in enumerate(levels, start=1):
            labels[outlines(dose.array >= level)] = index
        return dose.with_array(labels, unit="label")
    bits = _read(_held(files_dir, str(folder / "vois.nii.gz"), "VOI map"), limits)
    codes = bits.array.astype(np.uint64)
    labels = np.zeros(codes.shape, dtype=np.uint8)
    for index, _name in enumerate(document.get("voi_labels") or []):
        labels[outlines((codes >> np.uint64(index)) & np.uint64(1))] = index + 1
    return bits.with_array(labels, unit="label")


def write_layer(
    files_dir: Path,
    rtdose_path: Path,
    layer: str,
    target: Path,
    *,
    levels: Sequence[float] = ISODOSE_LEVELS_GY,
    limits: ImageLimits | None = None,
) -> Path:
    """Write :func:`layer_volume` as NIfTI (``target`` ends ``.nii.gz``)."""
    from netlm.imaging.io import write_image

    volume = layer_volume(files_dir, rtdose_path, layer, levels=levels, limits=limits)
    array = volume.array
    if array.dtype == np.bool_:
        volume = volume.with_array(array.astype(np.uint8))
    elif array.dtype.kind == "f" and array.dtype != np.float32:
        volume = volume.with_array(array.astype(np.float32))
    return write_image(volume, target)
