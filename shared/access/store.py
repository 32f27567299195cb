"""The identity store: staff passwords (argon2id), failed sign-ins, and the access log an auditor reads.

One small store beside the services' own ("identity": ``<data_dir>/identity.db`` or tables prefixed
``identity_`` on PostgreSQL), so every process of an install shares the accounts, the sign-in throttle and
the log.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from shared.clock import Clock
from shared.settings import Settings
from shared.sidetables import SideTables, instant, micros

# A hash of no password: verifying against it costs what verifying a real one does, so an unknown account
# answers as slowly as a known one (no user enumeration by timing).
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("no account has this password")


class IdentityStore:
    """Accounts, sign-in failures and access events, on the install's identity store."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        env = Environment("identity", settings.persistence_env("identity", connections=2))
        self.factory = InfrastructureFactory.construct(env)
        self.side = SideTables.on(self.factory.datastore, "identity")  # type: ignore[attr-defined]
        self.clock = clock
        self.accounts = self.side.table("accounts")
        self.failures = self.side.table("signin_failures")
        self.log = self.side.table("access_log")
        self.side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.accounts} (staff_id TEXT PRIMARY KEY, "
                    "password_hash TEXT NOT NULL, set_at BIGINT NOT NULL)",
                    (),
                ),
                (f"CREATE TABLE IF NOT EXISTS {self.failures} (subject TEXT NOT NULL, at BIGINT NOT NULL)", ()),
                (
                    f"CREATE INDEX IF NOT EXISTS {self.side.bare('failures_by_subject')} "
                    f"ON {self.failures} (subject, at)",
                    (),
                ),
                (
                    f"CREATE TABLE IF NOT EXISTS {self.log} (id INTEGER PRIMARY KEY AUTOINCREMENT, at BIGINT NOT NULL, "
                    "kind TEXT NOT NULL, subject TEXT, role TEXT, operation TEXT, detail TEXT NOT NULL)",
                    (),
                ),
                (f"CREATE INDEX IF NOT EXISTS {self.side.bare('log_by_at')} ON {self.log} (at)", ()),
            ]
        )

    # --- passwords --------------------------------------------------------------------------------------------

    def set_password(self, staff_id: str, password: str) -> None:
        """Store an argon2id hash of ``password`` for ``staff_id`` (replacing any earlier one)."""
        digest = _HASHER.hash(password)
        now = micros(self.clock.now())
        with self.side.transaction() as run:
            run(f"DELETE FROM {self.accounts} WHERE staff_id = ?", (staff_id,))
            run(
                f"INSERT INTO {self.accounts} (staff_id, password_hash, set_at) VALUES (?, ?, ?)",
                (staff_id, digest, now),
            )

    def check_password(self, staff_id: str, password: str) -> bool:
        """Whether ``password`` is ``staff_id``'s; as slow for an unknown account as for a known one."""
        rows = self.side.query(f"SELECT password_hash FROM {self.accounts} WHERE staff_id = ?", (staff_id,))
        digest = rows[0]["password_hash"] if rows else _DUMMY
        try:
            return _HASHER.verify(digest, password) and bool(rows)
        except (VerificationError, InvalidHashError):
            return False

    def has_password(self, staff_id: str) -> bool:
        return bool(self.side.query(f"SELECT 1 AS yes FROM {self.accounts} WHERE staff_id = ?", (staff_id,)))

    # --- the sign-in throttle ---------------------------------------------------------------------------------

    def recent_failures(self, subject: str, window: timedelta) -> int:
        """Failed sign-ins of ``subject`` (``account:ID`` or ``client:ADDRESS``) within ``window``."""
        since = micros(self.clock.now() - window)
        rows = self.side.query(
            f"SELECT COUNT(*) AS n FROM {self.failures} WHERE subject = ? AND at > ?", (subject, since)
        )
        return int(rows[0]["n"])

    def record_failure(self, *subjects: str) -> None:
        now = micros(self.clock.now())
        with self.side.transaction() as run:
            for subject in subjects:
                run(f"INSERT INTO {self.failures} (subject, at) VALUES (?, ?)", (subject, now))

    def clear_failures(self, subject: str) -> None:
        self.side.execute(f"DELETE FROM {self.failures} WHERE subject = ?", (subject,))

    # --- the access log ---------------------------------------------------------------------------------------

    def record(self, kind: str, subject: str | None, role: str | None, operation: str | None, **detail: Any) -> None:
        """One access event (``signed_in``, ``sign_in_refused``, ``token_issued``, ``forbidden``, ``hidden``)."""
        self.side.execute(
            f"INSERT INTO {self.log} (at, kind, subject, role, operation, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (micros(self.clock.now()), kind, subject, role, operation, json.dumps(detail, ensure_ascii=False)),
        )

    def entries(self, since: datetime | None, kind: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Access events, newest first."""
        sql, params = f"SELECT * FROM {self.log} WHERE at >= ?", [micros(since) if since else 0]
        if kind:
            sql, params = sql + " AND kind = ?", [*params, kind]
        rows = self.side.query(sql + " ORDER BY at DESC, id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
        return [
            {
                "at": instant(row["at"]),
                "kind": row["kind"],
                "subject": row["subject"],
                "role": row["role"],
                "operation": row["operation"],
                "detail": json.loads(row["detail"]),
            }
            for row in rows
        ]

    def close(self) -> None:
        self.factory.close()
