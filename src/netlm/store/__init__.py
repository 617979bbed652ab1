"""The netlm registry: patients, versioned cases, results with provenance, audit log.

SQLAlchemy 2 models with Alembic migrations; an embedded SQLite file by
default (see :func:`netlm.store.db.default_database_url`), PostgreSQL for a
centre.  Start with :class:`Store`.
"""

from netlm.store.db import default_database_url, make_engine, upgrade
from netlm.store.repository import (
    EXPORT_SCHEMA,
    ApiTokenOut,
    AssessmentOut,
    AuditOut,
    CaseVersionOut,
    ImageOut,
    LabOut,
    LoginThrottle,
    PatientOut,
    PlanOut,
    PlanResultOut,
    PlanStatus,
    ResponseOut,
    Role,
    Store,
    ToxicityOut,
    TreatmentOut,
    UserOut,
)

__all__ = [
    "EXPORT_SCHEMA",
    "ApiTokenOut",
    "AssessmentOut",
    "AuditOut",
    "CaseVersionOut",
    "ImageOut",
    "LabOut",
    "LoginThrottle",
    "PatientOut",
    "PlanOut",
    "PlanResultOut",
    "PlanStatus",
    "ResponseOut",
    "Role",
    "Store",
    "ToxicityOut",
    "TreatmentOut",
    "UserOut",
    "default_database_url",
    "make_engine",
    "upgrade",
]
