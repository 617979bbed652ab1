"""The MAA SPECT/CT work-up as a radioembolization plan file (``netlm workup``).

:func:`plan_from_maa_spect` reads the 99mTc-MAA SPECT and the masks (and the CT
of the SPECT/CT, registered if it lies in another frame of reference), analyses
them (:func:`netlm.voxel.workup.maa_workup`: volumes, lung shunt, T:N), writes
the ``netlm/sirt-plan/v1`` document (:func:`netlm.voxel.workup.plan_from_workup`)
and solves it with the rule profile (:func:`netlm.sirt.planner.solve`), so that a
plan breaking a limit is known before the file is used.  The file is written
only once the plan has been solved.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from netlm.errors import GeometryError, PlanError

if TYPE_CHECKING:
    from netlm.eligibility.profile import RuleProfile
    from netlm.sirt.planner import PlanResult
    from netlm.volume import ImageVolume
    from netlm.voxel.workup import MaaWorkup
    from netlm.workflows.dose import MaskSpec

__all__ = ["WorkupPlan", "plan_from_maa_spect"]


@dataclass(frozen=True)
class WorkupPlan:
    """What :func:`plan_from_maa_spect` made: the work-up, the plan document, its solution."""

    workup: MaaWorkup
    document: dict[str, object]
    result: PlanResult


def _ct_on_spect(ct: Path, spect: ImageVolume, registration: Path | None) -> ImageVolume:
    from netlm.imaging.io import read_image
    from netlm.imaging.registration import RigidTransform, resample_in_frame

    transform = RigidTransform.read(registration) if registration else None
    try:
        return resample_in_frame(
            read_image(ct), spect, what="ct", kind="linear", transform=transform
        )
    except GeometryError as exc:
        raise PlanError([("ct", str(exc))]) from None


def plan_from_maa_spect(
    spect: Path,
    masks: Sequence[MaskSpec],
    *,
    liver: str = "liver",
    tumours: Sequence[str] = (),
    territories: Mapping[str, str | None] | None = None,
    lung: str | None = None,
    lung_shunt_fraction: float | None = None,
    ct: Path | None = None,
    ct_registration: Path | None = None,
    device: str = "glass",
    tumour_dose_gy: float | None = None,
    normal_liver_dose_gy: float | None = None,
    treatment_start: dt.datetime | None = None,
    profile: RuleProfile | None = None,
    out: Path | None = None,
) -> WorkupPlan:
    """A radioembolization plan (partition model) from a MAA SPECT/CT and its masks.

    Parameters
    ----------
    spect
        The 99mTc-MAA SPECT (counts).
    masks
        Mask files (see :func:`netlm.workflows.dose.load_masks`), resampled onto the SPECT.
    liver, tumours, lung
        Names of the liver, tumour and lung masks among ``masks``.
    territories
        Perfused territory mask names, each with its kind (``lobar``, ``segmental``,
        ``whole_liver``) or ``None``; none: the whole liver.
    lung_shunt_fraction
        LSF from planar imaging, when there is no lung mask.
    ct, ct_registration
        The CT of the SPECT/CT (lung mass by densitovolumetry) and, for a CT in another
        frame of reference, the confirmed rigid transform (JSON).
    device
        ``glass`` or ``resin``.
    tumour_dose_gy, normal_liver_dose_gy
        The prescription: exactly one of the two.
    treatment_start
        Time of treatment (timezone-aware).
    profile
        Rule profile of the check solve (default: netlm's).
    out
        Plan file (YAML) to write once the plan is solved.

    Raises
    ------
    PlanError
        Naming the argument: an unknown device or mask name, no or two prescriptions,
        ``ct_registration`` without ``ct``, a CT that cannot be brought onto the SPECT.
    """
    from netlm.imaging.io import read_image
    from netlm.sirt.plan import plan_from_mapping
    from netlm.sirt.planner import solve
    from netlm.voxel.workup import maa_workup, plan_from_workup
    from netlm.workflows.dose import load_masks

    if device not in ("glass", "resin"):
        raise PlanError([("device", f"use glass or resin, not {device!r}")])
    if not masks:
        raise PlanError([("masks", "give mask files")])
    if ct_registration is not None and ct is None:
        raise PlanError([("ct_registration", "--ct-registration needs --ct")])
    prescription = {
        k: v
        for k, v in (
            ("tumour_dose_gy", tumour_dose_gy),
            ("normal_liver_dose_gy", normal_liver_dose_gy),
        )
        if v is not None
    }
    if len(prescription) != 1:
        raise PlanError([("prescription", "give one of --tumour-dose-gy, --normal-liver-dose-gy")])
    image = read_image(spect)
    found = load_masks(masks, image)
    ct_image = _ct_on_spect(ct, image, ct_registration) if ct is not None else None

    def mask(name: str) -> ImageVolume:
        if name not in found:
            raise PlanError([("masks", f"no mask named {name!r}; have {sorted(found)}")])
        return found[name]

    kinds: dict[str, Any] = {name: kind for name, kind in (territories or {}).items() if kind}
    work = maa_workup(
        image,
        liver=mask(liver),
        tumours={t: mask(t) for t in tumours},
        territories={name: mask(name) for name in territories or {}} or None,
        territory_kinds=kinds or None,
        lung=mask(lung) if lung else None,
        ct=ct_image,
        lung_shunt_fraction=lung_shunt_fraction,
        lung_shunt_method="planar" if lung_shunt_fraction is not None else None,
    )
    document = plan_from_workup(
        work,
        device="resin" if device == "resin" else "glass",
        prescription=prescription,
        treatment_start=treatment_start,
    )
    result = solve(plan_from_mapping(document), profile)
    if out is not None:
        plain: Any = json.loads(json.dumps(document, default=str))
        out.write_text(yaml.safe_dump(plain, sort_keys=False))
    return WorkupPlan(work, document, result)
