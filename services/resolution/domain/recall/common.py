"""Recalls, pure: the ids shared by the recall aggregates, and the checks of the free text they record.

An id is derived from what it names (a product's SKU + batch, a cluster's window start, a campaign's order line),
so recording the same thing twice is a version conflict or a no-op, never a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.errors import InvalidValue
from shared.privacy import mask_contact

RECALL_NAMESPACE = uuid5(NAMESPACE_URL, "https://ombud/recall")
TEXT_MAX = 2000


# --- ids -------------------------------------------------------------------------------------------------------


def _batch_key(batch: str | None) -> str:
    return batch or ""


def watch_id(sku: str, batch: str | None) -> UUID:
    """The ``ProductWatch`` of one SKU + batch."""
    return uuid5(RECALL_NAMESPACE, f"watch|{sku}|{_batch_key(batch)}")


def alert_id_for(sku: str, batch: str | None, window_start: datetime) -> UUID:
    """The alert of the cluster of ``sku`` + ``batch`` whose window starts at ``window_start``: a cluster has one id,
    so raising it twice (a redelivery, two workers) is a version conflict, never a second alert."""
    return uuid5(RECALL_NAMESPACE, f"alert|{sku}|{_batch_key(batch)}|{window_start.isoformat()}")


def notice_id_for(campaign_id: UUID, order_id: str, sku: str, batch: str | None) -> UUID:
    """The notice of one order line of a campaign: importing the line again adds nothing."""
    return uuid5(campaign_id, f"notice|{order_id}|{sku}|{_batch_key(batch)}")


# --- free text -------------------------------------------------------------------------------------------------


def _text(field: str, value: str | None, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidValue(field, "is required and must not be blank")
        return None
    if len(value) > TEXT_MAX:
        raise InvalidValue(field, f"must be at most {TEXT_MAX} characters")
    return value.strip()


def _note(value: str | None) -> str | None:
    # Staff notes are free text: contact details typed into them are masked before they are recorded.
    text = _text("note", value, required=False)
    return mask_contact(text) if text else None
