"""Recording a follow-up: assess a response file and store its time points in the registry.

The web pages, the API and demo seeding (:mod:`netlm.workflows.demo`) call
:func:`record_response`; it raises netlm errors (never HTTP errors), which each
front door turns into its own answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from netlm.errors import ResponseError
from netlm.response.io import response_from_mapping
from netlm.response.model import TimePoint
from netlm.response.report import ResponseReport, assess_response

if TYPE_CHECKING:
    from netlm.store.models import ResponseOut
    from netlm.store.repository import Store

__all__ = ["record_response", "recorded_timepoints"]


def _decimal(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _dump(point: TimePoint) -> dict[str, Any]:
    """A time point as the record keeps it (JSON, resolved lesions, no empty fields)."""
    return point.model_dump(mode="json", exclude_none=True)


def recorded_timepoints(records: Sequence[ResponseOut]) -> dict[dt.date, dict[str, Any]]:
    """Every time point the records keep, by date: the baseline and follow-up each
    record stored (:func:`record_response`), the latest record's version of a date first.

    Records stored before netlm kept the time point itself give their date and
    lesions only.
    """
    points: dict[dt.date, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (r.date, r.id), reverse=True):
        details = record.details
        point = details.get("timepoint")
        if not isinstance(point, dict):
            point = {"date": record.date.isoformat(), "lesions": details.get("lesions") or []}
        points.setdefault(record.date, point)
        baseline = details.get("baseline")
        if isinstance(baseline, dict) and isinstance(baseline.get("date"), str):
            points.setdefault(dt.date.fromisoformat(baseline["date"]), baseline)
    return points


def _same(stored: Mapping[str, Any], point: TimePoint) -> bool:
    """Whether a posted time point is the one recorded (its lesions only, for a record
    that kept no more than its lesions)."""
    dumped = _dump(point)
    if set(stored) <= {"date", "lesions"}:
        return bool(stored.get("lesions", []) == dumped["lesions"])
    return dict(stored) == dumped


def record_response(
    store: Store, patient_id: int, document: dict[str, Any], *, actor: str
) -> ResponseReport:
    """Assess a ``netlm/response/v1`` document and store every follow-up time point.

    Each stored time point carries, besides its overall response by each
    criterion, the time point as assessed (``details["timepoint"]``: date,
    modality, lesions with the organ and role of their baseline declaration),
    the baseline it was measured against (``details["baseline"]``) and its
    lesions (``details["lesions"]``), so that a follow-up form can show the
    recorded series and name the same lesions again.

    A document may repeat time points already recorded, as a follow-up form
    does (it shows the recorded series and adds the next time point): a time
    point recorded with the same measurements and the same response is skipped;
    one whose measurements, or whose response by a recorded criterion, would
    differ from the record is refused, named, and nothing is stored.  The new
    time points are stored in one transaction (all or none).

    Parameters
    ----------
    store
        The registry.
    patient_id
        The registry's id of the patient; a document naming another patient
        (``case``) is refused.
    document
        The response document as JSON-compatible data.
    actor
        Who the audit log records.

    Raises
    ------
    ResponseError
        When the document is invalid, names another patient, or changes a
        recorded time point (problem path ``timepoints[i]``).
    """
    patient = store.get_patient(patient_id)
    doc = response_from_mapping(document)
    if doc.case is not None and doc.case != patient.external_id:
        raise ResponseError([("case", f"the file is for another patient than {patient_id}")])
    report = assess_response(doc)
    records = store.response_timepoints(patient_id)
    kept = recorded_timepoints(records)
    overall = {(r.date, r.criterion): r.overall for r in records}
    index = {tp.date: i for i, tp in enumerate(doc.timepoints)}
    problems: list[tuple[str, str]] = []
    for i, tp in enumerate(doc.timepoints):
        stored = kept.get(tp.date)
        if stored is not None and not _same(stored, tp):
            problems.append(
                (
                    f"timepoints[{i}]",
                    f"the time point of {tp.date} is already recorded with other "
                    "measurements; a recorded time point cannot be changed here",
                )
            )
    changed = {p for p, _ in problems}
    for result in report.results:
        for point in result.timepoints[1:]:
            before = overall.get((point.date, result.criterion))
            path = f"timepoints[{index[point.date]}]"
            if before is not None and before != point.overall.value and path not in changed:
                changed.add(path)
                problems.append(
                    (
                        path,
                        f"the {result.label} response of {point.date} is recorded as {before}; "
                        f"these measurements would make it {point.overall.value} (a recorded "
                        "time point cannot be changed here)",
                    )
                )
    if problems:
        raise ResponseError(problems)
    from netlm.store.repository import ResponseEntry

    observed = {tp.date: tp for tp in doc.timepoints}
    baseline = _dump(doc.timepoints[0])
    entries = [
        ResponseEntry(
            date=point.date,
            criterion=result.criterion,
            overall=point.overall.value,
            details={
                "label": result.label,
                "version": result.version,
                "unit": point.unit,
                "measure": _decimal(point.measure),
                "change_from_baseline_percent": _decimal(point.change_from_baseline_percent),
                "change_from_nadir_percent": _decimal(point.change_from_nadir_percent),
                "target": point.target.value if point.target else None,
                "non_target": point.non_target.value if point.non_target else None,
                "new_lesions": point.new_lesions,
                "inputs_digest": report.inputs_digest,
                "lesions": [
                    o.model_dump(mode="json", exclude_none=True)
                    for o in observed[point.date].lesions
                ],
                "timepoint": _dump(observed[point.date]),
                "baseline": baseline,
            },
        )
        for result in report.results
        for point in result.timepoints[1:]
        if (point.date, result.criterion) not in overall  # recorded alike: skipped
    ]
    # one transaction: every new time point or none (and a form sent twice at once
    # records its time points once)
    store.add_response_timepoints(patient_id, entries, actor=actor)
    return report
