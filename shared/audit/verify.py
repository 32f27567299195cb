"""Recompute every chain and name the first event that was altered, removed, inserted or reordered.

Two checks over one service's store, both on the stored bytes:

* **streams**: per aggregate, versions run 1..n without gaps, each event's hash recomputes from its
  content, and each event names its predecessor's hash;
* **log**: the sealed log chain (``shared.audit.seal``) recomputes link by link, every sealed link
  still has its event with the same hash, and every event is sealed. An optional signed checkpoint
  pins the chain's hash at its head.

The pure functions (``check_stream``) also verify exported bundles offline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from shared.audit import chain
from shared.audit.seal import Link, LogChain, stored_hash
from shared.sidetables import SideTables

ALTERED, REMOVED, INSERTED, REORDERED = "altered", "removed", "inserted", "reordered"


class Row(NamedTuple):
    """One stored event, its chain suffix split off once (``prev_hash`` None: the suffix is gone)."""

    notification_id: int
    originator_id: str
    version: int
    topic: str
    body: bytes
    prev_hash: str | None
    digest: str

    @classmethod
    def stored(cls, notification_id: int, originator_id: str, version: int, topic: str, state: bytes) -> Row:
        """A row from the stored bytes."""
        try:
            body, prev_hash, digest = chain.split(state)
        except chain.Malformed:
            return cls(notification_id, originator_id, version, topic, state, None, stored_hash(state))
        return cls(notification_id, originator_id, version, topic, body, prev_hash, digest)

    @property
    def state(self) -> bytes:
        """The bytes as stored."""
        return self.body if self.prev_hash is None else chain.seal(self.body, self.prev_hash, self.digest)


@dataclass(frozen=True)
class Finding:
    """What is wrong, and where."""

    service: str
    kind: str
    originator_id: str | None
    version: int | None
    notification_id: int | None
    detail: str

    def where(self) -> str:
        parts = [self.service]
        if self.originator_id:
            parts.append(f"stream {self.originator_id} v{self.version}")
        if self.notification_id is not None:
            parts.append(f"notification {self.notification_id}")
        return ", ".join(parts)


@dataclass
class Report:
    """The outcome of verifying one service's store (or one case's part of it)."""

    service: str
    events: int = 0
    streams: int = 0
    sealed_to: int = 0
    chain_hash: str = chain.GENESIS
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_stream(service: str, rows: list[Row]) -> list[Finding]:
    """Findings for one stream, its rows sorted by version (pure)."""
    findings: list[Finding] = []
    if not rows:
        return findings
    oid = rows[0].originator_id
    versions = {row.version for row in rows}

    def found(kind: str, row: Row, detail: str, version: int | None = None) -> None:
        findings.append(Finding(service, kind, oid, version or row.version, row.notification_id, detail))

    expected, previous = 1, chain.GENESIS
    for index, row in enumerate(rows):
        gap = row.version != expected
        if gap:
            missing = f"v{expected}" if row.version == expected + 1 else f"v{expected}..v{row.version - 1}"
            found(REMOVED, row, f"{missing} missing before this event", expected)
        if row.prev_hash is None:
            found(ALTERED, row, "stored state lost its chain hashes")
            expected, previous = row.version + 1, None
            continue
        if chain.event_hash(row.topic, oid, row.version, row.prev_hash, row.body) != row.digest:
            moved = [
                v
                for v in versions
                if v != row.version and chain.event_hash(row.topic, oid, v, row.prev_hash, row.body) == row.digest
            ]
            if moved:
                found(REORDERED, row, f"this is the event recorded as v{moved[0]}")
            else:
                found(ALTERED, row, "content does not match its hash")
        elif previous is not None and row.prev_hash != previous and not gap:
            following = rows[index + 1] if index + 1 < len(rows) else None
            if following is not None and following.prev_hash == previous:
                found(INSERTED, row, "does not follow its predecessor, and its successor skips it")
            else:
                found(REMOVED, row, "its predecessor is not the event it was recorded after")
        expected, previous = row.version + 1, row.digest
    return findings


def check_log(
    service: str, claimed: dict[int, tuple[str, Any, int]], links: list[Link], whole: bool
) -> tuple[list[Finding], int, str]:
    """Findings of the log chain; ``claimed`` maps notification id -> (stored hash, originator, version).

    The stored hash covers the originator and version, so equal hashes mean the same event.
    ``whole``: the chain is recomputed from genesis (every link and every event were read); otherwise
    only the given links are matched against their events (one case's part of the log).
    """
    findings: list[Finding] = []
    previous, head = chain.GENESIS, 0
    unsealed = dict(claimed)  # what no link has claimed yet
    for nid, oid, version, event_hash, chain_hash in links:
        head = nid
        if whole:
            if chain.log_link(previous, nid, oid, version, event_hash) != chain_hash:
                findings.append(Finding(service, ALTERED, oid, version, nid, "log chain link rewritten"))
            previous = chain_hash
        event = unsealed.pop(nid, None)
        if event is None:
            findings.append(Finding(service, REMOVED, oid, version, nid, "sealed event is gone"))
        elif event[0] != event_hash:
            findings.append(
                Finding(service, ALTERED, _oid(event[1]), event[2], nid, "differs from the event that was sealed")
            )
    # Every save seals its events in its own transaction: an event without a link was slipped in.
    for nid, (_, oid, version) in unsealed.items():
        findings.append(Finding(service, INSERTED, _oid(oid), version, nid, "not in the sealed log chain"))
    return findings, head, previous


def _select(side: SideTables, originator_ids: list[UUID] | None) -> tuple[str, list[Any]]:
    sql = (
        f"SELECT {side.notification_id_column}, originator_id, originator_version, topic, state "
        f"FROM {side.events_table}"
    )
    params: list[Any] = []
    if originator_ids is not None:
        sql += f" WHERE originator_id IN ({', '.join('?' for _ in originator_ids)})"
        # SQLite keeps a uuid as 32 hex digits, PostgreSQL as a uuid.
        params = [oid if side.is_postgres else oid.hex for oid in originator_ids]
    return sql + " ORDER BY originator_id, originator_version", params


def read_rows(side: SideTables, originator_ids: list[UUID] | None = None) -> Iterator[list[Row]]:
    """The store's events ordered by stream and version, in chunks (raw SQL: no decoding)."""
    for rows in side.stream(*_select(side, originator_ids)):
        yield [Row.stored(nid, _oid(oid), version, topic, _bytes(state)) for nid, oid, version, topic, state in rows]


def _bytes(state: Any) -> bytes:
    # A hand edit can leave a state of another type (SQLite's replace() returns TEXT).
    return state.encode() if isinstance(state, str) else bytes(state)


def _oid(value: Any) -> str:
    if isinstance(value, str) and len(value) == 32:  # SQLite's hex form of a uuid
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def _intact(oid: str, raw: list[tuple[Any, ...]], claimed: dict[int, tuple[str, Any, int]]) -> bool:
    """The fast path for one stream: record each event's claimed hash; True if all links and hashes hold.

    Only a stream that fails here goes through ``check_stream``, which says what is wrong.
    """
    expected, previous, intact = 1, chain.GENESIS, True
    for nid, raw_oid, version, topic, state in raw:
        if type(state) is not bytes:
            state = _bytes(state)
        try:
            body, prev_hash, digest = chain.split(state)
        except chain.Malformed:
            claimed[nid] = (stored_hash(state), raw_oid, version)
            intact = False
            continue
        claimed[nid] = (digest, raw_oid, version)
        if intact and (
            version != expected
            or prev_hash != previous
            or chain.event_hash(topic, oid, version, prev_hash, body) != digest
        ):
            intact = False
        expected, previous = version + 1, digest
    return intact


def verify_store(
    service: str,
    side: SideTables,
    *,
    originator_ids: list[UUID] | None = None,
    progress: Callable[[int], None] | None = None,
    checkpoint_head: tuple[int, str] | None = None,
) -> Report:
    """Verify one service's store, or only the given streams (one case's part)."""
    started = time.perf_counter()
    report = Report(service)
    claimed: dict[int, tuple[str, Any, int]] = {}

    def close(raw: list[tuple[Any, ...]]) -> None:
        oid = _oid(raw[0][1])
        report.streams += 1
        if not _intact(oid, raw, claimed):
            report.findings.extend(
                check_stream(service, [Row.stored(r[0], oid, r[2], r[3], _bytes(r[4])) for r in raw])
            )

    stream: list[tuple[Any, ...]] = []
    for rows in side.stream(*_select(side, originator_ids)):
        for row in rows:
            if stream and stream[0][1] != row[1]:
                close(stream)
                stream = []
            stream.append(row)
        report.events += len(rows)
        if progress:
            progress(len(rows))
    if stream:
        close(stream)
    log_findings, report.sealed_to, report.chain_hash = _log(service, side, claimed, originator_ids, checkpoint_head)
    report.findings += log_findings
    report.findings.sort(key=lambda f: (f.notification_id or 0, f.originator_id or "", f.version or 0))
    report.findings = _unique(report.findings)
    report.seconds = time.perf_counter() - started
    return report


def _log(
    service: str,
    side: SideTables,
    claimed: dict[int, tuple[str, Any, int]],
    originator_ids: list[UUID] | None,
    checkpoint_head: tuple[int, str] | None,
) -> tuple[list[Finding], int, str]:
    whole = originator_ids is None
    links = LogChain(side).links(None if whole else [str(oid) for oid in originator_ids or []])
    findings, head, chain_hash = check_log(service, claimed, links, whole)
    if whole and checkpoint_head is not None:
        findings += check_checkpoint(service, links, checkpoint_head)
    return findings, head, chain_hash


def check_checkpoint(service: str, links: Iterable[Link], head: tuple[int, str]) -> list[Finding]:
    """A signed checkpoint's head must still be a link of the chain, with the same hash."""
    nid, chain_hash = head
    for link in links:
        if link.notification_id == nid:
            if link.chain_hash == chain_hash:
                return []
            break
    if nid == 0:
        return []
    return [Finding(service, ALTERED, None, None, nid, "log chain differs from the signed checkpoint at this point")]


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in findings:
        key = (f.kind, f.originator_id, f.version, f.notification_id)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
