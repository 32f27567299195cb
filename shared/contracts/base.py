"""The envelope every event carries, the contract base and its registry (``CONTRACTS``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from shared.vocabulary import Role

SCHEMA_VERSION = 1
CONTRACTS: dict[str, type[Contract]] = {}


class Actor(BaseModel):
    """Who did it: a person (id, role, store) or a service acting by policy."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    role: Role
    store: str | None = None

    @classmethod
    def system(cls, service: str) -> Actor:
        return cls(id=f"ombud-{service}", role=Role.SYSTEM)


class Envelope(BaseModel):
    """What every stored event carries besides its payload."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    case_id: UUID
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    causation_id: UUID | None = None
    correlation_id: UUID
    service: str
    schema_version: int = SCHEMA_VERSION

    def as_stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def event_id_for(originator_id: UUID, version: int) -> UUID:
    """A stable id for the event at ``version`` of an aggregate (same on every replay)."""
    return uuid5(originator_id, str(version))


class Contract(BaseModel):
    """Base of every public event payload; subclasses register under their class name."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: ClassVar[int] = 1
    producer: ClassVar[str] = ""
    # False where the envelope's case id names something else (a recall campaign or notice): case read models skip it.
    about_case: ClassVar[bool] = True

    @classmethod
    def subject(cls) -> str:
        """The NATS subject this event type is published on."""
        return f"ombud.{cls.producer}.{cls.__name__}"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            CONTRACTS[cls.__name__] = cls


class EventMessage(BaseModel):
    """One event as it travels on NATS: ``ombud.<service>.<type>``, id ``<service>:<nid>``."""

    service: str
    notification_id: int
    type: str
    envelope: Envelope
    payload: dict[str, Any]

    @property
    def msg_id(self) -> str:
        return f"{self.service}:{self.notification_id}"

    @property
    def subject(self) -> str:
        return f"ombud.{self.service}.{self.type}"

    def contract(self) -> Contract:
        """The payload parsed into its registered contract (KeyError for an unknown type)."""
        return CONTRACTS[self.type].model_validate(self.payload)


class _Money(Contract):
    """Decimals (money, confidence) travel as strings, never floats."""

    @field_serializer("*", when_used="json")
    def _decimal_as_string(self, value: Any) -> Any:
        return str(value) if isinstance(value, Decimal) else value
