"""Event contracts: the envelope every event carries and the payloads that cross services.

A service's domain events are stored by its own Application; the relay turns each one into an
``EventMessage`` (envelope + a payload validated against the contract registered for its type)
and publishes it on NATS. Consumers parse messages back into typed contracts. Personal data
never travels in a contract: the customer is a pseudonymous ``customer_id``. One module per producing
service; importing this package registers them all in ``CONTRACTS``.
"""

from shared.contracts.base import (
    Actor,
    CONTRACTS,
    Contract,
    Envelope,
    EventMessage,
    SCHEMA_VERSION,
    event_id_for,
)
from shared.contracts.intake import (
    AcknowledgementDue,
    ComplaintAmended,
    ComplaintReceived,
    ComplaintWithdrawn,
    ContactDetailsRead,
    CustomerErased,
    EvidenceAttached,
    NuisanceFlagged,
    ReadBackConfirmed,
    RepeatComplaintLinked,
)
from shared.contracts.routing import (
    AppealLodged,
    AwaitingCustomer,
    CaseAssigned,
    CaseEscalated,
    CaseTransferred,
    CategoryOverridden,
    ClockPaused,
    ClockReplanned,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    ClockWarned,
    ComplaintTriaged,
    CustomerResponded,
    EmergencyDeclared,
    EmergencyStepRecorded,
    MerchantChased,
    MerchantResponded,
    ResponsibilityDetermined,
    SeverityChanged,
    SlaBreached,
    SupportingTeamAdded,
    ValidityDecided,
)
from shared.contracts.resolution import (
    ResolutionOpened,
)
from shared.contracts.feedback import (
    AcknowledgementPrepared,
    RejectionExplained,
)

__all__ = [
    "AcknowledgementDue",
    "AcknowledgementPrepared",
    "Actor",
    "AppealLodged",
    "AwaitingCustomer",
    "CONTRACTS",
    "CaseAssigned",
    "CaseEscalated",
    "CaseTransferred",
    "CategoryOverridden",
    "ClockPaused",
    "ClockReplanned",
    "ClockResumed",
    "ClockStarted",
    "ClockStopped",
    "ClockWarned",
    "ComplaintAmended",
    "ComplaintReceived",
    "ComplaintTriaged",
    "ComplaintWithdrawn",
    "ContactDetailsRead",
    "Contract",
    "CustomerErased",
    "CustomerResponded",
    "EmergencyDeclared",
    "EmergencyStepRecorded",
    "Envelope",
    "EventMessage",
    "EvidenceAttached",
    "MerchantChased",
    "MerchantResponded",
    "NuisanceFlagged",
    "ReadBackConfirmed",
    "RejectionExplained",
    "RepeatComplaintLinked",
    "ResolutionOpened",
    "ResponsibilityDetermined",
    "SCHEMA_VERSION",
    "SeverityChanged",
    "SlaBreached",
    "SupportingTeamAdded",
    "ValidityDecided",
    "event_id_for",
]

# Registered on import; import their names from the modules themselves.
from shared.contracts import recall, returns  # noqa: E402, F401
