"""Resolution's Application: investigation, remedies and approvals, returns, recall campaigns."""

from services.resolution.application.service import ResolutionService

__all__ = ["ResolutionService"]
