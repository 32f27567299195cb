"""Tamper evidence on SQLite and PostgreSQL: tamper directly in the database with SQL, verify locates it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.audit import chain
from shared.audit.auditor import Auditor
from shared.audit.seal import LogChain
from shared.audit.verify import ALTERED, INSERTED, REMOVED, REORDERED, Report, verify_store
from shared.clock import ManualClock
from shared.eventstore import CaseAggregate, EventContext, ServiceApplication
from shared.settings import Settings
from tests.unit.helpers import context


class Ledger(CaseAggregate):
    """A stream of notes: the smallest aggregate with many events."""

    class Opened(CaseAggregate.Created):
        note: str

    class Noted(CaseAggregate.Event):
        note: str

        def apply(self, aggregate: Any) -> None:
            aggregate.notes.append(self.note)

    def __init__(self, envelope: dict[str, Any], note: str) -> None:
        self.notes = [note]

    def add(self, ctx: EventContext, note: str) -> None:
        self._record(self.Noted, ctx, note=note)


class Ledgers(ServiceApplication):
    name = "ledgers"


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> Iterator[Ledgers]:
    ledgers = Ledgers(make_settings(), ManualClock())
    yield ledgers
    ledgers.close()


def stream_of(app: Ledgers, notes: int) -> UUID:
    """Given a ledger of ``notes`` events, saved one command at a time."""
    ledger = Ledger._start(Ledger.Opened, uuid4(), context(), note="n1")
    app.save(ledger)
    for i in range(2, notes + 1):
        ledger = app.repository.get(ledger.id)
        ledger.add(context(), f"n{i}")
        app.save(ledger)
    return ledger.id


def verify(app: Ledgers, **kwargs: Any) -> Report:
    return verify_store(app.name, app.side, **kwargs)


def stored_id(app: Ledgers, oid: UUID) -> Any:
    return str(oid) if app.side.is_postgres else oid.hex


def sql(app: Ledgers, statement: str, *params: Any) -> list[dict[str, Any]]:
    return app.side.execute(statement.replace("EVENTS", app.side.events_table), params)


def stored(app: Ledgers, oid: UUID, version: int) -> tuple[str, bytes]:
    """(topic, state bytes) of one stored event, read with SQL."""
    [row] = sql(
        app,
        "SELECT topic, state FROM EVENTS WHERE originator_id = ? AND originator_version = ?",
        stored_id(app, oid),
        version,
    )
    return row["topic"], bytes(row["state"])


def overwrite(app: Ledgers, oid: UUID, version: int, state: bytes) -> None:
    sql(
        app,
        "UPDATE EVENTS SET state = ? WHERE originator_id = ? AND originator_version = ?",
        state,
        stored_id(app, oid),
        version,
    )


def forge(topic: str, oid: UUID, version: int, prev: str, body: bytes) -> bytes:
    """What a forger who knows the algorithm writes: a state whose own hash and link recompute."""
    return chain.seal(body, prev, chain.event_hash(topic, str(oid), version, prev, body))


def locations(report: Report) -> list[tuple[str, int | None]]:
    return [(f.kind, f.version) for f in report.findings]


def test_an_untouched_store_verifies_clean(app: Ledgers) -> None:
    first, second = stream_of(app, 3), stream_of(app, 2)
    report = verify(app)
    assert report.ok, report.findings
    assert (report.events, report.streams, report.sealed_to) == (5, 2, 5)
    assert verify(app, originator_ids=[first]).events == 3
    assert verify(app, originator_ids=[second]).ok


def test_a_changed_payload_byte_is_located(app: Ledgers) -> None:
    oid = stream_of(app, 3)
    # When one byte of version 2's note changes in the database
    _, state = stored(app, oid, 2)
    overwrite(app, oid, 2, state.replace(b'"n2"', b'"N2"'))
    # Then verify names that event
    assert locations(verify(app))[0] == (ALTERED, 2)
    assert verify(app).findings[0].originator_id == str(oid)


def test_a_consistently_rehashed_forgery_is_caught_by_the_sealed_log(app: Ledgers) -> None:
    oid = stream_of(app, 3)
    # When the forger recomputes version 3's own hash after changing it
    topic, state = stored(app, oid, 3)
    body, prev, _ = chain.split(state)
    overwrite(app, oid, 3, forge(topic, oid, 3, prev, body.replace(b'"n3"', b'"paid"')))
    # Then the stream looks intact, but the log chain remembers the sealed hash
    report = verify(app)
    assert locations(report) == [(ALTERED, 3)]
    assert "sealed" in report.findings[0].detail


def test_a_deleted_event_is_located(app: Ledgers) -> None:
    oid = stream_of(app, 3)
    sql(app, "DELETE FROM EVENTS WHERE originator_id = ? AND originator_version = 2", stored_id(app, oid))
    assert (REMOVED, 2) in locations(verify(app))
    assert locations(verify(app))[0] == (REMOVED, 2)


def test_a_deleted_whole_stream_is_caught_by_the_log_chain(app: Ledgers) -> None:
    stream_of(app, 2)
    gone = stream_of(app, 2)
    sql(app, "DELETE FROM EVENTS WHERE originator_id = ?", stored_id(app, gone))
    report = verify(app)
    assert [(f.kind, f.originator_id, f.version) for f in report.findings] == [
        (REMOVED, str(gone), 1),
        (REMOVED, str(gone), 2),
    ]


def test_a_forged_inserted_event_is_located(app: Ledgers) -> None:
    oid = stream_of(app, 2)
    # When a forged version 3 is inserted, hashed like a real one
    topic, state = stored(app, oid, 2)
    body, _, head = chain.split(state)
    forged = forge(topic, oid, 3, head, body.replace(b'"n2"', b'"refund approved"'))
    columns = "originator_id, originator_version, topic, state"
    sql(app, f"INSERT INTO EVENTS ({columns}) VALUES (?, 3, ?, ?)", stored_id(app, oid), topic, forged)
    # Then it is named: it was never sealed into the log
    report = verify(app)
    assert [(f.kind, f.version) for f in report.findings] == [(INSERTED, 3)]


def test_a_forged_event_under_a_sealed_notification_id_is_located(app: Ledgers) -> None:
    oid = stream_of(app, 2)
    stream_of(app, 1)
    # When version 2 is replaced by a forgery under its own notification id, hashed like a real one
    topic, state = stored(app, oid, 1)
    body, _, head = chain.split(state)
    sql(app, "DELETE FROM EVENTS WHERE originator_id = ? AND originator_version = 2", stored_id(app, oid))
    columns = f"{app.side.notification_id_column}, originator_id, originator_version, topic, state"
    forged = forge(topic, oid, 2, head, body)
    sql(app, f"INSERT INTO EVENTS ({columns}) VALUES (2, ?, 2, ?, ?)", stored_id(app, oid), topic, forged)
    # Then the log chain names it: a different event under a sealed id
    assert locations(verify(app)) == [(ALTERED, 2)]


def test_two_swapped_events_are_located(app: Ledgers) -> None:
    oid = stream_of(app, 3)
    # When versions 2 and 3 trade places
    key = stored_id(app, oid)
    sql(app, "UPDATE EVENTS SET originator_version = 99 WHERE originator_id = ? AND originator_version = 2", key)
    sql(app, "UPDATE EVENTS SET originator_version = 2 WHERE originator_id = ? AND originator_version = 3", key)
    sql(app, "UPDATE EVENTS SET originator_version = 3 WHERE originator_id = ? AND originator_version = 99", key)
    # Then both are named as reordered
    kinds = locations(verify(app))
    assert (REORDERED, 2) in kinds and (REORDERED, 3) in kinds
    assert kinds[0][0] == REORDERED


def test_a_case_is_verified_on_its_own(app: Ledgers) -> None:
    oid, other = stream_of(app, 3), stream_of(app, 2)
    sql(app, "DELETE FROM EVENTS WHERE originator_id = ? AND originator_version = 2", stored_id(app, other))
    assert verify(app, originator_ids=[oid]).ok
    assert not verify(app, originator_ids=[other]).ok


def test_a_rewritten_log_chain_is_caught_by_the_signed_checkpoint(
    app: Ledgers, make_settings: Callable[..., Settings]
) -> None:
    oid = stream_of(app, 3)
    auditor = Auditor({app.name: app}, make_settings(), app.clock)
    checkpoint = auditor.checkpoint()
    assert checkpoint["heads"]["ledgers"]["notification_id"] == 3
    # When a forger rewrites version 2 and then the whole log chain, consistently
    topic, state = stored(app, oid, 2)
    body, prev, _ = chain.split(state)
    overwrite(app, oid, 2, forge(topic, oid, 2, prev, body.replace(b'"n2"', b'"paid"')))
    _, state3 = stored(app, oid, 3)
    body3, _, _ = chain.split(state3)
    overwrite(app, oid, 3, forge(topic, oid, 3, chain.split(stored(app, oid, 2)[1])[2], body3))
    table, previous = LogChain(app.side).table, chain.GENESIS
    for link in LogChain(app.side).links():
        digest = chain.split(stored(app, oid, link.version)[1])[2]
        previous = chain.log_link(previous, link.notification_id, link.originator_id, link.version, digest)
        app.side.execute(
            f"UPDATE {table} SET event_hash = ?, chain_hash = ? WHERE notification_id = ?",
            (digest, previous, link.notification_id),
        )
    # Then only the signed checkpoint still tells
    [report] = auditor.verify()
    assert [(f.kind, f.notification_id) for f in report.findings] == [(ALTERED, 3)]
    assert "signed checkpoint" in report.findings[0].detail


def test_a_stored_checkpoint_with_a_broken_signature_is_reported(
    app: Ledgers, make_settings: Callable[..., Settings]
) -> None:
    stream_of(app, 1)
    auditor = Auditor({app.name: app}, make_settings(), app.clock)
    auditor.checkpoint()
    table = auditor.tables[app.name]
    [row] = app.side.query(f"SELECT id, doc FROM {table}")
    app.side.execute(
        f"UPDATE {table} SET doc = ? WHERE id = ?",
        (row["doc"].replace('"notification_id": 1', '"notification_id": 0'), row["id"]),
    )
    [report] = auditor.verify()
    assert "signature" in report.findings[0].detail
