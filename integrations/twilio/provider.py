"""Twilio as a Callbridge provider: its callbacks verified with the `twilio` package's
`RequestValidator` and read by `callbacks.py`; the setup it needs in `setup.py`; placing calls
in `dial.py` and reading a call back from its REST API (`rest.py`) for reconciliation; the TwiML
it serves (`routing.py`) and the recording links it plays (`links.py`), both in `views.py`.

Twilio signs each request with `X-Twilio-Signature`: HMAC-SHA1 of the exact URL it was given
(query string included) followed by the sorted form parameters, keyed with the account's auth
token (https://www.twilio.com/docs/usage/webhooks/webhooks-security), or with a Webhook
Setting's SharedKey and the algorithm `X-Twilio-Webhooks-Signature-Settings` names. The URL we
give Twilio ends in connection overrides (`#rc=...`, see CONNECTION_OVERRIDES), a fragment
Twilio reads and never sends. The documents we could find do not say whether the signed URL
keeps that fragment, so a signature of the URL with it or without it is accepted: both need the
secret.
The signature has no timestamp; a replay is harmless because every event is de-duplicated.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from integrations.events import CallEvent
from integrations.provider import (
    PlaceCallOutcome,
    PlaceCallRequest,
    Provider,
    SetupField,
    WebhookAnswer,
    WebhookRejected,
)
from integrations.twilio.addresses import CONNECTION_OVERRIDES
from integrations.twilio.callbacks import (
    DIAL_ACTION,
    EVENTS,
    OUTBOUND_DIRECTIONS,
    Callback,
    Leg,
    call_events,
    callback_kind,
)
from integrations.twilio.dial import place_twilio_call
from integrations.twilio.links import recording_link
from integrations.twilio.rest import TwilioApi, TwilioError
from integrations.twilio.setup import REP_FIRST, read_setup, setup_problems
from portal import clock

if TYPE_CHECKING:
    from integrations.models import ProviderConnection

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class TwilioProvider(Provider):
    kind = "twilio"
    label = "Twilio"
    instructions = (
        "In Twilio's console, give each phone number this connection serves the webhook URL "
        "below as its 'Call status changes' URL (HTTP POST), and add the same URL as the "
        "statusCallback of every <Number>, <Client> or <Sip> your routing <Dial>s, and as the "
        "recordingStatusCallback of its recordings. Keep the URL's #rc=... ending: it makes "
        "Twilio retry what failed. For Callbridge to route a number itself, give it, as 'A call "
        "comes in', the same URL with voice/ before the #. The README shows the TwiML."
    )
    content_types = ("application/x-www-form-urlencoded",)
    answer = WebhookAnswer.EMPTY  # TwiML for a <Dial> action: see accepted_answer
    setup_fields = (
        SetupField(
            name="account_sid", label="Account SID", help_text="AC followed by 32 characters."
        ),
        SetupField(
            name="auth_token",
            label="Auth token",
            secret=True,
            required=False,
            help_text="Twilio signs its webhooks with it. Or give an API key below.",
        ),
        SetupField(name="api_key_sid", label="API key SID", required=False),
        SetupField(name="api_key_secret", label="API key secret", secret=True, required=False),
        SetupField(
            name="webhook_key",
            label="Webhook signing key secret",
            secret=True,
            required=False,
            help_text=(
                "Without the auth token: the SharedKey secret of the Webhook Setting whose "
                "Rule matches our URL, which Twilio then signs with."
            ),
        ),
        SetupField(
            name="numbers",
            label="Numbers and their agents",
            required=False,
            max_length=4000,
            help_text=(
                "Each Twilio number it serves and the agent it rings, e.g. "
                "+12065550100=client:rita, +12065550101=+14155550199 (a phone number, "
                "client:<identity> or sip:<address>)."
            ),
        ),
        # Placing calls (click-to-dial) and the routing Callbridge serves.
        SetupField(
            name="caller_id",
            label="Calls placed from",
            required=False,
            help_text="The Twilio number (or verified caller id) placed calls come from; the "
            "first number above when empty.",
        ),
        SetupField(
            name="leg_order",
            label="Who is rung first",
            required=False,
            help_text="prospect (default: the rep is rung once the prospect answers) or rep "
            "(the prospect is dialled once the rep answers).",
        ),
        SetupField(
            name="record_calls",
            label="Record calls",
            required=False,
            help_text="yes or no (default). Recordings reach Outreach as links of ours.",
        ),
        SetupField(
            name="recording_notice",
            label="Recording notice",
            required=False,
            help_text="Spoken before a recorded call, e.g. 'This call is recorded.'",
        ),
        SetupField(
            name="machine_detection",
            label="Answering-machine detection",
            required=False,
            help_text="yes or no (default). Off: Outreach ends a call a machine answered as "
            "completed either way, and detection costs the prospect seconds of silence.",
        ),
        SetupField(
            name="calls_per_second",
            label="Calls per second",
            required=False,
            help_text="The account's limit for placing calls (Twilio's default is 1).",
        ),
    )
    mints_signing_secret = False  # Twilio signs with the account's own credentials
    events = EVENTS
    webhook_url_fragment = CONNECTION_OVERRIDES

    def check_setup(self, values: dict[str, str]) -> None:
        problems = setup_problems(values)
        if problems:
            raise ValidationError(problems)

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise WebhookRejected(f"Missing {SIGNATURE_HEADER} header.", status=403)
        setup = read_setup(connection.setup_values())
        signature_settings = request.headers.get(SIGNATURE_SETTINGS_HEADER, "")
        secret = setup.webhook_key if signature_settings else setup.auth_token
        if not secret:
            needed = "webhook signing key" if signature_settings else "auth token"
            raise WebhookRejected(
                f"This connection has no {needed} to check Twilio's signature with.", status=403
            )
        validator = RequestValidator(secret)
        algorithm = get_signature_algorithm(signature_settings)
        url = settings.PUBLIC_BASE_URL + request.get_full_path()
        if not any(
            validator.validate(candidate, request.POST, signature, algorithm)
            for candidate in (f"{url}#{CONNECTION_OVERRIDES}", url)
        ):
            raise WebhookRejected(
                f"{SIGNATURE_HEADER} does not match this URL and body signed with the "
                "connection's credentials.",
                status=403,
            )
        account = request.POST.get("AccountSid", "")
        if account != setup.account_sid:
            raise WebhookRejected(
                f"The callback is for Twilio account {account or '(none)'}, not this connection's.",
                status=403,
            )

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        return call_events(
            Callback(
                params=request.POST,
                outreach_call_id=request.GET.get("outreach_call_id", "")[:64],
                agent=request.GET.get("agent", "")[:254],
                setup=read_setup(connection.setup_values()),
                region=connection.organization.default_region,
                received_at=clock.now(),
                leg=request.GET.get("leg", "")[:20],
                recording_link=partial(recording_link, connection),
            )
        )

    def place_call(
        self, request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
    ) -> PlaceCallOutcome:
        return place_twilio_call(request, deadline=deadline, idempotency_key=idempotency_key)

    def fetch_call_state(
        self, connection: ProviderConnection, provider_call_id: str
    ) -> list[CallEvent] | None:
        """The call as Twilio's Calls resource has it now, and the legs its <Dial>s opened,
        read as their status callbacks would be (the same keys, so what the callbacks told
        counts once). A call placed rep first is the rep's leg, the prospect's a dialled one;
        which order a call was placed in is read from the connection's current setup, so a
        change of order while calls are under way misreads those calls' legs."""
        setup = read_setup(connection.setup_values())
        api = TwilioApi(setup)
        try:
            call = api.fetch_call(provider_call_id)
        except TwilioError as error:
            if error.status == 404:
                return None  # Twilio does not know it (any more): it cannot say
            raise
        legs = [(call, "")]
        if call.get("direction") not in OUTBOUND_DIRECTIONS:  # an inbound call: its agents' legs
            legs += [(leg, "") for leg in api.dialled_legs(provider_call_id)]
        elif setup.leg_order == REP_FIRST:  # the rep's leg; the prospect's tells the call
            legs = [(call, Leg.REP.value)]
            legs += [(leg, "prospect") for leg in api.dialled_legs(provider_call_id)]
        # A call placed prospect first is the prospect's leg; the rep's it dialled tells nothing.
        events: list[CallEvent] = []
        for resource, leg in legs:
            events += call_events(
                Callback(
                    params=status_of(resource),
                    outreach_call_id="",
                    agent="",
                    setup=setup,
                    region=connection.organization.default_region,
                    received_at=clock.now(),
                    leg=leg,
                    recording_link=partial(recording_link, connection),
                )
            )
        return events

    def accepted_answer(
        self, request: HttpRequest, *, stored: int, duplicates: int
    ) -> HttpResponse:
        """Twilio reads nothing in a status or recording callback's answer; a <Dial> action
        asks what the call does next, and an empty <Response/> ends it."""
        if callback_kind(request.POST) == DIAL_ACTION:
            return HttpResponse(EMPTY_TWIML, content_type="text/xml")
        return HttpResponse(status=200)


def status_of(resource: dict[str, Any]) -> dict[str, str]:
    """A Calls resource as the status callback telling its current status would have it:
    dated when it ended, else when it started (Twilio writes both as RFC 2822 dates)."""
    status = str(resource.get("status") or "")
    ended = status not in ("queued", "initiated", "ringing", "in-progress")
    when = (resource.get("end_time") if ended else None) or resource.get("start_time")
    params = {
        "AccountSid": resource.get("account_sid"),
        "CallSid": resource.get("sid"),
        "ParentCallSid": resource.get("parent_call_sid"),
        "CallStatus": status,
        "Direction": resource.get("direction"),
        "From": resource.get("from"),
        "To": resource.get("to"),
        "CallDuration": resource.get("duration"),
        "AnsweredBy": resource.get("answered_by"),
        "Timestamp": when or resource.get("date_created"),
    }
    return {name: str(value) for name, value in params.items() if value}
