"""The one permission policy: every operation, the roles that may use it and the data scope it is checked on.

The table is data (config/permissions.yaml, validated here); ``Reach`` says how far a role sees (its own store,
its region, its merchant's shop, or everything). Aggregates keep only business rules (tiers, four-eyes,
self-approval); who may call an operation at all, and on which cases, is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from shared.access.principal import Principal
from shared.configfiles import load_config
from shared.vocabulary import Role


class Reach(StrEnum):
    """How far a role sees: the cases of its own store(s), its region(s), its mall shop, or all."""

    STORE = "store"
    REGION = "region"
    MERCHANT = "merchant"
    ALL = "all"


class Scope(StrEnum):
    """What an operation's data is checked against.

    ``case``: the case named in the path (``case_id``, or a return request's case) must be within the caller's
    reach, else 404; ``reach``: the route filters or checks what it returns by the caller's reach itself;
    ``all``: chain-wide data with no per-store rows (recall campaigns, the library, keys); ``public``: no sign-in
    (customer pages, health, sign-in itself).
    """

    CASE = "case"
    REACH = "reach"
    ALL = "all"
    PUBLIC = "public"


@dataclass(frozen=True)
class CaseScope:
    """Where a case belongs: its store (and so region) and, for a mall tenant, its merchant."""

    store_id: str
    merchant_id: str | None = None


class Operation(BaseModel):
    """One route's entry: who may use it and what it is scoped by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: frozenset[Role] = frozenset()
    scope: Scope

    @model_validator(mode="after")
    def _roles_unless_public(self) -> Operation:
        if self.scope is Scope.PUBLIC and self.roles:
            raise ValueError("a public operation names no roles")
        if self.scope is not Scope.PUBLIC and not self.roles:
            raise ValueError("an operation that needs sign-in names the roles that may use it")
        return self


class PermissionPolicy(BaseModel):
    """config/permissions.yaml: role groups, each role's reach and every operation (``METHOD /path``)."""

    model_config = ConfigDict(extra="forbid")

    reach: dict[Role, Reach]
    groups: dict[str, list[str]]
    operations: dict[str, Operation]

    @model_validator(mode="before")
    @classmethod
    def _expand_groups(cls, data: dict) -> dict:
        """Operations name roles or groups (``@managers``); groups may name groups defined above them."""
        groups: dict[str, list[str]] = {}
        for name, members in (data.get("groups") or {}).items():
            groups[name] = _expand(members, groups)
        data = {**data, "groups": groups}
        operations = {}
        for key, entry in (data.get("operations") or {}).items():
            entry = dict(entry or {})
            entry["roles"] = _expand(entry.get("roles") or [], groups)
            operations[key] = entry
        data["operations"] = operations
        return data

    @classmethod
    def load(cls, config_dir: Path) -> PermissionPolicy:
        """The policy in ``config_dir/permissions.yaml``."""
        return load_config(config_dir / "permissions.yaml", cls)

    def operation(self, method: str, path: str) -> Operation | None:
        """The entry for a route, by its method and path template; None when the policy does not name it."""
        return self.operations.get(f"{method.upper()} {path}")

    def reach_of(self, principal: Principal) -> Reach:
        """How far ``principal`` sees; a role the table does not name sees nothing beyond its own store(s)."""
        return self.reach.get(principal.role, Reach.STORE)

    def within(self, principal: Principal, case: CaseScope, region_of: dict[str, str]) -> bool:
        """Whether a case belongs to what ``principal`` may see (``region_of``: store id → region)."""
        reach = self.reach_of(principal)
        if reach is Reach.ALL:
            return True
        if reach is Reach.REGION:
            return region_of.get(case.store_id) in principal.regions or case.store_id in principal.stores
        if reach is Reach.MERCHANT:
            return case.merchant_id is not None and case.merchant_id == principal.merchant
        return case.store_id in principal.stores

    def stores_within(self, principal: Principal, region_of: dict[str, str]) -> frozenset[str] | None:
        """The stores ``principal`` sees (None: every store). A merchant sees the mall stores of its shop only
        through its cases, so here it sees none."""
        reach = self.reach_of(principal)
        if reach is Reach.ALL:
            return None
        if reach is Reach.REGION:
            return frozenset(s for s, r in region_of.items() if r in principal.regions) | set(principal.stores)
        if reach is Reach.MERCHANT:
            return frozenset()
        return frozenset(principal.stores)


def _expand(members: Iterable[str], groups: dict[str, list[str]]) -> list[str]:
    roles: list[str] = []
    for member in members:
        if member.startswith("@"):
            if member[1:] not in groups:
                raise ValueError(f"unknown role group {member!r}; defined: {', '.join(groups)}")
            roles += groups[member[1:]]
        else:
            roles.append(member)
    return sorted(set(roles))
