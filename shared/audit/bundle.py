"""Offline verification of an exported case history: no database, only the file (and a trusted key)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared.audit.signing import signature_problem
from shared.audit.verify import ALTERED, INSERTED, REMOVED, Finding, Row, check_stream

BUNDLE_FORMAT = "ombud.case-bundle.v1"
CHECKPOINT_FORMAT = "ombud.checkpoint.v1"


def verify_bundle(bundle: dict[str, Any], trusted_key: bytes | None = None) -> dict[str, Any]:
    """Check a bundle's signature, its checkpoint's signature and every stream's chain.

    Returns ``{"ok", "events", "covered", "findings"}``; ``covered`` counts the events at or before
    the heads of the signed checkpoint the bundle carries.
    """
    findings: list[Finding] = []
    if bundle.get("format") != BUNDLE_FORMAT:
        findings.append(Finding("bundle", ALTERED, None, None, None, f"not a {BUNDLE_FORMAT} document"))
        return _result(findings, 0, 0)
    problem = signature_problem(bundle, trusted_key)
    if problem:
        findings.append(Finding("bundle", ALTERED, None, None, None, f"bundle {problem}"))
    checkpoint = bundle.get("checkpoint") or {}
    heads: dict[str, Any] = {}
    if checkpoint:
        problem = signature_problem(checkpoint, trusted_key)
        if problem or checkpoint.get("format") != CHECKPOINT_FORMAT:
            findings.append(Finding("checkpoint", ALTERED, None, None, None, f"checkpoint {problem or 'malformed'}"))
        else:
            heads = checkpoint.get("heads", {})
    events = covered = 0
    for service, part in sorted(bundle.get("services", {}).items()):
        links = {link["notification_id"]: link for link in part.get("links", [])}
        streams: dict[str, list[Row]] = defaultdict(list)
        for e in part.get("events", []):
            row = Row.stored(e["notification_id"], e["originator_id"], e["version"], e["topic"], e["state"].encode())
            streams[row.originator_id].append(row)
            events += 1
            link = links.get(row.notification_id)
            if link is None:
                findings.append(_at(service, INSERTED, row, "no sealed link in the bundle"))
            elif (link["originator_id"], link["version"], link["event_hash"]) != (
                row.originator_id,
                row.version,
                row.digest,
            ):
                findings.append(_at(service, ALTERED, row, "differs from the event that was sealed"))
            head = heads.get(service, {}).get("notification_id", 0)
            covered += row.notification_id <= head
        for oid in sorted(streams):
            findings += check_stream(service, sorted(streams[oid], key=lambda r: r.version))
        extra = set(links) - {row.notification_id for rows in streams.values() for row in rows}
        for nid in sorted(extra):
            link = links[nid]
            findings.append(
                Finding(
                    service, REMOVED, link["originator_id"], link["version"], nid, "sealed, but cut from the bundle"
                )
            )
    return _result(findings, events, covered)


def _at(service: str, kind: str, row: Row, detail: str) -> Finding:
    return Finding(service, kind, row.originator_id, row.version, row.notification_id, detail)


def _result(findings: list[Finding], events: int, covered: int) -> dict[str, Any]:
    return {
        "ok": not findings,
        "events": events,
        "covered": covered,
        "findings": [f.__dict__ | {"where": f.where()} for f in findings],
    }
