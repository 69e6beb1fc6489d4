"""Polling a call object (`GET /apps/api/v1/calls/{id}`): the platform does not promise to
deliver its session events, so the core asks about a call until it is final and its recording
is known (the provider's `poll_every` and `poll_for`), each request paced with the
connection's share of the platform's limit, after any dial waiting for a slot (`pace.py`)."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from integrations.ccai.callobject import Unmapped, call_events
from integrations.ccai.client import answer_excerpt, answer_json, api_request, retry_after
from integrations.ccai.manual import manual_dial_match
from integrations.ccai.pace import pace_for_poll, pace_hold
from integrations.ccai.setup import setup_of
from integrations.events import CallEvent
from integrations.models import ProviderConnection
from integrations.provider import AskLater, WebhookRejected

logger = logging.getLogger(__name__)

POLL_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


def poll_call(
    connection: ProviderConnection, provider_call_id: str, *, kind: str
) -> list[CallEvent] | None:
    """What the call object now says, or None when the platform cannot say (it is unreachable,
    it answers anything but the call object); AskLater when our share of its limit is in use."""
    setup = setup_of(connection.setup_values())
    if not pace_for_poll(connection, interval=setup.interval):
        raise AskLater
    try:
        response = api_request(
            setup, "GET", f"/calls/{quote(provider_call_id, safe='')}", timeout=POLL_TIMEOUT
        )
    except httpx.TransportError as error:
        logger.warning(
            "ccai.poll_unreachable call=%s error=%s", provider_call_id, type(error).__name__
        )
        return None
    if response.status_code == 429:
        pace_hold(connection, seconds=retry_after(response))
        raise AskLater
    call = answer_json(response)
    if response.status_code != 200 or not isinstance(call, dict):
        logger.warning(
            "ccai.poll_refused call=%s answer=%s", provider_call_id, answer_excerpt(response)
        )
        return None
    try:
        events = call_events(call, kind=kind, region=connection.organization.default_region)
    except (Unmapped, ValueError) as problem:
        # Nothing is guessed from it: the core notes it on the call, and the log keeps the
        # platform's answer for support staff.
        logger.warning(
            "ccai.poll_unmapped call=%s problem=%s answer=%s",
            provider_call_id,
            problem,
            answer_excerpt(response),
        )
        raise WebhookRejected(
            f"Unmapped: {problem}.", status=422, provider_call_id=provider_call_id
        ) from None
    return manual_dial_match(connection, events)
