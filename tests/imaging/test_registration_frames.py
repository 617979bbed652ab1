"""Masks and functional images in another frame of reference than the CT or the activity image.

Known truth: a real volume (the bundled 90Y PET, the bundled abdominal CT)
moved by a known rigid shift and labelled another frame.  The registration
must recover the shift within one voxel; masks drawn on the moved CT must come
back onto the activity image through the CT's registration (confirmed or
computed here); every frame mismatch without a registration is refused
naming both frames; what was applied is recorded in ``dose-statistics.json``.
(A DICOM SEG in a third frame: ``tests/pacs/test_dicom_results.py``.)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from netlm.cli import main
from netlm.errors import InputError
from netlm.imaging.io import read_image, read_masks, write_image
from netlm.imaging.registration import RigidTransform, apply_rigid
from netlm.volume import ImageVolume
from netlm.workflows.dose import CHECK_IMAGE, compute_dose

DATA = Path(__file__).resolve().parents[1] / "data" / "shared" / "data"
PET = DATA / "y90-pet-maa-spect" / "patient_1_Y90_PET.nrrd"
CT = DATA / "abdomen-ct" / "example_ct_sm.nii.gz"
CT_SEG = DATA / "abdomen-ct" / "example_seg.nii.gz"
LIVER = {5: "liver"}  # TotalSegmentator's liver label
ACTIVITY_FRAME, CT_FRAME = "1.2.826.0.1.5", "1.2.826.0.1.1"
#: The known shift (mm, LPS), not a whole number of voxels.
SHIFT = (7.5, -4.5, 6.0)
#: The shift of the CT and its masks: whole 3 mm voxels, so that nearest-neighbour
#: resampling there and back is exact (only what leaves the field of view is lost).
CT_SHIFT = (6.0, -3.0, 9.0)


def _dice(a: ImageVolume, b: ImageVolume) -> float:
    x, y = np.asarray(a.array, dtype=bool), np.asarray(b.array, dtype=bool)
    return float(2 * np.count_nonzero(x & y) / (np.count_nonzero(x) + np.count_nonzero(y)))


def _crop_to_activity(volume: ImageVolume, margin: int = 8) -> ImageVolume:
    """``volume`` cut to the box of its voxels above 5 % of the maximum (plus ``margin``)."""
    a = np.asarray(volume.array)
    hot = np.argwhere(a > 0.05 * a.max())
    lo = np.maximum(hot.min(axis=0) - margin, 0)
    hi = np.minimum(hot.max(axis=0) + margin + 1, a.shape)
    direction = np.asarray(volume.direction, dtype=float).reshape(3, 3)
    shift = direction @ (np.array([lo[2], lo[1], lo[0]]) * np.asarray(volume.spacing_mm))
    return dataclasses.replace(
        volume,
        array=np.ascontiguousarray(a[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]),
        origin_mm=tuple(float(v) for v in np.asarray(volume.origin_mm) + shift),
    )


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, str], None]:
    """Give NIfTI files a Frame of Reference UID (NIfTI has none) as DICOM would."""
    import netlm.imaging.io as io

    real = io.read_image
    by_path: dict[Path, str] = {}

    def with_frames(path: Path, **kw: Any) -> ImageVolume:
        image = real(path, **kw)
        frame = by_path.get(Path(path))
        return dataclasses.replace(image, frame_of_reference_uid=frame) if frame else image

    monkeypatch.setattr(io, "read_image", with_frames)

    def assign(path: Path, frame: str) -> None:
        by_path[Path(path)] = frame

    return assign


def test_functional_image_shift_is_recovered_within_one_voxel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real 90Y PET (cut to the activity for speed) and the same PET moved by SHIFT.
    pet = _crop_to_activity(read_image(PET, unit="Bq/mL"))
    moved = apply_rigid(pet, pet, RigidTransform((0.0, 0.0, 0.0), SHIFT))
    write_image(pet, tmp_path / "pet.nii.gz")
    write_image(moved, tmp_path / "moved.nii.gz")
    out = tmp_path / "reg.json"
    args = ["dose", "register", "--fixed", str(tmp_path / "pet.nii.gz")]
    assert main([*args, "--moving", str(tmp_path / "moved.nii.gz"), "--out", str(out)]) == 0
    found = RigidTransform.read(out)
    # moved(p) = pet(p + SHIFT): the fixed -> moving map is p -> p - SHIFT.
    error = np.abs(np.asarray(found.translation_mm) + np.asarray(SHIFT))
    assert np.all(error < np.asarray(pet.spacing_mm)), found.translation_mm
    assert np.all(np.abs(found.rotation_rad) < np.radians(1))
    assert found.confirmed_by is None
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def moved_ct(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The CT and its liver moved by SHIFT (the 'planning CT'), and an activity on the CT."""
    folder = tmp_path_factory.mktemp("frames")
    ct = read_image(CT)
    liver = read_masks(CT_SEG, labels=LIVER)["liver"]
    known = RigidTransform((0.0, 0.0, 0.0), CT_SHIFT)
    activity = ct.with_array(np.where(ct.array > -200, 1000.0, 0.0), unit="Bq/mL")
    paths = {
        "activity": write_image(activity, folder / "pet.nii.gz"),
        "ct": write_image(apply_rigid(ct, ct, known), folder / "ct-moved.nii.gz"),
        "liver": write_image(
            apply_rigid(liver.with_array(liver.array.astype(np.uint8)), ct, known, kind="label"),
            folder / "liver.nii.gz",
        ),
    }
    return {"paths": paths, "liver": liver, "ct": ct}


