"""CLI of the imaging, kernel, work-up, cohort and outcome commands (end to end)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import yaml

from conftest import SHARED
from netlm.cli import main
from netlm.imaging.io import read_image, write_image
from netlm.voxel.phantom import liver_phantom

DATA = SHARED / "data" / "y90-pet-maa-spect"


@pytest.fixture(autouse=True)
def _kernel_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kernels are cached under XDG_CACHE_HOME: keep the tests out of the home directory.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def test_dose_images_on_the_real_pet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ldm"
    code = main(
        [
            "dose",
            "images",
            "--activity",
            str(DATA / "patient_1_Y90_PET.nrrd"),
            "--activity-unit",
            "Bq/mL",
            "--masks",
            str(DATA / "patient_1_Segmentation.seg.nrrd"),
            "--out",
            str(out),
            "--assume-implant-time-reference",
            "--format",
            "json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    reference = doc["activity"]["reference"]
    assert reference["assumed"] is True and reference["decay_factor"] == 1.0
    assert any("assumed" in w for w in doc["warnings"])
    # about 1.12 GBq in the field of view (shared/data/README.md)
    assert doc["total_activity_gbq"] == pytest.approx(1.12, rel=0.02)
    liver = doc["vois"]["Liver"]
    dose = read_image(out / "dose.nii.gz")
    mask_mean = liver["mean_gy"]
    assert 0 < mask_mean < dose.array.max()
    rt = pydicom.dcmread(out / "rtdose.dcm")
    assert rt.Modality == "RTDOSE" and rt.DoseUnits == "GY"
    assert float(rt.DoseGridScaling) * int(np.asarray(rt.pixel_array).max()) == pytest.approx(
        float(dose.array.max()), rel=1e-3
    )
    assert (out / "dvh.csv").read_text().count("\n") > 10
    assert (out / "dvh.png").read_bytes()[:4] == b"\x89PNG"


def test_dose_needs_units_or_activity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "dose",
            "images",
            "--activity",
            str(DATA / "patient_2_SPECT.nrrd"),
            "--masks",
            str(DATA / "patient_2_Segmentation.seg.nrrd"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "activity_gbq" in capsys.readouterr().err


def test_kernel_command_matches_lanconelli(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["kernel", "Y-90", "--voxel-mm", "4.42", "--histories", "50000", "--format", "json"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    # Lanconelli 2012, 4.42 mm soft tissue: S(0,0,0) = 0.689, S(1,0,0) = 0.0973
    assert doc["s_values"]["S(0,0,0)"] == pytest.approx(0.689, rel=0.03)
    assert doc["s_values"]["S(1,0,0)"] == pytest.approx(0.0973, rel=0.10)
    assert 0.99 < doc["energy_fraction"] <= 1.0
    assert main(["kernel", "I-131", "--voxel-mm", "4"]) == 2


def test_workup_from_phantom_images_to_a_plan(tmp_path: Path) -> None:
    phantom = liver_phantom(seed=1)
    spect = write_image(phantom.activity, tmp_path / "spect.nii.gz")
    masks = []
    for name in ("liver", "lung", *phantom.truth.tumour_to_normal_ratio):
        mask = phantom.masks[name]
        masks += [
            "--masks",
            str(
                write_image(
                    mask.with_array(mask.array.astype(np.uint8)), tmp_path / f"{name}.nii.gz"
                )
            ),
        ]
    tumours = [x for name in phantom.truth.tumour_to_normal_ratio for x in ("--tumour", name)]
    plan = tmp_path / "plan.yaml"
    assert (
        main(
            [
                "workup",
                "--spect",
                str(spect),
                *masks,
                "--lung",
                "lung",
                *tumours,
                "--tumour-dose-gy",
                "150",
                "--out",
                str(plan),
            ]
        )
        == 0
    )
    doc = yaml.safe_load(plan.read_text())
    assert doc["schema"] == "netlm/sirt-plan/v1"
    assert doc["lung_shunt_fraction"] == pytest.approx(phantom.truth.lung_shunt_fraction, rel=1e-6)
    assert main(["sirt", "plan", str(plan), "--format", "json"]) == 0


def test_cohort_generate_run_and_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = tmp_path / "cohort"
    assert main(["cohort", "generate", str(cohort), "--n", "24", "--seed", "5"]) == 0
    # corrupt exactly one case file
    cases = sorted((cohort / "cases").iterdir())
    bad = yaml.safe_load(cases[3].read_text())
    bad["patient"]["ecog"] = 9
    cases[3].write_text(yaml.safe_dump(bad))
    capsys.readouterr()
    code = main(
        [
            "cohort",
            "run",
            str(cohort / "manifest.yaml"),
            "--task",
            "assess",
            "--out",
            str(tmp_path / "out"),
            "--scheduler",
            "inline",
            "--format",
            "json",
        ]
    )
    assert code == 1  # finished, with one failure
    summary = json.loads(capsys.readouterr().out)
    assert [f["patient_id"] for f in summary["failures"]] == [bad["patient"]["id"]]
    assert summary["succeeded"] == 23
    assert (
        main(
            [
                "outcomes",
                "survival",
                str(cohort),
                "--strata",
                "grade",
                "--plot",
                str(tmp_path / "km.png"),
            ]
        )
        == 0
    )
    km = json.loads(capsys.readouterr().out)["kaplan_meier"]
    assert sum(g["n"] for g in km["groups"]) == 24
    assert (tmp_path / "km.png").exists()
    assert main(["outcomes", "evidence", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) > 50
