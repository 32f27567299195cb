"""Configuration from the environment (prefix ``OMBUD_``), validated by pydantic-settings."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where data lives, which servers to use, and how the bus behaves."""

    model_config = SettingsConfigDict(env_prefix="OMBUD_", extra="ignore")

    data_dir: Path = Path("data")
    config_dir: Path = REPO_ROOT / "config"
    master_data_dir: Path = REPO_ROOT / "config" / "demo-chain"
    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed (shared/clientaddr.py); empty: none.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Origins (comma-separated, e.g. https://portal.example.com) a browser app may call the API from; empty: none.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    nats_url: str | None = None
    # This process's NATS identity (shared/natsauth.py): user (default: the service's name) and password. Unset
    # when embedded: the passwords generated in key_dir. TLS: a CA to trust, and a client certificate if the
    # server asks for one.
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_password_file: Path | None = None
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    postgres_url: str | None = None
    # The URL (with its password) from a mounted secret file instead; read once, at start.
    postgres_url_file: Path | None = None
    postgres_schema: str | None = None
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"
    # "embedded" (what `ombud up` and the `ombud` tools run): keys and NATS passwords are generated per install
    # in key_dir. "distributed" (the default, so a container never invents keys of its own): every key comes
    # from the environment or a secret file and a process refuses to start without it (shared/secrets.py).
    mode: Literal["embedded", "distributed"] = "distributed"
    # Where the embedded system keeps its generated keys (default <data_dir>/keys; docs/deployment.md on backups).
    key_dir: Path | None = None
    # Keys the blind index of contacts (repeat detection, lookups); every *_key has a *_key_file twin for a
    # mounted secret. Unset: generated per install when embedded, refused when distributed (shared/keys.py).
    blind_index_key: SecretStr | None = None
    blind_index_key_file: Path | None = None
    # Wraps each customer's data key (base64 of 32 bytes); unset: as the blind-index key.
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    # Ed25519 private key (PEM) that signs audit checkpoints and bundles; unset: <key_dir>/signing.pem (embedded).
    signing_key_file: Path | None = None
    checkpoint_interval_seconds: float = 3600.0
    # Identity (docs/security.md): "embedded" signs Ombud's own tokens with an Ed25519 key (default
    # <key_dir>/auth.pem, generated on first use); "oidc" verifies the chain's provider's tokens by its JWKS.
    auth_mode: Literal["embedded", "oidc"] = "embedded"
    auth_key_file: Path | None = None
    auth_audience: str = "ombud"
    auth_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Claim names carrying the user id, roles, stores and regions (a provider may name them otherwise).
    auth_claim_user: str = "sub"
    auth_claim_roles: str = "roles"
    auth_claim_stores: str = "stores"
    auth_claim_regions: str = "regions"
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_jwks_cache_seconds: int = 300
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
    # How long an idle consumer's pull waits for a message; also how long stopping a consumer can take.
    fetch_wait_seconds: float = 0.25
    relay_batch: int = 500
    # A save in this process wakes its relay at once; this poll finds saves made by other processes
    # (under `ombud up`, every HTTP command: a cheap indexed read, 50 times a second when idle).
    relay_poll_seconds: float = 0.02
    max_body_bytes: int = 1_000_000
    # How often routing's timer worker looks for due clock timers (warnings, breaches).
    timer_poll_seconds: float = 1.0
    # How often feedback turns the high-frequency warnings of its read model into events.
    warning_check_seconds: float = 600.0

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for proxy in value:
            ip_network(proxy, strict=False)  # a typo stops the start, rather than trusting nobody silently
        return value

    @model_validator(mode="after")
    def _postgres_url_from_file(self) -> Settings:
        if self.postgres_url is None and self.postgres_url_file is not None:
            self.postgres_url = self.postgres_url_file.read_text().strip()
        return self

    def key_path(self, name: str) -> Path:
        """Where the embedded system keeps a generated key file."""
        return (self.key_dir or self.data_dir / "keys").resolve() / name

    def child_env(self) -> dict[str, str]:
        """The settings a child process needs to see the same stores and NATS as this one."""
        env = {
            "OMBUD_DATA_DIR": str(self.data_dir.resolve()),
            "OMBUD_LOG_LEVEL": self.log_level,
            "OMBUD_MODE": self.mode,
            "OMBUD_KEY_DIR": str(self.key_path("x").parent),
        }
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
