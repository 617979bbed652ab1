"""The cohort tasks: what one task reads of a patient and the result row it returns.

:class:`CohortTask` names a task, the manifest fields it reads and its function
over :class:`PatientInputs`; the built-in ``assess``, ``plan``, ``response`` and
``dose`` tasks are in :data:`TASKS`.  A dose task also says which objects many
patients share (a dose-voxel kernel per voxel size) and the memory one patient
needs, for the scheduler.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import math
from collections.abc import (
    Callable,
    Hashable,
    Mapping,
)
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from netlm.cohort.errors import CohortInputError, TaskUnavailableError
from netlm.cohort.manifest import PatientEntry
from netlm.errors import InputError

#: A value in a results row.
Scalar = str | int | float | bool | None

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
