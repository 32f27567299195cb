"""Sealing personal data with a data key, the master key, and masking contact details in free text."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import SecretStr

from shared.privacy import DataKey, Unreadable, key_id_of, mask_contact, master_key
from shared.settings import Settings


def data_key(**overrides: object) -> DataKey:
    fields: dict[str, object] = {
        "key_id": uuid4().hex,
        "customer_id": uuid4(),
        "case_id": uuid4(),
        "secret": os.urandom(32),
    }
    fields.update(overrides)
    return DataKey(**fields)  # type: ignore[arg-type]


class TestSealing:
    def test_round_trip_and_the_token_names_its_key(self) -> None:
        key = data_key()
        token = key.seal("customer", '{"name": "王芳"}')
        assert token.startswith(f"enc:v1:{key.key_id}:") and "王芳" not in token
        assert key_id_of(token) == key.key_id
        assert key.open(token, "customer") == '{"name": "王芳"}'

    def test_same_plaintext_seals_differently_each_time(self) -> None:
        key = data_key()
        assert key.seal("customer", "王芳") != key.seal("customer", "王芳")

    def test_another_key_does_not_open_it(self) -> None:
        key = data_key()
        token = key.seal("customer", "王芳")
        impostor = data_key(key_id=key.key_id, customer_id=key.customer_id, case_id=key.case_id)
        with pytest.raises(Unreadable):
            impostor.open(token, "customer")

    def test_a_token_moved_to_another_field_or_case_does_not_open(self) -> None:
        key = data_key()
        token = key.seal("customer", "王芳")
        with pytest.raises(Unreadable):
            key.open(token, "description")
        moved = DataKey(key_id=key.key_id, customer_id=key.customer_id, case_id=uuid4(), secret=key.secret)
        with pytest.raises(Unreadable):
            moved.open(token, "customer")

    def test_a_tampered_or_malformed_token_does_not_open(self) -> None:
        key = data_key()
        prefix, _, blob = key.seal("customer", "王芳").rpartition(":")
        raw = bytearray(base64.b64decode(blob))
        raw[-1] ^= 1
        with pytest.raises(Unreadable):
            key.open(f"{prefix}:{base64.b64encode(bytes(raw)).decode()}", "customer")
        for bad in ("王芳", "enc:v1:", f"enc:v1:{key.key_id}:not base64!", f"enc:v1:{key.key_id}:AAAA"):
            with pytest.raises(Unreadable):
                key.open(bad, "customer")


class TestMasterKey:
    def test_from_configuration(self, tmp_path: Path) -> None:
        secret = os.urandom(32)
        settings = Settings(
            data_dir=tmp_path, key_dir=tmp_path / "keys", master_key=SecretStr(base64.b64encode(secret).decode())
        )
        assert master_key(settings) == secret
        assert not settings.key_path("master.key").exists()

    def test_embedded_key_file_is_made_once_and_kept(self, tmp_path: Path) -> None:
        settings = Settings(mode="embedded", data_dir=tmp_path, key_dir=tmp_path / "keys")
        first = master_key(settings)
        assert len(first) == 32 and master_key(settings) == first
        assert settings.key_path("master.key").stat().st_mode & 0o777 == 0o600

    @pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
    def test_refuses_a_malformed_key(self, tmp_path: Path, value: str) -> None:
        with pytest.raises(ValueError, match="base64|32 bytes"):
            master_key(Settings(data_dir=tmp_path, master_key=SecretStr(value)))


KNOWN = {"name": "王小明", "phone": "+86 139-1234-5678", "email": "Wang@Example.com", "address": "长宁路1号"}


class TestMasking:
    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            ("请打电话 13912345678 找王小明", "请打电话 [phone] 找[name]"),
            ("电话13800138000找我", "电话[phone]找我"),
            ("call +86 138-0013-8000 or (021) 6234 5678", "call [phone] or [phone]"),
            ("mail wang@example.com or li.si+x@mail.example.cn.", "mail [email] or [email]."),
            ("身份证 11010519491231002X", "身份证 [id]"),
            ("王小明住在长宁路1号", "[name]住在[address]"),
        ],
    )
    def test_contact_details_are_masked(self, text: str, masked: str) -> None:
        assert mask_contact(text, KNOWN) == masked

    @pytest.mark.parametrize(
        "text",
        ["2026-11-20 买的，付了 3980.00 元，订单 10:30 到", "v1.2.3456789 版本", "价格 1000 元, 3 件", "质量太差"],
    )
    def test_dates_amounts_and_short_numbers_are_kept(self, text: str) -> None:
        assert mask_contact(text, KNOWN) == text

    def test_a_one_letter_name_is_not_masked_everywhere(self) -> None:
        assert mask_contact("王府井店的手镯", {"name": "王"}) == "王府井店的手镯"
