"""The MAA SPECT work-up workflow (``netlm workup``): images to a solved plan file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from netlm.errors import PlanError
from netlm.imaging.io import write_image
from netlm.sirt.plan import plan_from_mapping
from netlm.sirt.planner import solve
from netlm.voxel.phantom import Phantom, liver_phantom
from netlm.workflows.workup import plan_from_maa_spect


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(seed=1)


@pytest.fixture
def files(phantom: Phantom, tmp_path: Path) -> tuple[Path, list[Path]]:
    spect = write_image(phantom.activity, tmp_path / "spect.nii.gz")
    masks = [
        write_image(
            phantom.masks[name].with_array(phantom.masks[name].array.astype(np.uint8)),
            tmp_path / f"{name}.nii.gz",
        )
        for name in ("liver", "lung", *phantom.truth.tumour_to_normal_ratio)
    ]
    return spect, masks


def test_the_plan_file_is_the_solved_plan(
    phantom: Phantom, files: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    spect, masks = files
    out = tmp_path / "plan.yaml"
    made = plan_from_maa_spect(
        spect,
        masks,
        lung="lung",
        tumours=list(phantom.truth.tumour_to_normal_ratio),
        tumour_dose_gy=150.0,
        out=out,
    )
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["lung_shunt_fraction"] == pytest.approx(
        phantom.truth.lung_shunt_fraction, rel=1e-6
    )
    again = solve(plan_from_mapping(written))
    assert made.result.injected_activity_gbq == pytest.approx(again.injected_activity_gbq)
    assert made.workup.lung_shunt_fraction == written["lung_shunt_fraction"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tumour_dose_gy": 150.0, "normal_liver_dose_gy": 40.0}, "prescription"),
        ({}, "prescription"),
        ({"tumour_dose_gy": 150.0, "liver": "livre"}, "masks"),
        ({"tumour_dose_gy": 150.0, "device": "plastic"}, "device"),
        ({"tumour_dose_gy": 150.0, "ct_registration": Path("t.json")}, "ct_registration"),
    ],
)
def test_bad_arguments_name_the_field_and_write_nothing(
    files: tuple[Path, list[Path]], tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    spect, masks = files
    out = tmp_path / "plan.yaml"
    with pytest.raises(PlanError, match=field):
        plan_from_maa_spect(spect, masks, lung="lung", out=out, **kwargs)  # type: ignore[arg-type]
    assert not out.exists()
