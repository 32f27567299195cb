"""The base of every read model: a store of its own with its own tracking, so it can be dropped and rebuilt.

A projection applies messages exactly once: each fetched batch in one transaction, with one tracking row per message
(upstream service, notification id), skipping the ones it already has. ``reset`` drops its tables and tracking;
replaying every service's notification log then rebuilds it (``services.feedback.rebuild``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment

from shared.contracts import CONTRACTS, EventMessage
from shared.settings import Settings
from shared.sidetables import Runner, SideTables


class Projection:
    """A read model. Subclasses give ``name``, ``tables`` (name -> CREATE statement with ``{table}``), ``indexes``
    and ``apply``; ``begin``/``finish`` hold state across one batch (e.g. views loaded once and written once)."""

    name: ClassVar[str]
    tables: ClassVar[dict[str, str]] = {}
    indexes: ClassVar[list[str]] = []

    def __init__(self, settings: Settings) -> None:
        env = Environment(self.name, settings.persistence_env(self.name))
        self.factory = InfrastructureFactory.construct(env)
        self.recorder: TrackingRecorder = self.factory.tracking_recorder()
        self.side = SideTables(self.recorder, self.name)
        self.table = {short: self.side.table(short) for short in self.tables}
        self.create()

    def create(self) -> None:
        """Create the tables and indexes if they are missing."""
        statements = [ddl.format(table=self.table[short]) for short, ddl in self.tables.items()]
        statements += [ddl.format(prefix=self.name, **self.table) for ddl in self.indexes]
        self.side.script([(sql, ()) for sql in statements])

    # --- applying -------------------------------------------------------------------------------------------

    def begin(self) -> Any:
        """State for one batch (None by default)."""
        return None

    def apply(self, run: Runner, message: EventMessage, batch: Any) -> None:
        """Apply one new message inside the batch's transaction."""
        raise NotImplementedError

    def finish(self, run: Runner, batch: Any) -> None:
        """Write what the batch gathered, still inside its transaction."""

    def handle(self, message: EventMessage) -> bool:
        """Project one message exactly once (one transaction); False if it was already projected."""
        return self.handle_batch([message]) == 1

    def handle_batch(self, messages: list[EventMessage]) -> int:
        """Project messages in order, each exactly once, all in one transaction; returns how many were new."""
        applied = 0
        batch = self.begin()
        track = f"INSERT INTO {self.side.tracking_table} (application_name, notification_id) VALUES (?, ?)"
        with self.side.transaction() as run:
            for message in messages:
                if self.side.has_tracking(message.service, message.notification_id, run):
                    continue
                if _about_a_case(message):
                    self.apply(run, message, batch)
                run(track, (message.service, message.notification_id))
                applied += 1
            self.finish(run, batch)
        return applied

    # --- operations -----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop every row of the read model and its tracking: it is empty, ready to be rebuilt."""
        self.side.script(
            [(f"DELETE FROM {table}", ()) for table in self.table.values()]
            + [(f"DELETE FROM {self.side.tracking_table}", ())]
        )

    def positions(self) -> dict[str, int]:
        """Per upstream service, the highest notification id applied."""
        rows = self.side.query(
            f"SELECT application_name AS service, MAX(notification_id) AS position FROM {self.side.tracking_table} "
            "GROUP BY application_name"
        )
        return {row["service"]: int(row["position"]) for row in rows}

    def close(self) -> None:
        self.factory.close()


def _about_a_case(message: EventMessage) -> bool:
    # Recall campaigns and notices carry their own id as the case id: no case read model shows them (tracked only).
    contract = CONTRACTS.get(message.type)
    return contract is None or contract.about_case
