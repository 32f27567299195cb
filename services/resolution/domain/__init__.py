"""Resolution's domain, pure: the ``Resolution`` of a case, returns (``ReturnRequest``) and recalls (``RecallCampaign``)."""

from services.resolution.domain.resolution import Resolution

__all__ = ["Resolution"]
