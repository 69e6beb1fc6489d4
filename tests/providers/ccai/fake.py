"""A local fake of the CCAI Platform's Call API on loopback, for the tests: standard library HTTP,
data in memory, driven by the test.

Its API is the seed's, under `/<subdomain>/apps/api/v1` (the tests point `CCAI_API_URL` at
`http://{domain}/{subdomain}/apps/api/v1` with the fake's `127.0.0.1:<port>` as the domain):

- HTTP Basic auth with its API user and token (401 `{"message"}` otherwise); an unknown
  subdomain is 404 "Resource not found - Please check your subdomain".
- `POST /calls` places an outbound call: 201 with a call object cut from the seed's answer,
  `status` "assigned"; or whatever the test scripted (`answer_next`), or a hang (`hang_next`).
- `GET /calls?per=1` (the credential check) and `GET /calls/<id>`: the call object as it is now.
- Its limit: more than `limit_per_second` requests in any second are answered 429 with
  `Retry-After: 1`; `throttle_every` answers every n-th request 429 as well.

A call changes status over time (`play`): each step happens after its delay, changes the call
object and, unless the step says it is lost, pushes a session event carrying the call object's
fields to the webhook URL the test pasted in (with HTTP Basic auth, as the platform's session
data export does). Every request is logged with its time (`requests`), for the limiter test.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.providers.webhook_case import payload_of

SUBDOMAIN = "acme"


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Step:
    """After `after` seconds (from the previous step), the call object takes these fields."""

    after: float
    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    pushed: bool = True  # False: the session event is lost on the way


@dataclass
class Logged:
    at: float  # time.monotonic()
    method: str
    path: str
    status: int


class FakeCcai:
    def __init__(self, *, api_user: str = "acme-key", api_token: str = "acme-token") -> None:
        self.api_user, self.api_token = api_user, api_token
        self.webhook_url = ""
        self.webhook_auth: tuple[str, str] = ("", "")
        self.calls: dict[str, dict[str, Any]] = {}
        self.placed: list[dict[str, Any]] = []  # the bodies of POST /calls
        self.requests: list[Logged] = []
        self.pushes: list[tuple[dict[str, Any], int]] = []  # (body, our answer's status)
        self.limit_per_second = 10
        self.throttle_every = 0
        self._answers: list[tuple[int, Any, float]] = []
        self._hang = 0.0
        self._ids = itertools.count(9001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._players: list[threading.Thread] = []

    @property
    def domain(self) -> str:
        assert self._server is not None, "the fake is not running"
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def api_url_template(self) -> str:
        return "http://{domain}/{subdomain}/apps/api/v1"

    def setup_values(self, **overrides: str) -> dict[str, str]:
        return {
            "subdomain": SUBDOMAIN,
            "domain": self.domain,
            "api_user": self.api_user,
            "api_token": self.api_token,
            "outbound_number": "+13392195276",
            "lang": "en",
            **overrides,
        }

    @contextmanager
    def running(self) -> Iterator[FakeCcai]:
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            for player in self._players:
                player.join(timeout=5)
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)

    # What the test scripts -------------------------------------------------------------------

    def answer_next(self, status: int, body: Any = None, *, delay: float = 0.0) -> None:
        with self._lock:
            self._answers.append((status, body, delay))

    def hang_next(self, seconds: float) -> None:
        self._hang = seconds

    def call_in(self, *, agent_id: int = 7) -> str:
        """An end user calls the contact centre: an inbound call object, cut from the seed's."""
        call = payload_of("ccai", "queued__inbound")
        call.update(
            id=next(self._ids),
            status="selecting",
            created_at=now_iso(),
            queued_at=None,
            support_number="+1 339-219-5276",
            agent_info=None,
        )
        call["_agent"] = agent_id
        with self._lock:
            self.calls[str(call["id"])] = call
        return str(call["id"])

    def play(self, call_id: str, steps: list[Step], *, end_user: str = "+1 859-657-9625") -> None:
        """Let the call go through `steps` in the background."""
        player = threading.Thread(target=self._play, args=(call_id, steps, end_user), daemon=True)
        self._players.append(player)
        player.start()

    def _play(self, call_id: str, steps: list[Step], end_user: str) -> None:
        for step in steps:
            time.sleep(step.after)
            with self._lock:
                call = self.calls[call_id]
                call["status"] = step.status
                stamp = now_iso()
                for name, value in step.fields.items():
                    call[name] = stamp if value == "now" else value
                if step.status in ("assigned", "connecting") and call.get("_agent"):
                    call["agent_info"] = {
                        "id": call["_agent"],
                        "agent_number": None,
                        "name": "Rita",
                    }
                snapshot = copy.deepcopy(call)
            if step.pushed and self.webhook_url:
                self.push(self.session_event(snapshot, end_user=end_user))

    def session_event(self, call: dict[str, Any], *, end_user: str) -> dict[str, Any]:
        item = {key: value for key, value in call.items() if not key.startswith("_")}
        item["call_id"] = item.pop("id")
        item["participants"] = [{"type": "external", "status": "connected", "dn": end_user}]
        return {"type": "call", "item": item}

    def push(self, body: dict[str, Any], *, auth: tuple[str, str] | None = None) -> int:
        user, password = auth or self.webhook_auth
        response = httpx.post(
            self.webhook_url, json=body, auth=httpx.BasicAuth(user, password), timeout=15
        )
        self.pushes.append((body, response.status_code))
        return response.status_code

    # Its API ---------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        status, answer, extra = self._answer(method, path, headers, body)
        with self._lock:
            self.requests.append(Logged(time.monotonic(), method, path, status))
        return status, answer, extra

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if self._hang:
            seconds, self._hang = self._hang, 0.0
            time.sleep(seconds)
        prefix = f"/{SUBDOMAIN}/apps/api/v1"
        if not path.startswith(prefix + "/"):
            return 404, {"message": "Resource not found - Please check your subdomain"}, {}
        if headers.get("authorization") != _basic(self.api_user, self.api_token):
            return 401, {"message": "Unauthorized"}, {}
        with self._lock:
            now = time.monotonic()
            recent = [r for r in self.requests if r.at > now - 1 and r.status != 429]
            count = len(self.requests) + 1
            if len(recent) >= self.limit_per_second or (
                self.throttle_every and count % self.throttle_every == 0
            ):
                return 429, {"message": "Too many requests"}, {"Retry-After": "1"}
            scripted = self._answers.pop(0) if self._answers and method == "POST" else None
        if scripted is not None:
            status, answer, delay = scripted
            time.sleep(delay)
            return status, answer, {}
        route = urlsplit(path).path.removeprefix(prefix)
        if method == "POST" and route == "/calls":
            return self._place(json.loads(body or b"{}"))
        if method == "GET" and route == "/calls":
            return 200, [], {}
        if method == "GET" and route.startswith("/calls/"):
            with self._lock:
                call = self.calls.get(route.removeprefix("/calls/"))
                found = (
                    None
                    if call is None
                    else {k: v for k, v in call.items() if not k.startswith("_")}
                )
            return (404, {"message": "Call not found"}, {}) if found is None else (200, found, {})
        return 404, {"message": f"no route {method} {route}"}, {}

    def _place(self, asked: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if asked.get("call_type") not in ("Voice Outbound (API)", "OutboundCall"):
            return 400, {"message": "Invalid call type"}, {}
        if not asked.get("agent_email"):
            return 400, {"message": "Agent email required"}, {}
        number = str(asked.get("end_user_number", ""))
        if not number.startswith("+") or len(number) < 8:
            return 400, {"message": "end_user_number is not well-formed"}, {}
        call = payload_of("ccai", "assigned__outbound_end_user_number")
        stamp = now_iso()
        call.update(
            id=next(self._ids),
            created_at=stamp,
            assigned_at=stamp,
            outbound_number=asked.get("outbound_number") or "+1 339-219-5276",
            lang=asked.get("lang", "en"),
        )
        with self._lock:
            self.placed.append(asked)
            self.calls[str(call["id"])] = call
        return 201, call, {}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (a deadline) has closed the socket: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(fake: FakeCcai) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer, extra = fake.answer(self.command, self.path, headers, body)
            payload = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
