"""A supervised child process: started in its own session, restarted if it dies unasked."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

import structlog

log = structlog.get_logger()
PR_SET_PDEATHSIG = 1


class ChildProcess:
    """Runs ``argv`` and keeps it running until ``stop()``; a crash is logged and restarted."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], restart_delay: float = 1.0) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.restart_delay = restart_delay
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> ChildProcess:
        """Start the child and a thread that restarts it whenever it exits before ``stop()``."""
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True)
        self._watcher.start()
        return self

    def alive(self) -> bool:
        """Whether the child is running now."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait up to ``timeout`` for a clean exit, then SIGKILL."""
        self._stopping.set()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._watcher:
            self._watcher.join(timeout)

    def _spawn(self) -> None:
        # Its own session: Ctrl-C reaches the parent, which stops its children in order.
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            assert self.process is not None
            code = self.process.wait()
            if self._stopping.is_set():
                return
            log.error("child.exited", child=self.name, returncode=code, restart_in=self.restart_delay)
            if self._stopping.wait(self.restart_delay):
                return
            self._spawn()


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the parent dies, even by SIGKILL (Linux), so no child is
    left running on its own. Elsewhere it does nothing."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
