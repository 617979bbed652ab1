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
    from netlm.cohort.runner import _exclusive

    with _exclusive(tmp_path), pytest.raises(ResultsIndexError, match="another cohort run"):
        run_cohort(pristine.manifest, "assess", out_dir=tmp_path, scheduler="inline")
    summary = run_cohort(pristine.manifest, "assess", out_dir=tmp_path, scheduler="inline")
    assert summary.n_computed == len(pristine.patient_ids)
