"""Evidence files (photos, video, receipts, PDFs), stored once each under their SHA-256.

The ``EvidenceAttached`` event records the hash, type and size; the bytes live here, content-addressed
and encrypted under the case's data key (``shared.privacy``): the same photo sent twice for a case is
stored once, a file can be checked against its event at any time, and erasing the customer leaves it
unreadable.
The store is a folder (``OMBUD_EVIDENCE_DIR``, default ``<data_dir>/evidence``); production may put an
object store behind the same interface.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

import filetype

from shared.contracts import Actor
from shared.errors import DomainError, InvalidValue, NotFound
from shared.privacy import DataKey
from shared.settings import Settings

# Only the formats evidence comes in, recognised by their bytes: the client's Content-Type and file name
# say whatever the client likes, and staff later open these files in browsers and viewers. Anything that
# can carry script or code (HTML, SVG, office documents with macros, executables, archives) is refused.
ALLOWED_MEDIA_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "video/mp4",
    "video/quicktime",
    "application/pdf",
)
SNIFF_BYTES = 8192  # as much of the head as filetype looks at
MAX_FILENAME_CHARS = 255
_SHA256 = re.compile(r"[0-9a-f]{64}")


class EvidenceTooLarge(DomainError):
    """A file over the store's size limit (HTTP 413)."""

    def __init__(self, field: str, max_bytes: int) -> None:
        super().__init__(f"{field}: larger than {max_bytes} bytes")
        self.field = field
        self.message = f"larger than {max_bytes} bytes"
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class StoredEvidence:
    """A stored file: its hash, the type sniffed from its bytes, its size, and the client's file name made safe."""

    sha256: str
    media_type: str
    size: int
    filename: str | None = None


class EvidenceStore:
    """Content-addressed files under ``root/ab/cd/<sha256>.<key id>``, encrypted under the case's data key,
    each at most ``max_bytes``, of an allowed type."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> EvidenceStore:
        """The store the settings name: ``evidence_dir``, else ``<data_dir>/evidence``; ``evidence_max_bytes``."""
        root = settings.evidence_dir or settings.data_dir / "evidence"
        return cls(root.resolve(), settings.evidence_max_bytes)

    def put(self, data: bytes, filename: str | None, key: DataKey) -> StoredEvidence:
        """Store ``data`` (e.g. an e-mail attachment) encrypted under the case's data ``key``.

        Raises ``InvalidValue("file", …)`` naming the allowed types, or ``EvidenceTooLarge``; nothing is
        stored then. Storing content that is already there under this key changes nothing.
        """
        return self.put_stream(io.BytesIO(data), filename, key)

    def put_stream(self, stream: BinaryIO, filename: str | None, key: DataKey) -> StoredEvidence:
        """``put`` for a file object; reads at most ``max_bytes`` (one more byte tells it is too large)."""
        data = _read_up_to(stream, self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise EvidenceTooLarge("file", self.max_bytes)
        media_type = sniff(data[:SNIFF_BYTES], filename)
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path(sha256, key.key_id)
        if not final.exists():
            # The file's personal content is encrypted under the case's data key, so erasing the customer
            # (destroying the key) erases the file too; the hash stays that of the plain content.
            self._write(final, key.encrypt(f"evidence:{sha256}", data))
        return StoredEvidence(sha256=sha256, media_type=media_type, size=len(data), filename=safe_filename(filename))

    def _write(self, final: Path, blob: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # The temporary file is on the same file system as its final place, so os.replace is atomic: a
        # reader sees the whole file under its name or nothing, even if this process dies mid-write.
        fd, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, final)
            _sync_directory(final.parent)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def path(self, sha256: str, key_id: str) -> Path:
        """Where the file with this hash, encrypted under this key, is (or would be) stored."""
        if not _SHA256.fullmatch(sha256):
            raise InvalidValue("sha256", "must be 64 lowercase hex digits")
        if not re.fullmatch(r"[0-9a-f]{32}", key_id):
            raise InvalidValue("key_id", "must be 32 lowercase hex digits")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{key_id}"

    def open(self, sha256: str, key: DataKey) -> bytes:
        """The stored file's plain bytes (``NotFound`` if none has this hash under this key)."""
        try:
            blob = self.path(sha256, key.key_id).read_bytes()
        except FileNotFoundError as error:
            raise NotFound(f"no evidence file {sha256}") from error
        return key.decrypt(f"evidence:{sha256}", blob)


def store_and_attach(
    intake: Any,
    store: EvidenceStore,
    case_id: UUID,
    stream: BinaryIO,
    filename: str | None,
    *,
    actor: Actor,
    note: str | None,
    correlation_id: UUID | None,
) -> tuple[StoredEvidence, bool]:
    """Store a file under the case's data key, then record it on the case: the stored file, and whether the
    case did not have this content yet. Refusals (type, size, an erased customer) raise before anything is recorded."""
    stored = store.put_stream(stream, filename, intake.evidence_key(case_id))
    attached = intake.attach_evidence(
        case_id,
        actor=actor,
        sha256=stored.sha256,
        media_type=stored.media_type,
        size=stored.size,
        filename=stored.filename,
        note=note,
        correlation_id=correlation_id,
    )
    return stored, attached


def sniff(head: bytes, filename: str | None = None) -> str:
    """The media type of a file from its first bytes; ``InvalidValue("file", …)`` unless it is allowed."""
    kind = filetype.guess(head) if head else None
    if kind is not None and kind.mime in ALLOWED_MEDIA_TYPES:
        return str(kind.mime)
    name = safe_filename(filename)
    what = repr(name) if name else "the file"
    found = "is empty" if not head else f"is {kind.mime}" if kind else "is of a type not recognised"
    raise InvalidValue("file", f"{what} {found}; accepted are photos, video and PDF", allowed=ALLOWED_MEDIA_TYPES)


def safe_filename(filename: str | None) -> str | None:
    """The client's file name without directories or control characters, at most 255 characters; None if empty."""
    if not filename:
        return None
    base = re.split(r"[/\\]", filename)[-1]
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return cleaned[:MAX_FILENAME_CHARS] or None


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    # A file object may return fewer bytes than asked before its end (sockets, spooled uploads).
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _sync_directory(directory: Path) -> None:
    # The new directory entry must survive a crash too: the event recording its hash is saved next.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
