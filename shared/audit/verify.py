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
from typing import Any
from uuid import UUID

from shared.audit import chain
from shared.audit.seal import Link, LogChain, stored_hash
from shared.sidetables import SideTables

ALTERED, REMOVED, INSERTED, REORDERED, UNSEALED = "altered", "removed", "inserted", "reordered", "unsealed"


@dataclass(frozen=True)
class Row:
    """One stored event as the database holds it."""

    notification_id: int
    originator_id: str
    version: int
    topic: str
    state: bytes


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
        try:
            body, prev_hash, digest = chain.split(row.state)
        except chain.Malformed:
            found(ALTERED, row, "stored state lost its chain hashes")
            expected, previous = row.version + 1, None
            continue
        if chain.event_hash(row.topic, oid, row.version, prev_hash, body) != digest:
            moved = [v for v in versions if v != row.version and chain.event_hash(row.topic, oid, v, prev_hash, body) == digest]
            if moved:
                found(REORDERED, row, f"this is the event recorded as v{moved[0]}")
            else:
                found(ALTERED, row, "content does not match its hash")
        elif previous is not None and prev_hash != previous and not gap:
            following = rows[index + 1] if index + 1 < len(rows) else None
            if following is not None and _prev_of(following) == previous:
                found(INSERTED, row, "does not follow its predecessor, and its successor skips it")
            else:
                found(REMOVED, row, "its predecessor is not the event it was recorded after")
        expected, previous = row.version + 1, digest
    return findings


def _prev_of(row: Row) -> str | None:
    try:
        return chain.split(row.state)[1]
    except chain.Malformed:
        return None


def check_log(service: str, claimed: dict[int, tuple[str, int, str]], links: list[Link], whole: bool) -> tuple[list[Finding], int, str]:
    """Findings of the log chain; ``claimed`` maps notification id -> (originator, version, stored hash).

    ``whole``: the chain is recomputed from genesis (every link and every event were read); otherwise
    only the given links are matched against their events (one case's part of the log).
    """
    findings: list[Finding] = []
    previous, head = chain.GENESIS, 0
    sealed: set[int] = set()
    for link in links:
        sealed.add(link.notification_id)
        head = link.notification_id
        if whole:
            expected = chain.log_link(previous, link.notification_id, link.originator_id, link.version, link.event_hash)
            if expected != link.chain_hash:
                findings.append(
                    Finding(service, ALTERED, link.originator_id, link.version, link.notification_id, "log chain link rewritten")
                )
            previous = link.chain_hash
        event = claimed.get(link.notification_id)
        if event is None:
            findings.append(
                Finding(service, REMOVED, link.originator_id, link.version, link.notification_id, "sealed event is gone")
            )
        elif event != (link.originator_id, link.version, link.event_hash):
            findings.append(
                Finding(service, ALTERED, event[0], event[1], link.notification_id, "differs from the event that was sealed")
            )
    max_sealed = max(sealed, default=0) if whole else head
    for nid, (oid, version, _) in claimed.items():
        if nid in sealed:
            continue
        if nid < max_sealed:
            findings.append(Finding(service, INSERTED, oid, version, nid, "not in the sealed log chain"))
        else:
            findings.append(
                Finding(service, UNSEALED, oid, version, nid, "after the sealed head: inserted, or not sealed yet")
            )
    return findings, head, previous


def read_rows(side: SideTables, originator_ids: list[UUID] | None = None) -> Iterator[list[Row]]:
    """The store's events ordered by stream and version, in chunks (raw SQL: no decoding)."""
    sql = (
        f"SELECT {side.notification_id_column}, originator_id, originator_version, topic, state "
        f"FROM {side.events_table}"
    )
    params: list[Any] = []
    if originator_ids is not None:
        sql += f" WHERE originator_id IN ({', '.join('?' for _ in originator_ids)})"
        # SQLite keeps a uuid as 32 hex digits, PostgreSQL as a uuid.
        params = [oid if side.is_postgres else oid.hex for oid in originator_ids]
    sql += " ORDER BY originator_id, originator_version"
    for rows in side.stream(sql, params):
        yield [Row(int(nid), _oid(oid), int(version), topic, bytes(state)) for nid, oid, version, topic, state in rows]


def _oid(value: Any) -> str:
    text = str(value)
    return str(UUID(text)) if len(text) == 32 else text


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
    claimed: dict[int, tuple[str, int, str]] = {}
    stream: list[Row] = []
    for rows in read_rows(side, originator_ids):
        for row in rows:
            if stream and stream[0].originator_id != row.originator_id:
                report.findings += check_stream(service, stream)
                report.streams += 1
                stream = []
            stream.append(row)
            claimed[row.notification_id] = (row.originator_id, row.version, stored_hash(row.state))
        report.events += len(rows)
        if progress:
            progress(len(rows))
    if stream:
        report.findings += check_stream(service, stream)
        report.streams += 1
    whole = originator_ids is None
    links = LogChain(side).links(None if whole else [str(oid) for oid in originator_ids or []])
    log_findings, report.sealed_to, report.chain_hash = check_log(service, claimed, links, whole)
    report.findings += log_findings
    if whole and checkpoint_head is not None:
        report.findings += check_checkpoint(service, links, checkpoint_head)
    report.findings.sort(key=lambda f: (f.notification_id or 0, f.originator_id or "", f.version or 0))
    report.findings = _unique(report.findings)
    report.seconds = time.perf_counter() - started
    return report


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
