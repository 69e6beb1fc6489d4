"""An independent oracle for calls.rules, written straight from Outreach's Voice Extensibility
document (seed 000), sharing nothing with calls.rules but its enum values.

- TABLE is the document's final-state table, each row as the happenings a provider emits for it.
- StrictOutreach is Outreach as the document describes it: it refuses every update the document
  says it refuses, and a few more it says must not be sent, so a test fails on any violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from calls.rules import Direction, Happening, OutreachState

IN = Direction.INBOUND
OUT = Direction.OUTBOUND
H = Happening
S = OutreachState


@dataclass(frozen=True)
class Row:
    direction: Direction
    result: str  # the document's wording
    happenings: tuple[Happening, ...]  # in the order they happen on the phone
    final: OutreachState
    # Which links Outreach keeps for such a call, from "Recording/Voicemail URL": a recording
    # only when completed, a voicemail only on an inbound call that ended busy or no answer.
    keeps_recording: bool
    keeps_voicemail: bool

    @property
    def id(self) -> str:
        return f"{self.direction} {self.result}"


TABLE = (
    Row(OUT, "answered by the callee", (H.DIALLING, H.RINGING, H.ANSWERED, H.ENDED), S.COMPLETED,
        True, False),
    Row(IN, "answered by the callee", (H.RINGING, H.ANSWERED, H.ENDED), S.COMPLETED, True, False),
    Row(OUT, "caller cancels before anyone picks up", (H.DIALLING, H.RINGING, H.CALLER_HUNG_UP),
        S.CANCELED, False, False),
    Row(IN, "caller cancels before anyone picks up", (H.RINGING, H.CALLER_HUNG_UP), S.CANCELED,
        False, False),
    Row(OUT, "fails to set up", (H.DIALLING, H.SETUP_FAILED), S.FAILED, False, False),
    Row(IN, "fails to set up", (H.SETUP_FAILED,), S.FAILED, False, False),
    Row(IN, "user rejects", (H.RINGING, H.REJECTED), S.BUSY, False, True),
    Row(IN, "user rejects and voicemail picks up",
        (H.RINGING, H.REJECTED, H.ANSWERED_BY_VOICEMAIL, H.VOICEMAIL_LEFT), S.BUSY, False, True),
    Row(IN, "times out", (H.RINGING, H.NOT_ANSWERED), S.NO_ANSWER, False, True),
    Row(IN, "times out and voicemail picks up",
        (H.RINGING, H.NOT_ANSWERED, H.ANSWERED_BY_VOICEMAIL, H.VOICEMAIL_LEFT), S.NO_ANSWER,
        False, True),
    Row(OUT, "callee rejects", (H.DIALLING, H.RINGING, H.REJECTED), S.BUSY, False, False),
    Row(OUT, "callee rejects and voicemail picks up",
        (H.DIALLING, H.RINGING, H.ANSWERED_BY_VOICEMAIL, H.ENDED), S.COMPLETED, True, False),
    Row(OUT, "times out", (H.DIALLING, H.RINGING, H.NOT_ANSWERED), S.NO_ANSWER, False, False),
    Row(OUT, "times out and voicemail picks up",
        (H.DIALLING, H.RINGING, H.ANSWERED_BY_VOICEMAIL, H.ENDED), S.COMPLETED, True, False),
)  # fmt: skip

# The happenings that end a call, and so date the 1-hour window.
ENDING = frozenset({H.ENDED, H.REJECTED, H.NOT_ANSWERED, H.CALLER_HUNG_UP, H.SETUP_FAILED})

# "The call state updates must be in order": initiated, ringing, in progress, then a final state.
ORDER = {S.INITIATED: 0, S.RINGING: 1, S.IN_PROGRESS: 2}
FINAL = frozenset({S.COMPLETED, S.FAILED, S.NO_ANSWER, S.BUSY, S.CANCELED})
WINDOW = timedelta(hours=1)  # "Errors will be returned for call updates 1 hour after"
URL_LIMITS = {"recordingUrl": 255, "voicemailUrl": 1024}


class OutreachRefused(AssertionError):
    """Outreach would return an error for this update (or must never receive it)."""


class WindowClosed(OutreachRefused):
    """The call ended more than an hour ago: Outreach returns an error, which a pipeline is
    expected to meet now and then (it cannot know which instant Outreach counts from)."""


@dataclass
class StrictOutreach:
    direction: Direction
    state: OutreachState | None = None
    state_changed_at: datetime | None = None
    urls: dict[str, str] = field(default_factory=dict)
    received: list[tuple[datetime, dict[str, str]]] = field(default_factory=list)

    def patch(self, attributes: dict[str, str], *, now: datetime) -> None:
        """PATCH /calls/{id} with these attributes, at `now`."""
        unknown = attributes.keys() - {"state", "stateChangedAt", *URL_LIMITS}
        if unknown:
            raise OutreachRefused(f"cannot update {unknown}")
        if "state" not in attributes and not attributes.keys() & URL_LIMITS.keys():
            raise OutreachRefused("state cannot be empty unless a URL is provided")
        if self.state in FINAL:
            assert self.state_changed_at is not None
            if now > self.state_changed_at + WINDOW:
                raise WindowClosed(f"call ended at {self.state_changed_at}, now is {now}")
        if "state" in attributes:
            self._change_state(attributes["state"], attributes.get("stateChangedAt"))
        elif "stateChangedAt" in attributes:
            raise OutreachRefused("stateChangedAt without a state")
        for name in URL_LIMITS.keys() & attributes.keys():
            self._check_url(name, attributes[name])
            self.urls[name] = attributes[name]
        self.received.append((now, attributes))

    def _change_state(self, value: str, changed_at: str | None) -> None:
        new = OutreachState(value)
        if self.state in FINAL:
            raise OutreachRefused(f"call is already {self.state}, cannot become {new}")
        if self.state is None and self.direction is OUT and new is not S.INITIATED:
            raise OutreachRefused(f"an outbound call's first state must be initiated, not {new}")
        if self.state is not None and ORDER.get(new, 3) < ORDER[self.state]:
            raise OutreachRefused(f"{new} is prior to {self.state}")
        if changed_at is None:
            raise OutreachRefused("the time the state changed must be provided")
        if not (len(changed_at) == 24 and changed_at.endswith("Z") and changed_at[19] == "."):
            raise OutreachRefused(f"stateChangedAt {changed_at!r} is not YYYY-MM-DDTHH:MM:SS.sssZ")
        self.state = new
        self.state_changed_at = datetime.fromisoformat(changed_at)

    def _check_url(self, name: str, url: str) -> None:
        if self.state not in FINAL:
            raise OutreachRefused(f"{name} before the call's final state")
        if name == "recordingUrl" and self.state is not S.COMPLETED:
            raise OutreachRefused(f"recording on a call that ended {self.state}")
        unanswered_inbound = self.direction is IN and self.state in {S.BUSY, S.NO_ANSWER}
        if name == "voicemailUrl" and not unanswered_inbound:
            raise OutreachRefused(f"voicemail on an {self.direction} call that ended {self.state}")
        if len(url) > URL_LIMITS[name] or not url.startswith(("http://", "https://")):
            raise OutreachRefused(f"{name} {url!r} is not a usable link")
