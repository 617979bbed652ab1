"""netlm.workflows.dose: the one dose pipeline of the CLI, the API and cohort runs.

Known truth: the liver phantom's activity at implant.  A post-treatment DICOM
PET is synthesised from it at 0, 24 and 48 h after the implant (values decay-
corrected to the series start, as scanners write them); the dose must be the
implant's whatever the delay.  Doses by local deposition have a closed form:
D = a · C / (ρ · 1e6) Gy for a concentration a in Bq/mL.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import yaml
from pydicom.uid import generate_uid

from conftest import SHARED
from netlm.cli import main
from netlm.cohort.runner import run_cohort
from netlm.errors import InputError
from netlm.imaging.activity import ACTIVITY_MISMATCH_TOLERANCE
from netlm.imaging.io import read_image, write_image
from netlm.sirt.physics import Physics
from netlm.sirt.radiobiology import PRESETS, bed_permanent_implant_gy
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryWarning
from netlm.voxel.phantom import Phantom, liver_phantom
from netlm.workflows.dose import compute_dose
from pacs.series import HALF_LIFE_H, IMPLANT, pet_series

PHYSICS = Physics()
GY_PER_BQ_ML = PHYSICS.dose_constant_gy_kg_per_gbq / 1e6  # at 1 g/mL
SPECT = SHARED / "data" / "y90-pet-maa-spect"


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return liver_phantom(shape_ijk=(40, 32, 48), spacing_mm=(6.0, 6.0, 6.0), seed=0)


@pytest.fixture(scope="module")
def mask_files(phantom: Phantom, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("masks")
    names = {"liver": "liver", "tumour_1": "tumour", "lung": "lung"}
    return [write_image(phantom.masks[k], folder / f"{v}.nii.gz") for k, v in names.items()]


def _liver_truth_gy(phantom: Phantom) -> float:
    liver = np.asarray(phantom.masks["liver"].array, dtype=bool)
    concentration = np.asarray(phantom.activity.array, dtype=np.float64)[liver]
    return float(concentration.mean()) * GY_PER_BQ_ML / PHYSICS.tissue_density_g_per_ml


def _image_gbq(phantom: Phantom) -> float:
    return float(phantom.activity.array.sum()) * phantom.activity.voxel_volume_ml / 1e9


def _pet(folder: Path, phantom: Phantom, *, delay_h: float, **options: Any) -> Path:
    """A PET series of the phantom taken ``delay_h`` after the implant (:func:`pet_series`)."""
    return pet_series(folder, phantom, generate_uid(), delay_h=delay_h, **options)


def _liver_gy(result_document: dict[str, object]) -> float:
    vois = result_document["vois"]
    assert isinstance(vois, dict)
    return float(vois["liver"]["mean_gy"])


# ---------------------------------------------------------------- activity at implant
@pytest.mark.parametrize("timezone_offset", ["+0100", None])
def test_a_pet_at_0_24_and_48_h_gives_the_implant_dose(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path, timezone_offset: str | None
) -> None:
    truth = _liver_truth_gy(phantom)
    doses = {}
    for delay in (0.0, 24.0, 48.0):
        pet = _pet(
            tmp_path / f"pet{delay:g}", phantom, delay_h=delay, timezone_offset=timezone_offset
        )
        result = compute_dose(pet, mask_files, None)
        doses[delay] = _liver_gy(result.document)
        reference = result.document["activity"]["reference"]
        assert reference["interval_h"] == pytest.approx(delay, abs=1e-9)
        assert reference["decay_factor"] == pytest.approx(2 ** (delay / HALF_LIFE_H), rel=1e-12)
    assert doses[0.0] == pytest.approx(truth, rel=1e-3)
    for delay in (24.0, 48.0):
        assert doses[delay] == pytest.approx(doses[0.0], rel=0.01)
        assert doses[delay] == pytest.approx(truth, rel=1e-3)


@pytest.mark.parametrize("correction", ["ADMIN", "NONE"])
def test_admin_and_none_corrections_give_the_implant_dose(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path, correction: str
) -> None:
    pet = _pet(tmp_path / "pet", phantom, delay_h=30.0, correction=correction)
    result = compute_dose(pet, mask_files, None)
    assert _liver_gy(result.document) == pytest.approx(_liver_truth_gy(phantom), rel=1e-3)
    factor = result.document["activity"]["reference"]["decay_factor"]
    assert factor == (1.0 if correction == "ADMIN" else pytest.approx(2 ** (30 / HALF_LIFE_H)))


def test_missing_times_are_refused_and_the_implant_time_can_be_given(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    pet = _pet(tmp_path / "pet", phantom, delay_h=24.0, administration=False)
    with pytest.raises(InputError) as info:
        compute_dose(pet, mask_files, None)
    assert info.value.fields == ["implant_time"]
    result = compute_dose(pet, mask_files, None, implant_time=IMPLANT)
    assert _liver_gy(result.document) == pytest.approx(_liver_truth_gy(phantom), rel=1e-3)
    with pytest.raises(InputError) as info:
        compute_dose(pet, mask_files, None, implant_time=IMPLANT, scan_time=IMPLANT)
    assert info.value.fields == ["scan_time"]
    with pytest.raises(InputError) as info:  # the image would precede the implant
        compute_dose(pet, mask_files, None, implant_time=IMPLANT + dt.timedelta(hours=25))
    assert info.value.fields == ["implant_time"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"correction": None}, "decay-corrected"),
        ({"correction": "OTHER"}, "decay-corrected"),
        ({"half_life_s": 6586.2}, "half-life"),  # 18F: not a 90Y activity
    ],
)
def test_pet_without_a_usable_decay_correction_is_refused(
    phantom: Phantom,
    mask_files: list[Path],
    tmp_path: Path,
    change: dict[str, object],
    message: str,
) -> None:
    pet = _pet(tmp_path / "pet", phantom, delay_h=24.0, **change)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        compute_dose(pet, mask_files, None)


@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_injected_activity_is_compared_with_the_image(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path, side: float
) -> None:
    total = _image_gbq(phantom) * 1e9
    inside = 1.0 + side * 0.9 * ACTIVITY_MISMATCH_TOLERANCE  # image / recorded
    outside = 1.0 + side * 1.1 * ACTIVITY_MISMATCH_TOLERANCE
    close = _pet(tmp_path / "a", phantom, delay_h=24.0, injected_bq=total / inside)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DosimetryWarning)
        document = compute_dose(close, mask_files[:2], None).document
    assert document["activity"]["recorded_activity_gbq"] == pytest.approx(total / inside / 1e9)
    assert document["activity"]["activity_mismatch"] == pytest.approx(inside - 1, abs=1e-4)
    assert document["warnings"] == []
    far = _pet(tmp_path / "b", phantom, delay_h=24.0, injected_bq=total / outside)
    with pytest.warns(DosimetryWarning, match="recorded"):
        document = compute_dose(far, mask_files[:2], None).document
    assert document["activity"]["activity_mismatch"] == pytest.approx(outside - 1, abs=1e-4)
    assert any("recorded" in w for w in document["warnings"])


def test_rt_dose_and_statistics_record_the_time_reference(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    pet = _pet(tmp_path / "pet", phantom, delay_h=24.0)
    out = tmp_path / "out"
    compute_dose(pet, mask_files, out)
    document = json.loads((out / "dose-statistics.json").read_text())
    activity = document["activity"]
    assert activity["unit_read"] == "Bq/mL" and activity["unit"] == "Bq/mL"
    assert activity["reference"]["implant_time"] == IMPLANT.isoformat()
    assert "START" in activity["reference"]["basis"]
    rt = pydicom.dcmread(out / "rtdose.dcm")
    assert f"{2 ** (24 / HALF_LIFE_H):.6g}" in rt.ImageComments
    assert IMPLANT.isoformat() in rt.ImageComments
    # No RT Plan exists: the dose refers to the PET it was computed from instead.
    assert "ReferencedRTPlanSequence" not in rt and rt.DoseSummationType == "PLAN_OVERVIEW"
    refs = rt.PlanOverviewSequence[0].ReferencedImageSequence
    pet_uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in pet.iterdir()}
    assert {r.ReferencedSOPInstanceUID for r in refs} == pet_uids
    assert rt.StudyInstanceUID == pydicom.dcmread(next(pet.iterdir())).StudyInstanceUID


def test_dose_map_is_gzipped_unless_told_not_to(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    pet = _pet(tmp_path / "pet", phantom, delay_h=0.0)
    out = tmp_path / "out"
    gzipped = compute_dose(pet, mask_files, out)
    assert gzipped.document["outputs"][0] == "dose.nii.gz"
    assert (out / "dose.nii.gz").read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    plain = compute_dose(pet, mask_files, out, compress=False)
    assert (out / "dose.nii").read_bytes()[:2] != b"\x1f\x8b"
    assert not (out / "dose.nii.gz").exists()  # the re-run leaves no stale map
    document = json.loads((out / "dose-statistics.json").read_text())
    assert document["outputs"][0] == "dose.nii"
    nii = read_image(out / "dose.nii")
    assert np.array_equal(nii.array, plain.dose.array.astype(nii.array.dtype))
    assert np.array_equal(gzipped.dose.array, plain.dose.array)


# ---------------------------------------------------------------- images without times
def test_nifti_needs_times_or_a_recorded_assumption(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    delay = 24.0
    later = phantom.activity.with_array(
        np.asarray(phantom.activity.array) * 2.0 ** (-delay / HALF_LIFE_H)
    )
    image = write_image(later, tmp_path / "pet.nii.gz")
    truth = _liver_truth_gy(phantom)
    scan = IMPLANT + dt.timedelta(hours=delay)
    result = compute_dose(
        image, mask_files, None, activity_unit="Bq/mL", implant_time=IMPLANT, scan_time=scan
    )
    assert _liver_gy(result.document) == pytest.approx(truth, rel=1e-9)
    for kwargs, field in (
        ({}, "implant_time"),
        ({"implant_time": IMPLANT}, "scan_time"),
        ({"scan_time": scan}, "implant_time"),
        ({"implant_time": scan, "scan_time": IMPLANT}, "scan_time"),
        ({"implant_time": IMPLANT, "scan_time": scan.replace(tzinfo=None)}, "scan_time"),
    ):
        with pytest.raises(InputError) as info:
            compute_dose(image, mask_files, None, activity_unit="Bq/mL", **kwargs)  # type: ignore[arg-type]
        assert info.value.fields == [field], kwargs
    with pytest.warns(DosimetryWarning, match="assumed"):
        assumed = compute_dose(
            image, mask_files, None, activity_unit="Bq/mL", assume_implant_time_reference=True
        )
    assert assumed.document["activity"]["reference"]["assumed"] is True
    assert _liver_gy(assumed.document) == pytest.approx(truth * 2 ** (-delay / HALF_LIFE_H))


@pytest.mark.parametrize(("unit", "per_bq_ml"), [("kBq/mL", 1e-3), ("MBq/mL", 1e-6)])
def test_kbq_and_mbq_per_ml_are_converted(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path, unit: str, per_bq_ml: float
) -> None:
    scaled = phantom.activity.with_array(np.asarray(phantom.activity.array) * per_bq_ml)
    image = write_image(scaled, tmp_path / "pet.nii.gz")
    with pytest.warns(DosimetryWarning, match="assumed"):
        result = compute_dose(
            image, mask_files, None, activity_unit=unit, assume_implant_time_reference=True
        )
    assert result.document["activity"]["unit_read"] == unit
    assert _liver_gy(result.document) == pytest.approx(_liver_truth_gy(phantom), rel=1e-6)


def test_activity_gbq_rescales_and_is_compared_with_the_image_at_implant(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    total = _image_gbq(phantom)
    result = compute_dose(image, mask_files, None, activity_unit="Bq/mL", activity_gbq=total)
    assert _liver_gy(result.document) == pytest.approx(_liver_truth_gy(phantom), rel=1e-9)
    assert "rescaled" in result.document["activity"]["reference"]["basis"]
    later = IMPLANT + dt.timedelta(hours=48)  # the image would hold 1.68× more at implant
    with pytest.warns(DosimetryWarning, match="recorded"):
        compute_dose(
            image,
            mask_files,
            None,
            activity_unit="Bq/mL",
            activity_gbq=total,
            implant_time=IMPLANT,
            scan_time=later,
        )


# ---------------------------------------------------------------- negative voxels
def test_negative_voxels_are_clipped_and_recorded(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    values = np.asarray(phantom.activity.array, dtype=np.float64).copy()
    outside = ~np.asarray(phantom.masks["body"].array, dtype=bool)
    corner = np.argwhere(outside)[:10]
    values[tuple(corner.T)] = -500.0
    image = write_image(phantom.activity.with_array(values), tmp_path / "noisy.nii.gz")
    out = tmp_path / "out"
    with pytest.warns(DosimetryWarning, match="10 negative voxels"):
        compute_dose(
            image, mask_files, out, activity_unit="Bq/mL", assume_implant_time_reference=True
        )
    document = json.loads((out / "dose-statistics.json").read_text())
    clipped = document["negative_voxels"]
    assert clipped["clipped_voxels"] == 10
    assert clipped["clipped_voxel_fraction"] == pytest.approx(10 / values.size)
    positive = float(values[values > 0].sum())
    assert clipped["clipped_activity_fraction"] == pytest.approx(5000.0 / positive)
    assert float(pydicom.dcmread(out / "rtdose.dcm").pixel_array.min()) == 0.0


def test_dose_images_on_the_real_maa_spect_with_negative_voxels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "spect"
    code = main(
        [
            "dose",
            "images",
            "--activity",
            str(SPECT / "patient_2_SPECT.nrrd"),
            "--masks",
            str(SPECT / "patient_2_Segmentation.seg.nrrd"),
            "--activity-gbq",
            "1.5",
            "--out",
            str(out),
            "--format",
            "json",
        ]
    )
    assert code == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)
    assert document["negative_voxels"]["clipped_voxels"] > 0
    assert document["total_activity_gbq"] == pytest.approx(1.5, rel=1e-9)
    assert pydicom.dcmread(out / "rtdose.dcm").Modality == "RTDOSE"


def test_cli_refuses_times_without_an_offset(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    args = ["dose", "images", "--activity", str(image), "--out", str(tmp_path / "o")]
    args += [a for m in mask_files for a in ("--masks", str(m))]
    args += ["--activity-unit", "Bq/mL", "--implant-time", IMPLANT.isoformat()]
    assert main([*args, "--scan-time", "2026-03-03T09:30:00"]) == 2
    assert "scan_time" in capsys.readouterr().err
    assert main([*args, "--scan-time", "2026-03-03T09:30:00+01:00", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["activity"]["reference"]["interval_h"] == pytest.approx(24.0)


# ---------------------------------------------------------------- radiobiology
def test_bed_and_eud_per_region(phantom: Phantom, mask_files: list[Path], tmp_path: Path) -> None:
    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    with pytest.warns(DosimetryWarning, match="assumed"):
        result = compute_dose(
            image, mask_files, None, activity_unit="Bq/mL", assume_implant_time_reference=True
        )
    vois = result.document["vois"]
    # The tumour is a uniform sphere: one dose D, BED (Dale) and EUD = D.
    tumour = vois["tumour"]
    dose = tumour["mean_gy"]
    assert tumour["sd_gy"] == pytest.approx(0.0, abs=1e-9 * dose)
    preset = PRESETS["tumour"]
    t_rep, t_phys = preset.repair_half_time_h, HALF_LIFE_H
    expected = dose * (1 + dose * t_rep / ((t_rep + t_phys) * preset.alpha_beta_gy))
    assert tumour["radiobiology"]["preset"] == "tumour"
    assert tumour["radiobiology"]["bed_mean_gy"] == pytest.approx(expected, rel=1e-9)
    assert tumour["radiobiology"]["eud_gy"] == pytest.approx(dose, rel=1e-9)
    # The liver holds two concentrations: mean BED of the voxels, no EUD (no α).
    liver = vois["liver"]["radiobiology"]
    mask = np.asarray(phantom.masks["liver"].array, dtype=bool)
    voxel_doses = result.dose.array[mask]
    beds = [
        bed_permanent_implant_gy(
            float(d),
            alpha_beta_gy=PRESETS["normal_liver"].alpha_beta_gy,
            repair_half_time_h=PRESETS["normal_liver"].repair_half_time_h,
            physical_half_life_h=HALF_LIFE_H,
        )
        for d in np.unique(voxel_doses)
    ]
    counts = [int(np.sum(voxel_doses == d)) for d in np.unique(voxel_doses)]
    assert liver["preset"] == "normal_liver" and liver["eud_gy"] is None
    assert liver["bed_mean_gy"] == pytest.approx(np.average(beds, weights=counts), rel=1e-9)
    assert vois["lung"]["radiobiology"]["preset"] is None


# ---------------------------------------------------------------- one pipeline
def test_cli_api_and_cohort_give_one_dose_on_one_phantom(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One phantom through the three front doors: the same mean dose in every region."""
    from fastapi.testclient import TestClient

    from netlm.api import create_app
    from netlm.store import Role, Store

    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    (tmp_path / "case.yaml").write_text("schema: netlm/case/v1\n")
    manifest = tmp_path / "manifest.yaml"
    patient = {
        "patient_id": "P1",
        "case": "case.yaml",
        "activity_image": str(image),
        "masks": {_stem(m): str(m) for m in mask_files},
    }
    manifest.write_text(
        yaml.safe_dump({"schema": "netlm/cohort-manifest/v1", "patients": [patient]})
    )
    # 1. a cohort run (the values are Bq/mL at implant)
    summary = run_cohort(manifest, "dose", out_dir=tmp_path / "cohort", scheduler="inline")
    assert summary.failures == ()
    import pandas as pd

    row = pd.read_parquet(tmp_path / "cohort" / "results.parquet").iloc[0]
    # 2. the CLI, told the same
    args = ["dose", "images", "--activity", str(image), "--out", str(tmp_path / "cli")]
    args += [a for m in mask_files for a in ("--masks", str(m))]
    args += ["--activity-unit", "Bq/mL", "--assume-implant-time-reference", "--format", "json"]
    assert main(args) == 0
    cli = json.loads(capsys.readouterr().out)["vois"]
    # 3. the API on a registry file: the images uploaded, the dose posted.  The API takes no
    # unit for a NIfTI image; it is told the image's activity at implant instead.
    store = Store(f"sqlite:///{tmp_path / 'registry.db'}")
    store.create_user("physicist", "phantom-dose-pw-1", Role.PHYSICIST, actor="test")
    app = create_app(store, secret_key="three-doors-" * 4, files_dir=tmp_path / "files")
    with TestClient(app) as client:
        login = {"username": "physicist", "password": "phantom-dose-pw-1"}
        token = client.post("/api/v1/auth/token", json=login).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        pid = client.post("/api/v1/patients", json={"external_id": "P1"}, headers=auth).json()["id"]

        def upload(path: Path, kind: str) -> int:
            with path.open("rb") as handle:
                r = client.post(
                    f"/api/v1/patients/{pid}/images",
                    data={"kind": kind},
                    files={"file": (path.name, handle, "application/octet-stream")},
                    headers=auth,
                )
            assert r.status_code == 201, r.text
            return int(r.json()["id"])

        body = {
            "activity_image_id": upload(image, "y90_pet"),
            "mask_image_ids": [upload(m, "segmentation") for m in mask_files],
            "activity_gbq": _image_gbq(phantom),
        }
        r = client.post(f"/api/v1/patients/{pid}/dose", json=body, headers=auth)
        assert r.status_code == 201, r.text
        api = r.json()["statistics"]["vois"]
    store.close()

    assert set(api) == set(cli) == {"liver", "tumour", "lung", "normal_liver"}
    for name in cli:
        assert row[f"mean_dose_gy_{name}"] == cli[name]["mean_gy"], name
        assert row[f"d70_gy_{name}"] == cli[name]["d70_gy"], name
        assert api[name]["mean_gy"] == pytest.approx(cli[name]["mean_gy"], rel=1e-9), name
        assert api[name]["d70_gy"] == pytest.approx(cli[name]["d70_gy"], rel=1e-9), name
    # The lung dose is the lung's at lung density (0.30 g/mL) through every door.
    lung = np.asarray(phantom.masks["lung"].array, dtype=bool)
    lung_truth = float(np.asarray(phantom.activity.array)[lung].mean()) * GY_PER_BQ_ML / 0.30
    for door in (row["mean_dose_gy_lung"], cli["lung"]["mean_gy"], api["lung"]["mean_gy"]):
        assert door == pytest.approx(lung_truth, rel=1e-9)
    # ... and the liver's at tissue density.
    assert math.isclose(cli["liver"]["mean_gy"], _liver_truth_gy(phantom), rel_tol=1e-9)


