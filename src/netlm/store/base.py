"""The registry's plumbing: engine, transactions, the clock and the audit chain.

:class:`StoreBase` holds what every part of :class:`~netlm.store.repository.Store`
shares: the engine and its sessions, read and write transactions (a write and
its audit entry are one transaction), the row look-ups that several parts use,
and :meth:`StoreBase._audit`, which appends an entry to the hash-chained audit
log (:mod:`netlm.store.auditchain`).  The concern mixins (accounts, patients,
assessments, plans, records, audit, exchange) derive from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self, TypeVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from netlm.errors import InputError, NetlmError, NotFoundError, StoreError
from netlm.store import tables as m
from netlm.store.auditchain import ADVISORY_LOCK_KEY, GENESIS, entry_text, link
from netlm.store.checks import _check_id
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
from netlm.store.models import LoginThrottle


def _lock_identifiers(session: Session) -> None:
    """Serialise the look-alike check and the insert of a new identifier (PostgreSQL).

    Takes the audit chain's transaction-scoped advisory lock, which the insert's
    audit entry takes anyway (one lock, so no new lock order); SQLite writers
    hold the database's write lock already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))


def _patient_document(
    patient: m.Patient,
    value: BaseModel,
    *,
    kind: str,
    field: str,
    named: str | None,
    read: Callable[[dict[str, Any]], object],
) -> dict[str, Any]:
    """The JSON document of a case or plan (``kind``) to store for ``patient``.

    Refused (:class:`~netlm.errors.InputError` on ``field``) if it names another
    patient (``named``: its patient's external id), and
    (:class:`~netlm.errors.StoreError`) if ``read`` does not read it back as given.
    """
    if named is not None and named != patient.external_id:
        raise InputError(
            [
                (
                    field,
                    f"the {kind} is for {named!r} but patient {patient.id} is "
                    f"{patient.external_id!r}",
                )
            ]
        )
    document: dict[str, Any] = value.model_dump(mode="json", by_alias=True)
    if read(document) != value:  # what is stored must read back as given
        raise StoreError(f"the {kind} does not survive its JSON round trip; nothing stored")
    return document


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


#: Tables whose rows record who wrote them and when (:class:`netlm.store.tables._Created`).
_Created = TypeVar(
    "_Created",
    m.User,
    m.ApiToken,
    m.WebSession,
    m.Patient,
    m.CaseVersion,
    m.AssessmentRecord,
    m.SirtPlan,
    m.PlanResultRecord,
    m.PlanApproval,
    m.Image,
    m.Treatment,
    m.LabResult,
    m.ResponseTimepoint,
    m.ToxicityEvent,
)


class StoreBase:
    """The engine, transactions and shared look-ups of a :class:`~netlm.store.repository.Store`.

    The parameters are the store's (see :class:`~netlm.store.repository.Store`).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        upgrade: bool = True,
        create: bool | None = None,
        password_hasher: PasswordHasher | None = None,
        login_throttle: LoginThrottle | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ) -> None:
        self._engine = make_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            create=upgrade if create is None else create,
        )
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

    def __enter__(self) -> Self:
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

    def _insert(
        self,
        session: Session,
        row: _Created,
        *,
        actor: str,
        action: str = "create",
        record_type: str,
        patient_id: int | None,
        details: Mapping[str, Any] | None = None,
        record_id: int | None = None,
    ) -> _Created:
        """Add ``row``, written now by ``actor``, and its audit entry to the transaction.

        The entry names the row itself unless ``record_id`` names another record.
        """
        row.created_at = self._now()
        row.created_by = actor
        session.add(row)
        session.flush()
        self._audit(
            session,
            at=row.created_at,
            actor=actor,
            action=action,
            record_type=record_type,
            record_id=row.id if record_id is None else record_id,
            patient_id=patient_id,
            details=details,
        )
        return row

    @staticmethod
    def _now() -> dt.datetime:
        """The time written into records and audit entries (UTC)."""
        return dt.datetime.now(dt.UTC)

    @staticmethod
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
