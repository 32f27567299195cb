"""``LIKE`` filters on SQLite and PostgreSQL take the caller's text literally: ``%`` and ``_`` are no wildcards
(the library search, which escaped them before, uses the same ``shared.sidetables.containing``)."""

from __future__ import annotations

from services.feedback.projections import ReadModels, WorkQueues
from tests.integration.test_read_models import QUEUE, feed, models, scenario  # noqa: F401 - fixture


def test_a_queue_flag_filter_matches_the_flag_literally(models: ReadModels) -> None:  # noqa: F811
    # Given a queue where one case has breached its deadline
    messages, ids = scenario()
    feed(models, messages, batch=7)
    queues = models.by_name[WorkQueues.name]
    assert [i["case_id"] for i in queues.queue(QUEUE, flags=["sla_breached"])["items"]] == [str(ids["b"])]
    # When the flag is given with wildcards
    for pattern in ("sla%", "%", "sla_breache_", "_"):
        # Then nothing matches: the text is compared as written
        assert queues.queue(QUEUE, flags=[pattern], state="all")["total"] == 0, pattern

