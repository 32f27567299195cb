"""Personal data: sealed with per-complaint data keys, shredded by destroying the keys, masked in free text.

Key hierarchy: the **master key** (configuration, or a key file in the embedded system) wraps every
**data key**; each data key belongs to one customer (the pseudonymous ``customer_id``) and one case,
and lives, wrapped, in a side table of the service's own store. Stored events hold only **sealed
tokens** (``enc:v1:<key id>:<base64 nonce+ciphertext>``, AES-256-GCM, the case id, field name and
key id bound as associated data). Erasing a customer deletes their keys: every token sealed under
them becomes unreadable for good, while the events themselves (and their hash chains) stay intact.

A key is made per complaint rather than per customer, so two processes filing for one customer at
once never race for "the" key, and a key seals only while its complaint is built and is then only
read from the store: no cache can outlive an erasure. Issuing is in memory (POST stays free of
blocking I/O on the event loop); the key rows are written in the very transaction that saves the
complaint's events (``KeyStore.writes_for``, run by ``shared.audit.sealing``), so a key exists exactly
when its events do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import keys
from shared.clock import Clock
from shared.masking import mask_contact as mask_contact  # re-exported: callers seal and mask side by side
from shared.masking import phone_digits
from shared.settings import Settings
from shared.sidetables import SideTables

TOKEN_PREFIX = "enc:v1:"
_NONCE_BYTES = 12
_ID_CHUNK = 500  # key ids per statement: under SQLite's oldest limit of 999 parameters


def master_key(settings: Settings) -> bytes:
    """The key that wraps every data key (``shared.keys.master_key``: configured, or generated when embedded)."""
    return keys.master_key(settings)


class Unreadable(Exception):
    """A sealed token that is malformed, or that its key does not open (tampered, or the wrong case or field)."""


@dataclass(frozen=True)
class DataKey:
    """One customer's data key for one case, unwrapped, in memory only."""

    key_id: str
    customer_id: UUID
    case_id: UUID
    secret: bytes

    def seal(self, field: str, plaintext: str) -> str:
        """``plaintext`` encrypted under this key, bound to the case, the field and the key."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.secret).encrypt(nonce, plaintext.encode("utf-8"), self._aad(field))
        return f"{TOKEN_PREFIX}{self.key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, token: str, field: str) -> str:
        """The plaintext of a token this key sealed for ``field``; ``Unreadable`` otherwise."""
        key_id, blob = _split(token)
        if key_id != self.key_id:
            raise Unreadable("the token was sealed under another key")
        try:
            plain = AESGCM(self.secret).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], self._aad(field))
        except InvalidTag as error:
            raise Unreadable("the token does not open with this key, case and field") from error
        return plain.decode("utf-8")

    def encrypt(self, field: str, data: bytes) -> bytes:
        """``data`` (e.g. an evidence file) encrypted under this key: nonce followed by ciphertext and tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(self.secret).encrypt(nonce, data, self._aad(field))

    def decrypt(self, field: str, blob: bytes) -> bytes:
        """The bytes ``encrypt`` sealed for ``field``; ``Unreadable`` otherwise."""
        try:
            return AESGCM(self.secret).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], self._aad(field))
        except InvalidTag as error:
            raise Unreadable("the file does not open with this key, case and field") from error

    def _aad(self, field: str) -> bytes:
        return f"ombud:v1|{self.case_id}|{field}|{self.key_id}".encode()


def key_id_of(token: str) -> str:
    """The id of the data key a token was sealed under."""
    return _split(token)[0]


def _split(token: str) -> tuple[str, bytes]:
    if not token.startswith(TOKEN_PREFIX):
        raise Unreadable("not a sealed token")
    key_id, _, encoded = token[len(TOKEN_PREFIX) :].partition(":")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise Unreadable("malformed sealed token") from error
    if not key_id or len(blob) <= _NONCE_BYTES:
        raise Unreadable("malformed sealed token")
    return key_id, blob


@dataclass(frozen=True)
class HeldKey:
    """A data key the store holds for a customer (its id and case; never the key itself)."""

    key_id: str
    case_id: UUID


