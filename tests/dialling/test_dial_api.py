"""POST /api/v1/dial in the web process: what is recorded, what the phone system is asked, and
what the rep is told. (That Outreach then gets `initiated` or `failed` through the pipeline is
proven with the real worker in test_dial_pipeline.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from calls.dialling.outcomes import dials_settle_unconfirmed
from calls.models import AgentMapping, Call, InboxEvent
from calls.selectors import call_timeline
from integrations.models import ProviderConnection
from integrations.outreach.models import ConnectionKind, OutreachConnection
from portal.accounts.models import ApiToken
from portal.accounts.services import api_token_create
from portal.encryption import Secret
from tests.conftest import Cast
from tests.dialling.helpers import CALL_ID, Dialling

MESSAGE = {
    "type": "outreach-external-dial-init",
    "source": "outreach",
    "callId": CALL_ID,
    "phoneNumber": "+1 (206) 555-0100",
    "ext": "1234",
}


def happenings(call: Call) -> list[tuple[str, str]]:
    return [(e.happening, e.dedup_key) for e in InboxEvent.objects.filter(call=call)]


def test_it_records_the_call_and_has_the_phone_system_place_it(dialling: Dialling) -> None:
    response = dialling.dial(MESSAGE)

    assert response.status_code == 201, response.content
    assert response.json() == {
        "callId": CALL_ID,
        "status": "placed",
        "detail": "Your phone system is placing the call to +12065550100 ext. 1234.",
        "repeat": False,
        "number": "+12065550100",
        "extension": "1234",
        "providerCallId": "ps-1",
        "outreach": {"state": None, "problem": ""},
    }
    call = Call.objects.get(outreach_call_id=CALL_ID)
    assert (call.direction, call.owner, call.outreach_user_id, call.provider_call_id) == (
        "outbound",
        dialling.cast.bob,
        "42",
        "ps-1",
    )
    assert (call.dial_status, call.connection) == ("placed", dialling.connection)
    assert happenings(call) == [("dialling", f"callbridge:dial:{CALL_ID}")]
    assert call.events.get().occurred_at == call.dialled_at  # initiated is stamped with the dial
    [asked] = dialling.phone.dials
    assert (asked.body["to"], asked.body["extension"], asked.body["agent"]) == (
        "+12065550100",
        "1234",
        {"email": "bob@pbx.example"},
    )


def test_it_takes_the_tel_uri_outreach_launched(dialling: Dialling) -> None:
    uri = f"tel:+1-206-555-0100;ext=77;source=outreach;call-id={CALL_ID}"
    response = dialling.dial({"uri": uri})
    assert (response.status_code, response.json()["extension"]) == (201, "77")
    assert dialling.phone.dials[0].body["to"] == "+12065550100"


def test_a_local_number_is_read_in_the_organisations_region(dialling: Dialling) -> None:
    dialling.cast.org.default_region = "GB"
    dialling.cast.org.save()
    response = dialling.dial({"uri": f"tel:020-7946-0018;source=outreach;call-id={CALL_ID}"})
    assert response.json()["number"] == "+442079460018"


def test_the_same_call_id_again_places_nothing_new(dialling: Dialling) -> None:
    first = dialling.dial(MESSAGE)
    again = dialling.dial(MESSAGE)
    from_tel = dialling.dial({"uri": f"tel:+12065550100;source=outreach;call-id={CALL_ID}"})

    assert first.status_code == 201
    assert (again.status_code, again.json()["repeat"], again.json()["status"]) == (
        200,
        True,
        "placed",
    )
    assert again.json()["detail"].startswith(f"Call {CALL_ID} was dialled before")
    assert from_tel.status_code == 200
    assert Call.objects.count() == 1 and len(dialling.phone.dials) == 1


def test_a_new_click_is_a_new_call(dialling: Dialling) -> None:
    dialling.dial(MESSAGE)
    dialling.dial({**MESSAGE, "callId": 4711})  # an integer, as Outreach's API gives them
    assert sorted(Call.objects.values_list("outreach_call_id", flat=True)) == ["4711", CALL_ID]
    assert [d.message_id for d in dialling.phone.dials] == [f"dial_{CALL_ID}", "dial_4711"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**MESSAGE, "callId": ""}, "callId is required"),
        ({k: v for k, v in MESSAGE.items() if k != "callId"}, "callId is required"),
        ({**MESSAGE, "callId": "a b"}, "callId 'a b' is not an Outreach call id"),
        ({**MESSAGE, "source": "someone-else"}, "source must be 'outreach'"),
        ({"uri": "tel:+12065550100;call-id=7"}, "did not come from Outreach"),
        ({"uri": "tel:+12065550100;source=outreach"}, "call-id is required"),
        ({"uri": "mailto:bob@example.com"}, "Not a tel: URI"),
        ({"uri": "tel:+1-206-CALL-NOW;call-id=7"}, "is not a phone number"),  # not Outreach's
        ([], "Send a JSON object"),
    ],
)
def test_it_refuses_a_message_naming_no_call_or_number(
    dialling: Dialling, body: Any, error: str
) -> None:
    response = dialling.dial(body)
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not Call.objects.exists() and not dialling.phone.dials


def failed(response: Any) -> tuple[int, str, str]:
    answer = response.json()
    return response.status_code, answer["status"], answer["error"]


def assert_failed_for_outreach(call: Call, reason: str) -> None:
    """Recorded, with `failed` on its way to Outreach (a setup_failed happening) and the reason
    on the call's timeline."""
    assert [h for h, _ in happenings(call)] == ["dialling", "setup_failed"]
    assert (call.dial_status, call.dial_reason) == ("failed", reason)
    titles = [entry.title for entry in call_timeline(call=call)]
    assert any(reason in title for title in titles), titles


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**MESSAGE, "phoneNumber": " "}, "Outreach's dial message carried no phone number."),
        (
            {k: v for k, v in MESSAGE.items() if k != "phoneNumber"},
            "Outreach's dial message carried no phone number.",
        ),
        ({**MESSAGE, "ext": "12x"}, "The extension “12x” is not digits."),
        (
            {"uri": f"tel:+1-206-CALL-NOW;source=outreach;call-id={CALL_ID}"},
            "Outreach's tel: URI could not be read: '+1-206-CALL-NOW' is not a phone number: "
            "after '+' only digits and the separators - . ( ) may follow.",
        ),
    ],
)
def test_a_message_naming_a_call_but_no_number_to_dial_fails_the_call(
    dialling: Dialling, body: dict[str, str], reason: str
) -> None:
    assert failed(dialling.dial(body)) == (422, "failed", reason)
    assert_failed_for_outreach(Call.objects.get(outreach_call_id=CALL_ID), reason)
    assert not dialling.phone.dials


