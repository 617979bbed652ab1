"""The registry's Python API: :class:`Store`.

Every write and its audit entry are one transaction: either both are stored or
neither is.  Inputs are checked before anything is written
(:class:`~netlm.errors.InputError` names each bad field); a record that does
not exist raises :class:`~netlm.errors.NotFoundError` naming it; a role that
may not do something raises :class:`~netlm.errors.PermissionDeniedError`; any
other refusal (a duplicate, a deleted patient, an unreachable database) is a
:class:`~netlm.errors.StoreError`.

Results are stored with their provenance (inputs digest, netlm version, rule
profile id/version/digest and the whole profile, the case version, the
constants), so that :meth:`Store.reproduce_assessment` can re-run an old
assessment and compare it byte for byte.

Roles: ``actor`` is the username (or, for tools such as ``netlm import``, the
operating-system user) written into the audit log.  The store itself enforces
one role rule — only a physicist approves a radioembolization plan; other role
checks are the caller's (the web API uses :meth:`Store.require_role`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import secrets
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

from netlm import __version__
from netlm.case import Case, case_from_mapping
from netlm.case.model import TreatmentType
from netlm.eligibility import Assessment, Assessor, Modality, RuleProfile, default_profile
from netlm.errors import InputError, NetlmError, NotFoundError, PermissionDeniedError, StoreError
from netlm.response.report import ENGINES
from netlm.response.result import Response
from netlm.sirt.plan import Plan, plan_from_mapping
from netlm.sirt.planner import PlanResult, solve, with_case_history
from netlm.store import tables as m
from netlm.store.auditchain import (
    ADVISORY_LOCK_KEY,
    GENESIS,
    ChainReport,
    entry_text,
    link,
    verify_chain,
)
from netlm.store.db import (
    DEFAULT_MAX_OVERFLOW,
    DEFAULT_POOL_SIZE,
    WRITE_OPTION,
    current_revision,
    head_revision,
    make_engine,
    redact,
    upgrade_engine,
)
from netlm.store.identifiers import identifier_problem, lookalike, normalise, skeleton
from netlm.store.passwords import password_problems

#: Schema id of :meth:`Store.export_patient` documents.
EXPORT_SCHEMA = "netlm/patient-export/v1"
#: How long an API token lives unless its creator asks for less.
DEFAULT_TOKEN_TTL = dt.timedelta(days=30)
#: How long a browser session lives after log-in.
DEFAULT_SESSION_TTL = dt.timedelta(hours=8)
#: Deepest nesting of mappings and lists a stored free-form document may have.
MAX_DOCUMENT_DEPTH = 32
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

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}")
_DICOM_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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


# ---------------------------------------------------------------------------- helpers
def canonical_json(document: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the text that digests are taken of."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def document_digest(document: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``document``."""
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def case_digest(case: Case) -> str:
    """SHA-256 of the validated case, exactly as an assessment's ``inputs_digest``."""
    canonical = case.model_dump_json(by_alias=True, exclude_none=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plan_digest(plan: Plan) -> str:
    canonical = plan.model_dump_json(by_alias=True, exclude_none=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _choices(allowed: Collection[str]) -> str:
    return ", ".join(sorted(allowed))


class _Checker:
    """Collects every problem with a call's arguments, then raises one InputError."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append((field, message))

    def text(self, field: str, value: object, *, max_length: int, empty: bool = False) -> str:
        if not isinstance(value, str):
            self.fail(field, f"must be text, not {type(value).__name__}")
            return ""
        if not empty and not value.strip():
            self.fail(field, "must not be empty")
        elif len(value) > max_length:
            self.fail(field, f"is {len(value)} characters long (at most {max_length})")
        elif "\x00" in value:
            self.fail(field, "contains a NUL character")
        elif not _encodable(value):
            self.fail(field, "contains a lone UTF-16 surrogate (\\ud800-\\udfff)")
        return value

    def name(self, field: str, value: object, *, max_length: int) -> str:
        text = self.text(field, value, max_length=max_length)
        if text and (text != text.strip() or _CONTROL.search(text)):
            self.fail(field, "must not have surrounding spaces or control characters")
        return text

    def choice(self, field: str, value: object, allowed: Collection[str]) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.fail(field, f"unknown value {value!r} (use one of: {_choices(allowed)})")
            return ""
        return value

    def date(self, field: str, value: object) -> dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            self.fail(field, f"must be a date (datetime.date), not {type(value).__name__}")
            return dt.date.min
        if value.year < 1900:
            self.fail(field, f"{value.isoformat()} is implausible (before 1900)")
        return value

    def number(self, field: str, value: object) -> float:
        """A finite number (NaN after a recorded problem)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number, not {type(value).__name__}")
            return math.nan
        if not math.isfinite(value):
            self.fail(field, f"must be finite (got {value!r})")
            return math.nan
        return float(value)

    def optional_number(self, field: str, value: object) -> float | None:
        return None if value is None else self.number(field, value)

    def document(self, field: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            self.fail(field, "must be a mapping with text keys")
            return {}
        if _nesting_depth(value) > MAX_DOCUMENT_DEPTH:
            self.fail(field, f"is nested deeper than {MAX_DOCUMENT_DEPTH} levels")
            return {}
        try:
            text = canonical_json(value)
        except (TypeError, ValueError) as exc:
            self.fail(field, f"must be JSON-serialisable ({exc})")
            return {}
        if not _encodable(text):
            self.fail(field, "contains text with a lone UTF-16 surrogate (\\ud800-\\udfff)")
            return {}
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def identifier(self, field: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer id, not {type(value).__name__}")
            return 0
        return value

    def done(self) -> None:
        if self.problems:
            raise InputError(self.problems)


def _encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate), i.e. storable as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _nesting_depth(value: object) -> int:
    """How deeply mappings and lists nest in ``value`` (without recursion; stops past the limit).

    Examples
    --------
    >>> _nesting_depth({"a": [1, {"b": 2}]})
    3
    """
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Collection[object] = list(node.values())
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DOCUMENT_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_actor(actor: object) -> str:
    check = _Checker()
    value = check.name("actor", actor, max_length=200)
    check.done()
    return value


def _check_id(value: object, field: str) -> int:
    check = _Checker()
    result = check.identifier(field, value)
    check.done()
    return result


def _audit(
    session: Session,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    record_type: str,
    record_id: int | None,
    patient_id: int | None,
    details: Mapping[str, Any] | None = None,
) -> m.AuditEntry:
    """Append an audit entry to the session's transaction."""
    entry = m.AuditEntry(
        at=at,
        actor=actor,
        action=action,
        record_type=record_type,
        record_id=record_id,
        patient_id=patient_id,
        details=dict(details or {}),
    )
    session.add(entry)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":  # one appender at a time
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    previous = session.scalar(
        sa.select(m.AuditLink.sha256).order_by(m.AuditLink.id.desc()).limit(1)
    )
    text = entry_text(
        entry_id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        record_type=entry.record_type,
        record_id=entry.record_id,
        patient_id=entry.patient_id,
        details=entry.details,
    )
    session.add(m.AuditLink(audit_id=entry.id, sha256=link(previous or GENESIS, text)))
    session.flush()
    return entry


def _lock_identifiers(session: Session) -> None:
    """Serialise the look-alike check and the insert of a new identifier (PostgreSQL).

    Takes the audit chain's transaction-scoped advisory lock, which the insert's
    audit entry takes anyway (one lock, so no new lock order); SQLite writers
    hold the database's write lock already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))


def _db_message(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


_Row = TypeVar(
    "_Row",
    m.Image,
    m.Treatment,
    m.LabResult,
    m.ResponseTimepoint,
    m.ToxicityEvent,
    m.AuditEntry,
)


def _patient_rows(session: Session, model: type[_Row], patient_id: int) -> list[_Row]:
    """Rows of ``model`` about one patient: by date where there is one, else by id."""
    stmt = sa.select(model).where(model.patient_id == patient_id)
    if model is m.Image or model is m.AuditEntry:
        return list(session.scalars(stmt.order_by(model.id)))
    dated = sa.inspect(model).columns["date"]
    return list(session.scalars(stmt.order_by(dated, model.id)))


# ---------------------------------------------------------------------------- conversions
def _user_out(u: m.User) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        role=Role(u.role),
        disabled_at=u.disabled_at,
        created_at=u.created_at,
        created_by=u.created_by,
    )


def _token_out(t: m.ApiToken, username: str) -> ApiTokenOut:
    return ApiTokenOut(
        id=t.id,
        username=username,
        created_at=t.created_at,
        created_by=t.created_by,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
    )


def _patient_out(p: m.Patient, latest_version: int | None) -> PatientOut:
    return PatientOut(
        id=p.id,
        external_id=p.external_id,
        created_at=p.created_at,
        created_by=p.created_by,
        deleted=p.deleted_at is not None,
        deleted_at=p.deleted_at,
        deleted_by=p.deleted_by,
        deleted_reason=p.deleted_reason,
        latest_version=latest_version,
    )


def _case_version_out(c: m.CaseVersion) -> CaseVersionOut:
    return CaseVersionOut(
        id=c.id,
        patient_id=c.patient_id,
        version=c.version,
        case_digest=c.case_digest,
        source=c.source,
        document=c.document,
        created_at=c.created_at,
        created_by=c.created_by,
    )


def _assessment_out(a: m.AssessmentRecord, case_version: int) -> AssessmentOut:
    return AssessmentOut(
        id=a.id,
        patient_id=a.patient_id,
        case_version_id=a.case_version_id,
        case_version=case_version,
        result=a.result,
        result_digest=a.result_digest,
        inputs_digest=a.inputs_digest,
        netlm_version=a.netlm_version,
        profile_id=a.profile_id,
        profile_version=a.profile_version,
        profile_digest=a.profile_digest,
        created_at=a.created_at,
        created_by=a.created_by,
    )


def _plan_result_out(r: m.PlanResultRecord, patient_id: int) -> PlanResultOut:
    return PlanResultOut(
        id=r.id,
        plan_id=r.plan_id,
        patient_id=patient_id,
        case_version_id=r.case_version_id,
        result=r.result,
        result_digest=r.result_digest,
        constants=r.constants,
        inputs_digest=r.inputs_digest,
        netlm_version=r.netlm_version,
        override=r.override,
        created_at=r.created_at,
        created_by=r.created_by,
    )


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
    return PlanOut(
        id=p.id,
        patient_id=p.patient_id,
        document=p.document,
        plan_digest=p.plan_digest,
        device=p.device,
        method=p.method,
        status=status,
        latest_result_id=latest,
        approved_result_id=approval.plan_result_id if approval else None,
        approved_at=approval.created_at if approval else None,
        approved_by=approval.created_by if approval else None,
        created_at=p.created_at,
        created_by=p.created_by,
    )


def _image_out(i: m.Image) -> ImageOut:
    return ImageOut(
        id=i.id,
        patient_id=i.patient_id,
        kind=i.kind,
        path=i.path,
        series_uid=i.series_uid,
        description=i.description,
        created_at=i.created_at,
        created_by=i.created_by,
    )


def _treatment_out(t: m.Treatment) -> TreatmentOut:
    return TreatmentOut(
        id=t.id,
        patient_id=t.patient_id,
        modality=t.modality,
        date=t.date,
        details=t.details,
        created_at=t.created_at,
        created_by=t.created_by,
    )


def _lab_out(x: m.LabResult) -> LabOut:
    return LabOut(
        id=x.id,
        patient_id=x.patient_id,
        date=x.date,
        analyte=x.analyte,
        value=x.value,
        unit=x.unit,
        uln=x.uln,
        lln=x.lln,
        created_at=x.created_at,
        created_by=x.created_by,
    )


def _response_out(r: m.ResponseTimepoint) -> ResponseOut:
    return ResponseOut(
        id=r.id,
        patient_id=r.patient_id,
        date=r.date,
        criterion=r.criterion,
        overall=r.overall,
        details=r.details,
        created_at=r.created_at,
        created_by=r.created_by,
    )


def _toxicity_out(t: m.ToxicityEvent) -> ToxicityOut:
    return ToxicityOut(
        id=t.id,
        patient_id=t.patient_id,
        date=t.date,
        term=t.term,
        grade=t.grade,
        ctcae_version=t.ctcae_version,
        created_at=t.created_at,
        created_by=t.created_by,
    )


def _audit_out(a: m.AuditEntry) -> AuditOut:
    return AuditOut(
        id=a.id,
        at=a.at,
        actor=a.actor,
        action=a.action,
        record_type=a.record_type,
        record_id=a.record_id,
        patient_id=a.patient_id,
        details=a.details,
    )


# ---------------------------------------------------------------------------- the store
class Store:
    """The netlm registry: patients, versioned cases, results, clinical record, audit log.

    Parameters
    ----------
    url
        A SQLAlchemy database URL (``sqlite:///path.db``,
        ``postgresql://user@host/db``); by default ``$NETLM_DATABASE_URL``, else
        the embedded SQLite file (see :mod:`netlm.store.db`).
    upgrade
        Bring the schema to the newest revision first (idempotent).  With
        ``False`` a database that is not at the newest revision is refused.
    password_hasher
        The argon2 hasher for passwords (argon2-cffi's defaults when omitted).
    login_throttle
        How failed log-ins are throttled (:class:`LoginThrottle` defaults).
    pool_size, max_overflow
        PostgreSQL connections this process keeps open, and may open beyond
        them under load (:func:`netlm.store.db.make_engine`; ``netlm serve
        --db-pool-size/--db-max-overflow``).

    Raises
    ------
    StoreError
        If the database cannot be reached, or its schema is out of date and
        ``upgrade`` is ``False``.

    Examples
    --------
    >>> from netlm.case import parse_case
    >>> store = Store("sqlite://")
    >>> patient = store.create_patient("A1", actor="dr.a")
    >>> case = parse_case("schema: netlm/case/v1\\npatient: {id: A1, ecog: 1}")
    >>> store.save_case(patient.id, case, actor="dr.a").version
    1
    >>> store.save_case(patient.id, case, actor="dr.b").version
    2
    >>> [e.action for e in store.audit_log(record_type="case_version")]
    ['create', 'create']
    >>> store.close()
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        upgrade: bool = True,
        password_hasher: PasswordHasher | None = None,
        login_throttle: LoginThrottle | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ) -> None:
        self._engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        try:
            if upgrade:
                upgrade_engine(self._engine)
            else:
                found, needed = current_revision(self._engine), head_revision()
                if found != needed:
                    raise StoreError(
                        f"the database {redact(self._engine.url)} is at schema revision "
                        f"{found or '(empty)'}, netlm needs {needed}: run `netlm db upgrade`"
                    )
        except BaseException:
            self._engine.dispose()
            raise
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._hasher = password_hasher if password_hasher is not None else PasswordHasher()
        self._dummy_hash: str | None = None
        self.login_throttle = login_throttle if login_throttle is not None else LoginThrottle()

    # -------------------------------------------------------------- plumbing
    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for maintenance and tests)."""
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return redact(self._engine.url)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        try:
            with self._sessions.begin() as session:
                session.connection(execution_options={WRITE_OPTION: True})
                yield session
        except NetlmError:
            raise
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"the database refused the write: {_db_message(exc)}") from exc
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"database error ({self.url}): {_db_message(exc)}") from exc

    @contextmanager
    def _read(self, *, snapshot: bool = False) -> Iterator[Session]:
        """A read-only transaction (``snapshot``: one consistent view on PostgreSQL too)."""
        try:
            with self._sessions() as session:
                if snapshot and self._engine.dialect.name == "postgresql":
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                yield session  # closing the session ends the transaction; rows stay loaded
        except NetlmError:
            raise
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"database error ({self.url}): {_db_message(exc)}") from exc

    @staticmethod
    def _patient_row(session: Session, patient_id: int, *, for_write: bool = False) -> m.Patient:
        patient_id = _check_id(patient_id, "patient_id")
        stmt = sa.select(m.Patient).where(m.Patient.id == patient_id)
        if for_write:
            stmt = stmt.with_for_update()
        patient = session.scalars(stmt).one_or_none()
        if patient is None:
            raise NotFoundError(f"patient {patient_id} not found")
        if for_write and patient.deleted_at is not None:
            raise StoreError(
                f"patient {patient_id} ({patient.external_id}) is deleted "
                f"({patient.deleted_reason}); its record takes no new entries"
            )
        return patient

    @staticmethod
    def _latest_version(session: Session, patient_id: int) -> int | None:
        latest: int | None = session.scalar(
            sa.select(sa.func.max(m.CaseVersion.version)).where(
                m.CaseVersion.patient_id == patient_id
            )
        )
        return latest

    # -------------------------------------------------------------- users and auth
    def create_user(self, username: str, password: str, role: Role | str, *, actor: str) -> UserOut:
        """Register a user with an argon2 password hash.

        Raises
        ------
        InputError
            Bad username, a password the policy refuses
            (:func:`netlm.store.passwords.password_problems`: at least
            :data:`~netlm.store.passwords.MIN_PASSWORD_LENGTH` characters, not the
            user name, not a common password), or an unknown role.
        StoreError
            If the username is taken, or looks like a taken one (same UTS #39
            skeleton, :func:`netlm.store.identifiers.lookalike`: ``admin`` / ``adrnin``).
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        if not isinstance(username, str) or not _USERNAME.fullmatch(username):
            check.fail(
                "username",
                f"{username!r} is not a username (2-64 characters: letters, digits, '_', '.', "
                "'@', '-', starting with a letter or digit)",
            )
        for problem in password_problems(password, username if isinstance(username, str) else None):
            check.fail("password", problem)
        role_name = check.choice(
            "role", str(role) if isinstance(role, Role) else role, {r.value for r in Role}
        )
        check.done()
        password_hash = self._hasher.hash(password)
        with self._write() as session:
            taken = session.scalar(sa.select(m.User.id).where(m.User.username == username))
            if taken is not None:
                raise StoreError(f"user {username!r} already exists")
            _lock_identifiers(session)
            similar = lookalike(username, session.scalars(sa.select(m.User.username)))
            if similar is not None:
                raise StoreError(
                    f"the username {username!r} looks like existing user {similar!r}: both "
                    f"read as {skeleton(similar)!r} (Unicode confusables, UTS #39)"
                )
            user = m.User(
                username=username,
                password_hash=password_hash,
                role=role_name,
                created_at=_now(),
                created_by=actor,
            )
            session.add(user)
            session.flush()
            _audit(
                session,
                at=user.created_at,
                actor=actor,
                action="create",
                record_type="user",
                record_id=user.id,
                patient_id=None,
                details={"username": username, "role": role_name},
            )
            return _user_out(user)

    def authenticate(self, username: str, password: str) -> UserOut | None:
        """The user if ``password`` is right, else ``None`` (same work either way)."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        with self._read() as session:
            user = session.scalars(
                sa.select(m.User).where(m.User.username == username)
            ).one_or_none()
        if user is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            stored = self._dummy_hash
        else:
            stored = user.password_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled_at is not None:
            return None
        return _user_out(user)

    def create_token(
        self, username: str, *, actor: str, ttl: dt.timedelta = DEFAULT_TOKEN_TTL
    ) -> str:
        """A new API token for ``username``; only its SHA-256 is stored.

        ``ttl``: lifetime (:data:`DEFAULT_TOKEN_TTL` when omitted); every token expires.
        """
        actor = _check_actor(actor)
        if not isinstance(ttl, dt.timedelta) or ttl <= dt.timedelta(0):
            raise InputError([("ttl", "must be a positive time span")])
        token = secrets.token_urlsafe(32)
        with self._write() as session:
            user = session.scalars(
                sa.select(m.User).where(m.User.username == username)
            ).one_or_none()
            if user is None:
                raise NotFoundError(f"user {username!r} not found")
            if user.disabled_at is not None:
                raise StoreError(f"user {username!r} is disabled")
            now = _now()
            row = m.ApiToken(
                user_id=user.id,
                token_sha256=_token_digest(token),
                expires_at=now + ttl,
                created_at=now,
                created_by=actor,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                at=now,
                actor=actor,
                action="create",
                record_type="api_token",
                record_id=row.id,
                patient_id=None,
                details={
                    "username": username,
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                },
            )
        return token

    def user_for_token(self, token: str) -> UserOut | None:
        """The user an unexpired, unrevoked token belongs to, else ``None``."""
        if not isinstance(token, str) or not token:
            return None
        with self._read() as session:
            found = session.execute(
                sa.select(m.User, m.ApiToken)
                .join(m.ApiToken, m.ApiToken.user_id == m.User.id)
                .where(m.ApiToken.token_sha256 == _token_digest(token))
            ).one_or_none()
        if found is None:
            return None
        user, row = found
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= _now()):
            return None
        if user.disabled_at is not None:
            return None
        return _user_out(user)

    def revoke_token(self, token: str, *, actor: str) -> bool:
        """Revoke a token; ``False`` if it was unknown or already revoked."""
        actor = _check_actor(actor)
        if not isinstance(token, str) or not token:
            return False
        with self._write() as session:
            row = session.scalars(
                sa.select(m.ApiToken).where(m.ApiToken.token_sha256 == _token_digest(token))
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = _now()
            session.flush()
            _audit(
                session,
                at=row.revoked_at,
                actor=actor,
                action="revoke",
                record_type="api_token",
                record_id=row.id,
                patient_id=None,
            )
            return True

    # -------------------------------------------------------------- sessions
    def create_session(
        self, username: str, *, address: str = "-", ttl: dt.timedelta = DEFAULT_SESSION_TTL
    ) -> tuple[str, str]:
        """Open a browser session for ``username`` (audited as a log-in).

        Returns the session id (for the cookie; only its SHA-256 is stored) and
        the session's CSRF token.
        """
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._write() as session:
            user = self._user_row(session, username)
            if user.disabled_at is not None:
                raise StoreError(f"user {username!r} is disabled")
            now = _now()
            row = m.WebSession(
                user_id=user.id,
                session_sha256=_token_digest(session_id),
                csrf_token=csrf,
                expires_at=now + ttl,
                created_at=now,
                created_by=username,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                at=now,
                actor=username,
                action="login",
                record_type="user",
                record_id=user.id,
                patient_id=None,
                details={"via": "session", "address": address[:64]},
            )
        return session_id, csrf

    def session_user(self, session_id: str) -> tuple[UserOut, str] | None:
        """The user and CSRF token of a live session, else ``None`` (ended, expired, disabled)."""
        if not isinstance(session_id, str) or not session_id:
            return None
        with self._read() as session:
            found = session.execute(
                sa.select(m.User, m.WebSession)
                .join(m.WebSession, m.WebSession.user_id == m.User.id)
                .where(m.WebSession.session_sha256 == _token_digest(session_id))
            ).one_or_none()
        if found is None:
            return None
        user, row = found
        if row.revoked_at is not None or row.expires_at <= _now() or user.disabled_at is not None:
            return None
        return _user_out(user), row.csrf_token

    def end_session(self, session_id: str, *, actor: str) -> bool:
        """Log a session out; ``False`` if it was unknown or already ended."""
        actor = _check_actor(actor)
        if not isinstance(session_id, str) or not session_id:
            return False
        with self._write() as session:
            row = session.scalars(
                sa.select(m.WebSession).where(
                    m.WebSession.session_sha256 == _token_digest(session_id)
                )
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = _now()
            _audit(
                session,
                at=row.revoked_at,
                actor=actor,
                action="logout",
                record_type="user",
                record_id=row.user_id,
                patient_id=None,
            )
            return True

    @staticmethod
    def _user_row(session: Session, username: str) -> m.User:
        user = session.scalars(sa.select(m.User).where(m.User.username == username)).one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} not found")
        return user

    @staticmethod
    def _end_credentials(session: Session, user_id: int, now: dt.datetime) -> int:
        """End every live session and token of a user; how many were ended."""
        ended = 0
        for model in (m.WebSession, m.ApiToken):
            result = session.execute(
                sa.update(model)
                .where(model.user_id == user_id, model.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            ended += int(getattr(result, "rowcount", 0) or 0)
        return ended

    def _change_user(
        self, username: str, *, actor: str, action: str, details: Mapping[str, Any], change: Any
    ) -> UserOut:
        """Apply ``change(user_row)``, end the user's sessions and tokens, audit ``action``."""
        with self._write() as session:
            user = self._user_row(session, username)
            now = _now()
            change(user)
            ended = self._end_credentials(session, user.id, now)
            session.flush()
            _audit(
                session,
                at=now,
                actor=actor,
                action=action,
                record_type="user",
                record_id=user.id,
                patient_id=None,
                details={"username": username, **details, "credentials_ended": ended},
            )
            return _user_out(user)

    def set_password(self, username: str, password: str, *, actor: str) -> UserOut:
        """Change a user's password; the user's sessions and tokens end at once.

        Raises
        ------
        InputError
            If the password policy refuses the password.
        NotFoundError
            If there is no such user.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        for problem in password_problems(password, username):
            check.fail("password", problem)
        check.done()
        password_hash = self._hasher.hash(password)

        def change(user: m.User) -> None:
            user.password_hash = password_hash

        return self._change_user(
            username, actor=actor, action="set_password", details={}, change=change
        )

    def set_role(self, username: str, role: Role | str, *, actor: str) -> UserOut:
        """Give a user another role; the user's sessions and tokens end at once."""
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        role_name = check.choice(
            "role", str(role) if isinstance(role, Role) else role, {r.value for r in Role}
        )
        check.done()

        def change(user: m.User) -> None:
            user.role = role_name

        return self._change_user(
            username, actor=actor, action="set_role", details={"role": role_name}, change=change
        )

    def disable_user(self, username: str, *, actor: str) -> UserOut:
        """Disable a user: no more log-ins; its sessions and tokens end at once."""
        actor = _check_actor(actor)
        now = _now()

        def change(user: m.User) -> None:
            if user.disabled_at is None:
                user.disabled_at = now

        return self._change_user(username, actor=actor, action="disable", details={}, change=change)

    def enable_user(self, username: str, *, actor: str) -> UserOut:
        """Let a disabled user log in again (old sessions and tokens stay ended)."""
        actor = _check_actor(actor)

        def change(user: m.User) -> None:
            user.disabled_at = None

        return self._change_user(username, actor=actor, action="enable", details={}, change=change)

    def revoke_user_credentials(self, username: str, *, actor: str) -> int:
        """End every session and token of a user now; how many were live."""
        actor = _check_actor(actor)
        with self._write() as session:
            user = self._user_row(session, username)
            now = _now()
            ended = self._end_credentials(session, user.id, now)
            _audit(
                session,
                at=now,
                actor=actor,
                action="revoke_credentials",
                record_type="user",
                record_id=user.id,
                patient_id=None,
                details={"username": username, "credentials_ended": ended},
            )
            return ended

    def list_tokens(self, username: str | None = None) -> list[ApiTokenOut]:
        """API tokens (of ``username``, else everyone's), newest first; never the tokens."""
        with self._read() as session:
            stmt = sa.select(m.ApiToken, m.User.username).join(
                m.User, m.User.id == m.ApiToken.user_id
            )
            if username is not None:
                stmt = stmt.where(m.User.username == username)
            rows = session.execute(stmt.order_by(m.ApiToken.id.desc())).all()
        return [_token_out(t, name) for t, name in rows]

    def token_record(self, token: str) -> ApiTokenOut | None:
        """The record of an API token (by the token itself), or ``None`` if unknown."""
        if not isinstance(token, str) or not token:
            return None
        with self._read() as session:
            found = session.execute(
                sa.select(m.ApiToken, m.User.username)
                .join(m.User, m.User.id == m.ApiToken.user_id)
                .where(m.ApiToken.token_sha256 == _token_digest(token))
            ).one_or_none()
        if found is None:
            return None
        row, name = found
        return _token_out(row, name)

    def revoke_token_id(
        self, token_id: int, *, actor: str, owner: str | None = None
    ) -> ApiTokenOut:
        """Revoke the token numbered ``token_id`` (only ``owner``'s, when given).

        Raises
        ------
        NotFoundError
            If there is no such token (or it is not ``owner``'s).
        """
        actor = _check_actor(actor)
        token_id = _check_id(token_id, "token_id")
        with self._write() as session:
            found = session.execute(
                sa.select(m.ApiToken, m.User.username)
                .join(m.User, m.User.id == m.ApiToken.user_id)
                .where(m.ApiToken.id == token_id)
            ).one_or_none()
            if found is None or (owner is not None and found[1] != owner):
                raise NotFoundError(f"token {token_id} not found")
            row, name = found
            if row.revoked_at is None:
                row.revoked_at = _now()
                _audit(
                    session,
                    at=row.revoked_at,
                    actor=actor,
                    action="revoke",
                    record_type="api_token",
                    record_id=row.id,
                    patient_id=None,
                    details={"username": name},
                )
            return _token_out(row, name)

    # -------------------------------------------------------------- log-in throttling
    def login_retry_after(self, username: str, address: str) -> float:
        """Seconds until ``username`` may try to log in from ``address`` (0: now)."""
        policy = self.login_throttle
        now = _now()
        since = now - dt.timedelta(seconds=policy.window_s)
        wait = 0.0
        with self._read() as session:
            for column, value, limit in (
                (m.LoginFailure.username, username[:200], policy.max_failures_per_user),
                (m.LoginFailure.address, address[:64], policy.max_failures_per_address),
            ):
                count, last = session.execute(
                    sa.select(sa.func.count(), sa.func.max(m.LoginFailure.at)).where(
                        column == value, m.LoginFailure.at > since
                    )
                ).one()
                delay = policy.delay_s(int(count), limit)
                if delay > 0 and last is not None:
                    last_at = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
                    wait = max(wait, (last_at - now).total_seconds() + delay)
        return max(wait, 0.0)

    def record_login_failure(self, username: str, address: str, *, via: str) -> None:
        """Count a refused log-in for the throttle and audit it (user name as typed)."""
        with self._write() as session:
            now = _now()
            session.add(m.LoginFailure(username=username[:200], address=address[:64], at=now))
            user_id = session.scalar(sa.select(m.User.id).where(m.User.username == username))
            _audit(
                session,
                at=now,
                actor="anonymous",  # nobody proved who they are; the name tried is in details
                action="login_failed",
                record_type="user",
                record_id=user_id,
                patient_id=None,
                details={"username": username[:200], "address": address[:64], "via": via},
            )

    def record_login(self, username: str, address: str, *, via: str) -> None:
        """Clear the user's failure count after a successful log-in; audit a token log-in
        (``via="token"``; a browser log-in is audited when its session is created)."""
        with self._write() as session:
            session.execute(sa.delete(m.LoginFailure).where(m.LoginFailure.username == username))
            if via == "token":  # a browser log-in is audited by create_session
                user = self._user_row(session, username)
                _audit(
                    session,
                    at=_now(),
                    actor=username,
                    action="login",
                    record_type="user",
                    record_id=user.id,
                    patient_id=None,
                    details={"via": via, "address": address[:64]},
                )

    def get_user(self, username: str) -> UserOut:
        """The user called ``username``.

        Raises
        ------
        NotFoundError
            If there is none.
        """
        with self._read() as session:
            user = session.scalars(
                sa.select(m.User).where(m.User.username == username)
            ).one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} not found")
        return _user_out(user)

    def list_users(self) -> list[UserOut]:
        """Every user, by id."""
        with self._read() as session:
            return [_user_out(u) for u in session.scalars(sa.select(m.User).order_by(m.User.id))]

    def require_role(self, username: str, *roles: Role | str) -> UserOut:
        """The user, if it has one of ``roles``.

        Raises
        ------
        PermissionDeniedError
            If the user is unknown or has another role.
        """
        wanted = {Role(r) for r in roles}
        try:
            user = self.get_user(username)
        except NotFoundError:
            raise PermissionDeniedError(f"{username!r} is not a registered user") from None
        if user.role not in wanted:
            names = " or ".join(sorted(r.value for r in wanted))
            raise PermissionDeniedError(
                f"{username!r} has the role {user.role.value}; this needs {names}"
            )
        return user

    # -------------------------------------------------------------- patients and cases
    def create_patient(self, external_id: str, *, actor: str) -> PatientOut:
        """Register a patient under the centre's identifier (``patient.id`` in case files).

        Raises
        ------
        StoreError
            If a patient (even a deleted one) has this external id, or one that looks
            like it (same UTS #39 skeleton: ``EX-OO1`` beside ``EX-001``).
        InputError
            If the external id is refused by
            :func:`netlm.store.identifiers.identifier_problem` (invisible characters,
            mixed-script or whole-script confusables such as Cyrillic ``ЕХ-001``).
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        if isinstance(external_id, str):
            external_id = normalise(external_id)
        external_id = check.name("external_id", external_id, max_length=128)
        check.done()
        with self._write() as session:
            patient = self._new_patient(session, external_id, actor)
            return _patient_out(patient, None)

    def _new_patient(self, session: Session, external_id: str, actor: str) -> m.Patient:
        problem = identifier_problem(external_id)
        if problem is not None:
            raise InputError([("external_id", problem)])
        existing = session.scalars(
            sa.select(m.Patient).where(m.Patient.external_id == external_id)
        ).one_or_none()
        if existing is not None:
            deleted = " (deleted)" if existing.deleted_at is not None else ""
            raise StoreError(
                f"a patient with external id {external_id!r} already exists "
                f"(id {existing.id}{deleted})"
            )
        _lock_identifiers(session)
        similar = lookalike(external_id, session.scalars(sa.select(m.Patient.external_id)))
        if similar is not None:
            other = session.scalars(
                sa.select(m.Patient).where(m.Patient.external_id == similar)
            ).one()
            deleted = " (deleted)" if other.deleted_at is not None else ""
            raise StoreError(
                f"the external id {external_id!r} looks like existing patient {similar!r} "
                f"(id {other.id}{deleted}): both read as {skeleton(similar)!r} "
                "(Unicode confusables, UTS #39); choose an identifier that cannot be mistaken"
            )
        patient = m.Patient(external_id=external_id, created_at=_now(), created_by=actor)
        session.add(patient)
        session.flush()
        _audit(
            session,
            at=patient.created_at,
            actor=actor,
            action="create",
            record_type="patient",
            record_id=patient.id,
            patient_id=patient.id,
            details={"external_id": external_id},
        )
        return patient

    def list_patients(
        self, search: str | None = None, *, include_deleted: bool = False
    ) -> list[PatientOut]:
        """Patients by id; ``search`` matches part of the external id (any case)."""
        latest = (
            sa.select(m.CaseVersion.patient_id, sa.func.max(m.CaseVersion.version).label("latest"))
            .group_by(m.CaseVersion.patient_id)
            .subquery()
        )
        stmt = (
            sa.select(m.Patient, latest.c.latest)
            .outerjoin(latest, latest.c.patient_id == m.Patient.id)
            .order_by(m.Patient.id)
        )
        if not include_deleted:
            stmt = stmt.where(m.Patient.deleted_at.is_(None))
        if search:
            escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(
                sa.func.lower(m.Patient.external_id).like(f"%{escaped}%", escape="\\")
            )
        with self._read() as session:
            return [_patient_out(p, v) for p, v in session.execute(stmt)]

    def get_patient(self, patient_id: int) -> PatientOut:
        """One patient, deleted or not.

        Raises
        ------
        NotFoundError
            If there is no patient ``patient_id``.
        """
        with self._read() as session:
            patient = self._patient_row(session, patient_id)
            return _patient_out(patient, self._latest_version(session, patient.id))

    def find_patient(self, external_id: str) -> PatientOut:
        """The patient with the centre's identifier ``external_id``.

        Raises
        ------
        NotFoundError
            If there is none.
        """
        with self._read() as session:
            patient = session.scalars(
                sa.select(m.Patient).where(m.Patient.external_id == external_id)
            ).one_or_none()
            if patient is None:
                raise NotFoundError(f"no patient with external id {external_id!r}")
            return _patient_out(patient, self._latest_version(session, patient.id))

    def save_case(
        self, patient_id: int, case: Case, *, actor: str, base_version: int | None = None
    ) -> CaseVersionOut:
        """Store ``case`` as the patient's next version (1, 2, ...); earlier ones stay intact.

        ``base_version``: the version the edit started from (0: no case yet).
        When given, a case that has moved on since is refused
        (:class:`~netlm.errors.StoreError`, nothing stored), so of two
        concurrent edits the second is not silently lost.

        Raises
        ------
        InputError
            If ``case`` is not a :class:`~netlm.case.Case` or is another patient's
            (``patient.id`` differs from the patient's external id).
        NotFoundError
            If there is no patient ``patient_id``.
        StoreError
            If the patient is deleted, or its case is no longer at ``base_version``.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        if base_version is not None and (
            isinstance(base_version, bool) or not isinstance(base_version, int) or base_version < 0
        ):
            check.fail(
                "base_version", f"must be a version number (0 or more), not {base_version!r}"
            )
        check.done()
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            latest = self._latest_version(session, patient.id) or 0
            if base_version is not None and base_version != latest:
                raise StoreError(
                    f"the case of patient {patient.id} is now at version {latest}; this edit "
                    f"started from version {base_version}: reload the case, redo the edit "
                    "and save again (nothing was stored)"
                )
            return self._save_case(session, patient, case, actor, None)

    def import_case(self, case: Case, *, actor: str, source: str | None = None) -> CaseVersionOut:
        """Store ``case`` under the patient ``case.patient.id``, creating the patient if new.

        Patient and case version are one transaction.  ``source`` (e.g. the
        file name) is kept with the version.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        if source is not None:
            source = check.text("source", source, max_length=4096)
        if not isinstance(case, Case):
            check.fail("case", f"must be a netlm Case, not {type(case).__name__}")
        check.done()
        with self._write() as session:
            patient = session.scalars(
                sa.select(m.Patient)
                .where(m.Patient.external_id == case.patient.id)
                .with_for_update()
            ).one_or_none()
            if patient is None:
                patient = self._new_patient(session, case.patient.id, actor)
            elif patient.deleted_at is not None:
                raise StoreError(
                    f"patient {patient.id} ({patient.external_id}) is deleted "
                    f"({patient.deleted_reason}); its record takes no new entries"
                )
            return self._save_case(session, patient, case, actor, source)

    def _save_case(
        self, session: Session, patient: m.Patient, case: Case, actor: str, source: str | None
    ) -> CaseVersionOut:
        if not isinstance(case, Case):
            raise InputError([("case", f"must be a netlm Case, not {type(case).__name__}")])
        if case.patient.id != patient.external_id:
            raise InputError(
                [
                    (
                        "patient.id",
                        f"the case is for {case.patient.id!r} but patient {patient.id} is "
                        f"{patient.external_id!r}",
                    )
                ]
            )
        document = case.model_dump(mode="json", by_alias=True)
        if case_from_mapping(document) != case:  # what is stored must read back as given
            raise StoreError("the case does not survive its JSON round trip; nothing stored")
        version = (self._latest_version(session, patient.id) or 0) + 1
        row = m.CaseVersion(
            patient_id=patient.id,
            version=version,
            document=document,
            case_digest=case_digest(case),
            source=source,
            created_at=_now(),
            created_by=actor,
        )
        session.add(row)
        session.flush()
        _audit(
            session,
            at=row.created_at,
            actor=actor,
            action="create",
            record_type="case_version",
            record_id=row.id,
            patient_id=patient.id,
            details={"version": version, "case_digest": row.case_digest, "source": source},
        )
        return _case_version_out(row)

    def case_versions(self, patient_id: int) -> list[CaseVersionOut]:
        """Every stored version of the patient's case, oldest first."""
        with self._read() as session:
            patient = self._patient_row(session, patient_id)
            rows = session.scalars(
                sa.select(m.CaseVersion)
                .where(m.CaseVersion.patient_id == patient.id)
                .order_by(m.CaseVersion.version)
            )
            return [_case_version_out(r) for r in rows]

    def case_version(self, patient_id: int, version: int | None = None) -> CaseVersionOut:
        """One version of the patient's case (the latest when ``version`` is omitted).

        Raises
        ------
        NotFoundError
            If the patient or that version does not exist.
        """
        with self._read() as session:
            return _case_version_out(self._case_version_row(session, patient_id, version))

    def _case_version_row(
        self, session: Session, patient_id: int, version: int | None
    ) -> m.CaseVersion:
        patient = self._patient_row(session, patient_id)
        if version is None:
            version = self._latest_version(session, patient.id)
            if version is None:
                raise NotFoundError(f"patient {patient.id} has no case yet")
        row = session.scalars(
            sa.select(m.CaseVersion).where(
                m.CaseVersion.patient_id == patient.id, m.CaseVersion.version == version
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"patient {patient.id} has no case version {version}")
        return row

    def current_case(self, patient_id: int) -> Case:
        """The latest version of the patient's case.

        Raises
        ------
        NotFoundError
            If the patient does not exist or has no case yet.
        """
        return self.case_version(patient_id).to_case()

    def soft_delete_patient(self, patient_id: int, reason: str, *, actor: str) -> None:
        """Hide a patient from lists (nothing is removed; export still works).

        Raises
        ------
        InputError
            If ``reason`` is empty.
        StoreError
            If the patient is already deleted.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        reason = check.text("reason", reason, max_length=2000).strip()
        check.done()
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            now = _now()
            patient.deleted_at, patient.deleted_by, patient.deleted_reason = now, actor, reason
            session.flush()
            _audit(
                session,
                at=now,
                actor=actor,
                action="soft_delete",
                record_type="patient",
                record_id=patient.id,
                patient_id=patient.id,
                details={"reason": reason},
            )

    # -------------------------------------------------------------- assessments
    def run_assessment(
        self,
        patient_id: int,
        *,
        actor: str,
        profile: RuleProfile | None = None,
        version: int | None = None,
    ) -> AssessmentOut:
        """Assess the patient's case (latest version unless ``version``) and store the result.

        The stored record holds the result JSON, its digest, the case version,
        the inputs digest, the netlm version and the whole rule profile.
        """
        actor = _check_actor(actor)
        if profile is not None and not isinstance(profile, RuleProfile):
            raise InputError([("profile", f"must be a RuleProfile, not {type(profile).__name__}")])
        with self._read() as session:
            case_row = self._case_version_row(session, patient_id, version)
        rule_profile = profile if profile is not None else default_profile()
        assessment = Assessor(rule_profile).assess(case_from_mapping(case_row.document))
        result = assessment.model_dump(mode="json", by_alias=True)
        provenance = assessment.provenance
        with self._write() as session:
            patient = self._patient_row(session, case_row.patient_id, for_write=True)
            row = m.AssessmentRecord(
                patient_id=patient.id,
                case_version_id=case_row.id,
                result=result,
                result_digest=document_digest(result),
                inputs_digest=provenance.inputs_digest,
                netlm_version=provenance.netlm_version,
                profile_id=provenance.profile.id,
                profile_version=provenance.profile.version,
                profile_digest=provenance.profile.digest,
                profile_document=rule_profile.model_dump(mode="json"),
                created_at=_now(),
                created_by=actor,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                at=row.created_at,
                actor=actor,
                action="create",
                record_type="assessment",
                record_id=row.id,
                patient_id=patient.id,
                details={
                    "case_version": case_row.version,
                    "profile": f"{row.profile_id} {row.profile_version}",
                    "result_digest": row.result_digest,
                },
            )
            return _assessment_out(row, case_row.version)

    def _assessment_row(
        self, session: Session, assessment_id: int
    ) -> tuple[m.AssessmentRecord, m.CaseVersion]:
        assessment_id = _check_id(assessment_id, "assessment_id")
        found = session.execute(
            sa.select(m.AssessmentRecord, m.CaseVersion)
            .join(m.CaseVersion, m.CaseVersion.id == m.AssessmentRecord.case_version_id)
            .where(m.AssessmentRecord.id == assessment_id)
        ).one_or_none()
        if found is None:
            raise NotFoundError(f"assessment {assessment_id} not found")
        record, case_row = found
        return record, case_row

    def get_assessment(self, assessment_id: int) -> AssessmentOut:
        """One stored assessment.

        Raises
        ------
        NotFoundError
            If there is no assessment ``assessment_id``.
        """
        with self._read() as session:
            row, case_row = self._assessment_row(session, assessment_id)
            return _assessment_out(row, case_row.version)

    def assessments(self, patient_id: int) -> list[AssessmentOut]:
        """The patient's stored assessments, oldest first."""
        with self._read() as session:
            patient = self._patient_row(session, patient_id)
            rows = session.execute(
                sa.select(m.AssessmentRecord, m.CaseVersion.version)
                .join(m.CaseVersion, m.CaseVersion.id == m.AssessmentRecord.case_version_id)
                .where(m.AssessmentRecord.patient_id == patient.id)
                .order_by(m.AssessmentRecord.id)
            )
            return [_assessment_out(a, v) for a, v in rows]

    def reproduce_assessment(self, assessment_id: int) -> bool:
        """Re-run a stored assessment on its stored case version and rule profile.

        ``True`` when the new result is identical (same canonical JSON, same
        digest) to the stored one.  A different netlm version gives ``False``:
        the result records the version that produced it.
        """
        with self._read() as session:
            row, case_row = self._assessment_row(session, assessment_id)
        profile = RuleProfile.model_validate(row.profile_document)
        if profile.digest != row.profile_digest:
            return False
        again = Assessor(profile).assess(case_from_mapping(case_row.document))
        result = again.model_dump(mode="json", by_alias=True)
        return document_digest(result) == row.result_digest and result == row.result

    # -------------------------------------------------------------- plans
    def save_plan(self, patient_id: int, plan: Plan, *, actor: str) -> PlanOut:
        """Store a radioembolization plan for the patient (plans are never edited).

        Raises
        ------
        InputError
            If ``plan.case`` names another patient.
        """
        actor = _check_actor(actor)
        if not isinstance(plan, Plan):
            raise InputError([("plan", f"must be a netlm Plan, not {type(plan).__name__}")])
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            if plan.case is not None and plan.case != patient.external_id:
                raise InputError(
                    [
                        (
                            "case",
                            f"the plan is for {plan.case!r} but patient {patient.id} is "
                            f"{patient.external_id!r}",
                        )
                    ]
                )
            document = plan.model_dump(mode="json", by_alias=True)
            if plan_from_mapping(document) != plan:  # what is stored must read back as given
                raise StoreError("the plan does not survive its JSON round trip; nothing stored")
            row = m.SirtPlan(
                patient_id=patient.id,
                document=document,
                plan_digest=_plan_digest(plan),
                device=plan.device,
                method=plan.method,
                created_at=_now(),
                created_by=actor,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                at=row.created_at,
                actor=actor,
                action="create",
                record_type="plan",
                record_id=row.id,
                patient_id=patient.id,
                details={
                    "device": plan.device,
                    "method": plan.method,
                    "plan_digest": row.plan_digest,
                    "override_reason": plan.override.reason if plan.override else None,
                },
            )
            return _plan_out(session, row)

    def _plan_row(self, session: Session, plan_id: int) -> m.SirtPlan:
        plan_id = _check_id(plan_id, "plan_id")
        row = session.get(m.SirtPlan, plan_id)
        if row is None:
            raise NotFoundError(f"plan {plan_id} not found")
        return row

    def get_plan(self, plan_id: int) -> PlanOut:
        """One stored plan with its status.

        Raises
        ------
        NotFoundError
            If there is no plan ``plan_id``.
        """
        with self._read() as session:
            return _plan_out(session, self._plan_row(session, plan_id))

    def list_plans(self, patient_id: int) -> list[PlanOut]:
        """The patient's plans, oldest first."""
        with self._read() as session:
            patient = self._patient_row(session, patient_id)
            rows = session.scalars(
                sa.select(m.SirtPlan)
                .where(m.SirtPlan.patient_id == patient.id)
                .order_by(m.SirtPlan.id)
            ).all()
            return [_plan_out(session, r) for r in rows]

    def solve_plan(self, plan_id: int, *, actor: str) -> PlanResultOut:
        """Solve a stored plan and store its dose result with the constants used.

        The patient's latest case version (if any) adds its history (prior
        radioembolization, PRRT, prior lung dose) to the plan, and is recorded.
        A safety override carried by the plan is written to the audit log with
        its reason (action ``safety_override``).

        Raises
        ------
        UnsafePlanError
            If the plan breaks a hard limit without an override; nothing is stored.
        PlanError
            If the plan cannot be solved; nothing is stored.
        """
        actor = _check_actor(actor)
        with self._read() as session:
            plan_row = self._plan_row(session, plan_id)
            latest = self._latest_version(session, plan_row.patient_id)
            case_row = (
                None
                if latest is None
                else self._case_version_row(session, plan_row.patient_id, latest)
            )
        plan = plan_from_mapping(plan_row.document)
        if case_row is not None:
            plan = with_case_history(plan, case_from_mapping(case_row.document))
        solved = solve(plan)
        result = solved.model_dump(mode="json")
        override = result["override"]
        with self._write() as session:
            patient = self._patient_row(session, plan_row.patient_id, for_write=True)
            row = m.PlanResultRecord(
                plan_id=plan_row.id,
                case_version_id=case_row.id if case_row is not None else None,
                result=result,
                result_digest=document_digest(result),
                constants=result["constants"],
                inputs_digest=solved.inputs_digest,
                netlm_version=solved.netlm_version,
                override=override,
                created_at=_now(),
                created_by=actor,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                at=row.created_at,
                actor=actor,
                action="solve",
                record_type="plan_result",
                record_id=row.id,
                patient_id=patient.id,
                details={
                    "plan_id": plan_row.id,
                    "case_version": None if case_row is None else case_row.version,
                    "injected_activity_gbq": solved.injected_activity_gbq,
                    "result_digest": row.result_digest,
                },
            )
            if override is not None:
                _audit(
                    session,
                    at=row.created_at,
                    actor=actor,
                    action="safety_override",
                    record_type="plan_result",
                    record_id=row.id,
                    patient_id=patient.id,
                    details={
                        "plan_id": plan_row.id,
                        "reason": override["reason"],
                        "approved_by": override["approved_by"],
                        "limits": override.get("limits") or [],
                        "overridden_checks": [
                            f"{c['id']}" + (f" ({c['territory']})" if c["territory"] else "")
                            for c in result["checks"]
                            if c["overridden"]
                        ],
                    },
                )
            return _plan_result_out(row, patient.id)

    def plan_results(self, plan_id: int) -> list[PlanResultOut]:
        """Every stored dose result of a plan, oldest first."""
        with self._read() as session:
            plan_row = self._plan_row(session, plan_id)
            rows = session.scalars(
                sa.select(m.PlanResultRecord)
                .where(m.PlanResultRecord.plan_id == plan_row.id)
                .order_by(m.PlanResultRecord.id)
            )
            return [_plan_result_out(r, plan_row.patient_id) for r in rows]

    def get_plan_result(self, result_id: int) -> PlanResultOut:
        """One stored dose result.

        Raises
        ------
        NotFoundError
            If there is no result ``result_id``.
        """
        result_id = _check_id(result_id, "result_id")
        with self._read() as session:
            row = session.get(m.PlanResultRecord, result_id)
            if row is None:
                raise NotFoundError(f"plan result {result_id} not found")
            return _plan_result_out(row, self._plan_row(session, row.plan_id).patient_id)

    def approve_plan(
        self,
        plan_id: int,
        *,
        actor: str,
        result_id: int | None = None,
        allow_own_override: bool = False,
    ) -> PlanOut:
        """A physicist signs off the plan's latest dose result (once per plan).

        Parameters
        ----------
        result_id
            The result the physicist reviewed: it must be the plan's latest, so
            that a result solved after the review is never signed unseen.
        allow_own_override
            Let a physicist approve a result whose safety override they wrote
            into the plan themselves (a centre's setting; off by default: a
            second physicist signs an override).

        Raises
        ------
        PermissionDeniedError
            If ``actor`` is not a registered user with the physicist role, or
            wrote the plan's safety override (unless ``allow_own_override``).
        StoreError
            If the plan has no dose result yet, is already approved, or
            ``result_id`` is not its latest result.
        """
        actor = _check_actor(actor)
        if result_id is not None:
            result_id = _check_id(result_id, "result_id")
        with self._write() as session:
            role = session.scalar(sa.select(m.User.role).where(m.User.username == actor))
            if role != Role.PHYSICIST.value:
                who = f"has the role {role}" if role else "is not a registered user"
                raise PermissionDeniedError(
                    f"approving a radioembolization plan needs the physicist role; {actor!r} {who}"
                )
            plan_row = self._plan_row(session, plan_id)
            patient = self._patient_row(session, plan_row.patient_id, for_write=True)
            approved = session.scalars(
                sa.select(m.PlanApproval).where(m.PlanApproval.plan_id == plan_row.id)
            ).one_or_none()
            if approved is not None:
                raise StoreError(
                    f"plan {plan_row.id} was already approved by {approved.created_by} "
                    f"at {approved.created_at.isoformat()}"
                )
            latest = session.scalars(
                sa.select(m.PlanResultRecord)
                .where(m.PlanResultRecord.plan_id == plan_row.id)
                .order_by(m.PlanResultRecord.id.desc())
                .limit(1)
            ).one_or_none()
            if latest is None:
                raise StoreError(f"plan {plan_row.id} has no dose result: solve it before approval")
            if result_id is not None and result_id != latest.id:
                raise StoreError(
                    f"result {result_id} is not the latest result of plan {plan_row.id} "
                    f"(that is result {latest.id}): review the latest result and approve it"
                )
            if latest.override and plan_row.created_by == actor and not allow_own_override:
                raise PermissionDeniedError(
                    f"{actor!r} wrote the safety override of plan {plan_row.id}; another "
                    "physicist approves it (unless the centre allows self-approval)"
                )
            approval = m.PlanApproval(
                plan_id=plan_row.id, plan_result_id=latest.id, created_at=_now(), created_by=actor
            )
            session.add(approval)
            session.flush()
            _audit(
                session,
                at=approval.created_at,
                actor=actor,
                action="approve",
                record_type="plan",
                record_id=plan_row.id,
                patient_id=patient.id,
                details={
                    "plan_result_id": latest.id,
                    "result_digest": latest.result_digest,
                    "override_reason": latest.override["reason"] if latest.override else None,
                },
            )
            return _plan_out(session, plan_row)

    # -------------------------------------------------------------- clinical record
    def _add_record(
        self,
        patient_id: int,
        row: m.Image | m.Treatment | m.LabResult | m.ResponseTimepoint | m.ToxicityEvent,
        record_type: str,
        actor: str,
        details: Mapping[str, Any],
    ) -> None:
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            row.patient_id = patient.id
            row.created_at = _now()
            row.created_by = actor
            session.add(row)
            session.flush()
            _audit(
                session,
                at=row.created_at,
                actor=actor,
                action="create",
                record_type=record_type,
                record_id=row.id,
                patient_id=patient.id,
                details=details,
            )

    def add_image(
        self,
        patient_id: int,
        *,
        kind: str,
        path: str | None = None,
        series_uid: str | None = None,
        description: str = "",
        actor: str,
    ) -> ImageOut:
        """Reference an image series by file path and/or DICOM Series Instance UID.

        Nothing is read or copied: the database keeps the reference only.
        ``kind`` is one of :data:`IMAGE_KINDS`.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        kind = check.choice("kind", kind, IMAGE_KINDS)
        if path is None and series_uid is None:
            check.fail("path", "give a path or a series_uid (or both)")
        if path is not None:
            path = check.text("path", path, max_length=4096)
        if series_uid is not None:
            series_uid = check.text("series_uid", series_uid, max_length=64)
            if series_uid and not _DICOM_UID.fullmatch(series_uid):
                check.fail(
                    "series_uid",
                    f"{series_uid!r} is not a DICOM UID (digits in dot-separated groups, "
                    "no leading zeros)",
                )
        description = check.text("description", description, max_length=10_000, empty=True)
        check.done()
        row = m.Image(kind=kind, path=path, series_uid=series_uid, description=description)
        self._add_record(
            patient_id, row, "image", actor, {"kind": kind, "path": path, "series_uid": series_uid}
        )
        return _image_out(row)

    def add_treatment(
        self,
        patient_id: int,
        *,
        modality: str,
        date: dt.date,
        details: dict[str, Any],
        actor: str,
    ) -> TreatmentOut:
        """Record a treatment delivered on ``date`` (``modality``: :data:`TREATMENT_MODALITIES`)."""
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        modality = check.choice("modality", modality, TREATMENT_MODALITIES)
        date = check.date("date", date)
        details = check.document("details", details)
        check.done()
        row = m.Treatment(modality=modality, date=date, details=details)
        self._add_record(
            patient_id, row, "treatment", actor, {"modality": modality, "date": date.isoformat()}
        )
        return _treatment_out(row)

    def add_lab(
        self,
        patient_id: int,
        *,
        date: dt.date,
        analyte: str,
        value: float,
        unit: str,
        uln: float | None = None,
        lln: float | None = None,
        actor: str,
    ) -> LabOut:
        """Record a laboratory value; ``analyte`` from :data:`LAB_ANALYTES`.

        The unit is stored as given; ``uln``/``lln`` (upper/lower limit of
        normal, in the same unit) are optional, and ``lln`` must be below ``uln``.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        date = check.date("date", date)
        analyte = check.choice("analyte", analyte, LAB_ANALYTES)
        number = check.number("value", value)
        unit = check.name("unit", unit, max_length=32)
        upper = check.optional_number("uln", uln)
        lower = check.optional_number("lln", lln)
        if number < 0:
            check.fail("value", f"must not be negative (got {number:g})")
        if upper is not None and lower is not None and lower >= upper:
            check.fail("lln", f"must be below uln ({lower:g} >= {upper:g})")
        check.done()
        row = m.LabResult(date=date, analyte=analyte, value=number, unit=unit, uln=upper, lln=lower)
        self._add_record(
            patient_id,
            row,
            "lab",
            actor,
            {"analyte": analyte, "date": date.isoformat(), "value": number, "unit": unit},
        )
        return _lab_out(row)

    def add_response_timepoint(
        self,
        patient_id: int,
        *,
        date: dt.date,
        criterion: str,
        overall: str,
        details: dict[str, Any],
        actor: str,
    ) -> ResponseOut:
        """Record the overall response by ``criterion`` (:data:`RESPONSE_CRITERIA`) at ``date``.

        ``overall`` is one of :data:`RESPONSE_CATEGORIES` (CR, PR, SD, PD, NE, ...).
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        date = check.date("date", date)
        criterion = check.choice("criterion", criterion, RESPONSE_CRITERIA)
        overall = check.choice("overall", overall, RESPONSE_CATEGORIES)
        details = check.document("details", details)
        check.done()
        row = m.ResponseTimepoint(date=date, criterion=criterion, overall=overall, details=details)
        self._add_record(
            patient_id,
            row,
            "response",
            actor,
            {"criterion": criterion, "overall": overall, "date": date.isoformat()},
        )
        return _response_out(row)

    def add_toxicity_event(
        self,
        patient_id: int,
        *,
        date: dt.date,
        term: str,
        grade: int,
        ctcae_version: str,
        actor: str,
    ) -> ToxicityOut:
        """Record an adverse event graded 0-5 by CTCAE ``ctcae_version`` (5.0 or 6.0)."""
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        date = check.date("date", date)
        term = check.name("term", term, max_length=200)
        if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= 5:
            check.fail("grade", f"must be a CTCAE grade 0-5 (got {grade!r})")
        ctcae_version = check.choice("ctcae_version", ctcae_version, CTCAE_VERSIONS)
        check.done()
        row = m.ToxicityEvent(date=date, term=term, grade=grade, ctcae_version=ctcae_version)
        self._add_record(
            patient_id,
            row,
            "toxicity",
            actor,
            {"term": term, "grade": grade, "date": date.isoformat()},
        )
        return _toxicity_out(row)

    def images(self, patient_id: int) -> list[ImageOut]:
        """The patient's image references, oldest first."""
        return [_image_out(r) for r in self._records(m.Image, patient_id)]

    def treatments(self, patient_id: int) -> list[TreatmentOut]:
        """The patient's treatments by date."""
        return [_treatment_out(r) for r in self._records(m.Treatment, patient_id)]

    def labs(self, patient_id: int, analyte: str | None = None) -> list[LabOut]:
        """The patient's laboratory values by date (one analyte if given)."""
        rows = self._records(m.LabResult, patient_id)
        return [_lab_out(r) for r in rows if analyte is None or r.analyte == analyte]

    def response_timepoints(self, patient_id: int) -> list[ResponseOut]:
        """The patient's response time points by date."""
        return [_response_out(r) for r in self._records(m.ResponseTimepoint, patient_id)]

    def toxicity_events(self, patient_id: int) -> list[ToxicityOut]:
        """The patient's adverse events by date."""
        return [_toxicity_out(r) for r in self._records(m.ToxicityEvent, patient_id)]

    def _records(self, model: type[_Row], patient_id: int) -> list[_Row]:
        with self._read() as session:
            patient = self._patient_row(session, patient_id)
            return _patient_rows(session, model, patient.id)

    # -------------------------------------------------------------- audit and export
    def audit_log(
        self,
        *,
        record_type: str | None = None,
        record_id: int | None = None,
        limit: int = 1000,
        patient_id: int | None = None,
        actor: str | None = None,
    ) -> list[AuditOut]:
        """The newest ``limit`` matching audit entries, oldest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError([("limit", f"must be a positive integer (got {limit!r})")])
        stmt = sa.select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit)
        if record_type is not None:
            stmt = stmt.where(m.AuditEntry.record_type == record_type)
        if record_id is not None:
            stmt = stmt.where(m.AuditEntry.record_id == record_id)
        if patient_id is not None:
            stmt = stmt.where(m.AuditEntry.patient_id == patient_id)
        if actor is not None:
            stmt = stmt.where(m.AuditEntry.actor == actor)
        with self._read() as session:
            rows = list(session.scalars(stmt))
        return [_audit_out(r) for r in reversed(rows)]

    def verify_audit(self) -> ChainReport:
        """Check the audit log against its hash chain (see :mod:`netlm.store.auditchain`)."""
        with self._read(snapshot=True) as session:
            entries = {
                e.id: entry_text(
                    entry_id=e.id,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    record_type=e.record_type,
                    record_id=e.record_id,
                    patient_id=e.patient_id,
                    details=e.details,
                )
                for e in session.scalars(sa.select(m.AuditEntry))
            }
            links = [
                (row.audit_id, row.sha256)
                for row in session.execute(
                    sa.select(m.AuditLink.audit_id, m.AuditLink.sha256).order_by(m.AuditLink.id)
                )
            ]
        return verify_chain(links, entries)

    def record_read(self, patient_id: int, *, actor: str, what: str = "record") -> None:
        """Audit that ``actor`` looked at a patient's record (``what``: the page or resource).

        Raises
        ------
        NotFoundError
            If there is no such patient.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        what = check.name("what", what, max_length=64)
        check.done()
        with self._write() as session:
            patient = self._patient_row(session, patient_id)
            _audit(
                session,
                at=_now(),
                actor=actor,
                action="read",
                record_type="patient",
                record_id=patient.id,
                patient_id=patient.id,
                details={"what": what},
            )

    def record_sent(
        self, patient_id: int, *, actor: str, what: str, details: Mapping[str, Any]
    ) -> None:
        """Audit that ``actor`` sent part of a patient's record out of the registry.

        ``what`` names what left (``"dose results to PACS"``); ``details`` says
        where to and which records (no patient data).

        Raises
        ------
        NotFoundError
            If there is no such patient.
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        what = check.name("what", what, max_length=64)
        check.done()
        with self._write() as session:
            patient = self._patient_row(session, patient_id)
            _audit(
                session,
                at=_now(),
                actor=actor,
                action="send",
                record_type="patient",
                record_id=patient.id,
                patient_id=patient.id,
                details={"what": what, **dict(details)},
            )

    def export_patient(self, patient_id: int, *, actor: str | None = None) -> dict[str, Any]:
        """The patient's whole record as one JSON-able document (:data:`EXPORT_SCHEMA`).

        Deleted patients export too (``patient.deleted`` and the reason say so).
        Every case version, assessment (with provenance), plan with its dose
        results and approval, image reference, treatment, lab value, response
        time point, toxicity event and audit entry is included.  With ``actor``
        the export itself is written to the audit log first.
        """
        if actor is not None:
            actor = _check_actor(actor)
            with self._write() as session:
                patient = self._patient_row(session, patient_id)
                _audit(
                    session,
                    at=_now(),
                    actor=actor,
                    action="export",
                    record_type="patient",
                    record_id=patient.id,
                    patient_id=patient.id,
                )
        with self._read(snapshot=True) as session:
            patient = self._patient_row(session, patient_id)
            pid = patient.id
            versions = session.scalars(
                sa.select(m.CaseVersion)
                .where(m.CaseVersion.patient_id == pid)
                .order_by(m.CaseVersion.version)
            ).all()
            number = {v.id: v.version for v in versions}
            assessments = session.scalars(
                sa.select(m.AssessmentRecord)
                .where(m.AssessmentRecord.patient_id == pid)
                .order_by(m.AssessmentRecord.id)
            ).all()
            plans = session.scalars(
                sa.select(m.SirtPlan).where(m.SirtPlan.patient_id == pid).order_by(m.SirtPlan.id)
            ).all()
            plan_docs = []
            for plan in plans:
                results = session.scalars(
                    sa.select(m.PlanResultRecord)
                    .where(m.PlanResultRecord.plan_id == plan.id)
                    .order_by(m.PlanResultRecord.id)
                )
                plan_docs.append(
                    _plan_out(session, plan).model_dump(mode="json")
                    | {
                        "results": [
                            _plan_result_out(r, pid).model_dump(mode="json") for r in results
                        ]
                    }
                )

            def rows(model: type[_Row]) -> list[_Row]:
                return _patient_rows(session, model, pid)

            document = {
                "schema": EXPORT_SCHEMA,
                "exported_at": _now().isoformat(),
                "netlm_version": __version__,
                "patient": _patient_out(
                    patient, versions[-1].version if versions else None
                ).model_dump(mode="json"),
                "case_versions": [_case_version_out(v).model_dump(mode="json") for v in versions],
                "assessments": [
                    _assessment_out(a, number[a.case_version_id]).model_dump(mode="json")
                    | {"profile": a.profile_document}
                    for a in assessments
                ],
                "plans": plan_docs,
                "images": [_image_out(r).model_dump(mode="json") for r in rows(m.Image)],
                "treatments": [
                    _treatment_out(r).model_dump(mode="json") for r in rows(m.Treatment)
                ],
                "labs": [_lab_out(r).model_dump(mode="json") for r in rows(m.LabResult)],
                "response_timepoints": [
                    _response_out(r).model_dump(mode="json") for r in rows(m.ResponseTimepoint)
                ],
                "toxicity_events": [
                    _toxicity_out(r).model_dump(mode="json") for r in rows(m.ToxicityEvent)
                ],
                "audit": [_audit_out(r).model_dump(mode="json") for r in rows(m.AuditEntry)],
            }
        return document
