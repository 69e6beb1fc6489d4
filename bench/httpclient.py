"""Just enough HTTP/1.1 on asyncio streams to load our own server and the sandbox on loopback.

httpx spends about a millisecond of CPU per request. On the benchmark's two cores the load
generator shares the CPU with the server it measures, so it should cost as little as possible:
this client writes one request and reads one Content-Length answer, keeps a connection alive
when the server does (gunicorn's gthread workers) and opens a new one when it closes (its sync
workers). Nothing else: no TLS, no chunked bodies, no redirects.
"""

from __future__ import annotations

import asyncio

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpError(Exception):
    pass


class HttpPool:
    """Connections to one host:port; as many as there are requests in flight."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[Connection] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        message = head.encode("latin-1") + b"\r\n" + body
        while self._idle:
            # A kept-alive connection the server closed meanwhile answers nothing: try the next.
            connection = self._idle.pop()
            try:
                return await self._exchange(connection, message)
            except (asyncio.IncompleteReadError, ConnectionError):
                continue
        connection = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(connection, message)

    async def _exchange(self, connection: Connection, message: bytes) -> tuple[int, bytes]:
        reader, writer = connection
        try:
            writer.write(message)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            version, status = lines[0].split(" ", 2)[:2]
            fields = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    fields[name.strip().lower()] = value.strip()
            if "chunked" in fields.get("transfer-encoding", ""):
                raise HttpError("chunked answers are not supported")
            length = fields.get("content-length")
            content = await (reader.readexactly(int(length)) if length else reader.read())
        except BaseException:
            writer.close()
            raise
        keep = version == "HTTP/1.1" and fields.get("connection", "").lower() != "close"
        if keep and length is not None:
            self._idle.append(connection)
        else:
            writer.close()
        return int(status), content

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
