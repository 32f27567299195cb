"""The case library and the record form on real stores (SQLite and PostgreSQL), and their HTTP routes."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.feedback import api as feedback_api
from services.feedback.projections import CaseLibrary, CaseViews
from shared.contracts import EventMessage
from shared.http import install_error_handlers
from shared.settings import Settings
from tests.support import staff_headers, stored
from tests.unit.helpers import message
from tests.unit.test_library import CASE_NUMBER, at, story


def renumbered(messages: list[EventMessage], start: dict[str, int]) -> list[EventMessage]:
    """The messages with notification ids unique per service across several cases (as one log each would be)."""
    out = []
    for msg in messages:
        start[msg.service] = start.get(msg.service, 0) + 1
        out.append(msg.model_copy(update={"notification_id": start[msg.service]}))
    return out


def other_case(case_id: UUID, nids: dict[str, int]) -> list[EventMessage]:
    """A resolved service complaint (staff attitude)."""
    received = message(
        "ComplaintReceived",
        "intake",
        {
            "case_number": "CMP-20261125-000043",
            "channel": "store",
            "store_id": "SH-011",
            "customer_id": str(uuid4()),
            "description": "导购态度恶劣，拒绝解释价格",
        },
        case_id,
    )
    triaged = message("ComplaintTriaged", "routing", {"category": "service", "severity": "general"}, case_id)
    resolved = message("CaseResolved", "resolution", {"summary": "道歉并安排员工培训"}, case_id)
    return renumbered([at(received, 0), at(triaged, 1), at(resolved, 90)], nids)


@pytest.fixture
def library(settings: Settings) -> Iterator[CaseLibrary]:
    projection = CaseLibrary(settings)
    yield projection
    projection.close()


def test_resolved_cases_are_searchable_by_category_and_chinese_or_english_words(library: CaseLibrary) -> None:
    nids: dict[str, int] = {}
    jewelry, service = uuid4(), uuid4()
    messages = renumbered(story(jewelry), nids) + other_case(service, nids)
    assert library.handle_batch(messages) == len(messages)
    assert library.handle_batch(messages) == 0  # exactly once

    everything = library.search()
    assert everything["total"] == 2
    assert [e["category"] for e in everything["entries"]] == ["service", "product_quality"]  # newest first
    assert library.search(category="product_quality")["total"] == 1
    assert library.search(category="safety")["total"] == 0
    found = library.search(query="手镯断了")
    assert found["words"] == ["手镯", "断"] and found["total"] == 1
    assert found["entries"][0]["business"] == "jewelry"
    assert library.search(query="REFUND")["total"] == 1  # the English label of a remedy
    assert library.search(query="态度")["entries"][0]["category"] == "service"
    assert library.search(query="手镯 态度")["total"] == 0  # every word must occur
    assert library.search(query="100%_")["total"] == 0  # LIKE wildcards are taken literally
    assert library.search(limit=1, offset=1)["entries"][0]["category"] == "product_quality"
    assert "张伟" not in str(everything) and CASE_NUMBER not in str(everything)


def test_a_reopened_case_leaves_the_library_until_resolved_again(library: CaseLibrary) -> None:
    case_id = uuid4()
    events = renumbered(story(case_id), {})
    reopened_at = next(i for i, e in enumerate(events) if e.type == "CaseReopened")
    library.handle_batch(events[: reopened_at + 1])
    assert library.search()["total"] == 0
    library.handle_batch(events[reopened_at + 1 :])
    assert library.search()["entries"][0]["status"] == "closed"
    withdrawn = message("ComplaintWithdrawn", "intake", {"reason": "x"}, case_id, nid=500)
    library.handle(at(withdrawn, 90))
    assert library.search()["total"] == 0


def test_live_and_rebuilt_rows_are_byte_identical_whatever_the_order(library: CaseLibrary) -> None:
    nids: dict[str, int] = {}
    messages = renumbered(story(uuid4()), nids) + other_case(uuid4(), nids) + renumbered(story(uuid4()), nids)
    for msg in messages:  # live: one at a time
        library.handle(msg)
    live = library.rows()
    library.reset()
    assert library.rows() == []
    library.handle_batch(list(reversed(messages)))  # rebuilt: one batch, another order
    assert library.rows() == live
    assert [r["visible"] for r in live] == [1, 1, 1]


# --- HTTP -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def client(settings: Settings) -> Iterator[tuple[TestClient, CaseViews, CaseLibrary]]:
    views, library = CaseViews(settings), CaseLibrary(settings)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(feedback_api.router)
    app.state.settings = settings
    app.state.services = {
        "feedback": SimpleNamespace(views=views, read_models={views.name: views, library.name: library})
    }
    with TestClient(app, headers=staff_headers("HQ-01", "hq")) as c:
        yield c, views, library
    views.close()
    library.close()


def test_timeline_labels_record_form_and_library_over_http(
    client: tuple[TestClient, CaseViews, CaseLibrary], settings: Settings
) -> None:
    http, views, library = client
    case_id = uuid4()
    events = stored(settings, story(case_id))  # the timeline reads the events from the stores
    views.handle_batch(events)
    library.handle_batch(events)

    plain = http.get(f"/api/cases/{case_id}/timeline").json()["events"]
    assert "label" not in plain[0]
    zh = http.get(f"/api/cases/{case_id}/timeline", params={"lang": "zh"}).json()["events"]
    en = http.get(f"/api/cases/{case_id}/timeline", params={"lang": "en"}).json()["events"]
    assert zh[0]["label"] == "投诉受理" and en[0]["label"] == "Complaint received"
    assert [{k: v for k, v in e.items() if k != "label"} for e in en] == plain
    bad = http.get(f"/api/cases/{case_id}/timeline", params={"lang": "fr"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "lang" and bad.json()["detail"][0]["allowed"] == ["zh", "en"]

    form = http.get(f"/api/cases/{case_id}/record-form")
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    for expected in ("消费者投诉处理记录表", CASE_NUMBER, "投诉受理", "按时完成", "未按时完成", "本表不含个人信息"):
        assert expected in form.text, expected
    english = http.get(f"/api/cases/{case_id}/record-form", params={"lang": "en"}).text
    for expected in ("Consumer complaint handling record", CASE_NUMBER, "Complaint received", ">met<", ">not met<"):
        assert expected in english, expected
    assert http.get(f"/api/cases/{case_id}/record-form", params={"lang": "fr"}).status_code == 422
    assert http.get(f"/api/cases/{uuid4()}/record-form").status_code == 404

    found = http.get("/api/library", params={"category": "product_quality", "q": "焊点"}).json()
    assert found["total"] == 1 and found["entries"][0]["root_cause"] == "production"
    bad_category = http.get("/api/library", params={"category": "nonsense"})
    assert bad_category.status_code == 422 and "safety" in bad_category.json()["detail"][0]["allowed"]
    assert http.get("/api/library", params={"limit": 0}).status_code == 422
