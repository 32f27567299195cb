"""The auditor's operations over the services in this process: verify, checkpoint, export, report."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from shared.audit.bundle import BUNDLE_FORMAT, CHECKPOINT_FORMAT, verify_bundle
from shared.audit.seal import LogChain
from shared.audit.signing import Signer, signature_problem
from shared.audit.verify import Finding, Report, read_rows, verify_store
from shared.clock import Clock
from shared.contracts import Actor
from shared.errors import NotFound
from shared.eventstore import ServiceApplication, aggregate_id
from shared.settings import Settings

_TEMPLATES = Environment(loader=PackageLoader("shared.audit"), autoescape=select_autoescape(), trim_blocks=True)


class Auditor:
    """Verification, signed checkpoints and case exports over the given services' stores."""

    def __init__(self, apps: dict[str, ServiceApplication], settings: Settings, clock: Clock) -> None:
        self.apps = apps
        self.clock = clock
        self.zone = ZoneInfo(settings.timezone)
        self.signer = Signer.from_settings(settings)
        self.export_dir = settings.data_dir.resolve() / "checkpoints"
        self.tables = {name: app.side.table("checkpoints") for name, app in apps.items()}
        for name, app in apps.items():
            app.side.execute(
                f"CREATE TABLE IF NOT EXISTS {self.tables[name]} "
                "(id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, doc TEXT NOT NULL)"
            )

    # --- verification ---------------------------------------------------------
    def verify(self, case_id: UUID | None = None, progress: Callable[[str, int], None] | None = None) -> list[Report]:
        """One report per service: the whole store, or the streams of one case."""
        reports = []
        for name, app in self.apps.items():
            latest = self.latest_checkpoint(name)
            head = None
            if latest is not None and signature_problem(latest, self.signer.public_raw) is None:
                signed = latest["heads"].get(name, {})
                head = (signed.get("notification_id", 0), signed.get("chain_hash", ""))
            report = verify_store(
                name,
                app.side,
                originator_ids=self.case_streams(name, case_id) if case_id else None,
                progress=(lambda n, name=name: progress(name, n)) if progress else None,
                checkpoint_head=head,
            )
            if latest is not None and head is None:
                report.findings.insert(
                    0, Finding(name, "altered", None, None, None, "stored checkpoint's signature fails")
                )
            reports.append(report)
        return reports

    def count_events(self) -> int:
        """How many events the stores hold (for a progress bar's total)."""
        return sum(
            int(app.side.query(f"SELECT COUNT(*) AS n FROM {app.side.events_table}")[0]["n"])
            for app in self.apps.values()
        )

    @staticmethod
    def case_streams(service: str, case_id: UUID) -> list[UUID]:
        """A case's streams in one service: ids derived from the case id (see ``aggregate_id``)."""
        return [case_id, aggregate_id(case_id, service)]

    # --- checkpoints ----------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """Sign the head of every log chain, keep it in each store and export it."""
        heads = {}
        for name, app in self.apps.items():
            notification_id, chain_hash = LogChain(app.side).head()
            heads[name] = {"notification_id": notification_id, "chain_hash": chain_hash}
        created = self.clock.now()
        doc = self.signer.sign({"format": CHECKPOINT_FORMAT, "created_at": created.isoformat(), "heads": heads})
        text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
        for name, app in self.apps.items():
            app.side.execute(
                f"INSERT INTO {self.tables[name]} (created_at, doc) VALUES (?, ?)", (doc["created_at"], text)
            )
        self.export_dir.mkdir(parents=True, exist_ok=True)
        (self.export_dir / f"checkpoint-{created.strftime('%Y%m%dT%H%M%S%fZ')}.json").write_text(text + "\n")
        return doc

    def latest_checkpoint(self, service: str | None = None) -> dict[str, Any] | None:
        """The newest signed checkpoint kept in a service's store (the first service's by default)."""
        name = service or next(iter(self.apps))
        rows = self.apps[name].side.query(f"SELECT doc FROM {self.tables[name]} ORDER BY id DESC LIMIT 1")
        return json.loads(rows[0]["doc"]) if rows else None

    # --- export ---------------------------------------------------------------------
    def bundle(self, case_id: UUID, exported_by: Actor) -> dict[str, Any]:
        """The case's whole history from every service, with its sealed links and a checkpoint, signed."""
        services: dict[str, Any] = {}
        for name, app in self.apps.items():
            streams = self.case_streams(name, case_id)
            events = [
                {
                    "notification_id": row.notification_id,
                    "originator_id": row.originator_id,
                    "version": row.version,
                    "topic": row.topic,
                    "state": row.state.decode("utf-8"),
                }
                for rows in read_rows(app.side, streams)
                for row in rows
            ]
            links = [link._asdict() for link in LogChain(app.side).links([str(s) for s in streams])]
            if events or links:
                services[name] = {"events": events, "links": links}
        if not services:
            raise NotFound(f"no events for case {case_id}")
        doc = {
            "format": BUNDLE_FORMAT,
            "case_id": str(case_id),
            "exported_at": self.clock.now().isoformat(),
            "exported_by": exported_by.model_dump(mode="json"),
            "checkpoint": self.latest_checkpoint(),
            "services": services,
        }
        return self.signer.sign(doc)

    def report_html(self, bundle: dict[str, Any]) -> str:
        """A readable report of a bundle: its verification, signature and the case's events in order."""
        outcome = verify_bundle(bundle, self.signer.public_raw)
        rows = []
        for service, part in bundle["services"].items():
            for event in part["events"]:
                state = json.loads(event["state"])
                envelope = state.get("envelope", {})
                recorded = envelope.get("recorded_at")
                rows.append(
                    {
                        "recorded_at": recorded,
                        "local_time": _local(recorded, self.zone),
                        "service": service,
                        "type": event["topic"].rsplit(".", 1)[-1],
                        "actor": envelope.get("actor", {}),
                        "fields": _shown_fields(state),
                        "hash": state.get("hash", "")[:16],
                        "notification_id": event["notification_id"],
                    }
                )
        rows.sort(key=lambda r: (r["recorded_at"] or "", r["service"], r["notification_id"]))
        return _TEMPLATES.get_template("case_report.html").render(
            bundle=bundle, outcome=outcome, events=rows, zone=str(self.zone)
        )


def _local(iso: str | None, zone: ZoneInfo) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


_HIDDEN = {"envelope", "timestamp", "originator_topic", "prev_hash", "hash"}


def _shown_fields(state: dict[str, Any]) -> dict[str, str]:
    """The event's own fields for a reader; sealed personal data shows as such, never as ciphertext."""
    shown = {}
    for key, value in state.items():
        if key in _HIDDEN or value in (None, "", [], {}):
            continue
        if isinstance(value, dict) and "_type_" in value:
            value = value.get("_data_")
        text = str(value)
        shown[key] = "[encrypted personal data]" if "enc:v1:" in text else text
    return shown
