"""NATS credentials: every service connects as its own user and may publish only its own subjects.

The session's NATS server (tests/conftest.py) runs with the users and permissions ``ombud up`` gives its
child server, so every integration and end-to-end test also proves the services need no more than that.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.errors import Error as NatsError
from pydantic import SecretStr

from services.system import SERVICES, build_service
from shared.bus import Bus
from shared.clock import ManualClock
from shared.natsauth import (
    ADMIN,
    DURABLES,
    SERVICE_USERS,
    connect_options,
    distributed_users_conf,
    embedded_passwords,
    password_variable,
    server_config,
    write_config,
)
from shared.natsserver import free_port, nats_server_binary
from shared.settings import REPO_ROOT, Settings
from tests.support import wait_until
from tests.tlscerts import issue


@pytest.fixture
def store() -> str:
    return "sqlite"  # credentials do not depend on the store


@pytest.fixture
def settings(make_settings: Callable[..., Settings], nats_url: str, stream_name: str) -> Settings:
    return make_settings(nats_url=nats_url, stream_name=stream_name)


async def connected_as(settings: Settings, service: str, errors: list[str]) -> Any:
    async def record(error: Exception) -> None:
        errors.append(str(error))

    return await nats.connect(
        settings.nats_url, allow_reconnect=False, error_cb=record, **connect_options(settings, service)
    )


async def stream_subjects(settings: Settings) -> list[str]:
    nc = await nats.connect(settings.nats_url, **connect_options(settings, ADMIN))
    try:
        js = nc.jetstream()
        state = (await js.stream_info(settings.stream_name)).state
        sequences = range(state.first_seq, state.last_seq + 1) if state.messages else range(0)
        return [(await js.get_msg(settings.stream_name, seq)).subject for seq in sequences]
    finally:
        await nc.close()


def test_a_service_may_publish_its_own_subjects_and_not_another_services(settings: Settings) -> None:
    async def scenario() -> list[str]:
        bus = Bus(settings, "routing")  # creates the stream, as the routing worker does
        assert await bus.connect(asyncio.Event())
        try:
            await bus.js.publish("ombud.routing.ComplaintTriaged", b"{}", timeout=2)
            # A forged intake event: the server refuses it, so JetStream never answers
            with pytest.raises((NatsError, TimeoutError)):
                await bus.js.publish("ombud.intake.ComplaintReceived", b"{}", timeout=1)
        finally:
            await bus.close()
        return await stream_subjects(settings)

    assert asyncio.run(scenario()) == ["ombud.routing.ComplaintTriaged"]


def test_a_service_may_not_read_another_services_consumer_nor_listen_to_the_bus(settings: Settings) -> None:
    async def scenario() -> list[str]:
        errors: list[str] = []
        nc = await connected_as(settings, "routing", errors)
        try:
            await nc.subscribe("ombud.>")  # a plain subscription to every event
            await nc.subscribe("_INBOX.intake.>")  # intake's replies and fetched messages
            await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{settings.stream_name}.intake-policy", b"1")
            await nc.publish(f"$JS.API.STREAM.DELETE.{settings.stream_name}", b"")
            await nc.flush()
            await asyncio.sleep(0.3)
        finally:
            await nc.close()
        return errors

    errors = " | ".join(asyncio.run(scenario())).lower()
    for refused in ('subscription to "ombud.>"', '"_inbox.intake.>"', "intake-policy", "stream.delete"):
        assert refused in errors, errors


@pytest.mark.parametrize("options", [{}, {"user": "intake", "password": "not-the-password"}])
def test_a_client_without_valid_credentials_cannot_connect(settings: Settings, options: dict[str, str]) -> None:
    async def scenario() -> None:
        await nats.connect(settings.nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
                           **options)  # fmt: skip

    with pytest.raises(NatsError, match="Authorization Violation"):
        asyncio.run(scenario())


def test_every_durable_consumer_a_service_runs_is_in_its_permissions(settings: Settings) -> None:
    for name in SERVICES:
        service = build_service(name, settings, ManualClock())
        try:
            assert {s.durable for s in service.subscriptions} <= set(DURABLES[name]), name
        finally:
            service.shutdown()


def test_the_shipped_users_files_are_the_permission_table() -> None:
    assert (REPO_ROOT / "deploy/nats/users.conf").read_text() == distributed_users_conf()
    nats_config = next(yaml.safe_load_all((REPO_ROOT / "deploy/k8s/20-nats.yaml").read_text()))
    assert nats_config["data"]["users.conf"] == distributed_users_conf()
    assert "include ./users.conf" in nats_config["data"]["nats.conf"]


def test_the_shipped_nats_configuration_admits_each_service_with_its_own_password(tmp_path: Path) -> None:
    # Given deploy/nats/users.conf on a server whose environment holds the services' passwords
    (tmp_path / "users.conf").write_text((REPO_ROOT / "deploy/nats/users.conf").read_text())
    port = free_port()
    (tmp_path / "server.conf").write_text(
        f'listen: 127.0.0.1:{port}\njetstream {{ store_dir: "{tmp_path / "js"}" }}\ninclude ./users.conf\n'
    )
    passwords = {user: secrets.token_urlsafe(24) for user in SERVICE_USERS}
    env = {**os.environ, **{password_variable(user): password for user, password in passwords.items()}}
    server = subprocess.Popen([nats_server_binary(), "-c", str(tmp_path / "server.conf")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(lambda: _listening(port))
        # When intake connects as a distributed process does: its own password, nothing generated
        settings = Settings(mode="distributed", nats_url=f"nats://127.0.0.1:{port}",
                            nats_password=SecretStr(passwords["intake"]), stream_name="OMBUD")  # fmt: skip

        async def scenario() -> None:
            bus = Bus(settings, "intake")
            assert await bus.connect(asyncio.Event())
            await bus.js.publish("ombud.intake.ComplaintReceived", b"{}", timeout=2)
            await bus.close()
            wrong = Settings(**{**settings.model_dump(), "nats_password": SecretStr(passwords["routing"])})
            with pytest.raises(NatsError, match="Authorization Violation"):
                await nats.connect(wrong.nats_url, allow_reconnect=False, **connect_options(wrong, "intake"))

        # Then it works, and another service's password does not open intake's account
        asyncio.run(scenario())
    finally:
        server.terminate()
        server.wait(10)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_a_service_reaches_nats_over_mutual_tls_and_refuses_a_server_it_cannot_verify(tmp_path: Path) -> None:
    # Given a NATS that requires TLS with client certificates from the deployment's CA, and the usual users
    ca = issue(tmp_path / "tls", "ombud-ca")
    server_cert = issue(tmp_path / "tls", "nats", ca=ca, ip="127.0.0.1")
    client_cert = issue(tmp_path / "tls", "intake", ca=ca)
    port = free_port()
    settings = Settings(mode="embedded", data_dir=tmp_path, key_dir=tmp_path / "keys",
                        nats_url=f"tls://127.0.0.1:{port}", nats_tls_ca_file=ca.cert,
                        nats_tls_cert_file=client_cert.cert, nats_tls_key_file=client_cert.key)  # fmt: skip
    config = server_config(port, tmp_path / "js", embedded_passwords(settings))
    config["tls"] = {"cert_file": str(server_cert.cert), "key_file": str(server_cert.key),
                     "ca_file": str(ca.cert), "verify": True}  # fmt: skip
    write_config(tmp_path / "server.conf", config)
    server = subprocess.Popen([nats_server_binary(), "-c", str(tmp_path / "server.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(lambda: _listening(port))

        async def scenario() -> None:
            # When intake connects with its certificate and the CA
            bus = Bus(settings, "intake")
            assert await bus.connect(asyncio.Event())
            await bus.js.publish("ombud.intake.ComplaintReceived", b"{}", timeout=2)
            await bus.close()
            # Then it works; trusting another CA, the same client refuses the server
            stranger = issue(tmp_path / "other", "other-ca")
            doubting = Settings(**{**settings.model_dump(), "nats_tls_ca_file": stranger.cert})
            with pytest.raises(ssl.SSLCertVerificationError):
                await nats.connect(doubting.nats_url, allow_reconnect=False, max_reconnect_attempts=0,
                                   connect_timeout=2, **connect_options(doubting, "intake"))  # fmt: skip

        asyncio.run(scenario())
    finally:
        server.terminate()
        server.wait(10)
