"""FHIR R4 for the record: a patient's case, board assessment and plans as an mCODE Bundle.

An adapter around the core: :func:`case_bundle` builds a validated Bundle
(``fhir.resources`` R4B models); :func:`import_bundle` fills a case's
laboratory values and observations from a Bundle.  A registry patient's Bundle
is built from the store's export by :func:`netlm.workflows.fhir.registry_bundle`.  The codes
and profile URLs, each with its display and source, are in
:mod:`netlm.fhir.codes`.
"""

from netlm.fhir.export import (
    FhirExportError,
    PlannedSession,
    RecordedTreatment,
    bundle_json,
    case_bundle,
)
from netlm.fhir.importer import FhirImportError, import_bundle, load_bundle

__all__ = [
    "FhirExportError",
    "FhirImportError",
    "PlannedSession",
    "RecordedTreatment",
    "bundle_json",
    "case_bundle",
    "import_bundle",
    "load_bundle",
]
