"""What the registry hands out: the ``*Out`` records, roles, plan states and vocabularies.

Every record the :class:`~netlm.store.repository.Store` returns is a frozen
pydantic model built here from its table row (the ``_*_out`` conversions), so
that rows never leave the store.  The vocabularies (:data:`LAB_ANALYTES`,
:data:`IMAGE_KINDS`, ...) are what the store's checks accept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy.orm import Session

from netlm.case import Case, case_from_mapping
from netlm.case.model import TreatmentType
from netlm.eligibility import Assessment, Modality
from netlm.response.report import ENGINES
from netlm.response.result import Response
from netlm.sirt.plan import Plan, plan_from_mapping
from netlm.sirt.planner import PlanResult
from netlm.store import tables as m

EXPORT_SCHEMA = "netlm/patient-export/v1"
#: How long an API token lives unless its creator asks for less.
DEFAULT_TOKEN_TTL = dt.timedelta(days=30)
#: How long a browser session lives after log-in.
DEFAULT_SESSION_TTL = dt.timedelta(hours=8)
#: Laboratory analytes the registry records (value and unit are stored as given).
LAB_ANALYTES = frozenset(
    {
        "bilirubin",
        "albumin",
        "inr",
        "ast",
        "alt",
        "alp",
        "ggt",
        "ldh",
        "creatinine",
        "egfr",
        "platelets",
        "leukocytes",
        "neutrophils",
        "lymphocytes",
        "haemoglobin",
        "sodium",
        "glucose",
        "chromogranin_a",
        "urinary_5hiaa",
        "nt_probnp",
    }
)
#: Kinds of image series the registry references.
IMAGE_KINDS = frozenset(
    {
        "ct",
        "mr",
        "pet",
        "spect",
        "planar",
        "angiography",
        "cbct",
        "ultrasound",
        "maa_spect",
        "y90_pet",
        "y90_spect",
        "segmentation",
        "rtstruct",
        "rtdose",
        "dose_map",
        "other",
    }
)
#: Treatment modalities: the assessed liver-directed modalities and the case history's types.
TREATMENT_MODALITIES = frozenset({x.value for x in Modality} | {x.value for x in TreatmentType})
#: Response criteria (as :func:`netlm.response.report.assess_response` names them).
RESPONSE_CRITERIA = frozenset(ENGINES)
#: Overall response categories (PERCIST's CMR/PMR/SMD/PMD are stored as CR/PR/SD/PD).
RESPONSE_CATEGORIES = frozenset(x.value for x in Response)
#: CTCAE versions netlm grades with.
CTCAE_VERSIONS = frozenset({"5.0", "6.0"})


class Role(StrEnum):
    """What a user may do (checked by the caller, except plan approval)."""

    VIEWER = "viewer"
    CLINICIAN = "clinician"
    PHYSICIST = "physicist"
    ADMIN = "admin"


class PlanStatus(StrEnum):
    DRAFT = "draft"  # stored, not solved
    SOLVED = "solved"  # at least one stored dose result
    APPROVED = "approved"  # signed off by a physicist


# ---------------------------------------------------------------------------- out models
class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Written(_Out):
    id: int
    created_at: AwareDatetime
    created_by: str


class UserOut(_Written):
    username: str
    role: Role
    disabled_at: AwareDatetime | None = None

    @property
    def active(self) -> bool:
        """Whether the user may log in (not disabled)."""
        return self.disabled_at is None


class ApiTokenOut(_Written):
    """An API token's record (never the token itself)."""

    username: str
    expires_at: AwareDatetime | None
    revoked_at: AwareDatetime | None


@dataclasses.dataclass(frozen=True)
class LoginThrottle:
    """How failed log-ins slow down further tries (per user name and per client address).

    After ``max_failures_per_user`` failures for one user name (or
    ``max_failures_per_address`` from one address) within ``window_s``, further
    tries wait ``base_delay_s`` after the last failure, doubling with each
    further failure up to ``max_delay_s``.  A successful log-in clears the
    user's count.  These are the service's own defaults [U] (OWASP Authentication
    Cheat Sheet, "Login Throttling", gives no numbers).
    """

    max_failures_per_user: int = 5
    max_failures_per_address: int = 20
    window_s: float = 900.0
    base_delay_s: float = 30.0
    max_delay_s: float = 3600.0

    def delay_s(self, failures: int, limit: int) -> float:
        """Seconds to wait after the last of ``failures`` failures (0 below ``limit``)."""
        if failures < limit:
            return 0.0
        return float(min(self.base_delay_s * 2 ** min(failures - limit, 30), self.max_delay_s))


class PatientOut(_Written):
    external_id: str
    deleted: bool
    deleted_at: AwareDatetime | None
    deleted_by: str | None
    deleted_reason: str | None
    latest_version: int | None


