"""A lean asyncio HTTP/1.1 keep-alive client for the benchmarks.

The load generator shares the two cores with the system it measures, so it must cost little:
httpx spent about 1.3 ms of CPU per request here, this client a fraction of that. It speaks just
what the benchmarks need: JSON bodies, Content-Length responses, persistent connections.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# What a failed request raises (the benchmarks count these as errors).
HTTPError = (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError)


@dataclass
class Response:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class LeanClient:
    """Up to ``connections`` persistent connections to one host; use as ``async with``."""

    def __init__(self, connections: int, timeout: float = 30.0, headers: dict[str, str] | None = None) -> None:
        self.size = connections
        self.timeout = timeout
        # Sent with every request (e.g. Authorization), already as header lines.
        self.extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.opened = 0
        self.all: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        for writer in self.all:
            writer.close()

    async def get(self, url: str) -> Response:
        return await self.request("GET", url)

    async def post(self, url: str, json: Any) -> Response:
        return await self.request("POST", url, _dumps(json))

    async def request(self, method: str, url: str, body: bytes | None = None) -> Response:
        return await asyncio.wait_for(self._request(method, url, body), self.timeout)

    async def _request(self, method: str, url: str, body: bytes | None) -> Response:
        parts = urlsplit(url)
        reader, writer = await self._connection(parts.hostname or "127.0.0.1", parts.port or 80)
        head = f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += self.extra
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            writer.write(head.encode() + b"\r\n" + (body or b""))
            status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
            length, close = 0, False
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            content = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.opened -= 1
            raise
        if close:
            writer.close()
            self.opened -= 1
        else:
            self.idle.put_nowait((reader, writer))
        return Response(status, content)

    async def _connection(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except BaseException:
                self.opened -= 1
                raise
            self.all.append(writer)
            return reader, writer
        return await self.idle.get()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
