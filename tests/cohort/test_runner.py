"""Cohort runs: failures isolated per patient, idempotent re-runs, Dask equals a plain loop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from netlm.cohort.manifest import (
    ManifestError,
    load_manifest,
    manifest_from_mapping,
    parse_manifest_csv,
)
from netlm.cohort.runner import (
    CohortInputError,
    ResultsIndexError,
    TaskUnavailableError,
    check_dose_available,
    run_cohort,
)
from netlm.cohort.synthetic import SyntheticCohort, generate_cohort
from netlm.errors import InputError

#: Local clusters in these tests: threads in this process (fast to start) unless a
#: test needs worker processes; every run closes its cluster before returning.
THREADS = {"n_workers": 2, "processes": False, "connect_timeout_s": 20.0}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> SyntheticCohort:
    return generate_cohort(tmp_path_factory.mktemp("pristine"), 14, seed=11)


@pytest.fixture
def cohort(pristine: SyntheticCohort, tmp_path: Path) -> SyntheticCohort:
    """A private copy of the pristine cohort that a test may damage."""
    root = tmp_path / "cohort"
    shutil.copytree(pristine.root, root)
    return SyntheticCohort(
        root=root,
        manifest=root / pristine.manifest.name,
        patient_ids=pristine.patient_ids,
        truth=pristine.truth,
    )


def corrupt_ecog(cohort: SyntheticCohort, patient_id: str) -> None:
    """Give the patient an impossible ECOG (7) in the case file."""
    path = cohort.root / "cases" / f"{patient_id}.yaml"
    text = path.read_text()
    doc = yaml.safe_load(text)
    old = f"ecog: {doc['patient']['ecog']}\n"
    assert old in text
    path.write_text(text.replace(old, "ecog: 7\n", 1))


def edit_age(cohort: SyntheticCohort, patient_id: str) -> None:
    path = cohort.root / "cases" / f"{patient_id}.yaml"
    doc = yaml.safe_load(path.read_text())
    old = f"age_years: {doc['patient']['age_years']}\n"
    path.write_text(path.read_text().replace(old, "age_years: 99\n", 1))


# ---------------------------------------------------------------------------- failures
def test_corrupt_case_fails_only_that_patient_on_dask(
    cohort: SyntheticCohort, tmp_path: Path
) -> None:
    bad = cohort.patient_ids[3]
    corrupt_ecog(cohort, bad)
    out = tmp_path / "out"
    summary = run_cohort(cohort.manifest, "assess", out_dir=out, **THREADS)

    assert summary.scheduler.startswith("local cluster, 2 workers")
    assert [f.patient_id for f in summary.failures] == [bad]
    failure = summary.failures[0]
    assert failure.error_type == "CaseError"
    assert failure.fields == ("patient.ecog",)
    assert "patient.ecog" in failure.message
    assert summary.n_computed == len(cohort.patient_ids)
    assert summary.succeeded == len(cohort.patient_ids) - 1

    results = pd.read_parquet(out / "results.parquet")
    assert list(results["patient_id"]) == [p for p in cohort.patient_ids if p != bad]
    assert set(results["task"]) == {"assess"}
    assert results["verdict_tare_glass"].notna().all()
    assert results["input_digest"].str.fullmatch(r"[0-9a-f]{64}").all()
    csv = pd.read_csv(out / "results.csv")
    assert list(csv["patient_id"]) == list(results["patient_id"])
    assert list(csv.columns) == list(results.columns)
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures["patient_id"]) == [bad]
    assert failures.loc[0, "fields"] == "patient.ecog"


def test_unreadable_file_is_a_failure_without_digest_and_is_retried(
    cohort: SyntheticCohort, tmp_path: Path
) -> None:
    gone = cohort.patient_ids[0]
    (cohort.root / "responses" / f"{gone}.yaml").unlink()
    out = tmp_path / "out"
    first = run_cohort(cohort.manifest, "response", out_dir=out, scheduler="inline")
    assert [(f.patient_id, f.error_type, f.fields) for f in first.failures] == [
        (gone, "CohortInputError", ("response",))
    ]
    assert first.failures[0].input_digest is None
    again = run_cohort(cohort.manifest, "response", out_dir=out, scheduler="inline")
    assert again.computed == (gone,)


def test_patients_without_a_plan_are_not_applicable(
    cohort: SyntheticCohort, tmp_path: Path
) -> None:
    summary = run_cohort(cohort.manifest, "plan", out_dir=tmp_path / "out", scheduler="inline")
    manifest = load_manifest(cohort.manifest)
    without = tuple(p.patient_id for p in manifest if p.plan is None)
    assert without, "the cohort should mix TARE and chemoembolization"
    assert summary.not_applicable == without
    assert summary.failures == ()
    assert summary.succeeded == len(manifest) - len(without)
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert (results["injected_activity_gbq"] > 0).all()
    assert (results["session_lung_dose_gy"] < 30).all()


# ---------------------------------------------------------------------------- idempotence
def test_rerun_skips_everything_and_recomputes_only_changed_inputs(
    cohort: SyntheticCohort, tmp_path: Path
) -> None:
    bad, changed = cohort.patient_ids[2], cohort.patient_ids[5]
    corrupt_ecog(cohort, bad)
    out = tmp_path / "out"
    first = run_cohort(cohort.manifest, "assess", out_dir=out, scheduler="inline")
    assert first.n_computed == len(cohort.patient_ids)
    before = pd.read_parquet(out / "results.parquet")

    again = run_cohort(cohort.manifest, "assess", out_dir=out, **THREADS)
    assert again.n_computed == 0
    assert again.skipped == cohort.patient_ids  # the failure too: same inputs, same error
    assert again.scheduler == "nothing to compute"
    assert [f.patient_id for f in again.failures] == [bad]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), before)

    edit_age(cohort, changed)
    third = run_cohort(cohort.manifest, "assess", out_dir=out, scheduler="inline")
    assert third.computed == (changed,)
    after = pd.read_parquet(out / "results.parquet").set_index("patient_id")
    assert (
        after.loc[changed, "input_digest"]
        != before.set_index("patient_id").loc[changed, "input_digest"]
    )

    corrupt_path = cohort.root / "cases" / f"{bad}.yaml"
    corrupt_path.write_text(corrupt_path.read_text().replace("ecog: 7\n", "ecog: 1\n", 1))
    fourth = run_cohort(cohort.manifest, "assess", out_dir=out, scheduler="inline")
    assert fourth.computed == (bad,)
    assert fourth.failures == ()
    assert fourth.succeeded == len(cohort.patient_ids)


def test_retry_failed_runs_failures_again(cohort: SyntheticCohort, tmp_path: Path) -> None:
    bad = cohort.patient_ids[1]
    corrupt_ecog(cohort, bad)
    out = tmp_path / "out"
    run_cohort(cohort.manifest, "assess", out_dir=out, scheduler="inline")
    again = run_cohort(
        cohort.manifest, "assess", out_dir=out, scheduler="inline", retry_failed=True
    )
    assert again.computed == (bad,)


def test_results_folder_holds_one_task(cohort: SyntheticCohort, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_cohort(cohort.manifest, "assess", out_dir=out, scheduler="inline")
    with pytest.raises(ResultsIndexError, match="'assess' task"):
        run_cohort(cohort.manifest, "response", out_dir=out, scheduler="inline")


# ---------------------------------------------------------------------------- dask vs loop
def test_dask_worker_processes_give_the_plain_loop_results(
    cohort: SyntheticCohort, tmp_path: Path
) -> None:
    bad = cohort.patient_ids[4]
    (cohort.root / "responses" / f"{bad}.yaml").write_text("schema: netlm/response/v1\n")
    inline = run_cohort(
        cohort.manifest, "response", out_dir=tmp_path / "inline", scheduler="inline"
    )
    seen: list[tuple[int, int]] = []
    dask = run_cohort(
        cohort.manifest,
        "response",
        out_dir=tmp_path / "dask",
        n_workers=2,
        processes=True,
        connect_timeout_s=30.0,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert dask.scheduler == "local cluster, 2 workers (processes)"
    n = len(cohort.patient_ids)
    assert seen[0] == (0, n) and seen[-1] == (n, n)
    assert [d for d, _ in seen] == list(range(n + 1))
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "inline" / "results.parquet"),
        pd.read_parquet(tmp_path / "dask" / "results.parquet"),
    )
    assert (tmp_path / "inline" / "results.csv").read_bytes() == (
        tmp_path / "dask" / "results.csv"
    ).read_bytes()
    assert inline.failures == dask.failures
    assert [f.fields for f in dask.failures] == [("timepoints",)]


def test_response_results_match_the_follow_up_tables(
    cohort: SyntheticCohort, tmp_path: Path
) -> None:
    run_cohort(cohort.manifest, "response", out_dir=tmp_path / "out", scheduler="inline")
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    patients = pd.read_csv(cohort.root / "patients.csv")
    merged = results.merge(patients, on="patient_id", validate="one_to_one")
    assert len(merged) == len(cohort.patient_ids)
    recist = merged["progression_date_recist1.1"].fillna("")
    assert (recist == merged["progression_date"].fillna("")).all()
    assert set(merged["bor_recist1.1"]) <= {"CR", "PR", "SD", "PD", "NE"}


def test_results_go_to_a_sink_and_progress_reports(cohort: SyntheticCohort, tmp_path: Path) -> None:
    received: list[tuple[str, int]] = []
    run_cohort(
        cohort.manifest,
        "assess",
        out_dir=tmp_path / "out",
        scheduler="inline",
        on_results=lambda task, rows: received.append((task, len(rows))),
    )
    assert received == [("assess", len(cohort.patient_ids))]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "unknown"}, "unknown task"),
        ({"task": "assess", "n_workers": 0}, "n_workers"),
        ({"task": "assess", "checkpoint_s": 0}, "checkpoint_s"),
    ],
)
def test_bad_arguments_are_refused(
    pristine: SyntheticCohort, tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        run_cohort(pristine.manifest, out_dir=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_dose_task_on_synthetic_images(tmp_path: Path) -> None:
    try:
        check_dose_available()
    except TaskUnavailableError as exc:
        pytest.skip(str(exc))
    cohort = generate_cohort(
        tmp_path / "c",
        3,
        seed=5,
        images=True,
        modalities={"tare_glass": 1.0},
        image_shape=(20, 28, 32),
    )
    summary = run_cohort(cohort.manifest, "dose", out_dir=tmp_path / "out", **THREADS)
    assert summary.failures == ()
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(results) == 3
    assert (results["mean_dose_gy_tumour"] > results["mean_dose_gy_normal_liver"]).all()
    assert (results["total_activity_gbq"] > 0).all()


# ---------------------------------------------------------------------------- manifests
def test_manifest_yaml_and_csv_agree(pristine: SyntheticCohort, tmp_path: Path) -> None:
    yaml_manifest = load_manifest(pristine.manifest, check_files=True)
    again = generate_cohort(tmp_path / "csv", 14, seed=11, manifest_format="csv")
    csv_manifest = load_manifest(again.manifest, check_files=True)
    assert [p.patient_id for p in csv_manifest] == [p.patient_id for p in yaml_manifest]
    assert [p.case.name for p in csv_manifest] == [p.case.name for p in yaml_manifest]
    assert [p.plan is None for p in csv_manifest] == [p.plan is None for p in yaml_manifest]


@pytest.mark.parametrize(
    ("patients", "field", "message"),
    [
        ([{"patient_id": "P1"}], "patients[0].case", "is required"),
        ([{"case": "c.yaml"}], "patients[0].patient_id", "is required"),
        (
            [{"patient_id": "P1", "case": "a.yaml"}, {"patient_id": "P1", "case": "b.yaml"}],
            "patients[1].patient_id",
            "listed twice",
        ),
        ([{"patient_id": "P1", "case": "a.yaml", "cases": "x"}], "patients[0].cases", "unknown"),
        (
            [{"patient_id": "P1", "case": "a.yaml", "masks": "liver"}],
            "patients[0].masks",
            "name=path",
        ),
        ([{"patient_id": "P1", "case": 3.5}], "patients[0].case", "must be a text"),
    ],
)
def test_manifest_errors_name_row_and_field(
    patients: list[dict[str, object]], field: str, message: str
) -> None:
    doc = {"schema": "netlm/cohort-manifest/v1", "patients": patients}
    with pytest.raises(ManifestError, match=message) as info:
        manifest_from_mapping(doc, base_dir=".")
    assert field in info.value.fields


def test_csv_manifest_errors_name_the_line() -> None:
    text = "# netlm/cohort-manifest/v1\npatient_id,case,plan\nP1,c/P1.yaml,\nP2,,p/P2.yaml\n"
    with pytest.raises(ManifestError) as info:
        parse_manifest_csv(text, base_dir=".")
    assert info.value.fields == ["line 4.case"]


def test_missing_files_are_named_when_checked(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "schema: netlm/cohort-manifest/v1\npatients:\n  - {patient_id: P1, case: nowhere.yaml}\n"
    )
    assert len(load_manifest(manifest)) == 1
    with pytest.raises(ManifestError, match="no such file") as info:
        load_manifest(manifest, check_files=True)
    assert info.value.fields == ["patients[0].case"]


def test_cohort_input_error_is_an_input_error() -> None:
    error = CohortInputError([("plan", "cannot read")])
    assert isinstance(error, InputError) and error.fields == ["plan"]


def test_a_second_run_on_the_same_folder_is_refused(
    pristine: SyntheticCohort, tmp_path: Path
) -> None:
    from netlm.cohort.results_index import _exclusive

    with _exclusive(tmp_path), pytest.raises(ResultsIndexError, match="another cohort run"):
        run_cohort(pristine.manifest, "assess", out_dir=tmp_path, scheduler="inline")
    summary = run_cohort(pristine.manifest, "assess", out_dir=tmp_path, scheduler="inline")
    assert summary.n_computed == len(pristine.patient_ids)


# ---------------------------------------------------------------------------- cluster scale
def _image_cohort(tmp_path: Path, voxels_mm: tuple[float, ...]) -> Path:
    """One patient per voxel size (two patients on the first), images and two masks each."""
    import numpy as np

    from netlm.imaging.io import write_image
    from netlm.volume import ImageVolume

    rng = np.random.default_rng(4)
    patients = []
    sizes = (voxels_mm[0], *voxels_mm)
    for n, voxel in enumerate(sizes):
        shape = (18, 20, 22)
        activity = np.zeros(shape)
        activity[4:14, 5:15, 5:17] = 1e5 * (1.0 + rng.random((10, 10, 12)))
        liver = activity > 0
        tumour = np.zeros(shape, dtype=bool)
        tumour[7:10, 8:11, 8:11] = True
        activity[tumour] *= 4.0
        volume = ImageVolume(activity, (voxel,) * 3, unit="Bq/mL")
        folder = tmp_path / f"P{n}"
        write_image(volume, folder / "pet.nii.gz")
        write_image(volume.with_array(liver, unit="label"), folder / "liver.nii.gz")
        write_image(volume.with_array(tumour, unit="label"), folder / "tumour.nii.gz")
        (folder / "case.yaml").write_text("schema: netlm/case/v1\n")
        patients.append(
            {
                "patient_id": f"P{n}",
                "case": f"P{n}/case.yaml",
                "activity_image": f"P{n}/pet.nii.gz",
                "masks": {"liver": f"P{n}/liver.nii.gz", "tumour": f"P{n}/tumour.nii.gz"},
            }
        )
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        yaml.safe_dump({"schema": "netlm/cohort-manifest/v1", "patients": patients})
    )
    return manifest


@pytest.fixture
def kernel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_images_are_read_only_by_the_task_and_reruns_only_stat_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from netlm.cohort import patient

    manifest = _image_cohort(tmp_path / "c", (4.0,))
    hashed: list[str] = []
    real = patient._hash_file

    def recording(path: Path, keep: bool) -> tuple[str, bytes | None]:
        hashed.append(path.name)
        return real(path, keep)

    monkeypatch.setattr(patient, "_hash_file", recording)
    out = tmp_path / "out"
    first = run_cohort(manifest, "dose", out_dir=out, scheduler="inline")
    assert first.failures == () and len(first.computed) == 2
    again = run_cohort(manifest, "dose", out_dir=out, scheduler="inline")
    assert again.computed == () and len(again.skipped) == 2
    # The images are fingerprinted by stat: their bytes are read only by the dose reader.
    assert not [name for name in hashed if name.endswith(".nii.gz")]
    # A rewritten image (new modification time) is computed again; the other is not.
    image = tmp_path / "c" / "P1" / "pet.nii.gz"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    third = run_cohort(manifest, "dose", out_dir=out, scheduler="inline")
    assert third.computed == ("P1",) and third.skipped == ("P0",)


def test_an_image_changed_during_the_task_fails_that_patient(tmp_path: Path) -> None:
    import os

    from netlm.cohort.runner import CohortTask, PatientInputs

    manifest = _image_cohort(tmp_path / "c", (4.0,))

    def touching(inputs: PatientInputs) -> dict[str, object]:
        image = inputs.entry.activity_image
        assert image is not None
        os.utime(image, ns=(0, image.stat().st_mtime_ns + 5_000_000_000))
        return {"ok": True}

    task = CohortTask("touch", ("activity_image",), touching)  # type: ignore[arg-type]
    summary = run_cohort(manifest, task, out_dir=tmp_path / "out", scheduler="inline")
    assert [f.fields for f in summary.failures] == [("activity_image",)] * 2
    assert "changed while the task ran" in summary.failures[0].message


@pytest.mark.parametrize("scheduler", ["inline", None])
def test_dvk_kernels_are_built_once_per_voxel_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_cache: Path, scheduler: str | None
) -> None:
    from netlm.cohort import runner, tasks
    from netlm.voxel.kernels import y90_kernel

    manifest = _image_cohort(tmp_path / "c", (4.0, 5.0))  # P0, P1 at 4 mm; P2 at 5 mm
    built: list[tuple[float, float, float]] = []
    real = tasks._y90_kernel_for

    def counting(voxel: tuple[float, float, float]) -> object:
        built.append(voxel)
        return real(voxel)

    monkeypatch.setattr(tasks, "_y90_kernel_for", counting)
    options = {"scheduler": "inline"} if scheduler else THREADS
    task = runner.dose_cohort_task("dvk")
    summary = run_cohort(manifest, task, out_dir=tmp_path / "out", **options)  # type: ignore[arg-type]
    assert summary.failures == () and len(summary.computed) == 3
    assert sorted(built) == [(4.0, 4.0, 4.0), (5.0, 5.0, 5.0)]
    results = pd.read_parquet(tmp_path / "out" / "results.parquet").set_index("patient_id")
    assert set(results["dose_model"]) == {"dvk"}
    # The scattered kernel gives the dose of the task run with that kernel directly.
    entry = load_manifest(manifest).patients[2]
    direct = runner.dose_task(
        runner.PatientInputs(entry=entry, documents={}),
        model="dvk",
        kernel=y90_kernel((5.0,) * 3, density_g_per_ml=1.03),
    )
    assert results.loc["P2", "mean_dose_gy_tumour"] == pytest.approx(
        direct["mean_dose_gy_tumour"], rel=1e-12
    )


def test_dose_tasks_declare_their_expected_memory() -> None:
    from conftest import SHARED
    from netlm.cohort.manifest import PatientEntry
    from netlm.cohort.runner import TASKS, dose_memory_bytes

    data = SHARED / "data" / "y90-pet-maa-spect"
    entry = PatientEntry(
        patient_id="P1",
        case=data / "README.md",
        activity_image=data / "patient_1_Y90_PET.nrrd",
        masks=(("seg", data / "patient_1_Segmentation.seg.nrrd"),),
    )
    estimate = dose_memory_bytes(entry)
    # The task peaks at 0.38 GB of arrays on this PET (tracemalloc).
    assert estimate is not None and 0.38e9 <= estimate < 0.5e9
    assert TASKS["dose"].memory_bytes is dose_memory_bytes
    assert dose_memory_bytes(PatientEntry(patient_id="P2", case=data / "README.md")) is None


def test_cli_cohort_dose_offers_dvk(tmp_path: Path, kernel_cache: Path) -> None:
    from netlm.cli import main

    manifest = _image_cohort(tmp_path / "c", (4.0,))
    out = tmp_path / "out"
    code = main(
        [
            "cohort",
            "run",
            str(manifest),
            "--task",
            "dose",
            "--dose-model",
            "dvk",
            "--out",
            str(out),
            "--scheduler",
            "inline",
        ]
    )
    assert code == 0
    results = pd.read_parquet(out / "results.parquet")
    assert list(results["dose_model"]) == ["dvk", "dvk"]
    bad = main(
        [
            "cohort",
            "run",
            str(manifest),
            "--task",
            "assess",
            "--dose-model",
            "dvk",
            "--out",
            str(tmp_path / "o2"),
        ]
    )
    assert bad != 0