class KeyStore:
    """Customers' data keys, wrapped by the master key, in a side table of a service's store."""

    def __init__(self, side: SideTables, master: bytes, clock: Clock) -> None:
        self.side = side
        self.clock = clock
        self._master = AESGCM(master)
        self.table = side.table("customer_keys")
        side.script(
            [
                (
                    (
                        f"CREATE TABLE IF NOT EXISTS {self.table} (key_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, "
                        "case_id TEXT NOT NULL, wrapped TEXT NOT NULL, created_at TEXT NOT NULL)"
                    ),
                    (),
                ),
                (
                    f"CREATE INDEX IF NOT EXISTS {side.prefix}_customer_keys_by_customer ON {self.table} (customer_id)",
                    (),
                ),
            ]
        )
        self._pending: dict[UUID, list[tuple[str, str, str, str, str]]] = {}
        self._lock = threading.Lock()

    def sealer(self, customer_id: UUID, case_id: UUID) -> Callable[[str, str], str]:
        """``seal(field, plaintext)`` for one complaint; its data key is issued on the first seal only,
        so a complaint refused before it seals anything leaves no key behind."""
        issued: list[DataKey] = []

        def seal(field: str, plaintext: str) -> str:
            if not issued:
                issued.append(self.issue(customer_id, case_id))
            return issued[0].seal(field, plaintext)

        return seal

    def issue(self, customer_id: UUID, case_id: UUID) -> DataKey:
        """A new data key for the customer's case, pending in memory until ``writes_for`` takes it."""
        key = DataKey(key_id=uuid4().hex, customer_id=customer_id, case_id=case_id, secret=AESGCM.generate_key(256))
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = nonce + self._master.encrypt(nonce, key.secret, _wrap_aad(key.key_id, customer_id))
        row = (key.key_id, str(customer_id), str(case_id), base64.b64encode(wrapped).decode("ascii"))
        with self._lock:
            self._pending.setdefault(case_id, []).append((*row, self.clock.now().isoformat()))
        return key

    def writes_for(self, *case_ids: UUID) -> list[tuple[str, Sequence[str]]]:
        """The inserts of the cases' pending keys, to run in the transaction that saves their events.

        Taken out of the pending set: if that save fails, the keys are gone with it (no orphans). Many keys
        (a recall's notices, each under its customer's key) go in a few multi-row statements.
        """
        with self._lock:
            rows = [row for case_id in case_ids for row in self._pending.pop(case_id, [])]
        columns = f"INSERT INTO {self.table} (key_id, customer_id, case_id, wrapped, created_at) VALUES "
        writes: list[tuple[str, Sequence[str]]] = []
        for start in range(0, len(rows), _ID_CHUNK // 5):  # five parameters a row
            chunk = rows[start : start + _ID_CHUNK // 5]
            writes.append((columns + ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)), [v for row in chunk for v in row]))
        return writes

    def destroy_writes(self, customer_id: UUID) -> list[tuple[str, Sequence[str]]]:
        """The statements deleting every key of a customer, to run in a transaction of the caller's (a policy's).

        Unlike ``destroy`` the freed pages are not scrubbed at once; SQLite zeroes them (``secure_delete``) and
        PostgreSQL's autovacuum reclaims them.
        """
        delete = (f"DELETE FROM {self.table} WHERE customer_id = ?", (str(customer_id),))
        return [delete] if self.side.is_postgres else [("PRAGMA secure_delete = ON", ()), delete]

    def find(self, key_id: str) -> DataKey | None:
        """The data key with this id, unwrapped; None once it was destroyed (the customer was erased)."""
        rows = self.side.query(f"SELECT customer_id, case_id, wrapped FROM {self.table} WHERE key_id = ?", (key_id,))
        if not rows:
            return None
        customer_id, case_id = UUID(rows[0]["customer_id"]), UUID(rows[0]["case_id"])
        wrapped = base64.b64decode(rows[0]["wrapped"])
        try:
            secret = self._master.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _wrap_aad(key_id, customer_id)
            )
        except InvalidTag as error:
            raise Unreadable(f"data key {key_id} does not unwrap with this master key") from error
        return DataKey(key_id=key_id, customer_id=customer_id, case_id=case_id, secret=secret)

    def held(self, customer_id: UUID) -> list[HeldKey]:
        """Every data key the store holds for a customer."""
        rows = self.side.query(
            f"SELECT key_id, case_id FROM {self.table} WHERE customer_id = ? ORDER BY created_at, key_id",
            (str(customer_id),),
        )
        return [HeldKey(key_id=row["key_id"], case_id=UUID(row["case_id"])) for row in rows]

    def destroy(self, key_ids: Sequence[str]) -> int:
        """Delete these keys for good; returns how many were still there.

        On SQLite the freed bytes are zeroed (``secure_delete``) and the write-ahead log is then
        checkpointed and truncated, so no copy of a key is left in the database files; on PostgreSQL
        the table is vacuumed so the dead rows are reclaimed.
        """
        destroyed = 0
        with self.side.transaction() as run:
            if not self.side.is_postgres:
                run("PRAGMA secure_delete = ON")
            for start in range(0, len(key_ids), _ID_CHUNK):
                chunk = list(key_ids[start : start + _ID_CHUNK])
                marks = ", ".join(["?"] * len(chunk))
                destroyed += len(run(f"DELETE FROM {self.table} WHERE key_id IN ({marks}) RETURNING key_id", chunk))
        self._scrub()
        return destroyed

    def _scrub(self) -> None:
        # Both statements refuse to run inside a transaction, hence the datastores' autocommit connections.
        if self.side.is_postgres:
            with self.side.datastore.cursor() as cursor:
                cursor.execute(f"VACUUM {self.table}")
        else:
            with self.side.datastore.get_connection(commit=True) as connection:
                connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _wrap_aad(key_id: str, customer_id: UUID) -> bytes:
    return f"ombud:key:v1|{key_id}|{customer_id}".encode()


def normalise_contact(phone: str | None, email: str | None) -> str:
    """The customer's key contact, normalised: digits of the phone (no +86), else the e-mail lowercased."""
    if phone:
        return phone_digits(phone)
    return (email or "").strip().lower()


def customer_id_for(contact: str, key: bytes) -> UUID:
    """A pseudonymous customer id: a keyed hash of the normalised contact (a blind index)."""
    digest = hmac.new(key, contact.encode("utf-8"), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)
