"""Placing a rep's call through Finesse's REST API (README "Cisco Finesse", "Placing calls").

Finesse accepts a MAKE_CALL only from a user signed in at the extension it dials from, so the
request is made as the rep, with the Finesse sign-in they saved on their settings page (never a
password from an event). The number is dialled with the connection's dial-plan prefix; Outreach's
call id rides in the call variable the connection names, so the connector's events find the
call. Finesse's 202 only says the request was accepted: a refusal (an agent who may not call, a
bad destination) comes afterwards as a FAILED dialog, which becomes `failed` in Outreach with
its cause on the call's timeline. The extension Outreach gave is dialled once the customer's
side answers, by a task that watches the rep's dialogs (`tasks.py`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx

from integrations.finesse.client import Finesse, api_error, make_call_xml
from integrations.provider import PlaceCallOutcome, PlaceCallRequest, Placed, Refused, Unconfirmed
from integrations.selectors import rep_sign_in_values
from portal import clock

logger = logging.getLogger(__name__)

# How long the extension waits for the customer to answer before it is given up.
EXTENSION_WAIT = timedelta(minutes=3)


def finesse_address(number: str, prefix: str) -> str:
    """What Finesse dials for an E.164 number: the dial plan's prefix, then the number with its
    country code and without the `+` (9 1 312 555 0101 in North America)."""
    return prefix + number.removeprefix("+")


def place_finesse_call(
    request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
) -> PlaceCallOutcome:
    connection = request.connection
    setup = connection.setup_values()
    base_url = setup.get("finesse_url", "")
    if not base_url:
        return Refused(
            f"“{connection.name}” has no Finesse server address: an admin gives it on the "
            "Telephony page.",
            permanent=True,
        )
    sign_in = rep_sign_in_values(connection=connection, user_id=request.rep_user_id)
    user, password = sign_in.get("finesse_user"), sign_in.get("finesse_password")
    if not (user and password):
        return Refused(
            "Callbridge has no Finesse sign-in of yours: give it on your settings page "
            f"(“{connection.name}”).",
            permanent=True,
        )
    extension = sign_in.get("extension") or request.agent.get("extension", "")
    if not extension:
        return Refused(
            "Callbridge does not know your Finesse extension: give it with your Finesse sign-in "
            "on your settings page, or ask an admin to map your extension on the Agents page.",
            permanent=True,
        )
    seconds = (deadline - clock.now()).total_seconds()
    if seconds <= 0:
        return Refused("There was no time left to ask Finesse.", permanent=False)
    to_address = finesse_address(request.to_number, setup.get("dial_prefix", ""))
    variable = setup.get("outreach_call_variable", "")
    xml = make_call_xml(
        from_address=extension,
        to_address=to_address,
        variables={variable: request.outreach_call_id} if variable else {},
    )
    finesse = Finesse(base_url, user=user, password=password, timeout=seconds)
    try:
        response = finesse.make_call(xml)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        # The request never left: asking again cannot dial twice.
        return Refused("Callbridge could not reach Finesse.", permanent=False)
    except httpx.TimeoutException:
        return Unconfirmed(f"Finesse did not answer the call request within {seconds:.1f} s.")
    except httpx.TransportError as error:
        return Unconfirmed(
            f"The connection to Finesse broke before it answered ({type(error).__name__})."
        )
    outcome = _outcome(response, user=user)
    if isinstance(outcome, Placed) and request.extension:
        _dial_extension_when_connected(
            connection_id=connection.pk,
            user_id=request.rep_user_id,
            agent_extension=extension,
            to_address=to_address,
            digits=request.extension,
        )
    return outcome


def _dial_extension_when_connected(**task: Any) -> None:
    from integrations.finesse.tasks import finesse_dial_extension

    try:
        finesse_dial_extension.delay(**task, give_up_at=(clock.now() + EXTENSION_WAIT).isoformat())
    except Exception:  # the broker is away: the call is placed all the same
        logger.warning(
            "finesse.extension_not_dialled connection=%s", task["connection_id"], exc_info=True
        )


def _outcome(response: httpx.Response, *, user: str) -> PlaceCallOutcome:
    status = response.status_code
    if status in (200, 201, 202):
        # Finesse names no dialog in its answer: the connector's events bring it, and find the
        # call by its call key or the Outreach call id in the call variable.
        return Placed(provider_call_id="")
    error = api_error(response)
    if status == 401:
        return Refused(
            f"Finesse refused your sign-in (user {user}): {error}. Check your Finesse sign-in on "
            "your settings page, and that you are signed in to Finesse at your extension.",
            permanent=True,
        )
    if status in (408, 429) or status >= 500:
        return Refused(f"Finesse is unavailable for now ({error}).", permanent=False)
    return Refused(f"Finesse refused the call: {error}", permanent=True)