class CaseVersionOut(_Written):
    patient_id: int
    version: int
    case_digest: str
    source: str | None
    document: dict[str, Any]

    def to_case(self) -> Case:
        """The stored case, validated."""
        return case_from_mapping(self.document)


class AssessmentOut(_Written):
    patient_id: int
    case_version_id: int
    case_version: int
    result: dict[str, Any]
    result_digest: str
    inputs_digest: str
    netlm_version: str
    profile_id: str
    profile_version: str
    profile_digest: str

    def to_assessment(self) -> Assessment:
        """The stored result as an :class:`~netlm.eligibility.Assessment`."""
        return Assessment.model_validate(self.result)


class PlanOut(_Written):
    patient_id: int
    document: dict[str, Any]
    plan_digest: str
    device: str
    method: str
    status: PlanStatus
    latest_result_id: int | None
    approved_result_id: int | None
    approved_at: AwareDatetime | None
    approved_by: str | None

    def to_plan(self) -> Plan:
        """The stored plan, validated."""
        return plan_from_mapping(self.document)


class PlanResultOut(_Written):
    plan_id: int
    patient_id: int
    case_version_id: int | None
    result: dict[str, Any]
    result_digest: str
    constants: dict[str, Any]
    inputs_digest: str
    netlm_version: str
    override: dict[str, Any] | None

    def to_result(self) -> PlanResult:
        """The stored result as a :class:`~netlm.sirt.planner.PlanResult`."""
        return PlanResult.model_validate(self.result)


class ImageOut(_Written):
    patient_id: int
    kind: str
    path: str | None
    series_uid: str | None
    description: str


class TreatmentOut(_Written):
    patient_id: int
    modality: str
    date: dt.date
    details: dict[str, Any]


class LabOut(_Written):
    patient_id: int
    date: dt.date
    analyte: str
    value: float
    unit: str
    uln: float | None
    lln: float | None


class ResponseOut(_Written):
    patient_id: int
    date: dt.date
    criterion: str
    overall: str
    details: dict[str, Any]


class ToxicityOut(_Written):
    patient_id: int
    date: dt.date
    term: str
    grade: int
    ctcae_version: str


class AuditOut(_Out):
    id: int
    at: AwareDatetime
    actor: str
    action: str
    record_type: str
    record_id: int | None
    patient_id: int | None
    details: dict[str, Any]


# ---------------------------------------------------------------------------- conversions
_O = TypeVar("_O", bound=_Out)


def _out(model: type[_O], row: object, **computed: Any) -> _O:
    """``model`` from the table row's columns of the same names, and the ``computed`` fields."""
    return model.model_validate(
        {
            name: computed[name] if name in computed else getattr(row, name)
            for name in model.model_fields
        }
    )


def _user_out(u: m.User) -> UserOut:
    return _out(UserOut, u)


def _token_out(t: m.ApiToken, username: str) -> ApiTokenOut:
    return _out(ApiTokenOut, t, username=username)


def _patient_out(p: m.Patient, latest_version: int | None) -> PatientOut:
    return _out(PatientOut, p, deleted=p.deleted_at is not None, latest_version=latest_version)


def _case_version_out(c: m.CaseVersion) -> CaseVersionOut:
    return _out(CaseVersionOut, c)


def _assessment_out(a: m.AssessmentRecord, case_version: int) -> AssessmentOut:
    return _out(AssessmentOut, a, case_version=case_version)


def _plan_result_out(r: m.PlanResultRecord, patient_id: int) -> PlanResultOut:
    return _out(PlanResultOut, r, patient_id=patient_id)


def _plan_out(session: Session, p: m.SirtPlan) -> PlanOut:
    latest = session.scalar(
        sa.select(sa.func.max(m.PlanResultRecord.id)).where(m.PlanResultRecord.plan_id == p.id)
    )
    approval = session.scalars(
        sa.select(m.PlanApproval).where(m.PlanApproval.plan_id == p.id)
    ).one_or_none()
    if approval is not None:
        status = PlanStatus.APPROVED
    elif latest is not None:
        status = PlanStatus.SOLVED
    else:
        status = PlanStatus.DRAFT
    return _out(
        PlanOut,
        p,
        status=status,
        latest_result_id=latest,
        approved_result_id=approval.plan_result_id if approval else None,
        approved_at=approval.created_at if approval else None,
        approved_by=approval.created_by if approval else None,
    )


def _image_out(i: m.Image) -> ImageOut:
    return _out(ImageOut, i)


def _treatment_out(t: m.Treatment) -> TreatmentOut:
    return _out(TreatmentOut, t)


def _lab_out(x: m.LabResult) -> LabOut:
    return _out(LabOut, x)


def _response_out(r: m.ResponseTimepoint) -> ResponseOut:
    return _out(ResponseOut, r)


def _toxicity_out(t: m.ToxicityEvent) -> ToxicityOut:
    return _out(ToxicityOut, t)


def _audit_out(a: m.AuditEntry) -> AuditOut:
    return _out(AuditOut, a)
