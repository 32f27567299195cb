"""The evidence store: types judged by content, a size limit, content addressing, atomic idempotent writes."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.intake.evidence import ALLOWED_MEDIA_TYPES, EvidenceStore, EvidenceTooLarge, safe_filename
from shared.errors import InvalidValue, NotFound
from shared.privacy import DataKey, Unreadable


def png(width: int = 1, height: int = 1, *, noise: bool = False) -> bytes:
    """A valid RGB PNG; with ``noise`` its pixels are random, so it is unique and about 3·w·h bytes long."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = width * 3
    pixels = b"".join(b"\x00" + (os.urandom(row) if noise else b"\xff" * row) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 0 if noise else 9))
        + chunk(b"IEND", b"")
    )


def pdf(text: str = "receipt") -> bytes:
    """A minimal one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
        f"<< /Title ({text}) >>".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def jpeg() -> bytes:
    """The head of a JFIF JPEG (SOI, APP0) and its end marker."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    """An ISO base media file (MP4, QuickTime, HEIC) reduced to its ``ftyp`` box."""
    body = b"ftyp" + major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", len(body) + 4) + body


SAMPLES = {
    "image/jpeg": jpeg(),
    "image/png": png(),
    "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00" + bytes(14),
    "image/heic": iso_media(b"heic", b"mif1", b"heic"),
    "video/mp4": iso_media(b"isom", b"isom", b"mp41"),
    "video/quicktime": iso_media(b"qt  ", b"qt  "),
    "application/pdf": pdf(),
}


KEY = DataKey(key_id=uuid4().hex, customer_id=uuid4(), case_id=uuid4(), secret=AESGCM.generate_key(256))


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence", max_bytes=10_000)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_every_allowed_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(ALLOWED_MEDIA_TYPES)


@pytest.mark.parametrize("media_type", ALLOWED_MEDIA_TYPES)
def test_the_type_is_sniffed_from_the_bytes_whatever_the_name_says(store: EvidenceStore, media_type: str) -> None:
    stored = store.put(SAMPLES[media_type], "looks-like.txt", KEY)
    assert stored.media_type == media_type
    assert stored.size == len(SAMPLES[media_type])


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"just some text, not a photo\n", "not recognised"),
        (b"<html><script>alert(1)</script></html>", "not recognised"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48), "application/x-msdownload"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20), "application/zip"),
        (b"", "empty"),
    ],
)
def test_other_content_is_refused_naming_the_field_and_the_allowed_types(
    store: EvidenceStore, content: bytes, found: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        store.put(content, "photo.jpg", KEY)
    assert refused.value.field == "file"
    assert refused.value.allowed == list(ALLOWED_MEDIA_TYPES)
    assert found in refused.value.message and "'photo.jpg'" in refused.value.message
    assert stored_files(store.root) == []


def test_a_file_over_the_limit_is_refused_and_nothing_is_left(store: EvidenceStore) -> None:
    assert store.put(png(40, 20, noise=True), None, KEY).size <= store.max_bytes
    with pytest.raises(EvidenceTooLarge) as refused:
        store.put(png(60, 60, noise=True), None, KEY)
    assert (refused.value.field, refused.value.max_bytes) == ("file", 10_000)
    assert len(stored_files(store.root)) == 1  # the first file only; no temporary file left behind


def test_files_are_stored_under_their_sha256_in_sharded_folders(store: EvidenceStore) -> None:
    content = pdf()
    stored = store.put(content, "receipt.pdf", KEY)
    sha256 = hashlib.sha256(content).hexdigest()
    assert stored.sha256 == sha256
    assert store.path(sha256, KEY.key_id) == store.root / sha256[:2] / sha256[2:4] / f"{sha256}.{KEY.key_id}"
    assert stored_files(store.root) == [store.path(sha256, KEY.key_id)]
    assert store.open(sha256, KEY) == content


def test_files_are_encrypted_under_the_case_key_and_unreadable_without_it(store: EvidenceStore) -> None:
    content = pdf()
    stored = store.put(content, "receipt.pdf", KEY)
    on_disk = store.path(stored.sha256, KEY.key_id).read_bytes()
    assert content not in on_disk and b"%PDF" not in on_disk
    other = DataKey(
        key_id=KEY.key_id, customer_id=KEY.customer_id, case_id=KEY.case_id, secret=AESGCM.generate_key(256)
    )
    with pytest.raises(Unreadable):
        store.open(stored.sha256, other)


def test_storing_the_same_content_again_changes_nothing(store: EvidenceStore) -> None:
    content = png()
    first = store.put(content, "a.png", KEY)
    written = store.path(first.sha256, KEY.key_id).stat().st_mtime_ns
    again = store.put(content, "b.png", KEY)
    assert (again.sha256, again.media_type, again.size) == (first.sha256, first.media_type, first.size)
    assert store.path(first.sha256, KEY.key_id).stat().st_mtime_ns == written
    assert stored_files(store.root) == [store.path(first.sha256, KEY.key_id)]


def test_a_stream_is_read_in_chunks_even_when_it_returns_short_reads(store: EvidenceStore) -> None:
    class Trickle(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(min(size if size and size > 0 else 7, 7))

    content = png(30, 30, noise=True)
    stored = store.put_stream(Trickle(content), None, KEY)
    assert (stored.media_type, stored.size) == ("image/png", len(content))
    assert store.open(stored.sha256, KEY) == content


def test_unknown_and_malformed_hashes(store: EvidenceStore) -> None:
    with pytest.raises(NotFound):
        store.open("0" * 64, KEY)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(InvalidValue):
            store.path(bad, KEY.key_id)
    with pytest.raises(InvalidValue):
        store.path("0" * 64, "../x")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("receipt.pdf", "receipt.pdf"),
        ("C:\\Users\\wang\\照片.jpg", "照片.jpg"),
        ("../../etc/passwd", "passwd"),
        ("bad\r\nname\x00.png", "badname.png"),
        ("dir/", None),
        (None, None),
        ("x" * 300 + ".png", "x" * 255),
    ],
)
def test_the_file_name_is_kept_without_directories_or_control_characters(given: str | None, kept: str | None) -> None:
    assert safe_filename(given) == kept
