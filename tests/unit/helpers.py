"""Small builders for domain tests: contexts and messages as other services would send them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from shared.contracts import Actor, Envelope, EventMessage
from shared.eventstore import EventContext
from shared.vocabulary import Role

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE, store="SH-001")


def context(case_id: UUID | None = None, service: str = "intake", at: datetime = NOW) -> EventContext:
    return EventContext(
        case_id=case_id or uuid4(), actor=CLERK, service=service, recorded_at=at, correlation_id=uuid4()
    )


def message(
    type_: str, service: str, payload: dict[str, Any], case_id: UUID | None = None, nid: int = 1
) -> EventMessage:
    return EventMessage(
        service=service,
        notification_id=nid,
        type=type_,
        envelope=Envelope(
            event_id=uuid4(),
            case_id=case_id or uuid4(),
            actor=CLERK,
            occurred_at=NOW,
            recorded_at=NOW,
            correlation_id=uuid4(),
            service=service,
        ),
        payload=payload,
    )
