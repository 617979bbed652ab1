"""Rigid registration of images acquired in different frames of reference.

A CT, a functional image (90Y PET, SPECT) or masks drawn on another scan that
come in another DICOM frame of reference than the image they are combined with
are not in one patient coordinate system: their LPS millimetres do not name the
same anatomy, and resampling one onto the other would silently misplace dose.
netlm never does that; instead the two are registered here (rigid: three
rotations and three translations, SimpleITK's Mattes mutual information, which
works across modalities), the result is shown for confirmation and the
transform is recorded with whatever is computed from it.

Convention (ITK's): the transform maps points of the **fixed** (reference)
image to points of the **moving** image, in LPS millimetres; resampling the
moving image onto the fixed grid uses it as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import SimpleITK as sitk  # noqa: N813 - the name every SimpleITK user knows

from netlm.errors import GeometryError, InputError
from netlm.imaging.dicom import _read_dicom_header
from netlm.imaging.itk import (
    _check_frame_of_reference,
    _format_of,
    _resampled_array,
    _to_sitk,
    resample_to,
)
from netlm.imaging.itk import _frames_differ as frames_differ
from netlm.imaging.masks import _single_mask_file
from netlm.volume import ImageVolume

__all__ = [
    "RigidTransform",
    "apply_rigid",
    "declared_frame",
    "frames_differ",
    "register_rigid",
    "resample_in_frame",
    "write_check_image",
]

#: Translations beyond this are refused as implausible for one patient (mm) [U].
MAX_TRANSLATION_MM = 500.0


@dataclass(frozen=True)
class RigidTransform:
    """A rigid transform from the fixed (reference) frame to the moving frame.

    Attributes
    ----------
    rotation_rad
        Euler angles about x, y, z (radians, ITK ``Euler3DTransform`` order).
    translation_mm
        Translation (LPS mm).
    centre_mm
        Centre of rotation (LPS mm).
    fixed_frame, moving_frame
        DICOM Frame of Reference UIDs of the two images, when known.
    method
        How it was found (``"mattes-mi-rigid"`` or ``"given"``).
    metric
        Final Mattes mutual information (lower is better), when registered.
    confirmed_by
        Who confirmed the registration on screen, when someone did.
    """

    rotation_rad: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fixed_frame: str | None = None
    moving_frame: str | None = None
    method: str = "given"
    metric: float | None = None
    confirmed_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = (*self.rotation_rad, *self.translation_mm, *self.centre_mm)
        if len(self.rotation_rad) != 3 or len(self.translation_mm) != 3:
            raise InputError([("registration", "needs three rotations and three translations")])
        if not all(np.isfinite(values)):
            raise InputError([("registration", "rotations and translations must be finite")])
        if any(abs(a) > np.pi for a in self.rotation_rad):
            raise InputError([("registration.rotation_rad", "each angle must be within ±π")])
        if float(np.linalg.norm(self.translation_mm)) > MAX_TRANSLATION_MM:
            raise InputError(
                [
                    (
                        "registration.translation_mm",
                        f"a shift of {np.linalg.norm(self.translation_mm):.0f} mm is implausible "
                        f"for one patient (limit {MAX_TRANSLATION_MM:g} mm)",
                    )
                ]
            )

    def to_sitk(self) -> Any:
        """The SimpleITK ``Euler3DTransform``."""
        transform: Any = sitk.Euler3DTransform()  # type: ignore[no-untyped-call]
        transform.SetCenter([float(v) for v in self.centre_mm])
        transform.SetRotation(*(float(v) for v in self.rotation_rad))
        transform.SetTranslation([float(v) for v in self.translation_mm])
        return transform

    def matrix(self) -> np.ndarray:
        """The 4 × 4 homogeneous matrix (fixed LPS mm -> moving LPS mm)."""
        transform = self.to_sitk()
        rotation = np.asarray(transform.GetMatrix(), dtype=float).reshape(3, 3)
        offset = np.asarray(transform.GetTranslation(), dtype=float)
        centre = np.asarray(self.centre_mm, dtype=float)
        out = np.eye(4)
        out[:3, :3] = rotation
        out[:3, 3] = offset + centre - rotation @ centre
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record (as in ``dose-statistics.json``)."""
        return {
            "type": "rigid (Euler3D)",
            "convention": "maps fixed (reference) LPS mm to moving LPS mm (ITK)",
            "rotation_rad": list(self.rotation_rad),
            "translation_mm": list(self.translation_mm),
            "centre_mm": list(self.centre_mm),
            "matrix": self.matrix().tolist(),
            "fixed_frame": self.fixed_frame,
            "moving_frame": self.moving_frame,
            "method": self.method,
            "metric": self.metric,
            "confirmed_by": self.confirmed_by,
        }

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RigidTransform:
        """Read :meth:`as_dict`'s record (or a hand-written one) back."""
        try:
            return cls(
                rotation_rad=tuple(float(v) for v in data.get("rotation_rad", (0, 0, 0))),  # type: ignore[arg-type]
                translation_mm=tuple(float(v) for v in data["translation_mm"]),  # type: ignore[arg-type]
                centre_mm=tuple(float(v) for v in data.get("centre_mm", (0, 0, 0))),  # type: ignore[arg-type]
                fixed_frame=data.get("fixed_frame"),
                moving_frame=data.get("moving_frame"),
                method=str(data.get("method", "given")),
                metric=data.get("metric"),
                confirmed_by=data.get("confirmed_by"),
            )
        except InputError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError([("registration", f"not a rigid transform record: {exc}")]) from None

    @classmethod
    def read(cls, path: Path) -> RigidTransform:
        """Read a JSON file written from :meth:`as_dict`."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError([("registration", f"cannot read {path}: {exc}")]) from None
        if not isinstance(data, dict):
            raise InputError([("registration", f"{path} does not hold a JSON object")])
        return cls.from_mapping(data)


def register_rigid(
    fixed: ImageVolume,
    moving: ImageVolume,
    *,
    bins: int = 50,
    sampling: float = 0.2,
    iterations: int = 200,
    seed: int = 1,
) -> RigidTransform:
    """Register ``moving`` onto ``fixed`` rigidly by Mattes mutual information.

    Parameters
    ----------
    fixed
        The reference image (whose grid the result is resampled onto).
    moving
        The image in the other frame of reference.
    bins, sampling, iterations, seed
        Mattes histogram bins, fraction of voxels sampled (random, seeded, so
        that the result is reproducible), gradient-descent iterations per level.

    Returns
    -------
    RigidTransform
        Fixed -> moving, ``method="mattes-mi-rigid"``; not yet confirmed.

    Raises
    ------
    InputError
        Constant images (nothing to register).
    """
    for name, volume in (("fixed", fixed), ("moving", moving)):
        if not np.isfinite(volume.array).all() or np.ptp(volume.array) == 0:
            raise InputError([(f"registration.{name}", "the image is constant or not finite")])
    fixed_image = sitk.Cast(_to_sitk(fixed), sitk.sitkFloat32)  # type: ignore[no-untyped-call]
    moving_image = sitk.Cast(_to_sitk(moving), sitk.sitkFloat32)  # type: ignore[no-untyped-call]
    initial = sitk.CenteredTransformInitializer(
        fixed_image,
        moving_image,
        sitk.Euler3DTransform(),  # type: ignore[no-untyped-call]
        sitk.CenteredTransformInitializerFilter.GEOMETRY,
    )
    method: Any = sitk.ImageRegistrationMethod()  # type: ignore[no-untyped-call]
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=iterations, relaxationFactor=0.5
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    found = method.Execute(fixed_image, moving_image)
    euler: Any = sitk.Euler3DTransform(
        found.GetNthTransform(0) if found.GetNumberOfTransforms() else found
    )  # type: ignore[no-untyped-call]
    return RigidTransform(
        rotation_rad=(euler.GetAngleX(), euler.GetAngleY(), euler.GetAngleZ()),
        translation_mm=tuple(float(v) for v in euler.GetTranslation()),  # type: ignore[arg-type]
        centre_mm=tuple(float(v) for v in euler.GetCenter()),  # type: ignore[arg-type]
        fixed_frame=fixed.frame_of_reference_uid,
        moving_frame=moving.frame_of_reference_uid,
        method="mattes-mi-rigid",
        metric=float(method.GetMetricValue()),
    )


def apply_rigid(
    moving: ImageVolume,
    reference: ImageVolume,
    transform: RigidTransform,
    *,
    kind: Literal["label", "linear"] = "linear",
) -> ImageVolume:
    """Resample ``moving`` onto ``reference``'s grid through ``transform``.

    The result is in the reference's frame of reference and records the
    transform in its metadata (``registration``).
    """
    array = _resampled_array(moving, reference, kind, transform.to_sitk())
    metadata = dict(moving.metadata)
    metadata["registration"] = transform.as_dict()
    return ImageVolume(
        array=array,
        spacing_mm=reference.spacing_mm,
        origin_mm=reference.origin_mm,
        direction=reference.direction,
        unit=moving.unit,
        frame_of_reference_uid=reference.frame_of_reference_uid,
        reference_time=moving.reference_time,
        metadata=metadata,
    )


def resample_in_frame(
    volume: ImageVolume,
    reference: ImageVolume,
    *,
    what: str,
    kind: Literal["label", "linear"] = "linear",
    transform: RigidTransform | None = None,
) -> ImageVolume:
    """``volume`` on ``reference``'s grid, never silently across frames of reference.

    Same frame (or either unknown) and no transform: plain resampling.  With a
    transform: resampled through it.  Different frames without a transform:
    :class:`~netlm.errors.GeometryError` naming ``what``.
    """
    if transform is not None:
        return apply_rigid(volume, reference, transform, kind=kind)
    _check_frame_of_reference(what, volume.frame_of_reference_uid, reference)
    if volume.same_grid(reference):
        return volume
    try:
        return resample_to(volume, reference, kind=kind)
    except GeometryError as exc:
        raise GeometryError(f"{what}: {exc}") from None


def declared_frame(path: Path) -> str | None:
    """The Frame of Reference UID a segmentation file declares, if any.

    A DICOM SEG names its own frame, an RT Structure Set the frame its
    contours were drawn in (the first of its Referenced Frame of Reference
    Sequence); NIfTI, NRRD and MetaImage files name none (``None``).  A folder
    is read as the one SEG or RTSTRUCT it holds.
    """
    source = _single_mask_file(path) if path.is_dir() else path
    if _format_of(source) is not None:
        return None
    header = _read_dicom_header(source)
    if header is None:
        return None
    if str(header.get("Modality", "")) == "RTSTRUCT":
        items = header.get("ReferencedFrameOfReferenceSequence") or []
        return str(items[0].get("FrameOfReferenceUID", "")) or None if items else None
    return str(header.get("FrameOfReferenceUID", "")) or None


def write_check_image(fixed: ImageVolume, registered: ImageVolume, path: Path) -> Path:
    """A PNG of three orthogonal central slices: ``registered`` grey, ``fixed`` in colour.

    ``registered`` must be on ``fixed``'s grid (:func:`apply_rigid`).  For the
    user to confirm a registration before it is used.  A CT (unit HU, or
    values below -500) is shown in a soft-tissue window (-200 to 300 HU), a
    functional image from 0 to its 99.5th percentile.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if registered.array.shape != fixed.array.shape:
        raise GeometryError("write_check_image: resample the moving image onto the fixed grid")
    nk, nj, ni = fixed.array.shape
    sx, sy, sz = fixed.spacing_mm
    views = (
        ("axial", np.s_[nk // 2, :, :], sy / sx),
        ("coronal", np.s_[::-1, nj // 2, :], sz / sx),
        ("sagittal", np.s_[::-1, :, ni // 2], sz / sy),
    )
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    top = float(np.percentile(fixed.array, 99.5)) or 1.0
    # A CT in a soft-tissue window (HU); a functional image from 0 to its 99.5th percentile.
    ct_like = registered.unit.upper() == "HU" or float(np.min(registered.array)) < -500
    grey = (-200.0, 300.0)
    if not ct_like:
        grey = (0.0, float(np.percentile(registered.array, 99.5)) or 1.0)
    for axis, (name, index, aspect) in zip(axes, views, strict=True):
        axis.imshow(registered.array[index], cmap="gray", aspect=aspect, vmin=grey[0], vmax=grey[1])
        shown = np.ma.masked_less_equal(fixed.array[index], 0.05 * top)
        axis.imshow(shown, cmap="hot", alpha=0.45, aspect=aspect, vmin=0, vmax=top)
        axis.set_title(name)
        axis.axis("off")
    figure.suptitle("Registration check: moving (grey) through the transform, fixed (colour)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
