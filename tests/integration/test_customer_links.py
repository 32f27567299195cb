"""The customer-link store on SQLite and on PostgreSQL: a link opens only its case, purpose and subject, until it
expires (a ManualClock moved past it) or an answer spends it; only its hash is ever stored."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from shared.clock import ManualClock
from shared.contracts import CustomerLinkIssued
from shared.customerlinks import CustomerLinks, IssuedLink, Purpose, mint, token_hash
from shared.eventstore import ServiceApplication
from shared.settings import Settings
from tests.integration.test_erasure_scan import store_contents

DAYS_30 = timedelta(days=30)


class Store(ServiceApplication):
    name = "linktest"


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[Store]:
    store = Store(settings, clock)
    yield store
    store.close()


@pytest.fixture
def surveys(app: Store) -> CustomerLinks:
    return CustomerLinks(app.side, Purpose.SURVEY)


def issued(link: IssuedLink, purpose: Purpose, subject: str) -> CustomerLinkIssued:
    return CustomerLinkIssued(message_event_id=uuid4(), token_id=link.token_id, token_hash=link.token_hash,
                              purpose=purpose.value, subject_id=subject, expires_at=link.expires_at)  # fmt: skip


def given_link(
    app: Store, links: CustomerLinks, case_id: UUID, subject: str = "1", purpose: Purpose = Purpose.SURVEY
) -> IssuedLink:
    link = mint(app.clock.now(), DAYS_30)
    app.side.script(links.writes_for_issued(case_id, issued(link, purpose, subject)))
    return link


def test_a_minted_token_is_random_url_safe_and_known_by_its_hash() -> None:
    now = ManualClock().now()
    first, second = mint(now, DAYS_30), mint(now, DAYS_30)
    assert first.token != second.token
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first.token)  # 24 random bytes: 192 bits
    assert first.token_hash == hashlib.sha256(first.token.encode()).hexdigest() == token_hash(f" {first.token}\n")
    assert (first.token_id, first.expires_at) == (first.token_hash[:16], now + DAYS_30)


def test_a_link_opens_its_own_case_and_subject_only(app: Store, surveys: CustomerLinks) -> None:
    case = uuid4()
    link = given_link(app, surveys, case, subject="1")
    now = app.clock.now()
    assert surveys.check(case, "1", link.token, now) == link.token_id
    assert surveys.check(uuid4(), "1", link.token, now) is None  # another case
    assert surveys.check(case, "2", link.token, now) is None  # another round
    assert surveys.check(case, "1", link.token[:-1] + ("A" if link.token[-1] != "A" else "B"), now) is None
    for junk in ("", "x" * 10_000, "令牌", "\ud800", link.token + "\x00"):
        assert surveys.check(case, "1", junk, now) is None


def test_a_link_of_another_purpose_opens_nothing(app: Store, surveys: CustomerLinks) -> None:
    # Given a proposal link issued for the same case and a subject "1" (proposal 1)
    case = uuid4()
    answers = CustomerLinks(app.side, Purpose.PROPOSAL_ANSWER)
    link = given_link(app, answers, case, subject="1", purpose=Purpose.PROPOSAL_ANSWER)
    # Then the survey store did not even keep it, and it does not open survey round 1
    assert surveys.writes_for_issued(case, issued(link, Purpose.PROPOSAL_ANSWER, "1")) == []
    assert surveys.check(case, "1", link.token, app.clock.now()) is None
    assert answers.check(case, "1", link.token, app.clock.now()) == link.token_id


def test_a_link_expires_on_the_clock(app: Store, surveys: CustomerLinks, clock: ManualClock) -> None:
    case = uuid4()
    link = given_link(app, surveys, case)
    clock.advance(DAYS_30 - timedelta(seconds=1))
    assert surveys.check(case, "1", link.token, clock.now()) == link.token_id
    clock.advance(timedelta(seconds=1))
    assert surveys.check(case, "1", link.token, clock.now()) is None


def test_an_answer_spends_every_link_to_its_subject_and_no_other(app: Store, surveys: CustomerLinks) -> None:
    # Given two links to round 1 (two survey attempts) and one to round 2
    case = uuid4()
    first, second = given_link(app, surveys, case), given_link(app, surveys, case)
    later = given_link(app, surveys, case, subject="2")
    # When round 1 is answered
    app.side.script(surveys.writes_for_spent(case, "1", app.clock.now()))
    # Then neither link to it opens it again; round 2's still does
    now = app.clock.now()
    assert surveys.check(case, "1", first.token, now) is None and surveys.check(case, "1", second.token, now) is None
    assert surveys.check(case, "2", later.token, now) == later.token_id


def test_a_redelivered_issue_changes_nothing(app: Store, surveys: CustomerLinks) -> None:
    case = uuid4()
    link = given_link(app, surveys, case)
    app.side.script(surveys.writes_for_spent(case, "1", app.clock.now()))
    app.side.script(surveys.writes_for_issued(case, issued(link, Purpose.SURVEY, "1")))  # the same message again
    assert surveys.check(case, "1", link.token, app.clock.now()) is None


def test_only_the_hash_is_stored(app: Store, surveys: CustomerLinks, settings: Settings) -> None:
    case = uuid4()
    links = [given_link(app, surveys, case) for _ in range(3)]
    app.side.script(surveys.writes_for_spent(case, "1", app.clock.now()))
    stored = store_contents(settings)
    assert all(link.token_hash.encode() in stored for link in links)
    assert not [link.token for link in links if link.token.encode() in stored]
