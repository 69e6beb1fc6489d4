"""Whatever a correctly signed sender puts in a field, the door answers 2xx and stores the event,
or 4xx naming the field; never a 5xx, never an acknowledged event lost. And refusals cost an
attacker more than us: an address that keeps being refused gets 429 and no more records, while
its correctly signed requests still go through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from calls.models import InboxEvent
from integrations.models import ProviderConnection, WebhookReceipt, WebhookRefusalTally
from portal.tenancy.models import Organization
from tests.pipeline.helpers import signed_headers

SECRET = "whsec_" + "aG9zdGlsZS1pbnB1dC1zZWNyZXQtZm9yLXRlc3Rz"
FIELDS = ("id", "call_id", "direction", "happening", "occurred_at", "outreach_call_id", "from",
          "to", "extension", "agent", "link")  # fmt: skip


@pytest.fixture
def connection(db: None) -> ProviderConnection:
    organization = Organization.objects.create(name="Hostile Co", slug="hostile-co")
    return ProviderConnection.objects.create(
        organization=organization, kind="generic", name="PBX", webhook_secrets=SECRET
    )


def recent(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=1) + timedelta(**delta)).isoformat()


def valid_event(number: int = 1) -> dict[str, Any]:
    return {
        "id": f"evt-{number}",
        "call_id": f"pbx-{number}",
        "direction": "outbound",
        "happening": "ringing",
        "occurred_at": recent(),
        "outreach_call_id": "3f2a9c1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c",
        "agent": {"email": "rita@pbx.example"},
    }


def post_raw(connection: ProviderConnection, body: bytes | str, **headers: str) -> Any:
    text = body if isinstance(body, str) else body.decode("latin-1")
    signed = signed_headers(SECRET, text) if isinstance(body, str) else {}
    return Client().post(
        f"/hooks/generic/{connection.webhook_token}/",
        body,
        content_type="application/json",
        headers={**signed, **headers},
    )


def post_events(connection: ProviderConnection, events: list[Any]) -> Any:
    return post_raw(connection, json.dumps({"events": events}, allow_nan=True))


@pytest.mark.parametrize(
    ("event", "status", "names"),
    [
        ({"agent": {"email": float("nan")}}, 400, "NaN"),
        ({"agent": {"id": float("inf")}}, 400, "Infinity"),
        ({"call_id": "pbx\x00-1"}, 422, "call_id contains a NUL"),
        ({"id": "evt-\ud800"}, 422, "id contains a lone surrogate"),
        ({"occurred_at": "9999-12-31T23:59:59Z"}, 422, "occurred_at 9999-12-31"),
        ({"occurred_at": "0001-01-01T00:00:00+05:00"}, 422, "occurred_at 0001-01-01"),
        ({"occurred_at": recent(days=-8)}, 422, "outside the accepted range"),
        ({"occurred_at": recent(hours=2)}, 422, "outside the accepted range"),
        ({"outreach_call_id": "12\n34"}, 422, "outreach_call_id must be"),
        ({"outreach_call_id": "../calls/1"}, 422, "outreach_call_id must be"),
        ({"agent": {"email": {"nested": "object"}}}, 422, "agent.email must be a string"),
    ],
    ids=[
        "nan",
        "infinity",
        "nul",
        "surrogate",
        "year-9999",
        "year-1-offset",
        "8-days-ago",
        "2-hours-ahead",
        "newline-id",
        "path-id",
        "agent-object",
    ],
)
def test_it_refuses_a_hostile_value_naming_the_field(
    connection: ProviderConnection, event: dict[str, Any], status: int, names: str
) -> None:
    response = post_events(connection, [{**valid_event(), **event}])

    assert response.status_code == status, response.content
    assert names in response.json()["error"]
    assert not InboxEvent.objects.exists()


def test_it_refuses_nesting_deeper_than_its_limit(connection: ProviderConnection) -> None:
    deep = '{"events": [' + "[" * 100_000 + "]" * 100_000 + "]}"

    response = post_raw(connection, deep)

    assert response.status_code == 400
    assert "nests deeper than 32 levels" in response.json()["error"]


def test_it_tries_every_signature_and_verifies_the_raw_bytes(
    connection: ProviderConnection,
) -> None:
    body = json.dumps({"events": [valid_event()]})
    headers = signed_headers(SECRET, body)
    headers["webhook-signature"] = "v1,not-base64!! v2,abc " + headers["webhook-signature"]
    assert post_raw(connection, body, **headers).status_code == 200

    # Bytes that are not UTF-8, signed as they are: the signature holds, the JSON does not.
    raw = b'{"events": ["\xff"]}'
    signed = signed_headers(SECRET, raw.decode("latin-1"))
    signed["webhook-signature"] = _sign_bytes(signed, raw)
    answer = post_raw(connection, raw, **signed)
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]


def _sign_bytes(headers: dict[str, str], body: bytes) -> str:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_it_stops_recording_an_address_that_keeps_being_refused_but_never_a_signed_request(
    connection: ProviderConnection, settings: Any
) -> None:
    settings.WEBHOOK_REFUSALS_PER_MINUTE = 3
    forged = json.dumps({"events": [valid_event()]})

    answers = [
        post_raw(connection, forged, **{"webhook-id": "m", "webhook-timestamp": "1",
                                         "webhook-signature": "v1,AAAA"}).status_code
        for _ in range(5)
    ]  # fmt: skip

    assert answers == [401, 401, 401, 429, 429]
    assert WebhookReceipt.objects.count() == 3
    assert WebhookRefusalTally.objects.get(reason="rate_limited").count == 2
    assert post_events(connection, [valid_event(2)]).status_code == 200  # signed: never limited
    assert InboxEvent.objects.filter(dedup_key="evt-2").exists()


# The property: hostile values, field by field, in otherwise valid events ----------------------

HOSTILE_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", "\x00", "\ud800", "\n", "9" * 300, "../../etc", "<script>", "NaN"]),
)
HOSTILE_VALUE = st.one_of(
    HOSTILE_TEXT,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
)


@st.composite
def hostile_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    events = []
    for number in range(draw(st.integers(1, 3))):
        event = valid_event(draw(st.integers(1, 10_000)) * 10 + number)
        if draw(st.booleans()):  # about half the events stay valid
            field = draw(st.sampled_from(FIELDS))
            event[field] = draw(HOSTILE_VALUE)
        events.append(event)
    return events


def test_it_never_fails_and_never_loses_an_acknowledged_event(
    connection: ProviderConnection, settings: Any
) -> None:
    settings.WEBHOOK_REFUSALS_PER_MINUTE = 1_000_000  # this sender is signed, just careless
    accepted: list[int] = []
    sent: list[int] = []

    @hypothesis_settings(
        max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(events=hostile_events())
    def post_and_check(events: list[dict[str, Any]]) -> None:
        response = post_events(connection, events)
        assert response.status_code < 500, response.content
        if response.status_code == 200:
            stored = set(InboxEvent.objects.values_list("dedup_key", flat=True))
            assert {event["id"] for event in events} <= stored
            accepted.append(len(events))
        else:
            reason = response.json()["error"]
            assert any(name in reason for name in (*FIELDS, "Body", "body")), reason
        sent.append(len(events))

    post_and_check()

    # The property exercised the pipeline, not only the door.
    assert sum(accepted) >= sum(sent) / 4, (sum(accepted), sum(sent))
