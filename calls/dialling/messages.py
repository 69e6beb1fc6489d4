"""What a dial request says: the Chrome extension's message, as Outreach posts it
(`{"type": "outreach-external-dial-init", "source": "outreach", "callId", "phoneNumber",
"ext"}`), or a `tel:` URI as Outreach launches it (`{"uri": "tel:...;call-id=..."}`)."""

from __future__ import annotations

import re
from typing import Any

from calls.dialling.services import DialAsked
from calls.dialling.tel import TelUriError, parse_tel_uri

# Outreach's call ids are opaque: a UUID from the Outreach client, an integer through its API.
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
NUMBER_MAX = 255
SEPARATORS = re.compile(r"[-.() ]")
EXTENSION = re.compile(r"[0-9*#]{1,20}")
NOT_FROM_OUTREACH = (
    "This tel: URI did not come from Outreach (it lacks source=outreach): Callbridge only "
    "places the calls Outreach created."
)


class BadDial(Exception):
    """A message we cannot record: it names no Outreach call, or did not come from Outreach.
    (A message naming a call but no dialable number is recorded and failed, so that Outreach
    hears `failed` rather than nothing.)"""


def dial_asked(data: Any) -> DialAsked:
    if not isinstance(data, dict):
        raise BadDial('Send a JSON object: {"callId", "phoneNumber", "ext"} or {"uri"}.')
    if "uri" in data:
        return _from_tel_uri(data["uri"])
    source = data.get("source", "outreach")
    if source != "outreach":
        raise BadDial(f"source must be 'outreach', not {source!r}.")
    call_id = _call_id(data.get("callId"), "callId")
    number, extension = _text(data.get("phoneNumber")), SEPARATORS.sub("", _text(data.get("ext")))
    problem = ""
    if not number:
        problem = "Outreach's dial message carried no phone number."
    elif len(number) > NUMBER_MAX:
        problem, number = f"The phone number is longer than {NUMBER_MAX} characters.", ""
    elif extension and not EXTENSION.fullmatch(extension):
        problem = f"The extension “{extension[:40]}” is not digits."
    return DialAsked(
        outreach_call_id=call_id,
        number=number,
        extension="" if problem else extension,
        via="extension",
        problem=problem,
    )


def _from_tel_uri(uri: Any) -> DialAsked:
    if not isinstance(uri, str) or not uri.strip():
        raise BadDial("uri must be a tel: URI.")
    try:
        tel = parse_tel_uri(uri)
    except TelUriError as error:
        return _from_malformed_tel_uri(uri, error)
    if tel.source != "outreach":
        raise BadDial(NOT_FROM_OUTREACH)
    return DialAsked(
        outreach_call_id=_call_id(tel.call_id, "call-id"),
        number=tel.dialable(),
        extension=tel.extension,
        via="tel: handler",
    )


def _from_malformed_tel_uri(uri: str, error: TelUriError) -> DialAsked:
    """A URI the parser refuses may still name Outreach's call: then the call is recorded and
    failed with the parser's reason; otherwise there is nothing to record."""
    parameters = dict(
        piece.lower().partition("=")[::2] for piece in uri.split(";")[1:] if "=" in piece
    )
    if parameters.get("source") != "outreach" or not parameters.get("call-id"):
        raise BadDial(str(error))
    return DialAsked(
        outreach_call_id=_call_id(_raw_parameter(uri, "call-id"), "call-id"),
        number="",
        via="tel: handler",
        problem=f"Outreach's tel: URI could not be read: {error}",
    )


def _raw_parameter(uri: str, name: str) -> str:
    """A parameter's value as written (call ids keep their case)."""
    for piece in uri.split(";")[1:]:
        key, _, value = piece.partition("=")
        if key.lower() == name:
            return value
    return ""


def _call_id(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise BadDial(f"{name} is required: it names the call Outreach created for this dial.")
    if not isinstance(value, str) or not CALL_ID.fullmatch(value.strip()):
        raise BadDial(f"{name} {value!r} is not an Outreach call id.")
    return value.strip()


def _text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value.strip() if isinstance(value, str) else ""
