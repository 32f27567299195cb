"""`ombud up` as `make run` starts it: a real process tree, one port, a supervised worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.natsserver import free_port
from shared.settings import REPO_ROOT
from tests.support import complaint_body, wait_until


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    """The process's command line, or "" if it has already gone."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, str]]]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMBUD_")}
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(f"{url}/health") == 200, timeout=30)
        yield process, url, sign_in(tmp_path / "data", env, url)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def sign_in(data: Path, env: dict[str, str], url: str) -> dict[str, str]:
    """As the README says: set a password with the ombud command, then sign in for a bearer token."""
    subprocess.run(
        [sys.executable, "-m", "services.cli", "users", "set-password", "SH-001-F1", "--password-stdin", "--data-dir", str(data)],
        input=b"counter-clerk-pass\n", cwd=REPO_ROOT, env=env, check=True, timeout=60,
    )  # fmt: skip
    token = httpx.post(
        f"{url}/api/auth/token", data={"username": "SH-001-F1", "password": "counter-clerk-pass"}, trust_env=False
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def triaged(url: str, case_id: str, headers: dict[str, str]) -> bool:
    view = httpx.get(f"{url}/api/cases/{case_id}", headers=headers, trust_env=False)
    return view.status_code == 200 and view.json()["status"] == "triaged"


def test_up_restarts_a_killed_worker_process_and_stops_the_whole_tree(
    system: tuple[subprocess.Popen[bytes], str, dict[str, str]],
) -> None:
    process, url, headers = system
    [worker] = [pid for pid in children(process.pid) if " work " in command_line(pid)]
    nats = [pid for pid in children(process.pid) if "nats-server" in command_line(pid)]
    assert len(nats) == 1

    # When the worker process is killed outright
    os.kill(worker, signal.SIGKILL)
    # Then it is started again, and a complaint filed now is still triaged
    wait_until(lambda: [p for p in children(process.pid) if " work " in command_line(p) and p != worker], timeout=15)
    case_id = httpx.post(f"{url}/api/complaints", json=complaint_body(), headers=headers, trust_env=False).json()[
        "case_id"
    ]
    wait_until(lambda: triaged(url, case_id, headers), timeout=15)
    assert _status(f"{url}/health") == 200

    # And Ctrl-C stops everything: no worker, no nats-server left behind
    tree = children(process.pid)
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in tree), timeout=10)


def test_children_stop_when_up_itself_is_killed(system: tuple[subprocess.Popen[bytes], str, dict[str, str]]) -> None:
    process, _, _ = system
    tree = children(process.pid)
    assert len(tree) >= 2  # the worker process and nats-server
    process.kill()
    process.wait()
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in tree), timeout=10)
