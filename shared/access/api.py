"""Sign-in (Ombud's own identity provider), who the token says you are, and the access log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shared.access.guard import Access, CurrentAccess, CurrentPrincipal
from shared.access.principal import Principal
from shared.bounds import Instant
from shared.clientaddr import client_address
from shared.masterdata import StaffMember
from shared.vocabulary import Role

router = APIRouter(prefix="/api", tags=["identity"])

# Failed sign-ins: an account slows down after 5 in 15 minutes, a client address after 20 (a password spray).
ACCOUNT_FAILURES, CLIENT_FAILURES, FAILURE_WINDOW = 5, 20, timedelta(minutes=15)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    id: str
    role: Role
    stores: list[str]
    regions: list[str]
    merchant: str | None
    kind: str


class AccessEvent(BaseModel):
    at: datetime
    kind: str
    subject: str | None
    role: str | None
    operation: str | None
    detail: dict[str, str]


class AccessLog(BaseModel):
    events: list[AccessEvent]


def staff_principal(access: Access, member: StaffMember) -> Principal:
    """A master-data staff member as a principal: a scope that names a region reaches that region, ``*`` all."""
    scope = member.scope.strip()
    regions = (scope,) if scope in set(access.region_of.values()) else ()
    stores = (scope,) if scope in access.region_of else ()
    return Principal(id=member.staff_id, role=member.role, stores=stores, regions=regions)


@router.post("/auth/token", response_model=TokenOut, responses={401: {}, 429: {}})
async def sign_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request) -> JSONResponse | TokenOut:
    """Sign in with a staff id and password (OAuth2 password form) → a short-lived bearer token.

    Failed attempts slow down per account and per client address; every attempt is in the access log.
    """
    access: Access = request.app.state.access
    if access.issuer is None:
        return JSONResponse(status_code=404, content={"detail": "sign in with the chain's identity provider"})
    return await run_in_threadpool(_sign_in, access, form.username.strip(), form.password, _client(request))


def _sign_in(access: Access, username: str, password: str, client: str) -> JSONResponse | TokenOut:
    store = access.store
    account, address = f"account:{username[:64]}", f"client:{client}"
    if (
        store.recent_failures(account, FAILURE_WINDOW) >= ACCOUNT_FAILURES
        or store.recent_failures(address, FAILURE_WINDOW) >= CLIENT_FAILURES
    ):
        store.record("sign_in_throttled", username[:64], None, "POST /api/auth/token", client=client)
        return JSONResponse(
            status_code=429,
            headers={"Retry-After": str(int(FAILURE_WINDOW.total_seconds()))},
            content={"detail": "too many failed sign-ins; wait 15 minutes or ask an administrator"},
        )
    member = access.staff.get(username)
    if not store.check_password(username, password) or member is None:
        store.record_failure(account, address)
        store.record("sign_in_refused", username[:64], None, "POST /api/auth/token", client=client)
        return JSONResponse(status_code=401, content={"detail": "wrong staff id or password"})
    store.clear_failures(account)
    principal = staff_principal(access, member)
    assert access.issuer is not None
    token, lifetime = access.issuer.issue(principal)
    store.record("signed_in", principal.id, principal.role.value, "POST /api/auth/token", client=client)
    return TokenOut(access_token=token, expires_in=lifetime)


@router.get("/auth/me", response_model=Me)
async def me(principal: CurrentPrincipal) -> Me:
    """Who the bearer token says you are: id, role, the stores and regions you reach."""
    return Me(
        id=principal.id,
        role=principal.role,
        stores=list(principal.stores),
        regions=list(principal.regions),
        merchant=principal.merchant,
        kind=principal.kind,
    )


@router.get("/access-log", response_model=AccessLog)
def access_log(
    access: CurrentAccess,
    since: Instant | None = None,
    kind: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> AccessLog:
    """Sign-ins, refused sign-ins, tokens issued and every refusal (401, 403, and cases hidden as 404), newest
    first: for auditors."""
    rows = access.store.entries(since, kind, limit, offset)
    return AccessLog(
        events=[AccessEvent(**{**row, "detail": {k: str(v) for k, v in row["detail"].items()}}) for row in rows]
    )


def _client(request: Request) -> str:
    return client_address(request)  # X-Forwarded-For only from OMBUD_TRUSTED_PROXIES
