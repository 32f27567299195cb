"""Personal data that used to escape the seal, on SQLite and on PostgreSQL: free text in ``channel_details``,
amended descriptions (masked with the customer's own contact), evidence file names, and recall contacts, which a
customer's erasure now destroys as well. (Formatted tracebacks in logs: tests/unit/test_masking.py.)"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from services.resolution.application import ResolutionService
from shared.clock import ManualClock
from shared.contracts import Actor, Envelope, EventMessage
from shared.settings import Settings
from shared.vocabulary import Role
from tests.integration.test_privacy import CLERK, CUSTOMER, client, file, intake_of  # noqa: F401 - fixture
from tests.integration.test_recall_app import ANALYST, order_list, plan
from tests.unit.helpers import NOW
from tests.unit.test_evidence_store import png

PERSONAL = [CUSTOMER["name"], CUSTOMER["phone"], CUSTOMER["email"], CUSTOMER["address"]]


def stored_text(client: TestClient) -> str:
    """Everything intake's store holds in its events, decoded (JSON escapes undone)."""
    recorder = intake_of(client).recorder
    notifications = recorder.select_notifications(start=1, limit=10_000)
    raw = b"\n".join(n.state for n in notifications).decode("utf-8", errors="replace")
    return raw.encode().decode("unicode_escape", errors="replace") + raw


def test_free_text_channel_details_are_masked_and_identifiers_kept(client: TestClient) -> None:
    # Given an e-mail complaint whose subject names the customer and gives their number and address
    details = {"subject": f"{CUSTOMER['name']}投诉 13912345678 {CUSTOMER['address']}", "message_id": "<m-77@mx.shop.cn>"}
    # When it is filed
    view = file(client, channel="email", channel_details=details)
    # Then what staff see, what is stored and what is published carry the masked subject, the message id intact
    assert view["channel_details"] == {"subject": "[name]投诉 [phone] [address]", "message_id": "<m-77@mx.shop.cn>"}
    assert "[name]投诉" in stored_text(client)  # the scan reads what is stored
    for personal in PERSONAL:
        assert personal not in stored_text(client)


def test_an_amended_description_is_masked_with_the_customers_own_contact(client: TestClient) -> None:
    # Given a complaint on file
    case_id = file(client)["case_id"]
    # When the description is corrected with the customer's name, address and e-mail written in (no pattern
    # would find the name or the address)
    text = f"更正：{CUSTOMER['name']}住在{CUSTOMER['address']}，邮箱 LI.LEI@example.com"
    amended = client.post(
        f"/api/complaints/{case_id}/amendments",
        json={"kind": "correction", "reason": f"{CUSTOMER['name']}要求更正", "changes": {"description": text}},
        headers=CLERK,
    )
    # Then the new description and the reason are masked with that contact, and nothing personal is stored
    assert amended.status_code == 204, amended.text
    assert client.get(f"/api/complaints/{case_id}").json()["description"] == "更正：[name]住在[address]，邮箱 [email]"
    for personal in PERSONAL:
        assert personal not in stored_text(client)


def test_a_new_contact_given_in_an_amendment_is_masked_in_the_text_beside_it(client: TestClient) -> None:
    # Given a complaint on file
    case_id = file(client)["case_id"]
    # When the contact is corrected to another name and the description mentions it
    changes = {"customer": {"name": "韩梅梅", "phone": "13700001111"}, "demand": "韩梅梅要求退款"}
    amended = client.post(
        f"/api/complaints/{case_id}/amendments",
        json={"kind": "correction", "reason": "联系人记错", "changes": changes},
        headers=CLERK,
    )
    # Then the new name is masked too
    assert amended.status_code == 204, amended.text
    assert client.get(f"/api/complaints/{case_id}").json()["demand"] == "[name]要求退款"
    assert "韩梅梅" not in stored_text(client)


def test_an_evidence_file_name_is_masked_with_the_customers_contact(client: TestClient) -> None:
    # Given a complaint on file
    case_id = file(client)["case_id"]
    # When a photo named after the customer is attached
    files = {"file": (f"{CUSTOMER['name']}-13912345678.png", png(4, 4), "image/png")}
    uploaded = client.post(f"/api/cases/{case_id}/evidence", files=files, headers=CLERK)
    assert uploaded.status_code == 201, uploaded.text
    # Then its listed name is masked, and the name is nowhere in the store
    [item] = client.get(f"/api/cases/{case_id}/evidence", headers=CLERK).json()["evidence"]
    assert item["filename"] == "[name]-[phone].png"
    for personal in PERSONAL:
        assert personal not in stored_text(client)


def erased(customer_id: UUID, notification_id: int) -> EventMessage:
    """Intake's ``CustomerErased`` as resolution receives it."""
    envelope = Envelope(
        event_id=uuid4(), case_id=uuid4(), actor=Actor(id="HQ-L1", role=Role.LEGAL), occurred_at=NOW,
        recorded_at=NOW, correlation_id=uuid4(), service="intake",
    )  # fmt: skip
    payload = {"customer_id": str(customer_id), "approved_by": {"id": "HQ-L1", "role": "legal"}}
    return EventMessage(
        service="intake", notification_id=notification_id, type="CustomerErased", envelope=envelope, payload=payload
    )


def test_erasing_a_customer_destroys_their_recall_contacts_and_no_one_elses(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    # Given a launched recall that reached two customers
    resolution = ResolutionService(make_settings(), clock)
    try:
        campaign = resolution.plan_campaign(ANALYST, plan())
        resolution.launch_campaign(campaign.id, ANALYST)
        resolution.import_recall_customers(campaign.id, order_list(2), actor=ANALYST)
        first, second = (resolution.get_notice(UUID(row["notice_id"])) for row in resolution.list_notices(campaign.id))
        assert resolution._contact_of(first)["name"] and resolution._contact_of(second)["name"]
        # When intake erases the first customer (twice: each of their cases says so)
        assert resolution.handle(erased(first.customer_ref, 1))
        assert resolution.handle(erased(first.customer_ref, 2))
        # Then the first customer's contact is unreadable for good, the second's is not
        assert resolution._contact_of(first) == {}
        assert resolution._contact_of(second)["phone"]
        assert resolution.recall_keys.held(first.customer_ref) == []
        # And a redelivered message is a no-op
        assert resolution.handle(erased(first.customer_ref, 1)) is False
    finally:
        resolution.close()
