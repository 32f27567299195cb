"""The start-up check of a process's secrets: all present and none a published value, or no start at all.

A distributed process (``OMBUD_MODE=distributed``, the default outside ``ombud``) gets every key from its
environment or a mounted secret file. Were one missing, the process would either invent its own (and every
replica would seal with another master key) or fall back to a value anybody can read in this repository; so
``require_secrets`` names each missing, malformed or known value and the process exits before it serves a
request. Embedded, the same call makes the install's keys (``shared.keys.ensure_embedded_keys``).
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from shared.keys import LEGACY_BLIND_INDEX_KEY, blind_index_key, configured, ensure_embedded_keys
from shared.natsauth import tls_context
from shared.settings import Settings

log = structlog.get_logger()

# Values that were built in or appear as examples in docker-compose.yml, deploy/ or docs/: never a real secret.
KNOWN_VALUES = frozenset(
    {
        LEGACY_BLIND_INDEX_KEY,
        b"ombud-embedded-customer-token-key",
        b"CHANGE-ME",
        b"CHANGE-ME-base64-of-32-bytes",
        b"ombud",
        b"secret",
        b"password",
        base64.b64encode(bytes(32)),  # 32 zero bytes
    }
)
# Words that mark a placeholder however it is spelled around them.
PLACEHOLDER_WORDS = (b"change-me", b"changeme", b"change_me", b"placeholder", b"replace-me", b"example")
MIN_SECRET_BYTES = 16

HOW = {
    "OMBUD_MASTER_KEY": "openssl rand -base64 32",
    "OMBUD_BLIND_INDEX_KEY": "openssl rand -base64 32",
    "OMBUD_SIGNING_KEY_FILE": "openssl genpkey -algorithm ed25519 -out signing.pem",
    "OMBUD_AUTH_KEY_FILE": "openssl genpkey -algorithm ed25519 -out auth.pem",
    "OMBUD_NATS_PASSWORD": "openssl rand -base64 24 (and the same in the NATS server's configuration)",
}


class SecretsRefused(SystemExit):
    """The process may not start: the message lists every problem with the secrets and how to fix it."""


def is_known_value(value: bytes) -> bool:
    """Whether ``value`` is a built-in default, a published example or a placeholder."""
    lowered = value.strip().lower()
    return value.strip() in KNOWN_VALUES or lowered in {v.lower() for v in KNOWN_VALUES} or any(
        word in lowered for word in PLACEHOLDER_WORDS
    )


def problems(settings: Settings) -> list[str]:
    """What is wrong with a distributed process's secrets (empty when all is well)."""
    found = [
        _secret("OMBUD_MASTER_KEY", settings.master_key, settings.master_key_file, _master_shape),
        _secret("OMBUD_BLIND_INDEX_KEY", settings.blind_index_key, settings.blind_index_key_file, _long),
        _pem("OMBUD_SIGNING_KEY_FILE", settings.signing_key_file),
        _secret("OMBUD_NATS_PASSWORD", settings.nats_password, settings.nats_password_file, _long),
    ]
    if settings.auth_mode == "embedded":
        found.append(_pem("OMBUD_AUTH_KEY_FILE", settings.auth_key_file))
    found.append(_tls(settings))
    return [problem for problem in found if problem]


def require_secrets(settings: Settings) -> None:
    """Refuse to start (``SecretsRefused``) when distributed and a secret is missing, malformed or known; when
    embedded, make whatever keys the install does not have yet."""
    if settings.mode == "embedded":
        folder = ensure_embedded_keys(settings)
        log.info("keys.embedded", key_dir=str(folder))
        if blind_index_key(settings) == LEGACY_BLIND_INDEX_KEY:
            log.warning(
                "keys.legacy_blind_index_key",
                advice="this install's customer ids were derived with Ombud's former built-in blind-index key, which "
                "is public; it is kept so that earlier customers still match. Anyone holding its events can test "
                "phone numbers against them: move to a fresh install to leave it behind (docs/deployment.md, "
                "'Upgrading an embedded install').",
            )
        return
    found = problems(settings)
    if found:
        lines = "\n".join(f"  - {problem}" for problem in found)
        raise SecretsRefused(
            f"Ombud (distributed mode) refuses to start:\n{lines}\n"
            "Set each from your secret store (docs/deployment.md, 'Keys and secrets'); OMBUD_MODE=embedded is only "
            "for `ombud up`, which generates its own keys."
        )


def _secret(name: str, value: SecretStr | None, file: Path | None, shape: Callable[[bytes], str | None]) -> str | None:
    try:
        given = configured(value, file)
    except OSError as error:
        return f"{name}_FILE cannot be read ({error.strerror}: {file})"
    if given is None:
        return f"{name} (or {name}_FILE) is not set; generate one with: {HOW[name]}"
    if is_known_value(given):
        return f"{name} is a built-in default or a published example value; generate one with: {HOW[name]}"
    wrong = shape(given)
    return f"{name} {wrong}; generate one with: {HOW[name]}" if wrong else None


def _tls(settings: Settings) -> str | None:
    try:
        tls_context(settings)
    except (OSError, ssl.SSLError) as error:
        return f"the NATS TLS files (OMBUD_NATS_TLS_CA_FILE, _CERT_FILE, _KEY_FILE) cannot be used: {error}"
    return None


def _master_shape(value: bytes) -> str | None:
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        return "is not base64"
    if len(key) != 32:
        return f"decodes to {len(key)} bytes, not 32"
    if is_known_value(base64.b64encode(key)) or len(set(key)) < 8:
        return "is not random"
    return None


def _long(value: bytes) -> str | None:
    return None if len(value) >= MIN_SECRET_BYTES else f"is shorter than {MIN_SECRET_BYTES} characters"


def _pem(name: str, file: Path | None) -> str | None:
    if file is None:
        return f"{name} is not set; make the key with: {HOW[name]}"
    try:
        key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    except OSError as error:
        return f"{name} cannot be read ({error.strerror}: {file})"
    except (ValueError, TypeError):
        return f"{name} ({file}) is not an unencrypted PEM private key; make one with: {HOW[name]}"
    return None if isinstance(key, Ed25519PrivateKey) else f"{name} ({file}) is not an Ed25519 key"
