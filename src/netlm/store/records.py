"""The clinical record: image references, treatments, labs, responses, toxicity.

Part of :class:`~netlm.store.repository.Store` (see there for the rules every
write follows).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from netlm.errors import StoreError
from netlm.store import tables as m
from netlm.store.base import StoreBase, _patient_rows, _Row
from netlm.store.checks import _Checker
from netlm.store.models import (
    CTCAE_VERSIONS,
    IMAGE_KINDS,
    LAB_ANALYTES,
    RESPONSE_CATEGORIES,
    RESPONSE_CRITERIA,
    TREATMENT_MODALITIES,
    ImageOut,
    LabOut,
    ResponseOut,
    ToxicityOut,
    TreatmentOut,
    _image_out,
    _lab_out,
    _response_out,
    _toxicity_out,
    _treatment_out,
)

_DICOM_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")

_Record = TypeVar(
    "_Record", m.Image, m.Treatment, m.LabResult, m.ResponseTimepoint, m.ToxicityEvent
)


class ResponseEntry(NamedTuple):
    """One overall response to record (:meth:`RecordsMixin.add_response_timepoints`)."""

    date: dt.date
    criterion: str
    overall: str
    details: Mapping[str, Any]


class RecordsMixin(StoreBase):
    """The clinical record beside the case: images, treatments, labs, responses, toxicity."""

    def _add_record(
        self,
        patient_id: int,
        row: _Record,
        record_type: str,
        actor: str,
        details: Mapping[str, Any],
    ) -> None:
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            row.patient_id = patient.id
            self._insert(
                session,
                row,
                actor=actor,
                record_type=record_type,
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

    def add_response_timepoints(
        self, patient_id: int, entries: Sequence[ResponseEntry], *, actor: str
    ) -> list[ResponseOut]:
        """Record several overall responses in one transaction: all of them or none.

        Each entry is checked as by :meth:`add_response_timepoint`.  An entry whose date and
        criterion are already recorded with the same overall response is skipped (a follow-up
        form repeats the recorded series; the same form sent twice at once records it once:
        the patient's row is locked for the write); one recorded with another response is
        refused (:class:`~netlm.errors.StoreError` naming it) and nothing is stored.

        Returns
        -------
        list[ResponseOut]
            The rows written (skipped entries left out).
        """
        check = _Checker()
        actor = check.name("actor", actor, max_length=200)
        rows: list[m.ResponseTimepoint] = []
        for i, entry in enumerate(entries):
            rows.append(
                m.ResponseTimepoint(
                    date=check.date(f"entries[{i}].date", entry.date),
                    criterion=check.choice(
                        f"entries[{i}].criterion", entry.criterion, RESPONSE_CRITERIA
                    ),
                    overall=check.choice(
                        f"entries[{i}].overall", entry.overall, RESPONSE_CATEGORIES
                    ),
                    details=check.document(f"entries[{i}].details", dict(entry.details)),
                )
            )
        check.done()
        written: list[m.ResponseTimepoint] = []
        with self._write() as session:
            patient = self._patient_row(session, patient_id, for_write=True)
            recorded = {
                (r.date, r.criterion): r.overall
                for r in _patient_rows(session, m.ResponseTimepoint, patient.id)
            }
            for row in rows:
                before = recorded.get((row.date, row.criterion))
                if before == row.overall:
                    continue
                if before is not None:
                    raise StoreError(
                        f"the {row.criterion} response of {row.date} is already recorded as "
                        f"{before}, not {row.overall}; nothing was stored"
                    )
                recorded[(row.date, row.criterion)] = row.overall
                row.patient_id = patient.id
                self._insert(
                    session,
                    row,
                    actor=actor,
                    record_type="response",
                    patient_id=patient.id,
                    details={
                        "criterion": row.criterion,
                        "overall": row.overall,
                        "date": row.date.isoformat(),
                    },
                )
                written.append(row)
        return [_response_out(r) for r in written]

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
