"""The provider seam: what a telephony provider is to the core, declared by one class.

A provider lives in its own folder (`integrations/<kind>/provider.py`) and is registered by one
line in `integrations/registry.py` (or, for providers that live elsewhere, by naming the class in
the `EXTRA_PROVIDERS` setting). The class declares what the core needs to know without reading
its code - its label, what an admin does at the provider's end, the content types its webhooks
come in, the answer its provider expects, the fields an admin fills in to set it up and its secret
policy (whether we mint a signing secret for it, and how that secret rotates) - and implements:

- `verify(request, connection)`: raise `WebhookRejected` unless the provider signed the request;
- `parse(request, connection)`: the call events the request carries (`WebhookRejected` when
  malformed);

and, where the defaults do not fit, `check_setup(values)` (setup values that cannot work
together), `accepted_answer(request, ...)` (an answer that depends on the webhook) and
`kept_body(body)` (a refused webhook's body without the secrets a provider's payloads carry);
a provider that places calls as the rep declares `rep_fields`, each rep's own sign-in;

and, optionally, two capabilities with one signature each (the core asks `supports(...)`):

- `place_call(request, *, deadline, idempotency_key)`: ask the provider to place a call; the
  answer is `Placed` (the provider's call id), `Refused` (a reason a rep can read, and whether
  trying again can help) or `Unconfirmed` (the provider did not answer in time: the call may
  have been placed, so it must not be asked again);
- `fetch_call_state(connection, provider_call_id)`: the events the provider now reports for a
  call, or None when it cannot say (`WebhookRejected` for an answer it will not read, which the
  core notes on the call; `AskLater` when the connection's share of the provider's request
  limit is in use, so the call is asked on a later run as if this one had not come to it); the
  core's reconciliation loop feeds them to the inbox like
  any webhook's (and, for a class that declares `polling`, its polling loop does, until
  the call is final and its recording known, or a deadline).

The webhook door, the Telephony pages and the pipeline name no provider: they read these
declarations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.http import HttpResponse, JsonResponse

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.events import CallEvent
    from integrations.models import ProviderConnection


class WebhookRejected(Exception):
    """A webhook we will not accept. `status` is the HTTP answer; `reason` is shown to the
    sender and to support staff, so it must never contain a secret."""

    def __init__(self, reason: str, *, status: int = 400, provider_call_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        # The call a signed but unreadable webhook was about, when it said: the door notes the
        # refusal on that call for support staff.
        self.provider_call_id = provider_call_id


class AskLater(Exception):
    """The provider cannot be asked now: the connection's share of its request limit is in
    use (or it answered 429). Nothing was asked; the core asks again on a later run, and asks
    about none of the connection's other calls in this one."""


# How deep a JSON body may nest: real payloads need a handful of levels; a deeper one is an
# attack on the parser, refused before anything else reads it.
MAX_JSON_DEPTH = 32


