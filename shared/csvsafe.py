"""CSV for spreadsheets: cells that a spreadsheet would run as a formula are made inert.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel and
LibreOffice ("CSV injection": ``=HYPERLINK(...)`` in a complaint's store name, say, runs on the
analyst's machine when the export is opened). Such a cell gets a leading apostrophe, which
spreadsheets show as text and do not display. Numbers are left alone: a negative number is data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """``value``, with a leading apostrophe if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]], newline: str = "\n") -> str:
    """CSV text: ``header``, then each row (a sequence in header order, or a mapping by column), every cell inert."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow([inert(name) for name in header])
    for row in rows:
        cells = [row.get(name, "") for name in header] if isinstance(row, Mapping) else row
        writer.writerow([inert(cell) for cell in cells])
    return out.getvalue()
