"""The support console: one call's story, every call findable, what needs a person, and the bad
input each page meets (another organisation's ids, stale forms, a replay of a delivered call)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from calls.models import AgentMapping, Call, DeliveryAttempt, InboxEvent
from calls.timeline import call_timeline
from integrations.models import ProviderConnection
from portal.audit.models import AuditEntry
from portal.audit.services import audit_record
from tests.conftest import Cast
from tests.pipeline.helpers import signed_headers

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SIGNING_SECRET = "whsec_" + base64.b64encode(b"a secret for the console's tests").decode()


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, cast: Cast, **kwargs: object) -> str:
    return reverse(name, kwargs={"org": cast.org.slug, **kwargs})


@pytest.fixture
def pbx(cast: Cast) -> ProviderConnection:
    return ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX")


def make_call(cast: Cast, pbx: ProviderConnection, number: int, **fields: object) -> Call:
    created = fields.pop("created", T0 + timedelta(minutes=number))
    call = Call.objects.create(
        organization=cast.org,
        connection=pbx,
        direction=fields.pop("direction", "inbound"),
        provider_call_id=f"pbx-{number}",
        outreach_call_id=str(9000 + number),
        from_number=f"+1555000{number:04d}",
        to_number="+15559990000",
        status=fields.pop("status", "done"),
        **fields,
    )
    Call.objects.filter(pk=call.pk).update(created=created)
    call.refresh_from_db()
    return call


@pytest.fixture
def story(cast: Cast, pbx: ProviderConnection) -> Call:
    """An outbound call: dialled, ringing, answered, ended; Outreach took `initiated` late."""
    call = make_call(
        cast, pbx, 1, direction="outbound", status="failed", dialled_at=T0, problem="refused"
    )
    ringing = InboxEvent.objects.create(
        organization=cast.org,
        connection=pbx,
        call=call,
        dedup_key="e1",
        happening="ringing",
        occurred_at=T0 + timedelta(seconds=1),
        status="applied",
        reason="happened before completed, which Outreach already has",
        raw={"event": "ringing", "callId": "pbx-1", "agent": None},
        headers={"Content-Type": "application/json", "User-Agent": "pbx/2"},
    )
    InboxEvent.objects.filter(pk=ringing.pk).update(received_at=T0 + timedelta(seconds=1))
    attempt = DeliveryAttempt.objects.create(
        organization=cast.org,
        call=call,
        purpose="update",
        attempt=2,
        method="PATCH",
        path="/calls/9001",
        request_body={"data": {"type": "call", "attributes": {"state": "initiated"}}},
        status_code=422,
        response_body='{"errors": [{"id": "validationError", "detail": "state is wrong"}]}',
        outreach_error_id="validationError",
        outcome="permanent",
        started_at=T0 + timedelta(seconds=2),
        duration_ms=41,
    )
    DeliveryAttempt.objects.create(
        organization=cast.org,
        call=call,
        purpose="update",
        attempt=3,
        method="PATCH",
        path="/calls/9001",
        request_body={"data": {"type": "call", "attributes": {"state": "initiated"}}},
        status_code=200,
        response_body="{}",
        outcome="succeeded",
        started_at=T0 + timedelta(seconds=9),
        duration_ms=10,
    )
    audit_record(
        action="happening.applied",
        organization=cast.org,
        target=call,
        data={"event": ringing.pk, "happening": "ringing", "reason": "x"},
    )
    audit_record(
        action="delivery.refused",
        organization=cast.org,
        target=call,
        data={"attempt": attempt.pk, "error_id": "validationError"},
    )
    audit_record(action="call.replay", organization=cast.org, actor=cast.sam, target=call)
    return call


def test_it_tells_a_calls_story_in_order_with_payloads_verdicts_and_causes(
    cast: Cast, story: Call
) -> None:
    entries = call_timeline(call=story)
    assert [e.kind for e in entries] == ["event", "attempt", "deadline", "attempt", "audit"]
    event, refused, deadline, accepted, replay = entries
    # The payload is JSON, pretty-printed, never a Python repr; its headers come with it.
    assert json.loads(event.payload) == {"event": "ringing", "callId": "pbx-1", "agent": None}
    assert '"agent": null' in event.payload and event.headers["User-Agent"] == "pbx/2"
    assert (
        event.explanation
        == "Used. Already covered: it happened before “completed”, which Outreach has."
    )
    # Each request names the event that caused it, and Outreach's answer is explained.
    assert refused.caused_by is event and accepted.caused_by is event
    assert '"id": "validationError"' in refused.answer
    assert "attempt 2: 422 in 41 ms" in refused.explanation
    assert (
        "Check the agent mapping" in refused.explanation and "state is wrong" in refused.explanation
    )
    assert (deadline.title, deadline.status) == (
        "Deadline: initiated within 5 s of the dial",
        "missed",
    )
    # The audit rows about a row fold into it; the others stand, in words.
    assert [a.action for a in event.audit] == ["happening.applied"]
    assert [a.action for a in refused.audit] == ["delivery.refused"]
    assert replay.title == "call.replay" and "By sam@example.com" in replay.explanation


def test_it_shows_the_timeline_with_dates_zones_and_copy_buttons(cast: Cast, story: Call) -> None:
    page = signed_in(cast.sam).get(url("call_detail", cast, call_id=story.pk)).content.decode()
    assert (
        '<time datetime="2026-11-23T10:00:01+00:00" data-ms>2026-11-23 10:00:01.000 UTC</time>'
        in page
    )
    assert 'data-copy="event-' in page and 'href="#event-' in page
    assert "User-Agent" in page and "Deadline: initiated within 5 s of the dial" in page
    assert "/static/vendor/htmx-2.0.11.min.js" in page and "unpkg" not in page
    # The refusal in our words with the next step, Outreach's text beside it, at the top too.
    assert '<span class="explained">Outreach found the request invalid.' in page


def test_it_sends_new_timeline_rows_only_when_something_changed(
    cast: Cast, story: Call, pbx: ProviderConnection
) -> None:
    client = signed_in(cast.sam)
    Call.objects.filter(pk=story.pk).update(status="active")
    detail = client.get(url("call_detail", cast, call_id=story.pk)).content.decode()
    assert 'hx-trigger="every 3s"' in detail
    rows = url("call_timeline_rows", cast, call_id=story.pk)
    version = detail.split('data-version="')[1].split('"')[0]
    assert client.get(rows, {"version": version}).status_code == 204
    InboxEvent.objects.create(
        organization=cast.org,
        connection=pbx,
        call=story,
        dedup_key="e2",
        happening="answered",
        occurred_at=T0 + timedelta(seconds=20),
    )
    fresh = client.get(rows, {"version": version})
    assert fresh.status_code == 200 and "answered" in fresh.content.decode()


def test_it_finds_a_call_by_phone_number_or_either_call_id(
    cast: Cast, pbx: ProviderConnection
) -> None:
    calls = [make_call(cast, pbx, n) for n in range(1, 4)]
    client = signed_in(cast.sam)
    for query in ("+15550000002", "5550000002", "pbx-2", "9002"):
        page = client.get(url("call_list", cast), {"q": query}).content.decode()
        assert f"/calls/{calls[1].pk}/" in page and f"/calls/{calls[0].pk}/" not in page, query
        assert "1 call matches" in page
    page = client.get(url("call_list", cast), {"q": "not-a-number"}).content.decode()
    assert "No call has the id “not-a-number”, and it is not a phone number." in page


def test_it_filters_pages_newest_first_and_counts(cast: Cast, pbx: ProviderConnection) -> None:
    for n in range(1, 121):
        make_call(cast, pbx, n, direction="outbound" if n % 2 else "inbound")
    client = signed_in(cast.sam)
    first = client.get(url("call_list", cast), {"direction": "inbound"}).content.decode()
    assert "60 calls match" in first
    order = [int(pk) for pk in re.findall(r'/calls/(\d+)/"', first)]
    assert len(order) == 50 and order == sorted(order, reverse=True)
    cursor = first.split("after=")[1].split('"')[0]
    second = client.get(
        f"{url('call_list', cast)}?direction=inbound&after={cursor}"
    ).content.decode()
    more = [int(pk) for pk in re.findall(r'/calls/(\d+)/"', second)]
    assert len(more) == 10 and max(more) < min(order) and "Newer" in second
    assert client.get(url("call_list", cast), {"after": "garbage"}).status_code == 200


def test_it_filters_by_status_agent_attention_and_time(cast: Cast, pbx: ProviderConnection) -> None:
    held = make_call(cast, pbx, 1, status="held", problem="Agent not mapped")
    mapped = make_call(cast, pbx, 2, outreach_user_id="77", created=T0 + timedelta(days=3))
    AgentMapping.objects.create(
        organization=cast.org, kind="email", value="rita@pbx.example", outreach_user_id="77"
    )
    client = signed_in(cast.sam)

    def found(**query: str) -> set[int]:
        page = client.get(url("call_list", cast), query).content.decode()
        return {c.pk for c in (held, mapped) if f"/calls/{c.pk}/" in page}

    assert found(status="held") == {held.pk}
    assert found(agent="77") == {mapped.pk}
    assert found(attention="on") == {held.pk}
    assert found(since="2026-11-25", until="2026-11-26") == {mapped.pk}
    assert found(direction="sideways") == {held.pk, mapped.pk}  # refused, said, left out


def test_it_exports_the_filtered_set_as_csv(cast: Cast, pbx: ProviderConnection) -> None:
    make_call(cast, pbx, 1, status="failed")
    make_call(cast, pbx, 2)
    response = signed_in(cast.sam).get(url("call_export", cast), {"status": "failed"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["provider_call_id"] for row in rows] == ["pbx-1"]
    assert rows[0]["created_utc"].startswith("2026-11-23T10:01:00")


def test_it_replays_a_filtered_set_but_not_what_is_up_to_date(
    cast: Cast, pbx: ProviderConnection
) -> None:
    failed = make_call(cast, pbx, 1, status="failed", problem="refused")
    done = make_call(cast, pbx, 2)
    response = signed_in(cast.sam).post(url("call_bulk_replay", cast), {"query": ""})
    assert response.status_code == 302
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, done.status) == ("active", "done")
    assert [e.target_id for e in AuditEntry.objects.filter(action="call.replay")] == [
        str(failed.pk)
    ]


def test_it_refuses_a_replay_of_a_delivered_call_and_a_stale_form(
    cast: Cast, pbx: ProviderConnection
) -> None:
    client = signed_in(cast.sam)
    done = make_call(cast, pbx, 1)
    answer = client.post(url("call_replay", cast, call_id=done.pk), follow=True)
    assert "Nothing to replay: Outreach is up to date on this call." in answer.content.decode()
    failed = make_call(cast, pbx, 2, status="failed")
    first = client.post(url("call_replay", cast, call_id=failed.pk), {"seen": "failed"})
    assert first.status_code == 302
    again = client.post(
        url("call_replay", cast, call_id=failed.pk), {"seen": "failed"}, follow=True
    )
    assert "changed since the page was loaded" in again.content.decode()
    assert AuditEntry.objects.filter(action="call.replay").count() == 1


def test_it_answers_404_for_another_organisations_calls(
    cast: Cast, pbx: ProviderConnection
) -> None:
    call = make_call(cast, pbx, 1, status="failed")
    mallory = signed_in(cast.mallory)
    for name in ("call_detail", "call_timeline_rows"):
        assert mallory.get(url(name, cast, call_id=call.pk)).status_code == 404
    theirs = reverse("call_replay", kwargs={"org": cast.mallory_org.slug, "call_id": call.pk})
    assert mallory.post(theirs).status_code == 404
    call.refresh_from_db()
    assert call.status == "failed"


def test_it_gathers_what_needs_a_person_with_the_fix_one_click_away(
    cast: Cast, pbx: ProviderConnection
) -> None:
    failed = make_call(
        cast, pbx, 1, status="failed", problem="Outreach refused update: validationError"
    )
    DeliveryAttempt.objects.create(
        organization=cast.org,
        call=failed,
        purpose="update",
        attempt=1,
        method="PATCH",
        path="/calls/9001",
        status_code=422,
        response_body='{"errors": [{"id": "validationError", "detail": "user.data.id bad"}]}',
        outreach_error_id="validationError",
        outcome="permanent",
        started_at=T0,
    )
    make_call(
        cast,
        pbx,
        2,
        status="held",
        agent={"email": "rita@pbx.example"},
        problem="Agent (email rita@pbx.example) is not mapped to an Outreach user: add an agent "
        "mapping.",
    )
    Client().post(f"/hooks/generic/{pbx.webhook_token}/", "{}", content_type="text/plain")
    page = signed_in(cast.sam).get(url("needs_attention", cast)).content.decode()
    assert "Failed deliveries" in page and "Held calls" in page
    assert "Check the agent mapping" in page and "(Outreach said: user.data.id bad)" in page
    assert (
        "?kind=email&amp;value=rita%40pbx.example" in page and "Map agent rita@pbx.example" in page
    )
    assert "Content-Type must be application/json" in page
    agents = signed_in(cast.alice).get(
        url("agent_mappings", cast), {"kind": "email", "value": "rita@pbx.example"}
    )
    assert 'value="rita@pbx.example"' in agents.content.decode()


def test_it_creates_one_connection_when_the_page_with_its_secret_is_reloaded(cast: Cast) -> None:
    client = signed_in(cast.alice)
    page = client.get(url("providers", cast)).content.decode()
    once = re.search(r'name="once" value="([^"]+)"', page)
    assert once is not None
    form = {"kind": "generic", "name": "Our PBX", "once": once.group(1)}
    first = client.post(url("provider_create", cast), form)
    assert "whsec_" in first.content.decode()
    reloaded = client.post(url("provider_create", cast), form, follow=True)
    assert "no second connection was created" in reloaded.content.decode()
    assert ProviderConnection.objects.for_organization(cast.org).count() == 1


def test_it_keeps_a_webhooks_headers_for_the_timeline_but_never_its_signature(
    cast: Cast,
) -> None:
    connection = ProviderConnection.objects.create(
        organization=cast.org, kind="generic", name="PBX", webhook_secrets=SIGNING_SECRET
    )
    event = {
        "id": "h-1",
        "call_id": "pbx-h",
        "direction": "inbound",
        "happening": "ringing",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body = json.dumps({"events": [event]})
    response = Client().post(
        f"/hooks/generic/{connection.webhook_token}/",
        body,
        content_type="application/json",
        headers={**signed_headers(SIGNING_SECRET, body), "User-Agent": "pbx/9"},
    )
    assert response.status_code == 200, response.content
    headers = InboxEvent.objects.get().headers
    assert headers["User-Agent"] == "pbx/9" and headers["Content-Type"] == "application/json"
    assert not any("signature" in name.lower() for name in headers)
    (row,) = [e for e in call_timeline(call=Call.objects.get()) if e.kind == "event"]
    assert row.headers == headers and '"call_id": "pbx-h"' in row.payload


def test_it_shows_a_form_encoded_providers_payload_as_its_fields(cast: Cast) -> None:
    twilio = ProviderConnection.objects.create(organization=cast.org, kind="twilio", name="T")
    call = Call.objects.create(
        organization=cast.org, connection=twilio, direction="inbound", provider_call_id="CA1"
    )
    InboxEvent.objects.create(
        organization=cast.org,
        connection=twilio,
        call=call,
        dedup_key="t1",
        happening="ringing",
        occurred_at=T0,
        raw={"CallSid": "CA1", "CallStatus": "ringing"},
    )
    (row,) = call_timeline(call=call)
    assert (row.payload_format, row.payload) == ("form", "CallSid = CA1\nCallStatus = ringing")


def test_it_marks_links_that_came_after_outreachs_hour_as_a_missed_deadline(
    cast: Cast, pbx: ProviderConnection
) -> None:
    call = make_call(cast, pbx, 1, final_reported_at=T0, final_state="completed")
    InboxEvent.objects.create(
        organization=cast.org,
        connection=pbx,
        call=call,
        dedup_key="r1",
        happening="recording_ready",
        occurred_at=T0 + timedelta(hours=2),
        link="https://rec.example/1.mp3",
        status="expired",
        reason="Outreach refused a link for its 1-hour window",
    )
    (deadline,) = [e for e in call_timeline(call=call) if e.kind == "deadline"]
    assert (deadline.title, deadline.status) == (
        "Deadline: links within 1 hour of the call's end",
        "missed",
    )
    page = signed_in(cast.sam).get(url("needs_attention", cast)).content.decode()
    assert "Links too late for Outreach" in page and f"/calls/{call.pk}/" in page


def test_it_does_not_count_a_ringing_call_as_finished_on_the_dashboard(
    cast: Cast, pbx: ProviderConnection
) -> None:
    make_call(cast, pbx, 1, reported_state="ringing", created=datetime.now(UTC))
    make_call(cast, pbx, 2, reported_state="completed", final_state="completed")
    page = signed_in(cast.alice).get(url("dashboard", cast)).content.decode()
    assert re.search(r"Up to date</span></a> 1<", page)
    assert re.search(r"Up to date, still in progress</span></a> 1<", page)


def test_it_generates_a_large_organisation_for_the_benchmark(db: None) -> None:
    from django.core.management import call_command

    call_command("generate_calls", calls=300, organization="bench-test", stdout=io.StringIO())
    calls = Call.objects.filter(organization__slug="bench-test")
    assert calls.count() == 300
    assert calls.filter(status="failed").exists() and calls.filter(direction="outbound").exists()
    assert AgentMapping.objects.filter(organization__slug="bench-test").count() == 50
