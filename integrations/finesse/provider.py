"""Cisco Finesse through its contact-centre connector (README "Cisco Finesse").

The connector (Acqueon's, seed 002) re-publishes Finesse's dialog notifications as JSON messages
inside the agent desktop; it signs nothing. A relay POSTs each message to the connection's
webhook URL, authenticated with HTTP Basic credentials the admin sets here, or signed with the
connection's Standard Webhooks secret. Its payloads carry the agent's Finesse password
(`data.call.ResponseActual.user.password`): every field named like a password or secret is
removed before anything is kept, logged or shown (`kept_body`, and each event's `raw`).

Placing a call goes through Finesse's REST API as the rep (`dial.py`), with the Finesse
credentials each rep keeps on their settings page.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from datetime import datetime
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from integrations import standard_webhooks
from integrations.events import CallEvent, Direction, Happening, normalise_number
from integrations.finesse.client import Finesse
from integrations.finesse.dial import place_finesse_call
from integrations.finesse.dialog import (
    EVENTS,
    REMOVED,
    DialogReading,
    Settings,
    is_dialog_event,
    read_event,
    strip_secrets,
)
from integrations.models import ProviderCallAlias, ProviderConnection
from integrations.provider import (
    PlaceCallOutcome,
    PlaceCallRequest,
    Provider,
    SetupField,
    WebhookAnswer,
    WebhookRejected,
    json_payload,
)

# In a body that is not JSON, a `"password": "..."`-like pair is blanked all the same.
SECRET_PAIR = re.compile(
    r'("[^"]*(?:pass(?:word|wd|code|phrase)?|pwd|secret|credential)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
FETCH_TIMEOUT_SECONDS = 5.0
CALL_VARIABLE = re.compile(r"callVariable([1-9]|10)|user\.[A-Za-z0-9_.]+")


class FinesseProvider(Provider):
    kind = "finesse"
    label = "Cisco Finesse (contact-centre connector)"
    instructions = (
        "Relay the connector's OutBoundCallStateChange messages from the agent desktop to the "
        "webhook URL below, with the HTTP Basic user name and password you set here (or signed "
        "with the connection's secret, as Standard Webhooks specifies). To place reps' calls, "
        "give the Finesse server's address; each rep then enters their own Finesse sign-in on "
        "their settings page. The README describes the relay and the mapping."
    )
    content_types = ("application/json",)
    answer = WebhookAnswer.JSON
    setup_fields = (
        SetupField(
            name="basic_username",
            label="Relay user name",
            required=False,
            help_text="HTTP Basic user name the relay sends; empty: the relay signs with the "
            "connection's secret instead.",
        ),
        SetupField(
            name="basic_password",
            label="Relay password",
            secret=True,
            required=False,
            help_text="HTTP Basic password the relay sends (at least 16 characters).",
        ),
        SetupField(
            name="finesse_url",
            label="Finesse server address",
            required=False,
            help_text="e.g. https://finesse1.example.com:8445 - needed to place calls and to "
            "ask Finesse about a call.",
        ),
        SetupField(
            name="reader_user",
            label="Finesse user for reading calls",
            required=False,
            help_text="A Finesse administrator (or a supervisor of every agent): Callbridge "
            "reads a call's dialog with it when the connector has gone quiet about the call.",
        ),
        SetupField(
            name="reader_password",
            label="Its password",
            secret=True,
            required=False,
        ),
        SetupField(
            name="dial_prefix",
            label="Dial-plan prefix for outside numbers",
            required=False,
            max_length=10,
            help_text="Digits dialled before an outside number (e.g. 9), or empty.",
        ),
        SetupField(
            name="outreach_call_variable",
            label="Call variable for Outreach's call id",
            required=False,
            max_length=60,
            help_text="Unified CCE: the call variable (e.g. callVariable10) a placed call "
            "carries Outreach's call id in, so its events find the call. Empty: none.",
        ),
    )
    rep_fields = (
        SetupField(
            name="finesse_user",
            label="Finesse user id",
            help_text="The id you sign in to Finesse with (your agent id).",
        ),
        SetupField(name="finesse_password", label="Finesse password", secret=True),
        SetupField(
            name="extension",
            label="Extension",
            required=False,
            max_length=40,
            help_text="The extension you sign in to Finesse at. Empty: the one an admin mapped "
            "to you on the Agents page.",
        ),
    )
    mints_signing_secret = True
    events = EVENTS

    def place_call(
        self, request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
    ) -> PlaceCallOutcome:
        return place_finesse_call(request, deadline=deadline, idempotency_key=idempotency_key)

    def new_signing_secret(self) -> str:
        return standard_webhooks.new_secret()

    def rotate_signing_secrets(self, current: list[str]) -> list[str]:
        return standard_webhooks.rotate_secrets(current)

    def retire_signing_secrets(self, current: list[str]) -> list[str]:
        return standard_webhooks.retire_secrets(current)

    def check_setup(self, values: dict[str, str]) -> None:
        problems = {}
        if bool(values.get("basic_username")) != bool(values.get("basic_password")):
            problems["basic_password" if values.get("basic_username") else "basic_username"] = (
                "HTTP Basic needs both a user name and a password."
            )
        elif values.get("basic_password") and len(values["basic_password"]) < 16:
            problems["basic_password"] = "Use at least 16 characters: it guards the webhook."
        url = values.get("finesse_url", "")
        if url and not re.fullmatch(r"https?://[^/\s]+/?", url):
            problems["finesse_url"] = (
                "The server's address only: https://host[:port], without a path."
            )
        if not re.fullmatch(r"[0-9*#]*", values.get("dial_prefix", "")):
            problems["dial_prefix"] = "Only digits, * or #."
        variable = values.get("outreach_call_variable", "")
        if variable and not CALL_VARIABLE.fullmatch(variable):
            problems["outreach_call_variable"] = (
                "callVariable1 to callVariable10, or an ECC variable (user.<name>)."
            )
        if problems:
            raise ValidationError(problems)

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        authorization = request.headers.get("Authorization", "")
        if not authorization:
            standard_webhooks.verify_signature(request, connection.signing_secrets())
            return
        values = connection.setup_values()
        username, password = values.get("basic_username", ""), values.get("basic_password", "")
        if not (username and password):
            raise WebhookRejected(
                "This connection takes no HTTP Basic credentials: sign with its secret.",
                status=401,
            )
        given_user, given_password = _basic(authorization)
        # Both compared, whatever the first gives, so the time taken tells nothing.
        user_ok = hmac.compare_digest(given_user.encode(), username.encode())
        password_ok = hmac.compare_digest(given_password.encode(), password.encode())
        if not (user_ok and password_ok):
            raise WebhookRejected("Wrong HTTP Basic credentials.", status=401)

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        payload = json_payload(request.body)
        if not is_dialog_event(payload):
            # Another of the connector's messages (a reply, a schedule): nothing about a
            # call's state, acknowledged so the relay does not send it again.
            return []
        return self.events_of(payload, connection)

    def events_of(self, payload: dict[str, Any], connection: ProviderConnection) -> list[CallEvent]:
        reading = read_event(payload, _settings(connection))
        if connection.pk is not None:
            # The dialog id, so that reconciliation can read the call's dialog from Finesse.
            ProviderCallAlias.objects.update_or_create(
                connection=connection, provider_call_id=reading.call_id, alias=reading.dialog_id
            )
        kept = {"payload": strip_secrets(payload), "notes": reading.notes}
        return [
            _event(reading, happening, at, kept=kept, kind=self.kind, connection=connection)
            for happening, at in reading.happenings
        ]

    def fetch_call_state(
        self, connection: ProviderConnection, provider_call_id: str
    ) -> list[CallEvent] | None:
        """The call's dialog as Finesse now has it (`GET /finesse/api/Dialog/<id>`, read with
        the connection's reader sign-in), as the connector's events would carry it. A dialog
        Finesse no longer knows (404: it forgets them after they end) says the call ended,
        outcome unknown: no event, so the call is closed by the give-up path."""
        setup = connection.setup_values()
        reader, password = setup.get("reader_user", ""), setup.get("reader_password", "")
        dialog_id = _latest_dialog(connection, provider_call_id)
        if not (setup.get("finesse_url") and reader and password and dialog_id):
            return None
        finesse = Finesse(
            setup["finesse_url"], user=reader, password=password, timeout=FETCH_TIMEOUT_SECONDS
        )
        try:
            dialog = finesse.dialog(dialog_id)
        except (httpx.HTTPError, ValueError):
            return None
        if dialog is None:
            return []
        envelope = {
            "channel": "Cisco",
            "topic": "OutboundCall",
            "subtopic": "OutBoundCallStateChange",
            "data": {"source": "reconciliation", "call": {"ResponseActual": {"dialog": dialog}}},
        }
        try:
            return self.events_of(envelope, connection)
        except WebhookRejected:
            return None

    def kept_body(self, body: bytes) -> str:
        try:
            payload = json.loads(body)
        except ValueError:
            return SECRET_PAIR.sub(rf'\1"{REMOVED}"', body.decode(errors="replace"))
        return json.dumps(strip_secrets(payload), ensure_ascii=False)


def _latest_dialog(connection: ProviderConnection, provider_call_id: str) -> str:
    """The newest dialog id the call has had; a call without a call key is its dialog."""
    alias = (
        ProviderCallAlias.objects.filter(connection=connection, provider_call_id=provider_call_id)
        .order_by("-seen_at")
        .values_list("alias", flat=True)
        .first()
    )
    if alias:
        return alias
    return (
        provider_call_id.removeprefix("dialog-") if provider_call_id.startswith("dialog-") else ""
    )


def _settings(connection: ProviderConnection) -> Settings:
    values = connection.setup_values()
    return Settings(
        dial_prefix=values.get("dial_prefix", ""),
        outreach_call_variable=values.get("outreach_call_variable", ""),
    )


def _event(
    reading: DialogReading,
    happening: Happening,
    at: datetime,
    *,
    kept: dict[str, Any],
    kind: str,
    connection: ProviderConnection,
) -> CallEvent:
    region = connection.organization.default_region
    customer, ours = (
        normalise_number(number, default_region=region) if number else None
        for number in (reading.customer, reading.our_number)
    )
    outbound = reading.direction is Direction.OUTBOUND
    return CallEvent(
        # Per call and happening: the connector's repeats, a dialog id that changed on a
        # transfer, and Finesse's own Dialog read by reconciliation all count once.
        dedup_key=f"{reading.call_id}:{happening}",
        provider=kind,
        provider_call_id=reading.call_id,
        direction=reading.direction,
        happening=happening,
        occurred_at=at,
        outreach_call_id=reading.outreach_call_id[:64],
        from_number=None if outbound else customer,
        to_number=customer if outbound else ours,
        agent=reading.agent,
        raw=kept | {"dialog_id": reading.dialog_id},
    )


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise WebhookRejected("Authorization must be HTTP Basic.", status=401)
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise WebhookRejected("Malformed HTTP Basic credentials.", status=401) from None
    username, separator, password = decoded.partition(":")
    if not separator:
        raise WebhookRejected("Malformed HTTP Basic credentials.", status=401)
    return username, password
