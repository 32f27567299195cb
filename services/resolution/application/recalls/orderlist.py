"""Recalls, application: a campaign's order list (the affected customers, one order line a row) and the import
report.

``read_order_list`` reads a CSV file (path or bytes, UTF-8, BOM fine; spreadsheet column names accepted through
aliases) or a list of mappings; the lines are checked one by one by the import (see ``customers``), each problem
reported as a ``LineError`` with its line, order id and column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.errors import InvalidValue

# Order-list columns (and the names spreadsheets often give them).
ORDER_COLUMNS = ("order_id", "sku", "batch", "sold_on", "customer_name", "phone", "email", "language")
_ALIASES = {"customer_phone": "phone", "customer_email": "email", "name": "customer_name", "sale_date": "sold_on"}
_PHONE_DIGITS = re.compile(r"^\+?[\d ()-]{7,24}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class LineError:
    """One problem of one order line: its line in the file (the header is line 1), its order id, column, why."""

    row: int
    order_id: str | None
    field: str
    message: str


@dataclass
class RecallImportReport:
    """``rows`` = ``issued`` + ``already_issued`` + ``failed``."""

    campaign_id: str
    rows: int = 0
    issued: int = 0
    already_issued: int = 0
    failed: int = 0
    errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Line:
    row: int
    cells: dict[str, str]


@dataclass(frozen=True)
class _Affected:
    notice_id: UUID
    row: int
    order_id: str
    batch: str | None
    sold_on: date | None
    name: str | None
    phone: str | None
    email: str | None
    language: str


OrderList = Path | bytes | Iterable[Mapping[str, Any]]


def read_order_list(source: OrderList) -> list[_Line]:
    """The lines of an order list: a CSV file (path or bytes, UTF-8, BOM fine) or mappings column -> value.
    A file that is not UTF-8 CSV with an ``order_id``, ``sku`` and ``phone`` or ``email`` column is refused whole."""
    if isinstance(source, Path | bytes):
        data = source.read_bytes() if isinstance(source, Path) else source
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidValue("file", "is not UTF-8 text (save it from the spreadsheet as CSV UTF-8)") from error
        reader = csv.reader(io.StringIO(text))
        header = [_column(name) for name in next(reader, [])]
        _check_header(header)
        lines = []
        for number, cells in enumerate(reader, start=2):
            values = {
                name: value.strip() for name, value in zip(header, cells, strict=False) if value and value.strip()
            }
            if values:
                lines.append(_Line(number, values))
        return lines
    lines = []
    for number, mapping in enumerate(source, start=2):
        if not isinstance(mapping, Mapping):
            raise InvalidValue("customers", "must be a list of objects")
        cells = {_column(str(k)): str(v).strip() for k, v in mapping.items() if v is not None and str(v).strip()}
        lines.append(_Line(number, cells))
    return lines


def _column(name: str) -> str:
    name = name.strip().lower()
    return _ALIASES.get(name, name)


def _check_header(header: Sequence[str]) -> None:
    missing = [c for c in ("order_id", "sku") if c not in header]
    if not {"phone", "email"} & set(header):
        missing.append("phone or email")
    if missing:
        raise InvalidValue("file", f"missing column(s): {', '.join(missing)}", allowed=list(ORDER_COLUMNS))


def _parse_day(text: str) -> date:
    return date.fromisoformat(text.replace("/", "-").split(" ")[0].split("T")[0])
