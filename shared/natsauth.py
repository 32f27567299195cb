"""Who may do what on NATS: one user per service, each publishing only its own subjects.

Every service connects as its own user (``intake``, ``routing``, ``resolution``, ``feedback``). Its permissions
allow exactly what its relay and its durable pull consumers do:

* publish its own events, ``ombud.<service>.>``, and nothing under another service's subjects;
* the JetStream API calls of its relay (account info, stream info/create/update for ``ensure_stream``) and of
  its own durable consumers only (create, info, fetch the next batch) — not another service's consumers, not
  deleting or purging a stream;
* ack, nak and term messages of its own consumers (``$JS.ACK.<stream>.<durable>.>``);
* receive replies and fetched messages on its own inbox prefix, ``_INBOX.<user>.>`` (the client is told to use
  that prefix), so one service cannot read what is delivered to another.

A process that only serves HTTP connects as ``monitor`` (enough to say whether NATS answers). The stream token
is a wildcard because the stream's name is configurable (``OMBUD_STREAM_NAME``). deploy/nats/*.conf carry the
same table for the distributed deployment; ``server_config`` renders it for the embedded child server.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.keys import configured, load_or_create
from shared.settings import Settings

SERVICE_USERS = ("intake", "routing", "resolution", "feedback")
MONITOR = "monitor"
# Only for tests and operators' tooling: may do anything. ``ombud up`` does not create it.
ADMIN = "admin"
# The durable consumers each service runs (shared/runtime.py names a service's policy consumer
# "<service>-policy"; services/system.py adds feedback's read-model consumer).
DURABLES: dict[str, tuple[str, ...]] = {
    "intake": ("intake-policy",),
    "routing": ("routing-policy",),
    "resolution": ("resolution-policy",),
    "feedback": ("feedback-policy", "feedback-views"),
}


@dataclass(frozen=True)
class Permissions:
    """The subjects a user may publish to and subscribe to (NATS wildcards)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def permissions(user: str) -> Permissions:
    """What ``user`` may do on the bus (``ADMIN``: everything)."""
    inbox = (f"_INBOX.{user}.>",)
    if user == ADMIN:
        return Permissions(publish=(">",), subscribe=(">",))
    if user == MONITOR:
        return Permissions(publish=("$JS.API.INFO",), subscribe=inbox)
    if user not in DURABLES:
        raise ValueError(f"no NATS permissions defined for user {user!r}")
    publish = [
        f"ombud.{user}.>",
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.CREATE.*",
        "$JS.API.STREAM.UPDATE.*",
    ]
    for durable in DURABLES[user]:
        publish += [
            f"$JS.API.CONSUMER.DURABLE.CREATE.*.{durable}",
            f"$JS.API.CONSUMER.CREATE.*.{durable}",
            f"$JS.API.CONSUMER.CREATE.*.{durable}.>",
            f"$JS.API.CONSUMER.INFO.*.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.*.{durable}",
            f"$JS.ACK.*.{durable}.>",
        ]
    return Permissions(publish=tuple(publish), subscribe=inbox)


def embedded_password(settings: Settings, user: str) -> str:
    """The generated password of ``user`` in the key folder (made on first use, 0600)."""
    path = settings.key_path(f"nats-{user}.password")
    return load_or_create(path, lambda: secrets.token_urlsafe(32).encode()).decode()


def embedded_passwords(settings: Settings, users: Iterable[str] = (*SERVICE_USERS, MONITOR)) -> dict[str, str]:
    """Every listed user's generated password (what the embedded child server is configured with)."""
    return {user: embedded_password(settings, user) for user in users}


def user_for(settings: Settings, service: str | None) -> str:
    """The NATS user a connection made for ``service`` (None: HTTP only) uses: ``OMBUD_NATS_USER`` if set."""
    return settings.nats_user or service or MONITOR


def connect_options(settings: Settings, service: str | None) -> dict[str, Any]:
    """The credentials, inbox prefix and TLS context to pass to ``nats.connect`` for ``service``.

    The password is ``OMBUD_NATS_PASSWORD[_FILE]``, else (embedded) the generated one. Distributed without a
    password the connection is anonymous, which a server configured as deploy/nats/*.conf refuses; the process
    never gets there, as ``shared.secrets.require_secrets`` refuses to start it first.
    """
    user = user_for(settings, service)
    options: dict[str, Any] = {"inbox_prefix": f"_INBOX.{user}"}
    password = configured(settings.nats_password, settings.nats_password_file)
    if password is None and settings.mode == "embedded":
        password = embedded_password(settings, user).encode()
    if password is not None:
        options.update(user=user, password=password.decode())
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context when a CA or a client certificate is configured (None: plain, or the system's trust
    store when the URL says ``tls://``)."""
    if not (settings.nats_tls_ca_file or settings.nats_tls_cert_file):
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.nats_tls_cert_file:
        key = settings.nats_tls_key_file
        context.load_cert_chain(str(settings.nats_tls_cert_file), str(key) if key else None)
    return context


def server_config(
    port: int, store_dir: Path, passwords: Mapping[str, str], host: str = "127.0.0.1"
) -> dict[str, Any]:
    """The embedded ``nats-server``'s configuration: JetStream in ``store_dir`` and one user per entry of
    ``passwords``, each with its ``permissions``; nobody connects without a password."""
    users = []
    for user, password in passwords.items():
        allowed = permissions(user)
        users.append(
            {
                "user": user,
                "password": password,
                "permissions": {
                    "publish": {"allow": list(allowed.publish)},
                    "subscribe": {"allow": list(allowed.subscribe)},
                },
            }
        )
    return {
        "host": host,
        "port": port,
        "jetstream": {"store_dir": str(store_dir)},
        "authorization": {"users": users},
    }


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Write a server configuration (it holds passwords: mode 0600). nats-server reads JSON as its own format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent=2)
    os.chmod(path, 0o600)
    return path


def password_variable(user: str) -> str:
    """The environment variable holding ``user``'s password on a distributed NATS server (deploy/nats/*.conf)."""
    return f"OMBUD_NATS_{user.upper()}_PASSWORD"


def distributed_users_conf() -> str:
    """deploy/nats/users.conf: the services' users and permissions for a distributed deployment; each password is
    read by nats-server from its environment (an unquoted ``$NAME`` in its configuration format)."""
    lines = [
        "# The Ombud services' NATS users and what each may do (docs/deployment.md, 'NATS users').",
        "# Generated from shared/natsauth.py by `python -m shared.natsauth`: change it there (a test compares).",
        "# Each password comes from the server's environment: OMBUD_NATS_<SERVICE>_PASSWORD.",
        "authorization {",
        "  users = [",
    ]
    for user in SERVICE_USERS:
        allowed = permissions(user)
        lines += [
            "    {",
            f"      user: {user}",
            f"      password: ${password_variable(user)}",
            "      permissions: {",
            f"        publish: {{ allow: {json.dumps(list(allowed.publish))} }}",
            f"        subscribe: {{ allow: {json.dumps(list(allowed.subscribe))} }}",
            "      }",
            "    }",
        ]
    return "\n".join([*lines, "  ]", "}", ""])


if __name__ == "__main__":
    print(distributed_users_conf(), end="")
