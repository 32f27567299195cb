"""What intake's routers share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict

from services.intake.application import Intake
from shared.http import service_part
from shared.textinput import text

IntakeApp = Annotated[Intake, Depends(service_part("intake"))]


class Reason(BaseModel):
    """The body of a command that needs only a reason (withdrawal, nuisance flag, unblocking)."""

    model_config = ConfigDict(extra="forbid")

    reason: text(1_000, min_length=1)
