"""The Outreach call-state rules: the one place where the Voice Extensibility contract's rules live.

Provider classes turn their events into *happenings*: what happened on the phone, not what to tell
Outreach. `plan_next_update` turns a call's direction and all its happenings so far into the next
PATCH /calls/{id} to send, plus a verdict on every happening for support staff. It is pure: no
Django, no clock, no I/O; the pipeline calls it again after every successful delivery.

How happenings map to Outreach states (reference for provider authors)
----------------------------------------------------------------------

=======================  ===========================  ==========================================
Happening                Outreach state               Notes
=======================  ===========================  ==========================================
dialling                 initiated
ringing                  ringing
answered                 in progress                  a person answered
answered_by_voicemail    outbound: in progress        outbound: the call connected to a machine.
                         inbound: no change           inbound: voicemail only picks up after the
                                                      agent rejected or did not answer, and the
                                                      final state comes from that happening.
rejected                 busy (final)                 callee or agent rejected the call
not_answered             no answer (final)            the call timed out
caller_hung_up           canceled (final)             before anyone or anything answered
setup_failed             failed (final)               SIP 480 etc.
ended                    completed (final)            after being answered, by person or machine;
                                                      inbound: after voicemail picked up and no
                                                      person answered, busy if the agent rejected
                                                      the call, otherwise no answer
recording_ready          recordingUrl                 carries `link`; completed calls only
voicemail_left           voicemailUrl                 carries `link`; inbound busy / no answer only
=======================  ===========================  ==========================================

Outreach's final-state table, expressed as happenings (the final state depends only on the
terminal happening - except that not_answered or caller_hung_up after an answer is taken as the
call ending, completed, since a provider that reads each snapshot alone can say "nobody
answered" of a call it said was answered - so the result does not depend on the order in which
happenings arrive):

=========  ===================================  ===========  ============  =====================
Happenings (outbound, no id)    final state  outcome       answeredAt
==============================  ===========  ============  =====================
answered, ended                 completed    answered      answered
answered_by_voicemail, ended    completed    answered      answered_by_voicemail
rejected                        busy         not answered  none
not_answered                    no answer    not answered  none
caller_hung_up                  canceled     not answered  none
setup_failed                    failed       not answered  none
==============================  ===========  ============  =====================

`completedAt` is the deciding happening's time (the final state's stateChangedAt); `answeredAt`
the first answer (by a person or a machine) before it. The outcome's words on the wire, and the
user, prospect and task, are the Outreach client's business. Recording and voicemail links are
not part of a logged call and are ignored; once the call is logged nothing more is sent, and a
state happening arriving after it that would have said something else is listed in `late`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

# The vocabulary providers speak (a contract module, pure like this one); re-exported here
# because the rules are written in it.
from integrations.events import RECORDING_URL_MAX, VOICEMAIL_URL_MAX, Direction, Happening

__all__ = [
    "RECORDING_URL_MAX",
    "VOICEMAIL_URL_MAX",
    "Direction",
    "Happening",
]

# Outreach only accepts updates (links included) up to an hour after the call ended.
LINK_WINDOW = timedelta(hours=1)


class OutreachState(StrEnum):
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_ANSWER = "no answer"
    BUSY = "busy"
    CANCELED = "canceled"


class Verdict(StrEnum):
    APPLIED = "applied"  # reflected in what Outreach has or will be sent
    IGNORED = "ignored"  # never sent; the reason says which rule
    HELD = "held"  # a link waiting for the final state
    EXPIRED = "expired"  # past Outreach's 1-hour window, never sent


FINAL_STATES = frozenset(
    {
        OutreachState.COMPLETED,
        OutreachState.FAILED,
        OutreachState.NO_ANSWER,
        OutreachState.BUSY,
        OutreachState.CANCELED,
    }
)

_RANKS = {
    OutreachState.INITIATED: 0,
    OutreachState.RINGING: 1,
    OutreachState.IN_PROGRESS: 2,
} | dict.fromkeys(FINAL_STATES, 3)

_STATE_OF = {
    Happening.DIALLING: OutreachState.INITIATED,
    Happening.RINGING: OutreachState.RINGING,
    Happening.ANSWERED: OutreachState.IN_PROGRESS,
    Happening.REJECTED: OutreachState.BUSY,
    Happening.NOT_ANSWERED: OutreachState.NO_ANSWER,
    Happening.CALLER_HUNG_UP: OutreachState.CANCELED,
    Happening.SETUP_FAILED: OutreachState.FAILED,
    Happening.ENDED: OutreachState.COMPLETED,
}


def is_final(state: OutreachState | None) -> bool:
    return state in FINAL_STATES


def rank(state: OutreachState | None) -> int:
    """Position in Outreach's state order; all final states share the top, None is below all."""
    return -1 if state is None else _RANKS[state]


