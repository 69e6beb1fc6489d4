"""HTTP for the fake phone system: `POST /dial` (Callbridge's dial requests), its page at `/`
(set-up form, calls with a button per happening, every dial request received) and
`GET /_control/state` (the same as JSON)."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from .page import render_page
from .phone import PhoneSystem

_HAPPEN = re.compile(r"^/calls/(?P<call>[^/]+)/(?P<happening>[a-z_]+)$")


class PhoneServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, phone: PhoneSystem, host: str, port: int) -> None:
        self.phone = phone
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # bound to a str host; typeshed allows bytes too
        return f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (its deadline) has closed the socket: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: PhoneServer

    def do_GET(self) -> None:
        phone = self.server.phone
        if self.path == "/":
            self._send(200, render_page(phone).encode(), "text/html; charset=utf-8")
        elif self.path == "/_control/state":
            state = {
                "webhookUrl": phone.webhook_url,
                "dials": [asdict(dial) | {"at": dial.at.isoformat()} for dial in phone.dials],
                "calls": [asdict(call) for call in phone.calls.values()],
            }
            self._json(200, state)
        else:
            self._json(404, {"error": f"no page {self.path}"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        phone = self.server.phone
        if self.path == "/dial":
            status, answer = phone.receive_dial(dict(self.headers.items()), body)
            self._json(status, answer)
            return
        form = {name: values[-1] for name, values in parse_qs(body.decode()).items()}
        happen = _HAPPEN.match(self.path)
        if self.path == "/set-up":
            secret = form.get("secret", "")  # left blank: the saved one stays
            phone.set_up(
                webhook_url=form.get("webhook_url", ""),
                secrets=[secret] if secret else phone.secrets,
            )
        elif happen and happen["call"] in phone.calls:
            phone.happen(happen["call"], happen["happening"], link=form.get("link", ""))
        else:
            self._json(404, {"error": f"no form {self.path}"})
            return
        self.send_response(303)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # its page and its state say what it received


def serve(*, host: str = "127.0.0.1", port: int = 8766) -> None:
    server = PhoneServer(PhoneSystem(), host, port)
    print(f"Phone sandbox listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextmanager
def running_phone(phone: PhoneSystem | None = None) -> Iterator[tuple[PhoneSystem, str]]:
    """A phone on a free loopback port in a background thread; yields it and its base URL."""
    server = PhoneServer(phone or PhoneSystem(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.phone, server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
