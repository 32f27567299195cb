"""Bulk import of complaints from a CSV file, for chains moving over from spreadsheets.

The file is UTF-8 (a byte-order mark, as Excel writes it, is fine), with a header row naming columns
of ``COLUMNS`` in any order:

- needed: ``external_id``, ``channel`` (phone store web app email letter social chat regulator
  suggestion_box), ``store_id``, ``customer_name``, ``customer_phone`` and/or ``customer_email``,
  ``description``;
- optional: ``customer_address``, ``customer_member_id``, ``merchant_id``, ``staff_id``, ``order_id``,
  ``sku``, ``batch``, ``serial``, ``occurred_at``, ``occurred_where``, ``demand``, ``amount_paid``
  (a decimal, e.g. 3980.00), ``language`` (zh or en; zh if empty), ``received_by_id`` with
  ``received_by_name``, ``_position``, ``_role``, ``_store``;
- ``detail.<key>`` for the channel details of ``CHANNEL_DETAILS`` (e.g. ``detail.post_url`` is needed
  for social, ``detail.reference`` and ``detail.regulator_due_at`` for regulator).

An empty cell means the value is absent. A time without a timezone (as spreadsheets write them) is
read in the chain's timezone (``OMBUD_TIMEZONE``).

``external_id``, the row's id in the source system, is required: the case is filed under the
idempotency key ``import:<external_id>``, so importing the same file again files nothing twice.
Every row is checked; the good ones are imported and each bad one is reported with its line
number and column, never stopping at the first.

Speed: rows are filed through intake's group commit, a batch of rows per transaction, and rows
already imported are found with one look-up each instead of an attempt that fails, so a re-run
neither writes nor uses up case numbers.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from services.intake.application import Intake, case_id_for_key
from services.intake.domain import CHANNEL_DETAILS, ComplaintRecord
from shared.contracts import Actor
from shared.csvsafe import csv_text
from shared.errors import DomainError, InvalidValue
from shared.vocabulary import Channel

# column -> where its value goes in ``ComplaintRecord`` (besides the ``detail.<key>`` columns).
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": (),
    "channel": ("channel",),
    "store_id": ("store_id",),
    "customer_name": ("customer", "name"),
    "customer_phone": ("customer", "phone"),
    "customer_email": ("customer", "email"),
    "customer_address": ("customer", "address"),
    "customer_member_id": ("customer", "member_id"),
    "merchant_id": ("merchant_id",),
    "staff_id": ("staff_id",),
    "order_id": ("order_id",),
    "sku": ("sku",),
    "batch": ("batch",),
    "serial": ("serial",),
    "description": ("description",),
    "occurred_at": ("occurred_at",),
    "occurred_where": ("occurred_where",),
    "demand": ("demand",),
    "amount_paid": ("amount_paid",),
    "language": ("language",),
    "received_by_id": ("received_by", "id"),
    "received_by_name": ("received_by", "name"),
    "received_by_position": ("received_by", "position"),
    "received_by_role": ("received_by", "role"),
    "received_by_store": ("received_by", "store"),
}
DETAIL = "detail."
DETAIL_KEYS = frozenset(key for required, optional in CHANNEL_DETAILS.values() for key in required + optional)
# Without these a row can never be valid: a header lacking one refuses the file, not every row.
REQUIRED_COLUMNS = ("external_id", "channel", "store_id", "customer_name", "description")
COLUMN_BY_PATH = {path: column for column, path in COLUMNS.items() if path}
# A rule over several fields of a part reports at the part; these are the columns it concerns.
RULE_COLUMNS = {("customer",): "customer_phone, customer_email"}
EXTERNAL_ID_MAX = 128
IDEMPOTENCY_PREFIX = "import:"
# A batch is at most BATCH rows and, on PostgreSQL, about BATCH_BYTES of stored events: there a save whose
# events pass about 450 kB hangs for good in psycopg's pipeline mode (3.3.9). SQLite takes any size, and
# bounding it there would halve the rate.
BATCH = 250
BATCH_BYTES = 200_000
# Stored bytes of a row: its two events' envelopes and fields, then its text masked, sealed and escaped.
ROW_BYTES, TEXT_FACTOR = 2_500, 4
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowError:
    """One problem of one row: its line in the file (the header is line 1), its id, the column(s), why."""

    row: int
    external_id: str | None
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did: ``rows`` = ``imported`` + ``already_imported`` + ``failed``; the errors by line."""

    rows: int = 0
    imported: int = 0
    already_imported: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)

    def errors_csv(self) -> str:
        """The per-row errors as CSV text (row, external_id, field, message)."""
        rows = ([e.row, e.external_id or "", e.field, e.message] for e in self.errors)
        return csv_text(["row", "external_id", "field", "message"], rows)


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]
    extra_cells: int = 0

    @property
    def external_id(self) -> str | None:
        return self.cells.get("external_id")


Source = Path | bytes | Iterable[Mapping[str, str | None]]


