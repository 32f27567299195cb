"""Key files the embedded system generates on first use (production passes keys from its secret store)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def load_or_create(path: Path, create: Callable[[], bytes]) -> bytes:
    """The bytes in ``path``; if it does not exist, ``create()`` them and write the file (mode 0600).

    Exclusive creation makes two processes starting together agree on one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as file:
        file.write(create())
    return path.read_bytes()
