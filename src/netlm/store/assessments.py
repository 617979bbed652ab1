"""Stored eligibility assessments, with their provenance, and their reproduction.

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from netlm.case import case_from_mapping
from netlm.eligibility import Assessor, RuleProfile, default_profile
from netlm.errors import InputError, NotFoundError
from netlm.store import tables as m
from netlm.store.base import StoreBase
from netlm.store.checks import _check_actor, _check_id
from netlm.store.digests import document_digest
from netlm.store.models import (
    AssessmentOut,
    _assessment_out,
)


class AssessmentsMixin(StoreBase):
    """Eligibility assessments of a stored case version, stored with their provenance."""

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
            )
            self._insert(
                session,
                row,
                actor=actor,
                action="create",
                record_type="assessment",
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
