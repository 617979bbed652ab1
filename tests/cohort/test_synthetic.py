"""Synthetic cohorts: valid files, reproducible bytes, and a truth the data give back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netlm.case import load_case
from netlm.cohort.manifest import load_manifest
from netlm.cohort.synthetic import (
    LAB_COLUMNS,
    LESION_COLUMNS,
    OBSERVATION_COLUMNS,
    PATIENT_COLUMNS,
    SyntheticCohort,
    generate_cohort,
)
from netlm.response.io import load_response
from netlm.response.report import assess_response
from netlm.sirt.plan import load_plan
from netlm.sirt.planner import solve

SMALL_IMAGES = {"images": True, "image_shape": (16, 24, 28), "voxel_mm": 8.0}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCohort:
    return generate_cohort(tmp_path_factory.mktemp("syn"), 24, seed=3, **SMALL_IMAGES)


def relative_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (intercept, slope) of P(y=1) = 1 / (1 + exp(-(a + b x)))."""
    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        hessian = design.T @ (design * (p * (1.0 - p))[:, None])
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[0]), float(beta[1])


# ---------------------------------------------------------------------------- validity
def test_every_document_validates_with_netlms_parsers(cohort: SyntheticCohort) -> None:
    manifest = load_manifest(cohort.manifest, check_files=True)
    assert tuple(p.patient_id for p in manifest) == cohort.patient_ids
    plans = 0
    for entry in manifest:
        case = load_case(entry.case)
        assert case.patient.id == entry.patient_id
        assert entry.response is not None
        report = assess_response(load_response(entry.response))
        assert {r.criterion for r in report.results} == {"recist1.1", "mrecist"}
        if entry.plan is not None:
            plans += 1
            result = solve(load_plan(entry.plan))
            assert result.case == entry.patient_id
            assert result.session_lung_dose_gy < 30.0
            assert entry.activity_image is not None and entry.activity_image.is_file()
            assert [name for name, _ in entry.masks] == ["liver", "tumour"]
        else:
            assert entry.activity_image is None and entry.masks == ()
    assert 0 < plans < len(manifest)


def test_tables_have_exactly_the_cohort_data_columns(cohort: SyntheticCohort) -> None:
    for name, columns in (
        ("patients.csv", PATIENT_COLUMNS),
        ("lesions.csv", LESION_COLUMNS),
        ("labs.csv", LAB_COLUMNS),
        ("observations.csv", OBSERVATION_COLUMNS),
    ):
        header = (cohort.root / name).read_text().splitlines()[0]
        assert tuple(header.split(",")) == columns, name
    patients = pd.read_csv(cohort.root / "patients.csv", dtype=str, keep_default_na=False)
    assert list(patients["patient_id"]) == list(cohort.patient_ids)
    assert set(patients["sex"]) <= {"female", "male"}
    assert set(patients["grade"]) <= {"NET G1", "NET G2", "NET G3", "NEC"}
    assert set(patients["extrahepatic_disease"]) <= {"none", "limited", "extensive"}
    assert set(patients["prior_prrt"]) <= {"true", "false"}
    assert set(patients["hepatotoxicity_grade3plus"]) <= {"true", "false"}
    ctace = patients["modality"] == "ctace"
    assert (patients.loc[ctace, "device"] == "").all()
    assert (patients.loc[ctace, "normal_liver_dose_gy"] == "").all()
    assert set(patients.loc[~ctace, "device"]) <= {"resin", "glass"}
    lesions = pd.read_csv(cohort.root / "lesions.csv", dtype=str, keep_default_na=False)
    assert set(lesions["response_recist"]) <= {"CR", "PR", "SD", "PD", "NE"}
    assert set(lesions["response_mrecist"]) <= {"CR", "PR", "SD", "PD", "NE"}
    labs = pd.read_csv(cohort.root / "labs.csv")
    assert set(labs["analyte"]) == {
        "bilirubin",
        "ast",
        "alt",
        "albumin",
        "platelets",
        "inr",
        "creatinine",
    }
    observations = pd.read_csv(cohort.root / "observations.csv")
    assert set(observations["kind"]) == {"ascites", "spleen_volume_ml"}


def test_dates_are_consistent(cohort: SyntheticCohort) -> None:
    patients = pd.read_csv(cohort.root / "patients.csv", dtype=str, keep_default_na=False)
    for row in patients.itertuples():
        start = dt.date.fromisoformat(row.treatment_date)
        last = dt.date.fromisoformat(row.last_followup_date)
        assert start < last
        if row.death_date:
            assert row.death_date == row.last_followup_date
        for column in ("hepatic_progression_date", "progression_date"):
            value = getattr(row, column)
            if value:
                assert start < dt.date.fromisoformat(value) <= last
        if row.hepatic_progression_date:
            assert row.progression_date <= row.hepatic_progression_date


