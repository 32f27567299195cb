"""Intake's commands about sources: nuisance flags, blocking, and the repeat-complaint policy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from services.intake.domain import (
    Blocked,
    ComplaintRecord,
    ContactSource,
    PastCase,
    find_repeat,
    receiver_of,
    source_id,
)
from services.intake.screening import BLOCKED, FLAGGED
from shared.contracts import Actor, ComplaintTriaged, EventMessage
from shared.errors import NotFound


class Sources:
    """Mixed into ``Intake``: nuisance sources and repeat complaints."""

    rules: Any
    sources: Any
    _cases: str

    def record_refusal(self, record: ComplaintRecord, refused: Blocked, correlation_id: UUID | None = None) -> None:
        """Record the attempt of a blocked contact (``open_complaint`` refused it with ``refused``)."""
        source = self.repository.get(source_id(refused.customer_id))
        source.refuse(self.context(source.id, receiver_of(record), correlation_id=correlation_id), record.channel.value)
        self.save(source)

    def flag_nuisance(self, case_id: UUID, *, actor: Actor, reason: str, correlation_id: UUID | None = None) -> bool:
        """Flag the case's contact as abusive; returns whether the contact is now blocked."""
        blocked: list[bool] = []

        def attempt() -> None:
            complaint = self.get_complaint(case_id)
            ctx = self.context(case_id, actor, correlation_id=correlation_id)
            complaint.flag_nuisance(ctx, reason)
            found = source_id(complaint.customer_id)
            source = self.find(found)
            source = source or ContactSource.open(ctx.model_copy(update={"case_id": found}), complaint.customer_id)
            source.flag(ctx.model_copy(update={"case_id": found}), case_id=case_id, reason=reason,
                        rule=self.rules.nuisance)  # fmt: skip
            status = self.sources.write(complaint.customer_id, BLOCKED if source.blocked else FLAGGED)
            self.save(complaint, source, side_writes=[status, self._case_flag(case_id)])
            blocked.append(source.blocked)

        self.retrying(attempt)
        return blocked[-1]

    def unblock_source(
        self, customer_id: UUID, *, actor: Actor, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """A manager lifts a contact's block, with a reason (404 if the contact was never flagged)."""
        found = source_id(customer_id)
        if found not in self.repository:
            raise NotFound(f"contact {customer_id} was never flagged")

        def attempt() -> None:
            source = self.repository.get(found)
            source.unblock(self.context(found, actor, correlation_id=correlation_id), reason)
            self.save(source, side_writes=[self.sources.write(customer_id, FLAGGED)])

        self.retrying(attempt)

    def nuisance_queue(self) -> list[dict[str, Any]]:
        """Cases from contacts flagged as abusive, newest first: they are handled apart."""
        rows = self.side.query(
            f"SELECT case_id, case_number, received_at FROM {self._cases} WHERE nuisance = 1 ORDER BY received_at DESC"
        )
        return [dict(row) for row in rows]

    def _case_flag(self, case_id: UUID) -> tuple[str, Any]:
        return f"UPDATE {self._cases} SET nuisance = 1 WHERE case_id = ?", (str(case_id),)

    def link_repeat(self, message: EventMessage, triaged: ComplaintTriaged) -> Iterable[Any]:
        """Policy: once a complaint is triaged, link it to the customer's most recent complaint about the same
        order or the same category within the window (``config/intake.yaml``), and note its category."""
        case_id = message.envelope.case_id
        yield f"UPDATE {self._cases} SET category = ? WHERE case_id = ?", (triaged.category.value, str(case_id))
        # The case's own row and every other case of its customer, in one read.
        cases = [
            PastCase(UUID(r["case_id"]), r["case_number"], r["order_id"], r["category"],
                     datetime.fromisoformat(r["received_at"]))
            for r in self.side.query(
                f"SELECT case_id, case_number, order_id, category, received_at FROM {self._cases} "
                f"WHERE customer_id = (SELECT customer_id FROM {self._cases} WHERE case_id = ?)",
                (str(case_id),),
            )
        ]  # fmt: skip
        new = next((c for c in cases if c.case_id == case_id), None)
        if new is None:
            return
        found = find_repeat(
            PastCase(new.case_id, new.case_number, new.order_id, triaged.category.value, new.received_at),
            cases,
            self.rules.repeat,
        )
        if found is not None:
            complaint = self.get_complaint(case_id)
            complaint.link_repeat(
                self.context(case_id, Actor.system(self.name), cause=message),
                earlier_case_id=found.case.case_id,
                earlier_case_number=found.case.case_number,
                basis=found.basis,
                days_apart=found.days_apart,
            )
            yield complaint
