"""Every call finishes, in the right state, at the right time, or a person is told why not:
held calls are released by the event that brings what they wait for, a final state waits its
settle time for earlier events still on their way and is sent however old, calls the provider
never finishes are closed, and nothing is retried for ever.

All of it through the real webhook, worker, PostgreSQL and the sandbox, with the organisation's
default settings (a 5 s settle time, giving up 4 h after the last event)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from calls.inbox import inbox_accept
from calls.models import AgentMapping, AttemptOutcome, Call, CallStatus, InboxEvent
from calls.selectors import call_timeline, calls_needing_attention
from calls.services import agent_mapping_create, call_replay, calls_close_unfinished
from integrations.events import AgentIdentity, CallEvent, Direction, Happening
from integrations.outreach.models import OutreachConnection, OutreachRateWindow
from tests.conftest import make_user
from tests.pipeline.helpers import Pipeline, eventually, refusals, state_of

INBOUND = {"direction": "inbound", "from": "+14155550111", "to": "+12065550100"}


def call_of(provider_call_id: str) -> Call:
    return Call.objects.get(provider_call_id=provider_call_id)


def history(pipeline: Pipeline, outreach_call_id: str) -> list[str]:
    """The states Outreach accepted, in order."""
    view = pipeline.sandbox.call(outreach_call_id)
    return [
        entry["stateAfter"]
        for entry in view["history"]
        if entry["outcome"] == "accepted" and entry["stateAfter"]
    ]


def test_it_releases_a_call_held_for_its_agent_when_a_later_event_names_them(
    pipeline: Pipeline,
) -> None:
    # A contact centre's queue rings before any agent has the call; the agent is known only
    # once someone answers.
    pipeline.send([pipeline.event("queue-1", "ringing", 0, agent={}, **INBOUND)])
    eventually(lambda: call_of("queue-1").status == CallStatus.HELD)
    assert "did not say which agent" in call_of("queue-1").problem

    pipeline.send(
        [
            pipeline.event("queue-1", "answered", 5, **INBOUND),
            pipeline.event("queue-1", "ended", 60, agent={}, **INBOUND),
            pipeline.event(
                "queue-1", "recording_ready", 61, link="https://rec.example/q1.mp3", **INBOUND
            ),
        ]
    )

    eventually(lambda: call_of("queue-1").status == CallStatus.DONE)
    call = call_of("queue-1")
    attributes = pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]
    assert attributes["state"] == "completed"
    assert attributes["recordingUrl"] == "https://rec.example/q1.mp3"
    assert history(pipeline, call.outreach_call_id)[-1] == "completed"
    assert call.outreach_user_id == str(pipeline.rep_outreach_id)
    assert refusals(pipeline.sandbox) == []


def test_it_creates_an_inbound_call_only_once_an_event_says_both_numbers(
    pipeline: Pipeline,
) -> None:
    # The agent's leg tells of the call first (Twilio's does): it knows neither the caller's
    # number nor the one they called, and Outreach refuses an inbound call without them.
    pipeline.send([pipeline.event("leg-1", "ringing", 0, direction="inbound")])
    eventually(lambda: call_of("leg-1").status == CallStatus.HELD)
    assert "Waiting for the caller's and the called number" in call_of("leg-1").problem
    assert pipeline.sandbox.requests(path_prefix="/api/v2") == []

    pipeline.send([pipeline.event("leg-1", "rejected", 9, **INBOUND)])
    eventually(lambda: call_of("leg-1").status == CallStatus.DONE, timeout=30)
    attributes = pipeline.sandbox.call(call_of("leg-1").outreach_call_id)["call"]["attributes"]
    assert (attributes["from"], attributes["to"], attributes["state"]) == (
        "+14155550111",
        "+12065550100",
        "busy",
    )
    assert refusals(pipeline.sandbox) == []


def test_it_waits_for_a_rejection_arriving_after_the_end_and_files_busy_with_the_voicemail(
    pipeline: Pipeline,
) -> None:
    # The agent rejected the call and voicemail took it; the provider's retry of "rejected"
    # reaches us after "ended".
    pipeline.send(
        [
            pipeline.event("vm-1", "ringing", 0, **INBOUND),
            pipeline.event("vm-1", "answered_by_voicemail", 8, **INBOUND),
            pipeline.event("vm-1", "ended", 40, **INBOUND),
        ]
    )
    # The worker has seen the end and waits (without a settle time it would file "no answer"
    # now); the retry arrives well within the default 5 s.
    ended = InboxEvent.objects.get(call__provider_call_id="vm-1", happening="ended")
    eventually(lambda: InboxEvent.objects.get(pk=ended.pk).status == "held")
    pipeline.send(
        [
            pipeline.event("vm-1", "rejected", 7, **INBOUND),
            pipeline.event(
                "vm-1", "voicemail_left", 41, link="https://vm.example/vm-1.mp3", **INBOUND
            ),
        ]
    )

    eventually(lambda: call_of("vm-1").status == CallStatus.DONE)
    call = call_of("vm-1")
    attributes = pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]
    assert attributes["state"] == "busy"
    assert attributes["voicemailRecordingUrl"] == "https://vm.example/vm-1.mp3"
    assert attributes["stateChangedAt"].startswith(
        pipeline.event("vm-1", "rejected", 7)["occurred_at"][:19]
    )
    assert "completed" not in history(pipeline, call.outreach_call_id)


def test_it_sends_a_final_state_hours_old_with_its_true_time_and_expires_the_refused_link(
    pipeline: Pipeline,
) -> None:
    # A call held for two hours (its agent unmapped) is finally released: its final state is
    # still worth sending; Outreach's stricter reading of the window refuses the recording.
    AgentMapping.objects.all().delete()
    two_hours = -7200
    pipeline.send(
        [
            pipeline.event("old-1", "ringing", two_hours, **INBOUND),
            pipeline.event("old-1", "answered", two_hours + 5, **INBOUND),
            pipeline.event("old-1", "ended", two_hours + 60, **INBOUND),
        ]
    )
    eventually(lambda: call_of("old-1").status == CallStatus.HELD)
    agent_mapping_create(
        organization=pipeline.organization,
        kind="email",
        value="rita@pbx.example",
        outreach_user_id=str(pipeline.rep_outreach_id),
    )

    eventually(lambda: call_of("old-1").status == CallStatus.DONE)
    call = call_of("old-1")
    attributes = pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]
    assert attributes["state"] == "completed"
    assert attributes["stateChangedAt"].startswith(
        pipeline.event("old-1", "ended", two_hours + 60)["occurred_at"][:19]
    )

    # The recording comes now: within an hour of Outreach accepting the final state, so we try;
    # Outreach counts from the call's end and refuses, which closes the window for links.
    pipeline.send(
        [
            pipeline.event(
                "old-1",
                "recording_ready",
                two_hours + 61,
                link="https://rec.example/old-1.mp3",
                **INBOUND,
            )
        ]
    )
    eventually(lambda: call_of("old-1").links_closed)
    eventually(lambda: call_of("old-1").status == CallStatus.DONE)
    call = call_of("old-1")
    recording = InboxEvent.objects.get(call=call, happening="recording_ready")
    assert recording.status == "expired"
    assert "window" in recording.reason
    assert call.links_closed


def test_it_closes_a_call_the_provider_never_finished_and_lists_it_for_a_person(
    pipeline: Pipeline, clock_offset: Callable[[float], None]
) -> None:
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    outreach_id = str(launched["id"])
    pipeline.send(
        [
            pipeline.event("quiet-1", "dialling", 0, outreach_call_id=outreach_id),
            pipeline.event("quiet-1", "ringing", 2, outreach_call_id=outreach_id),
        ]
    )
    pipeline.wait_for(outreach_id, lambda view: state_of(view) == "ringing")
    assert calls_close_unfinished() == 0  # not quiet for long enough yet

    clock_offset(4 * 3600 + 60)
    assert calls_close_unfinished() == 1

    pipeline.wait_for(outreach_id, lambda view: state_of(view) == "failed")
    view = pipeline.sandbox.call(outreach_id)
    assert view["call"]["attributes"]["stateChangedAt"].startswith(
        pipeline.event("quiet-1", "ringing", 2)["occurred_at"][:19]
    )
    call = call_of("quiet-1")
    assert call.attention.startswith("Closed by Callbridge")
    assert call in calls_needing_attention(Call.objects.all())
    closing = InboxEvent.objects.get(call=call, happening="setup_failed")
    assert closing.raw["closed_by"] == "Callbridge"
    assert calls_close_unfinished() == 0  # closed once


def test_it_delivers_after_a_wrong_mapping_is_fixed_and_the_call_replayed(
    pipeline: Pipeline,
) -> None:
    AgentMapping.objects.all().delete()
    agent_mapping_create(
        organization=pipeline.organization,
        kind="email",
        value="rita@pbx.example",
        outreach_user_id="999999",  # nobody in Outreach
    )
    pipeline.send(
        [
            pipeline.event("wrong-1", "ringing", 0, **INBOUND),
            pipeline.event("wrong-1", "rejected", 3, **INBOUND),
        ]
    )
    eventually(lambda: call_of("wrong-1").status == CallStatus.FAILED)

    AgentMapping.objects.all().delete()
    agent_mapping_create(
        organization=pipeline.organization,
        kind="email",
        value="rita@pbx.example",
        outreach_user_id=str(pipeline.rep_outreach_id),
    )
    call_replay(call=call_of("wrong-1"), actor=make_user("support@alice.example"))

    eventually(lambda: call_of("wrong-1").status == CallStatus.DONE)
    call = call_of("wrong-1")
    resource = pipeline.sandbox.call(call.outreach_call_id)["call"]
    assert resource["attributes"]["state"] == "busy"
    assert resource["relationships"]["user"]["data"]["id"] == pipeline.rep_outreach_id


def test_it_records_an_unexpected_error_backs_off_and_gives_up_at_the_deadline(
    pipeline: Pipeline, clock_offset: Callable[[float], None]
) -> None:
    # An Outreach call id no URL can carry makes the HTTP library raise, not Outreach answer.
    # The webhook door refuses such an id today; a row stored before it did is handed to the
    # inbox directly, as it would be found in the database.
    inbox_accept(
        connection=pipeline.provider,
        events=[
            CallEvent(
                dedup_key="odd-1:dialling",
                provider="generic",
                provider_call_id="odd-1",
                direction=Direction.OUTBOUND,
                happening=Happening.DIALLING,
                occurred_at=timezone.now(),
                outreach_call_id="12\n34",
                agent=AgentIdentity(email="rita@pbx.example"),
            )
        ],
    )

    eventually(lambda: call_of("odd-1").failures >= 2)
    call = call_of("odd-1")
    assert call.status == CallStatus.ACTIVE
    assert "Unexpected error" in call.problem
    attempt = call.attempts.last()
    assert attempt is not None and "Unexpected error" in attempt.error

    clock_offset(5 * 3600 + 60)  # past the give-up deadline and its last hour
    eventually(lambda: call_of("odd-1").status == CallStatus.FAILED, timeout=90)
    call = call_of("odd-1")
    assert call.problem.startswith("Gave up retrying")
    assert call in calls_needing_attention(Call.objects.all())


def test_it_keeps_a_transferred_call_with_the_first_agent_who_answered(
    pipeline: Pipeline,
) -> None:
    agent_mapping_create(
        organization=pipeline.organization,
        kind="email",
        value="bob@pbx.example",
        outreach_user_id=str(pipeline.admin_outreach_id),
    )
    bob = {"agent": {"email": "bob@pbx.example"}}
    pipeline.send(
        [
            pipeline.event("xfer-1", "ringing", 0, **bob, **INBOUND),  # offered to Bob first
            pipeline.event("xfer-1", "answered", 3, **INBOUND),  # Rita takes it
            pipeline.event("xfer-1", "answered", 30, **bob, **INBOUND),  # and transfers to Bob
            pipeline.event("xfer-1", "ended", 90, **bob, **INBOUND),
        ]
    )

    eventually(lambda: call_of("xfer-1").status == CallStatus.DONE)
    call = call_of("xfer-1")
    resource = pipeline.sandbox.call(call.outreach_call_id)["call"]
    assert resource["relationships"]["user"]["data"]["id"] == pipeline.rep_outreach_id
    assert resource["attributes"]["state"] == "completed"
    titles = [entry.title for entry in call_timeline(call=call) if entry.kind == "event"]
    assert any("bob@pbx.example" in title for title in titles)


def test_it_does_not_count_a_request_our_budget_held_back_towards_the_back_off(
    pipeline: Pipeline,
) -> None:
    connection = OutreachConnection.objects.get()
    OutreachRateWindow.objects.create(
        outreach_org_id=connection.outreach_org_id,
        outreach_user_id=connection.outreach_user_id,
        window_start=timezone.now().replace(minute=0, second=0, microsecond=0),
        used=0,
        blocked_until=timezone.now() + timedelta(seconds=2),  # another call's 429
    )
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    outreach_id = str(launched["id"])
    pipeline.send([pipeline.event("budget-1", "dialling", 0, outreach_call_id=outreach_id)])

    pipeline.wait_for(outreach_id, lambda view: state_of(view) == "initiated")
    outcomes = list(call_of("budget-1").attempts.values_list("outcome", flat=True))
    assert outcomes[0] == AttemptOutcome.NOT_SENT
    assert AttemptOutcome.TRANSIENT not in outcomes
    eventually(lambda: call_of("budget-1").failures == 0)


def test_it_holds_calls_while_the_token_endpoint_fails_and_resumes_when_it_recovers(
    pipeline: Pipeline,
) -> None:
    # Our client secret was rotated at Outreach but not here yet: the token endpoint says
    # invalid_client, which is nobody's connection's fault and is fixed without reconnecting.
    pipeline.sandbox.fail_next(
        1000, path_prefix="/oauth/token", status=400, body={"error": "invalid_client"}
    )
    OutreachConnection.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    outreach_id = str(launched["id"])
    pipeline.send([pipeline.event("tok-1", "dialling", 0, outreach_call_id=outreach_id)])

    eventually(lambda: call_of("tok-1").status == CallStatus.HELD)
    call = call_of("tok-1")
    assert "token endpoint" in call.problem and call.due_at is not None  # it retries by itself
    connection = OutreachConnection.objects.get()
    assert "invalid_client" in connection.token_error
    assert connection.status == "active"  # not "needs reconnecting": nothing to reconnect
    staff = make_user("staff@callbridge.example")
    staff.is_staff = True
    staff.save()
    browser = Client()
    browser.force_login(staff)
    page = browser.get(f"/o/{pipeline.organization.slug}/").content.decode()
    assert "token endpoint is failing" in page and "invalid_client" in page

    pipeline.sandbox.clear_faults()  # the secret is fixed at Outreach's end

    pipeline.wait_for(outreach_id, lambda view: state_of(view) == "initiated", timeout=60)
    eventually(lambda: call_of("tok-1").status == CallStatus.DONE)
    assert OutreachConnection.objects.get().token_error == ""
