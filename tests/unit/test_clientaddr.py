"""X-Forwarded-For is believed only from the configured proxies."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from shared.clientaddr import client_address
from shared.settings import Settings


def request(peer: str, forwarded: list[str], trusted: list[str]) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(settings=Settings(trusted_proxies=trusted)))
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 50000), "headers": headers, "app": app})


def test_a_client_that_is_no_trusted_proxy_cannot_choose_its_address() -> None:
    assert client_address(request("203.0.113.9", ["198.51.100.1"], trusted=["10.0.0.0/8"])) == "203.0.113.9"


def test_without_trusted_proxies_the_header_is_ignored_even_from_localhost() -> None:
    assert client_address(request("127.0.0.1", ["198.51.100.1"], trusted=[])) == "127.0.0.1"


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_client() -> None:
    # The client wrote a forged first hop; the gateway appended the address it really came from.
    forged = request("10.0.0.5", ["1.2.3.4, 198.51.100.7"], trusted=["10.0.0.0/8"])
    assert client_address(forged) == "198.51.100.7"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    chained = request("10.0.0.5", ["198.51.100.7", "10.1.1.1"], trusted=["10.0.0.0/8", "192.0.2.1"])
    assert client_address(chained) == "198.51.100.7"


def test_a_trusted_proxy_without_the_header_is_itself_the_client() -> None:
    assert client_address(request("10.0.0.5", [], trusted=["10.0.0.5"])) == "10.0.0.5"


def test_trusted_proxies_come_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMBUD_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]


def test_a_mistyped_proxy_stops_the_start() -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies=["10.0.0.300"])
