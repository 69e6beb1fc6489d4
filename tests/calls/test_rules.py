from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calls.rules import (
    LINK_WINDOW,
    RECORDING_URL_MAX,
    VOICEMAIL_URL_MAX,
    Direction,
    Happened,
    Happening,
    OutreachState,
    Plan,
    Reported,
    Update,
    Verdict,
    give_up_happening,
    is_final,
    plan_next_update,
    rank,
)
from tests.calls.rules_harness import SimulatedPipeline
from tests.calls.rules_oracle import TABLE, Row

pytestmark = pytest.mark.fast  # no server: make test-fast runs it

IN = Direction.INBOUND
OUT = Direction.OUTBOUND
H = Happening
S = OutreachState
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
RECORDING = "https://media.example.com/recordings/1.mp3"
VOICEMAIL = "https://media.example.com/voicemail/1.mp3"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def happened(
    kind: Happening, seconds: float, *, key: str = "", link: str | None = None, seq: int = 0
) -> Happened:
    return Happened(key=key or f"{kind}@{seconds}", kind=kind, at=at(seconds), seq=seq, link=link)


def plan(
    direction: Direction,
    *happenings: Happened,
    reported: Reported | None = None,
    now: datetime | None = None,
    settle: timedelta = timedelta(0),
) -> Plan:
    return plan_next_update(
        direction=direction,
        happenings=happenings,
        reported=reported or Reported(),
        now=now or max(h.at for h in happenings) + timedelta(seconds=1),
        settle=settle,
    )


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.id)
def test_it_reaches_the_tables_final_state(row: Row) -> None:
    pipeline = SimulatedPipeline(row.direction)
    for second, kind in enumerate(row.happenings):
        link = VOICEMAIL if kind is H.VOICEMAIL_LEFT else None
        pipeline.arrive(happened(kind, second, link=link), now=at(second))
    # A recording and a voicemail link turn up for every row; only the right ones are kept.
    ending = len(row.happenings)
    pipeline.arrive(happened(H.RECORDING_READY, ending, link=RECORDING), now=at(ending))
    pipeline.arrive(happened(H.VOICEMAIL_LEFT, ending, link=VOICEMAIL), now=at(ending))

    assert pipeline.outreach.state is row.final
    assert ("recordingUrl" in pipeline.outreach.urls) is row.keeps_recording
    assert ("voicemailUrl" in pipeline.outreach.urls) is row.keeps_voicemail
    if row.direction is OUT:
        assert pipeline.sent[0][1].state is S.INITIATED


def test_it_sends_initiated_first_for_outbound_calls() -> None:
    result = plan(OUT, happened(H.RINGING, 3), happened(H.ANSWERED, 5))

    assert result.update == Update(state=S.INITIATED, state_changed_at=at(3))


def test_it_sends_the_newest_state_once_initiated_is_reported() -> None:
    result = plan(
        OUT,
        happened(H.DIALLING, 0),
        happened(H.RINGING, 3),
        happened(H.ANSWERED, 5),
        reported=Reported(state=S.INITIATED, state_changed_at=at(0)),
    )

    assert result.update == Update(state=S.IN_PROGRESS, state_changed_at=at(5))


def test_it_coalesces_pending_states_into_the_newest() -> None:
    ringing, answered = happened(H.RINGING, 1), happened(H.ANSWERED, 4)

    result = plan(IN, ringing, answered)

    assert result.update == Update(state=S.IN_PROGRESS, state_changed_at=at(4))
    assert result.verdicts[ringing.key] == (Verdict.APPLIED, "superseded by in progress")
    assert result.verdicts[answered.key] == (Verdict.APPLIED, "to be reported as in progress")


def test_it_ignores_a_state_that_would_move_the_call_backwards() -> None:
    answered, late_ringing = happened(H.ANSWERED, 4), happened(H.RINGING, 6)

    result = plan(
        IN,
        answered,
        late_ringing,
        reported=Reported(state=S.IN_PROGRESS, state_changed_at=at(4)),
    )

    assert result.update is None
    assert result.verdicts[late_ringing.key] == (
        Verdict.IGNORED,
        "would move the call backwards from in progress",
    )


def test_it_counts_an_earlier_state_arriving_late_as_reflected() -> None:
    # Ringing happened before the reported "in progress": skipping it is what coalescing does.
    ringing = happened(H.RINGING, 2)

    result = plan(
        IN,
        happened(H.ANSWERED, 4),
        ringing,
        reported=Reported(state=S.IN_PROGRESS, state_changed_at=at(4)),
    )

    assert result.update is None
    assert result.verdicts[ringing.key] == (
        Verdict.APPLIED,
        "happened before in progress, which Outreach already has",
    )


