"""The install's secret keys: where each comes from, generated per install when embedded.

Four keys protect an install (docs/deployment.md lists them with how to make each):

* the **master key** wraps every customer's data key (``shared.privacy``);
* the **blind-index key** turns contacts into pseudonymous customer ids and lookup hashes;
* the **signing key** (Ed25519) signs audit checkpoints and bundles;
* the **token-signing key** (Ed25519) signs the embedded identity provider's bearer tokens.

Embedded (``ombud up``) each is generated on first use into the key folder (mode 0700, files 0600);
distributed, each must come from the environment or a secret file, and ``shared.secrets`` refuses to
start a process without them. The generated NATS passwords of the embedded system live in the same
folder (``shared.natsauth``).
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from shared.settings import Settings

log = structlog.get_logger()

# The blind-index key every install used before keys were generated per install (it was a built-in default, and
# published). An existing install keeps it (see ``blind_index_key``), a distributed one may never use it.
LEGACY_BLIND_INDEX_KEY = b"ombud-embedded-blind-index-key"
MASTER_FILE, BLIND_INDEX_FILE, SIGNING_FILE, AUTH_FILE = "master.key", "blind-index.key", "signing.pem", "auth.pem"


class MissingSecret(RuntimeError):
    """A key a distributed process needs is not configured (the message names the variable to set)."""


def load_or_create(path: Path, create: Callable[[], bytes]) -> bytes:
    """The bytes in ``path``; if it does not exist, ``create()`` them and write the file (mode 0600) in a folder
    only its owner may enter (0700).

    Exclusive creation makes two processes starting together agree on one key.
    """
    secure_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _tighten(path, 0o600)
        return path.read_bytes()
    with os.fdopen(fd, "wb") as file:
        file.write(create())
    return path.read_bytes()


def secure_folder(folder: Path) -> None:
    """Create ``folder`` (0700), or take group and world access away from one made earlier with a looser mode."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(folder, 0o700)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        # Key folders made by earlier versions were 0755: nobody but the owner needs to read a key.
        os.chmod(path, mode)
        log.warning("keys.permissions_tightened", path=str(path), was=oct(current), now=oct(mode))


def new_ed25519_pem() -> bytes:
    """A fresh Ed25519 private key as PKCS#8 PEM (audit signing, token signing)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def configured(value: SecretStr | None, file: Path | None) -> bytes | None:
    """A secret given as a value (``OMBUD_X``) or as a file (``OMBUD_X_FILE``, e.g. a mounted Kubernetes or
    Docker secret); a trailing newline of the file is not part of it. None when neither is set."""
    if value is not None:
        return value.get_secret_value().strip().encode()
    if file is not None:
        return file.read_bytes().strip()
    return None


def _embedded_only(settings: Settings, variable: str) -> None:
    if settings.mode != "embedded":
        raise MissingSecret(f"{variable} (or {variable}_FILE) is required in distributed mode; see docs/deployment.md")


def master_key(settings: Settings) -> bytes:
    """The 32-byte key that wraps every data key: ``OMBUD_MASTER_KEY[_FILE]`` (base64), else (embedded) the
    generated key file (raw bytes, as earlier versions wrote it)."""
    given = configured(settings.master_key, settings.master_key_file)
    if given is not None:
        try:
            key = base64.b64decode(given, validate=True)
        except ValueError as error:
            raise ValueError("OMBUD_MASTER_KEY must be base64 (openssl rand -base64 32)") from error
    else:
        _embedded_only(settings, "OMBUD_MASTER_KEY")
        path = settings.key_path(MASTER_FILE)
        if not path.exists():
            blind_index_key(settings)  # a new install settles its blind-index key first: see there
        key = load_or_create(path, lambda: os.urandom(32))
    if len(key) != 32:
        raise ValueError("the master key must be 32 bytes (AES-256): openssl rand -base64 32")
    return key


def blind_index_key(settings: Settings) -> bytes:
    """The key of the blind index: ``OMBUD_BLIND_INDEX_KEY[_FILE]``, else (embedded) the generated key file.

    An install made before keys were generated per install derived its customer ids with the published
    default key; a new key would split every customer into two. So where the key folder has no blind-index
    key yet but the install is older than that, the old key is written into the file once: the install keeps
    working, and ``shared.secrets.require_secrets`` warns at every start that the key is known. Every earlier
    version wrote the master key file at its first start, so that file is the sign of an older install
    (``master_key`` settles this key before it makes a new master key).
    """
    given = configured(settings.blind_index_key, settings.blind_index_key_file)
    if given is not None:
        return given
    _embedded_only(settings, "OMBUD_BLIND_INDEX_KEY")
    path = settings.key_path(BLIND_INDEX_FILE)
    if not path.exists() and _has_data(settings):
        return load_or_create(path, lambda: LEGACY_BLIND_INDEX_KEY)
    return load_or_create(path, lambda: base64.b64encode(os.urandom(32)))


def _has_data(settings: Settings) -> bool:
    """Whether this embedded install existed before per-install blind-index keys."""
    return settings.key_path(MASTER_FILE).exists()


def signing_key_pem(settings: Settings) -> tuple[Path, bytes]:
    """The audit signing key (PEM) and where it came from: ``OMBUD_SIGNING_KEY_FILE``, else (embedded) generated."""
    return _ed25519_pem(settings, settings.signing_key_file, "OMBUD_SIGNING_KEY_FILE", SIGNING_FILE)


def auth_key_pem(settings: Settings) -> tuple[Path, bytes]:
    """The token-signing key (PEM) and where it came from: ``OMBUD_AUTH_KEY_FILE``, else (embedded) generated."""
    return _ed25519_pem(settings, settings.auth_key_file, "OMBUD_AUTH_KEY_FILE", AUTH_FILE)


def _ed25519_pem(settings: Settings, given: Path | None, variable: str, file_name: str) -> tuple[Path, bytes]:
    if given is not None:
        return given, given.read_bytes()
    _embedded_only(settings, variable)
    path = settings.key_path(file_name)
    return path, load_or_create(path, new_ed25519_pem)


def ensure_embedded_keys(settings: Settings) -> Path:
    """Make every key of an embedded install now (before its processes start) and return the key folder."""
    master_key(settings)
    blind_index_key(settings)
    signing_key_pem(settings)
    if settings.auth_mode == "embedded":
        auth_key_pem(settings)
    return settings.key_path(MASTER_FILE).parent
