"""Recording a follow-up: assess a response file and store its time points in the registry.

The web pages, the API and demo seeding (:mod:`netlm.workflows.demo`) call
:func:`record_response`; it raises netlm errors (never HTTP errors), which each
front door turns into its own answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from netlm.errors import ResponseError
from netlm.response.io import response_from_mapping
from netlm.response.report import ResponseReport, assess_response

if TYPE_CHECKING:
    from netlm.store.repository import Store

__all__ = ["record_response"]


def _decimal(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def record_response(
    store: Store, patient_id: int, document: dict[str, Any], *, actor: str
) -> ResponseReport:
    """Assess a ``netlm/response/v1`` document and store every follow-up time point.

    Each stored time point carries, besides its overall response by each
    criterion, the lesions observed at that date (``details["lesions"]``, with
    the organ and role of their baseline declaration), so that a follow-up
    form can name the same lesions again.

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
        When the document is invalid or names another patient.
    """
    patient = store.get_patient(patient_id)
    doc = response_from_mapping(document)
    if doc.case is not None and doc.case != patient.external_id:
        raise ResponseError([("case", f"the file is for another patient than {patient_id}")])
    report = assess_response(doc)
    observed = {tp.date: tp.lesions for tp in doc.timepoints}
    for result in report.results:
        for point in result.timepoints[1:]:
            store.add_response_timepoint(
                patient_id,
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
                        for o in observed.get(point.date, ())
                    ],
                },
                actor=actor,
            )
    return report
