"""Ed25519 signatures over canonical JSON: checkpoints and exported bundles carry them."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.keys import signing_key_pem
from shared.settings import Settings

SIGNATURE_FIELDS = ("signature",)


def canonical(doc: dict[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_raw: bytes) -> str:
    """A short, stable name for a public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


class Signer:
    """Signs documents with the deployment's Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        self.public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        """The key in ``OMBUD_SIGNING_KEY_FILE``, else (embedded) one generated in the key folder on first use."""
        path, pem = signing_key_pem(settings)
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    def public_pem(self) -> bytes:
        """The public key as PEM, to hand to whoever verifies bundles offline."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` with ``key_id``, ``public_key`` and a ``signature`` over everything else."""
        signed = {**doc, "key_id": key_id(self.public_raw), "public_key": self.public_key_b64}
        signed["signature"] = base64.b64encode(self.private_key.sign(canonical(signed))).decode()
        return signed


def signature_problem(doc: dict[str, Any], trusted: bytes | None = None) -> str | None:
    """Why ``doc``'s signature does not hold (None if it does).

    ``trusted``: the raw or PEM public key the verifier trusts; without it the key in the document
    is used, which proves integrity but not who signed.
    """
    try:
        public_raw = base64.b64decode(doc["public_key"])
        signature = base64.b64decode(doc["signature"])
    except (KeyError, ValueError, TypeError):
        return "no signature"
    if trusted is not None:
        trusted_raw = _raw(trusted)
        if trusted_raw != public_raw:
            return f"signed by key {key_id(public_raw)}, not by the trusted key {key_id(trusted_raw)}"
    unsigned = {k: v for k, v in doc.items() if k not in SIGNATURE_FIELDS}
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, canonical(unsigned))
    except (InvalidSignature, ValueError):
        return "signature does not match the content"
    return None


def _raw(key: bytes) -> bytes:
    if key.startswith(b"-----BEGIN"):
        public = serialization.load_pem_public_key(key)
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key
