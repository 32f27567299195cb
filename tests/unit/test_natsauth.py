"""NATS connection options: each service's user, its own inbox prefix, its password, TLS when configured."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.natsauth import MONITOR, SERVICE_USERS, connect_options, permissions, server_config, tls_context
from shared.settings import Settings
from tests.tlscerts import issue


def test_each_service_connects_as_itself_with_its_own_inbox(tmp_path: Path) -> None:
    settings = Settings(mode="embedded", data_dir=tmp_path, key_dir=tmp_path / "keys")
    options = {service: connect_options(settings, service) for service in SERVICE_USERS}
    assert {o["user"] for o in options.values()} == set(SERVICE_USERS)
    assert len({o["password"] for o in options.values()}) == len(SERVICE_USERS)
    assert options["routing"]["inbox_prefix"] == "_INBOX.routing"
    assert connect_options(settings, None)["user"] == MONITOR


def test_a_distributed_process_uses_the_password_it_was_given_and_generates_none(tmp_path: Path) -> None:
    settings = Settings(mode="distributed", data_dir=tmp_path, nats_password=SecretStr("s3cret-from-the-vault"))
    assert connect_options(settings, "intake")["password"] == "s3cret-from-the-vault"
    assert not (tmp_path / "keys").exists()


def test_a_service_publishes_only_under_its_own_name() -> None:
    allowed = permissions("routing")
    assert [s for s in allowed.publish if s.startswith("ombud.")] == ["ombud.routing.>"]
    assert not any("intake" in subject for subject in allowed.publish + allowed.subscribe)


def test_the_embedded_server_admits_no_anonymous_client(tmp_path: Path) -> None:
    config = server_config(4222, tmp_path, {"intake": "pw"})
    assert [u["user"] for u in config["authorization"]["users"]] == ["intake"]
    assert "no_auth_user" not in config and config["host"] == "127.0.0.1"


def test_no_tls_unless_configured() -> None:
    assert tls_context(Settings()) is None
    assert "tls" not in connect_options(Settings(mode="embedded"), "intake")


def test_tls_trusts_the_configured_ca_and_presents_a_client_certificate(tmp_path: Path) -> None:
    ca = issue(tmp_path, "ombud-test")
    context = tls_context(Settings(nats_tls_ca_file=ca.cert, nats_tls_cert_file=ca.cert, nats_tls_key_file=ca.key))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "ombud-test"),),)]


def test_a_missing_tls_file_stops_the_connection_early(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        tls_context(Settings(nats_tls_ca_file=tmp_path / "missing.pem"))
