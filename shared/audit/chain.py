"""The hash chains, as pure functions over stored bytes (the verifier and offline bundles share them).

Every stored event's state is the transcoder's JSON object with two keys appended::

    {...event state...,"prev_hash":"<64 hex>","hash":"<64 hex>"}

``hash`` = SHA-256 over the event's canonical content: a domain tag, topic, originator id, version,
``prev_hash`` and the state as stored without the two keys (timestamp and envelope included).
``prev_hash`` is the previous event's ``hash`` in the same stream (``GENESIS`` for version 1). The
two keys sit at a fixed distance from the end, so a verifier slices them out without parsing JSON,
and the stored state stays valid JSON that any tool can read.

The log chain runs over a service's notification log in order: each link hashes the previous link,
the notification id, the event's position (originator id, version) and its ``hash``; a removed or
inserted whole stream breaks it even where every stream looks intact.
"""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64
_PREV = b',"prev_hash":"'
_HASH = b'","hash":"'
_END = b'"}'
SUFFIX_LEN = len(_PREV) + 64 + len(_HASH) + 64 + len(_END)
_EVENT_TAG = b"ombud.event.v1\n"
_LOG_TAG = b"ombud.log.v1\n"


class Malformed(ValueError):
    """Stored state without a well-formed chain suffix."""


def event_hash(topic: str, originator_id: str, version: int, prev_hash: str, body: bytes) -> str:
    """The hash of one event over its canonical content."""
    head = f"{topic}\n{originator_id}\n{version}\n{prev_hash}\n".encode()
    return hashlib.sha256(_EVENT_TAG + head + body).hexdigest()


def seal(body: bytes, prev_hash: str, digest: str) -> bytes:
    """The stored state: ``body`` (a JSON object with at least one key) with the two chain keys appended."""
    if len(body) < 3 or body[-1:] != b"}":
        raise Malformed("event state must be a non-empty JSON object")
    return body[:-1] + _PREV + prev_hash.encode() + _HASH + digest.encode() + _END


_P0 = len(_PREV)
_P1 = _P0 + 64
_H0 = _P1 + len(_HASH)
_H1 = _H0 + 64


def split(state: bytes) -> tuple[bytes, str, str]:
    """``(body, prev_hash, hash)`` of a stored state; ``Malformed`` if the suffix is not there."""
    suffix = state[-SUFFIX_LEN:]
    if len(state) <= SUFFIX_LEN or suffix[:_P0] != _PREV or suffix[_P1:_H0] != _HASH or suffix[_H1:] != _END:
        raise Malformed("no chain suffix")
    return state[:-SUFFIX_LEN] + b"}", suffix[_P0:_P1].decode("latin-1"), suffix[_H0:_H1].decode("latin-1")


def log_link(previous: str, notification_id: int, originator_id: str, version: int, digest: str) -> str:
    """The next link of a service's log chain."""
    data = f"{previous}\n{notification_id}\n{originator_id}\n{version}\n{digest}".encode()
    return hashlib.sha256(_LOG_TAG + data).hexdigest()
