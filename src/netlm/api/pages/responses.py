"""Follow-up and treatments: ``/patients/{id}/response`` (measurements) and ``/treatments``.

The follow-up form (:mod:`netlm.api.forms.response`) names the patient's
known lesions; a submitted form is recorded by
:func:`netlm.workflows.response.record_response`, as a response file is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import StoreDep
from netlm.api.forms.inputs import place_problems
from netlm.api.forms.response import (
    RESPONSE_EXTRA_FIELD,
    TIMEPOINT_BLOCKS,
    criteria_input,
    criterion_name,
    lesion_table,
    response_document_from_form,
    response_form_names,
    response_form_values,
    response_rows,
    response_values,
    timepoint_blocks,
    timepoint_rows,
)
from netlm.api.forms.response import SPARE_LESION_ROWS as SPARE_OBSERVATION_ROWS
from netlm.api.pages.common import FormDep, PatientId, redirect
from netlm.api.roles import WRITERS, GuardedRoute, UserDep, allow
from netlm.api.templating import render
from netlm.errors import InputError
from netlm.store.repository import PatientOut, Store
from netlm.workflows.response import record_response, recorded_timepoints

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def _known_lesions(store: Store, patient: PatientOut) -> list[dict[str, Any]]:
    """The lesions a new follow-up form names: those of the patient's latest recorded time
    point (with the organ and role of their declaration), else the lesions of the latest
    case, declared as liver targets."""
    recorded = [r for r in store.response_timepoints(patient.id) if r.details.get("lesions")]
    if recorded:
        latest = max(recorded, key=lambda r: (r.date, r.id))
        return [
            {k: x.get(k) for k in ("id", "organ", "role")}
            for x in latest.details["lesions"]
            if isinstance(x, dict) and x.get("id")
        ]
    if patient.latest_version is None:
        return []
    case = store.case_version(patient.id).to_case()
    return [
        {"id": lesion.id, "organ": "liver", "role": "target"}
        for lesion in case.liver.lesions or ()
        if lesion.id
    ]


@dataclass(frozen=True)
class Recorded:
    """A recorded time point as the follow-up form lists it."""

    date: dt.date
    baseline: bool
    lesions: int
    responses: tuple[tuple[str, str], ...]  # (criterion label, overall response)


def recorded_series(store: Store, patient_id: int) -> tuple[list[dict[str, Any]], list[Recorded]]:
    """The recorded series a new follow-up form shows: the baseline of the latest record
    and every follow-up recorded against it, oldest first (empty when the records keep no
    baseline), and the list of those time points with their recorded responses."""
    records = store.response_timepoints(patient_id)
    with_baseline = [r for r in records if isinstance(r.details.get("baseline"), dict)]
    if not with_baseline:
        return [], []
    latest = max(with_baseline, key=lambda r: (r.date, r.id))
    baseline = latest.details["baseline"]
    kept = recorded_timepoints(with_baseline)
    series = [r for r in with_baseline if r.details["baseline"] == baseline]
    dates = sorted({r.date for r in series})
    points = [baseline, *(kept[d] for d in dates)]
    listed = [Recorded(dt.date.fromisoformat(baseline["date"]), True, len(baseline["lesions"]), ())]
    for d in dates:
        responses = tuple(
            (str(r.details.get("label", r.criterion)), r.overall) for r in series if r.date == d
        )
        listed.append(Recorded(d, False, len(kept[d].get("lesions", [])), responses))
    return points, listed


def _new_follow_up(
    series: list[dict[str, Any]], criteria: Sequence[str]
) -> tuple[dict[str, str], str] | None:
    """The form values of the recorded ``series`` and an empty next time point naming the
    lesions of the last one (by id); None when the series does not fit the form's tables."""
    values, extra = response_values({"criteria": list(criteria), "timepoints": series})
    if extra:
        return None
    last = series[-1].get("lesions", [])
    ids = [{"id": x["id"]} for x in last if isinstance(x, dict) and x.get("id")]
    return values | lesion_table(len(series)).values(ids), ""


def _response_form(
    request: Request,
    patient: PatientOut,
    values: Mapping[str, str],
    extra: str,
    problems: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
    recorded: Sequence[Recorded] = (),
) -> HTMLResponse:
    """The follow-up measurement form (:mod:`netlm.api.forms`), problems next to inputs."""
    blocks = max(TIMEPOINT_BLOCKS, timepoint_blocks(values) + 1)
    rows = max(lesion_table(t).rows(values) for t in range(blocks)) + SPARE_OBSERVATION_ROWS
    by_field, rest = place_problems(problems, response_form_names(blocks, rows))
    return render(
        request,
        "response_form.html",
        status_code,
        title=f"Follow-up · {patient.external_id}",
        patient=patient,
        values=values,
        extra=extra,
        extra_field=RESPONSE_EXTRA_FIELD,
        errors=by_field,
        general=response_rows(),
        criteria=criteria_input(),
        criterion_name=criterion_name,
        blocks=[(t, timepoint_rows(t), lesion_table(t)) for t in range(blocks)],
        lesion_rows=rows,
        other_problems=rest,
        problem_count=len(problems),
        recorded=recorded,
    )


@router.post("/patients/{patient_id}/treatments", **allow(WRITERS))
def add_treatment(store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep) -> Response:
    try:
        when = dt.date.fromisoformat(form.get("date", ""))
    except ValueError:
        raise InputError([("date", "give the date as YYYY-MM-DD")]) from None
    notes = form.get("notes", "").strip()
    store.add_treatment(
        patient_id,
        modality=form.get("modality", ""),
        date=when,
        details={"notes": notes} if notes else {},
        actor=user.username,
    )
    return redirect(f"/patients/{patient_id}#timeline")


@router.get("/patients/{patient_id}/response/new", response_class=HTMLResponse, **allow(WRITERS))
def new_response(request: Request, store: StoreDep, patient_id: PatientId) -> Response:
    patient = store.get_patient(patient_id)
    recorded = {r.criterion for r in store.response_timepoints(patient_id)}
    criteria = [c for c in criteria_input().choices if c in recorded] or ["recist1.1"]
    series, listed = recorded_series(store, patient_id)
    shown = _new_follow_up(series, criteria) if series else None
    if shown is None:
        values = response_form_values(_known_lesions(store, patient), criteria=criteria)
        return _response_form(request, patient, values, "", recorded=listed)
    return _response_form(request, patient, shown[0], shown[1], recorded=listed)


@router.post("/patients/{patient_id}/response", response_class=HTMLResponse, **allow(WRITERS))
def add_response(
    request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
) -> Response:
    patient = store.get_patient(patient_id)
    read = response_document_from_form(form, patient.external_id)
    problems = read.problems
    if not problems:
        try:
            record_response(store, patient_id, read.document, actor=user.username)
        except InputError as exc:
            problems = [read.place(p) for p in exc.problems]
        else:
            return redirect(f"/patients/{patient_id}#response")
    _, listed = recorded_series(store, patient_id)
    return _response_form(
        request, patient, form, form.get(RESPONSE_EXTRA_FIELD, ""), problems, 422, listed
    )
