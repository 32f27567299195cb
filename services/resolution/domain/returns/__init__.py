"""Returns and exchanges (退换货): who may return, exchange or have goods repaired (``assess``), and the
``ReturnRequest`` aggregate that follows one request from the customer's ask to the refund, the replacement or the
repair. Pure: today's date, the product and the policy come in as arguments.

- ``eligibility``: the vocabulary of a request (kind, reason, sale, payer, product class), the returns policy
  (``config/returns.yaml``), the customer's form and the rules' verdict on it, with the day counting of the periods.
- ``request``: the ``ReturnRequest`` aggregate, its states and inspection results, and the roles that may work it.

Event topics name the module that defines the aggregate; the aggregate is re-exported here, so topics recorded as
``services.resolution.domain.returns:ReturnRequest.…`` (before this module became a package) still resolve.
"""

from services.resolution.domain.returns.eligibility import (
    ChainPolicy,
    Eligibility,
    Payer,
    ProductClass,
    ProductFacts,
    ProductRule,
    ReturnForm,
    ReturnKind,
    ReturnPolicy,
    ReturnReason,
    Sale,
    SanbaoPolicy,
    add_months,
    assess,
    check_dates,
    days_since,
)
from services.resolution.domain.returns.request import (
    HANDLERS,
    REQUESTERS,
    REVIEWERS,
    InspectionResult,
    ReturnRequest,
    ReturnState,
)

__all__ = [
    "HANDLERS",
    "REQUESTERS",
    "REVIEWERS",
    "ChainPolicy",
    "Eligibility",
    "InspectionResult",
    "Payer",
    "ProductClass",
    "ProductFacts",
    "ProductRule",
    "ReturnForm",
    "ReturnKind",
    "ReturnPolicy",
    "ReturnReason",
    "ReturnRequest",
    "ReturnState",
    "Sale",
    "SanbaoPolicy",
    "add_months",
    "assess",
    "check_dates",
    "days_since",
]