def _rows_of(source: Source) -> list[_Row]:
    # A mapping is numbered as the line it would have below a header.
    if isinstance(source, Path | bytes):
        return _read_csv(source.read_bytes() if isinstance(source, Path) else source)
    rows = []
    for line, mapping in enumerate(source, start=2):
        _check_columns([str(name).strip().lower() for name in mapping])
        cells = {str(k).strip().lower(): v.strip() for k, v in mapping.items() if v is not None and v.strip()}
        if cells:
            rows.append(_Row(line, cells))
    return rows


def import_complaints(
    intake: Intake, source: Source, *, actor: Actor, progress: Progress | None = None
) -> ImportReport:
    """Import complaints from ``source`` as ``actor`` (see ``import_complaints_async``). Runs its own event
    loop: from async code call ``import_complaints_async``."""
    return asyncio.run(import_complaints_async(intake, source, actor=actor, progress=progress))


async def import_complaints_async(
    intake: Intake,
    source: Source,
    *,
    actor: Actor,
    progress: Progress | None = None,
    stores: frozenset[str] | None = None,
) -> ImportReport:
    """Import complaints from ``source``: every row checked, the good ones filed under the idempotency key
    ``import:<external_id>``, each bad one reported; rows filed before count as ``already_imported``.

    ``source`` is a CSV file (its path or its bytes) or rows as mappings column -> cell. A file that is not
    UTF-8 CSV with known columns is refused whole: ``InvalidValue("file", …)``. ``actor`` (the signed-in
    importer) records each complaint; a row's ``received_by_id`` stays on the record as who took it first.
    ``stores``: the stores the importer may file for (None: all); a row for another is refused.
    ``progress(done, total)`` is called as rows are done.
    """
    started = time.monotonic()
    rows = _rows_of(source)
    report = ImportReport(rows=len(rows))
    first_line: dict[str, int] = {}
    # A batch is checked and sealed on the event loop while the one before it is written: CPU and disk overlap.
    tasks: list[asyncio.Task[_Outcome]] = []
    try:
        for batch in _batches(rows, BATCH_BYTES if intake.settings.postgres_url else None):
            tasks.append(asyncio.create_task(_import_batch(intake, batch, first_line, actor, stores)))
            if len(tasks) > 1:
                _add(report, await tasks[-2], progress)
        if tasks:
            _add(report, await tasks[-1], progress)
    finally:
        for task in tasks:
            task.cancel()  # none is left running should one fail (a no-op on those done)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def case_id_of(external_id: str) -> UUID:
    """The case an import files the row with this ``external_id`` as."""
    # The same derivation as filing finds the rows filed before without attempting them again.
    return case_id_for_key(IDEMPOTENCY_PREFIX + external_id)


@dataclass
class _Outcome:
    imported: int = 0
    already_imported: int = 0
    errors: dict[int, list[RowError]] = field(default_factory=dict)


def _batches(rows: list[_Row], max_bytes: int | None) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    size = 0
    for row in rows:
        weight = ROW_BYTES + TEXT_FACTOR * sum(len(cell.encode()) for cell in row.cells.values())
        if batch and (len(batch) == BATCH or (max_bytes is not None and size + weight > max_bytes)):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += weight
    if batch:
        yield batch


def _add(report: ImportReport, batch: _Outcome, progress: Progress | None) -> None:
    report.imported += batch.imported
    report.already_imported += batch.already_imported
    report.failed += len(batch.errors)
    report.errors += [error for line in sorted(batch.errors) for error in batch.errors[line]]
    if progress:
        progress(report.imported + report.already_imported + report.failed, report.rows)


async def _import_batch(
    intake: Intake, rows: list[_Row], first_line: dict[str, int], actor: Actor, stores: frozenset[str] | None
) -> _Outcome:
    outcome = _Outcome()
    valid: list[tuple[_Row, ComplaintRecord]] = []
    for row in rows:
        found = _row_errors(row, first_line)
        record = None if found else _record(row, intake.zone, found)
        if record is not None and stores is not None and record.store_id not in stores:
            found, record = [RowError(row.line, row.external_id, "store_id", "is outside the stores you may file for")], None
        if record is None:
            outcome.errors[row.line] = found
        else:
            valid.append((row, record))
    filed = await asyncio.to_thread(_already_filed, intake, [str(row.external_id) for row, _ in valid])
    outcome.already_imported = len(filed)
    todo = [(row, record) for row, record in valid if row.external_id not in filed]
    receipts = await asyncio.gather(*(_receive(intake, row, record, actor) for row, record in todo))
    for (row, _), receipt in zip(todo, receipts, strict=True):
        if isinstance(receipt, RowError):
            outcome.errors[row.line] = [receipt]
        elif receipt:
            outcome.imported += 1
        else:
            outcome.already_imported += 1
    return outcome


