"""What a CCAI Platform call object's `status`, `fail_reason` and `call_type` mean as happenings.

Pure (no Django, no I/O): the one table README.md ("Google CCAI Platform: from the call object to
happenings") prints, tested pair by pair. The platform's documents (the seed, "Call status
definitions" and "Call type definitions") name the statuses and call types; they list no
`fail_reason` values beyond the ones below, so what we chose for each is said beside it.

A call object is a snapshot: every happening it implies is returned each time it is read, dated
by the object's own timestamps, and the inbox's de-duplication keys make a repeat count once.
Which Outreach state a happening becomes is `calls.rules`' business, never decided here.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.events import Direction, Happening

H = Happening

# "Call type definitions" (the seed) and the deprecated names the placing API still accepts.
CALL_TYPES: dict[str, Direction] = {
    "Voice Outbound (API)": Direction.OUTBOUND,
    "OutboundCall": Direction.OUTBOUND,
    "Voice Inbound (API)": Direction.INBOUND,
    "IncomingCall": Direction.INBOUND,
    # A scheduled call is the end user asking to be called back: their call, so inbound.
    "Voice Scheduled (API)": Direction.INBOUND,
    "ScheduledCall": Direction.INBOUND,
}

# Every status "Call status definitions" names, in the call object's spelling.
STATUSES = (
    "selecting",
    "queued",
    "assigned",
    "connecting",
    "connected",
    "finished",
    "failed",
    "switching",
    "recovered",
    "scheduled",
    "action_only",
    "action_only_finished",
    "deflected",
    "voicemail",
    "voicemail_received",
    "voicemail_read",
)
FINAL_STATUSES = frozenset(
    {
        "finished",
        "failed",
        "recovered",
        "action_only_finished",
        "deflected",
        "voicemail_received",
        "voicemail_read",
    }
)

# `fail_reason` of a failed call, read with its direction. On an outbound call the end user is
# the callee: their busy line, their rejection and their hanging up before the connect are all
# the callee's doing (rejected -> busy); `expired` is nobody answering in time. On an inbound
# call the end user is the caller: hanging up or abandoning the queue is the caller cancelling.
# Every other value (`nothing` included, and values the documents do not list) is the call
# failing to set up: the status "failed" itself says the call ended before it connected.
OUTBOUND_FAIL_REASONS: dict[str, Happening] = {
    "eu_busy": H.REJECTED,
    "eu_rejected": H.REJECTED,
    "eu_canceled": H.REJECTED,
    "eu_abandoned": H.REJECTED,
    "expired": H.NOT_ANSWERED,
}
INBOUND_FAIL_REASONS: dict[str, Happening] = {
    "eu_canceled": H.CALLER_HUNG_UP,
    "eu_abandoned": H.CALLER_HUNG_UP,
}
# The fail reasons the README's table names (the rest read as "any other").
KNOWN_FAIL_REASONS = ("nothing", *OUTBOUND_FAIL_REASONS)

# Which of the call object's timestamps dates a happening: the first one present, else
# `created_at` (every call object has it).
WHEN_DIALLED = ("created_at",)
WHEN_OFFERED = ("assigned_at", "queued_at", "created_at")
WHEN_ANSWERED = ("connected_at", "ends_at")
WHEN_ENDED = ("ends_at", "connected_at", "assigned_at", "queued_at")


class Unmapped(ValueError):
    """A value the platform's documents do not give (a status, a call type), or one they give
    for the other direction only: kept on the call's timeline as unmapped, never guessed."""


@dataclass(frozen=True)
class Step:
    happening: Happening
    when: tuple[str, ...]  # the call object's timestamps that may date it, in order
    link: str = ""  # a recording or voicemail URL


def direction_of(call_type: str) -> Direction:
    try:
        return CALL_TYPES[call_type]
    except KeyError:
        raise Unmapped(
            f"call_type {call_type!r} is not one the platform documents ({', '.join(CALL_TYPES)})"
        ) from None


def steps_for(
    *,
    direction: Direction,
    status: str,
    fail_reason: str = "",
    recording_url: str = "",
) -> list[Step]:
    """The happenings a call object in `status` implies, in the order they happened."""
    if status not in STATUSES:
        raise Unmapped(f"status {status!r} is not one the platform documents")
    outbound = direction is Direction.OUTBOUND
    if status in ("selecting", "switching", "scheduled", "recovered"):
        # In the menu, moving to another carrier, booked for later, or a parent whose call-back
        # is its own (child) call: nothing a person did on this call yet.
        return []
    if status in ("action_only", "action_only_finished"):
        # Handled by the company's own telephony, which reports the call itself.
        return []
    if status in ("queued", "assigned"):
        return [Step(H.DIALLING, WHEN_DIALLED)] if outbound else [Step(H.RINGING, WHEN_OFFERED)]
    if status == "connecting":
        return [Step(H.RINGING, WHEN_OFFERED)]
    if status == "connected":
        return [Step(H.ANSWERED, WHEN_ANSWERED)]
    if status == "finished":
        steps = [Step(H.ANSWERED, WHEN_ANSWERED), Step(H.ENDED, WHEN_ENDED)]
        if recording_url:
            steps.append(Step(H.RECORDING_READY, WHEN_ENDED, link=recording_url))
        return steps
    if status == "failed":
        table = OUTBOUND_FAIL_REASONS if outbound else INBOUND_FAIL_REASONS
        return [Step(table.get(fail_reason, H.SETUP_FAILED), WHEN_ENDED)]
    # Deflection and voicemail are what an inbound queue does with a caller nobody took.
    if outbound:
        raise Unmapped(f"status {status!r} is documented for inbound calls only")
    if status == "deflected":
        return [Step(H.NOT_ANSWERED, WHEN_ENDED)]
    picked_up = Step(H.ANSWERED_BY_VOICEMAIL, WHEN_ENDED)
    if status == "voicemail":
        return [picked_up]
    # voicemail_received / voicemail_read: the message is left; the call is over.
    steps = [picked_up, Step(H.ENDED, WHEN_ENDED)]
    if recording_url:
        steps.append(Step(H.VOICEMAIL_LEFT, WHEN_ENDED, link=recording_url))
    return steps