def test_it_ignores_state_changes_after_the_final_state() -> None:
    rejected, ended = happened(H.REJECTED, 5), happened(H.ENDED, 9)

    result = plan(IN, happened(H.RINGING, 1), rejected, ended)

    assert result.update == Update(state=S.BUSY, state_changed_at=at(5))
    assert result.verdicts[ended.key] == (Verdict.IGNORED, "after final state busy")
    assert result.final_state is S.BUSY
    assert result.ended_at == at(5)


def test_it_decides_the_final_state_by_time_not_arrival() -> None:
    ended = happened(H.ENDED, 9, seq=1)
    rejected = happened(H.REJECTED, 5, seq=2)

    result = plan(IN, ended, rejected)

    assert result.final_state is S.BUSY


def test_it_breaks_ties_in_time_by_arrival() -> None:
    first, second = happened(H.NOT_ANSWERED, 5, seq=1), happened(H.REJECTED, 5, seq=2)

    result = plan(IN, second, first)

    assert result.final_state is S.NO_ANSWER
    assert result.verdicts[second.key] == (Verdict.IGNORED, "after final state no answer")


def test_it_keeps_the_reported_final_state_when_an_earlier_ending_arrives_late() -> None:
    rejected, late_hang_up = happened(H.REJECTED, 5), happened(H.CALLER_HUNG_UP, 4)

    result = plan(
        IN, rejected, late_hang_up, reported=Reported(state=S.BUSY, state_changed_at=at(5))
    )

    assert result.update is None
    assert result.final_state is S.BUSY
    assert result.verdicts[rejected.key] == (Verdict.APPLIED, "Outreach has busy")
    assert result.verdicts[late_hang_up.key] == (Verdict.IGNORED, "call already final: busy")


def test_it_holds_a_recording_until_the_final_state_is_known() -> None:
    recording = happened(H.RECORDING_READY, 30, link=RECORDING)

    result = plan(IN, happened(H.ANSWERED, 4), recording)

    assert result.update == Update(state=S.IN_PROGRESS, state_changed_at=at(4))
    assert result.verdicts[recording.key] == (Verdict.HELD, "waiting for the final state")
    assert result.final_state is None


def test_it_releases_a_held_recording_with_the_final_state() -> None:
    result = plan(
        IN,
        happened(H.ANSWERED, 4),
        happened(H.RECORDING_READY, 30, link=RECORDING),
        happened(H.ENDED, 60),
        reported=Reported(state=S.IN_PROGRESS, state_changed_at=at(4)),
    )

    assert result.update == Update(
        state=S.COMPLETED, state_changed_at=at(60), recording_url=RECORDING
    )


def test_it_sends_initiated_before_the_final_state_and_its_recording() -> None:
    happenings = (happened(H.ENDED, 60), happened(H.RECORDING_READY, 61, link=RECORDING))

    first = plan(OUT, *happenings)
    second = plan(OUT, *happenings, reported=Reported(state=S.INITIATED, state_changed_at=at(60)))

    assert first.update == Update(state=S.INITIATED, state_changed_at=at(60))
    assert second.update == Update(
        state=S.COMPLETED, state_changed_at=at(60), recording_url=RECORDING
    )


def test_it_sends_a_recording_alone_after_the_final_state() -> None:
    result = plan(
        OUT,
        happened(H.ENDED, 60),
        happened(H.RECORDING_READY, 90, link=RECORDING),
        reported=Reported(state=S.COMPLETED, state_changed_at=at(60)),
    )

    assert result.update == Update(state=None, state_changed_at=None, recording_url=RECORDING)


def test_it_ignores_a_recording_on_a_busy_call() -> None:
    recording = happened(H.RECORDING_READY, 30, link=RECORDING)

    result = plan(
        OUT,
        recording,
        happened(H.REJECTED, 20),
        reported=Reported(state=S.INITIATED, state_changed_at=at(0)),
    )

    assert result.update == Update(state=S.BUSY, state_changed_at=at(20))
    assert result.verdicts[recording.key] == (
        Verdict.IGNORED,
        "recording only for completed calls (final state: busy)",
    )


def test_it_sends_voicemail_with_an_unanswered_inbound_call() -> None:
    voicemail = happened(H.VOICEMAIL_LEFT, 40, link=VOICEMAIL)
    pickup = happened(H.ANSWERED_BY_VOICEMAIL, 21)

    result = plan(IN, happened(H.NOT_ANSWERED, 20), pickup, voicemail)

    assert result.update == Update(
        state=S.NO_ANSWER, state_changed_at=at(20), voicemail_url=VOICEMAIL
    )
    assert result.verdicts[pickup.key][0] is Verdict.IGNORED


