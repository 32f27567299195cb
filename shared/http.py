"""The HTTP shell shared by every service: one FastAPI app, error mapping, body limit, health."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.access.guard import current_principal, record_refusal
from shared.clock import SystemClock
from shared.contracts import Actor
from shared.errors import Forbidden, InvalidTransition, InvalidValue, NotFound, Unauthenticated

_QUOTED = re.compile(r"'([^']*)'")


def service_part(service: str, part: str = "app") -> Callable[[Request], Any]:
    """A FastAPI dependency giving a part (``app``, ``views``) of a service run by this process."""

    # async: a plain def dependency would cost every request a hop through the thread pool.
    async def dependency(request: Request) -> Any:
        return getattr(request.app.state.services[service], part)

    dependency.__name__ = f"get_{service}_{part}"
    return dependency


def now(request: Request) -> datetime:
    """The current time on the injected clock of the services this process runs (the system clock if none)."""
    services = getattr(request.app.state, "services", {})
    apps = [getattr(service, "app", None) for service in services.values()]
    clock = next((app.clock for app in apps if app is not None), SystemClock())
    return clock.now()


def read_model(name: str, service: str = "feedback") -> Callable[[Request], Any]:
    """A FastAPI dependency giving one read model (projection) of a service run by this process."""

    async def dependency(request: Request) -> Any:
        return request.app.state.services[service].read_models[name]

    dependency.__name__ = f"get_{name}"
    return dependency


async def request_actor(request: Request) -> Actor:
    """The staff member making the request, as their verified token says (``shared.access.guard.authorize``).

    Headers a client writes never make an identity: the actor on every event comes from the token.
    """
    return (await current_principal(request)).actor()


RequestActor = Annotated[Actor, Depends(request_actor)]


class Problem(BaseModel):
    """One bad field: its dotted name, what is wrong, and the allowed values where it is a code."""

    field: str
    message: str
    allowed: list[str] | None = None


class Problems(BaseModel):
    detail: list[Problem]


class Refusal(BaseModel):
    detail: str


def _error(model: type[BaseModel], description: str) -> dict[str, Any]:
    # Errors are JSON even on routes whose own answer is HTML, CSV or PEM: say so beside the route's media type.
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }


# The answers any route may give besides its own (declared once for every route, so the OpenAPI schema, and
# the API fuzzing test that holds responses to it, know them).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error(Refusal, "the body is not valid JSON"),
    401: _error(Refusal, "no valid bearer token"),
    403: _error(Refusal, "the permission policy or a business rule refuses the caller"),
    404: _error(Refusal, "unknown, or outside the caller's reach"),
    409: _error(Refusal, "not allowed in the current state"),
    413: _error(Refusal, "request body too large"),
    422: _error(Problems, "invalid input: each field, what is wrong, the allowed values"),
    429: _error(Refusal, "too many requests; try later"),
}


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    """422 listing each bad field, its message and, for codes, the allowed values."""
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        problem: dict[str, Any] = {"field": ".".join(location) or "body", "message": error.get("msg", "")}
        expected = (error.get("ctx") or {}).get("expected")
        if error.get("type") in ("enum", "literal_error") and expected:
            problem["allowed"] = _QUOTED.findall(str(expected))
        problems.append(problem)
    return JSONResponse(status_code=422, content={"detail": problems})


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to 401/403/404/409/422 problem bodies."""

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(InvalidValue)
    async def _invalid_value(_: Request, exc: InvalidValue) -> JSONResponse:
        problem: dict[str, Any] = {"field": exc.field, "message": exc.message}
        if exc.allowed is not None:
            problem["allowed"] = exc.allowed
        return JSONResponse(status_code=422, content={"detail": [problem]})

    for error, status in ((InvalidTransition, 409), (NotFound, 404)):
        app.add_exception_handler(error, _plain(status))
    # Every 401 and 403, the policy's or a business rule's, is where an auditor reads it.
    app.add_exception_handler(Unauthenticated, _recorded(401, "unauthenticated"))
    app.add_exception_handler(Forbidden, _recorded(403, "forbidden"))


def _recorded(status: int, kind: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        await record_refusal(request, kind, str(exc))
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handler


def _plain(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handler


class CorrelationId:
    """ASGI middleware: every request gets a correlation id (the caller's ``X-Correlation-ID`` if it
    is a UUID), bound to the logs and echoed in the response.

    Plain ASGI rather than ``@app.middleware("http")``, whose per-request task costs a lot under load.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-correlation-id", b"")
        try:
            correlation = str(uuid.UUID(given.decode("latin-1")))
        except ValueError:
            correlation = str(uuid.uuid4())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation)
        scope.setdefault("state", {})["correlation_id"] = correlation

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-correlation-id", correlation.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before any handler runs.

    ``larger`` raises the limit for the paths matching a regular expression (whole path), e.g. file uploads.
    """

    # Room for the multipart boundaries, part headers and small form fields around an uploaded file.
    MULTIPART_OVERHEAD = 64 * 1024

    def __init__(
        self, app: Callable[..., Awaitable[None]], max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in (larger or {}).items()]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = next((limit for path, limit in self.larger if path.fullmatch(scope["path"])), self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._too_large(send, max_bytes)
            return
        # Read the whole body first, so a chunked upload that grows past the limit is refused too.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > max_bytes:
                await self._too_large(send, max_bytes)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any, max_bytes: int) -> None:
        body = b'{"detail":"request body exceeds %d bytes"}' % max_bytes
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
