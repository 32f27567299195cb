"""Read models written by another version of their projection are rebuilt before use, on SQLite and PostgreSQL."""

from __future__ import annotations

from uuid import uuid4

from services.feedback.projections import CaseViews, WorkQueues
from services.feedback.rebuild import rebuild_outdated
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