def test_it_ignores_voicemail_on_outbound_calls() -> None:
    voicemail = happened(H.VOICEMAIL_LEFT, 40, link=VOICEMAIL)

    result = plan(OUT, voicemail, reported=Reported(state=S.NO_ANSWER, state_changed_at=at(20)))

    assert result.update is None
    assert result.verdicts[voicemail.key] == (
        Verdict.IGNORED,
        "voicemail links are only for inbound calls",
    )


def test_it_ignores_voicemail_on_an_answered_inbound_call() -> None:
    voicemail = happened(H.VOICEMAIL_LEFT, 40, link=VOICEMAIL)

    result = plan(IN, happened(H.ANSWERED, 5), happened(H.ENDED, 20), voicemail)

    assert result.update == Update(state=S.COMPLETED, state_changed_at=at(20))
    assert result.verdicts[voicemail.key][0] is Verdict.IGNORED


@pytest.mark.parametrize(
    ("late_by", "sent"),
    [(timedelta(0), True), (timedelta(microseconds=1), False)],
    ids=["when-the-window-closes", "just-after"],
)
def test_it_sends_links_until_an_hour_after_outreach_accepted_the_final_state(
    late_by: timedelta, sent: bool
) -> None:
    recording = happened(H.RECORDING_READY, 30, link=RECORDING)
    accepted = at(90)  # the final state reached Outreach a minute after the call ended

    result = plan(
        IN,
        happened(H.ENDED, 20),
        recording,
        reported=Reported(state=S.COMPLETED, state_changed_at=at(20), final_accepted_at=accepted),
        now=accepted + LINK_WINDOW + late_by,
    )

    assert (result.update is not None) is sent
    if not sent:
        assert result.verdicts[recording.key] == (
            Verdict.EXPIRED,
            "past Outreach's 1-hour window, which closed at 2025-03-03 10:01:30",
        )


def test_it_stops_sending_links_once_outreach_refused_one_for_its_window() -> None:
    recording = happened(H.RECORDING_READY, 30, link=RECORDING)

    result = plan(
        IN,
        happened(H.ENDED, 20),
        recording,
        reported=Reported(
            state=S.COMPLETED,
            state_changed_at=at(20),
            final_accepted_at=at(25),
            links_closed=True,
        ),
    )

    assert result.update is None
    assert result.verdicts[recording.key] == (
        Verdict.EXPIRED,
        "Outreach refused a link for its 1-hour window",
    )


def test_it_sends_a_final_state_however_old_with_its_true_time() -> None:
    ended = happened(H.ENDED, 20)
    recording = happened(H.RECORDING_READY, 30, link=RECORDING)

    result = plan(
        IN,
        ended,
        recording,
        reported=Reported(state=S.IN_PROGRESS, state_changed_at=at(4)),
        now=at(20) + timedelta(days=7),
    )

    assert result.update == Update(
        state=S.COMPLETED, state_changed_at=at(20), recording_url=RECORDING
    )
    assert result.verdicts[ended.key][0] is Verdict.APPLIED


def test_it_waits_the_settle_time_before_sending_a_final_state() -> None:
    answered = happened(H.ANSWERED, 4)
    ended = Happened(key="ended", kind=H.ENDED, at=at(20), arrived_at=at(21))

    waiting = plan(IN, answered, ended, now=at(22), settle=timedelta(seconds=5))
    settled = plan(
        IN,
        answered,
        ended,
        reported=Reported(state=S.IN_PROGRESS, state_changed_at=at(4)),
        now=at(26),
        settle=timedelta(seconds=5),
    )

    assert waiting.update == Update(state=S.IN_PROGRESS, state_changed_at=at(4))
    assert waiting.settle_until == at(26)
    assert waiting.verdicts["ended"][0] is Verdict.HELD
    assert settled.update == Update(state=S.COMPLETED, state_changed_at=at(20))
    assert settled.settle_until is None


def test_it_lets_an_earlier_ending_arriving_within_the_settle_time_decide() -> None:
    # An inbound call rejected by the agent, then taken by voicemail; the provider's retry of
    # "rejected" arrives 3 s after "ended".
    happenings = [
        Happened(key="ringing", kind=H.RINGING, at=at(1), arrived_at=at(1)),
        Happened(key="voicemail", kind=H.ANSWERED_BY_VOICEMAIL, at=at(8), arrived_at=at(8)),
        Happened(key="ended", kind=H.ENDED, at=at(30), arrived_at=at(30)),
        Happened(key="rejected", kind=H.REJECTED, at=at(7), arrived_at=at(33)),
    ]

    result = plan_next_update(
        direction=IN,
        happenings=happenings,
        reported=Reported(state=S.RINGING, state_changed_at=at(1)),
        now=at(38),
        settle=timedelta(seconds=5),
    )

    assert result.update == Update(state=S.BUSY, state_changed_at=at(7))


