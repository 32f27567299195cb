"""Keys: generated per install when embedded (folder 0700, files 0600); required, and never a known value, when
distributed."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
import structlog
import structlog.testing
from pydantic import SecretStr

from shared import keys
from shared.keys import LEGACY_BLIND_INDEX_KEY, MissingSecret, blind_index_key, master_key, new_ed25519_pem
from shared.secrets import SecretsRefused, is_known_value, require_secrets
from shared.settings import Settings


@pytest.fixture(autouse=True)
def no_session_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests say every key setting themselves (the session's are set in tests/conftest.py)."""
    for name in ("OMBUD_AUTH_KEY_FILE", "OMBUD_KEY_DIR", "OMBUD_MODE"):
        monkeypatch.delenv(name, raising=False)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def embedded(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(mode="embedded", data_dir=tmp_path / "data", key_dir=tmp_path / "keys", **overrides)


def secret_file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def distributed(tmp_path: Path) -> dict[str, object]:
    """Every secret a distributed process needs, as a deployment mounts them (files) or sets them (variables)."""
    return {
        "mode": "distributed",
        "data_dir": tmp_path / "data",
        "master_key": SecretStr(base64.b64encode(os.urandom(32)).decode()),
        "blind_index_key_file": secret_file(tmp_path, "blind", base64.b64encode(os.urandom(32)) + b"\n"),
        "signing_key_file": secret_file(tmp_path, "signing.pem", new_ed25519_pem()),
        "auth_key_file": secret_file(tmp_path, "auth.pem", new_ed25519_pem()),
        "nats_password_file": secret_file(tmp_path, "nats", b"k3Jp0q9w8e7r6t5y4u3i2o1p\n"),
    }


class TestEmbedded:
    def test_makes_every_key_in_a_folder_only_its_owner_may_enter(self, tmp_path: Path) -> None:
        settings = embedded(tmp_path)
        require_secrets(settings)
        folder = tmp_path / "keys"
        assert mode_of(folder) == 0o700
        names = {p.name for p in folder.iterdir()}
        assert {"master.key", "blind-index.key", "signing.pem", "auth.pem"} <= names
        assert all(mode_of(p) == 0o600 for p in folder.iterdir())
        assert blind_index_key(settings) != LEGACY_BLIND_INDEX_KEY and len(master_key(settings)) == 32

    def test_each_install_gets_its_own_keys(self, tmp_path: Path) -> None:
        one, two = embedded(tmp_path / "one"), embedded(tmp_path / "two")
        assert blind_index_key(one) != blind_index_key(two)
        assert master_key(one) != master_key(two)

    def test_the_key_folder_defaults_to_keys_in_the_data_folder(self, tmp_path: Path) -> None:
        settings = Settings(mode="embedded", data_dir=tmp_path, key_dir=None)
        assert settings.key_path("master.key") == (tmp_path / "keys" / "master.key").resolve()

    def test_a_key_folder_made_loosely_by_an_earlier_version_is_tightened(self, tmp_path: Path) -> None:
        (tmp_path / "keys").mkdir(mode=0o755)
        (tmp_path / "keys").chmod(0o755)
        master_key(embedded(tmp_path))
        assert mode_of(tmp_path / "keys") == 0o700

    def test_an_install_from_before_per_install_keys_keeps_the_old_blind_index_key_with_a_warning(
        self, tmp_path: Path
    ) -> None:
        # Given a key folder an earlier version made: a master key, no blind-index key
        folder = tmp_path / "keys"
        folder.mkdir()
        (folder / "master.key").write_bytes(os.urandom(32))
        # When it starts
        settings = embedded(tmp_path)
        with structlog.testing.capture_logs() as logged:
            require_secrets(settings)
        # Then its blind-index key is the one its customer ids were derived with, now written down, and the
        # operator is told it is a known key
        assert blind_index_key(settings) == LEGACY_BLIND_INDEX_KEY
        assert (folder / "blind-index.key").read_bytes() == LEGACY_BLIND_INDEX_KEY
        assert "keys.legacy_blind_index_key" in [entry["event"] for entry in logged]

    def test_a_new_install_settles_its_blind_index_key_before_its_master_key(self, tmp_path: Path) -> None:
        settings = embedded(tmp_path)
        master_key(settings)  # the first key asked for, as when intake starts
        assert blind_index_key(settings) != LEGACY_BLIND_INDEX_KEY


class TestDistributed:
    def test_starts_with_every_secret_from_the_environment_or_files(self, distributed: dict[str, object]) -> None:
        settings = Settings(**distributed)
        require_secrets(settings)
        blind_file = Path(str(distributed["blind_index_key_file"]))
        assert blind_index_key(settings) == blind_file.read_bytes().strip()
        assert not (settings.data_dir / "keys").exists()  # nothing generated

    @pytest.mark.parametrize(
        ("missing", "named"),
        [
            ("master_key", "OMBUD_MASTER_KEY"),
            ("blind_index_key_file", "OMBUD_BLIND_INDEX_KEY"),
            ("signing_key_file", "OMBUD_SIGNING_KEY_FILE"),
            ("auth_key_file", "OMBUD_AUTH_KEY_FILE"),
            ("nats_password_file", "OMBUD_NATS_PASSWORD"),
        ],
    )
    def test_refuses_to_start_without_a_key_and_names_it(
        self, distributed: dict[str, object], missing: str, named: str
    ) -> None:
        del distributed[missing]
        with pytest.raises(SecretsRefused) as refused:
            require_secrets(Settings(**distributed))
        assert f"{named} " in str(refused.value) and "not set" in str(refused.value)
        assert str(refused.value).count("\n  - ") == 1  # only the missing one is named

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("blind_index_key", "ombud-embedded-blind-index-key"),  # the former built-in default
            ("blind_index_key", "CHANGE-ME"),  # the example in deploy/k8s
            ("master_key", "CHANGE-ME-base64-of-32-bytes"),
            ("master_key", base64.b64encode(bytes(32)).decode()),
            ("nats_password", "change-me-intake-password"),
        ],
    )
    def test_refuses_to_start_with_a_known_value(self, distributed: dict[str, object], field: str, value: str) -> None:
        distributed.pop(f"{field}_file", None)
        distributed[field] = SecretStr(value)
        with pytest.raises(SecretsRefused, match=f"OMBUD_{field.upper()}"):
            require_secrets(Settings(**distributed))

    def test_refuses_a_malformed_key(self, distributed: dict[str, object], tmp_path: Path) -> None:
        distributed["master_key"] = SecretStr(base64.b64encode(os.urandom(16)).decode())
        distributed["signing_key_file"] = secret_file(tmp_path, "not.pem", b"hello")
        with pytest.raises(SecretsRefused) as refused:
            require_secrets(Settings(**distributed))
        assert "16 bytes, not 32" in str(refused.value) and "OMBUD_SIGNING_KEY_FILE" in str(refused.value)

    def test_refuses_tls_files_it_cannot_use(self, distributed: dict[str, object], tmp_path: Path) -> None:
        distributed["nats_tls_ca_file"] = tmp_path / "missing-ca.pem"
        with pytest.raises(SecretsRefused, match="OMBUD_NATS_TLS_CA_FILE"):
            require_secrets(Settings(**distributed))

    def test_no_key_is_generated_when_asked_for_one_that_is_missing(self, tmp_path: Path) -> None:
        settings = Settings(mode="distributed", data_dir=tmp_path)
        for read in (keys.master_key, keys.blind_index_key, keys.signing_key_pem, keys.auth_key_pem):
            with pytest.raises(MissingSecret):
                read(settings)
        assert not (tmp_path / "keys").exists()

    def test_every_example_value_in_the_deployment_files_counts_as_known(self) -> None:
        assert is_known_value(b"CHANGE-ME") and is_known_value(b"ombud-embedded-customer-token-key")
        assert not is_known_value(base64.b64encode(os.urandom(32)))
