"""The customer's public status lookup: limited per client and per client and case, shared by every process
(counts in intake's store), so a stranger cannot lock the real customer out, nor escape a limit by process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from services.intake.api.public import LOOKUPS, WRONG, WRONG_PER_CASE
from services.system import build_service
from shared.clock import ManualClock
from shared.contracts import Actor
from shared.runtime import Service, create_http_app
from shared.settings import Settings
from shared.vocabulary import Role
from tests.support import record

CLERK = Actor(id="SH-001-F1", role=Role.FRONTLINE)
CUSTOMER, STRANGER = "198.51.100.10", "203.0.113.66"


@pytest.fixture
def intakes(settings: Settings, clock: ManualClock) -> Iterator[list[Service]]:
    """Two intake processes over one store (as `ombud up`'s processes, or replicas behind a gateway)."""
    services = [build_service("intake", settings, clock) for _ in range(2)]
    yield services
    for service in services:
        service.shutdown()


def client(service: Service, settings: Settings, address: str) -> TestClient:
    """A client at ``address`` of one intake process (no lifespan: these tests need no NATS)."""
    return TestClient(create_http_app([service], settings, working=[]), client=(address, 50000))


@pytest.fixture
def number(intakes: list[Service]) -> str:
    """A filed case's number; its customer's phone ends in 8000."""
    return intakes[0].app.receive_complaint(record(channel="phone"), actor=CLERK).case_number


def look_up(http: TestClient, number: str, contact: str) -> int:
    return http.get(f"/api/public/cases/{number}", params={"contact": contact}).status_code


def test_a_strangers_wrong_guesses_do_not_lock_out_the_real_customer(
    intakes: list[Service], settings: Settings, number: str
) -> None:
    stranger, customer = client(intakes[0], settings, STRANGER), client(intakes[1], settings, CUSTOMER)
    # Given a stranger guessed this case's contact wrong until refused
    statuses = [look_up(stranger, number, f"{n:04d}") for n in range(WRONG_PER_CASE.count + 1)]
    assert statuses == [404] * WRONG_PER_CASE.count + [429]
    # Then the stranger is refused even the right answer, while the customer still gets their case
    assert look_up(stranger, number, "8000") == 429
    assert look_up(customer, number, "8000") == 200


def test_a_customers_own_wrong_answers_run_out_and_come_back_with_time(
    intakes: list[Service], settings: Settings, clock: ManualClock, number: str
) -> None:
    customer = client(intakes[0], settings, CUSTOMER)
    for _ in range(WRONG_PER_CASE.count):
        assert look_up(customer, number, "0000") == 404
    assert look_up(customer, number, "8000") == 429
    # the estimate slides: two windows later nothing of the earlier window is left
    clock.advance(2 * WRONG_PER_CASE.window)
    assert look_up(customer, number, "8000") == 200


def test_wrong_answers_across_many_cases_are_limited_per_client(
    intakes: list[Service], settings: Settings, number: str
) -> None:
    stranger = client(intakes[0], settings, STRANGER)
    numbers = [f"CMP-20000101-{i:06d}" for i in range(WRONG.count)]
    assert {look_up(stranger, n, "1234") for n in numbers} == {404}
    assert look_up(stranger, number, "8000") == 429  # a case it never guessed at
    assert look_up(client(intakes[0], settings, CUSTOMER), number, "8000") == 200


def test_the_per_client_limit_holds_across_processes_sharing_a_store(
    intakes: list[Service], settings: Settings, clock: ManualClock, number: str
) -> None:
    # Given a client spreads its lookups over two processes
    first, second = (client(service, settings, CUSTOMER) for service in intakes)
    half = LOOKUPS.count // 2
    assert {look_up(first, number, "8000") for _ in range(half)} == {200}
    assert {look_up(second, number, "8000") for _ in range(LOOKUPS.count - half)} == {200}
    # Then the next, in either process, is over the one limit they share
    assert look_up(first, number, "8000") == 429
    assert look_up(second, number, "8000") == 429
    # And another client is not affected; after the window the client may look again
    assert look_up(client(intakes[1], settings, STRANGER), number, "8000") == 200
    clock.advance(2 * LOOKUPS.window + timedelta(seconds=1))
    assert look_up(second, number, "8000") == 200


def test_behind_the_trusted_gateway_each_customer_counts_by_their_own_address(
    intakes: list[Service], make_settings: Callable[..., Settings], number: str
) -> None:
    # Given both requests come through the gateway, which appends the address each came from
    behind_gateway = make_settings(trusted_proxies=["10.0.0.0/8"])
    gateway = client(intakes[0], behind_gateway, "10.0.0.5")
    via = {"X-Forwarded-For": STRANGER}
    statuses = [gateway.get(f"/api/public/cases/{number}", params={"contact": "0000"}, headers=via).status_code
                for _ in range(WRONG_PER_CASE.count + 1)]  # fmt: skip
    assert statuses[-1] == 429
    # Then the customer, through the same gateway, is not held back by the stranger's guesses
    customer = {"X-Forwarded-For": CUSTOMER}
    assert gateway.get(f"/api/public/cases/{number}", params={"contact": "8000"}, headers=customer).status_code == 200


def test_a_forged_forwarded_address_does_not_escape_the_limit(
    intakes: list[Service], settings: Settings, number: str
) -> None:
    stranger = client(intakes[0], settings, STRANGER)
    statuses = [
        stranger.get(
            f"/api/public/cases/{number}", params={"contact": "0000"}, headers={"X-Forwarded-For": f"10.9.8.{n}"}
        ).status_code
        for n in range(WRONG_PER_CASE.count + 1)
    ]
    assert statuses[-1] == 429
