"""``/assessments``: tumour-board assessments of a patient's case, their reproduction and PDF."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from netlm.api.config import API_PREFIX, StoreDep
from netlm.api.files import PDF_RESPONSES, temporary_file_response
from netlm.api.roles import ALL_ROLES, WRITERS, GuardedRoute, UserDep, allow
from netlm.api.schemas import PatientId, RecordId, Reproduced
from netlm.store.repository import AssessmentOut
from netlm.workflows.plans import write_assessment_report

router = APIRouter(prefix=API_PREFIX, route_class=GuardedRoute)


@router.post(
    "/patients/{patient_id}/assessments",
    tags=["assessments"],
    status_code=201,
    **allow(WRITERS),
)
def run_assessment(store: StoreDep, user: UserDep, patient_id: PatientId) -> AssessmentOut:
    """Assess the patient's latest case for every treatment and store the result."""
    return store.run_assessment(patient_id, actor=user.username)


@router.get("/patients/{patient_id}/assessments", tags=["assessments"], **allow(ALL_ROLES))
def list_assessments(store: StoreDep, patient_id: PatientId) -> list[AssessmentOut]:
    """The patient's stored assessments, oldest first."""
    return store.assessments(patient_id)


@router.get("/assessments/{assessment_id}", tags=["assessments"], **allow(ALL_ROLES))
def get_assessment(store: StoreDep, assessment_id: RecordId) -> AssessmentOut:
    """One stored assessment with its provenance."""
    return store.get_assessment(assessment_id)


@router.get("/assessments/{assessment_id}/reproduce", tags=["assessments"], **allow(ALL_ROLES))
def reproduce_assessment(store: StoreDep, assessment_id: RecordId) -> Reproduced:
    """Re-run a stored assessment on its stored case and profile; identical result?"""
    return Reproduced(
        assessment_id=assessment_id, reproducible=store.reproduce_assessment(assessment_id)
    )


@router.get(
    "/assessments/{assessment_id}/report.pdf",
    tags=["reports"],
    response_class=FileResponse,
    responses=PDF_RESPONSES,
    **allow(ALL_ROLES),
)
def assessment_pdf(store: StoreDep, assessment_id: RecordId) -> FileResponse:
    """The tumour-board summary as a PDF."""
    return temporary_file_response(
        lambda path: write_assessment_report(store, assessment_id, path),
        f"assessment-{assessment_id}.pdf",
        "application/pdf",
    )
