"""Feedback's domain, pure: messages to the customer, the follow-up that closes or reopens a case, warnings."""

from services.feedback.domain.followup import (
    FollowUp,
    FollowUpRules,
    FollowUpState,
    closing_summary,
)
from services.feedback.domain.messages import (
    Acknowledgement,
    CustomerMessage,
    RejectionExplanation,
)
from services.feedback.domain.warnings import (
    HighFrequencyWarning,
    warning_id,
)

__all__ = [
    "Acknowledgement",
    "CustomerMessage",
    "FollowUp",
    "FollowUpRules",
    "FollowUpState",
    "HighFrequencyWarning",
    "RejectionExplanation",
    "closing_summary",
    "warning_id",
]
