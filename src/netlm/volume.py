"""The one in-memory image type of netlm: a 3-D array on an LPS grid.

It is a core type: the dosimetry core (:mod:`netlm.voxel`) computes on it and the
image readers (:mod:`netlm.imaging`, an adapter) produce it.  Every reader returns
an :class:`ImageVolume` in the DICOM patient coordinate system (LPS); RAS files
(NIfTI) are converted at the boundary.  The array is
indexed ``[k, j, i]`` (slice, row, column), as ``SimpleITK.GetArrayFromImage``
returns it; ``spacing_mm``, ``origin_mm`` and ``direction`` are in (i, j, k)
order, as in ITK.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from netlm.errors import GeometryError
from netlm.units import MM3_PER_ML

__all__ = ["ImageVolume"]


@dataclass(frozen=True)
class ImageVolume:
    """A 3-D image on a grid in LPS patient coordinates.

    Attributes
    ----------
    array
        Voxel values, shape ``(nk, nj, ni)``.
    spacing_mm
        Voxel size along i, j, k in millimetres.
    origin_mm
        LPS position of the centre of voxel (0, 0, 0), in millimetres.
    direction
        Direction cosines, 9 numbers row-major (ITK convention, LPS).
    unit
        What the values are: ``"HU"``, ``"Bq/mL"``, ``"counts"``, ``"label"``,
        ``"Gy"``, ``"g/mL"`` ...
    frame_of_reference_uid
        DICOM Frame of Reference UID when known.
    reference_time
        The time the activity values refer to (decay-corrected to), when known.
    metadata
        Anything else a reader found (modality, series UID, radionuclide...).
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    unit: str = ""
    frame_of_reference_uid: str | None = None
    reference_time: dt.datetime | None = None
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise GeometryError(f"an image must be 3-D, not {self.array.ndim}-D")
        if len(self.spacing_mm) != 3 or any(s <= 0 for s in self.spacing_mm):
            raise GeometryError(f"spacing must be three positive numbers, not {self.spacing_mm}")
        if len(self.direction) != 9:
            raise GeometryError("direction must have 9 numbers")

    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Grid size along i, j, k."""
        nk, nj, ni = self.array.shape
        return ni, nj, nk

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (cm³)."""
        sx, sy, sz = self.spacing_mm
        return sx * sy * sz / MM3_PER_ML

    def same_grid(self, other: ImageVolume, tolerance_mm: float = 1e-3) -> bool:
        """Whether ``other`` has the same shape, spacing, origin and direction."""
        return (
            self.array.shape == other.array.shape
            and np.allclose(self.spacing_mm, other.spacing_mm, atol=tolerance_mm)
            and np.allclose(self.origin_mm, other.origin_mm, atol=tolerance_mm)
            and np.allclose(self.direction, other.direction, atol=1e-6)
        )

    def with_array(self, array: np.ndarray, unit: str | None = None) -> ImageVolume:
        """The same grid with other values."""
        return ImageVolume(
            array=array,
            spacing_mm=self.spacing_mm,
            origin_mm=self.origin_mm,
            direction=self.direction,
            unit=self.unit if unit is None else unit,
            frame_of_reference_uid=self.frame_of_reference_uid,
            reference_time=self.reference_time,
            metadata=dict(self.metadata),
        )
