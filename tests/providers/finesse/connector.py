"""The Finesse connector as the tests play it: its events cut from the fixtures, moved to a
call and a time of the test's choosing, and relayed to a connection's webhook URL."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.finesse.dialog import parse_time
from tests.providers.webhook_case import payload_of

RELAY_USER = "finesse-relay"
RELAY_PASSWORD = "relay-password-0123456789"
# The seed's agent password, and one no other value in a database could hold by chance.
SEED_PASSWORD = "12345"
AGENT_PASSWORD = "Finesse-agent-pw-7f3c9e"
TIME_FIELDS = ("startTime", "stateChangeTime", "CallStateChangeTime")
SPACED = re.compile(r"T\d\d: ")  # the seed's "06: 39: 34.188Z"


def basic_auth(user: str = RELAY_USER, password: str = RELAY_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def dialog_of(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["data"]["call"]["ResponseActual"]["dialog"]


def connector_event(
    fixture: str,
    *,
    at: datetime,
    call: int,
    dialog_id: str = "",
    number: str = "",
    outreach_call_id: str = "",
    password: str = AGENT_PASSWORD,
) -> dict[str, Any]:
    """Fixture `fixture` about call key 152995-`call`, its dialog's state changing at `at` (the
    participants' times moved with it), carrying the agent's `password` as the connector does."""
    payload = copy.deepcopy(payload_of("finesse", fixture))
    delta = at - parse_time(dialog_of(payload)["CallStateChangeTime"], "fixture")
    _move_times(payload, delta)
    dialog_id = dialog_id or str(16786700 + call)
    fields = payload["data"]["call"]["ResponseFields"]
    for media in (dialog_of(payload)["mediaProperties"], fields["MediaProperties"]):
        media["callKeyCallId"] = str(call)
    dialog_of(payload).update(id=dialog_id, uri=f"/finesse/api/Dialog/{dialog_id}")
    payload["data"]["call"]["id"] = dialog_id
    if number:
        address = "fromAddress" if dialog_of(payload)["Type"] == "inbound" else "toAddress"
        for holder in (dialog_of(payload), fields):
            holder[address] = number
        for participants in (dialog_of(payload)["participants"], fields["Participants"]):
            for participant in participants["participant"]:
                if participant.get("mediaAddressType") != "AGENT_DEVICE":
                    participant["mediaAddress"] = number
    if outreach_call_id:
        payload["data"]["call"]["CallVariables"]["callVariable10"] = outreach_call_id
    payload["data"]["call"]["ResponseActual"]["user"]["password"] = password
    return payload


def body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def _move_times(value: Any, delta: timedelta) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TIME_FIELDS and isinstance(item, str):
                moved = (parse_time(item, key) + delta).astimezone(UTC)
                text = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
                value[key] = text.replace(":", ": ") if SPACED.search(item) else text
            else:
                _move_times(item, delta)
    elif isinstance(value, list):
        for item in value:
            _move_times(item, delta)
