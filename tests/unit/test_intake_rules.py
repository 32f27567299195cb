"""Intake's rules: Given (events or past cases) / When (a command) / Then (events or a named error)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.application import project_aggregate

from services.intake.domain import Complaint, ComplaintRecord, ContactSource, PastCase, find_repeat
from services.intake.domain.rules import NuisanceRule, RepeatRule
from shared.contracts import Actor
from shared.errors import InvalidTransition, InvalidValue
from shared.vocabulary import Role
from tests.unit.helpers import NOW, context

RULE = RepeatRule(window_days=30)
NUISANCE = NuisanceRule(flags_to_block=3, window_days=30)
MANAGER = Actor(id="SH-001-M1", role=Role.CS_MANAGER, store="SH-001")


def past(days_ago: float, order: str | None = None, category: str | None = None) -> PastCase:
    return PastCase(uuid4(), f"CMP-{days_ago}", order, category, NOW - timedelta(days=days_ago))


def new(order: str | None = None, category: str | None = None) -> PastCase:
    return PastCase(uuid4(), "CMP-NEW", order, category, NOW)


class TestRepeat:
    @pytest.mark.parametrize(("days", "repeat"), [(29, True), (30, True), (30.0001, False), (31, False)])
    def test_window_edges(self, days: float, repeat: bool) -> None:
        earlier = past(days, order="ORD-1")
        found = find_repeat(new(order="ORD-1"), [earlier], RULE)
        assert (found is not None) is repeat

    def test_same_order_or_same_category_and_the_most_recent_wins(self) -> None:
        by_category, by_order, other = past(20, category="price"), past(5, order="ORD-1"), past(1, category="delivery")
        found = find_repeat(new(order="ORD-1", category="price"), [by_category, by_order, other], RULE)
        assert found is not None and (found.case, found.basis, found.days_apart) == (by_order, "same_order", 5)
        found = find_repeat(new(category="price"), [by_category, other], RULE)
        assert found is not None and (found.case, found.basis) == (by_category, "same_category")

    def test_nothing_in_common_is_no_repeat(self) -> None:
        assert find_repeat(new(order="ORD-2", category="price"), [past(3, "ORD-1", "delivery")], RULE) is None


def source_with(flags_days_ago: list[float], blocked: bool = False) -> ContactSource:
    """Given a source flagged at those times (and maybe blocked)."""
    customer_id = uuid4()
    source = ContactSource.open(context(), customer_id)
    for days in flags_days_ago:
        source._record(ContactSource.SourceFlagged, context(at=NOW - timedelta(days=days)), case_id="c", reason="骂人")
    if blocked:
        source._record(ContactSource.SourceBlocked, context(), flags=3, window_days=30)
    return project_aggregate(None, source.collect_events())


class TestNuisance:
    def test_flags_below_the_threshold_do_not_block(self) -> None:
        source = source_with([1])
        source.flag(context(), case_id=uuid4(), reason="辱骂客服", rule=NUISANCE)
        assert [type(e).__name__ for e in source.collect_events()] == ["SourceFlagged"]

    def test_the_flag_that_reaches_the_threshold_blocks(self) -> None:
        source = source_with([10, 1])
        source.flag(context(), case_id=uuid4(), reason="辱骂客服", rule=NUISANCE)
        _, blocked = source.collect_events()
        assert (type(blocked).__name__, blocked.flags, blocked.window_days) == ("SourceBlocked", 3, 30)

    @pytest.mark.parametrize(("oldest", "blocks"), [(30, True), (30.0001, False)])
    def test_only_flags_within_the_window_count(self, oldest: float, blocks: bool) -> None:
        source = source_with([oldest, 1])
        source.flag(context(), case_id=uuid4(), reason="x", rule=NUISANCE)
        assert source.blocked is blocks

    def test_a_manager_unblocks_with_a_reason_and_old_flags_stop_counting(self) -> None:
        source = source_with([3, 2, 1], blocked=True)
        source.unblock(context().model_copy(update={"actor": MANAGER}), "客户已道歉")
        assert not source.blocked
        source.flag(context(at=NOW + timedelta(minutes=1)), case_id=uuid4(), reason="x", rule=NUISANCE)
        assert not source.blocked

    def test_unblocking_needs_a_reason_and_unblocking_twice_is_refused(self) -> None:
        source = source_with([3, 2, 1], blocked=True)
        with pytest.raises(InvalidValue, match="reason"):
            source.unblock(context().model_copy(update={"actor": MANAGER}), " ")
        source.unblock(context().model_copy(update={"actor": MANAGER}), "ok")
        with pytest.raises(InvalidTransition, match="not blocked"):
            source.unblock(context().model_copy(update={"actor": MANAGER}), "again")

    def test_a_refused_attempt_is_recorded_only_for_a_blocked_source(self) -> None:
        with pytest.raises(InvalidTransition):
            source_with([1]).refuse(context(), "phone")
        blocked = source_with([3, 2, 1], blocked=True)
        blocked.refuse(context(), "phone")
        assert [type(e).__name__ for e in blocked.collect_events()] == ["IntakeRefused"]


def complaint(**overrides: Any) -> Complaint:
    """Given a received complaint (its events applied)."""
    record = ComplaintRecord.model_validate(
        {
            "channel": "phone",
            "store_id": "SH-001",
            "customer": {"name": "王芳", "phone": "13800138000"},
            "description": "手镯断了",
            "order_id": "ORD-1",
            **overrides,
        }
    )
    received = Complaint.receive(
        context(), record, customer_id=uuid4(), assign_number=lambda: "CMP-1", seal=lambda f, t: f"sealed:{f}"
    )
    return project_aggregate(None, received.collect_events())


def seal(field: str, text: str) -> str:
    return f"sealed:{field}:{len(text)}"


class TestRecordKeeping:
    def test_read_back_is_confirmed_once(self) -> None:
        case = complaint()
        case.confirm_read_back(context(), "客户确认无误")
        [event] = case.collect_events()
        assert (type(event).__name__, event.note) == ("ReadBackConfirmed", "客户确认无误")
        with pytest.raises(InvalidTransition, match="already confirmed"):
            case.confirm_read_back(context())

    def test_a_correction_keeps_old_and_new_values_and_why(self) -> None:
        case = complaint()
        case.amend(
            context(),
            kind="correction",
            reason="订单号记错",
            changes={"order_id": "ORD-2", "amount_paid": "99.50"},
            seal=seal,
        )
        [event] = case.collect_events()
        assert event.changes["order_id"] == {"from": "ORD-1", "to": "ORD-2"}
        assert event.changed_fields == ["amount_paid", "order_id"]
        assert case.order_id == "ORD-2"

    def test_a_new_contact_is_sealed_and_a_new_description_masked(self) -> None:
        case = complaint()
        case.amend(
            context(),
            kind="supplement",
            reason="客户补充",
            changes={"customer": {"name": "王芳", "phone": "13900139000"}, "description": "另有划痕，电话13900139000"},
            seal=seal,
        )
        [event] = case.collect_events()
        assert event.changed_fields == ["customer", "description"]
        assert event.changes["description"]["to"] == "另有划痕，电话[phone]"
        assert event.changes["customer_sealed"]["to"].startswith("sealed:customer")
        assert "13900139000" not in repr(vars(event))

    @pytest.mark.parametrize(
        ("changes", "message"),
        [({"channel": "web"}, "cannot change channel"), ({"order_id": "ORD-1"}, "nothing differs"), ({}, "nothing")],
    )
    def test_refuses_what_cannot_be_amended(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(InvalidValue, match=message):
            complaint().amend(context(), kind="correction", reason="x", changes=changes, seal=seal)

    def test_withdrawal_ends_the_record(self) -> None:
        case = complaint()
        case.withdraw(context(), "已与门店协商解决")
        [event] = case.collect_events()
        assert event.reason == "已与门店协商解决"
        for command in (
            lambda: case.confirm_read_back(context()),
            lambda: case.amend(context(), kind="correction", reason="x", changes={"sku": "S"}, seal=seal),
            lambda: case.withdraw(context(), "again"),
        ):
            with pytest.raises(InvalidTransition, match="withdrawn"):
                command()

    def test_the_same_evidence_is_attached_once(self) -> None:
        case = complaint()
        digest = "a" * 64
        assert case.attach_evidence(
            context(), sha256=digest, media_type="image/png", size=10, filename="p.png", note=None
        )
        assert not case.attach_evidence(
            context(), sha256=digest, media_type="image/png", size=10, filename=None, note=None
        )
        assert [type(e).__name__ for e in case.collect_events()] == ["EvidenceAttached"]

    def test_a_repeat_is_linked_once(self) -> None:
        case = complaint()
        earlier = uuid4()
        case.link_repeat(
            context(), earlier_case_id=earlier, earlier_case_number="CMP-0", basis="same_order", days_apart=3
        )
        case.link_repeat(
            context(), earlier_case_id=uuid4(), earlier_case_number="CMP-9", basis="same_order", days_apart=1
        )
        [event] = case.collect_events()
        assert (event.earlier_case_id, event.basis) == (earlier, "same_order")
