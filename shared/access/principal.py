"""The verified caller of a request: a staff member or a service account, with the stores and regions they reach."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Actor
from shared.vocabulary import Role


class Principal(BaseModel):
    """Who a verified token says the caller is. Never built from anything a client writes unsigned."""

    model_config = ConfigDict(frozen=True)

    # Printable ASCII without spaces (an identity provider's subject may hold "|" or ":"), as long as an actor's id.
    id: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")
    role: Role
    stores: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    # A mall tenant's merchant id (role ``merchant``): only cases about its own shop.
    merchant: str | None = None
    kind: Literal["staff", "service"] = "staff"

    def actor(self) -> Actor:
        """The actor recorded on the events this caller causes."""
        return Actor(id=self.id, role=self.role, store=self.stores[0] if len(self.stores) == 1 else None)
