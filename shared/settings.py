"""Configuration from the environment (prefix ``OMBUD_``), validated by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where data lives, which servers to use, and how the bus behaves."""

    model_config = SettingsConfigDict(env_prefix="OMBUD_", extra="ignore")

    data_dir: Path = Path("data")
    config_dir: Path = REPO_ROOT / "config"
    master_data_dir: Path = REPO_ROOT / "config" / "demo-chain"
    host: str = "127.0.0.1"
    port: int = 8000
    nats_url: str | None = None
    postgres_url: str | None = None
    postgres_schema: str | None = None
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"
    # Keys the blind index of contacts (repeat detection, lookups); set a secret one in production.
    blind_index_key: SecretStr = SecretStr("ombud-embedded-blind-index-key")
    # Derives each case's customer token (answering a proposal or a survey without a login); secret in production.
    customer_token_key: SecretStr = SecretStr("ombud-embedded-customer-token-key")
    # Wraps each customer's data key (base64 of 32 bytes). Unset: a key file under <data_dir>/keys is
    # created on first use, which suits the embedded system only; production sets it from a secret store.
    master_key: SecretStr | None = None
    # Ed25519 private key (PEM) that signs audit checkpoints and bundles; default <data_dir>/keys/signing.pem.
    signing_key_file: Path | None = None
    checkpoint_interval_seconds: float = 3600.0
    # Evidence files, stored by content hash (a path here; an object store in production).
    evidence_dir: Path | None = None  # default <data_dir>/evidence
    evidence_max_bytes: int = 20_000_000
    # Inbound e-mail: the SMTP listener (port 0 = off); config/mailboxes.yaml maps mailboxes to stores.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0
    # Outgoing customer messages (config/notifications.yaml): e-mail through this SMTP relay (port 0 = none);
    # SMS, app push and chat POSTed to this webhook (unset = none); due deliveries looked for this often.
    mail_relay_host: str = "127.0.0.1"
    mail_relay_port: int = 0
    notify_webhook_url: str | None = None
    delivery_poll_seconds: float = 1.0

    stream_name: str = "OMBUD"
    # 3 on a JetStream cluster: a replicated stream is what makes an acknowledged publish survive a crash.
    stream_replicas: int = 1
    duplicate_window_seconds: float = 600.0
    max_deliver: int = 5
    backoff_seconds: list[float] = Field(default_factory=lambda: [0.5, 2.0, 5.0, 15.0])
    ack_wait_seconds: float = 10.0
    fetch_batch: int = 200
    relay_batch: int = 500
    # A save in this process wakes its relay at once; this poll finds saves made by other processes
    # (under `ombud up`, every HTTP command: a cheap indexed read, 50 times a second when idle).
    relay_poll_seconds: float = 0.02
    max_body_bytes: int = 1_000_000
    # How often routing's timer worker looks for due clock timers (warnings, breaches).
    timer_poll_seconds: float = 1.0
    # How often feedback turns the high-frequency warnings of its read model into events.
    warning_check_seconds: float = 600.0

    def key_path(self, name: str) -> Path:
        """Where the embedded system keeps a generated key file."""
        return self.data_dir.resolve() / "keys" / name

    def child_env(self) -> dict[str, str]:
        """The settings a child process needs to see the same stores and NATS as this one."""
        env = {"OMBUD_DATA_DIR": str(self.data_dir.resolve()), "OMBUD_LOG_LEVEL": self.log_level}
        if self.nats_url:
            env["OMBUD_NATS_URL"] = self.nats_url
        if self.postgres_url:
            env["OMBUD_POSTGRES_URL"] = self.postgres_url
        return env

    def persistence_env(self, service: str, connections: int | None = None) -> dict[str, str]:
        """The eventsourcing environment for one service's store: SQLite file or PostgreSQL (``connections``: a pool
        of that many connections instead of the services' own, for a reader or writer on one thread)."""
        env = {"SINGLE_ROW_TRACKING": "no", "CREATE_TABLE": "yes"}
        if self.postgres_url:
            env.update(postgres_env(self.postgres_url))
            if connections is not None:
                env.update(POSTGRES_POOL_SIZE=str(connections), POSTGRES_MAX_OVERFLOW="0")
            env["PROCESS_RECORDER_TOPIC"] = "shared.audit.sealing:SealedPostgresProcessRecorder"
            if self.postgres_schema:
                env["POSTGRES_SCHEMA"] = self.postgres_schema
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                PROCESS_RECORDER_TOPIC="shared.audit.sealing:SealedSQLiteProcessRecorder",
                SQLITE_DBNAME=str(self.data_dir / f"{service}.db"),
                SQLITE_LOCK_TIMEOUT="30",
            )
        return env


def postgres_env(url: str) -> dict[str, str]:
    """Translate ``postgresql://user:pw@host:port/db`` into eventsourcing's POSTGRES_* keys."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"not a PostgreSQL URL: scheme {parsed.scheme!r}")
    # A Unix socket directory may come as ``?host=/path`` (libpq's own URL convention).
    socket_dir = parse_qs(parsed.query).get("host", [None])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": socket_dir or parsed.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": unquote(parsed.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parsed.password or ""),
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
    }
