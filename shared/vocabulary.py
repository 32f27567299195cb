"""The public codes of DOMAIN.md: one vocabulary for code, events, API and docs."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    PHONE = "phone"
    STORE = "store"
    WEB = "web"
    APP = "app"
    EMAIL = "email"
    LETTER = "letter"
    SOCIAL = "social"
    CHAT = "chat"
    REGULATOR = "regulator"
    SUGGESTION_BOX = "suggestion_box"


class Category(StrEnum):
    PRODUCT_QUALITY = "product_quality"
    PRICE = "price"
    SERVICE = "service"
    AFTER_SALES = "after_sales"
    DELIVERY = "delivery"
    PROMOTION = "promotion"
    ADVERTISING = "advertising"
    ENVIRONMENT = "environment"
    SAFETY = "safety"
    CONTRACT = "contract"
    PRIVACY = "privacy"
    OTHER = "other"


class Severity(StrEnum):
    GENERAL = "general"
    URGENT = "urgent"
    CRITICAL = "critical"


class Remedy(StrEnum):
    APOLOGY = "apology"
    EXPLANATION = "explanation"
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    PRICE_DIFFERENCE = "price_difference"
    COMPENSATION = "compensation"
    COUPON = "coupon"
    GIFT = "gift"
    POINTS = "points"
    SERVICE_REDO = "service_redo"
    STAFF_ACTION = "staff_action"


class CaseStatus(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    REJECTED = "rejected"
    INVESTIGATING = "investigating"
    PROPOSED = "proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVING = "resolving"
    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    CUSTOMER = "customer"
    FRONTLINE = "frontline"
    CS_MANAGER = "cs_manager"
    REGIONAL_MANAGER = "regional_manager"
    HQ = "hq"
    LEGAL = "legal"
    APPRAISER = "appraiser"
    TECHNICIAN = "technician"
    QUALITY_ANALYST = "quality_analyst"
    AUDITOR = "auditor"
    ADMIN = "admin"
    MERCHANT = "merchant"
    SYSTEM = "system"
