"""A final state settling rings the workers' doorbell once for the moment it has settled, however
many of the call's events arrive meanwhile (each wakes a claim that waits for the same moment)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calls import pipeline
from calls.models import Call, CallStatus, InboxEvent
from integrations.events import Direction, Happening
from integrations.models import ProviderConnection
from portal import clock
from tests.conftest import Cast


@pytest.fixture
def doorbells(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    rung: list[tuple[int, float | None]] = []

    def ring(call_id: int, *, urgent: bool = False, countdown: float | None = None) -> bool:
        rung.append((call_id, countdown))
        return True

    monkeypatch.setattr(pipeline, "enqueue_call", ring)
    return rung


def _arrives(call: Call, happening: Happening, key: str) -> None:
    """An event stored by the inbox: the call is due at once."""
    InboxEvent.objects.create(
        organization=call.organization,
        connection=call.connection,
        call=call,
        dedup_key=key,
        happening=happening,
        occurred_at=clock.now() - timedelta(seconds=30),
    )
    Call.objects.filter(pk=call.pk).update(due_at=clock.now(), status=CallStatus.ACTIVE)


def test_it_rings_once_for_a_settling_final_state(
    cast: Cast,
    doorbells: list[tuple[int, float | None]],
    django_capture_on_commit_callbacks: pytest.FixtureRequest,
) -> None:
    connection = ProviderConnection.objects.create(
        organization=cast.org, kind="generic", name="PBX"
    )
    call = Call.objects.create(
        organization=cast.org,
        connection=connection,
        direction=Direction.OUTBOUND,
        provider_call_id="pbx-1",
        outreach_call_id="42",
        outreach_user_id="7",
        reported_state="in progress",
    )
    _arrives(call, Happening.ENDED, "ended")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert pipeline._claim(call.pk) is None  # the final state settles: nothing to send yet
    _arrives(call, Happening.RECORDING_READY, "recording")
    _arrives(call, Happening.ENDED, "ended-again")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert pipeline._claim(call.pk) is None

    call.refresh_from_db()
    assert call.status == CallStatus.ACTIVE and call.due_at == call.wake_at
    assert len(doorbells) == 1, doorbells
    rung_for, countdown = doorbells[0]
    assert rung_for == call.pk and countdown is not None and 4 < countdown <= 5
