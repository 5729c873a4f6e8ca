"""Alembic migrations of the hotich schema, run in code by pipeline.storage.db (no alembic.ini)."""
