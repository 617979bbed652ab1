"""What a voxel-dose computation returns: :class:`DoseResult`.

The dose workflow (:func:`netlm.workflows.dose.compute_dose`) computes it from
image files; the reports (:mod:`netlm.report.imaging`, :mod:`netlm.report.pdf`)
and the DICOM writers (:mod:`netlm.workflows.dicom_results`) read it.  Core: it
holds values and writes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netlm.errors import InputError
from netlm.results import frame
from netlm.volume import ImageVolume

if TYPE_CHECKING:
    import pandas as pd

    from netlm.voxel.dvh import DvhCurve

__all__ = ["DoseResult"]


@dataclass(frozen=True)
class DoseResult:
    """What :func:`netlm.workflows.dose.compute_dose` computed.

    Attributes
    ----------
    document
        The statistics document (also ``dose-statistics.json``).
    dose
        The absorbed-dose map (Gy).
    masks
        The volumes of interest on the dose grid, by name.
    activity
        The activity the dose was computed from (Bq/mL at implant, negative
        voxels clipped), on the dose grid; the voxel-dose report fuses it with
        the dose.
    """

    document: dict[str, Any]
    dose: ImageVolume
    masks: dict[str, ImageVolume]
    activity: ImageVolume | None = None

    def to_dict(self) -> dict[str, Any]:
        """The statistics document (``dose-statistics.json``), a copy."""
        return copy.deepcopy(self.document)

    def to_pandas(self) -> pd.DataFrame:
        """One row per VOI: its dose statistics and radiobiology (BED, EUD...)."""
        rows = []
        for name, voi in self.document["vois"].items():
            row = {"voi": name} | {k: v for k, v in voi.items() if k != "radiobiology"}
            for key, value in (voi.get("radiobiology") or {}).items():
                if not isinstance(value, dict | list):
                    row[key] = value
            rows.append(row)
        return frame(rows)

    def dvh(self, voi: str, bins: int = 200) -> DvhCurve:
        """The cumulative DVH of ``voi`` (for :func:`netlm.report.figures.plot_dvh`)."""
        if voi not in self.masks:
            raise InputError([("voi", f"no VOI {voi!r}; have {', '.join(self.masks)}")])
        from netlm.voxel.dvh import dvh_curve

        return dvh_curve(self.dose, self.masks[voi], bins, label=voi)