def _read_csv(data: bytes) -> list[_Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidValue(
            "file",
            f"not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save it as “CSV UTF-8” (GBK and other encodings are refused so nothing is read garbled)",
        ) from error
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        _check_columns(header, header=True)
        rows = []
        line = reader.line_num + 1
        for cells in reader:
            values = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if cell.strip()}
            extra = len(cells) - len(header)
            if values or extra > 0:  # spreadsheets often end with rows of empty cells
                rows.append(_Row(line, values, max(extra, 0)))
            line = reader.line_num + 1
    except csv.Error as error:
        raise InvalidValue("file", f"line {reader.line_num}: {error}") from error
    return rows


def _check_columns(names: list[str], *, header: bool = False) -> None:
    unknown = [n for n in names if n not in COLUMNS and not (n.startswith(DETAIL) and n[len(DETAIL) :] in DETAIL_KEYS)]
    if unknown:
        raise InvalidValue(
            "file",
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}, "
            f"and detail.<key> for {', '.join(sorted(DETAIL_KEYS))}",
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidValue("file", f"column(s) {', '.join(repeated)} appear more than once")
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if header and missing:
        raise InvalidValue("file", f"the header lacks column(s) {', '.join(missing)}")


def _row_errors(row: _Row, first_line: dict[str, int]) -> list[RowError]:
    # The external id is the import's own: it must be there, fit a key, and be unique in the file.
    external_id = row.external_id
    if row.extra_cells:
        return [RowError(row.line, external_id, "row", f"has {row.extra_cells} cell(s) more than the header names")]
    if not external_id:
        return [RowError(row.line, None, "external_id", "is required (the row's id in the source system)")]
    if len(external_id) > EXTERNAL_ID_MAX:
        return [RowError(row.line, external_id, "external_id", f"is longer than {EXTERNAL_ID_MAX} characters")]
    first = first_line.setdefault(external_id, row.line)
    if first != row.line:
        return [RowError(row.line, external_id, "external_id", f"repeats the external_id of line {first}")]
    return []


def _record(row: _Row, zone: tzinfo, errors: list[RowError]) -> ComplaintRecord | None:
    data: dict[str, Any] = {}
    details: dict[str, str] = {}
    for column, value in row.cells.items():
        if column.startswith(DETAIL):
            key = column[len(DETAIL) :]
            details[key] = _localised(value, zone) if key == "regulator_due_at" else value
        elif COLUMNS[column]:
            *parents, leaf = COLUMNS[column]
            target = data
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = _localised(value, zone) if column == "occurred_at" else value
    data["channel_details"] = details
    data.setdefault("customer", {})
    try:
        return ComplaintRecord.model_validate(data)
    except ValidationError as error:
        for problem in error.errors():
            message = problem["msg"].removeprefix("Value error, ")
            errors.append(RowError(row.line, row.external_id, _column_of(problem["loc"], message, data), message))
        return None


def _localised(value: str, zone: tzinfo) -> str:
    # A spreadsheet's time has no timezone; it means the chain's local time. Unreadable ones are left
    # for the record's own check, which names the column.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (moment.replace(tzinfo=zone) if moment.tzinfo is None else moment).isoformat()


def _column_of(loc: tuple[int | str, ...], message: str, data: dict[str, Any]) -> str:
    path = tuple(str(part) for part in loc)
    if path in COLUMN_BY_PATH:
        return COLUMN_BY_PATH[path]
    if path[:1] == ("channel_details",):
        return DETAIL + path[1] if len(path) > 1 else _detail_columns(data, message)
    if path in RULE_COLUMNS:
        named = [column for column, at in COLUMNS.items() if at and ".".join(at) in message]
        return ", ".join(named) or RULE_COLUMNS[path]
    return ".".join(path) or "row"


def _detail_columns(data: dict[str, Any], message: str) -> str:
    # The channel's rule for its details: the columns it does not know, else those it misses, else the
    # one its message names (a value it cannot read).
    details = data["channel_details"]
    required, optional = CHANNEL_DETAILS[Channel(data["channel"])]
    keys = sorted(set(details) - set(required) - set(optional)) or [k for k in required if not details.get(k)]
    keys = keys or [k for k in required + optional if re.search(rf"\b{k}\b", message)]
    return ", ".join(DETAIL + key for key in keys) or "detail"


def _already_filed(intake: Intake, external_ids: list[str]) -> set[str]:
    return {key for key in external_ids if intake.recorder.select_events(case_id_of(key), limit=1)}


async def _receive(intake: Intake, row: _Row, record: ComplaintRecord, actor: Actor) -> bool | RowError:
    # True: filed now; False: filed before (by a concurrent import); a RowError: refused by a rule.
    try:
        receipt = await intake.receive_complaint_shared(
            record,
            actor=actor,
            idempotency_key=IDEMPOTENCY_PREFIX + str(row.external_id),
        )
    except InvalidValue as error:
        return RowError(row.line, row.external_id, error.field, error.message)
    except DomainError as error:
        return RowError(row.line, row.external_id, "row", str(error))
    return receipt.created