@dataclass(frozen=True, kw_only=True)
class Happened:
    key: str  # stable identity: the pipeline passes the inbox row id / dedup key
    kind: Happening
    at: datetime  # when it happened on the phone
    seq: int = 0  # arrival order, only to break ties in `at`
    link: str | None = None  # for RECORDING_READY / VOICEMAIL_LEFT
    arrived_at: datetime | None = None  # when we heard of it; None: long enough ago to count

    def __post_init__(self) -> None:
        # Naive times would be silently misread as UTC in stateChangedAt.
        if self.at.tzinfo is None:
            raise ValueError(f"happening {self.key} has a naive time: {self.at!r}")


@dataclass(frozen=True, kw_only=True)
class Reported:
    """What Outreach already has for this call, from successful deliveries."""

    state: OutreachState | None = None
    state_changed_at: datetime | None = None
    recording_url: str | None = None
    voicemail_url: str | None = None
    final_accepted_at: datetime | None = None  # when Outreach accepted the final state
    links_closed: bool = False  # Outreach refused a link for its 1-hour window


@dataclass(frozen=True, kw_only=True)
class Update:
    """One PATCH /calls/{id}."""

    state: OutreachState | None
    state_changed_at: datetime | None
    recording_url: str | None = None
    voicemail_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class Plan:
    update: Update | None  # the next request to send, or None if Outreach is up to date
    verdicts: Mapping[str, tuple[Verdict, str]]  # every happening key: verdict and reason
    final_state: OutreachState | None
    ended_at: datetime | None  # the final state's stateChangedAt
    # The final state is known but waits for earlier happenings still on their way: look again
    # then (the update, if any, carries only what may go before the final state).
    settle_until: datetime | None = None
    # State happenings that arrived after Outreach accepted the final state: too late to count.
    late: tuple[str, ...] = ()


def implied_state(
    kind: Happening, direction: Direction, *, voicemail_took_it: bool = False
) -> OutreachState | None:
    """The Outreach state a happening moves the call to, or None if it is not a state change.

    `voicemail_took_it`: an inbound call's voicemail picked up and no person answered, so its
    end is not a completed conversation."""
    if kind is Happening.ANSWERED_BY_VOICEMAIL:
        return OutreachState.IN_PROGRESS if direction is Direction.OUTBOUND else None
    if kind is Happening.ENDED and voicemail_took_it:
        return OutreachState.NO_ANSWER
    return _STATE_OF.get(kind)


def _voicemail_took_it(direction: Direction, kinds: set[Happening]) -> bool:
    return (
        direction is Direction.INBOUND
        and bool(kinds & {Happening.ANSWERED_BY_VOICEMAIL, Happening.VOICEMAIL_LEFT})
        and Happening.ANSWERED not in kinds
    )


# What counts as an answer, by direction: an outbound call's answering machine is one; an
# inbound call's voicemail is not (it picks up because nobody answered).
_ANSWERS = {
    Direction.OUTBOUND: frozenset({Happening.ANSWERED, Happening.ANSWERED_BY_VOICEMAIL}),
    Direction.INBOUND: frozenset({Happening.ANSWERED}),
}
# Endings that say nobody answered: after an answer they are taken as the call ending.
_UNANSWERED_ENDS = frozenset({Happening.NOT_ANSWERED, Happening.CALLER_HUNG_UP})


def give_up_happening(
    *, direction: Direction, happenings: Sequence[Happened]
) -> tuple[Happening, datetime] | None:
    """The happening that closes a call whose provider never said how it ended: ended
    (completed) if anyone - or an outbound call's answering machine - answered, otherwise
    setup_failed (failed), dated at its last happening. None without a happening to date it."""
    if not happenings:
        return None
    kinds = {happened.kind for happened in happenings}
    last = max(happened.at for happened in happenings)
    return (Happening.ENDED if kinds & _ANSWERS[direction] else Happening.SETUP_FAILED), last


