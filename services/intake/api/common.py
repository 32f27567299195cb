"""What intake's routers share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from services.intake.application import Intake
from shared.http import service_part

IntakeApp = Annotated[Intake, Depends(service_part("intake"))]


class Reason(BaseModel):
    """The body of a command that needs only a reason (withdrawal, nuisance flag, unblocking)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1_000)
