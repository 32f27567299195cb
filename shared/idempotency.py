"""Client idempotency keys: scoped to the caller and bound to the body they first came with.

A key a client sends (``Idempotency-Key``) is stored as ``client:<caller>:<key>``, so one caller can
neither replay nor pre-claim another's key, and no client key can take the shape of the keys the
system makes itself (``import:<row>`` for CSV imports, ``email:<message id>`` for mail): those stay
in namespaces no request can reach. With the scoped key the service keeps a fingerprint of the body
(an HMAC, not a plain hash: a body holds personal data, which a keyless hash would let anyone
confirm by guessing); the same key with another body is refused (422 naming ``Idempotency-Key``)
instead of silently answering with what the first body made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from shared.errors import InvalidValue
from shared.sidetables import SideTables

HEADER = "Idempotency-Key"
ANONYMOUS = "anonymous"


def client_key(caller: str | None, key: str | None) -> str | None:
    """The key as the service stores it: in the namespace of ``caller`` (an actor id; ``anonymous`` if none)."""
    if key is None:
        return None
    return f"client:{caller or ANONYMOUS}:{key}"


def fingerprint(body: Any, secret: bytes) -> str:
    """A keyed digest of a request body (anything JSON can hold; keys sorted, so field order does not count)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


class Fingerprints:
    """The body fingerprint of each idempotency key a service used, in a side table of its store."""

    def __init__(self, side: SideTables, secret: bytes) -> None:
        self.side = side
        self.secret = secret
        self.table = side.table("idempotency")
        side.script(
            [(f"CREATE TABLE IF NOT EXISTS {self.table} (key_hash TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)", ())]
        )

    def writes_for(self, key: str | None, body: Any) -> list[tuple[str, Sequence[str]]]:
        """The insert recording ``key`` with ``body``'s fingerprint, to run in the transaction that acts on it."""
        if key is None:
            return []
        sql = f"INSERT INTO {self.table} (key_hash, fingerprint) VALUES (?, ?) ON CONFLICT (key_hash) DO NOTHING"
        return [(sql, (self._key_hash(key), fingerprint(body, self.secret)))]

    def check(self, key: str | None, body: Any) -> None:
        """Refuse a repeat of ``key`` with a body other than the first (``InvalidValue`` naming the header).

        A key recorded before fingerprints were kept has none, and passes.
        """
        if key is None:
            return
        rows = self.side.query(f"SELECT fingerprint FROM {self.table} WHERE key_hash = ?", (self._key_hash(key),))
        if rows and not hmac.compare_digest(rows[0]["fingerprint"], fingerprint(body, self.secret)):
            raise InvalidValue(HEADER, "was already used with another request body; use a new key for a new request")

    def _key_hash(self, key: str) -> str:
        # The key itself may be anything a client chose (an e-mail address, say): keep only its digest.
        return hmac.new(self.secret, key.encode("utf-8"), hashlib.sha256).hexdigest()