def plan_next_update(
    *,
    direction: Direction,
    happenings: Sequence[Happened],
    reported: Reported,
    now: datetime,
    settle: timedelta = timedelta(0),
) -> Plan:
    ordered: dict[str, Happened] = {}
    for happened in sorted(happenings, key=lambda h: (h.at, h.seq)):
        ordered.setdefault(happened.key, happened)  # a redelivered happening counts once

    voicemail_took_it = _voicemail_took_it(direction, {h.kind for h in ordered.values()})
    rejected = any(h.kind is Happening.REJECTED for h in ordered.values())
    answers = _ANSWERS[direction]
    answered = False
    verdicts: dict[str, tuple[Verdict, str]] = {}
    state_changes: list[tuple[Happened, OutreachState]] = []
    recordings: list[Happened] = []
    voicemails: list[Happened] = []
    for happened in ordered.values():
        state = implied_state(happened.kind, direction, voicemail_took_it=voicemail_took_it)
        if state is OutreachState.NO_ANSWER and happened.kind is Happening.ENDED and rejected:
            state = OutreachState.BUSY
        if answered and happened.kind in _UNANSWERED_ENDS:
            # A provider that judges each snapshot alone (Finesse's dropped dialog without a
            # wrap-up) may say "not answered" of a call it said was answered: it ended.
            state = OutreachState.COMPLETED
        # An answer heard of only after Outreach took the final state changes nothing (`late`).
        answered = answered or (happened.kind in answers and not _after_final(happened, reported))
        if state is not None:
            state_changes.append((happened, state))
        elif happened.kind is Happening.RECORDING_READY:
            recordings.append(happened)
        elif happened.kind is Happening.VOICEMAIL_LEFT:
            voicemails.append(happened)
        else:
            verdicts[happened.key] = (
                Verdict.IGNORED,
                "voicemail picked up an inbound call after it was rejected or not answered; "
                "that rejection or time-out decides the state",
            )

    considered, final_state, ended_at, deciding = _cut_at_final_state(
        state_changes, reported, verdicts
    )
    late = _late(state_changes, reported, final_state)
    settle_until = None
    if deciding is not None and not is_final(reported.state):
        arrived = deciding.arrived_at
        if arrived is not None and now < arrived + settle:
            settle_until = arrived + settle
            considered = considered[:-1]  # everything before the deciding happening may go
            verdicts[deciding.key] = (
                Verdict.HELD,
                f"{final_state} waits until {settle_until:%H:%M:%S} for earlier events "
                "still on their way",
            )

    if reported.links_closed:
        window_open = False
        expired_reason = "Outreach refused a link for its 1-hour window"
    else:
        window_closes_at = (
            reported.final_accepted_at + LINK_WINDOW if reported.final_accepted_at else None
        )
        window_open = window_closes_at is None or now <= window_closes_at
        expired_reason = (
            f"past Outreach's 1-hour window, which closed at {window_closes_at:%Y-%m-%d %H:%M:%S}"
            if window_closes_at
            else ""
        )

    state_update = _plan_state(
        direction=direction,
        considered=considered,
        reported=reported,
        verdicts=verdicts,
    )
    link_final_state = None if settle_until else final_state

    if is_final(final_state) and final_state is not OutreachState.COMPLETED:
        recording_problem = f"recording only for completed calls (final state: {final_state})"
    else:
        recording_problem = None
    recording_url = _plan_links(
        recordings,
        what="recording",
        max_length=RECORDING_URL_MAX,
        reported_url=reported.recording_url,
        problem=recording_problem,
        final_state=link_final_state,
        window_open=window_open,
        expired_reason=expired_reason,
        verdicts=verdicts,
    )
    if direction is Direction.OUTBOUND:
        voicemail_problem: str | None = "voicemail links are only for inbound calls"
    elif final_state in (None, OutreachState.BUSY, OutreachState.NO_ANSWER):
        voicemail_problem = None
    else:
        voicemail_problem = (
            f"voicemail only for inbound calls that end busy or no answer "
            f"(final state: {final_state})"
        )
    voicemail_url = _plan_links(
        voicemails,
        what="voicemail",
        max_length=VOICEMAIL_URL_MAX,
        reported_url=reported.voicemail_url,
        problem=voicemail_problem,
        final_state=link_final_state,
        window_open=window_open,
        expired_reason=expired_reason,
        verdicts=verdicts,
    )

    # Outreach accepts a link only on a call in its final state, so a link rides with the final
    # state or goes alone after it; while "initiated" goes first it waits for the next update.
    state, state_changed_at = state_update or (None, None)
    if not is_final(state or reported.state):
        recording_url = voicemail_url = None
    if state or recording_url or voicemail_url:
        update = Update(
            state=state,
            state_changed_at=state_changed_at,
            recording_url=recording_url,
            voicemail_url=voicemail_url,
        )
    else:
        update = None
    return Plan(
        update=update,
        verdicts=verdicts,
        final_state=final_state,
        ended_at=ended_at,
        settle_until=settle_until,
        late=late,
    )


