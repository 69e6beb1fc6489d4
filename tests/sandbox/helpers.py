"""What the sandbox tests share besides fixtures: an /api/v2 client holding a token, the
attributes of an inbound call, the cast, and waiting for a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

JSON_API = "application/vnd.api+json"
ALL_SCOPES = ("calls.all", "users.read", "phoneNumbers.read", "prospects.read")
PAT_NUMBER = "+1 (206) 555-0100"


class Api:
    """A client of the sandbox's /api/v2 holding one access token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.token = token
        self.http = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {token}", "Content-Type": JSON_API},
            verify=False,  # plain HTTP on loopback; skips building an SSL context (~40 ms)
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def create_call(
        self, attributes: dict[str, Any], relationships: dict[str, Any] | None = None
    ) -> httpx.Response:
        data: dict[str, Any] = {"type": "call", "attributes": attributes}
        if relationships is not None:
            data["relationships"] = relationships
        return self.http.post("/calls", json={"data": data})

    def update_call(self, call_id: int | str, **attributes: Any) -> httpx.Response:
        """PATCH /calls/{id}; attribute names as in the contract (recordingUrl=...)."""
        data = {"type": "call", "id": str(call_id), "attributes": attributes}
        return self.http.patch(f"/calls/{call_id}", json={"data": data})


def user_ref(user_id: int) -> dict[str, Any]:
    return {"user": {"data": {"type": "user", "id": user_id}}}


def inbound(**overrides: Any) -> dict[str, Any]:
    """The attributes 000 asks for when a Voice Extension App creates an inbound call."""
    return {
        "direction": "inbound",
        "externalVendor": "VoiceExtension",
        "vendorCallId": "CA0123456789",
        "from": "+12065550100",
        "to": "+12065550199",
        "outcome": None,
        **overrides,
    }


def wait_until(check: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Polls for a condition instead of sleeping for a guessed time."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.01)


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"] == JSON_API
    (error,) = response.json()["errors"]
    return error


@dataclass
class Cast:
    org_guid: str
    rita: dict[str, Any]
    tess: dict[str, Any]
    oscar: dict[str, Any]
    other_org_guid: str
    pat: dict[str, Any]