def test_a_number_that_is_not_a_phone_number_fails_the_call(dialling: Dialling) -> None:
    response = dialling.dial({**MESSAGE, "phoneNumber": "12"})
    reason = "“12” is not a phone number Callbridge can dial."
    assert failed(response) == (422, "failed", reason)
    assert_failed_for_outreach(Call.objects.get(), reason)
    assert not dialling.phone.dials


def test_a_rep_nobody_mapped_gets_a_clear_error_and_outreach_gets_failed(
    dialling: Dialling, cast: Cast
) -> None:
    AgentMapping.objects.filter(user=cast.bob).delete()
    response = dialling.dial(MESSAGE)
    reason = (
        "Callbridge does not know who you are in Outreach: connect your own Outreach user on "
        "your settings page, or ask an admin to map your agent to you on the Agents page."
    )
    assert failed(response) == (422, "failed", reason)
    call = Call.objects.get()
    assert_failed_for_outreach(call, reason)
    assert call.owner == cast.bob  # theirs: the pipeline needs no mapping to send `failed`


def test_a_rep_whose_outreach_user_has_no_agent_gets_a_clear_error(
    dialling: Dialling, cast: Cast
) -> None:
    AgentMapping.objects.filter(user=cast.bob).delete()
    OutreachConnection.objects.create(  # Bob connected his own Outreach user, 77
        organization=cast.org,
        kind=ConnectionKind.USER,
        user=cast.bob,
        outreach_user_id="77",
        outreach_org_id="org-1",
        access_token=Secret("access"),
        refresh_token=Secret("refresh"),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    response = dialling.dial(MESSAGE)
    reason = (
        "No agent of your phone system is mapped to your Outreach user (77): ask an admin to "
        "add one on the Agents page."
    )
    assert failed(response) == (422, "failed", reason)
    assert Call.objects.get().outreach_user_id == "77"


def test_without_a_connection_that_places_calls_the_call_fails_saying_what_to_do(
    dialling: Dialling,
) -> None:
    ProviderConnection.objects.update(places_calls=False)
    response = dialling.dial(MESSAGE)
    reason = (
        "No telephony connection places calls for Alice & Co: an admin chooses one on the "
        "Telephony page."
    )
    assert failed(response) == (422, "failed", reason)
    assert_failed_for_outreach(Call.objects.get(), reason)


def test_a_disabled_connection_places_nothing(dialling: Dialling) -> None:
    ProviderConnection.objects.update(is_active=False)
    response = dialling.dial(MESSAGE)
    assert failed(response)[2] == (
        "The connection that places calls (“Office PBX”) is disabled: an admin enables it on "
        "the Telephony page."
    )
    assert not dialling.phone.dials


def test_a_provider_without_the_capability_places_nothing(dialling: Dialling) -> None:
    ProviderConnection.objects.update(kind="retired-provider")
    response = dialling.dial(MESSAGE)
    assert failed(response)[2] == (
        "“Office PBX” (retired-provider) cannot place calls: an admin chooses another "
        "connection on the Telephony page."
    )


def test_an_organisation_without_any_connection_records_nothing(dialling: Dialling) -> None:
    ProviderConnection.objects.all().delete()
    response = dialling.dial(MESSAGE)
    assert response.status_code == 422
    assert "No telephony connection places calls" in response.json()["error"]
    assert not Call.objects.exists()


def test_the_phone_systems_refusal_reaches_the_rep_and_the_timeline(dialling: Dialling) -> None:
    dialling.phone.answer_next(409, {"error": "Agent bob@pbx.example is not available"})
    response = dialling.dial(MESSAGE)
    reason = "Your phone system refused the call: Agent bob@pbx.example is not available"
    assert failed(response) == (422, "failed", reason)
    assert response.json()["detail"] == f"The call could not be placed: {reason}"
    assert_failed_for_outreach(Call.objects.get(), reason)


def test_a_phone_system_briefly_down_is_asked_again_within_the_deadline(
    dialling: Dialling,
) -> None:
    dialling.phone.answer_next(503, {"error": "restarting"})
    dialling.phone.answer_next(502)
    response = dialling.dial(MESSAGE)
    assert (response.status_code, response.json()["status"]) == (201, "placed")
    assert [d.status for d in dialling.phone.dials] == [503, 502, 201]
    assert len({d.message_id for d in dialling.phone.dials}) == 1


def test_a_phone_system_down_past_the_deadline_fails_the_call(
    dialling: Dialling, settings: Any
) -> None:
    settings.DIAL_DEADLINE_SECONDS = 1.0
    for _ in range(10):
        dialling.phone.answer_next(503, {"error": "trunk down"})
    response = dialling.dial(MESSAGE)
    assert failed(response) == (
        422,
        "failed",
        "Your phone system is unavailable for now (trunk down).",
    )


def test_a_phone_system_that_does_not_answer_in_time_is_not_asked_again(
    dialling: Dialling, settings: Any
) -> None:
    settings.DIAL_DEADLINE_SECONDS = 0.5
    dialling.phone.answer_next(201, delay=1.5)
    response = dialling.dial(MESSAGE)

    assert (response.status_code, response.json()["status"]) == (202, "unconfirmed")
    assert response.json()["detail"].startswith(
        "Your phone system did not answer the dial request within"
    )
    assert response.json()["detail"].endswith("Waiting up to 30 s for it to report the call.")
    call = Call.objects.get()
    assert len(dialling.phone.dials) <= 1  # only the one request, whatever its answer became

    assert dials_settle_unconfirmed() == 0  # still waiting for the phone system's events
    Call.objects.update(dial_confirm_by=timezone.now() - timedelta(seconds=1))
    assert dials_settle_unconfirmed() == 1
    call.refresh_from_db()
    assert call.dial_status == "failed"
    assert call.dial_reason.endswith("It reported nothing about the call within 30 s.")
    assert [h for h, _ in happenings(call)] == ["dialling", "setup_failed"]


def test_an_unconfirmed_dial_the_phone_system_reports_counts_as_placed(
    dialling: Dialling, settings: Any
) -> None:
    settings.DIAL_DEADLINE_SECONDS = 0.5
    dialling.phone.answer_next(201, delay=1.5)
    dialling.dial(MESSAGE)
    call = Call.objects.get()
    InboxEvent.objects.create(
        organization=call.organization,
        connection=call.connection,
        call=call,
        dedup_key="ps-1:1:ringing",
        happening="ringing",
        occurred_at=timezone.now(),
    )
    status = dialling.client().get(f"/api/v1/dial/{CALL_ID}").json()["status"]
    assert status == "placed"
    Call.objects.update(dial_confirm_by=timezone.now())
    dials_settle_unconfirmed()
    assert Call.objects.get().dial_status == "placed"


def test_the_dial_status_is_the_tokens_organisations_only(dialling: Dialling, cast: Cast) -> None:
    dialling.dial(MESSAGE)
    mine = dialling.client().get(f"/api/v1/dial/{CALL_ID}")
    assert (mine.status_code, mine.json()["status"]) == (200, "placed")
    _, mallorys = api_token_create(
        user=cast.mallory, organization=cast.mallory_org, name="x", lifetime_days=None
    )
    assert dialling.client(mallorys).get(f"/api/v1/dial/{CALL_ID}").status_code == 404


def test_the_same_call_id_in_another_organisation_is_another_call(
    dialling: Dialling, cast: Cast
) -> None:
    ProviderConnection.objects.create(
        organization=cast.mallory_org, kind="generic", name="Mallory's PBX", places_calls=True
    )
    _, mallorys = api_token_create(
        user=cast.mallory, organization=cast.mallory_org, name="x", lifetime_days=None
    )
    dialling.dial(MESSAGE)
    assert dialling.dial(MESSAGE, token=mallorys).json()["repeat"] is False
    assert Call.objects.filter(outreach_call_id=CALL_ID).count() == 2


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("unknown", "Unknown API token."),
        ("revoked", "This API token was revoked."),
        ("expired", "This API token has expired."),
    ],
)
def test_it_refuses_a_token_that_is_unknown_expired_or_revoked(
    dialling: Dialling, token: str, detail: str
) -> None:
    if token == "revoked":
        ApiToken.objects.update(revoked_at=timezone.now())
    if token == "expired":
        ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = dialling.dial(MESSAGE, token="cbt_made-up" if token == "unknown" else None)
    assert (response.status_code, response.json()["detail"]) == (401, detail)
    assert not Call.objects.exists()


def test_a_signed_in_session_is_not_enough(dialling: Dialling, cast: Cast) -> None:
    client = Client()
    client.force_login(cast.bob)
    response = client.post("/api/v1/dial", MESSAGE, content_type="application/json")
    assert response.status_code == 401


def test_it_answers_cors_to_the_extensions_origin_only(dialling: Dialling) -> None:
    origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    preflight = Client().options(
        "/api/v1/dial",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == origin
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight
    dialled = dialling.client().post(
        "/api/v1/dial", MESSAGE, content_type="application/json", headers={"Origin": origin}
    )
    assert dialled["Access-Control-Allow-Origin"] == origin
    web_page = Client().options(
        "/api/v1/dial",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in web_page
