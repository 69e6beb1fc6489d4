"""Reconciliation through `fetch_call_state`: a call stuck without a final state is asked of (the
fake of) Twilio's Calls resource, and what Twilio reports now counts once with the callbacks
that did arrive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from calls.models import Call, InboxEvent
from calls.services import calls_ask_providers
from integrations.events import Happening
from integrations.models import ProviderConnection
from integrations.twilio.addresses import callback_url
from integrations.twilio.provider import TwilioProvider
from tests.conftest import Cast
from tests.providers.twilio.fake_api import FakeTwilio, running_twilio
from tests.providers.twilio.phone import OUR_NUMBER, SETUP, status
from tests.providers.twilio.test_webhook import post

H = Happening
PROSPECT = "+13125550147"


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    with running_twilio() as fake:
        settings.TWILIO_API_URL = fake.base_url
        yield fake


def connection_of(cast: Cast, **setup: str) -> ProviderConnection:
    connection = ProviderConnection(organization=cast.org, kind="twilio", name="Sales")
    connection.set_setup_values({**SETUP, **setup})
    connection.save()
    return connection


def twilio_date(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0))


def test_it_reads_a_finished_call_as_its_callbacks_would_tell_it(
    cast: Cast, twilio: FakeTwilio
) -> None:
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    sid = twilio.add_call(
        status="completed",
        direction="outbound-api",
        to=PROSPECT,
        start_time=twilio_date(ended - timedelta(seconds=40)),
        end_time=twilio_date(ended),
        duration="40",
        **{"from": OUR_NUMBER},
    )
    events = TwilioProvider().fetch_call_state(connection_of(cast), sid)
    assert events is not None
    assert [(e.happening, e.dedup_key, e.occurred_at) for e in events] == [
        (H.ANSWERED, f"{sid}:answered", ended - timedelta(seconds=40)),
        (H.ENDED, f"{sid}:ended", ended),
    ]


def test_it_cannot_say_about_a_call_twilio_does_not_know(cast: Cast, twilio: FakeTwilio) -> None:
    assert TwilioProvider().fetch_call_state(connection_of(cast), "CA" + "9" * 32) is None


def test_a_call_placed_rep_first_is_told_by_the_prospects_leg(
    cast: Cast, twilio: FakeTwilio
) -> None:
    now = twilio_date(datetime.now(UTC) - timedelta(minutes=1))
    rep_leg = twilio.add_call(
        status="completed", direction="outbound-api", to="client:rita", end_time=now,
        duration="20", **{"from": OUR_NUMBER},
    )  # fmt: skip
    twilio.add_call(
        status="busy", direction="outbound-dial", to=PROSPECT, parent_call_sid=rep_leg,
        end_time=now, **{"from": OUR_NUMBER},
    )  # fmt: skip
    events = TwilioProvider().fetch_call_state(connection_of(cast, leg_order="rep"), rep_leg)
    assert [(e.happening, e.provider_call_id, e.direction) for e in events or []] == [
        (H.REJECTED, rep_leg, "outbound")
    ]


def test_the_reconciliation_loop_finishes_a_call_whose_callbacks_were_lost(
    cast: Cast, twilio: FakeTwilio, settings: Any
) -> None:
    settings.RECONCILE_AFTER_SECONDS = 0
    connection = connection_of(cast)
    started = datetime.now(UTC) - timedelta(minutes=3)
    sid = twilio.add_call(
        status="no-answer",
        direction="outbound-api",
        to=PROSPECT,
        end_time=twilio_date(started + timedelta(seconds=30)),
        **{"from": OUR_NUMBER},
    )
    url = callback_url(connection, outreach_call_id="4711")
    initiated = status(sid, "outbound-api", "initiated", started, 0, frm=OUR_NUMBER, to=PROSPECT)
    assert post(url, initiated).status_code == 200  # then Twilio's later callbacks were lost

    assert calls_ask_providers() == 1
    call = Call.objects.get(provider_call_id=sid)
    assert sorted(call.events.values_list("happening", flat=True)) == ["dialling", "not_answered"]
    assert InboxEvent.objects.filter(happening="dialling").count() == 1  # counted once


def test_the_reps_leg_of_a_call_placed_prospect_first_tells_nothing(
    cast: Cast, twilio: FakeTwilio
) -> None:
    now = twilio_date(datetime.now(UTC) - timedelta(minutes=1))
    prospect_leg = twilio.add_call(
        status="in-progress", direction="outbound-api", to=PROSPECT, start_time=now,
        **{"from": OUR_NUMBER},
    )  # fmt: skip
    twilio.add_call(
        status="busy", direction="outbound-dial", to="client:rita",
        parent_call_sid=prospect_leg, end_time=now, **{"from": OUR_NUMBER},
    )  # fmt: skip
    events = TwilioProvider().fetch_call_state(connection_of(cast), prospect_leg)
    assert [(e.happening, e.direction) for e in events or []] == [(H.ANSWERED, "outbound")]


def test_an_inbound_calls_agent_leg_is_folded_into_it(cast: Cast, twilio: FakeTwilio) -> None:
    now = twilio_date(datetime.now(UTC) - timedelta(minutes=1))
    caller_leg = twilio.add_call(
        status="in-progress", direction="inbound", to=OUR_NUMBER, start_time=now,
        **{"from": "+14155550111"},
    )  # fmt: skip
    agent_leg = twilio.add_call(
        status="ringing", direction="outbound-dial", to="client:rita",
        parent_call_sid=caller_leg, start_time=now, **{"from": "+14155550111"},
    )  # fmt: skip
    events = TwilioProvider().fetch_call_state(connection_of(cast), caller_leg)
    assert [(e.happening, e.dedup_key) for e in events or []] == [
        (H.RINGING, f"{agent_leg}:ringing")
    ]
