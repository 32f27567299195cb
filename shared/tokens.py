"""Per-case customer tokens: the customer answers a proposal or a survey through a link, without a login.

A token is an HMAC of the case id under a secret key, so nothing secret is stored and any service holding the
key (resolution to check an answer, feedback to put the link in a message) derives the same token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID


def case_token(key: bytes, case_id: UUID) -> str:
    """The case's token: 26 characters of base32 (130 bits)."""
    digest = hmac.new(key, b"case-token:" + case_id.bytes, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:26].lower()


def token_matches(key: bytes, case_id: UUID, token: str) -> bool:
    """Whether ``token`` is the case's token (compared in constant time)."""
    return hmac.compare_digest(case_token(key, case_id), token.strip().lower())
