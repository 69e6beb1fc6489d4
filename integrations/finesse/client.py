"""Finesse's REST API, as much of it as Callbridge uses, made as a signed-in user (HTTP Basic
with their Finesse user id and password):

- `POST /finesse/api/User/<id>/Dialogs` with a MAKE_CALL Dialog (Dialog - Create a New Dialog
  (Make a Call)): 202 only says the request was accepted; what becomes of the call comes as
  dialog notifications (FAILED for a bad destination, an agent who may not call, ...);
- `GET /finesse/api/User/<id>/Dialogs`: the user's dialogs;
- `PUT /finesse/api/Dialog/<id>` with SEND_DTMF (Dialog - Send DTMF String), as the
  participant whose extension is `targetMediaAddress`;
- `GET /finesse/api/Dialog/<id>`: one dialog, 404 once Finesse no longer knows it.

Bodies are XML (`application/xml`). Dialogs are read into the shape the connector's JSON copy
has (`dialog.py` reads both the same way).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import httpx

XML = "application/xml"


def make_call_xml(*, from_address: str, to_address: str, variables: dict[str, str]) -> str:
    dialog = ElementTree.Element("Dialog")
    ElementTree.SubElement(dialog, "requestedAction").text = "MAKE_CALL"
    ElementTree.SubElement(dialog, "fromAddress").text = from_address
    ElementTree.SubElement(dialog, "toAddress").text = to_address
    if variables:
        media = ElementTree.SubElement(dialog, "mediaProperties")
        holder = ElementTree.SubElement(media, "callvariables")
        for name, value in variables.items():
            variable = ElementTree.SubElement(holder, "CallVariable")
            ElementTree.SubElement(variable, "name").text = name
            ElementTree.SubElement(variable, "value").text = value
    return ElementTree.tostring(dialog, encoding="unicode")


def send_dtmf_xml(*, agent_extension: str, digits: str) -> str:
    dialog = ElementTree.Element("Dialog")
    ElementTree.SubElement(dialog, "requestedAction").text = "SEND_DTMF"
    ElementTree.SubElement(dialog, "targetMediaAddress").text = agent_extension
    params = ElementTree.SubElement(dialog, "actionParams")
    param = ElementTree.SubElement(params, "ActionParam")
    ElementTree.SubElement(param, "name").text = "dtmfString"
    ElementTree.SubElement(param, "value").text = digits
    return ElementTree.tostring(dialog, encoding="unicode")


class Finesse:
    """One user's session with one Finesse server."""

    def __init__(self, base_url: str, *, user: str, password: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.auth = httpx.BasicAuth(user, password)
        self.timeout = timeout

    def make_call(self, xml: str) -> httpx.Response:
        return self._request("POST", f"/finesse/api/User/{quote(self.user, safe='')}/Dialogs", xml)

    def send_dtmf(self, dialog_id: str, xml: str) -> httpx.Response:
        return self._request("PUT", f"/finesse/api/Dialog/{quote(dialog_id, safe='')}", xml)

    def user_dialogs(self) -> list[dict[str, Any]]:
        response = self._request("GET", f"/finesse/api/User/{quote(self.user, safe='')}/Dialogs")
        response.raise_for_status()
        return [read_dialog(item) for item in _xml(response.text).iter("Dialog")]

    def dialog(self, dialog_id: str) -> dict[str, Any] | None:
        """The dialog, or None when Finesse answers 404 (it no longer knows it)."""
        response = self._request("GET", f"/finesse/api/Dialog/{quote(dialog_id, safe='')}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return read_dialog(_xml(response.text))

    def _request(self, method: str, path: str, xml: str | None = None) -> httpx.Response:
        return httpx.request(
            method,
            self.base_url + path,
            content=xml.encode() if xml is not None else None,
            headers={"Content-Type": XML, "Accept": XML} if xml is not None else {"Accept": XML},
            auth=self.auth,
            timeout=self.timeout,
        )


def api_error(response: httpx.Response) -> str:
    """Finesse's `<ApiErrors><ApiError>`: its type and message, for a person to read."""
    try:
        error = _xml(response.text).find(".//ApiError")
    except ValueError:
        error = None
    if error is None:
        return f"HTTP {response.status_code}"
    parts = [(error.findtext(name) or "").strip() for name in ("ErrorType", "ErrorMessage")]
    text = ": ".join(part for part in parts if part) or f"HTTP {response.status_code}"
    return "".join(ch if ch.isprintable() else " " for ch in text)[:200]


def read_dialog(element: ElementTree.Element) -> dict[str, Any]:
    """A Finesse `<Dialog>` as the connector's JSON spells it."""
    media = element.find("mediaProperties")
    properties: dict[str, Any] = {}
    if media is not None:
        for child in media:
            if child.tag == "callvariables":
                properties["callvariables"] = [
                    {"name": v.findtext("name") or "", "value": v.findtext("value") or ""}
                    for v in child.iter("CallVariable")
                ]
            elif len(child) == 0:
                properties[child.tag] = child.text or ""
    participants = [
        {child.tag: child.text or "" for child in participant if len(child) == 0}
        for participant in element.iter("Participant")
    ]
    fields = {child.tag: child.text or "" for child in element if len(child) == 0}
    return {
        **fields,
        "mediaProperties": properties,
        "participants": {"participant": participants},
    }


def _xml(text: str) -> ElementTree.Element:
    """Finesse's answer, parsed (Python's expat refuses entity expansion attacks); ValueError
    when it is not XML."""
    try:
        return ElementTree.fromstring(text)  # noqa: S314 - the organisation's Finesse server
    except ElementTree.ParseError as error:
        raise ValueError(f"Finesse answered something that is not XML: {error}") from None
