"""The generic provider: any phone system that can POST our normalised events, signed as the
Standard Webhooks specification says (https://www.standardwebhooks.com/).

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds, 5-minute tolerance) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; several space-separated
signatures are accepted, and a connection may hold several secrets, so secrets can rotate.
The body format is documented in README.md ("The generic webhook").

It is also the worked example of the seam (`integrations/provider.py`): one optional setup
field, a signing secret we mint, JSON in, JSON out, and one capability: a phone system that gives
a dial URL is asked to place calls by a signed JSON request to it (`dial.py`, README "The generic
provider places calls"); one that only sends webhooks cannot be asked about a call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.http import HttpRequest

from integrations import standard_webhooks
from integrations.events import (
    RECORDING_URL_MAX,
    VOICEMAIL_URL_MAX,
    AgentIdentity,
    CallEvent,
    Direction,
    Happening,
    normalise_number,
)
from integrations.generic.dial import place_generic_call
from integrations.models import ProviderConnection
from integrations.provider import (
    PlaceCallOutcome,
    PlaceCallRequest,
    Provider,
    SetupField,
    WebhookAnswer,
    WebhookRejected,
    json_payload,
)

E = TypeVar("E", bound=StrEnum)

MAX_EVENTS = 500
LINK_LIMITS = {
    Happening.RECORDING_READY: RECORDING_URL_MAX,
    Happening.VOICEMAIL_LEFT: VOICEMAIL_URL_MAX,
}
FIELDS = {
    "id",
    "call_id",
    "direction",
    "happening",
    "occurred_at",
    "outreach_call_id",
    "from",
    "to",
    "extension",
    "agent",
    "link",
}


class GenericProvider(Provider):
    kind = "generic"
    label = "Generic signed webhook"
    instructions = (
        "Your phone system POSTs call events to the connection's webhook URL, signed with its "
        "secret as Standard Webhooks specifies (https://www.standardwebhooks.com/). To place "
        "reps' calls too, give its dial URL: Callbridge POSTs it a dial request signed with the "
        "same secret. The README describes both."
    )
    content_types = ("application/json",)
    answer = WebhookAnswer.JSON
    setup_fields = (
        SetupField(
            name="dial_url",
            label="Dial URL",
            help_text="Optional: where your phone system takes dial requests (http or https).",
            required=False,
        ),
    )
    mints_signing_secret = True
    events = tuple(happening.value for happening in Happening)

    def new_signing_secret(self) -> str:
        return standard_webhooks.new_secret()

    def rotate_signing_secrets(self, current: list[str]) -> list[str]:
        return standard_webhooks.rotate_secrets(current)

    def retire_signing_secrets(self, current: list[str]) -> list[str]:
        return standard_webhooks.retire_secrets(current)

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        standard_webhooks.verify_signature(request, connection.signing_secrets())

    def place_call(
        self, request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
    ) -> PlaceCallOutcome:
        return place_generic_call(request, deadline=deadline, idempotency_key=idempotency_key)

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        body = json_payload(request.body)
        items = body.get("events") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise WebhookRejected('Expected {"events": [...]} with at least one event.', status=422)
        if len(items) > MAX_EVENTS:
            raise WebhookRejected(f"At most {MAX_EVENTS} events per request.", status=413)
        region = connection.organization.default_region
        return [
            _event(item, f"events[{i}]", kind=self.kind, region=region)
            for i, item in enumerate(items)
        ]


def _event(item: Any, where: str, *, kind: str, region: str) -> CallEvent:
    if not isinstance(item, dict):
        raise WebhookRejected(f"{where} must be an object.", status=422)
    unknown = set(item) - FIELDS
    if unknown:
        raise WebhookRejected(
            f"{where} has unknown field(s): {', '.join(sorted(unknown))}.", status=422
        )
    text = _texts(item, where)
    happening = _choice(Happening, text("happening", required=True), f"{where}.happening")
    direction = _choice(Direction, text("direction", required=True), f"{where}.direction")
    link = text("link")
    if happening in LINK_LIMITS:
        _check_link(link, limit=LINK_LIMITS[happening], where=f"{where}.link")
    elif link:
        raise WebhookRejected(
            f"{where}.link is only for recording_ready and voicemail_left.", status=422
        )
    agent = item.get("agent") or {}
    if not isinstance(agent, dict) or set(agent) - {"email", "extension", "phone", "id"}:
        raise WebhookRejected(
            f"{where}.agent must be an object with email, extension, phone or id.", status=422
        )
    agent_text = _texts(agent, f"{where}.agent")
    return CallEvent(
        dedup_key=text("id", required=True, limit=200),
        provider=kind,
        provider_call_id=text("call_id", required=True, limit=200),
        direction=direction,
        happening=happening,
        occurred_at=_time(text("occurred_at", required=True), f"{where}.occurred_at"),
        outreach_call_id=text("outreach_call_id", limit=64),
        from_number=normalise_number(text("from", limit=255), default_region=region)
        if item.get("from")
        else None,
        to_number=normalise_number(text("to", limit=255), default_region=region)
        if item.get("to")
        else None,
        extension=text("extension", limit=40),
        agent=AgentIdentity(**{name: agent_text(name, limit=254) for name in agent}),
        link=link,
        raw=item,
    )


def _texts(item: dict[str, Any], where: str) -> Callable[..., str]:
    """A reader of `item`'s string fields that names the field in every refusal."""

    def text(name: str, *, required: bool = False, limit: int = 2048) -> str:
        value = item.get(name)
        if value is None or value == "":
            if required:
                raise WebhookRejected(f"{where}.{name} is required.", status=422)
            return ""
        if not isinstance(value, str):
            raise WebhookRejected(f"{where}.{name} must be a string.", status=422)
        if len(value) > limit:
            raise WebhookRejected(f"{where}.{name} is longer than {limit} characters.", status=422)
        return value

    return text


def _choice(enum: type[E], value: str, where: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise WebhookRejected(f"{where} '{value}' is not one of: {allowed}.", status=422) from None


def _time(value: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WebhookRejected(f"{where} is not an ISO 8601 date-time.", status=422) from None
    if moment.tzinfo is None:
        raise WebhookRejected(f"{where} needs a time zone (e.g. a trailing Z).", status=422)
    return moment


def _check_link(link: str, *, limit: int, where: str) -> None:
    if not link:
        raise WebhookRejected(f"{where} is required for this happening.", status=422)
    if urlsplit(link).scheme not in ("http", "https") or not urlsplit(link).netloc:
        raise WebhookRejected(
            f"{where} must be an http or https URL (Outreach accepts no other).", status=422
        )
    if len(link) > limit:
        raise WebhookRejected(f"{where} is longer than Outreach's {limit} characters.", status=422)
