"""What every HTTP response carries for the browser's sake: security headers and the CORS policy.

Ombud's pages (the record form, the audit report, the public case status) are plain HTML from this
origin: nothing needs inline script, a frame or another origin's resources, so the policy is the
strictest that still renders them. Headers a handler set itself are left alone (a handler knows
better, e.g. ``Content-Disposition`` on a download).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from shared.clientaddr import is_trusted, trusted_networks
from shared.settings import Settings

# 'unsafe-inline' styles only: the HTML pages style themselves with a <style> block; no script runs anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# FastAPI's /docs page loads its script and styles from a CDN; it is a developer tool, kept usable.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)
_DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=31536000; includeSubDomains"
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """ASGI middleware: CSP, nosniff, no referrer and no framing on every response; HSTS over https.

    Over https means the request reached this process over TLS, or came from one of ``OMBUD_TRUSTED_PROXIES``
    saying ``X-Forwarded-Proto: https`` (uvicorn runs without proxy headers: a client's own header counts for
    nothing).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.proxies = trusted_networks(tuple(trusted_proxies))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, self._guarded(scope, send) if scope["type"] == "http" else send)

    def _over_https(self, scope: dict[str, Any]) -> bool:
        if scope.get("scheme") == "https":
            return True
        peer = (scope.get("client") or ("",))[0]
        proto = dict(scope.get("headers") or []).get(b"x-forwarded-proto", b"")
        return proto.strip().lower() == b"https" and is_trusted(peer, self.proxies)

    def _guarded(self, scope: dict[str, Any], send: Any) -> Callable[[dict[str, Any]], Awaitable[None]]:
        policy = _DOCS_POLICY if scope.get("path", "").startswith(_DOCS_PATHS) else CONTENT_SECURITY_POLICY
        extra = [*_ALWAYS, (b"content-security-policy", policy.encode())]
        if self._over_https(scope):
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [(name, value) for name, value in extra if name not in present]
            await send(message)

        return send_with_headers


def install_web_guard(http: FastAPI, settings: Settings) -> None:
    """Add the security headers and, if ``settings.cors_origins`` names any, the CORS policy for them.

    No origin is allowed by default: Ombud's own pages are same-origin, and a browser app elsewhere must
    be named explicitly (credentials are sent as bearer tokens, never cookies).
    """
    origins = list(settings.cors_origins)
    if origins:
        http.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-ID"],
            expose_headers=["Location", "X-Correlation-ID"],
            max_age=600,
        )
    http.add_middleware(SecurityHeaders, trusted_proxies=settings.trusted_proxies)
