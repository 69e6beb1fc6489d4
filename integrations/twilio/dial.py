"""Twilio placing a call a rep dialled: one request to the REST Calls API
(https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource).

Which leg Twilio creates is the connection's choice (`leg_order`):

- prospect first (default): the REST call rings the prospect, with our status callback (naming
  the Outreach call), `SendDigits` for the extension, the recording and answering-machine
  detection when the organisation turned them on; once the prospect answers, our voice URL's
  TwiML rings the rep (`connect-rep`).
- rep first: the REST call rings the rep (its callback marked `leg=rep`: only its failing to
  answer counts); once the rep answers, our TwiML dials the prospect as a `<Number>` with the
  status callback, `sendDigits` and detection (`connect-prospect`), so Outreach's state still
  follows the prospect's leg.

Twilio takes no idempotency key for calls, so a request is never sent twice once it may have
left: a connection refused is safe to retry (the core does, within the deadline); a read
time-out, a broken connection or a 5xx other than 503 is `Unconfirmed` (the core waits for the
status callbacks, which name the Outreach call). The account's calls-per-second limit is kept
across every process through the shared cache.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx
from django.core.cache import cache

from integrations.provider import PlaceCallOutcome, PlaceCallRequest, Placed, Refused, Unconfirmed
from integrations.twilio.addresses import callback_url, voice_url
from integrations.twilio.rest import TwilioApi, TwilioError
from integrations.twilio.setup import REP_FIRST, TwilioSetup, agent_address, read_setup
from portal import clock

# Our status callback for every step of a leg (README "Twilio places calls").
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
# Twilio did nothing and says to try again: the core does, within the dial's deadline.
TRANSIENT_STATUSES = frozenset({429, 503})
# A call may take the current calls-per-second slot only this early in it (a fraction of it).
LATE_IN_A_SLOT = 0.05


def place_twilio_call(
    request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
) -> PlaceCallOutcome:
    connection = request.connection
    setup = read_setup(connection.setup_values())
    caller_id = request.from_number or setup.calls_from
    if not caller_id:
        return Refused(
            f"“{connection.name}” has no number to call from: an admin gives one (Calls placed "
            "from, or a number it serves) on the Telephony page.",
            permanent=True,
        )
    rep = agent_address(request.agent)
    if not rep:
        return Refused(
            "Your agent mapping names no Twilio client identity or phone number to ring you on: "
            "ask an admin to map your Twilio client (id) or phone on the Agents page.",
            permanent=True,
        )
    params = call_parameters(request, setup=setup, caller_id=caller_id, rep=rep)
    if not _take_a_slot(setup, deadline=deadline):
        return Refused(
            f"Twilio's limit of {setup.calls_per_second} call(s) per second for this account is "
            "taken by other calls.",
            permanent=False,
        )
    seconds = (deadline - clock.now()).total_seconds()
    if seconds <= 0:
        return Refused("There was no time left to ask Twilio.", permanent=False)
    try:
        answer = TwilioApi(setup).create_call(
            params, timeout=httpx.Timeout(seconds, connect=min(seconds, 3.0))
        )
    except (httpx.ConnectError, httpx.ConnectTimeout):
        return Refused("Callbridge could not reach Twilio.", permanent=False)
    except httpx.TimeoutException:
        return Unconfirmed(f"Twilio did not answer within {seconds:.1f} s.")
    except httpx.TransportError as error:
        return Unconfirmed(
            f"The connection to Twilio broke before it answered ({type(error).__name__})."
        )
    except TwilioError as error:
        return refusal(error, to_number=request.to_number)
    sid = answer.get("sid")
    return Placed(provider_call_id=sid if isinstance(sid, str) else "")


def call_parameters(
    request: PlaceCallRequest, *, setup: TwilioSetup, caller_id: str, rep: str
) -> list[tuple[str, str]]:
    connection, call_id = request.connection, request.outreach_call_id
    status_callback = callback_url(connection, outreach_call_id=call_id)
    params = [("From", caller_id), ("StatusCallbackMethod", "POST")]
    if setup.leg_order == REP_FIRST:
        params += [
            ("To", rep),
            ("StatusCallback", callback_url(connection, outreach_call_id=call_id, leg="rep")),
            ("Url", voice_url(connection, step="connect-prospect", outreach_call_id=call_id,
                              to=request.to_number, ext=request.extension)),
        ]  # fmt: skip
    else:
        params += [
            ("To", request.to_number),
            ("StatusCallback", status_callback),
            ("Url", voice_url(connection, step="connect-rep", outreach_call_id=call_id, to=rep)),
        ]
        if request.extension:
            params.append(("SendDigits", send_digits(request.extension)))
        if setup.machine_detection:
            params.append(("MachineDetection", "Enable"))
        if setup.record_calls:
            params += [
                ("Record", "true"),
                ("RecordingChannels", "dual"),
                ("RecordingStatusCallback", status_callback),
                ("RecordingStatusCallbackEvent", "completed"),
            ]
    params += [("StatusCallbackEvent", event) for event in STATUS_EVENTS]
    return params


def send_digits(extension: str) -> str:
    """The extension, after a second's pause (`w` is half a second) for the far end's menu."""
    return f"ww{extension}"


def refusal(error: TwilioError, *, to_number: str) -> PlaceCallOutcome:
    """Twilio's answer, in words a rep can act on (https://www.twilio.com/docs/api/errors)."""
    code = error.code
    if error.status == 401 or code == 20003:
        return Refused(
            "Twilio refused this connection's credentials (20003): an admin checks the Account "
            "SID and the auth token or API key on the Telephony page.",
            permanent=True,
        )
    if code == 21211:
        return Refused(
            f"Twilio says {to_number} is not a valid phone number (21211).", permanent=True
        )
    if code == 21214:
        return Refused(f"Twilio cannot reach {to_number} (21214).", permanent=True)
    if code == 21215:
        return Refused(
            f"This Twilio account may not call {to_number}: its Voice Geographic Permissions do "
            "not allow that destination (21215). An admin allows it in Twilio's console.",
            permanent=True,
        )
    if error.status in TRANSIENT_STATUSES or code == 20429:
        return Refused(f"Twilio is unavailable for now: {error}.", permanent=False)
    if error.status >= 500:
        # It may have created the call before failing: never asked again.
        return Unconfirmed(f"Twilio answered HTTP {error.status}: it may have placed the call.")
    return Refused(f"Twilio refused the call: {error}.", permanent=True)


def _take_a_slot(setup: TwilioSetup, *, deadline: datetime) -> bool:
    """Wait for one of the account's calls per second, shared by every process through the
    cache: time is cut into slots of 1/limit s, each taken by one call, which starts at its
    slot's beginning (or within its first 5%), so any two calls are at least 0.95/limit s
    apart. False when no slot is free before the deadline."""
    length = 1.0 / setup.calls_per_second
    now = time.time()
    slot = int(now / length)
    if now - slot * length > LATE_IN_A_SLOT * length:
        slot += 1
    while slot * length - now < (deadline - clock.now()).total_seconds():
        if cache.add(f"twilio:calls-per-second:{setup.account_sid}:{slot}", 1, timeout=60):
            wait = slot * length - time.time()
            if wait > 0:
                time.sleep(wait)
            return True
        slot += 1
    return False
