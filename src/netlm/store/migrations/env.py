"""Alembic environment of the netlm registry.

:func:`netlm.store.db.upgrade` passes an open connection (inside a transaction)
in ``config.attributes["connection"]``.  Without one (a developer running the
``alembic`` command against a config file) an engine is made from the
config's ``sqlalchemy.url``, else netlm's default database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from alembic.config import Config

from netlm.store.db import make_engine
from netlm.store.tables import Base

target_metadata = Base.metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline(config: Config) -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or "sqlite://",
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online(config: Config) -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, sa.Connection):
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.connect() as own:
            _run(own)
            own.commit()
    finally:
        engine.dispose()


# Alembic sets ``context.config`` while it runs this script; other importers
# (pytest's doctest collection) find nothing to do.
if hasattr(context, "config"):
    if context.is_offline_mode():
        run_offline(context.config)
    else:
        run_online(context.config)
