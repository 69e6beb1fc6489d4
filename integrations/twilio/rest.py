"""Twilio's REST API, as much of it as Callbridge uses: create a call, read a call (and the legs
it dialled), and fetch a recording's media. The base URL is `TWILIO_API_URL` (Twilio in
production, a fake on loopback in the tests); requests authenticate with the connection's API
key when it has one, else with the Account SID and auth token (HTTP basic auth, as Twilio's
documents say).

Twilio answers errors as JSON, `{"code": 21211, "message": "...", "more_info": "...",
"status": 400}` (https://www.twilio.com/docs/api/errors): `TwilioError` carries the code and
Twilio's message, never the credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from integrations.twilio.setup import TwilioSetup

API_VERSION = "2010-04-01"


@dataclass(frozen=True)
class TwilioError(Exception):
    status: int  # the HTTP status Twilio answered
    code: int  # Twilio's error code (0 when the answer carried none)
    message: str  # Twilio's words

    def __str__(self) -> str:
        return f"{self.message} ({self.code or f'HTTP {self.status}'})"


class TwilioApi:
    def __init__(self, setup: TwilioSetup) -> None:
        self.setup = setup
        self.base = f"{settings.TWILIO_API_URL}/{API_VERSION}/Accounts/{setup.account_sid}"

    @property
    def auth(self) -> tuple[str, str]:
        if self.setup.api_key_sid and self.setup.api_key_secret:
            return (self.setup.api_key_sid, self.setup.api_key_secret)
        return (self.setup.account_sid, self.setup.auth_token)

    def create_call(
        self, params: list[tuple[str, str]], *, timeout: httpx.Timeout
    ) -> dict[str, Any]:
        """POST .../Calls.json. httpx's exceptions pass through: the caller tells a request that
        never left (connect) from one whose answer was lost (read), which may have placed it."""
        response = httpx.post(
            f"{self.base}/Calls.json", data=_form(params), auth=self.auth, timeout=timeout
        )
        return _answer(response)

    def fetch_call(self, call_sid: str, *, timeout: float = 10.0) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/Calls/{call_sid}.json", auth=self.auth, timeout=timeout)
        return _answer(response)

    def dialled_legs(self, call_sid: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The legs the call's <Dial>s opened (`ParentCallSid`)."""
        response = httpx.get(
            f"{self.base}/Calls.json",
            params={"ParentCallSid": call_sid},
            auth=self.auth,
            timeout=timeout,
        )
        calls = _answer(response).get("calls", [])
        return [call for call in calls if isinstance(call, dict)]

    def open_recording(self, recording_sid: str, *, byte_range: str = "") -> Media:
        """A recording's audio (WAV, Twilio's default format), streamed, with the caller's
        Range passed on. Not followed: a redirect is Twilio's short-lived URL for the media."""
        client = httpx.Client(timeout=httpx.Timeout(10.0), follow_redirects=False)
        request = client.build_request(
            "GET",
            f"{self.base}/Recordings/{recording_sid}",
            # Identity: the bytes are passed on as they come, with Twilio's Content-Length.
            headers={"Accept-Encoding": "identity"} | ({"Range": byte_range} if byte_range else {}),
        )
        try:
            return Media(client, client.send(request, auth=self.auth, stream=True))
        except BaseException:
            client.close()
            raise


@dataclass
class Media:
    """An open media response and the client it came through; close both when done."""

    client: httpx.Client
    response: httpx.Response

    def close(self) -> None:
        self.response.close()
        self.client.close()


def _form(params: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """Twilio takes a repeated parameter (StatusCallbackEvent) once per value."""
    form: dict[str, str | list[str]] = {}
    for name, value in params:
        if name in form:
            existing = form[name]
            form[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            form[name] = value
    return form


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code >= 400:
        code = body.get("code")
        message = body.get("message")
        raise TwilioError(
            status=response.status_code,
            code=code if isinstance(code, int) else 0,
            message=message if isinstance(message, str) else f"HTTP {response.status_code}",
        )
    return body
