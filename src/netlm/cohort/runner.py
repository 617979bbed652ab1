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
every image, :func:`_fingerprint`) and parses the documents from the bytes it
hashed; each image is read once, by the task itself, and a patient whose image
changed meanwhile is a failure, so a result always belongs to the digest
stored with it.  A re-run skips every patient
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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import (
    Callable,
    Generator,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from netlm import __version__
from netlm.cohort.manifest import Manifest, PatientEntry, load_manifest
from netlm.errors import InputError, NetlmError
from netlm.results import ResultModel

__all__ = [
    "TASKS",
    "CohortInputError",
    "CohortRunSummary",
    "CohortTask",
    "PatientFailure",
    "PatientInputs",
    "PatientOutcome",
    "ResultsIndexError",
    "Scalar",
    "TaskUnavailableError",
    "run_cohort",
    "run_patient",
]

#: A value in a results row.
Scalar = str | int | float | bool | None
#: Called as ``progress(done, total)`` after each patient.
ProgressCallback = Callable[[int, int], None]
#: Called once at the end with the task name and every successful result row.
ResultSink = Callable[[str, Sequence[Mapping[str, Scalar]]], None]

RESULTS_INDEX_SCHEMA: Final = "netlm/cohort-results/v1"
#: v2: image inputs are fingerprinted by path, size and modification time (v1 hashed
#: their bytes, so every image was read twice per task and again by every re-run).
DIGEST_SCHEMA: Final = "netlm/cohort-digest/v2"
INLINE: Final = "inline"
_LEADING: Final[tuple[str, ...]] = ("patient_id", "task", "input_digest")
_FAILURE_COLUMNS: Final[tuple[str, ...]] = (
    "patient_id",
    "task",
    "input_digest",
    "error_type",
    "fields",
    "message",
)
_HASH_CHUNK: Final = 1 << 20
#: Input fields whose file is parsed from the bytes that were hashed.
_DOCUMENT_FIELDS: Final = frozenset({"case", "plan", "response"})
#: Bytes a dose task holds per voxel of the activity grid (the image, its
#: concentration and activity-at-implant copies, density, dose, statistics
#: temporaries), per voxel of each mask file and of the CT as read, plus a fixed
#: allowance (interpreter, libraries, buffers of the image readers).  The
#: bundled 90Y PET (256 x 256 x 89, a 512 x 512 x 112 two-layer segmentation)
#: peaks at 0.38 GB of numpy arrays (tracemalloc, LDM and DVK alike); this
#: estimates 0.40 GB.  Estimates for scheduling [U], not limits.
_DOSE_BYTES_PER_VOXEL: Final = 48
_DOSE_BYTES_PER_MASK_VOXEL: Final = 2
_DOSE_BYTES_PER_CT_VOXEL: Final = 16
_DOSE_BYTES_FIXED: Final = 64 * 2**20


# ---------------------------------------------------------------------------- errors
class CohortInputError(InputError):
    """A patient's input for a cohort task is missing or unreadable (names the field)."""

    what = "cohort input"


class TaskUnavailableError(NetlmError):
    """A cohort task cannot run here (e.g. a module it needs is not installed)."""


class ResultsIndexError(NetlmError, ValueError):
    """The results folder holds results of another task or an unreadable results index."""


# ---------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class PatientInputs:
    """What a task function gets: the patient's row and the bytes of its documents.

    Attributes
    ----------
    entry
        The manifest row (absolute paths).
    documents
        The bytes of each document input (``case``, ``plan``, ``response``) the
        task declared, exactly the bytes that went into the input digest.
    shared
        The object the task's ``shared`` hook named for this patient (e.g. the
        dose-voxel kernel of the image's voxel size), built once per run on the
        driver and scattered to the workers; None without one.
    """

    entry: PatientEntry
    documents: Mapping[str, bytes]
    shared: Any = None

    def text_format(self, name: str) -> Literal["yaml", "json"]:
        """``"json"`` when the file of input ``name`` ends in ``.json``, else ``"yaml"``."""
        path = self.entry.path_of(name)
        return "json" if path is not None and path.suffix.lower() == ".json" else "yaml"


TaskFunction = Callable[[PatientInputs], dict[str, Scalar]]


@dataclass(frozen=True)
class CohortTask:
    """A per-patient task: a pure, picklable function of the patient's input files.

    Attributes
    ----------
    name
        The task id (``assess``, ``plan``, ``response``, ``dose`` or your own).
    inputs
        Manifest fields the task needs (``case``, ``plan``, ``response``,
        ``activity_image``, ``masks``, ``ct``); a patient whose row lacks one
        is *not applicable* (listed in the summary, neither result nor failure).
    function
        A module-level function ``(PatientInputs) -> {column: value}``.
    optional_inputs
        Fields the task uses when the manifest gives them.
    version
        Bump it when the task's output changes, so that stored results are
        recomputed (it is part of the input digest).
    check
        Called once before a run (on this machine); raises
        :class:`TaskUnavailableError` when the task cannot run here.
    shared
        ``shared(entry) -> (key, build) | None``: an object many patients use
        (a dose-voxel kernel per voxel size).  The driver calls ``build()`` once
        per distinct ``key`` of the patients it runs, scatters the result to the
        workers (``Client.scatter``, broadcast) and hands it to the task as
        :attr:`PatientInputs.shared`; ``None`` leaves the task to make its own.
    memory_bytes
        ``memory_bytes(entry) -> bytes | None``: the task's expected peak
        memory, read from image headers on the driver.  Every Dask task carries
        it as the annotation ``memory_bytes``, and claims it as a worker
        resource when the run names one (``memory_resource``).
    """

    name: str
    inputs: tuple[str, ...]
    function: TaskFunction
    optional_inputs: tuple[str, ...] = ()
    version: str = "1"
    check: Callable[[], None] | None = field(default=None, compare=False)
    shared: Callable[[PatientEntry], tuple[Hashable, Callable[[], Any]] | None] | None = field(
        default=None, compare=False
    )
    memory_bytes: Callable[[PatientEntry], int | None] | None = field(default=None, compare=False)


def _scalar(value: object) -> Scalar:
    """A JSON/Parquet-friendly cell: enums by value, dates as ISO text, Decimal as float.

    NaN and infinities become None (an empty cell).

    Examples
    --------
    >>> import datetime as dt, decimal
    >>> [_scalar(v) for v in (dt.date(2026, 1, 2), decimal.Decimal("-30.5"), float("nan"))]
    ['2026-01-02', -30.5, None]
    """
    if isinstance(value, Enum):
        return _scalar(value.value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return _scalar(value.item())  # type: ignore[attr-defined]  # a numpy scalar
    raise TypeError(f"not a table cell: {type(value).__name__}")


@functools.cache
def _assessor() -> Any:
    """One assessor per worker process (building it reads the rule profile)."""
    from netlm.eligibility import Assessor

    return Assessor()


def _parse_case(inputs: PatientInputs) -> Any:
    from netlm.case import parse_case

    return parse_case(inputs.documents["case"], format=inputs.text_format("case"))


def assess_task(inputs: PatientInputs) -> dict[str, Scalar]:
    """Tumour-board assessment: grade, Child-Pugh, ALBI, burden, one verdict per modality."""
    from netlm.eligibility import Modality

    a = _assessor().assess(_parse_case(inputs))
    cp = a.liver_function.child_pugh
    row: dict[str, Scalar] = {
        "case_id": a.case_id,
        "grade": _scalar(a.grade.grade),
        "grade_needs_pathology_review": a.grade.needs_pathology_review,
        "child_pugh_score": cp.score,
        "child_pugh_class": _scalar(cp.child_pugh_class),
        "albi_grade": a.liver_function.albi.grade,
        "albi_score": _scalar(a.liver_function.albi.score),
        "tumour_burden_percent": _scalar(a.tumour_burden_percent),
    }
    for m in Modality:
        row[f"verdict_{m.value}"] = a.option(m).verdict.value
    row["workup"] = ";".join(w.id for w in a.workup)
    row["profile"] = a.provenance.profile.id
    row["case_digest"] = a.provenance.inputs_digest
    return row


def plan_task(inputs: PatientInputs) -> dict[str, Scalar]:
    """Solve the radioembolization plan (with the case's treatment history)."""
    from netlm.sirt.plan import parse_plan
    from netlm.sirt.planner import solve, with_case_history

    plan = parse_plan(inputs.documents["plan"], format=inputs.text_format("plan"))
    if "case" in inputs.documents:
        plan = with_case_history(plan, _parse_case(inputs))
    r = solve(plan)
    row: dict[str, Scalar] = {
        "device": r.device,
        "method": r.method,
        "injected_activity_gbq": r.injected_activity_gbq,
        "vial_activity_gbq": r.vial_activity_gbq,
        "session_lung_dose_gy": r.session_lung_dose_gy,
        "cumulative_lung_dose_gy": r.cumulative_lung_dose_gy,
        "territories": ";".join(t.name for t in r.territories),
    }
    for t in r.territories:
        d = t.doses_gy
        row[f"activity_gbq_{t.name}"] = t.injected_activity_gbq
        row[f"tumour_dose_gy_{t.name}"] = d.tumour
        row[f"normal_liver_dose_gy_{t.name}"] = d.normal_liver
        row[f"perfused_dose_gy_{t.name}"] = d.perfused
        row[f"lung_dose_gy_{t.name}"] = d.lung
    row["checks_failed"] = ";".join(c.id for c in r.checks if not c.passed)
    row["warnings"] = len(r.warnings)
    row["plan_digest"] = r.inputs_digest
    return row


def response_task(inputs: PatientInputs) -> dict[str, Scalar]:
    """Response by every criterion the file names: best overall response, TTP, depth."""
    from netlm.response.io import parse_response
    from netlm.response.report import assess_response

    doc = parse_response(inputs.documents["response"], format=inputs.text_format("response"))
    report = assess_response(doc)
    row: dict[str, Scalar] = {
        "case": report.case,
        "reference_date": _scalar(report.reference_date),
        "criteria": ";".join(r.criterion for r in report.results),
    }
    for r in report.results:
        c, e = r.criterion, r.endpoints
        row[f"bor_{c}"] = r.best_overall.response.value
        row[f"bor_date_{c}"] = _scalar(r.best_overall.date)
        row[f"progression_date_{c}"] = _scalar(e.progression_date)
        row[f"ttp_days_{c}"] = e.time_to_progression_days
        row[f"response_date_{c}"] = _scalar(e.response_date)
        row[f"duration_of_response_days_{c}"] = e.duration_of_response_days
        row[f"depth_of_response_percent_{c}"] = _scalar(e.depth_of_response_percent)
    row["response_digest"] = report.inputs_digest
    return row


# -- dose: netlm.imaging and netlm.voxel are imported inside the task, so that the other
# -- tasks run whether or not they (and their dependencies) are installed.
_DOSE_MODULES: Final = (
    ("netlm.imaging.io", ("read_image", "read_masks")),
    ("netlm.voxel.dose", ("dose_ldm", "dose_dvk", "total_activity_gbq")),
    ("netlm.voxel.dvh", ("dose_statistics",)),
    ("netlm.workflows.dose", ("compute_dose",)),
)


def check_dose_available() -> None:
    """Raise :class:`TaskUnavailableError` unless the dose task can run here."""
    for module_name, names in _DOSE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise TaskUnavailableError(
                f"the dose task needs {module_name}, which cannot be imported here ({exc})"
            ) from None
        missing = [n for n in names if not callable(getattr(module, n, None))]
        if missing:
            raise TaskUnavailableError(
                f"the dose task needs {module_name}.{', '.join(missing)}, which it lacks"
            )


def dose_task(
    inputs: PatientInputs, *, model: Literal["ldm", "dvk"] = "ldm", kernel: Any = None
) -> dict[str, Scalar]:
    """Voxel dose map of the activity image; dose statistics per mask.

    Runs :func:`netlm.workflows.dose.compute_dose`, the pipeline of ``netlm dose
    images`` and the API (same density, clipping, decay and statistics), without
    writing files.  The manifest gives no implant or scan time: an image without
    times (NIfTI, NRRD) is read as a concentration at implant (Bq/mL), an
    assumption recorded in ``activity_reference``; a DICOM PET is
    decay-corrected to its administration time from its header.  The dose
    comes from local deposition (``model="ldm"``, the EANM standard) or kernel
    convolution (``"dvk"``, with ``kernel``, else the run's kernel for the
    image's voxel size, :attr:`PatientInputs.shared`, else one made here).  Each mask file holds one
    volume of interest (resampled onto the activity grid when needed); with
    masks named ``liver`` and ``tumour`` the ``normal_liver`` (liver without
    tumour) is added; a mask named ``lung`` gets the lung density.  Columns per
    VOI: ``mean_dose_gy_<voi>``, ``d70_gy_<voi>``, ``d90_gy_<voi>``,
    ``volume_ml_<voi>``, ``voxels_<voi>``, ``shaky_<voi>`` (fewer voxels than a
    reliable mean needs) and ``bed_mean_gy_<voi>`` (empty where no
    radiobiology preset applies).
    """
    import warnings

    from netlm.voxel.dose import DosimetryWarning
    from netlm.workflows.dose import compute_dose

    entry = inputs.entry
    if entry.activity_image is None:
        raise CohortInputError([("activity_image", "the dose task needs an activity image")])
    if kernel is None and inputs.shared is not None:
        kernel = inputs.shared  # the run's kernel for this voxel size
    # dvk without one: compute_dose makes the kernel of the image's voxel size
    # (the shipped DPK and the kernel cache make that the voxelisation at most).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DosimetryWarning)  # recorded in the row
        result = compute_dose(
            entry.activity_image,
            list(entry.masks),
            None,
            method=model,
            kernel=kernel,
            activity_unit="Bq/mL",
            assume_implant_time_reference=True,
            workers=1,
        )
    document = result.document
    row: dict[str, Scalar] = {
        "dose_model": model,
        "total_activity_gbq": document["total_activity_gbq"],
        "dose_max_gy": float(result.dose.array.max()),
        "vois": ";".join(document["vois"]),
        "activity_reference": document["activity"]["reference"]["basis"],
        "decay_factor": document["activity"]["reference"]["decay_factor"],
        "clipped_voxels": int(document["negative_voxels"]["clipped_voxels"]),
        "density": document["density"],
        "dose_warnings": " | ".join(document["warnings"]),
    }
    for name, s in document["vois"].items():
        row[f"mean_dose_gy_{name}"] = s["mean_gy"]
        row[f"d70_gy_{name}"] = s["d70_gy"]
        row[f"d90_gy_{name}"] = s["d90_gy"]
        row[f"volume_ml_{name}"] = s["volume_ml"]
        row[f"voxels_{name}"] = s["voxel_count"]
        row[f"shaky_{name}"] = s["shaky"]
        row[f"bed_mean_gy_{name}"] = s["radiobiology"]["bed_mean_gy"]
    return row


def _image_header(path: Path) -> tuple[tuple[float, float, float], int] | None:
    """Voxel size (mm, i j k) and voxel count from an image file's header only.

    None for a DICOM folder or a file SimpleITK cannot read the header of (the
    worker then finds out for itself).
    """
    if not path.is_file():
        return None
    try:
        import SimpleITK as sitk  # noqa: N813

        reader: Any = sitk.ImageFileReader()  # type: ignore[no-untyped-call]
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        spacing = tuple(float(v) for v in reader.GetSpacing())
        size = [int(v) for v in reader.GetSize()]
    except Exception:  # any unreadable header: the worker reports it
        return None
    if len(spacing) < 3 or len(size) < 3:
        return None
    return (spacing[0], spacing[1], spacing[2]), math.prod(size)


def _voxel_key(spacing: tuple[float, float, float]) -> tuple[float, float, float]:
    """A voxel size rounded to 1 nm, so that header noise does not split kernels."""
    return (round(spacing[0], 6), round(spacing[1], 6), round(spacing[2], 6))


def _y90_kernel_for(voxel_mm: tuple[float, float, float]) -> Any:
    from netlm.sirt.physics import Physics
    from netlm.voxel.kernels import y90_kernel

    return y90_kernel(voxel_mm, density_g_per_ml=Physics().tissue_density_g_per_ml)


def _dose_kernel_of(entry: PatientEntry) -> tuple[Hashable, Callable[[], Any]] | None:
    """The DVK kernel a patient's image needs, keyed by voxel size (from its header)."""
    header = None if entry.activity_image is None else _image_header(entry.activity_image)
    if header is None:
        return None
    voxel = _voxel_key(header[0])
    return ("y90-kernel", voxel), functools.partial(_y90_kernel_for, header[0])


def dose_memory_bytes(entry: PatientEntry) -> int | None:
    """Expected peak memory of one patient's dose task, from the image headers [U].

    About 0.4 GB on a 256 × 256 × 89 PET grid with a 512 × 512 × 112
    segmentation, about 1.5 GB when the activity is on a 512 × 512 × 112 CT
    grid; None when the activity image's header cannot be read here.
    """
    header = None if entry.activity_image is None else _image_header(entry.activity_image)
    if header is None:
        return None
    total = _DOSE_BYTES_FIXED + _DOSE_BYTES_PER_VOXEL * header[1]
    for _, mask in entry.masks:
        found = _image_header(mask)
        total += _DOSE_BYTES_PER_MASK_VOXEL * (found[1] if found else header[1])
    if entry.ct is not None:
        found = _image_header(entry.ct)
        total += _DOSE_BYTES_PER_CT_VOXEL * (found[1] if found else header[1])
    return int(total)


def dose_cohort_task(model: Literal["ldm", "dvk"] = "ldm", kernel: Any = None) -> CohortTask:
    """The ``dose`` task with another dose model (``"dvk"``: dose-voxel kernel convolution).

    With ``model="dvk"`` and no ``kernel`` the run computes the 90Y kernel of
    every voxel size among its patients once (:func:`netlm.voxel.kernels.y90_kernel`
    at the planning tissue density) and scatters each to the workers; a given
    ``kernel`` is used for every patient (its voxel size must match).  The
    model and the kernel's ``source`` are part of the task version, so
    switching models recomputes every patient.
    """
    if model not in ("ldm", "dvk"):
        raise InputError([("model", f"must be 'ldm' or 'dvk', not {model!r}")])
    source = str(getattr(kernel, "source", "")) if kernel is not None else ""
    if model == "dvk" and kernel is None:
        source = "netlm-monte-carlo"
    return CohortTask(
        "dose",
        ("activity_image", "masks"),
        functools.partial(dose_task, model=model, kernel=kernel),
        version=f"2/{model}" + (f"/{source}" if source else ""),
        check=check_dose_available,
        shared=_dose_kernel_of if model == "dvk" and kernel is None else None,
        memory_bytes=dose_memory_bytes,
    )


#: The built-in tasks by name.
TASKS: Mapping[str, CohortTask] = MappingProxyType(
    {
        "assess": CohortTask("assess", ("case",), assess_task),
        "plan": CohortTask("plan", ("plan",), plan_task, optional_inputs=("case",)),
        "response": CohortTask("response", ("response",), response_task),
        "dose": dose_cohort_task("ldm"),
    }
)


# ---------------------------------------------------------------------------- one patient
@dataclass(frozen=True)
class PatientOutcome:
    """What one patient's task returned to the driver.

    ``status`` is ``ok`` (``result`` holds the row), ``failed`` (``error_type``,
    ``fields`` and ``message`` say why), ``skipped`` (the digest matched the
    stored one; nothing was computed) or ``not_applicable`` (the manifest gives
    the patient no file of a kind the task needs, e.g. no plan for a patient
    treated by chemoembolization; ``message`` says which).
    """

    patient_id: str
    status: Literal["ok", "failed", "skipped", "not_applicable"]
    input_digest: str | None
    result: dict[str, Scalar] | None = None
    error_type: str | None = None
    fields: tuple[str, ...] = ()
    message: str | None = None
    seconds: float = 0.0


def _hash_file(path: Path, keep: bool) -> tuple[str, bytes | None]:
    h = hashlib.sha256()
    if keep:
        data = path.read_bytes()
        h.update(data)
        return h.hexdigest(), data
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest(), None


def _input_files(task: CohortTask, entry: PatientEntry) -> tuple[list[tuple[str, Path]], list[str]]:
    """``(field, path)`` of every file the task reads, and the required fields the row lacks."""
    files: list[tuple[str, Path]] = []
    missing: list[str] = []
    for name in (*task.inputs, *task.optional_inputs):
        if name == "masks":
            files.extend((f"masks.{voi}", path) for voi, path in entry.masks)
            found = bool(entry.masks)
        else:
            path = entry.path_of(name)
            if path is not None:
                files.append((name, path))
            found = path is not None
        if not found and name in task.inputs:
            missing.append(name)
    return files, missing


def input_digest(task: CohortTask, patient_id: str, file_digests: Mapping[str, str]) -> str:
    """The input digest: SHA-256 over task, versions, patient id and each file's SHA-256.

    Examples
    --------
    >>> t = TASKS["assess"]
    >>> a = input_digest(t, "P1", {"case": "00" * 32})
    >>> a == input_digest(t, "P1", {"case": "00" * 32}), a == input_digest(t, "P1", {})
    (True, False)
    """
    canonical = json.dumps(
        {
            "schema": DIGEST_SCHEMA,
            "task": task.name,
            "task_version": task.version,
            "netlm_version": __version__,
            "patient_id": patient_id,
            "files": dict(sorted(file_digests.items())),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _failure(
    entry: PatientEntry, exc: BaseException, digest: str | None, started: float
) -> PatientOutcome:
    fields = tuple(exc.fields) if isinstance(exc, InputError) else ()
    return PatientOutcome(
        patient_id=entry.patient_id,
        status="failed",
        input_digest=digest,
        error_type=type(exc).__name__,
        fields=fields,
        message=str(exc) or type(exc).__name__,
        seconds=time.perf_counter() - started,
    )


def _not_applicable(entry: PatientEntry, missing: Sequence[str]) -> PatientOutcome:
    return PatientOutcome(
        entry.patient_id,
        "not_applicable",
        None,
        message=f"the manifest gives no {' and no '.join(missing)} for this patient",
    )


def _fingerprint(path: Path) -> str:
    """SHA-256 of an image input's path, size and modification time (ns), not its bytes.

    A folder (a DICOM series) is fingerprinted by every file below it.  The
    image is then read only by the task itself, and a re-run decides what is
    done from ``stat`` calls alone.  A file rewritten with the same size and
    modification time is not noticed (``retry_failed`` or a new results folder
    recomputes).
    """
    if path.is_dir():
        items = [
            (str(p.relative_to(path)), st.st_size, st.st_mtime_ns)
            for p in sorted(path.rglob("*"))
            if p.is_file() and (st := p.stat())
        ]
    else:
        st = path.stat()
        if not path.is_file():
            raise IsADirectoryError(f"{path} is not a file")
        items = [("", st.st_size, st.st_mtime_ns)]
    payload = json.dumps([str(path.resolve()), items], separators=(",", ":"))
    return "stat:" + hashlib.sha256(payload.encode()).hexdigest()


def _read_inputs(
    task: CohortTask, entry: PatientEntry, files: Sequence[tuple[str, Path]], keep: bool
) -> tuple[str, dict[str, bytes], dict[str, str]]:
    """The input digest, (with ``keep``) the documents' bytes, and the images' fingerprints.

    Documents (``case``, ``plan``, ``response``) are hashed by their bytes and
    parsed from those same bytes; images by :func:`_fingerprint`.
    """
    hashes: dict[str, str] = {}
    documents: dict[str, bytes] = {}
    images: dict[str, str] = {}
    for name, path in files:
        try:
            if name in _DOCUMENT_FIELDS:
                hashes[name], data = _hash_file(path, keep=keep)
            else:
                hashes[name] = images[name] = _fingerprint(path)
                data = None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise CohortInputError([(name, f"cannot read {path}: {reason}")]) from None
        if data is not None:
            documents[name] = data
    return input_digest(task, entry.patient_id, hashes), documents, images


def _images_unchanged(files: Sequence[tuple[str, Path]], before: Mapping[str, str]) -> None:
    """Raise when an image changed while the task read it (the result would not match)."""
    for name, path in files:
        if name in before:
            try:
                same = _fingerprint(path) == before[name]
            except OSError:
                same = False
            if not same:
                raise CohortInputError(
                    [(name, f"{path} changed while the task ran; run the patient again")]
                )


def _triage(
    task: CohortTask, entry: PatientEntry, done_digest: str | None
) -> PatientOutcome | None:
    """``not_applicable`` or ``skipped`` when that can be told here, else None (to compute).

    Runs on the driver, so that a re-run with nothing to do starts no cluster;
    files the driver cannot read are left to the worker.
    """
    files, missing = _input_files(task, entry)
    if missing:
        return _not_applicable(entry, missing)
    if done_digest is None:
        return None
    try:
        digest, _, _ = _read_inputs(task, entry, files, keep=False)
    except CohortInputError:
        return None
    return PatientOutcome(entry.patient_id, "skipped", digest) if digest == done_digest else None


def run_patient(
    task: CohortTask, entry: PatientEntry, done_digest: str | None, shared: Any = None
) -> PatientOutcome:
    """Run ``task`` on one patient; never raises (a failure is returned).

    Computes the input digest (documents by their bytes, which are kept;
    images by :func:`_fingerprint`), returns ``skipped`` when it equals
    ``done_digest``, and otherwise runs the task function on the document bytes
    that were hashed (and ``shared``, :attr:`PatientInputs.shared`).  Each image
    is read once, by the task; an image whose fingerprint changed meanwhile
    makes the patient a failure.
    """
    started = time.perf_counter()
    digest: str | None = None
    try:
        files, missing = _input_files(task, entry)
        if missing:
            return _not_applicable(entry, missing)
        try:
            digest, documents, images = _read_inputs(task, entry, files, keep=True)
        except CohortInputError as exc:
            return _failure(entry, exc, None, started)
        if digest == done_digest:
            return PatientOutcome(entry.patient_id, "skipped", digest)
        row = task.function(
            PatientInputs(entry=entry, documents=MappingProxyType(documents), shared=shared)
        )
        result = {str(k): _scalar(v) for k, v in row.items()}
        _images_unchanged(files, images)
    except Exception as exc:  # one patient's failure, whatever it is, never stops the run
        return _failure(entry, exc, digest, started)
    return PatientOutcome(
        patient_id=entry.patient_id,
        status="ok",
        input_digest=digest,
        result=result,
        seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------- summary
class PatientFailure(BaseModel):
    """One patient whose task failed."""

    model_config = ConfigDict(frozen=True)

    patient_id: str
    error_type: str
    fields: tuple[str, ...] = Field(description="Input fields the error names, if any.")
    message: str
    input_digest: str | None = Field(
        description="Digest of the inputs that failed; None when they could not be read."
    )


class CohortRunSummary(ResultModel):
    """What a cohort run did and where its results are.

    ``to_dict()`` is the ``netlm cohort run --format json`` summary; ``to_pandas()``
    reads the run's results (``results.parquet``: one row per patient).
    """

    model_config = ConfigDict(frozen=True)

    task: str
    manifest: str | None
    out_dir: str
    scheduler: str = Field(description="'inline', 'local cluster, N workers...' or an address.")
    patients: int
    computed: tuple[str, ...] = Field(description="Patients computed in this run (in order).")
    skipped: tuple[str, ...] = Field(description="Patients whose stored outcome was reused.")
    not_applicable: tuple[str, ...] = Field(
        description="Patients the manifest gives no file the task needs (e.g. no plan)."
    )
    succeeded: int = Field(description="Patients with a result in results.parquet.")
    failures: tuple[PatientFailure, ...] = Field(
        description="Every patient whose current outcome is a failure (this run or stored)."
    )
    results_parquet: str
    results_csv: str
    failures_csv: str
    elapsed_s: float
    netlm_version: str

    def to_pandas(self) -> Any:
        """The results table of the run (``results.parquet``) as a pandas DataFrame."""
        import pandas as pd

        return pd.read_parquet(self.results_parquet)

    @property
    def n_computed(self) -> int:
        return len(self.computed)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    @property
    def n_failed(self) -> int:
        return len(self.failures)


# ---------------------------------------------------------------------------- results index
def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then replace ``path``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _csv_cell(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Scalar]]) -> None:
    import csv

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_cell(row.get(c)) for c in columns])

    _atomic_write(path, write)


def _arrow_column(values: list[Scalar]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds in one column: keep text
        return pa.array([None if v is None else _csv_cell(v) for v in values], type=pa.string())


def _write_parquet(
    path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Scalar]]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: _arrow_column([r.get(c) for r in rows]) for c in columns})
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _columns(rows: Iterable[Mapping[str, Scalar]]) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(_LEADING)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.lock`` for the run: a second run on the same folder is refused.

    The lock is an OS file lock (released when the process ends, even killed);
    where the OS has none (Windows), runs are not guarded.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ResultsIndexError(
                f"another cohort run is writing to {out_dir}; wait for it or use another folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _ResultsIndex:
    """The results folder: ``index.json`` plus the tables written from it."""

    def __init__(self, out_dir: Path, task: str) -> None:
        self.out_dir = out_dir
        self.task = task
        self.index = out_dir / "index.json"
        self.results_parquet = out_dir / "results.parquet"
        self.results_csv = out_dir / "results.csv"
        self.failures_csv = out_dir / "failures.csv"
        self.records: dict[str, dict[str, Any]] = {}
        if self.index.exists():
            self._load()

    def _load(self) -> None:
        try:
            doc = json.loads(self.index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultsIndexError(f"cannot read the results index {self.index}: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != RESULTS_INDEX_SCHEMA:
            raise ResultsIndexError(f"{self.index} is not a {RESULTS_INDEX_SCHEMA} results index")
        if doc.get("task") != self.task:
            raise ResultsIndexError(
                f"{self.out_dir} holds results of the {doc.get('task')!r} task; write the "
                f"{self.task!r} task's results to another folder"
            )
        records = doc.get("records")
        if not isinstance(records, list):
            raise ResultsIndexError(f"{self.index}: records must be a list")
        self.records = {
            str(r["patient_id"]): r for r in records if isinstance(r, dict) and "patient_id" in r
        }

    def done_digest(self, patient_id: str, retry_failed: bool) -> str | None:
        record = self.records.get(patient_id)
        if record is None or (record.get("status") == "failed" and retry_failed):
            return None
        digest = record.get("input_digest")
        return digest if isinstance(digest, str) else None

    def record(self, outcome: PatientOutcome) -> None:
        if outcome.status == "skipped":
            return
        if outcome.status == "not_applicable":  # an earlier outcome no longer applies
            self.records.pop(outcome.patient_id, None)
            return
        record: dict[str, Any] = {
            "patient_id": outcome.patient_id,
            "input_digest": outcome.input_digest,
            "status": outcome.status,
        }
        if outcome.status == "ok":
            record["result"] = outcome.result
        else:
            record["error_type"] = outcome.error_type
            record["fields"] = list(outcome.fields)
            record["message"] = outcome.message
        self.records[outcome.patient_id] = record

    def result_rows(self, order: Sequence[str]) -> list[dict[str, Scalar]]:
        rows = []
        for pid in order:
            r = self.records.get(pid)
            if r is not None and r.get("status") == "ok":
                head: dict[str, Scalar] = {
                    "patient_id": pid,
                    "task": self.task,
                    "input_digest": r.get("input_digest"),
                }
                rows.append(head | dict(r.get("result") or {}))
        return rows

    def failures(self, order: Sequence[str]) -> list[PatientFailure]:
        out = []
        for pid in order:
            r = self.records.get(pid)
            if r is not None and r.get("status") == "failed":
                out.append(
                    PatientFailure(
                        patient_id=pid,
                        error_type=str(r.get("error_type") or "Exception"),
                        fields=tuple(r.get("fields") or ()),
                        message=str(r.get("message") or ""),
                        input_digest=r.get("input_digest"),
                    )
                )
        return out

    def write(self, order: Sequence[str]) -> None:
        """Write index.json, results.parquet/.csv and failures.csv for the patients in ``order``."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        rows = self.result_rows(order)
        columns = _columns(rows)
        _write_parquet(self.results_parquet, columns, rows)
        _write_csv(self.results_csv, columns, rows)
        failure_rows: list[dict[str, Scalar]] = [
            {
                "patient_id": f.patient_id,
                "task": self.task,
                "input_digest": f.input_digest,
                "error_type": f.error_type,
                "fields": ";".join(f.fields),
                "message": f.message,
            }
            for f in self.failures(order)
        ]
        _write_csv(self.failures_csv, _FAILURE_COLUMNS, failure_rows)
        doc = {
            "schema": RESULTS_INDEX_SCHEMA,
            "task": self.task,
            "netlm_version": __version__,
            "records": [self.records[pid] for pid in order if pid in self.records],
        }
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"

        def write_index(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        _atomic_write(self.index, write_index)


# ---------------------------------------------------------------------------- execution
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
