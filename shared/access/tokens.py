"""Bearer tokens (JWT): one verification path for Ombud's own identity provider and a chain's OIDC provider.

Embedded, Ombud signs its own tokens with the install's Ed25519 key; with OIDC the chain's provider signs them
and the keys come from its JWKS URL (cached, refetched on an unknown key id). Either way the same claims are
checked — issuer, audience, expiry and not-before with a small leeway — by PyJWT, never by hand.
Token lifetimes are wall-clock security properties, so they are checked on the system clock, not the
injected business clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from shared.access.principal import Principal
from shared.errors import Unauthenticated
from shared.keys import auth_key_pem, new_ed25519_pem
from shared.settings import Settings
from shared.vocabulary import Role

EMBEDDED_ISSUER = "ombud"
ALGORITHMS_OIDC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]
MAX_TOKEN_CHARS = 8192
# Verified tokens remembered (their principal and expiry), per process.
VERIFIED_CACHE = 10_000


def new_signing_key() -> bytes:
    """A fresh Ed25519 private key as PEM (the embedded identity provider's key)."""
    return new_ed25519_pem()


def embedded_key(settings: Settings) -> Ed25519PrivateKey:
    """The install's token-signing key: ``auth_key_file`` if set, else generated once in the key folder."""
    path, pem = auth_key_pem(settings)
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: the token-signing key must be an Ed25519 private key")
    return key


class TokenIssuer:
    """Ombud's own identity provider: signs short-lived tokens for staff and service accounts."""

    def __init__(self, settings: Settings) -> None:
        self.key = embedded_key(settings)
        self.audience = settings.auth_audience
        self.ttl = settings.auth_token_ttl_seconds

    def issue(self, principal: Principal, ttl: int | None = None) -> tuple[str, int]:
        """A signed token for ``principal`` and its lifetime in seconds."""
        lifetime = ttl or self.ttl
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": EMBEDDED_ISSUER,
            "aud": self.audience,
            "sub": principal.id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "roles": [principal.role.value],
            "stores": list(principal.stores),
            "regions": list(principal.regions),
            "kind": principal.kind,
        }
        if principal.merchant:
            claims["merchant"] = principal.merchant
        return jwt.encode(claims, self.key, algorithm="EdDSA"), lifetime


class TokenVerifier:
    """Turns a bearer token into a ``Principal``, or raises ``Unauthenticated`` saying why."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.leeway = settings.auth_leeway_seconds
        self._verified: dict[str, tuple[Principal, float]] = {}
        if settings.auth_mode == "oidc":
            if not (settings.oidc_issuer and settings.oidc_jwks_url):
                raise ValueError("OMBUD_AUTH_MODE=oidc needs OMBUD_OIDC_ISSUER and OMBUD_OIDC_JWKS_URL")
            self.issuer = settings.oidc_issuer
            self.audience = settings.oidc_audience or settings.auth_audience
            self.jwks = jwt.PyJWKClient(
                settings.oidc_jwks_url, cache_keys=True, lifespan=settings.oidc_jwks_cache_seconds
            )
            self.algorithms = ALGORITHMS_OIDC
        else:
            self.issuer = EMBEDDED_ISSUER
            self.audience = settings.auth_audience
            self.public_key = embedded_key(settings).public_key()
            self.algorithms = ["EdDSA"]

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; 401 for a missing, malformed, forged, expired or foreign token.

        A token verified once is remembered until it expires: a client sends the same token with every
        request, and checking its signature each time cost a few per cent of a complaint's filing.
        """
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise Unauthenticated("a bearer token is required (Authorization: Bearer …)")
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()  # rare: more live tokens than the cache holds; start again
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            key: Any = (
                self.jwks.get_signing_key_from_jwt(token).key if self.settings.auth_mode == "oidc" else self.public_key
            )
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("the token has expired; sign in again") from error
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
            raise Unauthenticated(f"invalid token: {error}") from error
        return self.principal(claims), float(claims["exp"]) + self.leeway

    def principal(self, claims: dict[str, Any]) -> Principal:
        """Map the provider's claims (names configurable) onto a principal; an unknown role is 401."""
        s = self.settings
        roles = _strings(claims.get(s.auth_claim_roles))
        try:
            return Principal(
                id=str(claims.get(s.auth_claim_user) or ""),
                role=_first_known_role(roles),
                stores=tuple(_strings(claims.get(s.auth_claim_stores))),
                regions=tuple(_strings(claims.get(s.auth_claim_regions))),
                merchant=claims.get("merchant") if isinstance(claims.get("merchant"), str) else None,
                kind="service" if claims.get("kind") == "service" else "staff",
            )
        except (ValidationError, ValueError) as error:
            raise Unauthenticated(f"the token does not name a known user and role: {error}") from error


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []


def _first_known_role(roles: list[str]) -> Role:
    for role in roles:
        if role in Role._value2member_map_ and role not in (Role.SYSTEM, Role.CUSTOMER):
            return Role(role)
    raise ValueError(f"no staff role among {roles[:5]}")
