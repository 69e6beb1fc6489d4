"""A simulated forwarding pipeline around calls.rules, delivering to a StrictOutreach.

It does what the real pipeline does with the rules: after each happening arrives, plan the next
update, deliver it, record what Outreach now has, and plan again until nothing is left to send;
when a final state waits for its settle time, it looks again when that time is up. A link that
Outreach refuses for its window closes the links, as the real pipeline records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from calls.rules import Direction, Happened, Plan, Reported, Update, is_final, plan_next_update
from integrations.outreach.client import UpdateCall, update_attributes
from tests.calls.rules_oracle import StrictOutreach, WindowClosed

# More updates than any call can need (initiated, one state, the links): beyond it, a loop.
MAX_UPDATES_PER_ARRIVAL = 4


@dataclass
class SimulatedPipeline:
    direction: Direction
    settle: timedelta = timedelta(0)
    inbox: list[Happened] = field(default_factory=list)
    reported: Reported = field(default_factory=Reported)
    sent: list[tuple[datetime, Update]] = field(default_factory=list)
    outreach: StrictOutreach = field(init=False)
    last_plan: Plan | None = None

    def __post_init__(self) -> None:
        self.outreach = StrictOutreach(self.direction)

    def arrive(self, happened: Happened, *, now: datetime) -> None:
        self.wake_until(now)
        self.inbox.append(replace(happened, arrived_at=now))
        self._advance(now)

    def wake_until(self, now: datetime) -> None:
        """Look again whenever a final state's settle time ended before `now`."""
        while (
            self.last_plan is not None
            and self.last_plan.settle_until is not None
            and self.last_plan.settle_until < now
        ):
            self._advance(self.last_plan.settle_until)

    def finish(self) -> None:
        while self.last_plan is not None and self.last_plan.settle_until is not None:
            self._advance(self.last_plan.settle_until)

    def _advance(self, now: datetime) -> None:
        for _ in range(MAX_UPDATES_PER_ARRIVAL):
            self.last_plan = plan_next_update(
                direction=self.direction,
                happenings=self.inbox,
                reported=self.reported,
                now=now,
                settle=self.settle,
            )
            update = self.last_plan.update
            if update is None:
                return
            try:
                self.outreach.patch(_attributes(update), now=now)
            except WindowClosed:
                assert update.state is None, "a state is always worth sending"
                self.reported = replace(self.reported, links_closed=True)
                continue
            self.sent.append((now, update))
            self.reported = self._after(update, now)
        raise AssertionError(f"still planning updates after {MAX_UPDATES_PER_ARRIVAL}")

    def _after(self, update: Update, now: datetime) -> Reported:
        after = replace(
            self.reported,
            recording_url=update.recording_url or self.reported.recording_url,
            voicemail_url=update.voicemail_url or self.reported.voicemail_url,
        )
        if update.state is not None:
            after = replace(after, state=update.state, state_changed_at=update.state_changed_at)
            if is_final(update.state):
                after = replace(after, final_accepted_at=now)
        assert after != self.reported, f"{update} changes nothing Outreach has"
        return after


def _attributes(update: Update) -> dict[str, str]:
    """As the pipeline hands an update to the Outreach client, which spells it for the wire."""
    return update_attributes(
        UpdateCall(
            call_id="1",
            state=str(update.state) if update.state else None,
            state_changed_at=update.state_changed_at,
            recording_url=update.recording_url,
            voicemail_url=update.voicemail_url,
        )
    )
