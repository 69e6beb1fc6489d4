"""Twilio as a Callbridge provider: its callbacks verified with the `twilio` package's
`RequestValidator` and read by `callbacks.py`; the setup it needs in `setup.py`.

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

from typing import TYPE_CHECKING

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
from integrations.provider import Provider, SetupField, WebhookAnswer, WebhookRejected
from integrations.twilio.callbacks import DIAL_ACTION, EVENTS, Callback, call_events, callback_kind
from integrations.twilio.setup import read_setup, setup_problems
from portal import clock

if TYPE_CHECKING:
    from integrations.models import ProviderConnection

# Twilio retries a callback by default only when it could not connect. These overrides make it
# retry 5xx answers and read time-outs too (our 503 means "nothing stored, try again"), up to 3
# times within its 15 s limit: connect within 2 s, an answer within 5 s.
# https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides
CONNECTION_OVERRIDES = "rc=3&rp=ct,rt,5xx&ct=2000&rt=5000&tt=15000"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class TwilioProvider(Provider):
    kind = "twilio"
    label = "Twilio"
    instructions = (
        "In Twilio's console, give each phone number this connection serves the webhook URL "
        "below as its 'Call status changes' URL (HTTP POST), and add the same URL as the "
        "statusCallback of every <Number>, <Client> or <Sip> your routing <Dial>s, and as the "
        "recordingStatusCallback of its recordings. Keep the URL's #rc=... ending: it makes "
        "Twilio retry what failed. The README shows the TwiML."
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
            )
        )

    def accepted_answer(
        self, request: HttpRequest, *, stored: int, duplicates: int
    ) -> HttpResponse:
        """Twilio reads nothing in a status or recording callback's answer; a <Dial> action
        asks what the call does next, and an empty <Response/> ends it."""
        if callback_kind(request.POST) == DIAL_ACTION:
            return HttpResponse(EMPTY_TWIML, content_type="text/xml")
        return HttpResponse(status=200)


def callback_url(
    connection: ProviderConnection, *, outreach_call_id: str = "", agent: str = ""
) -> str:
    """The URL to give Twilio for a connection's callbacks, connection overrides included; an
    outbound call's names its Outreach call (and the rep, when our numbers do not)."""
    return connection.webhook_url(outreach_call_id=outreach_call_id, agent=agent)
