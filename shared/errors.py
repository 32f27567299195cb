"""Errors the domain raises, each mapped to one HTTP status by the API layer."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of every rule violation the domain reports."""


class InvalidValue(DomainError):
    """A value breaks a rule (HTTP 422): names the field and, where it helps, the allowed values."""

    def __init__(self, field: str, message: str, allowed: Sequence[str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.allowed = list(allowed) if allowed is not None else None


class InvalidTransition(DomainError):
    """The command is not allowed in the aggregate's current state (HTTP 409)."""


class NotFound(DomainError):
    """No such case or record (HTTP 404)."""


class Unauthenticated(DomainError):
    """The request does not say who acts (HTTP 401)."""


class Forbidden(DomainError):
    """The actor's role may not do this (HTTP 403)."""
