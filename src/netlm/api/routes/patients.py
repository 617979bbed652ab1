"""``/patients``: patients, their whole-record exports (JSON, FHIR) and their case versions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from netlm.api.config import API_PREFIX, StoreDep
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.schemas import Document, PatientCreate, PatientId, SoftDelete
from netlm.case import case_from_mapping
from netlm.errors import InputError
from netlm.store.repository import CaseVersionOut, PatientOut

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.get("/patients", tags=["patients"], **allow(ALL_ROLES))
def list_patients(
    store: StoreDep,
    search: Annotated[str | None, Query(max_length=200)] = None,
    include_deleted: bool = False,
) -> list[PatientOut]:
    """Patients by registry number; ``search`` matches part of the patient id."""
    return store.list_patients(search or None, include_deleted=include_deleted)


@router.post("/patients", tags=["patients"], status_code=201, **allow(WRITERS))
def create_patient(store: StoreDep, user: UserDep, body: PatientCreate) -> PatientOut:
    """Register a patient under the centre's identifier (``patient.id`` of case files)."""
    return store.create_patient(body.external_id, actor=user.username)


@router.get("/patients/{patient_id}", tags=["patients"], **allow(ALL_ROLES))
def get_patient(store: StoreDep, user: UserDep, patient_id: PatientId) -> PatientOut:
    """One patient (deleted ones too); the read is audited."""
    patient = store.get_patient(patient_id)
    store.record_read(patient_id, actor=user.username, what="patient")
    return patient


@router.delete("/patients/{patient_id}", tags=["patients"], **allow(WRITERS))
def delete_patient(
    store: StoreDep, user: UserDep, patient_id: PatientId, body: SoftDelete
) -> PatientOut:
    """Soft-delete a patient with a reason (nothing is removed; export still works)."""
    store.soft_delete_patient(patient_id, body.reason, actor=user.username)
    return store.get_patient(patient_id)


@router.get("/patients/{patient_id}/export", tags=["patients"], **allow(ALL_ROLES))
def export_patient(store: StoreDep, user: UserDep, patient_id: PatientId) -> dict[str, Any]:
    """The patient's whole record as one document (the export is audited)."""
    return store.export_patient(patient_id, actor=user.username)


@router.get("/patients/{patient_id}/fhir", tags=["patients"], **allow(ALL_ROLES))
def export_patient_fhir(store: StoreDep, user: UserDep, patient_id: PatientId) -> dict[str, Any]:
    """The patient as a FHIR R4 Bundle, mCODE profiles (the export is audited)."""
    from netlm.fhir import bundle_json
    from netlm.workflows.fhir import export_patient_bundle

    bundle = export_patient_bundle(store, patient_id, actor=user.username)
    result: dict[str, Any] = json.loads(bundle_json(bundle, indent=None))
    return result


@router.get("/patients/{patient_id}/case", tags=["cases"], **allow(ALL_ROLES))
def get_case(
    store: StoreDep,
    user: UserDep,
    patient_id: PatientId,
    version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> CaseVersionOut:
    """The patient's case (latest version unless ``version``); the read is audited."""
    case = store.case_version(patient_id, version)
    store.record_read(patient_id, actor=user.username, what="case")
    return case


@router.put(
    "/patients/{patient_id}/case",
    tags=["cases"],
    status_code=201,
    responses={409: {"description": "The case moved on since base_version / If-Match."}},
    **allow(WRITERS),
)
def save_case(
    store: StoreDep,
    user: UserDep,
    patient_id: PatientId,
    body: Document,
    base_version: Annotated[
        int | None,
        Query(ge=0, le=2**31, description="The version the edit started from (0: none)."),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(max_length=64, description='The version the edit started from, as `"3"`.'),
    ] = None,
) -> CaseVersionOut:
    """Store a ``netlm/case/v1`` document as the patient's next case version.

    A bad case is refused with 422 and one ``{field, message}`` per problem.
    With ``base_version`` (or ``If-Match: "<version>"``) an edit of a case
    that has changed since is refused with 409 and nothing is stored.
    """
    if if_match is not None:
        tag = if_match.strip().removeprefix("W/").strip('"')
        if not tag.isdigit() or (base_version is not None and int(tag) != base_version):
            raise InputError(
                [("If-Match", f'must be "<version>" (agreeing with base_version): {if_match}')]
            )
        base_version = int(tag)
    return store.save_case(
        patient_id, case_from_mapping(body), actor=user.username, base_version=base_version
    )


@router.get("/patients/{patient_id}/case/versions", tags=["cases"], **allow(ALL_ROLES))
def case_versions(store: StoreDep, patient_id: PatientId) -> list[CaseVersionOut]:
    """Every stored version of the patient's case, oldest first."""
    return store.case_versions(patient_id)