def _cut_at_final_state(
    state_changes: list[tuple[Happened, OutreachState]],
    reported: Reported,
    verdicts: dict[str, tuple[Verdict, str]],
) -> tuple[
    list[tuple[Happened, OutreachState]], OutreachState | None, datetime | None, Happened | None
]:
    """Find the happening that decides the final state and ignore state changes after it.

    Returns the state changes up to and including that happening, the final state, when the
    call ended and the deciding happening. Once Outreach has a final state that one decides,
    even if a terminal happening with an earlier time arrives late.
    """
    if is_final(reported.state):
        deciding = next(
            (i for i, (_, state) in enumerate(state_changes) if state is reported.state), None
        )
        final_state, ended_at = reported.state, reported.state_changed_at
    else:
        deciding = next((i for i, (_, state) in enumerate(state_changes) if is_final(state)), None)
        final_state, ended_at = None, None
        if deciding is not None:
            final_happened, final_state = state_changes[deciding]
            ended_at = final_happened.at
    if deciding is None:
        return state_changes, final_state, ended_at, None
    for happened, _ in state_changes[deciding + 1 :]:
        verdicts[happened.key] = (Verdict.IGNORED, f"after final state {final_state}")
    return state_changes[: deciding + 1], final_state, ended_at, state_changes[deciding][0]


def _after_final(happened: Happened, reported: Reported) -> bool:
    accepted = reported.final_accepted_at
    return (
        accepted is not None and happened.arrived_at is not None and happened.arrived_at > accepted
    )


def _late(
    state_changes: list[tuple[Happened, OutreachState]],
    reported: Reported,
    final_state: OutreachState | None,
) -> tuple[str, ...]:
    """State happenings that came after Outreach accepted the final state and would have said
    something else (an earlier ending, a different outcome)."""
    accepted = reported.final_accepted_at
    if accepted is None or not is_final(reported.state):
        return ()
    return tuple(
        happened.key
        for happened, state in state_changes
        if happened.arrived_at is not None
        and happened.arrived_at > accepted
        and (
            (is_final(state) and state is not final_state)
            or (reported.state_changed_at is not None and happened.at < reported.state_changed_at)
        )
    )


def _plan_state(
    *,
    direction: Direction,
    considered: list[tuple[Happened, OutreachState]],
    reported: Reported,
    verdicts: dict[str, tuple[Verdict, str]],
) -> tuple[OutreachState, datetime] | None:
    """Give each state change its verdict; return the state to send and its time, if any.

    No window here: a state, final ones included, is always worth sending."""
    if not considered:
        return None
    # The furthest state wins (skip forward); the first happening that reached it dates it.
    target_index = max(range(len(considered)), key=lambda i: (rank(considered[i][1]), -i))
    target_happened, target = considered[target_index]
    current = reported.state
    for index, (happened, state) in enumerate(considered):
        if state is current:
            verdicts[happened.key] = (Verdict.APPLIED, f"Outreach has {current}")
        elif (
            rank(state) < rank(current)
            and reported.state_changed_at is not None
            and happened.at <= reported.state_changed_at
        ):
            verdicts[happened.key] = (
                Verdict.APPLIED,
                f"happened before {current}, which Outreach already has",
            )
        elif is_final(current):
            verdicts[happened.key] = (Verdict.IGNORED, f"call already final: {current}")
        elif rank(state) < rank(current):
            verdicts[happened.key] = (
                Verdict.IGNORED,
                f"would move the call backwards from {current}",
            )
        elif index > target_index and rank(state) < rank(target):
            verdicts[happened.key] = (
                Verdict.IGNORED,
                f"would move the call backwards from {target}",
            )
        elif state is target:
            verdicts[happened.key] = (Verdict.APPLIED, f"to be reported as {target}")
        else:
            verdicts[happened.key] = (Verdict.APPLIED, f"superseded by {target}")

    if rank(target) <= rank(current) or is_final(current):
        return None
    if direction is Direction.OUTBOUND and current is None:
        # Outreach treats an outbound call as failed unless "initiated" comes first, so it is
        # sent alone, dated by the dial; the newest state follows in the next update.
        dialled = [h.at for h, state in considered if state is OutreachState.INITIATED]
        return OutreachState.INITIATED, min(dialled or [considered[0][0].at])
    return target, target_happened.at


