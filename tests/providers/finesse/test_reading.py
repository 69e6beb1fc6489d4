"""Reading the connector's events: times with stray spaces, secrets removed, which call, which
agent, which copy of the dialog wins, and what cannot be read (a 422 naming the field)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.events import Direction, Happening
from integrations.finesse.dialog import REMOVED, parse_time, strip_secrets
from integrations.finesse.provider import FinesseProvider
from integrations.models import ProviderConnection
from integrations.provider import WebhookRejected
from portal.tenancy.models import Organization
from tests.providers.webhook_case import parse_fixture, payload_of

pytestmark = pytest.mark.fast
SEED = "ACTIVE__outbound_campaign_seed"


def read(payload: dict[str, Any], **setup: str) -> list:
    organization = Organization(name="Fixture Co", slug="fixture-co", default_region="US")
    connection = ProviderConnection(organization=organization, kind="finesse", name="fixture")
    connection.set_setup_values(setup)
    return FinesseProvider().events_of(payload, connection)


def dialog_of(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["data"]["call"]["ResponseActual"]["dialog"]


@pytest.mark.parametrize(
    "written",
    [
        "2019-11-21T06: 39: 34.188Z",
        "2019-11-21T06:39:34.188Z",
        "2019-11-21T06:\u00a039:\u00a034.188Z",
        " 2019-11-21 T06:39:34.188Z\u202f",
        "2019-11-21T06:39:34.188+00:00",
    ],
)
def test_it_reads_the_seeds_times_with_stray_spaces_as_the_right_instant(written: str) -> None:
    assert parse_time(written, "t") == datetime(2019, 11, 21, 6, 39, 34, 188000, tzinfo=UTC)


@pytest.mark.parametrize("written", ["2019-11-21T06:39:34.188", "yesterday", "", 12, None])
def test_it_refuses_a_time_it_cannot_read_naming_the_field(written: object) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_time(written, "data.call.ResponseActual.dialog.CallStateChangeTime")
    assert refused.value.status == 422
    assert "data.call.ResponseActual.dialog.CallStateChangeTime" in refused.value.reason


def test_it_dates_each_happening_by_the_state_change_it_comes_from() -> None:
    payload = payload_of("finesse", "ACTIVE__outbound_agent")
    dialog = dialog_of(payload)
    dialog["CallStateChangeTime"] = "2019-11-21T06: 39: 50.000Z"
    dialog["participants"]["participant"][1]["stateChangeTime"] = "2019-11-21T06: 39: 41.250Z"
    (event,) = read(payload)
    assert event.occurred_at == datetime(2019, 11, 21, 6, 39, 41, 250000, tzinfo=UTC)


def test_it_refuses_an_unparseable_participant_time_naming_it_and_the_call() -> None:
    payload = payload_of("finesse", SEED)
    dialog_of(payload)["participants"]["participant"][1]["stateChangeTime"] = "06h39 yesterday"
    with pytest.raises(WebhookRejected) as refused:
        read(payload)
    assert refused.value.status == 422
    assert (
        "data.call.ResponseActual.dialog.participants.participant[1].stateChangeTime"
        in refused.value.reason
    )
    assert refused.value.provider_call_id == "152995-3"


def test_it_removes_every_field_named_like_a_password_or_secret_at_any_depth() -> None:
    payload = {
        "user": {"password": "12345", "username": "311640960"},
        "deep": [{"apiSecret": "s", "x": {"Passwd": "p", "pwd": "q", "keep": "k"}}],
        "agentPasswordHash": "h",
        "pass": "p",
        "passenger": "kept",
    }
    assert strip_secrets(payload) == {
        "user": {"password": REMOVED, "username": "311640960"},
        "deep": [{"apiSecret": REMOVED, "x": {"Passwd": REMOVED, "pwd": REMOVED, "keep": "k"}}],
        "agentPasswordHash": REMOVED,
        "pass": REMOVED,
        "passenger": "kept",
    }


def test_it_keeps_the_seed_without_the_agents_password() -> None:
    (event,) = parse_fixture("finesse", SEED)
    assert "12345" not in json.dumps(event.raw)
    assert event.raw["payload"]["data"]["call"]["ResponseActual"]["user"] == {
        "extension": "5068",
        "password": REMOVED,
        "username": "311640960",
    }
    body = json.dumps(payload_of("finesse", SEED)).encode()
    assert "12345" not in FinesseProvider().kept_body(body)
    broken = body[:-40]  # not JSON any more: the password is blanked all the same
    assert '"password": "12345"' in broken.decode()
    assert "12345" not in FinesseProvider().kept_body(broken)


def test_it_reads_the_seeds_call_agent_numbers_and_dialog() -> None:
    (event,) = parse_fixture("finesse", SEED)
    assert (event.provider_call_id, event.raw["dialog_id"]) == ("152995-3", "16786700")
    assert event.dedup_key == "152995-3:answered"
    assert event.direction is Direction.OUTBOUND
    assert event.outreach_call_id == ""  # a campaign call: Outreach did not start it
    assert event.agent.as_dict() == {"extension": "5068", "id": "311640960"}
    assert event.to_number is not None and event.to_number.raw == "961084713"


def test_it_folds_a_call_whose_dialog_id_changed_by_its_call_key() -> None:
    first = payload_of("finesse", "ACTIVE__outbound_agent")
    transferred = payload_of("finesse", "WRAP_UP__outbound_agent")
    dialog_of(transferred)["id"] = "16786999"
    assert read(first)[0].provider_call_id == read(transferred)[0].provider_call_id == "152995-3"


def test_it_takes_the_dialog_id_for_the_call_without_a_call_key() -> None:
    payload = payload_of("finesse", SEED)
    for name in ("callKeyPrefix", "callKeyCallId"):
        del dialog_of(payload)["mediaProperties"][name]
    assert read(payload)[0].provider_call_id == "dialog-16786700"


def test_it_removes_the_dial_plan_prefix_and_reads_outreachs_call_id_from_a_call_variable() -> None:
    payload = payload_of("finesse", "ACTIVE__outbound_agent")
    payload["data"]["call"]["CallVariables"]["callVariable10"] = "91FCF82E-9817"
    (event,) = read(payload, dial_prefix="9", outreach_call_variable="callVariable10")
    assert event.to_number is not None and event.to_number.raw == "61084713"
    assert event.outreach_call_id == "91FCF82E-9817"


def test_it_lets_responseactual_win_and_notes_the_disagreement() -> None:
    (event,) = parse_fixture("finesse", "ACTIVE__outbound_agent_fields_disagree")
    assert event.happening is Happening.ANSWERED
    assert event.raw["notes"] == [
        "ResponseFields.CallState 'DROPPED' disagrees with ResponseActual's 'ACTIVE': "
        "ResponseActual (Finesse's own dialog) wins"
    ]


def test_it_notes_an_unmapped_dialer_result_and_takes_it_for_a_person() -> None:
    payload = payload_of("finesse", SEED)
    payload["data"]["call"]["CallVariables"]["BAResponse"] = "CPA_Something"
    (event,) = read(payload)
    assert event.happening is Happening.ANSWERED
    assert "BAResponse 'CPA_Something' unmapped" in event.raw["notes"][0]


def test_it_takes_the_direction_from_type_when_the_call_type_says_nothing() -> None:
    payload = payload_of("finesse", "ACTIVE__inbound")
    dialog_of(payload)["mediaProperties"]["callType"] = "SUPERVISOR_MONITOR"
    (event,) = read(payload)
    assert event.direction is Direction.INBOUND
    assert any("callType 'SUPERVISOR_MONITOR' unmapped" in note for note in event.raw["notes"])


def test_it_acknowledges_the_connectors_other_messages_without_an_event() -> None:
    payload = copy.deepcopy(payload_of("finesse", SEED))
    payload["subtopic"] = "ScheduleCallback"
    from django.test import RequestFactory

    request = RequestFactory().post("/", json.dumps(payload), content_type="application/json")
    organization = Organization(name="Fixture Co", slug="fixture-co")
    connection = ProviderConnection(organization=organization, kind="finesse", name="fixture")
    assert FinesseProvider().parse(request, connection) == []


def _without(*paths: list[str]) -> dict[str, Any]:
    payload = payload_of("finesse", SEED)
    for path in paths:
        holder = payload
        for name in path[:-1]:
            holder = holder[name]
        del holder[path[-1]]
    return payload


DIALOG = ["data", "call", "ResponseActual", "dialog"]
BAD = {
    "no dialog id": (
        [_without([*DIALOG, "id"], ["data", "call", "id"])],
        "data.call.ResponseActual.dialog.id is missing",
    ),
    "no participants": (
        [_without([*DIALOG, "participants"])],
        "data.call.ResponseActual.dialog.participants is missing or empty",
    ),
    "no ResponseActual": (
        [_without(["data", "call", "ResponseActual"])],
        "data.call.ResponseActual is missing",
    ),
}


@pytest.mark.parametrize(("payloads", "reason"), BAD.values(), ids=list(BAD))
def test_it_refuses_what_it_cannot_read_naming_the_field(payloads: list, reason: str) -> None:
    with pytest.raises(WebhookRejected) as refused:
        read(payloads[0])
    assert (refused.value.status, refused.value.reason[: len(reason)]) == (422, reason)


@pytest.mark.parametrize(
    ("where", "value", "reason"),
    [
        (["state"], "TELEPORTED", "data.call.ResponseActual.dialog.state 'TELEPORTED' is unmapped"),
        (["event"], "TELEPORTED", "data.event 'TELEPORTED' is unmapped"),
        (
            ["participant", "state"],
            "LEVITATING",
            "data.call.ResponseActual.dialog.participants.participant[0].state 'LEVITATING' "
            "is unmapped",
        ),
    ],
)
def test_it_refuses_an_unknown_state_or_event_as_unmapped(
    where: list[str], value: str, reason: str
) -> None:
    payload = payload_of("finesse", SEED)
    if where == ["event"]:
        payload["data"]["event"] = value
    elif where == ["state"]:
        dialog_of(payload)["state"] = value
    else:
        dialog_of(payload)["participants"]["participant"][0]["state"] = value
    with pytest.raises(WebhookRejected) as refused:
        read(payload)
    assert refused.value.status == 422
    assert refused.value.reason.startswith(reason)
    assert refused.value.provider_call_id == "152995-3"


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        (
            "FAILED__outbound_agent_busy",
            "Finesse failed the call (BUSY): the number called is busy",
        ),
        ("FAILED__outbound_agent_bad_destination", "cannot be reached (bad destination)"),
        ("FAILED__inbound_other", "Finesse failed the call (no cause given): Finesse could not"),
    ],
)
def test_it_says_why_finesse_failed_a_call_on_its_timeline(fixture: str, reason: str) -> None:
    (event,) = parse_fixture("finesse", fixture)
    assert any(reason in note for note in event.raw["notes"]), event.raw["notes"]
