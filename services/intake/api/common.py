"""What intake's routers share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.intake.application import Intake
from shared.http import service_part

IntakeApp = Annotated[Intake, Depends(service_part("intake"))]
