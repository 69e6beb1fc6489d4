"""The Outreach call-state rules: the one place where the Voice Extensibility contract's rules live.

Adapters turn a provider's events into *happenings*: what happened on the phone, not what to tell
Outreach. `plan_next_update` turns a call's direction and all its happenings so far into the next
PATCH /calls/{id} to send, plus a verdict on every happening for support staff. It is pure: no
Django, no clock, no I/O; the pipeline calls it again after every successful delivery.

How happenings map to Outreach states (reference for adapter authors)
---------------------------------------------------------------------

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
ended                    completed (final)            after being answered, by person or machine
recording_ready          recordingUrl                 carries `link`; completed calls only
voicemail_left           voicemailUrl                 carries `link`; inbound busy / no answer only
=======================  ===========================  ==========================================

Outreach's final-state table, expressed as happenings (the final state depends only on the
terminal happening, so the result does not depend on the order in which happenings arrive):

=========  ===============================================  =====================================
Direction  Outreach's "Result"                              Happenings an adapter emits -> final
=========  ===============================================  =====================================
both       answered by the callee                           answered, ended -> completed
both       caller cancels before callee or voicemail        caller_hung_up -> canceled
both       fails to set up (SIP 480 etc.)                   setup_failed -> failed
inbound    user rejects                                     rejected -> busy
inbound    user rejects and voicemail picks up              rejected, voicemail_left -> busy
inbound    times out                                        not_answered -> no answer
inbound    times out and voicemail picks up                 not_answered, voicemail_left
                                                            -> no answer
outbound   callee rejects                                   rejected -> busy
outbound   callee rejects and voicemail picks up            answered_by_voicemail, ended
                                                            -> completed
outbound   times out                                        not_answered -> no answer
outbound   times out and voicemail picks up                 answered_by_voicemail, ended
                                                            -> completed
=========  ===============================================  =====================================

(Each row may be preceded by dialling / ringing; an inbound voicemail pickup may also be
reported as answered_by_voicemail, which changes nothing.)

The contract's rules applied here
---------------------------------

- States only move forward: initiated < ringing < in progress < the final states. Several
  pending changes are coalesced into the newest one, stamped with the time it happened.
- Outbound calls report initiated first, on their own, because Outreach treats an outbound call
  as failed without it (INITIATED_DEADLINE).
- The first terminal happening (by time, then arrival) decides the final state; state
  happenings after it are ignored, because Outreach refuses any change to a final state.
- A recording link only for a completed call, a voicemail link only for an inbound call that
  ended busy or no answer; links wait (HELD) until the final state is known, and are sent
  with the final state or on their own. One recording per call: the newest link wins.
- Nothing is sent more than LINK_WINDOW after the call ended: Outreach returns errors then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

# Outreach only accepts updates (links included) up to an hour after the call ended.
LINK_WINDOW = timedelta(hours=1)
# Outreach treats an outbound call as failed unless "initiated" arrives within 5 seconds of the
# tel: launch; the pipeline uses this to prioritise that first delivery.
INITIATED_DEADLINE = timedelta(seconds=5)
# Outreach's column sizes for recordingUrl and voicemailUrl: a longer link is refused.
RECORDING_URL_MAX = 255
VOICEMAIL_URL_MAX = 1024


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class OutreachState(StrEnum):
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_ANSWER = "no answer"
    BUSY = "busy"
    CANCELED = "canceled"


class Happening(StrEnum):
    DIALLING = "dialling"
    RINGING = "ringing"
    ANSWERED = "answered"
    ANSWERED_BY_VOICEMAIL = "answered_by_voicemail"
    REJECTED = "rejected"
    NOT_ANSWERED = "not_answered"
    CALLER_HUNG_UP = "caller_hung_up"
    SETUP_FAILED = "setup_failed"
    ENDED = "ended"
    RECORDING_READY = "recording_ready"
    VOICEMAIL_LEFT = "voicemail_left"


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


@dataclass(frozen=True, kw_only=True)
class Update:
    """One PATCH /calls/{id}."""

    state: OutreachState | None
    state_changed_at: datetime | None
    recording_url: str | None = None
    voicemail_url: str | None = None

    def as_attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = {}
        if self.state is not None:
            attributes["state"] = str(self.state)
        if self.state_changed_at is not None:
            utc = self.state_changed_at.astimezone(UTC)
            attributes["stateChangedAt"] = (
                utc.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
            )
        if self.recording_url is not None:
            attributes["recordingUrl"] = self.recording_url
        if self.voicemail_url is not None:
            attributes["voicemailUrl"] = self.voicemail_url
        return attributes


@dataclass(frozen=True, kw_only=True)
class Plan:
    update: Update | None  # the next request to send, or None if Outreach is up to date
    verdicts: Mapping[str, tuple[Verdict, str]]  # every happening key: verdict and reason
    final_state: OutreachState | None
    ended_at: datetime | None  # the final state's stateChangedAt
    window_closes_at: datetime | None  # ended_at + LINK_WINDOW


def implied_state(kind: Happening, direction: Direction) -> OutreachState | None:
    """The Outreach state a happening moves the call to, or None if it is not a state change."""
    if kind is Happening.ANSWERED_BY_VOICEMAIL:
        return OutreachState.IN_PROGRESS if direction is Direction.OUTBOUND else None
    return _STATE_OF.get(kind)


def plan_next_update(
    *,
    direction: Direction,
    happenings: Sequence[Happened],
    reported: Reported,
    now: datetime,
) -> Plan:
    ordered: dict[str, Happened] = {}
    for happened in sorted(happenings, key=lambda h: (h.at, h.seq)):
        ordered.setdefault(happened.key, happened)  # a redelivered happening counts once

    verdicts: dict[str, tuple[Verdict, str]] = {}
    state_changes: list[tuple[Happened, OutreachState]] = []
    recordings: list[Happened] = []
    voicemails: list[Happened] = []
    for happened in ordered.values():
        state = implied_state(happened.kind, direction)
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

    considered, final_state, ended_at = _cut_at_final_state(state_changes, reported, verdicts)
    window_closes_at = ended_at + LINK_WINDOW if ended_at is not None else None
    expired_reason = f"past Outreach's 1-hour window, which closed at {window_closes_at}"
    window_open = window_closes_at is None or now <= window_closes_at

    state_update = _plan_state(
        direction=direction,
        considered=considered,
        reported=reported,
        window_open=window_open,
        expired_reason=expired_reason,
        verdicts=verdicts,
    )

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
        final_state=final_state,
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
        final_state=final_state,
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
        window_closes_at=window_closes_at,
    )


def _cut_at_final_state(
    state_changes: list[tuple[Happened, OutreachState]],
    reported: Reported,
    verdicts: dict[str, tuple[Verdict, str]],
) -> tuple[list[tuple[Happened, OutreachState]], OutreachState | None, datetime | None]:
    """Find the happening that decides the final state and ignore state changes after it.

    Returns the state changes up to and including that happening, the final state and when the
    call ended. Once Outreach has a final state that one decides, even if a terminal happening
    with an earlier time arrives late.
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
        return state_changes, final_state, ended_at
    for happened, _ in state_changes[deciding + 1 :]:
        verdicts[happened.key] = (Verdict.IGNORED, f"after final state {final_state}")
    return state_changes[: deciding + 1], final_state, ended_at


