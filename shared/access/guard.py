"""One dependency on every route: verify the bearer token, find the operation in the permission policy, check
the caller's role and, for a case, that it is within their reach.

A case outside the caller's reach answers 404, as an unknown one does (no existence leak); a case within
reach with a role the operation does not allow answers 403. Every refusal is written to the access log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from shared.access.policy import CaseScope, PermissionPolicy, Scope
from shared.access.principal import Principal
from shared.access.store import IdentityStore
from shared.access.tokens import TokenIssuer, TokenVerifier
from shared.errors import Forbidden, NotFound, Unauthenticated
from shared.masterdata import MasterData
from shared.settings import Settings

log = structlog.get_logger()

# Path parameters that name a case, or something that belongs to one (a return request).
CASE_PARAMETERS = ("case_id", "request_id")
CaseLocator = Callable[[UUID], CaseScope | None]


class Access:
    """The install's access control: token verification, the permission policy and the case locators of the
    services this process runs (each answers for the cases it knows)."""

    def __init__(self, settings: Settings, store: IdentityStore, locators: Sequence[CaseLocator] = ()) -> None:
        self.settings = settings
        self.policy = PermissionPolicy.load(settings.config_dir)
        self.verifier = TokenVerifier(settings)
        self.issuer = TokenIssuer(settings) if settings.auth_mode == "embedded" else None
        self.store = store
        self.locators = list(locators)
        master = MasterData.load(settings.master_data_dir)
        self.region_of = {store_id: s.region for store_id, s in master.stores.items()}
        self.staff = master.staff

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer …`` header (401 otherwise)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("sign in first: send Authorization: Bearer <token> (POST /api/auth/token)")
        return self.verifier.verify(token.strip())

    def case_scope(self, case_id: UUID) -> CaseScope | None:
        """Where the case (or the return request) ``case_id`` belongs, from the first service that knows it."""
        for locate in self.locators:
            found = locate(case_id)
            if found is not None:
                return found
        return None

    def within(self, principal: Principal, scope: CaseScope) -> bool:
        return self.policy.within(principal, scope, self.region_of)

    def stores_within(self, principal: Principal) -> frozenset[str] | None:
        """The stores ``principal`` may see (None: all)."""
        return self.policy.stores_within(principal, self.region_of)

    def sees(self, principal: Principal, case_id: UUID) -> bool:
        """Whether ``principal`` may see the case (one no service here knows: only who sees everything)."""
        scope = self.case_scope(case_id)
        if scope is None:
            return self.stores_within(principal) is None
        return self.within(principal, scope)

    def require_case(self, principal: Principal, case_id: UUID) -> UUID:
        """``case_id`` if ``principal`` may see it; 404 as for an unknown case otherwise."""
        if not self.sees(principal, case_id):
            raise NotFound(f"no case {case_id}")
        return case_id

    def require_queue(self, principal: Principal, queue: str) -> None:
        """404 for a team queue outside the caller's reach: ``team@STORE`` needs the store, ``team@REGION`` the
        region, a chain-wide queue (``hq_desk``) needs a caller who sees everything."""
        stores = self.stores_within(principal)
        _, _, where = queue.partition("@")
        if stores is None or (where and (where in stores or where in principal.regions)):
            return
        raise NotFound(f"no queue {queue!r}")

    def require_person(self, principal: Principal, staff_id: str) -> None:
        """404 for another person's queue unless their scope (master data) is within the caller's reach."""
        if staff_id == principal.id:
            return
        member = self.staff.get(staff_id)
        if member is None:
            if self.stores_within(principal) is None:
                return
            raise NotFound(f"no queue for {staff_id!r}")
        self.require_queue(principal, f"person@{member.scope}" if member.scope != "*" else "person")

    def narrow(self, principal: Principal, store: str | None, region: str | None) -> tuple[str | None, str | None]:
        """The store and region filters of a chain-wide read (statistics), narrowed to the caller's reach: a
        filter outside it is 403; none given means the caller's own store or region."""
        stores = self.stores_within(principal)
        if stores is None:
            return store, region
        if store is not None:
            self.require_store(principal, store)
            return store, region
        if region is not None and region in principal.regions:
            return None, region
        if region is None and len(principal.regions) == 1:
            return None, principal.regions[0]
        if region is None and len(principal.stores) == 1 and not principal.regions:
            return principal.stores[0], None
        raise Forbidden(f"choose a store or region within your reach: {', '.join(sorted(stores)[:20])}")

    def require_store(self, principal: Principal, store_id: str) -> None:
        """Refuse (403) work on a store outside ``principal``'s reach."""
        stores = self.stores_within(principal)
        if stores is not None and store_id not in stores:
            raise Forbidden(f"store {store_id!r} is outside what {principal.id} may work on")


async def authorize(request: Request) -> Principal | None:
    """The app-wide dependency: the caller as the policy lets them through, or an error (401/403/404)."""
    access: Access = request.app.state.access
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    key = f"{request.method} {path}"
    operation = access.policy.operation(request.method, path)
    if operation is None:
        # Fail closed: a route nobody wrote a policy for is nobody's (the policy test catches it first).
        raise Forbidden(f"{key} is not in the permission policy")
    if operation.scope is Scope.PUBLIC:
        return None
    principal = access.authenticate(request.headers.get("authorization"))
    # Known from here on, so a refusal (here or by a business rule later) is logged with who was refused.
    request.state.principal = principal
    if operation.scope is Scope.CASE:
        case_id = _case_parameter(request.path_params)
        scope = await run_in_threadpool(access.case_scope, case_id) if case_id else None
        if scope is not None and not access.within(principal, scope):
            await run_in_threadpool(
                access.store.record, "hidden", principal.id, principal.role.value, key, case=str(case_id)
            )
            raise NotFound(f"no case {case_id}")
    if principal.role not in operation.roles:
        allowed = ", ".join(sorted(operation.roles))
        raise Forbidden(f"role {principal.role.value!r} may not use {key} (allowed: {allowed})")
    return principal


async def record_refusal(request: Request, kind: str, reason: str) -> None:
    """Write a refusal (``unauthenticated``: 401, ``forbidden``: 403, the policy's or a business rule's) to the
    access log with who was refused, what and why."""
    access: Access | None = getattr(request.app.state, "access", None)
    if access is None:
        return
    principal: Principal | None = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    operation = f"{request.method} {getattr(route, 'path', request.url.path)}"
    subject, role = (principal.id, principal.role.value) if principal else (None, None)
    await run_in_threadpool(access.store.record, kind, subject, role, operation, reason=reason[:300])


def _case_parameter(params: dict[str, Any]) -> UUID | None:
    for name in CASE_PARAMETERS:
        if name in params:
            try:
                return UUID(str(params[name]))
            except ValueError:
                return None  # the route's own validation answers 422
    return None


# async, like every route dependency here: a plain ``def`` would cost each request a hop through the thread pool.
async def current_principal(request: Request) -> Principal:
    """The caller ``authorize`` let through (routes that need sign-in only)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthenticated("sign in first: send Authorization: Bearer <token>")
    return principal


async def current_access(request: Request) -> Access:
    return request.app.state.access


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentAccess = Annotated[Access, Depends(current_access)]
