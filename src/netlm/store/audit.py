"""Reading and verifying the audit log, and auditing reads, sends and decisions.

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from netlm.errors import InputError
from netlm.store import tables as m
from netlm.store.auditchain import ChainReport, entry_text, verify_chain
from netlm.store.base import StoreBase
from netlm.store.checks import _Checker
from netlm.store.models import (
    AuditOut,
    _audit_out,
)


class AuditMixin(StoreBase):
    """The audit log: reading it, verifying its hash chain, and auditing reads and sends."""

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
        self._audit_patient(patient_id, actor=actor, action="read", what=what, details={})

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
        self._audit_patient(patient_id, actor=actor, action="send", what=what, details=details)

    def record_decision(
        self,
        patient_id: int,
        *,
        actor: str,
        decision: str,
        what: str,
        details: Mapping[str, Any],
    ) -> None:
        """Audit that ``actor`` decided on something kept outside the registry's tables.

        ``decision`` is the action (``"propose"``, ``"confirm"``, ``"reject"``),
        ``what`` names the thing (``"registration"``) and ``details`` identifies
        it (no patient data).

        Raises
        ------
        InputError
            ``decision`` is not one of the three.
        NotFoundError
            If there is no such patient.
        """
        if decision not in ("propose", "confirm", "reject"):
            raise InputError(
                [("decision", f"must be propose, confirm or reject, not {decision!r}")]
            )
        self._audit_patient(patient_id, actor=actor, action=decision, what=what, details=details)

    def _audit_patient(
        self, patient_id: int, *, actor: str, action: str, what: str, details: Mapping[str, Any]
    ) -> None:
        """Audit ``action`` on a patient's record (nothing else is written)."""
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        what = check.name("what", what, max_length=64)
        check.done()
        with self._write() as session:
            patient = self._patient_row(session, patient_id)
            self._audit(
                session,
                at=self._now(),
                actor=actor,
                action=action,
                record_type="patient",
                record_id=patient.id,
                patient_id=patient.id,
                details={"what": what, **dict(details)},
            )
