"""Hostile input over HTTP, on real NATS, on SQLite and PostgreSQL: each kind of request that once ended as
HTTP 500 (issue 16) is now refused with a 4xx naming what is wrong, and stores nothing.

The kinds: an amendment with a non-finite or huge amount, an unparseable date or a malformed customer; a list
where a store id is expected; an offset of 2^63; instants in year 1 or 9999; non-ASCII tokens and contacts on
the public pages; control and bidi characters in text. (An over-long user id now arrives as a token's ``sub``:
tests/e2e for sign-in cover it.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from tests.support import complaint_body, staff_headers, wait_until

CLERK = staff_headers("SH-001-F1", "frontline", store="SH-001")
UNKNOWN_CASE = "00000000-0000-0000-0000-000000000000"


def file(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/complaints", json=complaint_body(**overrides), headers=CLERK)
    assert response.status_code == 201, response.text
    return response.json()


def version_of(client: TestClient, case_id: str) -> int:
    intake = client.app.state.services["intake"].app  # type: ignore[attr-defined]
    return int(intake.get_complaint(UUID(case_id)).version)


def intake_events(client: TestClient) -> int:
    intake = client.app.state.services["intake"].app  # type: ignore[attr-defined]
    return int(intake.recorder.max_notification_id() or 0)


def fields_of(response: Any) -> set[str]:
    return {problem["field"] for problem in response.json()["detail"]}


MALFORMED_CHANGES = [
    ({"amount_paid": "NaN"}, "changes.amount_paid"),
    ({"amount_paid": "Infinity"}, "changes.amount_paid"),
    ({"amount_paid": "1e400"}, "changes.amount_paid"),
    ({"amount_paid": "-Infinity"}, "changes.amount_paid"),
    ({"occurred_at": "yesterday"}, "changes.occurred_at"),
    ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "changes.occurred_at"),
    ({"customer": "王芳"}, "changes.customer"),
    ({"customer": {"name": 5, "phone": "13800138000"}}, "changes.customer.name"),
    ({"store_id": ["SH-001"]}, "changes.store_id"),
    ({"description": {"text": "断了"}}, "changes.description"),
    ({"description": "断了\u202e"}, "changes.description"),
    ({"channel": "web"}, "changes.channel"),
]


def test_a_malformed_amendment_is_refused_naming_the_field_and_changes_nothing(client: TestClient) -> None:
    # Given a complaint on file
    case_id = file(client)["case_id"]
    before = version_of(client, case_id)
    for changes, field in MALFORMED_CHANGES:
        # When an amendment carries a value its field cannot hold
        response = client.post(
            f"/api/complaints/{case_id}/amendments",
            json={"kind": "correction", "reason": "修正", "changes": changes},
            headers=CLERK,
        )
        # Then it is refused, naming the field
        assert response.status_code == 422, (changes, response.text)
        assert field in fields_of(response), (changes, response.text)
    # And the record is as it was
    assert version_of(client, case_id) == before


def test_a_raw_nan_in_the_json_body_is_refused(client: TestClient) -> None:
    # Given a complaint on file
    case_id = file(client)["case_id"]
    before = version_of(client, case_id)
    # When the body holds the bare token NaN, which Python's JSON reader accepts
    body = b'{"kind": "correction", "reason": "x", "changes": {"amount_paid": NaN}}'
    response = client.post(
        f"/api/complaints/{case_id}/amendments",
        content=body,
        headers={**CLERK, "Content-Type": "application/json"},
    )
    # Then the amount is refused and nothing changes
    assert response.status_code == 422 and fields_of(response) == {"changes.amount_paid"}
    assert version_of(client, case_id) == before


HOSTILE_FILINGS = [
    ({"store_id": ["SH-001"]}, "store_id"),
    ({"store_id": {"id": "SH-001"}}, "store_id"),
    ({"received_by": {"id": "SH-001-F1", "store": ["SH-001"]}}, "received_by.store"),
    ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at"),
    ({"occurred_at": "9999-12-31T23:59:59-05:00"}, "occurred_at"),
    ({"amount_paid": "1e400"}, "amount_paid"),
    ({"amount_paid": "NaN"}, "amount_paid"),
    ({"description": "x" * 20_001}, "description"),
    ({"description": "手镯断了\u0000"}, "description"),
    ({"description": "退款 \u202egnp.exe"}, "description"),
    ({"customer": {"name": "王\u2066芳", "phone": "13800138000"}}, "customer.name"),
    ({"customer": {"name": "王芳", "phone": "13800138000\r"}}, "customer.phone"),
    ({"customer": {"name": "王芳", "phone": "1" * 33}}, "customer.phone"),
    ({"channel": "web", "channel_details": {"page_url": "https://x/\u0007"}}, "channel_details.page_url"),
    ({"channel": "web", "channel_details": {"page_url": "u" * 301}}, "channel_details.page_url"),
    ({"demand": "d" * 2_001}, "demand"),
    ({"language": ["zh"]}, "language"),
]


def test_a_filing_with_a_hostile_value_is_refused_naming_the_field_and_stores_nothing(client: TestClient) -> None:
    # Given an empty system
    for overrides, field in HOSTILE_FILINGS:
        # When a complaint carries a value of the wrong type, out of range, too long, or with a control character
        response = client.post("/api/complaints", json=complaint_body(**overrides), headers=CLERK)
        # Then it is refused, naming the field
        assert response.status_code == 422, (overrides, response.text)
        assert field in fields_of(response), (overrides, response.text)
    # And intake stored nothing
    assert intake_events(client) == 0


def test_text_is_stored_nfc_normalised_with_its_line_breaks(client: TestClient) -> None:
    # Given a description typed with a combining accent and Windows line breaks
    case = file(client, description="Cafe\u0301 的手镯\r\n断了\t两次")
    # When it is read back
    record = client.get(f"/api/complaints/{case['case_id']}", headers=CLERK).json()
    # Then it is one composed character and plain newlines
    assert record["description"] == "Caf\u00e9 的手镯\n断了\t两次"


OUT_OF_BOUNDS_PAGES = [
    "/api/queues/frontline?offset=9223372036854775808",
    "/api/queues/frontline?offset=1000001",
    "/api/queues/frontline?limit=501",
    "/api/library?offset=9223372036854775808",
    "/api/routing/queues/frontline?offset=99999999999999999999",
    "/api/routing/people/SH-001-F1/queue?offset=9223372036854775808",
    f"/api/recalls/campaigns/{UNKNOWN_CASE}/notices?offset=9223372036854775808",
]
INSTANT_PARAMETERS = [
    ("/api/statistics/summary?from=", "from"),
    ("/api/statistics/summary?to=", "to"),
    ("/api/statistics/export.csv?from=", "from"),
    ("/api/warnings?at=", "at"),
    (f"/api/cases/{UNKNOWN_CASE}?as_of=", "as_of"),
    (f"/api/cases/{UNKNOWN_CASE}/timeline?as_of=", "as_of"),
]


def test_an_offset_or_limit_out_of_bounds_is_refused_naming_it(client: TestClient) -> None:
    for path in OUT_OF_BOUNDS_PAGES:
        # When a page is asked for far beyond what a list can hold
        response = client.get(path)
        # Then 422 names the parameter (the database never sees it)
        assert response.status_code == 422, (path, response.text)
        assert fields_of(response) & {"offset", "limit"}, (path, response.text)


def test_a_row_id_beyond_64_bits_is_refused_naming_it(client: TestClient) -> None:
    # When an admin replays a parked message by an id no database integer can hold
    response = client.post("/api/parked/intake/99999999999999999999999/replay", headers=staff_headers("ADM-1", "admin"))
    # Then 422 names the id
    assert response.status_code == 422 and fields_of(response) == {"parked_id"}


def test_an_instant_outside_the_sane_range_is_refused_naming_the_parameter(client: TestClient) -> None:
    for moment in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1999-12-31T23:00:00Z"):
        for path, field in INSTANT_PARAMETERS:
            # When an instant lies before 2000 or after 2100 (year 1 and 9999 overflowed once a zone was applied)
            response = client.get(path + moment.replace("+", "%2B"))
            # Then 422 names the parameter
            assert response.status_code == 422, (path, moment, response.text)
            assert fields_of(response) == {field}


def test_a_task_due_in_year_9999_is_refused(client: TestClient) -> None:
    # When a task is planned with a due date past the sane range
    response = client.post(
        f"/api/resolution/cases/{UNKNOWN_CASE}/tasks",
        json={"kind": "inspection", "owner": "QA-1", "description": "检验", "due_at": "9999-12-31T23:59:59+08:00"},
    )
    # Then the instant is refused before the case is even looked up
    assert response.status_code == 422 and "due_at" in fields_of(response)


def test_the_public_pages_answer_non_ascii_contacts_and_tokens_with_404_or_422(client: TestClient) -> None:
    # Given a complaint on file
    case = file(client, customer={"name": "王芳", "phone": "13800138000"})
    wait_until(lambda: client.get(f"/api/cases/{case['case_id']}").status_code == 200)
    public = f"/api/public/cases/{case['case_number']}"
    for contact in ("１２３４", "ü@é.com", "王芳", "8000\u0000", "\u202e0008"):
        # When a stranger looks it up with a contact in another script, or with control characters
        response = client.get(public, params={"contact": contact}, headers={})
        # Then it is not found (or refused), never an error
        assert response.status_code in (404, 422), (contact, response.text)
    for token in ("é" * 10, "令牌" * 8, "\u0000abc", "a" * 65):
        # When the customer pages receive a token in another script (or too long)
        answer = f"/api/public/cases/{case['case_id']}/answer"
        survey = f"/api/public/cases/{case['case_id']}/survey"
        answered = client.post(answer, json={"token": token, "answer": "accept"}, headers={})
        surveyed = client.post(survey, json={"token": token, "score": 5}, headers={})
        # Then each is refused or not found, never an error
        assert answered.status_code in (404, 422), (token, answered.text)
        assert surveyed.status_code in (404, 422), (token, surveyed.text)


def test_a_return_asked_for_with_dates_out_of_range_is_refused(client: TestClient) -> None:
    # When a return names a purchase in year 9999 (adding the return window to it overflowed)
    response = client.post(
        f"/api/cases/{UNKNOWN_CASE}/returns",
        json={"kind": "return", "reason": "quality", "purchased_on": "9999-12-31"},
    )
    # Then the day is refused, naming it
    assert response.status_code == 422 and "purchased_on" in fields_of(response)