def json_payload(body: bytes) -> Any:
    """A JSON body every part of the product can store and read: refused (400, naming what)
    when it is not JSON, carries NaN or Infinity (PostgreSQL's JSON has neither), a NUL or a
    lone surrogate in a string (neither can be stored), or nests deeper than MAX_JSON_DEPTH."""
    try:
        payload = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise WebhookRejected(f"Body nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise WebhookRejected(f"Body is not valid JSON: {error}.") from None
    _check_json(payload)
    return payload


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_json(payload: Any) -> None:
    stack: list[tuple[Any, str, int]] = [(payload, "body", 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise WebhookRejected(f"Body nests deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, f"a key in {where}")
                stack.append((item, f"{where}.{key}"[:200], depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, where)


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise WebhookRejected(f"{where} contains a NUL character.", status=422)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise WebhookRejected(
            f"{where} contains a lone surrogate (not UTF-8).", status=422
        ) from None


class Capability(StrEnum):
    PLACE_CALL = "place_call"
    FETCH_CALL_STATE = "fetch_call_state"


class WebhookAnswer(StrEnum):
    """What the provider expects back from an accepted webhook."""

    EMPTY = "empty"  # 200 with no body
    JSON = "json"  # 200 {"stored": n, "duplicates": n}
    XML = "xml"  # 200 with an empty TwiML-like <Response/>


@dataclass(frozen=True, kw_only=True)
class SetupField:
    """One field of a provider connection's setup form. Secret fields are stored encrypted in
    `ProviderConnection.credentials` and never shown again once saved."""

    name: str
    label: str
    help_text: str = ""
    secret: bool = False
    required: bool = True
    max_length: int = 500


@dataclass(frozen=True, kw_only=True)
class PlaceCallRequest:
    """What a rep asked for: call `to_number` (E.164) for the Outreach call `outreach_call_id`,
    and dial `extension` once the callee's line connects (Outreach's guide: "the Voice Extension
    App shall dial the extension automatically after the call is connected")."""

    connection: ProviderConnection
    outreach_call_id: str
    to_number: str
    extension: str = ""
    from_number: str = ""
    agent: dict[str, str] = field(default_factory=dict)  # the rep's identity at the provider
    # The portal member who dialled: a provider that places calls as the rep reads their own
    # sign-in (its `rep_fields`) with `integrations.selectors.rep_sign_in_values`.
    rep_user_id: int | None = None


@dataclass(frozen=True)
class Placed:
    provider_call_id: str


@dataclass(frozen=True)
class Refused:
    reason: str  # for the rep, in words they can act on; never a secret
    permanent: bool  # False: the same request may succeed if tried again
    # The provider's answer as it came (status and body), for support staff on the call's
    # timeline; never a secret.
    answer: str = ""


@dataclass(frozen=True)
class Unconfirmed:
    """No answer by the deadline (a time-out after the request was sent): the provider may be
    placing the call, so asking again could dial twice. The core waits for the provider's events
    instead, and reports the call failed if none come."""

    reason: str  # for the rep and the call's timeline; never a secret
    # How long the core waits for the provider's events before `failed`; None: the
    # DIAL_CONFIRM_SECONDS setting. A provider that asks a person to finish the dial (CCAI
    # Platform's widget) gives that person its own time.
    wait_seconds: float | None = None


PlaceCallOutcome = Placed | Refused | Unconfirmed


@dataclass(frozen=True, kw_only=True)
class Polling:
    """Ask the provider about a call every `every`, from its first event until its final state
    is known - and for a completed call its recording, or `recording_for` after it ended - or
    until `up_to` after its first event, whichever comes first."""

    every: timedelta
    up_to: timedelta = timedelta(hours=2)
    recording_for: timedelta = timedelta(minutes=15)


class Provider:
    """Base of every provider class; subclasses set the declarations and implement `verify`
    and `parse`, and may implement the capabilities."""

    kind: ClassVar[str]  # the registry key and the webhook URL's `<kind>`: a slug, 30 at most
    label: ClassVar[str]
    # Shown above the setup form: what the admin does at the provider's end (plain text; URLs
    # become links).
    instructions: ClassVar[str] = ""
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    answer: ClassVar[WebhookAnswer] = WebhookAnswer.JSON
    setup_fields: ClassVar[tuple[SetupField, ...]] = ()
    # What each rep gives for themselves on their settings page (their sign-in at the provider,
    # for a provider that places calls as the rep: Finesse's MAKE_CALL). Kept encrypted per rep
    # and connection, never shown again; `place_call` reads the dialling rep's
    # (`PlaceCallRequest.rep_user_id`).
    rep_fields: ClassVar[tuple[SetupField, ...]] = ()
    # Whether the connection signs its webhooks with a secret we mint (shown once, rotatable);
    # providers that sign with their own credentials (Twilio's auth token) say False.
    mints_signing_secret: ClassVar[bool] = False
    # Appended as a URL fragment (`#...`) to the webhook URL the Telephony page shows. A sender
    # never sends a fragment back; Twilio reads its connection overrides (retries) there.
    webhook_url_fragment: ClassVar[str] = ""
    # The provider's own event types that `parse` understands, as its documents name them; the
    # tests hold a payload fixture `<event>__<variant>.json` for each, and refuse a fixture of
    # an event the class does not declare.
    events: ClassVar[tuple[str, ...]] = ()
    # For providers whose webhooks may be lost (`fetch_call_state` required): how the core polls
    # their calls instead of only asking after RECONCILE_AFTER_SECONDS of quiet.
    polling: ClassVar[Polling | None] = None

    # The secret policy, for providers with `mints_signing_secret`: the format of a new secret,
    # and which secrets are accepted after a rotation or once the old ones are retired, given
    # those accepted now (newest first). The core stores what they return, encrypted.
    def new_signing_secret(self) -> str:
        raise NotImplementedError(f"{self.kind} does not mint signing secrets")

    def rotate_signing_secrets(self, current: list[str]) -> list[str]:
        """The secrets to accept after a rotation; the first is the new one, shown once."""
        raise NotImplementedError(f"{self.kind} does not mint signing secrets")

    def retire_signing_secrets(self, current: list[str]) -> list[str]:
        """The secrets to accept once the provider signs with the newest only."""
        raise NotImplementedError(f"{self.kind} does not mint signing secrets")

    def check_setup(self, values: dict[str, str]) -> None:
        """Raise `django.core.exceptions.ValidationError({field name: message})` when the setup
        values cannot work (a format, one of two credentials). Each field's own `required` is
        checked before; the default accepts anything."""

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        raise NotImplementedError

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        raise NotImplementedError

    def accepted_answer(
        self, request: HttpRequest, *, stored: int, duplicates: int
    ) -> HttpResponse:
        """The 200 the provider expects for an accepted webhook (`answer`); a provider whose
        answer depends on the webhook (Twilio: TwiML for a <Dial> action only) overrides it."""
        if self.answer is WebhookAnswer.JSON:
            return JsonResponse({"stored": stored, "duplicates": duplicates})
        if self.answer is WebhookAnswer.XML:
            return HttpResponse(
                '<?xml version="1.0" encoding="UTF-8"?><Response/>', content_type="text/xml"
            )
        return HttpResponse(status=200)

    def kept_body(self, body: bytes) -> str:
        """What of a refused webhook's body is kept for support staff (its receipt, and the
        call's timeline when it names a call). A provider whose payloads can carry secrets
        (the Finesse connector sends the agent's password) removes them here; by default the
        body is kept as it came."""
        return body.decode(errors="replace")

    def place_call(
        self, request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
    ) -> PlaceCallOutcome:
        raise NotImplementedError

    def fetch_call_state(
        self, connection: ProviderConnection, provider_call_id: str
    ) -> list[CallEvent] | None:
        raise NotImplementedError

    @classmethod
    def supports(cls, capability: Capability) -> bool:
        """Whether this provider implements the capability (overrides the base method)."""
        return getattr(cls, capability.value) is not getattr(Provider, capability.value)
