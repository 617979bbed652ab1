"""The registry's tables (SQLAlchemy 2 declarative models).

Append-only by design:

* a case is never edited in place: every save is a new row of
  :class:`CaseVersion` (``version`` 1, 2, 3... per patient);
* stored results (:class:`AssessmentRecord`, :class:`PlanResultRecord`), plans
  and plan approvals are never changed once written;
* the :class:`AuditEntry` log is append-only; database triggers (migration
  ``0001``) refuse UPDATE and DELETE on these tables on SQLite and PostgreSQL;
* a patient is never deleted: :class:`Patient` has a soft delete (who, when,
  why).

Images are referenced by file path and/or DICOM Series Instance UID; no pixel
data enters the database.  Every timestamp is timezone-aware UTC
(:class:`UTCDateTime`).  JSON documents are stored in the ``json`` type on both
databases (text kept as written, so stored results compare exactly).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from netlm.store.identifiers import SKELETON_KEY_CHARS

#: Constraint names are deterministic, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}

#: Tables whose rows are never updated or deleted (enforced by triggers).
APPEND_ONLY_TABLES = (
    "audit_log",
    "case_versions",
    "assessments",
    "sirt_plans",
    "plan_results",
    "plan_approvals",
)

ROLES = ("viewer", "clinician", "physicist", "admin")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    Naive datetimes are refused when written; on SQLite (no time-zone type)
    the value is stored as UTC and read back with ``tzinfo=UTC``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing a naive datetime {value.isoformat()} (use UTC)")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONDocument = sa.JSON(none_as_null=True)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class _Created:
    """Who wrote a row and when (UTC)."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)


# ---------------------------------------------------------------------------- users
class User(_Created, Base):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    #: :func:`netlm.store.identifiers.skeleton_key` of ``username`` (look-alike search).
    username_skeleton: Mapped[str] = mapped_column(
        sa.String(SKELETON_KEY_CHARS), nullable=False, index=True
    )
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebSession(_Created, Base):
    """A browser log-in; the cookie holds the session id, only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    session_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    csrf_token: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    """A refused log-in (user name as typed, client address), counted by the throttle."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(200), nullable=False, index=True)
    address: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


class ApiToken(_Created, Base):
    """An API token, stored as the SHA-256 of the token (the token itself is never stored)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# ---------------------------------------------------------------------------- patients
class Patient(_Created, Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(128), unique=True, nullable=False)
    #: :func:`netlm.store.identifiers.skeleton_key` of ``external_id`` (look-alike search).
    external_id_skeleton: Mapped[str] = mapped_column(
        sa.String(SKELETON_KEY_CHARS), nullable=False, index=True
    )
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_by: Mapped[str | None] = mapped_column(sa.String(200))
    deleted_reason: Mapped[str | None] = mapped_column(sa.Text())


class CaseVersion(_Created, Base):
    """One saved version of a patient's case (``netlm/case/v1`` as JSON)."""

    __tablename__ = "case_versions"
    __table_args__ = (
        sa.UniqueConstraint("patient_id", "version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    case_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    source: Mapped[str | None] = mapped_column(sa.Text())


# ---------------------------------------------------------------------------- results
class AssessmentRecord(_Created, Base):
    """A tumour-board assessment with everything needed to reproduce it."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    case_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("case_versions.id"), nullable=False, index=True
    )
    result: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    result_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    inputs_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    netlm_version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    profile_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    profile_version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    profile_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    profile_document: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)


class SirtPlan(_Created, Base):
    """A radioembolization plan (``netlm/sirt-plan/v1`` as JSON)."""

    __tablename__ = "sirt_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    plan_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    device: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    method: Mapped[str] = mapped_column(sa.String(16), nullable=False)


class PlanResultRecord(_Created, Base):
    """A solved plan: the :class:`~netlm.sirt.planner.PlanResult` JSON and its constants."""

    __tablename__ = "plan_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("sirt_plans.id"), nullable=False, index=True)
    case_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_versions.id"))
    result: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    result_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    constants: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    inputs_digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    netlm_version: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    override: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class PlanApproval(_Created, Base):
    """A physicist's sign-off of one solved plan (``created_by`` is the physicist)."""

    __tablename__ = "plan_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sirt_plans.id"), nullable=False, unique=True
    )
    plan_result_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_results.id"), nullable=False)


# ---------------------------------------------------------------------------- clinical record
class Image(_Created, Base):
    """An image series by reference: a file path and/or a DICOM Series Instance UID."""

    __tablename__ = "images"
    __table_args__ = (
        sa.CheckConstraint("path IS NOT NULL OR series_uid IS NOT NULL", name="has_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    path: Mapped[str | None] = mapped_column(sa.Text())
    series_uid: Mapped[str | None] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.Text(), nullable=False)


class Treatment(_Created, Base):
    """A liver-directed (or systemic) treatment delivered on a date."""

    __tablename__ = "treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    modality: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    date: Mapped[dt.date] = mapped_column(sa.Date(), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)


class LabResult(_Created, Base):
    """One laboratory value on a date, with its unit and reference limits."""

    __tablename__ = "lab_results"
    __table_args__ = (sa.Index(None, "patient_id", "analyte", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"), nullable=False)
    date: Mapped[dt.date] = mapped_column(sa.Date(), nullable=False)
    analyte: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    value: Mapped[float] = mapped_column(sa.Float(), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    uln: Mapped[float | None] = mapped_column(sa.Float())
    lln: Mapped[float | None] = mapped_column(sa.Float())


class ResponseTimepoint(_Created, Base):
    """The overall response by one criterion at one follow-up date."""

    __tablename__ = "response_timepoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    date: Mapped[dt.date] = mapped_column(sa.Date(), nullable=False)
    criterion: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    overall: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)


class ToxicityEvent(_Created, Base):
    """An adverse event graded by CTCAE (grade 0-5)."""

    __tablename__ = "toxicity_events"
    __table_args__ = (sa.CheckConstraint("grade BETWEEN 0 AND 5", name="grade_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id"), nullable=False, index=True
    )
    date: Mapped[dt.date] = mapped_column(sa.Date(), nullable=False)
    term: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    grade: Mapped[int] = mapped_column(nullable=False)
    ctcae_version: Mapped[str] = mapped_column(sa.String(8), nullable=False)


# ---------------------------------------------------------------------------- audit
class AuditEntry(Base):
    """Who did what, when, to which record (append-only)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    record_type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    record_id: Mapped[int | None] = mapped_column()
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)


class AuditLink(Base):
    """One link of the audit hash chain (see :mod:`netlm.store.auditchain`; append-only)."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("audit_log.id"), unique=True, nullable=False
    )
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
