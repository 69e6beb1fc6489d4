"""The pure table from a call object's status, fail_reason and direction to happenings, every
pair, and what the rules then make of each final one (README "Google CCAI Platform: from the call
object to happenings")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calls.rules import Happened, OutreachState, Reported, plan_next_update
from integrations.ccai.mapping import (
    CALL_TYPES,
    KNOWN_FAIL_REASONS,
    STATUSES,
    Unmapped,
    direction_of,
    steps_for,
)
from integrations.events import Direction, Happening

H = Happening
IN, OUT = Direction.INBOUND, Direction.OUTBOUND
pytestmark = pytest.mark.fast

# Every documented status, both directions, without a recording: the happenings in order.
TABLE = {
    ("selecting", IN): [],
    ("selecting", OUT): [],
    ("queued", IN): [H.RINGING],
    ("queued", OUT): [H.DIALLING],
    ("assigned", IN): [H.RINGING],
    ("assigned", OUT): [H.DIALLING],
    ("connecting", IN): [H.RINGING],
    ("connecting", OUT): [H.RINGING],
    ("connected", IN): [H.ANSWERED],
    ("connected", OUT): [H.ANSWERED],
    ("finished", IN): [H.ANSWERED, H.ENDED],
    ("finished", OUT): [H.ANSWERED, H.ENDED],
    ("switching", IN): [],
    ("switching", OUT): [],
    ("recovered", IN): [],
    ("recovered", OUT): [],
    ("scheduled", IN): [],
    ("scheduled", OUT): [],
    ("action_only", IN): [],
    ("action_only", OUT): [],
    ("action_only_finished", IN): [],
    ("action_only_finished", OUT): [],
    ("deflected", IN): [H.NOT_ANSWERED],
    ("voicemail", IN): [H.ANSWERED_BY_VOICEMAIL],
    ("voicemail_received", IN): [H.ANSWERED_BY_VOICEMAIL, H.ENDED],
    ("voicemail_read", IN): [H.ANSWERED_BY_VOICEMAIL, H.ENDED],
}
INBOUND_ONLY = ("deflected", "voicemail", "voicemail_received", "voicemail_read")

FAILED = {
    ("eu_busy", OUT): H.REJECTED,
    ("eu_rejected", OUT): H.REJECTED,
    ("eu_canceled", OUT): H.REJECTED,
    ("eu_abandoned", OUT): H.REJECTED,
    ("expired", OUT): H.NOT_ANSWERED,
    ("nothing", OUT): H.SETUP_FAILED,
    ("eu_busy", IN): H.SETUP_FAILED,
    ("eu_rejected", IN): H.SETUP_FAILED,
    ("eu_canceled", IN): H.CALLER_HUNG_UP,
    ("eu_abandoned", IN): H.CALLER_HUNG_UP,
    ("expired", IN): H.SETUP_FAILED,
    ("nothing", IN): H.SETUP_FAILED,
}


def happenings(direction: Direction, status: str, **kwargs: str) -> list[Happening]:
    return [step.happening for step in steps_for(direction=direction, status=status, **kwargs)]


def test_it_has_a_row_for_every_documented_status_and_direction() -> None:
    rows = {status for status, _ in TABLE} | {"failed"}
    assert rows == set(STATUSES)
    assert {(s, d) for s in STATUSES for d in (IN, OUT) if s != "failed"} - set(TABLE) == {
        (status, OUT) for status in INBOUND_ONLY
    }
    assert {reason for reason, _ in FAILED} == set(KNOWN_FAIL_REASONS) | {"eu_busy"}


@pytest.mark.parametrize(("status", "direction"), list(TABLE), ids=[f"{s}-{d}" for s, d in TABLE])
def test_it_maps_each_status(status: str, direction: Direction) -> None:
    assert happenings(direction, status) == TABLE[(status, direction)]


@pytest.mark.parametrize(("reason", "direction"), list(FAILED), ids=[f"{r}-{d}" for r, d in FAILED])
def test_it_reads_fail_reason_with_the_direction(reason: str, direction: Direction) -> None:
    assert happenings(direction, "failed", fail_reason=reason) == [FAILED[(reason, direction)]]


@pytest.mark.parametrize("direction", [IN, OUT])
def test_it_fails_a_failed_call_whose_reason_is_not_documented(direction: Direction) -> None:
    # The status says it ended before connecting; the reason adds nothing we could read.
    assert happenings(direction, "failed", fail_reason="carrier_exploded") == [H.SETUP_FAILED]


@pytest.mark.parametrize("status", INBOUND_ONLY)
def test_it_leaves_inbound_only_statuses_on_an_outbound_call_unmapped(status: str) -> None:
    with pytest.raises(Unmapped, match="inbound calls only"):
        steps_for(direction=OUT, status=status)


def test_it_leaves_an_undocumented_status_or_call_type_unmapped() -> None:
    with pytest.raises(Unmapped, match="'teleported' is not one the platform documents"):
        steps_for(direction=IN, status="teleported")
    with pytest.raises(Unmapped, match="call_type 'Carrier pigeon'"):
        direction_of("Carrier pigeon")
    assert direction_of("Voice Outbound (API)") is OUT
    assert set(CALL_TYPES.values()) == {IN, OUT}


def test_it_carries_the_recording_and_the_voicemail_link() -> None:
    url = "https://acme.ccaiplatform.com/r/1.mp3"
    assert happenings(OUT, "finished", recording_url=url)[-1] is H.RECORDING_READY
    assert happenings(IN, "voicemail_received", recording_url=url)[-1] is H.VOICEMAIL_LEFT
    assert happenings(IN, "voicemail", recording_url=url) == [H.ANSWERED_BY_VOICEMAIL]


# The seed's final-state table, row by row, as the platform can produce it: the happenings a
# call's statuses give, in order, through the pure rules.
ROWS = [
    ("both: answered", OUT, [("assigned", ""), ("connected", ""), ("finished", "")], "completed"),
    ("both: answered", IN, [("queued", ""), ("connected", ""), ("finished", "")], "completed"),
    ("both: caller cancels", IN, [("queued", ""), ("failed", "eu_abandoned")], "canceled"),
    ("both: fails to set up", OUT, [("assigned", ""), ("failed", "nothing")], "failed"),
    ("both: fails to set up", IN, [("queued", ""), ("failed", "nothing")], "failed"),
    ("inbound: times out", IN, [("queued", ""), ("deflected", "")], "no answer"),
    (
        "inbound: times out, voicemail",
        IN,
        [("queued", ""), ("deflected", ""), ("voicemail", ""), ("voicemail_received", "")],
        "no answer",
    ),
    ("outbound: callee rejects", OUT, [("assigned", ""), ("failed", "eu_rejected")], "busy"),
    ("outbound: callee busy", OUT, [("assigned", ""), ("failed", "eu_busy")], "busy"),
    ("outbound: times out", OUT, [("assigned", ""), ("failed", "expired")], "no answer"),
]


@pytest.mark.parametrize(
    ("row", "direction", "statuses", "state"), ROWS, ids=[f"{r[0]}-{r[1]}" for r in ROWS]
)
def test_it_ends_each_row_of_the_final_state_table_as_the_table_says(
    row: str, direction: Direction, statuses: list[tuple[str, str]], state: str
) -> None:
    sequence = [
        step
        for status, reason in statuses
        for step in happenings(direction, status, fail_reason=reason)
    ]
    start = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    happened = [
        Happened(key=str(i), kind=kind, at=start + timedelta(seconds=i))
        for i, kind in enumerate(sequence)
    ]
    plan = plan_next_update(
        direction=direction,
        happenings=happened,
        reported=Reported(),
        now=start + timedelta(hours=1),
    )
    assert plan.final_state == OutreachState(state)