@pytest.mark.parametrize(
    ("happenings", "final"),
    [
        ((H.RINGING, H.ANSWERED_BY_VOICEMAIL, H.ENDED), S.NO_ANSWER),
        ((H.RINGING, H.VOICEMAIL_LEFT, H.ENDED), S.NO_ANSWER),
        ((H.RINGING, H.REJECTED, H.ANSWERED_BY_VOICEMAIL, H.ENDED), S.BUSY),
        ((H.RINGING, H.ANSWERED_BY_VOICEMAIL, H.ENDED, H.REJECTED), S.BUSY),
        ((H.RINGING, H.ANSWERED, H.ENDED), S.COMPLETED),
    ],
    ids=["voicemail-then-ended", "voicemail-left", "rejected", "rejected-after", "answered"],
)
def test_it_never_counts_an_inbound_voicemail_as_a_conversation(
    happenings: tuple[Happening, ...], final: OutreachState
) -> None:
    result = plan(
        IN,
        *(
            happened(kind, 10 * index, link=VOICEMAIL if kind is H.VOICEMAIL_LEFT else None)
            for index, kind in enumerate(happenings, start=1)
        ),
    )

    assert result.final_state is final


@pytest.mark.parametrize("direction", [IN, OUT])
@pytest.mark.parametrize("ending", [H.NOT_ANSWERED, H.CALLER_HUNG_UP])
def test_a_call_answered_before_an_ending_that_says_nobody_answered_is_completed(
    direction: Direction, ending: Happening
) -> None:
    # A provider judging each snapshot alone (Finesse's dropped dialog) can contradict itself;
    # whichever order the happenings arrive in, the answer wins.
    happenings = [happened(H.RINGING, 1), happened(H.ANSWERED, 5), happened(ending, 60)]
    for ordering in (happenings, happenings[::-1]):
        result = plan(direction, *ordering, reported=Reported(state=S.IN_PROGRESS))
        assert result.final_state is S.COMPLETED
        assert result.update == Update(state=S.COMPLETED, state_changed_at=at(60))
    # Before any answer, the same ending keeps its meaning.
    assert plan(direction, happened(H.RINGING, 1), happened(ending, 60)).final_state in (
        S.NO_ANSWER,
        S.CANCELED,
    )


def test_an_outbound_answering_machine_is_an_answer_an_inbound_voicemail_is_not() -> None:
    machine = [happened(H.ANSWERED_BY_VOICEMAIL, 5), happened(H.NOT_ANSWERED, 60)]
    assert plan(OUT, *machine).final_state is S.COMPLETED
    assert plan(IN, *machine).final_state is S.NO_ANSWER


def test_it_dates_initiated_by_the_dial_whatever_arrived_first() -> None:
    result = plan(OUT, happened(H.ENDED, 40), happened(H.ANSWERED, 20), happened(H.DIALLING, 3))

    assert result.update == Update(state=S.INITIATED, state_changed_at=at(3))


def test_it_lists_a_different_ending_that_arrives_after_outreach_has_the_final_state() -> None:
    late = Happened(key="rejected", kind=H.REJECTED, at=at(7), arrived_at=at(100))
    again = Happened(key="ended-again", kind=H.ENDED, at=at(31), arrived_at=at(100))

    result = plan(
        IN,
        happened(H.ANSWERED, 5),
        happened(H.ENDED, 30),
        late,
        again,
        reported=Reported(state=S.COMPLETED, state_changed_at=at(30), final_accepted_at=at(40)),
    )

    assert result.late == ("rejected",)
    assert result.update is None


@pytest.mark.parametrize(
    ("happenings", "closed_as"),
    [
        ((H.DIALLING, H.RINGING), S.FAILED),
        ((H.DIALLING, H.RINGING, H.ANSWERED), S.COMPLETED),
        ((H.DIALLING, H.ANSWERED_BY_VOICEMAIL), S.COMPLETED),
    ],
    ids=["nobody-answered", "answered", "machine-answered"],
)
def test_it_closes_a_call_whose_provider_never_said_how_it_ended(
    happenings: tuple[Happening, ...], closed_as: OutreachState
) -> None:
    known = [happened(kind, 10 * index) for index, kind in enumerate(happenings)]

    closing = give_up_happening(direction=OUT, happenings=known)

    assert closing is not None
    kind, closed_at = closing
    result = plan(OUT, *known, happened(kind, 10 * len(known)), now=at(10_000))
    assert result.final_state is closed_as
    assert closed_at == known[-1].at


