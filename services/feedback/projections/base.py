"""The base of every read model: a store of its own with its own tracking, so it can be dropped and rebuilt.

A projection keeps, per case, a state it folds each new fact into (``fold``; the case's facts themselves, the same
``fold_case`` for every case read model, when ``keeps_case``), rows written once per event (``event_rows``: the
timeline, stopped clocks, survey answers) and rows written again whenever the case changes (``case_rows``). The same
methods serve the live consumer (``handle_batch``) and a rebuild (``services.feedback.rebuild``), so a rebuilt read
model is the live one.

**Exactly once.** Each batch is applied in one transaction with its tracking: a row per message (upstream service,
notification id) and, after a rebuild, a watermark per service: every public message of that service up to the
watermark is in the read model. A message already tracked is skipped.

**One writer at a time.** On PostgreSQL a write transaction first takes a transaction-level advisory lock keyed by
the projection's name; on SQLite it begins ``IMMEDIATE`` (the file's write lock). Two writers of one projection (the
live consumer and a rebuild's final catch-up) therefore never interleave their read-fold-write of the same rows.

**Aside.** ``Projection(settings, aside=True)`` is the same read model in tables of its own beside the live ones
(``<name>_rebuild_<table>``), without indexes: a rebuild fills it while the live one keeps answering, then
``replace`` swaps it in, in one transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from eventsourcing.persistence import InfrastructureFactory, IntegrityError, OperationalError
from eventsourcing.utils import Environment

from services.feedback.projections.facts import Fact, as_fact, dump, fold_case, load
from shared.contracts import CONTRACTS, EventMessage
from shared.settings import Settings
from shared.sidetables import SideTables

# Parameters a statement of ours binds at most (SQLite's limit is 32,766 since 3.32; PostgreSQL's 65,535).
CHUNK = 900
Rows = dict[str, list[tuple[Any, ...]]]  # table (short name) -> rows, in its columns' order
RowsOf = Iterable[tuple[str, tuple[Any, ...]]]  # (table, row) pairs


@dataclass(frozen=True)
class Table:
    """One table of a read model: its columns (name -> SQL type, in order) and its key. ``upsert``: a row is
    written again when its case changes (per-case rows, keyed by the table's primary key); otherwise it is written
    once (per-event rows, keyed by a unique index: an aside build adds it after its bulk load, which is several times
    faster than keeping a key on random ids up to date row by row)."""

    columns: dict[str, str]
    key: tuple[str, ...]
    upsert: bool = True

    def ddl(self, table: str) -> str:
        columns = ", ".join(f"{name} {kind}" for name, kind in self.columns.items())
        primary = f", PRIMARY KEY ({', '.join(self.key)})" if self.upsert else ""
        return f"CREATE TABLE IF NOT EXISTS {table} ({columns}{primary})"

    def key_index(self, prefix: str, short: str, table: str) -> str | None:
        """The unique index that keys a per-event table (None for a per-case one: its primary key does)."""
        if self.upsert:
            return None
        return f"CREATE UNIQUE INDEX IF NOT EXISTS {prefix}_{short}_key ON {table} ({', '.join(self.key)})"

    def insert(self, table: str, keyed: bool = True) -> str:
        """The statement writing one row: an upsert, or an insert that skips a row it has (a plain insert into a
        per-event table not keyed yet)."""
        names = list(self.columns)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        if not self.upsert and not keyed:
            return sql
        updates = [f"{name} = excluded.{name}" for name in names if name not in self.key]
        action = f"UPDATE SET {', '.join(updates)}" if self.upsert and updates else "NOTHING"
        return f"{sql} ON CONFLICT ({', '.join(self.key)}) DO {action}"


# Every projection's tracking: a row per applied message, a rebuild's watermark per upstream service, and the version
# of the projection that wrote the tables.
TRACKING = {
    "tracking": Table({"application_name": "TEXT NOT NULL", "notification_id": "BIGINT NOT NULL"},
                      ("application_name", "notification_id"), upsert=False),
    "watermarks": Table({"application_name": "TEXT NOT NULL", "notification_id": "BIGINT NOT NULL"},
                        ("application_name",)),
    "version": Table({"version": "INTEGER NOT NULL"}, ("version",)),
}  # fmt: skip


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``, from a projection's name."""
    return int.from_bytes(hashlib.sha256(f"ombud-projection:{name}".encode()).digest()[:8], "big", signed=True)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def about_a_case(kind: str) -> bool:
    """Whether events of this type are about a case (recall campaigns and notices carry their own id as the case id:
    no case read model shows them; they are tracked only)."""
    contract = CONTRACTS.get(kind)
    return contract is None or contract.about_case


class BatchRunner:
    """``run(sql, params) -> rows`` (a ``Runner``) plus ``many`` and ``copy``, in one transaction."""

    def __init__(self, cursor: Any, is_postgres: bool) -> None:
        self.cursor = cursor
        self.is_postgres = is_postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.is_postgres else sql

    def __call__(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.cursor
        cursor.execute(self._sql(sql), list(params))
        description = getattr(cursor, "description", None)
        if not description:
            return []
        rows = cursor.fetchall()
        if rows and isinstance(rows[0], dict):
            return [dict(row) for row in rows]
        names = [column[0] for column in description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def copy(self, table: str, columns: Iterable[str], rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL: rows no table row conflicts with, by ``COPY`` (many times faster than inserts)."""
        if rows:
            with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def where_in(self, sql: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """``sql`` with ``{marks}`` for an IN list, run once per chunk of ``values``; every chunk's rows."""
        found: list[dict[str, Any]] = []
        for part in chunks(list(values)):
            found += self(sql.format(marks=", ".join("?" * len(part))), part)
        return found


class Projection:
    """A read model. Subclasses give ``name``, ``tables``, ``indexes`` (``{prefix}`` and the tables' short names),
    and any of ``keeps_case``, ``fold``, ``event_rows`` and ``case_rows``."""

    name: ClassVar[str]
    # Raised whenever what the tables hold changes (columns, documents, folds): tables written by another version are
    # rebuilt (``rebuild.rebuild_outdated``) rather than read or folded on.
    version: ClassVar[int] = 1
    tables: ClassVar[dict[str, Table]] = {}
    # Tables an earlier version had and this one has not: dropped when a rebuild swaps this one in.
    retired: ClassVar[tuple[str, ...]] = ()
    indexes: ClassVar[list[str]] = []
    # Whether the state of a case holds its facts (``fold_case``) under "case", stored in the ``doc`` column of
    # ``case_table``.
    keeps_case: ClassVar[bool] = False
    case_table: ClassVar[str] = "cases"

    def __init__(self, settings: Settings, *, aside: bool = False, create: bool = True) -> None:
        """The read model on the settings' store; ``aside``: its aside build; ``create``: make missing tables (a
        rebuild's worker opens tables its parent made: concurrent ``CREATE … IF NOT EXISTS`` may fail on
        PostgreSQL)."""
        # An aside build is written by one thread: one connection (the live system keeps its pools).
        env = Environment(self.name, settings.persistence_env(self.name, connections=1 if aside else None))
        self.factory = InfrastructureFactory.construct(env)
        self.side = SideTables.on(self.factory.datastore, f"{self.name}_rebuild" if aside else self.name)  # type: ignore[attr-defined]
        self.aside = aside
        self.schema = {**self.tables, **TRACKING}
        self.table = {short: self.side.table(short) for short in self.schema}
        # An aside build's per-event tables get their keys when it is swapped in; until then nothing conflicts.
        self.statements = {short: spec.insert(self.table[short], not aside) for short, spec in self.schema.items()}
        self.lock_key = lock_key(self.name)
        # Set by a rebuild on the projections it fills (SQLite): commits without waiting for the disk.
        self.unsynced = False
        if create:
            self.create()

    def create(self) -> None:
        """Create the tables (and, unless aside, the indexes) if they are missing; tables created empty are marked
        with this version (tables that hold data without a version were written before versions existed)."""
        with self.transaction() as run:
            for short, spec in self.schema.items():
                run(spec.ddl(self.table[short]))
            if not self.aside:
                for ddl in self.index_statements():
                    run(ddl)
            if self.stored_version(run) is None and not self.positions(run):
                self.write(run, {"version": [(self.version,)]})

    def stored_version(self, run: BatchRunner | None = None) -> int | None:
        """The version of the projection that wrote the tables (None: not marked)."""
        sql = f"SELECT MAX(version) AS version FROM {self.table['version']}"
        rows = run(sql) if run else self.side.query(sql)
        return None if rows[0]["version"] is None else int(rows[0]["version"])

    def outdated(self) -> bool:
        """Whether the tables were written by another version of this projection (rebuild it)."""
        return self.stored_version() != self.version

    def index_statements(self) -> list[str]:
        """The keys of the per-event tables and the read model's indexes (``create`` makes them; an aside build's
        ``replace`` makes them once its tables have their live names)."""
        keys = [spec.key_index(self.name, short, self.table[short]) for short, spec in self.schema.items()]
        return [key for key in keys if key] + [ddl.format(prefix=self.name, **self.table) for ddl in self.indexes]

    def drop(self) -> None:
        """Drop every table of this projection."""
        with self.transaction() as run:
            for table in self.table.values():
                run(f"DROP TABLE IF EXISTS {table}")

    # --- what a read model defines ----------------------------------------------------------------------------

    def new_state(self) -> dict[str, Any]:
        """The state of a case this read model has not seen."""
        return {"case": None} if self.keeps_case else {}

    def load(self, run: BatchRunner, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored state of each of these cases (a new one for a case not stored), read in one go."""
        states = {case_id: self.new_state() for case_id in case_ids}
        if self.keeps_case:
            sql = f"SELECT case_id, doc FROM {self.table[self.case_table]} WHERE case_id IN ({{marks}})"
            for row in run.where_in(sql, case_ids):
                states[row["case_id"]]["case"] = load(row["doc"])
        return states

    def fold(self, state: dict[str, Any], fact: Fact) -> None:
        """Fold one more fact into a case's own state, in place (the case's facts are folded already)."""

    def event_rows(self, fact: Fact) -> RowsOf:
        """(table, row) written once for this fact."""
        return ()

    def case_rows(self, case_id: str, state: dict[str, Any], case_doc: str | None) -> RowsOf:
        """(table, row) of a case's current state; ``case_doc`` is ``dump(state["case"])`` when ``keeps_case``."""
        return ()

    # --- applying ---------------------------------------------------------------------------------------------

    def handle(self, message: EventMessage | Fact) -> bool:
        """Project one message exactly once (one transaction); False if it was already projected."""
        return self.handle_batch([message]) == 1

    def handle_batch(self, messages: Sequence[EventMessage | Fact]) -> int:
        """Project messages, each exactly once, all in one transaction; returns how many were new."""
        if not messages:
            return 0
        facts = [as_fact(message) for message in messages]
        with self.transaction() as run:
            new = self.untracked(run, facts)
            self.apply(run, new)
        return len(new)

    def apply(self, run: BatchRunner, facts: list[Fact]) -> None:
        """Apply facts not yet tracked, with their tracking rows, inside ``run``'s transaction."""
        if not facts:
            return
        about = [fact for fact in facts if about_a_case(fact.type)]
        states = self.load(run, list(dict.fromkeys(fact.case_id for fact in about))) if about else {}
        rows: Rows = defaultdict(list)
        for fact in about:
            state = states[fact.case_id]
            if self.keeps_case:
                state["case"] = fold_case(state["case"], fact)
            self.fold(state, fact)
            for short, row in self.event_rows(fact):
                rows[short].append(row)
        for case_id, state in states.items():
            for short, row in self.case_rows(case_id, state, dump(state["case"]) if self.keeps_case else None):
                rows[short].append(row)
        rows["tracking"] = [(fact.service, fact.notification_id) for fact in facts]
        self.write(run, rows)

    def write(self, run: BatchRunner, rows: Rows, fresh: bool = False) -> None:
        """Write rows; ``fresh``: none of them is in the tables yet (PostgreSQL then copies them in)."""
        for short, found in rows.items():
            if fresh and run.is_postgres:
                run.copy(self.table[short], self.schema[short].columns, found)
            else:
                run.many(self.statements[short], found)

    def untracked(self, run: BatchRunner, facts: Sequence[Fact]) -> list[Fact]:
        """The facts this projection has not applied yet, in order, each once."""
        done = self.tracked(run, facts)
        new = []
        for fact in facts:
            key = (fact.service, fact.notification_id)
            if key not in done:
                done.add(key)  # a message twice in one batch: applied once
                new.append(fact)
        return new

    def tracked(self, run: BatchRunner, facts: Sequence[Fact]) -> set[tuple[str, int]]:
        """Which of the facts' (service, notification id) this projection has applied: at or below its watermark,
        or with a tracking row (per service one range query when the ids are dense, else chunked ``IN`` lists)."""
        marks = {
            row["application_name"]: int(row["notification_id"])
            for row in run(f"SELECT application_name, notification_id FROM {self.table['watermarks']}")
        }
        by_service: dict[str, set[int]] = defaultdict(set)
        done: set[tuple[str, int]] = set()
        for fact in facts:
            if fact.notification_id <= marks.get(fact.service, 0):
                done.add((fact.service, fact.notification_id))
            else:
                by_service[fact.service].add(fact.notification_id)
        table = self.table["tracking"]
        for service, wanted in by_service.items():
            low, high = min(wanted), max(wanted)
            select = f"SELECT notification_id FROM {table} WHERE application_name = ? AND notification_id"
            if high - low + 1 <= 4 * len(wanted):
                rows = run(f"{select} >= ? AND notification_id <= ?", (service, low, high))
            else:
                rows = []
                for part in chunks(sorted(wanted)):
                    rows += run(f"{select} IN ({', '.join('?' * len(part))})", (service, *part))
            done.update((service, n) for row in rows if (n := int(row["notification_id"])) in wanted)
        return done

    @contextmanager
    def transaction(self) -> Iterator[BatchRunner]:
        """One write transaction of this projection, holding its writer lock (see the module's documentation)."""
        if self.side.is_postgres:
            with self.side.datastore.transaction(commit=True) as cursor:
                run = BatchRunner(cursor, True)
                run("SELECT pg_advisory_xact_lock(?)", (self.lock_key,))
                yield run
            return
        with self.side.datastore.get_connection(commit=True) as conn:
            raw = conn._sqlite_conn  # noqa: SLF001 (eventsourcing keeps sqlite3's connection there)
            if not getattr(conn, "ombud_read_model", False):
                # Read models hold contract data only (no personal data travels in a contract): freed pages need not
                # be zeroed on disk (Debian's SQLite does by default, which made dropping a replaced read model
                # rewrite it); pages are read through mmap (dropping one read them 10x faster).
                raw.execute("PRAGMA secure_delete = FAST")
                raw.execute("PRAGMA mmap_size = 1073741824")
                conn.ombud_read_model = True  # type: ignore[attr-defined]
            # ``synchronous`` cannot change inside a transaction: set before it, put back after it.
            before = int(raw.execute("PRAGMA synchronous").fetchone()[0]) if self.unsynced else None
            if before is not None:
                raw.execute("PRAGMA synchronous = OFF")
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    yield BatchRunner(cursor, False)
                except BaseException:
                    if raw.in_transaction:
                        raw.rollback()
                    raise
                else:
                    raw.commit()
            except sqlite3.IntegrityError as error:
                raise IntegrityError(error) from error
            except sqlite3.OperationalError as error:
                raise OperationalError(error) from error
            finally:
                if before is not None:
                    raw.execute(f"PRAGMA synchronous = {before}")

    # --- operations -------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop every row of the read model and its tracking: it is empty, ready to be rebuilt."""
        with self.transaction() as run:  # the lock too: not in the middle of a live batch
            for table in self.table.values():
                run(f"DELETE FROM {table}")
            self.write(run, {"version": [(self.version,)]})

    def positions(self, run: BatchRunner | None = None) -> dict[str, int]:
        """Per upstream service, the highest notification id applied (a tracking row or the watermark)."""
        sql = (
            f"SELECT application_name AS service, MAX(notification_id) AS position FROM {self.table['tracking']} "
            "GROUP BY application_name UNION ALL "
            f"SELECT application_name, notification_id FROM {self.table['watermarks']}"
        )
        found: dict[str, int] = {}
        for row in run(sql) if run else self.side.query(sql):
            found[row["service"]] = max(found.get(row["service"], 0), int(row["position"]))
        return found

    def replace(self, live: Projection, tail: Callable[[dict[str, int]], list[Fact]]) -> int:
        """Swap this aside build in for ``live``, in one transaction holding the writer lock: apply what
        ``tail(positions)`` gives (the logs' messages after this build's positions), drop the live tables, rename
        these to their names, create the indexes. Returns how many messages the tail applied."""
        assert self.aside and not live.aside and live.name == self.name
        with self.transaction() as run:
            new = self.untracked(run, tail(self.positions(run)))
            self.apply(run, new)
            for short in self.retired:
                run(f"DROP TABLE IF EXISTS {live.side.table(short)}")
            for short in self.schema:
                run(f"DROP TABLE IF EXISTS {live.table[short]}")
                run(f"ALTER TABLE {self.table[short]} RENAME TO {live.side.bare(short)}")
            for ddl in live.index_statements():
                run(ddl)
        return len(new)

    def dump_tables(self) -> dict[str, list[str]]:
        """Every table of the read model as sorted text rows: equal dumps mean equal read models."""
        dumped = {}
        for short in self.tables:
            rows = self.side.query(f"SELECT * FROM {self.table[short]}")
            dumped[short] = sorted(repr(sorted(row.items())) for row in rows)
        return dumped

    def close(self) -> None:
        self.factory.close()
