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


class BadDial(Exception):
    """A message we cannot even record: it names no call, or no number."""


def dial_asked(data: Any) -> DialAsked:
    if not isinstance(data, dict):
        raise BadDial('Send a JSON object: {"callId", "phoneNumber", "ext"} or {"uri"}.')
    if "uri" in data:
        return _from_tel_uri(data["uri"])
    source = data.get("source", "outreach")
    if source != "outreach":
        raise BadDial(f"source must be 'outreach', not {source!r}.")
    number = _text(data.get("phoneNumber"), "phoneNumber")
    if len(number) > NUMBER_MAX:
        raise BadDial(f"phoneNumber is longer than {NUMBER_MAX} characters.")
    extension = SEPARATORS.sub("", _text(data.get("ext") or "", "ext", required=False))
    if extension and not re.fullmatch(r"[0-9*#]{1,20}", extension):
        raise BadDial(f"ext {extension!r} must be digits.")
    return DialAsked(
        outreach_call_id=_call_id(data.get("callId"), "callId"),
        number=number,
        extension=extension,
        via="extension",
    )


def _from_tel_uri(uri: Any) -> DialAsked:
    if not isinstance(uri, str) or not uri.strip():
        raise BadDial("uri must be a tel: URI.")
    try:
        tel = parse_tel_uri(uri)
    except TelUriError as error:
        raise BadDial(str(error)) from None
    if tel.source != "outreach":
        raise BadDial(
            "This tel: URI did not come from Outreach (it lacks source=outreach): Callbridge "
            "only places the calls Outreach created."
        )
    return DialAsked(
        outreach_call_id=_call_id(tel.call_id, "call-id"),
        number=tel.dialable(),
        extension=tel.extension,
        via="tel: handler",
    )


def _call_id(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise BadDial(f"{name} is required: it names the call Outreach created for this dial.")
    if not isinstance(value, str) or not CALL_ID.fullmatch(value.strip()):
        raise BadDial(f"{name} {value!r} is not an Outreach call id.")
    return value.strip()


def _text(value: Any, name: str, *, required: bool = True) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadDial(f"{name} must be a string.")
    if required and not value.strip():
        raise BadDial(f"{name} is required.")
    return value.strip()
