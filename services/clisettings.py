"""The settings every ``ombud`` command starts from (the commands live in several modules)."""

from __future__ import annotations

import os
from pathlib import Path

from shared.settings import Settings


def cli_settings(
    data_dir: Path | None, postgres_url: str | None, nats_url: str | None = None, *, listen: bool = False
) -> Settings:
    """Settings from the environment and the options given; only ``up`` listens for e-mail (``listen``)."""
    overrides: dict[str, object] = {
        key: value
        for key, value in {"data_dir": data_dir, "postgres_url": postgres_url, "nats_url": nats_url}.items()
        if value is not None
    }
    if not listen:
        overrides["smtp_port"] = 0
    if "OMBUD_MODE" not in os.environ:
        # `ombud` is the embedded system's tool (keys generated per install); OMBUD_MODE=distributed uses it on a
        # deployment whose keys come from its secret store (shared/secrets.py).
        overrides["mode"] = "embedded"
    return Settings(**overrides)