def _stem(path: Path) -> str:
    return path.name.removesuffix(".nii.gz")


def test_masks_that_select_nothing_are_named(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    empty = write_image(
        phantom.masks["liver"].with_array(np.zeros(phantom.activity.array.shape, dtype=bool)),
        tmp_path / "empty.nii.gz",
    )
    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    with pytest.raises(InputError) as info:
        compute_dose(
            image,
            [*mask_files, ("nothing", empty)],
            None,
            activity_unit="Bq/mL",
            assume_implant_time_reference=True,
        )
    assert info.value.fields == ["masks.nothing"]


def test_dose_of_a_known_block(tmp_path: Path) -> None:
    volume = ImageVolume(np.full((6, 6, 6), 2.0e6), (4.0, 4.0, 4.0), unit="Bq/mL")
    image = write_image(volume, tmp_path / "a.nii.gz")
    mask = write_image(volume.with_array(np.ones((6, 6, 6), dtype=bool)), tmp_path / "m.nii.gz")
    with pytest.warns(DosimetryWarning):
        result = compute_dose(
            image, [mask], None, activity_unit="Bq/mL", assume_implant_time_reference=True
        )
    expected = 2.0e6 * GY_PER_BQ_ML / PHYSICS.tissue_density_g_per_ml
    assert result.document["vois"]["m"]["mean_gy"] == pytest.approx(expected, rel=1e-12)


def test_zone_less_dicom_times_are_read_in_the_zone_of_the_given_implant_time(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    pet = _pet(tmp_path / "pet", phantom, delay_h=24.0, administration=False, timezone_offset=None)
    result = compute_dose(pet, mask_files[:1], None, implant_time=IMPLANT)
    reference = result.document["activity"]["reference"]
    assert reference["interval_h"] == pytest.approx(24.0)
    assert "zone of the implant time" in reference["basis"]
    assert _liver_gy(result.document) == pytest.approx(_liver_truth_gy(phantom), rel=1e-3)


def test_the_convention_cites_registered_sources() -> None:
    from netlm.evidence import get_source
    from netlm.imaging.activity import SOURCE_IDS

    certainty = {s: get_source(s).certainty.value for s in SOURCE_IDS}
    assert certainty["image_activity_check"] == "U"


@dataclass(frozen=True)
class _DeltaKernel:
    """A kernel that deposits every decay's energy in its own voxel (DVK = LDM)."""

    voxel_mm: tuple[float, float, float]
    density_g_per_ml: float = PHYSICS.tissue_density_g_per_ml
    source: str = "delta test kernel"

    @property
    def values(self) -> np.ndarray:
        values = np.zeros((3, 3, 3))
        values[1, 1, 1] = 1.0  # rescaled to the planning constant's energy per decay
        return values

    def energy_fraction(self) -> float:
        return 1.0


def test_kernel_dose_uses_the_lung_density_as_local_deposition_does(
    phantom: Phantom, mask_files: list[Path], tmp_path: Path
) -> None:
    image = write_image(phantom.activity, tmp_path / "pet.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DosimetryWarning)  # the recorded assumption
        ldm = compute_dose(
            image, mask_files, None, activity_unit="Bq/mL", assume_implant_time_reference=True
        ).document["vois"]
        dvk = compute_dose(
            image,
            mask_files,
            None,
            method="dvk",
            kernel=_DeltaKernel(phantom.activity.spacing_mm),
            activity_unit="Bq/mL",
            assume_implant_time_reference=True,
        ).document["vois"]
    for name in ("liver", "tumour", "lung"):
        assert dvk[name]["mean_gy"] == pytest.approx(ldm[name]["mean_gy"], rel=1e-5), name
