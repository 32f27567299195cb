"""A throw-away store for a benchmark run: a temporary data directory, and on PostgreSQL a fresh schema dropped after."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from shared.settings import Settings


@contextlib.contextmanager
def scratch_settings(name: str, postgres_url: str | None) -> Iterator[Settings]:
    """Settings on a temporary SQLite directory, or on a new schema of ``postgres_url``; removed on exit."""
    with tempfile.TemporaryDirectory(prefix=f"ombud-bench-{name}-") as tmp:
        schema = f"bench_{uuid.uuid4().hex[:8]}" if postgres_url else None
        if postgres_url and schema:
            import psycopg

            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
        try:
            yield Settings(mode="embedded", data_dir=Path(tmp), postgres_url=postgres_url, postgres_schema=schema)
        finally:
            if postgres_url and schema:
                import psycopg

                with psycopg.connect(postgres_url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
