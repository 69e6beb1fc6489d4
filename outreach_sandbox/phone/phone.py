"""The fake phone system's state and behaviour, without HTTP: what it was asked (every dial
request, with whether its signature held), the calls it placed, and the events it reports.

It answers a dial as README "The generic provider places calls" says a phone system should:
201 `{"call_id"}` for a new dial, 200 with the same id for a repeat of one (same `webhook-id`),
401 `{"error"}` for a bad signature, or whatever a test scripted (`answer_next`). Once a call is
placed it reports `auto_events` (dialling, ringing) to the connection's webhook URL, signed with
the connection's secret; buttons on its page (or `happen`) report the rest.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .signatures import SignatureRejected, sign, verify

HAPPENINGS = (
    "dialling",
    "ringing",
    "answered",
    "answered_by_voicemail",
    "rejected",
    "not_answered",
    "caller_hung_up",
    "setup_failed",
    "ended",
    "recording_ready",
)
AGENT_FIELDS = ("email", "extension", "phone", "id")


@dataclass
class DialReceived:
    at: datetime
    message_id: str
    body: dict[str, Any]
    signature_ok: bool
    status: int  # what the phone answered
    answer: dict[str, Any]
    repeat: bool = False  # a webhook-id it had placed a call for already


@dataclass
class PhoneCall:
    id: str
    outreach_call_id: str
    to: str
    extension: str
    agent: dict[str, str]
    reported: list[str] = field(default_factory=list)  # happenings sent to Callbridge


@dataclass
class _Scripted:
    status: int
    body: dict[str, Any] | None
    delay: float


class PhoneSystem:
    def __init__(self, *, auto_events: tuple[str, ...] = ("dialling", "ringing")) -> None:
        self.webhook_url = ""
        self.secrets: list[str] = []
        self.auto_events = auto_events
        # Report the auto events before answering the dial (the webhook then races the answer).
        self.events_before_answer = False
        self.dials: list[DialReceived] = []
        self.calls: dict[str, PhoneCall] = {}
        self.deliveries: list[tuple[str, int]] = []  # (happening, status Callbridge answered)
        self._by_message_id: dict[str, str] = {}
        self._script: list[_Scripted] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # Set up, as an admin pastes them from Callbridge's Telephony page --------------------------

    def set_up(self, *, webhook_url: str, secrets: list[str]) -> None:
        with self._lock:
            self.webhook_url = webhook_url.strip()
            self.secrets = [s.strip() for s in secrets if s.strip()]

    def answer_next(
        self, status: int, body: dict[str, Any] | None = None, *, delay: float = 0.0
    ) -> None:
        """The next dial request waits `delay` seconds, then gets this answer (a 2xx without a
        body places the call as usual)."""
        with self._lock:
            self._script.append(_Scripted(status, body, delay))

    # A dial request ------------------------------------------------------------------------

    def receive_dial(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        headers = {name.lower(): value for name, value in headers.items()}
        try:
            asked = json.loads(body)
        except ValueError:
            asked = {}
        with self._lock:
            secrets = list(self.secrets)
        try:
            verify(secrets, headers, body)
        except SignatureRejected as error:
            return self._log(headers, asked, False, 401, {"error": str(error)})
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            time.sleep(scripted.delay)
            if not 200 <= scripted.status < 300:
                return self._log(headers, asked, True, scripted.status, scripted.body or {})
        status, answer, call = self._place(headers.get("webhook-id", ""), asked)
        if call is not None and self.events_before_answer:
            self._report_placed(call)
        elif call is not None:
            threading.Thread(target=self._report_placed, args=(call,), daemon=True).start()
        return self._log(headers, asked, True, status, answer, repeat=call is None)

    def _place(
        self, message_id: str, asked: dict[str, Any]
    ) -> tuple[int, dict[str, Any], PhoneCall | None]:
        with self._lock:
            if message_id in self._by_message_id:  # a retry of a dial: the same call
                return 200, {"call_id": self._by_message_id[message_id]}, None
            call = PhoneCall(
                id=f"ps-{next(self._ids)}",
                outreach_call_id=str(asked.get("outreach_call_id", "")),
                to=str(asked.get("to", "")),
                extension=str(asked.get("extension", "")),
                agent={
                    name: str(value)
                    for name, value in (asked.get("agent") or {}).items()
                    if name in AGENT_FIELDS and value
                },
            )
            self.calls[call.id] = call
            self._by_message_id[message_id] = call.id
        return 201, {"call_id": call.id}, call

    def _log(
        self,
        headers: dict[str, str],
        asked: dict[str, Any],
        signature_ok: bool,
        status: int,
        answer: dict[str, Any],
        *,
        repeat: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.dials.append(
                DialReceived(
                    at=datetime.now(UTC),
                    message_id=headers.get("webhook-id", ""),
                    body=asked,
                    signature_ok=signature_ok,
                    status=status,
                    answer=answer,
                    repeat=repeat and 200 <= status < 300,
                )
            )
        return status, answer

    # Reporting what happens on a call ------------------------------------------------------

    def _report_placed(self, call: PhoneCall) -> None:
        for happening in self.auto_events:
            self.happen(call.id, happening)

    def happen(self, call_id: str, happening: str, *, link: str = "") -> int:
        """Report a happening of the call to Callbridge's webhook; answers Callbridge's status
        (0 when it could not be reached or nothing is set up)."""
        if happening not in HAPPENINGS:
            raise ValueError(f"{happening!r} is not one of {', '.join(HAPPENINGS)}")
        with self._lock:
            call = self.calls[call_id]
            call.reported.append(happening)
            url, secret = self.webhook_url, (self.secrets[0] if self.secrets else "")
            event: dict[str, Any] = {
                "id": f"{call.id}:{len(call.reported)}:{happening}",
                "call_id": call.id,
                "direction": "outbound",
                "happening": happening,
                "occurred_at": datetime.now(UTC).isoformat(),
                "outreach_call_id": call.outreach_call_id,
                "to": call.to,
                "extension": call.extension,
                "agent": call.agent,
            }
        if link:
            event["link"] = link
        status = _post_signed(url, secret, {"events": [event]}) if url and secret else 0
        with self._lock:
            self.deliveries.append((happening, status))
        return status


def _post_signed(url: str, secret: str, payload: dict[str, Any]) -> int:
    body = json.dumps(payload).encode()
    message_id = f"msg_{time.time_ns()}"
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - the URL is the one pasted on its page
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                secret, message_id=message_id, timestamp=timestamp, body=body
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return 0
