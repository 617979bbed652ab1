"""Alembic migrations of the netlm registry, run in-process by :func:`netlm.store.db.upgrade`."""
