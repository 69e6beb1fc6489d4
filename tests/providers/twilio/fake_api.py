"""A fake of Twilio's REST API on loopback, as much as Callbridge uses: creating a call, reading a
call and the legs it dialled, and a recording's media (HTTP basic auth, Range, or a redirect to a
short-lived URL). Its answers are Twilio's documented ones (`{"code", "message", "more_info",
"status"}`); a test scripts refusals and slow answers per `To` number. Standard library only."""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
import re
import struct
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from tests.providers.twilio.phone import ACCOUNT_SID, AUTH_TOKEN

CALLS = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls\.json$")
CALL = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Calls/(CA\w+)\.json$")
RECORDING = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+)$")
SHORT_LIVED = re.compile(r"^/short-lived/(RE\w+)$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ERRORS = {
    20003: (401, "Authenticate"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21214: (400, "'To' phone number cannot be reached"),
    21215: (400, "Account not authorized to call {to}. Perhaps you need to enable some "
                 "international permissions."),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
}  # fmt: skip


def tone_wav(seconds: float = 6.0, rate: int = 8000) -> bytes:
    """A 500 Hz tone as Twilio's default recording format (WAV, 16-bit mono): one period of 16
    samples, repeated."""
    period = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * i / 16))) for i in range(16)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(period * int(seconds * rate / 16))
    return buffer.getvalue()


@dataclass
class Created:
    """One Calls.json request: its form as sent (a repeated name once per value)."""

    params: list[tuple[str, str]]
    auth: tuple[str, str] | None
    at: float
    status: int = 0
    sid: str = ""

    def get(self, name: str) -> str:
        return next((value for key, value in self.params if key == name), "")

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.params if key == name]


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    credentials: set[tuple[str, str]] = field(default_factory=lambda: {(ACCOUNT_SID, AUTH_TOKEN)})
    created: list[Created] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    recordings: dict[str, bytes] = field(default_factory=dict)
    media_requests: list[dict[str, str]] = field(default_factory=list)
    # Per To number: a Twilio error code to answer, or seconds to wait before answering.
    refuse: dict[str, int] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)
    redirect_media: bool = False
    # Media served no faster than this (bytes a second), as over a real network; 0: at once.
    media_bytes_per_second: int = 0
    base_url: str = ""
    _sids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_sid(self, prefix: str = "CA") -> str:
        return f"{prefix}{0xF0000000 + next(self._sids):032x}"

    def add_call(self, **resource: Any) -> str:
        sid = resource.setdefault("sid", self.new_sid())
        resource.setdefault("account_sid", self.account_sid)
        resource.setdefault("parent_call_sid", None)
        resource.setdefault("date_created", format_datetime(datetime.now(UTC)))
        self.calls[sid] = resource
        return sid

    def add_recording(self, *, seconds: float = 6.0) -> str:
        return self.add_recording_as(self.new_sid("RE"), seconds=seconds)

    def add_recording_as(self, sid: str, *, seconds: float = 6.0) -> str:
        self.recordings[sid] = tone_wav(seconds)
        return sid

    # What the handler does -------------------------------------------------------------------

    def create_call(self, form: list[tuple[str, str]], auth: tuple[str, str] | None) -> tuple:
        entry = Created(params=form, auth=auth, at=time.monotonic())
        with self._lock:
            self.created.append(entry)
        to = entry.get("To")
        if auth not in self.credentials:
            return self._error(entry, 20003, to)
        if to in self.slow:
            time.sleep(self.slow[to])
        if to in self.refuse:
            return self._error(entry, self.refuse[to], to)
        if not (E164.match(to) or to.startswith(("client:", "sip:"))):
            return self._error(entry, 21211, to)
        sid = self.add_call(
            status="queued",
            direction="outbound-api",
            to=to,
            **{"from": entry.get("From")},
        )
        entry.status, entry.sid = 201, sid
        return 201, self.calls[sid]

    def _error(self, entry: Created, code: int, to: str) -> tuple:
        status, message = ERRORS[code]
        entry.status = status
        return status, {
            "code": code,
            "message": message.format(to=to),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password)

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        if CALLS.match(self.path):
            self._json(*self.fake.create_call(form, self._auth()))
        else:
            self._json(404, {"code": 20404, "message": "Not found", "status": 404})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if self._auth() not in self.fake.credentials and not SHORT_LIVED.match(parts.path):
            self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        if match := CALL.match(parts.path):
            call = self.fake.calls.get(match.group(2))
            if call is None:
                self._json(404, {"code": 20404, "message": "Not found", "status": 404})
            else:
                self._json(200, call)
        elif CALLS.match(parts.path):
            parent = parse_qs(parts.query).get("ParentCallSid", [""])[0]
            legs = [c for c in self.fake.calls.values() if c.get("parent_call_sid") == parent]
            self._json(200, {"calls": legs})
        elif match := RECORDING.match(parts.path) or SHORT_LIVED.match(parts.path):
            self._media(match.group(match.lastindex or 1), short_lived=parts.path.startswith("/s"))
        else:
            self._json(404, {"code": 20404, "message": "Not found", "status": 404})

    def _media(self, sid: str, *, short_lived: bool) -> None:
        self.fake.media_requests.append(
            {"sid": sid, "range": self.headers.get("Range", ""), "short_lived": str(short_lived)}
        )
        audio = self.fake.recordings.get(sid)
        if audio is None:
            self._json(404, {"code": 20404, "message": "Recording not found", "status": 404})
            return
        if self.fake.redirect_media and not short_lived:
            self.send_response(302)
            self.send_header("Location", f"{self.fake.base_url}/short-lived/{sid}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end, status = 0, len(audio) - 1, 200
        if match := re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "")):
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), end) if last else end
            elif last:
                start = max(0, len(audio) - int(last))
            status = 206
            if start >= len(audio):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(audio)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = audio[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "audio/x-wav")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(audio)}")
        self.end_headers()
        rate = self.fake.media_bytes_per_second
        chunk = max(rate // 20, 1) if rate else len(body) or 1
        for offset in range(0, len(body), chunk):
            self.wfile.write(body[offset : offset + chunk])
            if rate:
                time.sleep(chunk / rate)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that gave up (our time-out) is part of the tests, not an error."""


@contextmanager
def running_twilio(fake: FakeTwilio | None = None) -> Iterator[FakeTwilio]:
    fake = fake or FakeTwilio()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
