"""What keeps rebuilds safe, on SQLite and PostgreSQL: read models written by another version of their projection
are rebuilt before use, and two rebuilds of one read model at once take turns."""

from __future__ import annotations

import threading
from uuid import uuid4

from services.feedback.projections import CaseViews, ReadModels, WorkQueues
from services.feedback.rebuild import rebuild, rebuild_outdated
from shared.settings import Settings
from tests.support import stored
from tests.unit.test_library import story


def test_a_read_model_written_by_another_version_is_rebuilt_and_its_retired_tables_dropped(settings: Settings) -> None:
    # Given a case's events in the stores, projected by the case views and the work queues
    messages = stored(settings, story(uuid4()))
    views, queues = CaseViews(settings), WorkQueues(settings)
    try:
        for projection in (views, queues):
            assert projection.handle_batch(messages) == len(messages)
            assert not projection.outdated()  # created empty: marked with its version
        live = {p.name: p.dump_tables() for p in (views, queues)}
        # and the queues' tables left as a version before this one left them: unmarked, with a table since retired
        with queues.transaction() as run:
            run(f"DELETE FROM {queues.table['version']}")
            run(f"CREATE TABLE {queues.side.table('clocks')} (case_id TEXT, clock TEXT, doc TEXT)")
        assert queues.outdated() and not views.outdated()

        # When the system starts (services.system runs this before feedback's consumer)
        rebuilt = rebuild_outdated(settings)

        # Then only the queues were rebuilt: marked, whole again, without the retired table
        assert rebuilt == [WorkQueues.name]
        assert not queues.outdated() and queues.stored_version() == WorkQueues.version
        assert not exists(queues, "clocks")
        assert {p.name: p.dump_tables() for p in (views, queues)} == live
        assert rebuild_outdated(settings) == []
    finally:
        views.close()
        queues.close()


def exists(projection: WorkQueues, short: str) -> bool:
    """Whether one of a projection's tables (by its short name) exists."""
    if projection.side.is_postgres:
        [row] = projection.side.query("SELECT to_regclass(?) AS found", (projection.side.table(short),))
        return row["found"] is not None
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
    return bool(projection.side.query(sql, (projection.side.bare(short),)))


def test_two_rebuilds_at_once_take_turns_and_end_as_one(settings: Settings) -> None:
    # Given every read model fed from the stores
    messages = stored(settings, story(uuid4()))
    models = ReadModels(settings)
    try:
        models.handle_batch(messages)
        projections = list(models.by_name.values())
        live = {p.name: p.dump_tables() for p in projections}
        # When two rebuilds of them run at once (say `ombud rebuild` while a replica starts), each from its own thread
        errors: list[BaseException] = []

        def rebuild_all() -> None:
            try:
                rebuild(projections, settings, page=2)
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=rebuild_all) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then neither broke the other's aside tables, and the read models are what they were
        assert errors == []
        assert {p.name: p.dump_tables() for p in projections} == live
    finally:
        models.close()
