"""The connection's share of the platform's request limit holds across every process polling and
placing at once: 50 calls in flight, four pollers on their own database connections (as four
workers would be), dials in between; the fake platform logs when each request arrived. And a
dial goes before polls, however many are waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from calls.inbox import inbox_accept
from calls.models import Call
from calls.services import calls_poll_providers
from integrations.ccai.callobject import call_events
from integrations.ccai.pace import pace_for_dial, pace_for_poll, pace_hold
from integrations.ccai.provider import CcaiProvider
from integrations.models import ProviderConnection
from integrations.provider import PlaceCallRequest, Placed
from portal.tenancy.models import Organization
from tests.providers.ccai.fake import FakeCcai, Step

CALLS = 50
POLLERS = 4
SHARE = 5  # requests per second: the connection's default
INTERVAL = timedelta(seconds=1 / SHARE)
JITTER = 1.0  # seconds: how late a request may arrive after its slot on a busy machine


@pytest.fixture
def fake(settings: object) -> Iterator[FakeCcai]:
    with FakeCcai().running() as running:
        settings.CCAI_API_URL = running.api_url_template  # type: ignore[attr-defined]
        yield running


def ccai_connection(fake: FakeCcai) -> ProviderConnection:
    organization = Organization.objects.create(name="Acme", slug="acme")
    connection = ProviderConnection(organization=organization, kind="ccai", name="Acme CCAI")
    connection.set_setup_values(fake.setup_values())
    connection.save()
    return connection


def busiest_second(times: list[float]) -> int:
    return max(sum(1 for other in times if at <= other < at + 1.0) for at in times)


def test_it_keeps_polling_and_placing_under_the_connections_share_with_50_calls_in_flight(
    transactional_db: None, fake: FakeCcai
) -> None:
    connection = ccai_connection(fake)
    for _ in range(CALLS):
        call_id = fake.call_in()
        fake.play(call_id, [Step(0, "connected", {"connected_at": "now"})])
    for player in fake._players:
        player.join()
    for call in list(fake.calls.values()):
        events = call_events(call, kind="ccai", region="US", end_user_number="+14155550100")
        inbox_accept(connection=connection, events=events)
    assert Call.objects.filter(connection=connection).count() == CALLS

    def polled() -> set[str]:
        return {r.path.rsplit("/", 1)[1] for r in list(fake.requests) if r.method == "GET"}

    done = threading.Event()
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            while not done.is_set():
                calls_poll_providers()
                time.sleep(0.05)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            db_connection.close()

    pollers = [threading.Thread(target=poll) for _ in range(POLLERS)]
    for poller in pollers:
        poller.start()
    try:
        for number in range(5):  # dials while the pollers are busy
            outcome = CcaiProvider().place_call(
                PlaceCallRequest(
                    connection=connection,
                    outreach_call_id=f"dial-{number}",
                    to_number="+12065550100",
                    agent={"email": "rita@acme.example"},
                ),
                deadline=timezone.now() + timedelta(seconds=30),
                idempotency_key=f"dial-{number}",
            )
            assert isinstance(outcome, Placed)
            time.sleep(0.5)
        time.sleep(10.0)  # the pollers go on alone
    finally:
        done.set()
        for poller in pollers:
            poller.join()
    assert errors == []

    times = [r.at for r in fake.requests]
    # The share on average and in any second, give or take arrival jitter (the fake logs when a
    # request arrived, and one that left late meets the next one on time): well under the
    # platform's 10, which never answered 429.
    assert len(times) <= SHARE * (max(times) - min(times) + JITTER) + 1
    assert busiest_second(times) <= SHARE + 3, busiest_second(times)
    assert [r for r in fake.requests if r.status == 429] == []
    assert len([r for r in fake.requests if r.method == "POST"]) == 5
    # Polls went on all along, call after call (each call is asked once per 5 s at most): a
    # poller that found the share in use left the call its turn instead of counting it asked.
    assert len(polled()) >= 40


def test_it_puts_a_dial_before_the_polls(db: None, fake: FakeCcai) -> None:
    connection = ccai_connection(fake)
    pace_hold(connection, seconds=1.0)  # a 429: nobody asks for a second
    # A poll does not queue for a slot that is not free now: it leaves the call for later ...
    assert not pace_for_poll(connection, interval=INTERVAL)
    # ... while a dial waits for the next slot, within its deadline ...
    started = time.monotonic()
    assert pace_for_dial(
        connection, interval=INTERVAL, deadline=timezone.now() + timedelta(seconds=5)
    )
    assert 0.5 <= time.monotonic() - started
    # ... and one whose deadline comes before the next slot takes none.
    assert not pace_for_dial(connection, interval=INTERVAL, deadline=timezone.now())
