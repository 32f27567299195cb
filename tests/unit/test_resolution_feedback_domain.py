"""Resolution and Acknowledgement: Given nothing / When the policy's command / Then the event."""

from __future__ import annotations

from uuid import uuid4

from services.feedback.domain import Acknowledgement, RejectionExplanation
from services.resolution.domain import Resolution
from tests.unit.helpers import context


def test_resolution_opened_carries_category_and_severity() -> None:
    case_id = uuid4()
    resolution = Resolution.open(uuid4(), context(case_id, "resolution"), category="price", severity="urgent")
    [event] = resolution.collect_events()
    assert type(event).__name__ == "ResolutionOpened"
    assert (event.category, event.severity, event.envelope["case_id"]) == ("price", "urgent", str(case_id))


def test_acknowledgement_prepared_in_the_customers_language() -> None:
    ack = Acknowledgement.prepare(
        uuid4(), context(service="feedback"), case_number="CMP-20261125-000007", language="en"
    )
    [event] = ack.collect_events()
    assert (event.case_number, event.language, event.template) == ("CMP-20261125-000007", "en", "acknowledgement")


def test_acknowledgement_falls_back_to_chinese_for_unknown_language() -> None:
    ack = Acknowledgement.prepare(uuid4(), context(service="feedback"), case_number="CMP-1", language="fr")
    assert ack.collect_events()[0].language == "zh"


def test_rejection_explained_politely_with_the_reason_in_the_customers_language() -> None:
    # Given a complaint found not well-founded / When feedback prepares the explanation
    explanation = RejectionExplanation.prepare(
        uuid4(), context(service="feedback"), case_number="CMP-1", language="en", reason="outside the warranty period"
    )
    # Then the explanation carries the reason and the rejection template
    [event] = explanation.collect_events()
    assert type(event).__name__ == "RejectionExplained"
    assert (event.language, event.reason, event.template) == ("en", "outside the warranty period", "rejection")
