"""Rigid registration (Mattes MI) and the refusal to resample across frames of reference."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from netlm.errors import GeometryError, InputError
from netlm.imaging.io import read_image, write_image
from netlm.imaging.registration import (
    RigidTransform,
    apply_rigid,
    register_rigid,
    resample_in_frame,
)
from netlm.volume import ImageVolume
from netlm.workflows.dose import compute_dose

DATA = Path(__file__).resolve().parents[1] / "data" / "shared" / "data"
CT = DATA / "abdomen-ct" / "example_ct_sm.nii.gz"


@pytest.fixture(scope="module")
def ct() -> ImageVolume:
    return dataclasses.replace(read_image(CT), frame_of_reference_uid="1.2.826.0.1.1")


def test_recovers_a_known_rigid_shift_within_one_voxel(ct: ImageVolume) -> None:
    # Move the anatomy by t (not a whole number of voxels) and label it another frame.
    t = (7.5, -4.5, 6.0)
    known = RigidTransform(rotation_rad=(0.0, 0.0, 0.0), translation_mm=t)
    moved = dataclasses.replace(apply_rigid(ct, ct, known), frame_of_reference_uid="1.2.826.0.1.2")
    found = register_rigid(ct, moved)
    # moved(p) = ct(p + t), so the fixed -> moving map is p -> p - t.
    error = np.asarray(found.translation_mm) + np.asarray(t)
    assert np.all(np.abs(error) < np.asarray(ct.spacing_mm)), found.translation_mm
    assert np.all(np.abs(found.rotation_rad) < np.radians(2))
    assert found.fixed_frame == "1.2.826.0.1.1"
    assert found.moving_frame == "1.2.826.0.1.2"
    assert found.method == "mattes-mi-rigid"
    # Resampled through it, the moved CT lies on the original again (inside the overlap).
    back = apply_rigid(moved, ct, found)
    inner = (slice(4, -4), slice(8, -8), slice(8, -8))
    before = np.abs(moved.array[inner] - ct.array[inner]).mean()
    after = np.abs(back.array[inner] - ct.array[inner]).mean()
    assert after < 0.5 * before
    assert back.frame_of_reference_uid == ct.frame_of_reference_uid
    recorded: Any = back.metadata["registration"]
    assert recorded["translation_mm"] == list(found.translation_mm)


def test_transform_record_round_trips_and_matrix_is_rigid() -> None:
    t = RigidTransform(
        rotation_rad=(0.1, -0.05, 0.2), translation_mm=(1.0, 2.0, 3.0), centre_mm=(10, 0, -5)
    )
    back = RigidTransform.from_mapping(json.loads(json.dumps(t.as_dict())))
    assert back == t
    m = t.matrix()
    assert np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3))
    # The centre maps to centre + translation.
    assert np.allclose(m @ np.array([10, 0, -5, 1.0]), [11, 2, -2, 1])


@pytest.mark.parametrize(
    ("field", "record"),
    [
        ("registration.translation_mm", {"translation_mm": [600, 0, 0]}),
        ("registration.rotation_rad", {"translation_mm": [0, 0, 0], "rotation_rad": [4, 0, 0]}),
        ("registration", {"rotation_rad": [0, 0, 0]}),
    ],
)
def test_implausible_or_incomplete_transforms_are_refused(
    field: str, record: dict[str, object]
) -> None:
    with pytest.raises(InputError) as info:
        RigidTransform.from_mapping(record)
    assert info.value.problems[0][0] == field


def test_no_silent_resampling_across_frames(ct: ImageVolume) -> None:
    other = dataclasses.replace(ct, frame_of_reference_uid="1.2.826.0.1.9")
    # Even on the same grid: the frames differ, so the millimetres do not match.
    with pytest.raises(GeometryError, match="ct: frame of reference"):
        resample_in_frame(other, ct, what="ct")
    same = resample_in_frame(other, ct, what="ct", transform=RigidTransform((0, 0, 0), (0, 0, 0)))
    assert same.frame_of_reference_uid == ct.frame_of_reference_uid


def _dose_inputs(tmp_path: Path, ct: ImageVolume) -> tuple[Path, Path, Path]:
    activity = ct.with_array(np.where(ct.array > -200, 1000.0, 0.0), unit="Bq/mL")
    activity = dataclasses.replace(activity, frame_of_reference_uid="1.2.826.0.1.5")
    mask = activity.with_array((activity.array > 0).astype(np.uint8), unit="label")
    paths = tmp_path / "pet.nii.gz", tmp_path / "liver.nii.gz", tmp_path / "ct.nii.gz"
    write_image(activity, paths[0])
    write_image(mask, paths[1])
    write_image(ct, paths[2])
    return paths


def test_compute_dose_refuses_a_ct_in_another_frame_unless_registered(
    tmp_path: Path, ct: ImageVolume, monkeypatch: pytest.MonkeyPatch
) -> None:
    pet, liver, ct_path = _dose_inputs(tmp_path, ct)
    import netlm.imaging.io as io

    real = io.read_image
    frames = {pet: "1.2.826.0.1.5", ct_path: "1.2.826.0.1.1"}

    def with_frames(path: Path, **kw: object) -> ImageVolume:
        image = real(path, **kw)  # type: ignore[arg-type]
        frame = frames.get(Path(path))
        return dataclasses.replace(image, frame_of_reference_uid=frame) if frame else image

    monkeypatch.setattr(io, "read_image", with_frames)
    common = {"ct_path": ct_path, "activity_gbq": 1.0}
    with pytest.raises(InputError) as info:
        compute_dose(pet, [liver], None, **common)  # type: ignore[arg-type]
    assert info.value.problems[0][0] == "ct"
    assert "register" in info.value.problems[0][1]
    transform = RigidTransform((0, 0, 0), (0.0, 0.0, 0.0), method="given")
    result = compute_dose(
        pet,
        [liver],
        tmp_path / "out",
        ct_registration=transform,
        **common,  # type: ignore[arg-type]
    )
    recorded = json.loads((tmp_path / "out" / "dose-statistics.json").read_text())
    assert recorded["registration"]["ct"]["translation_mm"] == [0.0, 0.0, 0.0]
    assert result.document["registration"]["ct"]["method"] == "given"
    # Nobody confirmed it: used as given, and said so.
    assert any("names no one who confirmed it" in w for w in result.document["warnings"])


def test_cli_register_writes_transform_and_check_image(
    tmp_path: Path, ct: ImageVolume, capsys: pytest.CaptureFixture[str]
) -> None:
    from netlm.cli import main

    t = (0.0, 9.0, -6.0)
    moved = apply_rigid(ct, ct, RigidTransform((0.0, 0.0, 0.0), t))
    write_image(moved, tmp_path / "moved.nii.gz")
    out = tmp_path / "reg.json"
    args = ["dose", "register", "--fixed", str(CT), "--moving", str(tmp_path / "moved.nii.gz")]
    code = main([*args, "--out", str(out), "--confirmed-by", "physicist1"])
    assert code == 0
    record = RigidTransform.read(out)
    assert np.all(np.abs(np.asarray(record.translation_mm) + t) < np.asarray(ct.spacing_mm))
    assert record.confirmed_by == "physicist1"
    check = out.with_suffix(".png")
    assert check.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "before use" in capsys.readouterr().out
