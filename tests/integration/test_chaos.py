"""Kill things mid-stream and count: nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.routing.application import Routing
from services.system import build_http
from shared.clock import SystemClock
from shared.natsserver import NatsServer, free_port
from shared.settings import REPO_ROOT, Settings
from tests.support import complaint_body, originators, staff_headers, wait_until


@pytest.fixture
def store() -> str:
    return "sqlite"  # a real process is killed; its SQLite file is what it must leave consistent


def triaged_cases(settings: Settings) -> list[object]:
    routing = Routing(settings, SystemClock())
    try:
        return originators(routing, "ComplaintTriaged")
    finally:
        routing.close()


def test_nats_outage_loses_nothing(make_settings: Callable[..., Settings], own_nats: NatsServer) -> None:
    settings = make_settings(nats_url=own_nats.url)
    with TestClient(build_http(["intake", "routing"], settings), headers=staff_headers("HQ-01", "hq")) as client:
        wait_until(lambda: client.get("/health").status_code == 200)
        # Given NATS goes down
        own_nats.stop()
        wait_until(lambda: client.get("/health").status_code == 503)
        assert client.get("/health").json()["down"] == ["nats"]
        # When 100 complaints are filed meanwhile
        statuses = [client.post("/api/complaints", json=complaint_body(i)).status_code for i in range(100)]
        assert statuses == [201] * 100
        # Then, once NATS is back, every one is triaged exactly once
        own_nats.start()
        wait_until(lambda: len(triaged_cases(settings)) >= 100, timeout=60)
    triaged = triaged_cases(settings)
    assert len(triaged) == len(set(triaged)) == 100


def start_routing(settings: Settings, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OMBUD_DATA_DIR": str(data_dir),
        "OMBUD_NATS_URL": str(settings.nats_url),
        "OMBUD_PORT": str(free_port()),
        "OMBUD_ACK_WAIT_SECONDS": "2",
        "OMBUD_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.routing"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def routing_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_routing_killed_mid_stream_triages_every_complaint_exactly_once(
    make_settings: Callable[..., Settings],
    own_nats: NatsServer,
    routing_process: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    settings = make_settings(nats_url=own_nats.url)
    log = tmp_path / "routing.log"
    with TestClient(build_http(["intake"], settings), headers=staff_headers("HQ-01", "hq")) as client:
        wait_until(lambda: client.get("/health").status_code == 200)
        routing_process.append(start_routing(settings, settings.data_dir, log))
        statuses: list[int] = []

        def file_500() -> None:
            for i in range(500):
                statuses.append(client.post("/api/complaints", json=complaint_body(i)).status_code)

        filer = threading.Thread(target=file_500)
        filer.start()
        # When routing is SIGKILLed while complaints are flowing
        wait_until(lambda: len(triaged_cases(settings)) >= 50, timeout=30)
        routing_process[0].send_signal(signal.SIGKILL)
        routing_process[0].wait()
        filed_at_kill, triaged_at_kill = len(statuses), len(triaged_cases(settings))
        filer.join()
        # and restarted
        routing_process.append(start_routing(settings, settings.data_dir, log))
        wait_until(lambda: len(triaged_cases(settings)) >= 500, timeout=90)
    triaged = triaged_cases(settings)
    assert filed_at_kill < 500 and triaged_at_kill < 500, "the kill must land mid-stream"
    assert statuses == [201] * 500
    assert len(triaged) == len(set(triaged)) == 500
