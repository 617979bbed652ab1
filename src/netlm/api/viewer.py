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

Only files under the server's own files folder are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from scipy import ndimage

from netlm.errors import InputError, NotFoundError
from netlm.volume import ImageVolume
from netlm.workflows.images import dose_document

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


def layer_volume(
    files_dir: Path,
    rtdose_path: Path,
    layer: str,
    *,
    levels: Sequence[float] = ISODOSE_LEVELS_GY,
) -> ImageVolume:
    """The volume of one viewer ``layer`` (see the module's description).

    Raises
    ------
    NotFoundError
        The dose lacks that layer, or its file is not held by this server.
    InputError
        An unknown layer.
    """
    from netlm.imaging.io import read_image
    from netlm.imaging.registration import RigidTransform, resample_in_frame

    if layer not in VIEWER_LAYERS:
        raise InputError([("layer", f"use one of {', '.join(VIEWER_LAYERS)}, not {layer!r}")])
    document = dose_document(rtdose_path)
    folder = rtdose_path.parent
    if layer == "activity":
        return read_image(_held(files_dir, document.get("activity_image"), "activity image"))
    if layer == "ct":
        ct = read_image(_held(files_dir, document.get("ct_image"), "CT"))
        activity = read_image(_held(files_dir, document.get("activity_image"), "activity image"))
        record = (document.get("registration") or {}).get("ct")
        if record is None and not (
            ct.frame_of_reference_uid
            and activity.frame_of_reference_uid
            and ct.frame_of_reference_uid != activity.frame_of_reference_uid
        ):
            return ct
        transform = None if record is None else RigidTransform.from_mapping(record)
        return resample_in_frame(ct, activity, what="ct", kind="linear", transform=transform)
    dose = read_image(_held(files_dir, str(folder / "dose.nii.gz"), "dose map"))
    if layer == "dose":
        return dose
    if layer == "isodose":
        labels = np.zeros(dose.array.shape, dtype=np.uint8)
        for index, level in enumerate(levels, start=1):
            labels[outlines(dose.array >= level)] = index
        return dose.with_array(labels, unit="label")
    bits = read_image(_held(files_dir, str(folder / "vois.nii.gz"), "VOI map"))
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
) -> Path:
    """Write :func:`layer_volume` as NIfTI (``target`` ends ``.nii.gz``)."""
    from netlm.imaging.io import write_image

    volume = layer_volume(files_dir, rtdose_path, layer, levels=levels)
    array = volume.array
    if array.dtype == np.bool_:
        volume = volume.with_array(array.astype(np.uint8))
    elif array.dtype.kind == "f" and array.dtype != np.float32:
        volume = volume.with_array(array.astype(np.float32))
    return write_image(volume, target)