def _plan_state(
    *,
    direction: Direction,
    considered: list[tuple[Happened, OutreachState]],
    reported: Reported,
    window_open: bool,
    expired_reason: str,
    verdicts: dict[str, tuple[Verdict, str]],
) -> tuple[OutreachState, datetime] | None:
    """Give each state change its verdict; return the state to send and its time, if any."""
    if not considered:
        return None
    # The furthest state wins (skip forward); the first happening that reached it dates it.
    target_index = max(range(len(considered)), key=lambda i: (rank(considered[i][1]), -i))
    target_happened, target = considered[target_index]
    current = reported.state
    for index, (happened, state) in enumerate(considered):
        reflected = state is current or (
            rank(state) < rank(current)
            and reported.state_changed_at is not None
            and happened.at <= reported.state_changed_at
        )
        if reflected:
            verdicts[happened.key] = (Verdict.APPLIED, f"reflected in reported state {current}")
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
        elif not window_open:
            verdicts[happened.key] = (Verdict.EXPIRED, expired_reason)
        elif state is target:
            verdicts[happened.key] = (Verdict.APPLIED, f"to be reported as {target}")
        else:
            verdicts[happened.key] = (Verdict.APPLIED, f"superseded by {target}")

    if rank(target) <= rank(current) or is_final(current) or not window_open:
        return None
    if direction is Direction.OUTBOUND and current is None:
        # Outreach treats an outbound call as failed unless "initiated" comes first, so it is
        # sent alone, dated when the call started; the newest state follows in the next update.
        return OutreachState.INITIATED, considered[0][0].at
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
