"""Recalls, application: what the recall mixins share: who may do what, retry and batch sizes, the log.

``RECALL_REACTIONS``: a customer's erasure (intake's ``CustomerErased``) destroys the keys of their recall
contacts; ``recall_on_triaged`` is called by ``open_resolution`` for every triaged complaint.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

log = structlog.get_logger()

RECALL_REACTIONS: dict[str, str] = {"CustomerErased": "erase_recall_contacts"}
CONFLICT_RETRIES = 5
# On PostgreSQL a save's events are kept under about this many bytes (psycopg's pipeline mode hangs on saves of
# about 450 kB, see services/intake/importer.py); a notice's event is stored in about NOTICE_BYTES.
PG_BATCH_BYTES = 200_000
NOTICE_BYTES = 1_300
_ROWS_PER_INSERT = 100  # 9 parameters a row: under SQLite's oldest limit of 999 per statement
CONTACT_FIELD = "recall_contact"
Progress = Callable[[int, int], None]

