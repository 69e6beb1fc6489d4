"""A fake of Finesse's REST API on loopback, enforcing the rules Callbridge depends on, and the
contact-centre connector beside it relaying each dialog change to a webhook URL.

- `POST /finesse/api/User/<id>/Dialogs` (MAKE_CALL): HTTP Basic as that user, else 401
  `Authorization Failure`; `fromAddress` must be the extension the user is signed in at, else
  401 `Invalid Authorization User Specified`; `requestedAction` and `toAddress` required (400
  `Parameter Missing`), `toAddress` not the `fromAddress` (400 `Invalid Destination`); then
  202 with no body. The call then goes on as the test says (`ring`, `answer`, `hang_up`,
  `fail`); an agent who is not READY or NOT_READY gets the call FAILED (cause OTHER) at once,
  as Finesse reports such refusals afterwards.
- `GET /finesse/api/User/<id>/Dialogs`, `GET /finesse/api/Dialog/<id>` (a participant or an
  administrator; 404 once forgotten).
- `PUT /finesse/api/Dialog/<id>` (SEND_DTMF): as a participant of the dialog, whose extension
  is `targetMediaAddress` and who is not HELD, on an ACTIVE dialog, digits 0-9 * # A-D only.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree

import httpx


@dataclass
class Agent:
    password: str
    extension: str
    state: str = "NOT_READY"  # LOGOUT, NOT_READY, READY, TALKING...


@dataclass
class Dialog:
    id: str
    user: str
    from_address: str
    to_address: str
    variables: dict[str, str]
    state: str = "INITIATING"
    agent_state: str = "INITIATING"
    customer_state: str = ""
    cause: str = ""
    changed_at: str = ""
    dtmf: list[str] = field(default_factory=list)


def now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeFinesse:
    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.administrators: set[str] = set()  # may read any dialog
        self.dialogs: dict[str, Dialog] = {}
        self.forgotten: set[str] = set()
        self.requests: list[tuple[str, str, str]] = []  # method, path, body
        self.relay_url = ""  # the connector's relay: the connection's webhook URL
        self.relay_auth = ""
        self.relayed: list[int] = []  # the webhook's answers
        self.call_key_prefix = "152995"
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.base_url = ""

    # What the test does to a call, as the phone system would.
    def placed(self) -> Dialog:
        return list(self.dialogs.values())[-1]

    def ring(self, dialog: Dialog) -> None:
        self._change(dialog, "ALERTING", agent="INITIATED", customer="ALERTING")

    def answer(self, dialog: Dialog) -> None:
        self._change(dialog, "ACTIVE", agent="ACTIVE", customer="ACTIVE")

    def hang_up(self, dialog: Dialog) -> None:
        self._change(dialog, "DROPPED", agent="WRAP_UP", customer="DROPPED")

    def fail(self, dialog: Dialog, cause: str) -> None:
        self._change(dialog, "FAILED", agent="INITIATED", customer="FAILED", cause=cause)

    def forget(self, dialog: Dialog) -> None:
        self.forgotten.add(dialog.id)

    def _change(
        self,
        dialog: Dialog,
        state: str,
        *,
        agent: str,
        customer: str,
        cause: str = "",
        background: bool = False,
    ) -> None:
        dialog.state, dialog.agent_state, dialog.customer_state = state, agent, customer
        dialog.cause, dialog.changed_at = cause, now()
        if not self.relay_url:
            return
        payload = self._connector_message(dialog)
        if background:
            threading.Thread(target=self._relay, args=(payload,), daemon=True).start()
        else:
            self._relay(payload)

    def dialog_json(self, dialog: Dialog) -> dict[str, Any]:
        participants = [
            {
                "mediaAddress": dialog.from_address,
                "mediaAddressType": "AGENT_DEVICE",
                "state": dialog.agent_state,
                "stateCause": "",
                "startTime": dialog.changed_at,
                "stateChangeTime": dialog.changed_at,
            }
        ]
        if dialog.customer_state:
            participants.append(
                {
                    "mediaAddress": dialog.to_address,
                    "state": dialog.customer_state,
                    "stateCause": dialog.cause,
                    "startTime": dialog.changed_at,
                    "stateChangeTime": dialog.changed_at,
                }
            )
        return {
            "id": dialog.id,
            "uri": f"/finesse/api/Dialog/{dialog.id}",
            "state": dialog.state,
            "fromAddress": dialog.from_address,
            "toAddress": dialog.to_address,
            "mediaType": "Voice",
            "mediaProperties": {
                "callType": "AGENT_OUT",
                "dialedNumber": dialog.to_address,
                "callKeyPrefix": self.call_key_prefix,
                "callKeyCallId": dialog.id,
                "callvariables": [
                    {"name": name, "value": value} for name, value in dialog.variables.items()
                ],
            },
            "participants": {"participant": participants},
        }

    def _connector_message(self, dialog: Dialog) -> dict[str, Any]:
        """What the connector re-publishes in the agent desktop: the agent's password included,
        as the seed shows."""
        agent = self.agents[dialog.user]
        return {
            "channel": "Cisco",
            "topic": "OutboundCall",
            "subtopic": "OutBoundCallStateChange",
            "data": {
                "source": "event",
                "event": dialog.state,
                "call": {
                    "ResponseType": 0,
                    "ResponseText": "Success",
                    "ResponseActual": {
                        "dialog": {
                            **self.dialog_json(dialog),
                            "CallState": dialog.state,
                            "CallStateChangeTime": dialog.changed_at,
                            "Type": "outbound",
                        },
                        "user": {
                            "extension": agent.extension,
                            "password": agent.password,
                            "username": dialog.user,
                        },
                    },
                    "CallVariables": dict(dialog.variables),
                    "id": dialog.id,
                },
            },
        }

    def _relay(self, payload: dict[str, Any]) -> None:
        answer = httpx.post(
            self.relay_url,
            content=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": self.relay_auth},
            timeout=30,
        )
        self.relayed.append(answer.status_code)

    # The REST API.
    def handle(self, method: str, path: str, auth: str, body: str) -> tuple[int, str]:
        with self._lock:
            self.requests.append((method, path, body))
        parts = path.strip("/").split("/")
        if parts[:2] != ["finesse", "api"]:
            return 404, _error("Not Found", "No such resource")
        user = self._signed_in(auth)
        if parts[2:3] == ["User"] and len(parts) == 5 and parts[4] == "Dialogs":
            if user is None or user != parts[3]:
                return 401, _error("Authorization Failure", "UNAUTHORIZED", parts[3])
            if method == "POST":
                return self._make_call(user, body)
            dialogs = [d for d in self.dialogs.values() if d.user == user]
            return 200, "<Dialogs>" + "".join(
                _xml(self.dialog_json(d)) for d in dialogs
            ) + "</Dialogs>"
        if parts[2:3] == ["Dialog"] and len(parts) == 4:
            dialog = self.dialogs.get(parts[3])
            if dialog is None or dialog.id in self.forgotten:
                return 404, _error("Not Found", "Invalid dialogId specified for dialog")
            reader = user in self.administrators and method == "GET"
            if user is None or (user != dialog.user and not reader):
                return 401, _error("Authorization Failure", "UNAUTHORIZED", user or "")
            if method == "GET":
                return 200, _xml(self.dialog_json(dialog))
            if method == "PUT":
                return self._send_dtmf(dialog, body)
        return 405, _error("Method Not Allowed", method)

    def _signed_in(self, auth: str) -> str | None:
        scheme, _, token = auth.partition(" ")
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(token).decode().partition(":")
        agent = self.agents.get(user)
        return user if agent is not None and agent.password == password else None

    def _make_call(self, user: str, body: str) -> tuple[int, str]:
        try:
            request = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return 400, _error("Bad Request", "The request body is invalid")
        action = request.findtext("requestedAction")
        from_address = request.findtext("fromAddress") or ""
        to_address = request.findtext("toAddress") or ""
        if action != "MAKE_CALL" or not from_address or not to_address:
            return 400, _error("Parameter Missing", "requestedAction, fromAddress, toAddress")
        agent = self.agents[user]
        if agent.state == "LOGOUT" or from_address != agent.extension:
            return 401, _error(
                "Invalid Authorization User Specified",
                f"User {user} is not signed in at {from_address}",
            )
        if to_address == from_address:
            return 400, _error("Invalid Destination", "toAddress and fromAddress are the same")
        variables = {
            (v.findtext("name") or ""): (v.findtext("value") or "")
            for v in request.iter("CallVariable")
        }
        dialog = Dialog(
            id=str(next(self._ids)),
            user=user,
            from_address=from_address,
            to_address=to_address,
            variables=variables,
            changed_at=now(),
        )
        self.dialogs[dialog.id] = dialog
        # 202 says only that the request was accepted; what becomes of the call is told by the
        # dialog's events, relayed while the answer goes back.
        if agent.state not in ("READY", "NOT_READY"):
            self._change(dialog, "FAILED", agent="FAILED", customer="", background=True)
        else:
            self._change(dialog, "INITIATED", agent="INITIATED", customer="", background=True)
        return 202, ""

    def _send_dtmf(self, dialog: Dialog, body: str) -> tuple[int, str]:
        request = ElementTree.fromstring(body)
        target = request.findtext("targetMediaAddress") or ""
        digits = request.findtext(".//ActionParam/value") or ""
        name = request.findtext(".//ActionParam/name") or ""
        if request.findtext("requestedAction") != "SEND_DTMF" or name != "dtmfString" or not target:
            return 400, _error(
                "Parameter Missing", "SEND_DTMF needs targetMediaAddress, dtmfString"
            )
        if target != dialog.from_address:
            return 401, _error("Invalid Authorization User Specified", "not a participant")
        if dialog.agent_state == "HELD":
            return 401, _error("Invalid State", "the participant is HELD")
        if dialog.state != "ACTIVE" or not all(c in "0123456789*#ABCD" for c in digits):
            return 400, _error("Generic Error", "CF_VALUE_OUT_OF_RANGE")
        dialog.dtmf.append(digits)
        return 202, ""


def _error(kind: str, message: str, data: str = "") -> str:
    return (
        f"<ApiErrors><ApiError><ErrorType>{kind}</ErrorType><ErrorMessage>{message}"
        f"</ErrorMessage><ErrorData>{data}</ErrorData></ApiError></ApiErrors>"
    )


def _xml(dialog: dict[str, Any]) -> str:
    element = ElementTree.Element("Dialog")
    for name, value in dialog.items():
        if name == "mediaProperties":
            media = ElementTree.SubElement(element, name)
            for key, item in value.items():
                if key == "callvariables":
                    holder = ElementTree.SubElement(media, key)
                    for variable in item:
                        node = ElementTree.SubElement(holder, "CallVariable")
                        ElementTree.SubElement(node, "name").text = variable["name"]
                        ElementTree.SubElement(node, "value").text = variable["value"]
                else:
                    ElementTree.SubElement(media, key).text = item
        elif name == "participants":
            holder = ElementTree.SubElement(element, name)
            for participant in value["participant"]:
                node = ElementTree.SubElement(holder, "Participant")
                for key, item in participant.items():
                    ElementTree.SubElement(node, key).text = item
        else:
            ElementTree.SubElement(element, name).text = value
    return ElementTree.tostring(element, encoding="unicode")


@contextmanager
def fake_finesse() -> Iterator[FakeFinesse]:
    """The fake on a free port of 127.0.0.1, for the length of the block."""
    fake = FakeFinesse()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, answer = fake.handle(
                self.command, self.path, self.headers.get("Authorization", ""), body
            )
            data = answer.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
