"""The registry's first schema: users, patients, versioned cases, results, record, audit.

Revision ID: 0001
Revises:
Create Date: 2026-01-15

Tables are written out here (not taken from the models) so that this revision
stays what it was when later models change.  Triggers make the audit log and
the stored results append-only: UPDATE and DELETE (and TRUNCATE on
PostgreSQL) raise.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = (
    "audit_log",
    "case_versions",
    "assessments",
    "sirt_plans",
    "plan_results",
    "plan_approvals",
)


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _created() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    ]


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _fk(table: str, column: str, target: str, *, nullable: bool = False) -> sa.Column[int]:
    referred = target.split(".")[0]
    return sa.Column(
        column,
        sa.Integer(),
        sa.ForeignKey(target, name=op.f(f"fk_{table}_{column}_{referred}")),
        nullable=nullable,
    )


def _patient_fk(table: str) -> sa.Column[int]:
    return _fk(table, "patient_id", "patients.id")


def _json(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        *_created(),
        sa.CheckConstraint(
            "role IN ('viewer', 'clinician', 'physicist', 'admin')", name=op.f("ck_users_role")
        ),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        _id(),
        _fk("api_tokens", "user_id", "users.id"),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("expires_at", _stamp(), nullable=True),
        sa.Column("revoked_at", _stamp(), nullable=True),
        *_created(),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "patients",
        _id(),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("deleted_at", _stamp(), nullable=True),
        sa.Column("deleted_by", sa.String(200), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint("external_id", name=op.f("uq_patients_external_id")),
    )
    op.create_table(
        "case_versions",
        _id(),
        _patient_fk("case_versions"),
        sa.Column("version", sa.Integer(), nullable=False),
        _json("document"),
        sa.Column("case_digest", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        *_created(),
        sa.UniqueConstraint(
            "patient_id", "version", name=op.f("uq_case_versions_patient_id_version")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_case_versions_version_positive")),
    )
    op.create_index(op.f("ix_case_versions_patient_id"), "case_versions", ["patient_id"])
    op.create_table(
        "assessments",
        _id(),
        _patient_fk("assessments"),
        _fk("assessments", "case_version_id", "case_versions.id"),
        _json("result"),
        sa.Column("result_digest", sa.String(64), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("netlm_version", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(128), nullable=False),
        sa.Column("profile_version", sa.String(64), nullable=False),
        sa.Column("profile_digest", sa.String(64), nullable=False),
        _json("profile_document"),
        *_created(),
    )
    op.create_index(op.f("ix_assessments_patient_id"), "assessments", ["patient_id"])
    op.create_index(op.f("ix_assessments_case_version_id"), "assessments", ["case_version_id"])
    op.create_table(
        "sirt_plans",
        _id(),
        _patient_fk("sirt_plans"),
        _json("document"),
        sa.Column("plan_digest", sa.String(64), nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        *_created(),
    )
    op.create_index(op.f("ix_sirt_plans_patient_id"), "sirt_plans", ["patient_id"])
    op.create_table(
        "plan_results",
        _id(),
        _fk("plan_results", "plan_id", "sirt_plans.id"),
        _fk("plan_results", "case_version_id", "case_versions.id", nullable=True),
        _json("result"),
        sa.Column("result_digest", sa.String(64), nullable=False),
        _json("constants"),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("netlm_version", sa.String(64), nullable=False),
        _json("override", nullable=True),
        *_created(),
    )
    op.create_index(op.f("ix_plan_results_plan_id"), "plan_results", ["plan_id"])
    op.create_table(
        "plan_approvals",
        _id(),
        _fk("plan_approvals", "plan_id", "sirt_plans.id"),
        _fk("plan_approvals", "plan_result_id", "plan_results.id"),
        *_created(),
        sa.UniqueConstraint("plan_id", name=op.f("uq_plan_approvals_plan_id")),
    )
    op.create_table(
        "images",
        _id(),
        _patient_fk("images"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("series_uid", sa.String(64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        *_created(),
        sa.CheckConstraint(
            "path IS NOT NULL OR series_uid IS NOT NULL", name=op.f("ck_images_has_reference")
        ),
    )
    op.create_index(op.f("ix_images_patient_id"), "images", ["patient_id"])
    op.create_table(
        "treatments",
        _id(),
        _patient_fk("treatments"),
        sa.Column("modality", sa.String(64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        _json("details"),
        *_created(),
    )
    op.create_index(op.f("ix_treatments_patient_id"), "treatments", ["patient_id"])
    op.create_table(
        "lab_results",
        _id(),
        _patient_fk("lab_results"),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("analyte", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("uln", sa.Float(), nullable=True),
        sa.Column("lln", sa.Float(), nullable=True),
        *_created(),
    )
    op.create_index(
        op.f("ix_lab_results_patient_id_analyte_date"),
        "lab_results",
        ["patient_id", "analyte", "date"],
    )
    op.create_table(
        "response_timepoints",
        _id(),
        _patient_fk("response_timepoints"),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("criterion", sa.String(32), nullable=False),
        sa.Column("overall", sa.String(32), nullable=False),
        _json("details"),
        *_created(),
    )
    op.create_index(
        op.f("ix_response_timepoints_patient_id"), "response_timepoints", ["patient_id"]
    )
    op.create_table(
        "toxicity_events",
        _id(),
        _patient_fk("toxicity_events"),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("term", sa.String(200), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("ctcae_version", sa.String(8), nullable=False),
        *_created(),
        sa.CheckConstraint("grade BETWEEN 0 AND 5", name=op.f("ck_toxicity_events_grade_range")),
    )
    op.create_index(op.f("ix_toxicity_events_patient_id"), "toxicity_events", ["patient_id"])
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", _stamp(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        _fk("audit_log", "patient_id", "patients.id", nullable=True),
        _json("details"),
    )
    op.create_index(
        op.f("ix_audit_log_record_type_record_id"), "audit_log", ["record_type", "record_id"]
    )
    op.create_index(op.f("ix_audit_log_patient_id"), "audit_log", ["patient_id"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION netlm_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'netlm: % on % refused: the table is append-only',
                    TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION netlm_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION netlm_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'netlm: {event} on {table} refused: "
                    "the table is append-only'); END"
                )
    else:  # pragma: no cover - db.parse_database_url admits only these two
        raise NotImplementedError(f"netlm does not support the {dialect} database")


def downgrade() -> None:
    """Refused: downgrading the first revision would drop every clinical record."""
    raise NotImplementedError(
        "netlm does not downgrade its registry below 0001 (that would delete every record); "
        "restore a backup instead"
    )