def test_masks_on_a_ct_in_another_frame_need_its_registration(
    moved_ct: dict[str, Any], frames: Callable[[Path, str], None], tmp_path: Path
) -> None:
    paths = moved_ct["paths"]
    frames(paths["activity"], ACTIVITY_FRAME)
    frames(paths["ct"], CT_FRAME)
    common: dict[str, Any] = {"ct_path": paths["ct"], "activity_gbq": 1.0, "masks_on_ct": True}
    with pytest.raises(InputError) as info:
        compute_dose(paths["activity"], [paths["liver"]], None, **common)
    field, message = info.value.problems[0]
    assert field == "masks.liver"
    assert CT_FRAME in message and ACTIVITY_FRAME in message
    # Declared on the CT but no CT: refused, not taken to be in the activity's frame.
    with pytest.raises(InputError) as info:
        compute_dose(paths["activity"], [paths["liver"]], None, activity_gbq=1.0, masks_on_ct=True)
    assert info.value.problems[0][0] == "masks_on_ct"

    # Confirmed registration (the exact inverse of the shift): the liver is back in place.
    confirmed = RigidTransform(
        (0.0, 0.0, 0.0),
        tuple(-v for v in CT_SHIFT),  # type: ignore[arg-type]
        fixed_frame=ACTIVITY_FRAME,
        moving_frame=CT_FRAME,
        confirmed_by="physicist1",
    )
    result = compute_dose(
        paths["activity"], [paths["liver"]], tmp_path / "a", ct_registration=confirmed, **common
    )
    assert _dice(result.masks["liver"], moved_ct["liver"]) > 0.97
    recorded = json.loads((tmp_path / "a" / "dose-statistics.json").read_text())["registration"]
    assert recorded["ct"]["applied_to"] == ["ct", "liver"]
    assert recorded["ct"]["confirmed_by"] == "physicist1"
    assert not any("names no one" in w for w in result.document["warnings"])
    assert recorded["ct"]["computed_here"] is False
    assert "masks" not in recorded


def test_ct_and_its_masks_registered_here_are_recorded_unconfirmed(
    moved_ct: dict[str, Any], frames: Callable[[Path, str], None], tmp_path: Path
) -> None:
    paths = moved_ct["paths"]
    frames(paths["activity"], ACTIVITY_FRAME)
    frames(paths["ct"], CT_FRAME)
    out = tmp_path / "b"
    with pytest.warns(UserWarning, match="not confirmed"):
        result = compute_dose(
            paths["activity"],
            [paths["liver"]],
            out,
            ct_path=paths["ct"],
            activity_gbq=1.0,
            masks_on_ct=True,
            register=True,
        )
    record = result.document["registration"]["ct"]
    error = np.abs(np.asarray(record["translation_mm"]) + np.asarray(CT_SHIFT))
    assert np.all(error < np.asarray(moved_ct["ct"].spacing_mm)), record["translation_mm"]
    assert (record["method"], record["confirmed_by"], record["computed_here"]) == (
        "mattes-mi-rigid",
        None,
        True,
    )
    assert (record["fixed_frame"], record["moving_frame"]) == (ACTIVITY_FRAME, CT_FRAME)
    assert record["applied_to"] == ["ct", "liver"]
    assert (out / CHECK_IMAGE).read_bytes()[:4] == b"\x89PNG"
    assert any("not confirmed" in w for w in result.document["warnings"])
    assert _dice(result.masks["liver"], moved_ct["liver"]) > 0.9


def test_workup_ct_is_resampled_in_its_frame_or_refused(
    frames: Callable[[Path, str], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``netlm workup --ct``: a SPECT/CT's CT on its own (finer) grid, then in another frame."""
    from netlm.voxel.phantom import liver_phantom
    from netlm.voxel.workup import lung_mass

    phantom = liver_phantom(seed=1)
    spect = write_image(phantom.activity, tmp_path / "spect.nii.gz")
    masks: list[str] = []
    for name in ("liver", "lung"):
        mask = phantom.masks[name]
        path = write_image(mask.with_array(mask.array.astype(np.uint8)), tmp_path / f"{name}.nii")
        masks += ["--masks", str(path)]
    # The CT on a grid of half the voxel size, as a SPECT/CT's CT usually is: each voxel
    # split in eight, so that linear resampling back onto the SPECT grid is exact.
    grid = phantom.ct
    fine_spacing = tuple(v / 2 for v in grid.spacing_mm)
    fine = ImageVolume(
        array=np.repeat(np.repeat(np.repeat(grid.array, 2, 0), 2, 1), 2, 2),
        spacing_mm=fine_spacing,  # type: ignore[arg-type]
        origin_mm=tuple(o - s / 2 for o, s in zip(grid.origin_mm, fine_spacing, strict=True)),  # type: ignore[arg-type]
        direction=grid.direction,
        unit=grid.unit,
    )
    ct = write_image(fine, tmp_path / "ct.nii.gz")
    plan = tmp_path / "plan.yaml"
    args = ["workup", "--spect", str(spect), *masks, "--lung", "lung", "--ct", str(ct)]
    args += ["--normal-liver-dose-gy", "40", "--out", str(plan)]
    assert main(args) == 0
    expected = lung_mass(phantom.masks["lung"], ct=phantom.ct).mass_kg
    found = float(yaml_load(plan)["lung_mass_kg"])
    assert found == pytest.approx(expected, rel=1e-6)
    # The same CT declared in another frame than the SPECT: refused, naming both frames.
    frames(spect, ACTIVITY_FRAME)
    frames(ct, CT_FRAME)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert CT_FRAME in err and ACTIVITY_FRAME in err
    identity = tmp_path / "reg.json"
    identity.write_text(json.dumps(RigidTransform((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)).as_dict()))
    assert main([*args, "--ct-registration", str(identity)]) == 0
    assert float(yaml_load(plan)["lung_mass_kg"]) == pytest.approx(found, rel=1e-9)


def yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data