def test_follow_up_tables_agree_with_the_documents(cohort: SyntheticCohort) -> None:
    patients = pd.read_csv(cohort.root / "patients.csv", dtype=str, keep_default_na=False)
    lesions = pd.read_csv(cohort.root / "lesions.csv", dtype=str, keep_default_na=False)
    labs = pd.read_csv(cohort.root / "labs.csv")
    manifest = load_manifest(cohort.manifest)
    for row in patients.itertuples():
        entry = manifest.patient(row.patient_id)
        case = load_case(entry.case)
        assert entry.response is not None
        recist = assess_response(load_response(entry.response)).result("recist1.1")
        progression = recist.endpoints.progression_date
        assert (progression.isoformat() if progression else "") == row.progression_date
        ids = list(lesions.loc[lesions["patient_id"] == row.patient_id, "lesion_id"])
        assert ids == [lesion.id for lesion in case.liver.lesions]
        bilirubin = labs[(labs["patient_id"] == row.patient_id) & (labs["analyte"] == "bilirubin")]
        grade3 = bool((bilirubin["value"] > 3 * bilirubin["uln"]).any())
        assert grade3 == (row.hepatotoxicity_grade3plus == "true")
        if entry.plan is not None:
            result = solve(load_plan(entry.plan))
            doses = result.territories[0].tumour_doses_gy
            mine = lesions[lesions["patient_id"] == row.patient_id]
            for lesion in mine.itertuples():
                assert float(lesion.tumour_dose_gy) == pytest.approx(
                    doses[lesion.lesion_id], abs=0.01
                )
            assert float(row.normal_liver_dose_gy) == pytest.approx(
                result.territories[0].doses_gy.normal_liver, abs=0.01
            )


def test_truth_is_written_and_returned(cohort: SyntheticCohort) -> None:
    truth = json.loads((cohort.root / "truth.json").read_text())
    assert truth == cohort.truth
    assert truth["dose_response"]["threshold_gy"] == 120.0
    assert truth["dose_response"]["probability_at_threshold"] == 0.5
    assert truth["overall_survival"]["hazard_ratios"]["grade"]["NET G3"] == 2.0
    assert truth["realised"]["lesions"] == len(pd.read_csv(cohort.root / "lesions.csv"))


# ---------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = generate_cohort(tmp_path / "a", 6, seed=42, **SMALL_IMAGES)
    b = generate_cohort(tmp_path / "b", 6, seed=42, **SMALL_IMAGES)
    files_a, files_b = relative_bytes(a.root), relative_bytes(b.root)
    assert any(name.endswith(".nii.gz") for name in files_a)
    assert files_a == files_b
    c = generate_cohort(tmp_path / "c", 6, seed=43, **SMALL_IMAGES)
    assert relative_bytes(c.root)["patients.csv"] != files_a["patients.csv"]


def test_a_patient_does_not_depend_on_the_cohort_size(tmp_path: Path) -> None:
    small = generate_cohort(tmp_path / "small", 3, seed=9)
    large = generate_cohort(tmp_path / "large", 8, seed=9)
    for pid in small.patient_ids:
        for folder in ("cases", "responses"):
            path = Path(folder) / f"{pid}.yaml"
            assert (small.root / path).read_bytes() == (large.root / path).read_bytes()


# ---------------------------------------------------------------------------- known truth
@pytest.mark.parametrize("threshold_gy", [80.0, 150.0])
def test_planted_dose_response_threshold_is_recovered(tmp_path: Path, threshold_gy: float) -> None:
    cohort = generate_cohort(
        tmp_path,
        150,
        seed=17,
        threshold_gy=threshold_gy,
        modalities={"tare_glass": 1, "tare_resin": 1},
    )
    lesions = pd.read_csv(cohort.root / "lesions.csv")
    lesions = lesions[lesions["response_recist"] != "NE"]
    dose = lesions["tumour_dose_gy"].to_numpy(float)
    responded = lesions["response_recist"].isin(["CR", "PR"]).to_numpy(float)
    intercept, slope = fit_logistic(dose, responded)
    assert slope > 0
    assert -intercept / slope == pytest.approx(threshold_gy, rel=0.12)
    assert 1.0 / slope == pytest.approx(cohort.truth["dose_response"]["scale_gy"], rel=0.35)


def test_grade_raises_the_hazard_of_death(tmp_path: Path) -> None:
    cohort = generate_cohort(tmp_path, 400, seed=23)
    patients = pd.read_csv(cohort.root / "patients.csv", dtype=str, keep_default_na=False)
    start = pd.to_datetime(patients["treatment_date"])
    end = pd.to_datetime(patients["last_followup_date"])
    patients["days"] = (end - start).dt.days
    patients["died"] = patients["death_date"] != ""
    # Exponential model: hazard = events / exposure; G3+NEC vs G1 by far exceeds 1.
    rate = patients.groupby(patients["grade"].isin(["NET G3", "NEC"]))[["died", "days"]].sum()
    ratio = (rate.loc[True, "died"] / rate.loc[True, "days"]) / (
        rate.loc[False, "died"] / rate.loc[False, "days"]
    )
    assert ratio > 1.5


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_patients": 0}, "n_patients"),
        ({"threshold_gy": 0.0}, "threshold_gy"),
        ({"modalities": {"surgery": 1.0}}, "modalities"),
        ({"image_shape": (4, 4, 4)}, "image_shape"),
        ({"manifest_format": "xml"}, "manifest_format"),
    ],
)
def test_arguments_are_checked(tmp_path: Path, kwargs: dict[str, object], argument: str) -> None:
    arguments: dict[str, object] = {"n_patients": 2, "seed": 1} | kwargs
    with pytest.raises(ValueError, match=argument):
        generate_cohort(tmp_path, **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "patients.csv").exists()
