"""Server-side sessions, disabled users and the log-in failures that throttling counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

- ``users.disabled_at``: a disabled user cannot log in, and its sessions and
  tokens end;
- ``web_sessions``: one row per browser log-in (the cookie carries a signed,
  random session id; only its SHA-256 is stored), ended by log-out, password
  change, role change, disabling the user or expiry;
- ``login_failures``: failed log-ins by user name and client address, so that
  every worker process throttles the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", _stamp(), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name=op.f("fk_web_sessions_user_id_users")),
            nullable=False,
        ),
        sa.Column("session_sha256", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("expires_at", _stamp(), nullable=False),
        sa.Column("revoked_at", _stamp(), nullable=True),
        sa.Column("created_at", _stamp(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("session_sha256", name=op.f("uq_web_sessions_session_sha256")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", _stamp(), nullable=False),
    )
    op.create_index(op.f("ix_login_failures_username"), "login_failures", ["username"])
    op.create_index(op.f("ix_login_failures_address"), "login_failures", ["address"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_address"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_username"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
