"""A registration to confirm before a dose uses a CT from another frame of reference.

:func:`propose_ct_registration` is the first half of the web app's dose with a
CT: when the CT and the activity image come in different DICOM frames of
reference it registers the CT rigidly onto the activity image
(:func:`netlm.imaging.registration.register_rigid`) and writes what a person
looks at before confirming — the activity image and the CT resampled through
the proposed transform, on the activity grid, as NIfTI for the image viewer.
The dose is computed only with the confirmed transform
(:func:`netlm.workflows.dose.compute_dose`, ``ct_registration``), which records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from netlm.errors import InputError, NetlmError

__all__ = ["PROPOSAL_LAYERS", "RegistrationProposal", "frames_differ", "propose_ct_registration"]

#: The volumes written for the viewer: the activity image and the registered CT.
PROPOSAL_LAYERS: Final = ("activity", "ct")


@dataclass(frozen=True)
class RegistrationProposal:
    """A proposed CT registration and the files written to check it.

    Attributes
    ----------
    transform
        Activity (fixed) -> CT (moving), not confirmed.
    layers
        ``{"activity": path, "ct": path}``: NIfTI volumes on the activity grid.
    """

    transform: dict[str, object]
    layers: dict[str, Path]


def frames_differ(a: str | None, b: str | None) -> bool:
    """Whether two Frame of Reference UIDs are both known and different.

    Examples
    --------
    >>> frames_differ("1.2.3", "1.2.4"), frames_differ("1.2.3", None)
    (True, False)
    """
    return bool(a) and bool(b) and a != b


def propose_ct_registration(
    activity_path: Path, ct_path: Path, folder: Path
) -> RegistrationProposal | None:
    """Register the CT onto the activity image when their frames of reference differ.

    Parameters
    ----------
    activity_path, ct_path
        The activity image (90Y PET or SPECT) and the CT (files or DICOM folders).
    folder
        Where the check volumes are written (``activity.nii.gz``, ``ct.nii.gz``).

    Returns
    -------
    RegistrationProposal or None
        ``None`` when both share one frame of reference (or either does not
        say): the CT is then used as it is.

    Raises
    ------
    InputError
        (``ct_image_id``) The images cannot be read or registered.
    """
    from netlm.imaging.io import read_image, write_image
    from netlm.imaging.registration import apply_rigid, register_rigid

    try:
        activity = read_image(activity_path)
        ct = read_image(ct_path)
        if not frames_differ(activity.frame_of_reference_uid, ct.frame_of_reference_uid):
            return None
        transform = register_rigid(activity, ct)
        registered = apply_rigid(ct, activity, transform, kind="linear")
    except NetlmError as exc:
        raise InputError([("ct_image_id", f"the CT could not be registered: {exc}")]) from None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    layers = {
        "activity": write_image(
            activity.with_array(np.asarray(activity.array, dtype=np.float32)),
            folder / "activity.nii.gz",
        ),
        "ct": write_image(
            registered.with_array(np.asarray(registered.array, dtype=np.float32)),
            folder / "ct.nii.gz",
        ),
    }
    return RegistrationProposal(transform=transform.as_dict(), layers=layers)