def _plan_links(
    links: list[Happened],
    *,
    what: str,
    max_length: int,
    reported_url: str | None,
    problem: str | None,
    final_state: OutreachState | None,
    window_open: bool,
    expired_reason: str,
    verdicts: dict[str, tuple[Verdict, str]],
) -> str | None:
    """Give each link of one kind its verdict; return the link to send, if any.

    `problem` is why links of this kind do not belong on this call, if they don't.
    """
    usable: list[Happened] = []
    for happened in links:
        refusal = problem or _link_refusal(happened.link, max_length)
        if refusal:
            verdicts[happened.key] = (Verdict.IGNORED, refusal)
        elif final_state is None:
            verdicts[happened.key] = (Verdict.HELD, "waiting for the final state")
        else:
            usable.append(happened)
    if not usable:
        return None
    # Outreach keeps a single link per kind ("A single URL shall be provided"): the newest.
    newest = usable[-1].link
    for happened in usable:
        if happened.link != newest:
            verdicts[happened.key] = (Verdict.IGNORED, f"superseded by a newer {what} link")
        elif newest == reported_url:
            verdicts[happened.key] = (Verdict.APPLIED, f"{what} link already reported")
        elif not window_open:
            verdicts[happened.key] = (Verdict.EXPIRED, expired_reason)
        else:
            verdicts[happened.key] = (Verdict.APPLIED, f"{what} link to be reported")
    if newest == reported_url or not window_open:
        return None
    return newest


def _link_refusal(link: str | None, max_length: int) -> str | None:
    """Why Outreach would refuse this link, or None if it is acceptable."""
    if not link:
        return "no link given"
    if len(link) > max_length:
        return f"link is {len(link)} characters, Outreach accepts at most {max_length}"
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "link is not an http(s) URL a user could open"
    return None


# Calls that did not start in Outreach -------------------------------------------------------


class ExternalOutcome(StrEnum):
    """Whether someone or something answered; the client spells it in Outreach's words."""

    ANSWERED = "answered"
    NOT_ANSWERED = "not answered"


@dataclass(frozen=True, kw_only=True)
class ExternalCallLog:
    """The one `POST /calls` that logs a call which did not start in Outreach (seed 003)."""

    outcome: ExternalOutcome
    answered_at: datetime | None
    completed_at: datetime
    final_state: OutreachState  # what decided the outcome, for the timeline's "why"


@dataclass(frozen=True, kw_only=True)
class ExternalPlan:
    log: ExternalCallLog | None  # the record to create now, or None (not ended, settling, logged)
    verdicts: Mapping[str, tuple[Verdict, str]]
    final_state: OutreachState | None
    ended_at: datetime | None
    settle_until: datetime | None = None
    late: tuple[str, ...] = ()


_LINKS = frozenset({Happening.RECORDING_READY, Happening.VOICEMAIL_LEFT})


def plan_external_log(
    *,
    happenings: Sequence[Happened],
    logged: Reported,
    now: datetime,
    settle: timedelta = timedelta(0),
) -> ExternalPlan:
    """The record that logs an outbound call with no Outreach call id, once it has ended.

    `logged` is what Outreach has: empty until the call is logged, then its final state, when
    it ended and when Outreach accepted the record (so late happenings are found as for any
    call). The final state is decided by `plan_next_update`'s rules, never a second way."""
    states = [h for h in happenings if h.kind not in _LINKS]
    plan = plan_next_update(
        direction=Direction.OUTBOUND, happenings=states, reported=logged, now=now, settle=settle
    )
    verdicts = dict(plan.verdicts)
    for happened in happenings:
        if happened.kind in _LINKS:
            verdicts[happened.key] = (
                Verdict.IGNORED,
                "a logged call carries no recording or voicemail link",
            )
    final_state = plan.final_state
    log = None
    if final_state is not None and plan.ended_at is not None and plan.settle_until is None:
        ended_at = plan.ended_at
        answers = [
            h.at for h in states if h.kind in _ANSWERS[Direction.OUTBOUND] and h.at <= ended_at
        ]
        answered = final_state is OutreachState.COMPLETED
        log = ExternalCallLog(
            outcome=ExternalOutcome.ANSWERED if answered else ExternalOutcome.NOT_ANSWERED,
            answered_at=min(answers) if answered and answers else None,
            completed_at=ended_at,
            final_state=final_state,
        )
        if is_final(logged.state):
            wording = f"logged in Outreach as {log.outcome} (ended {final_state})"
        else:
            wording = f"to be logged in Outreach as {log.outcome} (ended {final_state})"
        for key, (verdict, _) in verdicts.items():
            if verdict is Verdict.APPLIED:
                verdicts[key] = (Verdict.APPLIED, wording)
        if is_final(logged.state):
            log = None  # logged once: nothing more is ever sent for it
    return ExternalPlan(
        log=log,
        verdicts=verdicts,
        final_state=final_state,
        ended_at=plan.ended_at,
        settle_until=plan.settle_until,
        late=plan.late,
    )
