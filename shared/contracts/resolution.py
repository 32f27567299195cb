"""Events resolution publishes."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import Contract
from shared.vocabulary import Category, Severity


class ResolutionOpened(Contract):
    producer: ClassVar[str] = "resolution"
    category: Category
    severity: Severity
