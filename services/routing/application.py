"""Routing's Application: reacts to received complaints by triaging them."""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.domain import Aggregate

from services.routing.domain import SeverityRules, Taxonomy, Triage, assess_severity, classify
from shared.clock import Clock
from shared.configfiles import load_config
from shared.contracts import Actor, ComplaintReceived, EventMessage
from shared.eventstore import ServiceApplication, aggregate_id
from shared.settings import Settings


class Routing(ServiceApplication):
    """Classifies complaints and assesses their severity."""

    name = "routing"
    reactions = {"ComplaintReceived": "triage_complaint"}

    def __init__(self, settings: Settings, clock: Clock) -> None:
        super().__init__(settings, clock)
        self.taxonomy = load_config(settings.config_dir / "taxonomy.yaml", Taxonomy)
        self.severity_rules = load_config(settings.config_dir / "severity.yaml", SeverityRules)

    def triage_complaint(self, message: EventMessage, complaint: ComplaintReceived) -> Iterable[Aggregate]:
        """Policy: every received complaint is classified and its severity assessed."""
        text = " ".join(filter(None, [complaint.description, complaint.demand]))
        classification = classify(text, self.taxonomy)
        severity = assess_severity(text, complaint.channel.value, complaint.amount_paid, self.severity_rules)
        ctx = self.context(message.envelope.case_id, Actor.system(self.name), cause=message)
        yield Triage.triage(aggregate_id(ctx.case_id, self.name), ctx, classification, severity)
