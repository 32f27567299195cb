"""Customer links: how a customer answers a proposal or a survey without a login.

A link carries a random token (192 bits from ``secrets``) minted by intake when it delivers the message that asks
for one (``mint``); intake records and publishes only its SHA-256 (``CustomerLinkIssued``: a hash of that much
randomness reveals nothing and cannot be turned back into the token). The service that takes the answer keeps
the hashes of its own purpose in a ``customer_links`` side table (``CustomerLinks``) and accepts a token only for
that case, purpose and subject (the proposal, the follow-up round), before it expires and while unused: a final
answer spends every link to the same subject in the transaction that records the answer.

The token itself is never stored, recorded in an event, published or logged: it exists only in memory while the
message is rendered and sent, and in the customer's message. Logs and events name a link by ``token_id``, the
first 16 hex digits of the hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.contracts import CustomerLinkIssued
from shared.sidetables import SideTables, micros

Write = tuple[str, tuple[Any, ...]]
TOKEN_BYTES = 24  # 192 bits; ``token_urlsafe`` makes 32 characters of it
TOKEN_ID_LENGTH = 16
# The values of a prepared message (``MessagePrepared.params``) that ask intake for a link: purpose and subject.
LINK_PURPOSE, LINK_SUBJECT = "link_purpose", "link_subject"


class Purpose(StrEnum):
    """What a link answers: one purpose per token, checked by the service that owns the answer."""

    PROPOSAL_ANSWER = "proposal_answer"  # subject: the proposal number (resolution)
    SURVEY = "survey"  # subject: the follow-up round (feedback)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) a token is known by everywhere but in the customer's message."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    """A link just minted: the token (memory only) and what may be recorded about it."""

    token: str
    token_hash: str
    token_id: str
    expires_at: datetime


def mint(now: datetime, valid_for: timedelta) -> IssuedLink:
    """A new random token, valid from ``now`` for ``valid_for``."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    hashed = token_hash(token)
    return IssuedLink(token=token, token_hash=hashed, token_id=hashed[:TOKEN_ID_LENGTH], expires_at=now + valid_for)


class CustomerLinks:
    """``customer_links``: the hashes of one purpose's links, by hash, with case, subject, expiry and use.

    Rows come from intake's ``CustomerLinkIssued`` in the transaction that tracks that message (a redelivery
    writes nothing new). A token is looked up by its hash, an indexed equality on a value the guesser does not
    control, so the time a refusal takes tells nothing about the stored tokens; every refusal looks the same.
    """

    def __init__(self, side: SideTables, purpose: Purpose) -> None:
        self.side = side
        self.purpose = purpose
        self.table = side.table("customer_links")
        side.script(
            [
                (
                    f"CREATE TABLE IF NOT EXISTS {self.table} (token_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, "
                    "case_id TEXT NOT NULL, purpose TEXT NOT NULL, subject TEXT NOT NULL, "
                    "expires_at BIGINT NOT NULL, used_at BIGINT)",
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS {side.prefix}_customer_links_subject "
                    f"ON {self.table} (case_id, purpose, subject)",
                    (),
                ),
            ]
        )

    def writes_for_issued(self, case_id: UUID, issued: CustomerLinkIssued) -> list[Write]:
        """The row of a link intake issued for the case, if it is of this table's purpose (nothing otherwise)."""
        if issued.purpose != self.purpose.value:
            return []
        return [
            (
                f"INSERT INTO {self.table} (token_hash, token_id, case_id, purpose, subject, expires_at, used_at) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (token_hash) DO NOTHING",
                (issued.token_hash, issued.token_id, str(case_id), issued.purpose, issued.subject_id,
                 micros(issued.expires_at)),
            )  # fmt: skip
        ]

    def check(self, case_id: UUID, subject: str, token: str, now: datetime) -> str | None:
        """The token's id if it opens ``subject`` of the case now (issued for it, unexpired, unused); else None."""
        if not token or len(token) > 256 or not token.isascii():  # no minted token is otherwise (nor a lone surrogate)
            return None
        hashed = token_hash(token)
        rows = self.side.query(
            f"SELECT token_hash, token_id FROM {self.table} WHERE token_hash = ? AND case_id = ? AND purpose = ? "
            "AND subject = ? AND expires_at > ? AND used_at IS NULL",
            (hashed, str(case_id), self.purpose.value, subject, micros(now)),
        )
        if not rows or not secrets.compare_digest(rows[0]["token_hash"], hashed):
            return None
        return str(rows[0]["token_id"])

    def writes_for_spent(self, case_id: UUID, subject: str, now: datetime) -> list[Write]:
        """Spend every link to ``subject`` of the case (its answer is final): to commit with the answer's events."""
        return [
            (
                f"UPDATE {self.table} SET used_at = ? WHERE case_id = ? AND purpose = ? AND subject = ? "
                "AND used_at IS NULL",
                (micros(now), str(case_id), self.purpose.value, subject),
            )
        ]
