"""The look-alike form of each patient and user identifier, indexed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

``patients.external_id_skeleton`` and ``users.username_skeleton`` hold
:func:`netlm.store.identifiers.skeleton_key` of the identifier (its UTS #39
skeleton), with an index each, so that a new identifier is compared only with
the rows of the same key.  The columns are filled for existing rows when the
revision is applied.  The index is not unique: a registry written before the
look-alike check may hold look-alike pairs already, and they stay readable.

SQLite cannot add a NOT NULL column without a default, and cannot rebuild the
``patients`` table while other tables refer to it, so there the columns are
added with the default ``''`` (netlm always writes the key); PostgreSQL's
default is dropped once the rows are filled.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from netlm.store.identifiers import SKELETON_KEY_CHARS, skeleton_key

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, identifier column, key column) of each identifier the registry holds.
IDENTIFIERS = (
    ("patients", "external_id", "external_id_skeleton"),
    ("users", "username", "username_skeleton"),
)


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    for table_name, column, key in IDENTIFIERS:
        op.add_column(
            table_name,
            sa.Column(
                key, sa.String(SKELETON_KEY_CHARS), nullable=False, server_default=sa.text("''")
            ),
        )
        table = sa.table(table_name, sa.column("id", sa.Integer()), sa.column(column, sa.String()))
        keyed = sa.table(table_name, sa.column("id", sa.Integer()), sa.column(key, sa.String()))
        rows = bind.execute(sa.select(table.c.id, table.c[column]).order_by(table.c.id)).all()
        for row_id, identifier in rows:
            bind.execute(
                sa.update(keyed).where(keyed.c.id == row_id).values({key: skeleton_key(identifier)})
            )
        if postgresql:
            op.alter_column(table_name, key, server_default=None)
        op.create_index(op.f(f"ix_{table_name}_{key}"), table_name, [key])


def downgrade() -> None:
    for table_name, _column, key in IDENTIFIERS:
        op.drop_index(op.f(f"ix_{table_name}_{key}"), table_name=table_name)
        op.execute(f'ALTER TABLE "{table_name}" DROP COLUMN "{key}"')  # SQLite 3.35 and later
