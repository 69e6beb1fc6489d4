"""A simulated forwarding pipeline around calls.rules, delivering to a StrictOutreach.

It does what the real pipeline does with the rules: after each happening arrives, plan the next
update, deliver it, record what Outreach now has, and plan again until nothing is left to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from calls.rules import Direction, Happened, Plan, Reported, Update, plan_next_update
from tests.calls.rules_oracle import StrictOutreach

# More updates than any call can need (initiated, one state, the links): beyond it, a loop.
MAX_UPDATES_PER_ARRIVAL = 4


@dataclass
class SimulatedPipeline:
    direction: Direction
    inbox: list[Happened] = field(default_factory=list)
    reported: Reported = field(default_factory=Reported)
    sent: list[tuple[datetime, Update]] = field(default_factory=list)
    outreach: StrictOutreach = field(init=False)
    last_plan: Plan | None = None

    def __post_init__(self) -> None:
        self.outreach = StrictOutreach(self.direction)

    def arrive(self, happened: Happened, *, now: datetime) -> None:
        self.inbox.append(happened)
        for _ in range(MAX_UPDATES_PER_ARRIVAL):
            self.last_plan = plan_next_update(
                direction=self.direction, happenings=self.inbox, reported=self.reported, now=now
            )
            update = self.last_plan.update
            if update is None:
                return
            self.outreach.patch(update.as_attributes(), now=now)
            self.sent.append((now, update))
            self.reported = self._after(update)
        raise AssertionError(f"still planning updates after {MAX_UPDATES_PER_ARRIVAL}")

    def _after(self, update: Update) -> Reported:
        after = replace(
            self.reported,
            recording_url=update.recording_url or self.reported.recording_url,
            voicemail_url=update.voicemail_url or self.reported.voicemail_url,
        )
        if update.state is not None:
            after = replace(after, state=update.state, state_changed_at=update.state_changed_at)
        assert after != self.reported, f"{update} changes nothing Outreach has"
        return after
