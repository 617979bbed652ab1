"""Run one task over every patient of a cohort, in parallel on Dask, idempotently.

``run_cohort(manifest, "assess", out_dir=...)`` runs the task on every patient
of the manifest and writes the results into ``out_dir``:

``results.parquet``, ``results.csv``
    One row per patient whose task succeeded, in manifest order: ``patient_id``,
    ``task``, ``input_digest``, then the task's columns (:data:`TASKS`).
``failures.csv``
    One row per patient whose task failed: ``patient_id``, ``task``,
    ``input_digest``, ``error_type``, ``fields`` (the input fields the error
    names, ``;``-separated) and ``message``.
``index.json``
    The results index the two tables are written from (``netlm/cohort-results/v1``):
    per patient the input digest and the outcome.

Each patient is one Dask task.  The task computes the *input digest* (SHA-256
over the task name and version, the netlm version, the patient id, the bytes
of every document the task reads and the path, size and modification time of
every image, :func:`netlm.cohort.patient._fingerprint`) and parses the
documents from the bytes it hashed; each image is read once, by the task
itself, and a patient whose image changed meanwhile is a failure, so a result
always belongs to the digest stored with it.  A re-run skips every patient
whose digest matches the stored one, a success or a failure alike (the same
inputs fail the same way; ``retry_failed=True`` runs failures again), and
recomputes the patients whose inputs changed.  A failure whose inputs could
not even be read has no digest and is always retried, and so is a patient
lost with its worker.  The driver checks the digests it can read before
starting any cluster, so a re-run with nothing to do starts none.  A patient
whose manifest row lacks a file the task needs (no plan for a patient treated
by chemoembolization) is *not applicable*: neither a result nor a failure.

Every exception of one patient is caught inside the task and returned as a
failure, so one bad patient never stops a run.  The results index is written
atomically (temporary file and :func:`os.replace`) every ``checkpoint_s``
seconds and at the end, also when the run is interrupted; a second run on the
same folder at the same time is refused (an OS file lock, ``out_dir/.lock``).

By default the run starts a :class:`distributed.LocalCluster` on the loopback
interface (one thread per worker); given a scheduler address it connects to
that cluster, whose workers must see the same paths as the driver (a shared
file system: tasks carry paths, never image bytes) and have netlm installed.
Objects many patients share (a dose-voxel kernel per voxel size) are built
once on the driver and scattered to the workers, and every task carries its
expected memory (``memory_bytes`` annotation, optionally a worker resource).
``scheduler="inline"`` runs a plain loop in this process (no Dask at all), the
baseline the parallel runs are compared with.

This module holds the execution (inline or Dask) and :func:`run_cohort`, and
re-exports the public names of its siblings: the tasks (:mod:`netlm.cohort.tasks`),
one patient's digest and run (:mod:`netlm.cohort.patient`), the run summary
(:mod:`netlm.cohort.summary`), the results folder (:mod:`netlm.cohort.results_index`) and
the errors (:mod:`netlm.cohort.errors`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import time
from collections.abc import (
    Callable,
    Generator,
    Hashable,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from netlm import __version__
from netlm.cohort.errors import CohortInputError, ResultsIndexError, TaskUnavailableError
from netlm.cohort.manifest import Manifest, PatientEntry, load_manifest
from netlm.cohort.patient import DIGEST_SCHEMA, PatientOutcome, _triage, input_digest, run_patient
from netlm.cohort.results_index import RESULTS_INDEX_SCHEMA, _exclusive, _ResultsIndex
from netlm.cohort.summary import CohortRunSummary, PatientFailure
from netlm.cohort.tasks import (
    TASKS,
    CohortTask,
    PatientInputs,
    Scalar,
    TaskFunction,
    assess_task,
    check_dose_available,
    dose_cohort_task,
    dose_memory_bytes,
    dose_task,
    plan_task,
    response_task,
)
from netlm.errors import InputError

#: Every public name of the cohort runner, also those that live in its sibling modules
#: (``errors``, ``tasks``, ``patient``, ``summary``, ``results``): importable from here.
__all__ = [
    "DIGEST_SCHEMA",
    "INLINE",
    "RESULTS_INDEX_SCHEMA",
    "TASKS",
    "WORKER_ENVIRON",
    "CohortInputError",
    "CohortRunSummary",
    "CohortTask",
    "PatientFailure",
    "PatientInputs",
    "PatientOutcome",
    "ProgressCallback",
    "ResultSink",
    "ResultsIndexError",
    "Scalar",
    "TaskFunction",
    "TaskUnavailableError",
    "assess_task",
    "check_dose_available",
    "dose_cohort_task",
    "dose_memory_bytes",
    "dose_task",
    "input_digest",
    "plan_task",
    "response_task",
    "run_cohort",
    "run_patient",
]

#: Called as ``progress(done, total)`` after each patient.
ProgressCallback = Callable[[int, int], None]
#: Called once at the end with the task name and every successful result row.
ResultSink = Callable[[str, Sequence[Mapping[str, Scalar]]], None]
INLINE: Final = "inline"


def _lost(entry: PatientEntry, exc: BaseException) -> PatientOutcome:
    """A patient whose task never returned (its worker died, the cluster went away)."""
    return PatientOutcome(
        patient_id=entry.patient_id,
        status="failed",
        input_digest=None,
        error_type=type(exc).__name__,
        message=f"the task did not return: {exc}" if str(exc) else "the task did not return",
    )


def _shared_objects(
    task: CohortTask, jobs: Sequence[tuple[PatientEntry, str | None]]
) -> tuple[dict[str, Hashable], dict[Hashable, Any]]:
    """The task's shared objects, built once per key: (patient id -> key, key -> object).

    A build that fails leaves its patients without one (the task then makes its
    own, or fails for that patient alone).
    """
    keys: dict[str, Hashable] = {}
    objects: dict[Hashable, Any] = {}
    if task.shared is None:
        return keys, objects
    for entry, _ in jobs:
        found = task.shared(entry)
        if found is None:
            continue
        key, build = found
        if key not in objects:
            try:
                objects[key] = build()
            except Exception:  # per patient, in the task, instead
                objects[key] = None
        if objects[key] is not None:
            keys[entry.patient_id] = key
    return keys, objects


def _run_inline(
    task: CohortTask, jobs: Sequence[tuple[PatientEntry, str | None]]
) -> Iterator[PatientOutcome]:
    keys, objects = _shared_objects(task, jobs)
    for entry, done in jobs:
        key = keys.get(entry.patient_id)
        yield run_patient(task, entry, done, None if key is None else objects[key])


#: Environment of local worker processes: one BLAS/OpenMP thread each (one worker per
#: core), as Dask sets it, but without Dask's ``MALLOC_TRIM_THRESHOLD_=65536``, which
#: turns off glibc's adaptive thresholds and makes every large temporary array of a
#: voxel-dose computation fresh pages from the OS (twice the time per patient here).
WORKER_ENVIRON: Final[Mapping[str, int]] = MappingProxyType(
    {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
)


def _distributed() -> Any:
    """The ``distributed`` package, imported on first use (it is slow to import)."""
    return importlib.import_module("distributed")


@contextlib.contextmanager
def _dask_client(
    scheduler: str | None, n_workers: int, processes: bool, connect_timeout_s: float
) -> Iterator[tuple[Any, str]]:
    """A Dask client on a fresh local cluster or on ``scheduler``; always closed."""
    distributed = _distributed()
    cluster = None
    client = None
    try:
        if scheduler is None:
            config = importlib.import_module("dask").config
            with config.set({"distributed.nanny.pre-spawn-environ": dict(WORKER_ENVIRON)}):
                cluster = distributed.LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=processes,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                    **({"host": "127.0.0.1"} if processes else {}),
                )
            client = distributed.Client(cluster, set_as_default=False, timeout=connect_timeout_s)
            kind = "processes" if processes else "threads"
            where = f"local cluster, {n_workers} worker{'s' * (n_workers != 1)} ({kind})"
        else:
            client = distributed.Client(scheduler, set_as_default=False, timeout=connect_timeout_s)
            where = scheduler
        yield client, where
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=connect_timeout_s)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=connect_timeout_s)


def _run_dask(
    client: Any,
    task: CohortTask,
    jobs: Sequence[tuple[PatientEntry, str | None]],
    memory_resource: str | None = None,
) -> Generator[PatientOutcome, None, None]:
    as_completed = _distributed().as_completed
    dask = importlib.import_module("dask")
    keys, objects = _shared_objects(task, jobs)
    # One copy per worker, sent once: a kernel is not pickled into every task.
    scattered = {
        key: client.scatter(obj, broadcast=True, hash=False)
        for key, obj in objects.items()
        if obj is not None
    }
    futures = {}
    for entry, done in jobs:
        key = keys.get(entry.patient_id)
        memory = task.memory_bytes(entry) if task.memory_bytes is not None else None
        annotations: dict[str, Any] = {} if memory is None else {"memory_bytes": memory}
        resources = {memory_resource: memory} if memory_resource and memory is not None else None
        with dask.annotate(**annotations):
            future = client.submit(
                run_patient,
                task,
                entry,
                done,
                None if key is None else scattered[key],
                pure=False,
                resources=resources,
            )
        futures[future] = entry
    try:
        for future in as_completed(list(futures), loop=client.loop):
            entry = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the task itself never raises: the worker was lost
                outcome = _lost(entry, exc)
            if not isinstance(outcome, PatientOutcome):  # pragma: no cover - defensive
                outcome = _lost(entry, TypeError(f"unexpected {type(outcome).__name__}"))
            future.release()
            yield outcome
    finally:
        client.cancel(list(futures))


def _resolve_task(task: str | CohortTask) -> CohortTask:
    if isinstance(task, CohortTask):
        return task
    if task not in TASKS:
        raise InputError([("task", f"unknown task {task!r} (use {', '.join(TASKS)})")])
    return TASKS[task]


def run_cohort(
    manifest: Manifest | str | Path,
    task: str | CohortTask,
    *,
    out_dir: str | Path,
    scheduler: str | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    progress: ProgressCallback | None = None,
    retry_failed: bool = False,
    on_results: ResultSink | None = None,
    checkpoint_s: float = 30.0,
    connect_timeout_s: float = 30.0,
    memory_resource: str | None = None,
) -> CohortRunSummary:
    """Run ``task`` on every patient of ``manifest``; write the results into ``out_dir``.

    Parameters
    ----------
    manifest
        A :class:`~netlm.cohort.manifest.Manifest` or the path of a manifest file.
    task
        ``"assess"``, ``"plan"``, ``"response"``, ``"dose"`` (:data:`TASKS`) or a
        :class:`CohortTask`.
    out_dir
        The results folder (created); it holds the results of one task.
    scheduler
        ``None``: a local Dask cluster on the loopback interface; an address
        (``tcp://host:8786``): that cluster; ``"inline"``: a plain loop in this
        process.
    n_workers
        Workers of the local cluster (default: the CPU count, at most one per patient).
    processes
        Local workers as processes (default) or as threads of this process.
    progress
        Called as ``progress(done, total)`` once before the first patient and after each.
    retry_failed
        Run patients whose stored outcome is a failure again, even with unchanged inputs.
    on_results
        Called once at the end as ``on_results(task, rows)`` with every successful
        result row (e.g. a registry's writer).
    checkpoint_s
        Write the results index at least this often (seconds) during a long run.
    connect_timeout_s
        Timeout for connecting to (and closing) the cluster, in seconds.
    memory_resource
        The name of a worker resource in bytes (workers started with
        ``--resources MEMORY=8e9``): each task then claims its expected memory
        (:attr:`CohortTask.memory_bytes`) from it, so that a worker runs no
        more patients at once than fit.  Without it the estimate is only an
        annotation (``memory_bytes``) of each task.

    Raises
    ------
    ManifestError
        If the manifest file is malformed.
    TaskUnavailableError
        If the task cannot run on this machine (e.g. ``dose`` without the voxel module).
    ResultsIndexError
        If ``out_dir`` holds another task's results.
    """
    started = time.perf_counter()
    the_task = _resolve_task(task)
    if n_workers is not None and n_workers < 1:
        raise InputError([("n_workers", f"must be at least 1, not {n_workers}")])
    if checkpoint_s <= 0:
        raise InputError([("checkpoint_s", "must be > 0")])
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if the_task.check is not None:
        the_task.check()
    with _exclusive(Path(out_dir)):
        return _run_locked(
            m,
            the_task,
            Path(out_dir),
            scheduler=scheduler,
            n_workers=n_workers,
            processes=processes,
            progress=progress,
            retry_failed=retry_failed,
            on_results=on_results,
            checkpoint_s=checkpoint_s,
            connect_timeout_s=connect_timeout_s,
            started=started,
            memory_resource=memory_resource,
        )


def _run_locked(
    m: Manifest,
    the_task: CohortTask,
    out_dir: Path,
    *,
    scheduler: str | None,
    n_workers: int | None,
    processes: bool,
    progress: ProgressCallback | None,
    retry_failed: bool,
    on_results: ResultSink | None,
    checkpoint_s: float,
    connect_timeout_s: float,
    started: float,
    memory_resource: str | None = None,
) -> CohortRunSummary:
    index = _ResultsIndex(out_dir, the_task.name)
    order = [p.patient_id for p in m.patients]
    jobs = [(p, index.done_digest(p.patient_id, retry_failed)) for p in m.patients]
    total = len(jobs)
    computed: list[str] = []
    skipped: list[str] = []
    not_applicable: list[str] = []
    tally = {"skipped": skipped, "not_applicable": not_applicable}
    where = "nothing to compute"
    last_checkpoint = time.monotonic()

    def take(outcome: PatientOutcome) -> None:
        nonlocal last_checkpoint
        tally.get(outcome.status, computed).append(outcome.patient_id)
        index.record(outcome)
        if progress is not None:
            progress(len(computed) + len(skipped) + len(not_applicable), total)
        if time.monotonic() - last_checkpoint >= checkpoint_s:
            index.write(order)
            last_checkpoint = time.monotonic()

    if progress is not None:
        progress(0, total)
    try:
        pending: list[tuple[PatientEntry, str | None]] = []
        for entry, done in jobs:
            early = _triage(the_task, entry, done)
            if early is None:
                pending.append((entry, done))
            else:
                take(early)
        if pending and scheduler == INLINE:
            where = INLINE
            for outcome in _run_inline(the_task, pending):
                take(outcome)
        elif pending:
            workers = n_workers or max(1, min(os.cpu_count() or 1, len(pending)))
            with (
                _dask_client(scheduler, workers, processes, connect_timeout_s) as (client, where),
                contextlib.closing(
                    _run_dask(client, the_task, pending, memory_resource)
                ) as outcomes,
            ):
                for outcome in outcomes:
                    take(outcome)
    finally:
        index.write(order)
    rank = {pid: i for i, pid in enumerate(order)}
    if on_results is not None:
        on_results(the_task.name, index.result_rows(order))
    return CohortRunSummary(
        task=the_task.name,
        manifest=str(m.source) if m.source is not None else None,
        out_dir=str(index.out_dir),
        scheduler=where,
        patients=total,
        computed=tuple(sorted(computed, key=rank.__getitem__)),
        skipped=tuple(sorted(skipped, key=rank.__getitem__)),
        not_applicable=tuple(sorted(not_applicable, key=rank.__getitem__)),
        succeeded=len(index.result_rows(order)),
        failures=tuple(index.failures(order)),
        results_parquet=str(index.results_parquet),
        results_csv=str(index.results_csv),
        failures_csv=str(index.failures_csv),
        elapsed_s=time.perf_counter() - started,
        netlm_version=__version__,
    )
