"""A distributed service refuses to start without its keys, naming each; it never invents one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared.settings import REPO_ROOT


def test_a_service_run_alone_without_keys_refuses_to_start_and_names_them(tmp_path: Path) -> None:
    # Given the environment of a container whose secrets were forgotten (distributed is the default mode)
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMBUD_")}
    env.update(OMBUD_NATS_URL="nats://127.0.0.1:1", OMBUD_DATA_DIR=str(tmp_path / "data"),
               OMBUD_BLIND_INDEX_KEY="ombud-embedded-blind-index-key")  # fmt: skip
    # When the intake service is started
    done = subprocess.run([sys.executable, "-m", "services.intake"], cwd=REPO_ROOT, env=env, capture_output=True,
                          timeout=60, text=True)  # fmt: skip
    # Then it exits at once, naming every missing or published key, and has written no key of its own
    assert done.returncode != 0
    for named in ("OMBUD_MASTER_KEY", "OMBUD_SIGNING_KEY_FILE", "OMBUD_AUTH_KEY_FILE", "OMBUD_NATS_PASSWORD"):
        assert f"{named} " in done.stderr, done.stderr
    assert "OMBUD_BLIND_INDEX_KEY is a built-in default" in done.stderr
    assert not (tmp_path / "data" / "keys").exists()
