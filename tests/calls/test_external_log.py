"""The record that logs an outbound call which did not start in Outreach (seed 003), row by row
of `calls/rules.py`'s table, and what happens around it (settling, links, after logging)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calls.rules import (
    ExternalOutcome,
    Happened,
    Happening,
    OutreachState,
    Reported,
    Verdict,
    plan_external_log,
)

pytestmark = pytest.mark.fast  # no server: make test-fast runs it

H = Happening
S = OutreachState
ANSWERED, NOT_ANSWERED = ExternalOutcome.ANSWERED, ExternalOutcome.NOT_ANSWERED
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def happened(kind: Happening, seconds: float, *, link: str | None = None) -> Happened:
    return Happened(key=f"{kind}@{seconds}", kind=kind, at=at(seconds), link=link)


# (happenings after dialling at 0 s and ringing at 1 s, final state, outcome, answeredAt second,
# completedAt second): the table in calls/rules.py's docstring.
ROWS = [
    ([(H.ANSWERED, 5), (H.ENDED, 65)], S.COMPLETED, ANSWERED, 5, 65),
    ([(H.ANSWERED_BY_VOICEMAIL, 20), (H.ENDED, 50)], S.COMPLETED, ANSWERED, 20, 50),
    ([(H.REJECTED, 4)], S.BUSY, NOT_ANSWERED, None, 4),
    ([(H.NOT_ANSWERED, 30)], S.NO_ANSWER, NOT_ANSWERED, None, 30),
    ([(H.CALLER_HUNG_UP, 8)], S.CANCELED, NOT_ANSWERED, None, 8),
    ([(H.SETUP_FAILED, 2)], S.FAILED, NOT_ANSWERED, None, 2),
]


@pytest.mark.parametrize(("row", "final", "outcome", "answered", "completed"), ROWS)
def test_it_maps_each_row_of_the_table_to_the_logged_record(
    row: list[tuple[Happening, float]],
    final: OutreachState,
    outcome: ExternalOutcome,
    answered: float | None,
    completed: float,
) -> None:
    happenings = [happened(H.DIALLING, 0), happened(H.RINGING, 1)]
    happenings += [happened(kind, second) for kind, second in row]
    plan = plan_external_log(happenings=happenings, logged=Reported(), now=at(100))
    assert plan.log is not None
    assert plan.log.outcome is outcome
    assert plan.log.final_state is final
    assert plan.log.answered_at == (at(answered) if answered is not None else None)
    assert plan.log.completed_at == at(completed)
    assert all(verdict is Verdict.APPLIED for verdict, _ in plan.verdicts.values())
    assert f"to be logged in Outreach as {outcome}" in plan.verdicts[f"{H.DIALLING}@0"][1]


@pytest.mark.parametrize(("row", "final", "outcome", "answered", "completed"), ROWS)
def test_it_gives_the_same_record_whatever_order_the_happenings_arrive_in(
    row: list[tuple[Happening, float]],
    final: OutreachState,
    outcome: ExternalOutcome,
    answered: float | None,
    completed: float,
) -> None:
    happenings = [happened(kind, second) for kind, second in reversed(row)]
    happenings += [happened(H.RINGING, 1), happened(H.DIALLING, 0)]
    plan = plan_external_log(happenings=happenings, logged=Reported(), now=at(100))
    assert plan.log is not None
    assert (plan.log.outcome, plan.log.completed_at) == (outcome, at(completed))


def test_it_logs_nothing_before_the_call_ends() -> None:
    happenings = [happened(H.DIALLING, 0), happened(H.ANSWERED, 5)]
    plan = plan_external_log(happenings=happenings, logged=Reported(), now=at(100))
    assert plan.log is None
    assert plan.final_state is None


def test_it_waits_the_settle_time_after_the_deciding_happening_arrived() -> None:
    ended = Happened(key="ended", kind=H.ENDED, at=at(60), arrived_at=at(61))
    happenings = [happened(H.ANSWERED, 5), ended]
    plan = plan_external_log(
        happenings=happenings, logged=Reported(), now=at(62), settle=timedelta(seconds=5)
    )
    assert plan.log is None
    assert plan.settle_until == at(66)
    assert plan.verdicts["ended"][0] is Verdict.HELD
    later = plan_external_log(
        happenings=happenings, logged=Reported(), now=at(67), settle=timedelta(seconds=5)
    )
    assert later.log is not None and later.log.outcome is ANSWERED


def test_it_lets_a_rejection_arriving_during_the_settle_time_decide() -> None:
    happenings = [
        happened(H.REJECTED, 3),
        Happened(key="ended", kind=H.ENDED, at=at(4), arrived_at=at(4)),
    ]
    plan = plan_external_log(happenings=happenings, logged=Reported(), now=at(10))
    assert plan.log is not None
    assert plan.log.outcome is NOT_ANSWERED
    assert plan.verdicts["ended"][0] is Verdict.IGNORED


def test_it_ignores_recording_and_voicemail_links() -> None:
    happenings = [
        happened(H.ANSWERED, 5),
        happened(H.ENDED, 60),
        happened(H.RECORDING_READY, 61, link="https://media.example.com/1.mp3"),
    ]
    plan = plan_external_log(happenings=happenings, logged=Reported(), now=at(100))
    assert plan.log is not None
    verdict, reason = plan.verdicts[f"{H.RECORDING_READY}@61"]
    assert verdict is Verdict.IGNORED
    assert "no recording or voicemail link" in reason


def test_it_sends_nothing_more_once_logged_and_lists_a_contradicting_late_happening() -> None:
    logged = Reported(state=S.NO_ANSWER, state_changed_at=at(30), final_accepted_at=at(40))
    late = Happened(key="answered", kind=H.ANSWERED, at=at(20), arrived_at=at(50))
    happenings = [happened(H.NOT_ANSWERED, 30), late]
    plan = plan_external_log(happenings=happenings, logged=logged, now=at(60))
    assert plan.log is None
    assert plan.late == ("answered",)
    assert "logged in Outreach as not answered" in plan.verdicts[f"{H.NOT_ANSWERED}@30"][1]
