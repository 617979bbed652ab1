"""The audit log's hash chain: one append-only link per audit entry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Existing entries are linked in id order when the revision is applied; the
table is append-only like the audit log (triggers refuse UPDATE, DELETE and,
on PostgreSQL, TRUNCATE).  See :mod:`netlm.store.auditchain`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from netlm.store.auditchain import GENESIS, entry_text, link

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "audit_id",
            sa.Integer(),
            sa.ForeignKey("audit_log.id", name=op.f("fk_audit_chain_audit_id_audit_log")),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("audit_id", name=op.f("uq_audit_chain_audit_id")),
    )
    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("record_type", sa.String()),
        sa.column("record_id", sa.Integer()),
        sa.column("patient_id", sa.Integer()),
        sa.column("details", sa.JSON()),
    )
    previous = GENESIS
    for row in bind.execute(sa.select(audit).order_by(audit.c.id)):
        at = row.at
        if isinstance(at, str):  # SQLite without the model's type decorator
            import datetime as dt

            at = dt.datetime.fromisoformat(at)
        previous = link(
            previous,
            entry_text(
                entry_id=row.id,
                at=at,
                actor=row.actor,
                action=row.action,
                record_type=row.record_type,
                record_id=row.record_id,
                patient_id=row.patient_id,
                details=row.details,
            ),
        )
        bind.execute(sa.insert(chain).values(audit_id=row.id, sha256=previous))
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain "
            "FOR EACH ROW EXECUTE FUNCTION netlm_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain "
            "FOR EACH STATEMENT EXECUTE FUNCTION netlm_refuse_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_chain_no_{event.lower()} BEFORE {event} ON audit_chain "
                f"BEGIN SELECT RAISE(ABORT, 'netlm: {event} on audit_chain refused: "
                "the table is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("audit_chain")
