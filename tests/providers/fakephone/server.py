"""FakePhone: a tiny phone system on loopback that a test drives, so the provider seam can be
proven against a real HTTP peer without any real provider.

Its API (JSON, `Authorization: Bearer <api key>`):

- `POST /v1/calls` `{"to", "from", "agent", "reference"}` with an `Idempotency-Key` header
  places an outgoing call: 201 `{"id"}`; the same key again answers 200 with the same call.
  401 for a wrong key, 422 for a `to` that is not E.164, or whatever `refuse_next` scripted.
- `GET /v1/calls/<id>`: 200 `{"call": {...}, "events": [...]}`, everything it knows of the
  call; 404 for a call it never had.

What happens on a call is up to the test (`happen`). Each event is kept for `GET` and, once the
test has pasted a webhook URL and secret in (as an admin would in a phone system's console),
POSTed there as `{"call": {...}, "event": {...}}`, signed
`X-FakePhone-Signature: sha256=<hex HMAC-SHA256 of the body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

SIGNATURE_HEADER = "X-FakePhone-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class FakeCall:
    id: str
    direction: str  # "outgoing" or "incoming", FakePhone's words
    to: str
    from_: str
    agent: str  # the agent's email at FakePhone
    reference: str = ""  # what the dialler passed along: the Outreach call id
    events: list[dict[str, Any]] = field(default_factory=list)

    def resource(self) -> dict[str, str]:
        data = asdict(self)
        del data["events"]
        data["from"] = data.pop("from_")
        return data


@dataclass
class Delivery:
    """One webhook FakePhone sent, and what the receiver answered."""

    body: bytes
    status: int
    answer: bytes


class FakePhone:
    def __init__(self) -> None:
        self.api_key = "fp_" + secrets.token_hex(8)
        self.webhook_secret = "fpsig_" + secrets.token_hex(16)
        self.webhook_url = ""  # pasted in by the test, as an admin would
        self.calls: dict[str, FakeCall] = {}
        self.deliveries: list[Delivery] = []
        self._by_idempotency_key: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._refusals: list[tuple[int, str]] = []
        self._hang_seconds = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "FakePhone is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @contextmanager
    def running(self) -> Iterator[FakePhone]:
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)

    # What the test scripts ---------------------------------------------------------------------

    def refuse_next(self, status: int, error: str = "refused by the test") -> None:
        with self._lock:
            self._refusals.append((status, error))

    def hang_next(self, seconds: float) -> None:
        """The next API request waits this long before it is answered."""
        self._hang_seconds = seconds

    def call_in(self, *, from_: str, to: str, agent: str) -> FakeCall:
        """Someone calls one of the company's numbers."""
        with self._lock:
            call = FakeCall(
                id=f"fp-{next(self._ids)}", direction="incoming", to=to, from_=from_, agent=agent
            )
            self.calls[call.id] = call
        return call

    def happen(
        self, call_id: str, kind: str, *, recording_url: str = "", notify: bool = True
    ) -> dict[str, Any]:
        """Something happens on the call (`dialing`, `ringing`, `answered`, `voicemail`, `busy`,
        `no-answer`, `failed`, `hangup`, `recording`); FakePhone tells the webhook unless
        `notify` is False (a webhook lost on the way)."""
        with self._lock:
            call = self.calls[call_id]
            event = {
                "id": f"{call.id}.{len(call.events) + 1}",
                "type": kind,
                "at": datetime.now(UTC).isoformat(),
            }
            if recording_url:
                event["recording_url"] = recording_url
            call.events.append(event)
        if notify and self.webhook_url:
            self.deliver(self.webhook_body(call, event))
        return event

    def webhook_body(self, call: FakeCall, event: dict[str, Any]) -> bytes:
        return json.dumps({"call": call.resource(), "event": event}).encode()

    def deliver(self, body: bytes, *, secret: str | None = None) -> Delivery:
        """POST a webhook body, signed with the webhook secret (or `secret`)."""
        response = httpx.post(
            self.webhook_url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(secret or self.webhook_secret, body),
            },
            timeout=10,
        )
        delivery = Delivery(body=body, status=response.status_code, answer=response.content)
        self.deliveries.append(delivery)
        return delivery

    # Its API -----------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if self._hang_seconds:
            seconds, self._hang_seconds = self._hang_seconds, 0.0
            time.sleep(seconds)
        with self._lock:
            if self._refusals:
                status, error = self._refusals.pop(0)
                return status, {"error": error}
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return 401, {"error": "unknown api key"}
            if method == "POST" and path == "/v1/calls":
                return self._place(headers, body)
            if method == "GET" and path.startswith("/v1/calls/"):
                call = self.calls.get(path.removeprefix("/v1/calls/"))
                if call is None:
                    return 404, {"error": "no such call"}
                return 200, {"call": call.resource(), "events": list(call.events)}
            return 404, {"error": f"no route {method} {path}"}

    def _place(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        key = headers.get("idempotency-key", "")
        if not key:
            return 400, {"error": "Idempotency-Key header is required"}
        if key in self._by_idempotency_key:
            return 200, {"id": self._by_idempotency_key[key]}
        asked = json.loads(body or b"{}")
        if not str(asked.get("to", "")).startswith("+"):
            return 422, {"error": "'to' must be an E.164 number"}
        call = FakeCall(
            id=f"fp-{next(self._ids)}",
            direction="outgoing",
            to=asked["to"],
            from_=asked.get("from", ""),
            agent=asked.get("agent", ""),
            reference=asked.get("reference", ""),
        )
        self.calls[call.id] = call
        self._by_idempotency_key[key] = call.id
        return 201, {"id": call.id}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (a deadline) has closed the socket: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(phone: FakePhone) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer = phone.answer(self.command, self.path, headers, body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test asserts on what FakePhone recorded instead

    return Handler
