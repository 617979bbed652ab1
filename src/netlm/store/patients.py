"""Patients, their identifiers and their versioned cases.

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from netlm.case import Case, case_from_mapping
from netlm.errors import InputError, NotFoundError, StoreError
from netlm.store import tables as m
from netlm.store.base import StoreBase, _lock_identifiers, _patient_document
from netlm.store.checks import _Checker
from netlm.store.digests import case_digest
from netlm.store.identifiers import (
    identifier_problem,
    lookalike,
    normalise,
    skeleton,
    skeleton_key,
)
from netlm.store.models import (
    CaseVersionOut,
    PatientOut,
    _case_version_out,
    _patient_out,
)


class PatientsMixin(StoreBase):
    """Patients under the centre's identifiers, and their cases: every save is a new version."""

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
        key = skeleton_key(external_id)
        similar = lookalike(
            external_id,
            session.scalars(
                sa.select(m.Patient.external_id).where(m.Patient.external_id_skeleton == key)
            ),
        )
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
        patient = m.Patient(
            external_id=external_id,
            external_id_skeleton=key,
            created_at=self._now(),
            created_by=actor,
        )
        session.add(patient)
        session.flush()
        self._audit(
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
        document = _patient_document(
            patient,
            case,
            kind="case",
            field="patient.id",
            named=case.patient.id,
            read=case_from_mapping,
        )
        version = (self._latest_version(session, patient.id) or 0) + 1
        row = m.CaseVersion(
            patient_id=patient.id,
            version=version,
            document=document,
            case_digest=case_digest(case),
            source=source,
        )
        self._insert(
            session,
            row,
            actor=actor,
            action="create",
            record_type="case_version",
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
            now = self._now()
            patient.deleted_at, patient.deleted_by, patient.deleted_reason = now, actor, reason
            session.flush()
            self._audit(
                session,
                at=now,
                actor=actor,
                action="soft_delete",
                record_type="patient",
                record_id=patient.id,
                patient_id=patient.id,
                details={"reason": reason},
            )
