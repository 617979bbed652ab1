"""``/patients/{id}/case`` and ``/assess``: case entry and editing, and running the assessment.

The form is generated from the case model (:mod:`netlm.api.forms.case`);
each validation message is shown next to its input, and an edit saved by
someone else in the meantime is refused (409) with this one kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from netlm.api.config import StoreDep
from netlm.api.forms.case import (
    EXTRA_FIELD,
    LESION_TABLE,
    SPARE_LESION_ROWS,
    case_form_sections,
    case_form_values,
    case_from_form,
    case_problems,
    form_inputs,
)
from netlm.api.pages.common import FormDep, PatientId, redirect
from netlm.api.roles import WRITERS, GuardedRoute, UserDep, allow
from netlm.api.templating import render
from netlm.case import SCHEMA_ID
from netlm.errors import InputError, StoreError
from netlm.store.repository import CaseVersionOut, PatientOut

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def _case_form(
    request: Request,
    patient: PatientOut,
    values: Mapping[str, str],
    extra: str,
    problems: Sequence[tuple[str, str]] = (),
    status_code: int = 200,
    base_version: int | None = None,
) -> HTMLResponse:
    by_field, rest = case_problems(problems)
    return render(
        request,
        "case_form.html",
        status_code,
        title=f"Case of {patient.external_id}",
        patient=patient,
        sections=case_form_sections(),
        values=values,
        extra=extra,
        extra_field=EXTRA_FIELD,
        errors=by_field,
        lesion_table=LESION_TABLE,
        lesion_rows=LESION_TABLE.rows(values) + SPARE_LESION_ROWS,
        other_problems=rest,
        problem_count=len(problems),
        base_version=patient.latest_version or 0 if base_version is None else base_version,
    )


@router.get("/patients/{patient_id}/case", response_class=HTMLResponse, **allow(WRITERS))
def case_form(request: Request, store: StoreDep, patient_id: PatientId) -> Response:
    patient = store.get_patient(patient_id)
    if patient.latest_version is not None:
        document = store.case_version(patient_id).document
    else:
        document = {"schema": SCHEMA_ID, "patient": {"id": patient.external_id}}
    values, extra = case_form_values(document)
    return _case_form(request, patient, values, extra)


@router.post("/patients/{patient_id}/case", response_class=HTMLResponse, **allow(WRITERS))
def save_case(
    request: Request, store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep
) -> Response:
    patient = store.get_patient(patient_id)
    case, _, problems = case_from_form(form)
    base = form.get("base_version", "")
    base_version = int(base) if base.isdigit() else None
    status_code = 422
    if case is not None:
        try:
            saved: CaseVersionOut = store.save_case(
                patient_id, case, actor=user.username, base_version=base_version
            )
        except InputError as exc:
            problems = list(exc.problems)
        except StoreError as exc:  # another edit was saved first: show it, keep this one
            problems, status_code = [("", str(exc))], 409
        else:
            return redirect(f"/patients/{patient_id}?saved={saved.version}")
    values = {i.name: form.get(i.name, "") for i in form_inputs()}
    values |= {name: form.get(name, "") for name in LESION_TABLE.names(LESION_TABLE.rows(form))}
    return _case_form(
        request,
        patient,
        values,
        form.get(EXTRA_FIELD, ""),
        problems,
        status_code=status_code,
        base_version=base_version,
    )


@router.post("/patients/{patient_id}/assess", **allow(WRITERS))
def assess(store: StoreDep, user: UserDep, patient_id: PatientId, form: FormDep) -> Response:
    store.run_assessment(patient_id, actor=user.username)
    return redirect(f"/patients/{patient_id}#verdicts")
