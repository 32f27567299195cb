"""What every resolution route uses: the service's Application as a dependency."""

from typing import Annotated

from fastapi import Depends

from services.resolution.application import ResolutionService
from shared.http import service_part

ResolutionApp = Annotated[ResolutionService, Depends(service_part("resolution"))]
