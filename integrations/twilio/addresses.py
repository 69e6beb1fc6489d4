"""The URLs Callbridge gives Twilio: the callback URL (status, recording and <Dial> action
callbacks, through the webhook door) and the voice URL (TwiML we serve: the inbound routing and
the placed calls' connecting). Each ends in Twilio's connection overrides, so Twilio retries
what failed (README "Twilio": Retries)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

if TYPE_CHECKING:
    from integrations.models import ProviderConnection

# Twilio retries a callback by default only when it could not connect. These overrides make it
# retry 5xx answers and read time-outs too (our 503 means "nothing stored, try again"), up to 3
# times within its 15 s limit: connect within 2 s, an answer within 5 s.
# https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides
CONNECTION_OVERRIDES = "rc=3&rp=ct,rt,5xx&ct=2000&rt=5000&tt=15000"


def callback_url(
    connection: ProviderConnection, *, outreach_call_id: str = "", agent: str = "", leg: str = ""
) -> str:
    """The URL to give Twilio for a connection's callbacks, connection overrides included; an
    outbound call's names its Outreach call (and the rep, when our numbers do not; and `leg=rep`
    for the rep's own leg of a call that rings the rep first)."""
    return connection.webhook_url(outreach_call_id=outreach_call_id, agent=agent, leg=leg)


def voice_url(connection: ProviderConnection, **query: str) -> str:
    """The URL Twilio asks for TwiML: a number's 'A call comes in' URL (no query), or a step of
    a call we route or placed (the query, which Twilio signs with the rest of the URL)."""
    path = reverse("twilio_voice", kwargs={"token": connection.webhook_token})
    given = {name: value for name, value in query.items() if value}
    return (
        settings.PUBLIC_BASE_URL
        + path
        + (f"?{urlencode(given)}" if given else "")
        + f"#{CONNECTION_OVERRIDES}"
    )
