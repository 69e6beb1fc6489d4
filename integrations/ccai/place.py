"""Placing a rep's call through the platform's dial API (the seed: "Outbound call"):
`POST /apps/api/v1/calls` with `call_type` "Voice Outbound (API)", the agent's email (from the
agent mapping), the number in E.164, the connection's outbound number when set, and its language.

Every answer the seed documents has its outcome and a reason the rep reads (README "Google CCAI
Platform: placing calls"); the platform's raw answer is logged for support staff. Where no call
was placed, the core fails the dial and Outreach hears `failed`. A 202 (or the documented 200
that echoes the request) is not a refusal: the agent must finish in the widget (choose an
outbound number, or the ticket's contact), so the dial waits for the call to appear
(`manual.py`); a time-out is an unknown outcome, waited for the same way and never sent again.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import httpx

from integrations.ccai.client import answer_excerpt, answer_json, api_request, retry_after
from integrations.ccai.manual import manual_dial_expect
from integrations.ccai.pace import pace_for_dial, pace_hold
from integrations.ccai.setup import CcaiSetup, setup_of
from integrations.provider import PlaceCallOutcome, PlaceCallRequest, Placed, Refused, Unconfirmed
from portal import clock

logger = logging.getLogger(__name__)

CALL_TYPE = "Voice Outbound (API)"
MESSAGE_MAX = 200


def place_ccai_call(
    request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
) -> PlaceCallOutcome:
    connection = request.connection
    setup = setup_of(connection.setup_values())
    agent_email = request.agent.get("email", "")
    if not agent_email:
        return Refused(
            "Your agent mapping has no email, and the CCAI Platform places calls for an agent "
            "email: an admin adds your CCAI Platform email on the Agents page.",
            permanent=True,
        )
    if not pace_for_dial(connection, interval=setup.interval, deadline=deadline):
        return Refused(
            "Callbridge's share of the CCAI Platform's request limit is taken until after this "
            "dial's deadline; try again in a moment.",
            permanent=False,
        )
    seconds = (deadline - clock.now()).total_seconds()
    if seconds <= 0:
        return Refused("There was no time left to ask the CCAI Platform.", permanent=False)
    body = {
        "call_type": CALL_TYPE,
        "agent_email": agent_email,
        "end_user_number": request.to_number,
        "lang": setup.lang,
    }
    if setup.outbound_number:
        body["outbound_number"] = setup.outbound_number
    try:
        response = api_request(setup, "POST", "/calls", timeout=seconds, body=body)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        # The request never left: asking again cannot place the call twice.
        return Refused(
            f"Callbridge could not reach the CCAI Platform at {setup.host}.", permanent=False
        )
    except httpx.TransportError as error:
        manual_dial_expect(request, wait=setup.manual_wait)
        return Unconfirmed(
            "The CCAI Platform did not answer the dial request in time "
            f"({type(error).__name__}); it may be placing the call, so it is not asked again.",
            wait_seconds=setup.manual_wait.total_seconds(),
        )
    logger.info(
        "ccai.place call=%s status=%s answer=%s",
        request.outreach_call_id,
        response.status_code,
        answer_excerpt(response)[:300],
    )
    outcome = _outcome(response, request=request, setup=setup, agent_email=agent_email)
    if isinstance(outcome, Refused):
        # The platform's own words, kept on the call's timeline for support staff.
        return dataclasses.replace(outcome, answer=answer_excerpt(response))
    return outcome


def _outcome(
    response: httpx.Response, *, request: PlaceCallRequest, setup: CcaiSetup, agent_email: str
) -> PlaceCallOutcome:
    status = response.status_code
    answer = answer_json(response)
    answer = answer if isinstance(answer, dict) else {}
    call_id = answer.get("id")
    if status in (200, 201) and isinstance(call_id, int | str) and str(call_id):
        return Placed(provider_call_id=str(call_id)[:200])
    if status in (200, 201, 202):
        # The seed's 202 ("manual intervention is required inside of the widget") and its 200s
        # that echo the request: the agent chooses the outbound number (or the ticket's contact)
        # in the widget, and only then is the call placed.
        manual_dial_expect(request, wait=setup.manual_wait)
        hint = (
            ""
            if setup.outbound_number
            else " (a default outbound number on the connection avoids this step)"
        )
        return Unconfirmed(
            "The CCAI Platform needs you to finish this call in its widget: choose the outbound "
            f"number there{hint}.",
            wait_seconds=setup.manual_wait.total_seconds(),
        )
    message = _message(answer.get("message"))
    if status == 400:
        return Refused(
            _refusal(message, request=request, setup=setup, agent_email=agent_email), permanent=True
        )
    if status in (401, 403):
        return Refused(
            f"The CCAI Platform refused Callbridge's API user and token (HTTP {status}): an "
            "admin updates them on the Telephony page.",
            permanent=True,
        )
    if status == 404:
        return Refused(
            f"The CCAI Platform answered 404 at {setup.host}: an admin checks the connection's "
            "subdomain and domain on the Telephony page.",
            permanent=True,
        )
    if status == 429:
        wait = retry_after(response)
        pace_hold(request.connection, seconds=wait)
        return Refused(
            f"The CCAI Platform is limiting requests for now (429, retry after {wait:g} s).",
            permanent=False,
        )
    if status >= 500 or status == 408:
        return Refused(
            f"The CCAI Platform is unavailable for now (HTTP {status}).", permanent=False
        )
    return Refused(
        f"The CCAI Platform refused the call (HTTP {status}){': ' + message if message else '.'}",
        permanent=True,
    )


def _refusal(message: str, *, request: PlaceCallRequest, setup: CcaiSetup, agent_email: str) -> str:
    """The seed's 400 messages, each in words the rep (or an admin) can act on."""
    known = message.lower().rstrip(".")
    if known == "agent is not available to take this call":
        return (
            f"The CCAI Platform says agent {agent_email} is not available to take this call: "
            "set yourself available in the CCAI Platform adapter, then call again."
        )
    if known == "not a valid agent email":
        return (
            f"The CCAI Platform knows no agent {agent_email}: an admin corrects your agent's "
            "email on the Agents page."
        )
    if known == "agent email required":
        return "The CCAI Platform got no agent email: an admin adds yours on the Agents page."
    if known == "agent does not have access to make calls":
        return (
            f"The CCAI Platform does not let agent {agent_email} make outbound calls: an admin "
            "gives the agent's role outbound calling in the CCAI Platform."
        )
    if known.startswith("end_user_number is not well"):
        return f"The CCAI Platform says {request.to_number} is not a well-formed number."
    if known == "ticket_id or end_user_number required":
        return "The CCAI Platform got no number to call."
    if known == "contact not found":
        return "The CCAI Platform found no contact to call."
    if known == "invalid call type":
        return (
            f"The CCAI Platform does not accept the call type “{CALL_TYPE}” on this account: "
            "tell Callbridge's support."
        )
    if known.startswith("missing parameter"):
        return f"The CCAI Platform says a parameter is missing: {message}"
    if known.startswith("language "):
        return (
            f"The CCAI Platform does not offer the language “{setup.lang}” set on the "
            f"connection ({message}): an admin changes it on the Telephony page."
        )
    return f"The CCAI Platform refused the call: {message or 'HTTP 400'}"


def _message(value: object) -> str:
    """The platform's words, shown to the rep: printable and short."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"