@pytest.mark.parametrize(
    ("kind", "link", "reason"),
    [
        (H.RECORDING_READY, "https://x.example/" + "a" * RECORDING_URL_MAX,
         "link is 273 characters, Outreach accepts at most 255"),
        (H.VOICEMAIL_LEFT, "https://x.example/" + "a" * VOICEMAIL_URL_MAX,
         "link is 1042 characters, Outreach accepts at most 1024"),
        (H.RECORDING_READY, "ftp://media.example.com/1.mp3",
         "link is not an http(s) URL a user could open"),
        (H.RECORDING_READY, "https:///1.mp3", "link is not an http(s) URL a user could open"),
        (H.VOICEMAIL_LEFT, None, "no link given"),
    ],
    ids=["long-recording", "long-voicemail", "ftp", "no-host", "missing"],
)  # fmt: skip
def test_it_ignores_links_outreach_would_refuse(
    kind: Happening, link: str | None, reason: str
) -> None:
    bad = happened(kind, 30, link=link)
    ending = H.ENDED if kind is H.RECORDING_READY else H.REJECTED

    result = plan(IN, happened(ending, 20), bad)

    assert result.update is not None
    assert result.update.recording_url is None
    assert result.update.voicemail_url is None
    assert result.verdicts[bad.key] == (Verdict.IGNORED, reason)


def test_it_accepts_links_at_their_maximum_length() -> None:
    link = "https://x.example/" + "a" * (RECORDING_URL_MAX - len("https://x.example/"))

    result = plan(IN, happened(H.ENDED, 20), happened(H.RECORDING_READY, 30, link=link))

    assert result.update is not None
    assert result.update.recording_url == link


def test_it_sends_only_the_newest_recording() -> None:
    older = happened(H.RECORDING_READY, 30, link=RECORDING)
    newer = happened(H.RECORDING_READY, 40, link=RECORDING + "?take=2")

    result = plan(IN, newer, happened(H.ENDED, 20), older)

    assert result.update is not None
    assert result.update.recording_url == newer.link
    assert result.verdicts[older.key] == (Verdict.IGNORED, "superseded by a newer recording link")


def test_it_does_not_resend_a_reported_link() -> None:
    recording = happened(H.RECORDING_READY, 30, link=RECORDING)

    result = plan(
        IN,
        happened(H.ENDED, 20),
        recording,
        reported=Reported(state=S.COMPLETED, state_changed_at=at(20), recording_url=RECORDING),
    )

    assert result.update is None
    assert result.verdicts[recording.key] == (Verdict.APPLIED, "recording link already reported")


def test_it_counts_duplicate_happenings_once() -> None:
    ringing = happened(H.RINGING, 1, key="row-1")
    # A retried delivery of the same happening, stamped when it was resent.
    retried = happened(H.RINGING, 7, key="row-1", seq=7)

    result = plan(IN, ringing, happened(H.ANSWERED, 3, key="row-2"), retried)

    assert result.verdicts == {
        "row-1": (Verdict.APPLIED, "superseded by in progress"),
        "row-2": (Verdict.APPLIED, "to be reported as in progress"),
    }
    assert result.update == Update(state=S.IN_PROGRESS, state_changed_at=at(3))


def test_it_dates_a_state_by_the_first_happening_that_reached_it() -> None:
    result = plan(IN, happened(H.RINGING, 2, key="a"), happened(H.RINGING, 5, key="b"))

    assert result.update == Update(state=S.RINGING, state_changed_at=at(2))


def test_it_sends_nothing_when_outreach_is_up_to_date() -> None:
    result = plan(
        IN, happened(H.RINGING, 1), reported=Reported(state=S.RINGING, state_changed_at=at(1))
    )

    assert result.update is None


def test_it_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        Happened(key="k", kind=H.RINGING, at=datetime(2025, 3, 3, 9, 0))


def test_it_orders_states_as_outreach_does() -> None:
    assert rank(S.INITIATED) < rank(S.RINGING) < rank(S.IN_PROGRESS) < rank(S.BUSY)
    assert {state for state in S if is_final(state)} == {
        S.COMPLETED,
        S.FAILED,
        S.NO_ANSWER,
        S.BUSY,
        S.CANCELED,
    }
