"""Recalls, application: what the recall mixins share: who may do what, retry and batch sizes, the log.

``RECALL_REACTIONS`` is empty: recalls react to no event of their own; ``recall_on_triaged`` is called by
``open_resolution`` for every triaged complaint.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from shared.contracts import Actor
from shared.errors import Forbidden
from shared.vocabulary import Role

log = structlog.get_logger()

RECALL_REACTIONS: dict[str, str] = {}
# Who may plan, launch and close campaigns and import their customers.
CAMPAIGN_ROLES = frozenset({Role.QUALITY_ANALYST, Role.HQ, Role.ADMIN})
# Who may record the progress of a notice (the staff who call customers and do the remedies).
NOTICE_ROLES = frozenset(
    {Role.FRONTLINE, Role.CS_MANAGER, Role.REGIONAL_MANAGER, Role.HQ, Role.QUALITY_ANALYST, Role.TECHNICIAN, Role.ADMIN}
)
CONFLICT_RETRIES = 5
# On PostgreSQL a save's events are kept under about this many bytes (psycopg's pipeline mode hangs on saves of
# about 450 kB, see services/intake/importer.py); a notice's event is stored in about NOTICE_BYTES.
PG_BATCH_BYTES = 200_000
NOTICE_BYTES = 1_300
_ROWS_PER_INSERT = 100  # 9 parameters a row: under SQLite's oldest limit of 999 per statement
CONTACT_FIELD = "recall_contact"
Progress = Callable[[int, int], None]


def _may(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"role {actor.role.value!r} may not {what} (allowed: {', '.join(sorted(roles))})")
