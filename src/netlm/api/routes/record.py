"""The clinical record of a patient: treatments, laboratory values, responses and toxicity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from netlm.api.config import API_PREFIX, StoreDep
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.schemas import (
    Document,
    LabIn,
    PatientId,
    ResponseTimepointIn,
    ToxicityIn,
    TreatmentIn,
)
from netlm.response.report import ResponseReport
from netlm.store.repository import LabOut, ResponseOut, ToxicityOut, TreatmentOut
from netlm.workflows.response import record_response

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.post(
    "/patients/{patient_id}/treatments", tags=["record"], status_code=201, **allow(WRITERS)
)
def add_treatment(
    store: StoreDep, user: UserDep, patient_id: PatientId, body: TreatmentIn
) -> TreatmentOut:
    """Record a treatment delivered on a date."""
    return store.add_treatment(
        patient_id,
        modality=body.modality,
        date=body.date,
        details=body.details,
        actor=user.username,
    )


@router.get("/patients/{patient_id}/treatments", tags=["record"], **allow(ALL_ROLES))
def list_treatments(store: StoreDep, patient_id: PatientId) -> list[TreatmentOut]:
    """The patient's treatments by date."""
    return store.treatments(patient_id)


@router.post("/patients/{patient_id}/labs", tags=["record"], status_code=201, **allow(WRITERS))
def add_lab(store: StoreDep, user: UserDep, patient_id: PatientId, body: LabIn) -> LabOut:
    """Record a laboratory value with its unit (and reference limits)."""
    return store.add_lab(
        patient_id,
        date=body.date,
        analyte=body.analyte,
        value=body.value,
        unit=body.unit,
        uln=body.uln,
        lln=body.lln,
        actor=user.username,
    )


@router.get("/patients/{patient_id}/labs", tags=["record"], **allow(ALL_ROLES))
def list_labs(
    store: StoreDep,
    patient_id: PatientId,
    analyte: Annotated[str | None, Query(max_length=64)] = None,
) -> list[LabOut]:
    """The patient's laboratory values by date."""
    return store.labs(patient_id, analyte)


@router.post(
    "/patients/{patient_id}/response-timepoints",
    tags=["record"],
    status_code=201,
    **allow(WRITERS),
)
def add_response_timepoint(
    store: StoreDep, user: UserDep, patient_id: PatientId, body: ResponseTimepointIn
) -> ResponseOut:
    """Record one overall response by one criterion at a date."""
    return store.add_response_timepoint(
        patient_id,
        date=body.date,
        criterion=body.criterion,
        overall=body.overall,
        details=body.details,
        actor=user.username,
    )


@router.get("/patients/{patient_id}/response-timepoints", tags=["record"], **allow(ALL_ROLES))
def list_response_timepoints(store: StoreDep, patient_id: PatientId) -> list[ResponseOut]:
    """The patient's response time points by date."""
    return store.response_timepoints(patient_id)


@router.post("/patients/{patient_id}/response", tags=["record"], status_code=201, **allow(WRITERS))
def assess_patient_response(
    store: StoreDep, user: UserDep, patient_id: PatientId, body: Document
) -> ResponseReport:
    """Assess a ``netlm/response/v1`` file (RECIST 1.1, mRECIST, WHO, EASL, Choi, PERCIST)
    and store every follow-up time point of every criterion; a time point already recorded
    with the same measurements is skipped, one recorded with others is refused (422)."""
    return record_response(store, patient_id, body, actor=user.username)


@router.post(
    "/patients/{patient_id}/toxicities", tags=["record"], status_code=201, **allow(WRITERS)
)
def add_toxicity(
    store: StoreDep, user: UserDep, patient_id: PatientId, body: ToxicityIn
) -> ToxicityOut:
    """Record an adverse event with its CTCAE grade."""
    return store.add_toxicity_event(
        patient_id,
        date=body.date,
        term=body.term,
        grade=body.grade,
        ctcae_version=body.ctcae_version,
        actor=user.username,
    )


@router.get("/patients/{patient_id}/toxicities", tags=["record"], **allow(ALL_ROLES))
def list_toxicities(store: StoreDep, patient_id: PatientId) -> list[ToxicityOut]:
    """The patient's adverse events by date."""
    return store.toxicity_events(patient_id)
