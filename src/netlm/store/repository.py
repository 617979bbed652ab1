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

The store is assembled from one mixin per concern, each deriving from
:class:`~netlm.store.base.StoreBase` (engine, transactions, clock, audit
chain): :mod:`~netlm.store.accounts` (users, credentials, log-in throttling),
:mod:`~netlm.store.patients` (patients and case versions),
:mod:`~netlm.store.assessments`, :mod:`~netlm.store.plans`,
:mod:`~netlm.store.records` (images, treatments, labs, responses, toxicity),
:mod:`~netlm.store.audit` and :mod:`~netlm.store.exchange` (export).  The
records it returns and its vocabularies are in :mod:`~netlm.store.models`;
this module re-exports them.
"""

from __future__ import annotations

from netlm.store.accounts import AccountsMixin
from netlm.store.assessments import AssessmentsMixin
from netlm.store.audit import AuditMixin
from netlm.store.checks import MAX_DOCUMENT_DEPTH
from netlm.store.digests import canonical_json, case_digest, document_digest
from netlm.store.exchange import ExchangeMixin
from netlm.store.models import (
    CTCAE_VERSIONS,
    DEFAULT_SESSION_TTL,
    DEFAULT_TOKEN_TTL,
    EXPORT_SCHEMA,
    IMAGE_KINDS,
    LAB_ANALYTES,
    RESPONSE_CATEGORIES,
    RESPONSE_CRITERIA,
    TREATMENT_MODALITIES,
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
    ToxicityOut,
    TreatmentOut,
    UserOut,
)
from netlm.store.patients import PatientsMixin
from netlm.store.plans import PlansMixin
from netlm.store.records import RecordsMixin, ResponseEntry

__all__ = [
    "CTCAE_VERSIONS",
    "DEFAULT_SESSION_TTL",
    "DEFAULT_TOKEN_TTL",
    "EXPORT_SCHEMA",
    "IMAGE_KINDS",
    "LAB_ANALYTES",
    "MAX_DOCUMENT_DEPTH",
    "RESPONSE_CATEGORIES",
    "RESPONSE_CRITERIA",
    "TREATMENT_MODALITIES",
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
    "ResponseEntry",
    "ResponseOut",
    "Role",
    "Store",
    "ToxicityOut",
    "TreatmentOut",
    "UserOut",
    "canonical_json",
    "case_digest",
    "document_digest",
]


class Store(
    AccountsMixin,
    PatientsMixin,
    AssessmentsMixin,
    PlansMixin,
    RecordsMixin,
    AuditMixin,
    ExchangeMixin,
):
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
    create
        Create a missing SQLite file (by default only when ``upgrade``); with
        ``False`` it is refused, naming the file and ``netlm db upgrade``, and
        nothing is created (:func:`netlm.store.db.missing_registry_problem`).
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
        If the database cannot be reached, a SQLite file is missing and not to
        be created, or its schema is out of date and ``upgrade`` is ``False``.

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
