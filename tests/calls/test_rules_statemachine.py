"""Whatever order a call's happenings arrive in, and however often, the pipeline built on
calls.rules must leave Outreach where the seed's final-state table says, and never send an update
Outreach would refuse (StrictOutreach raises on any) - provided every happening arrives within
the settle time of the ones that happened after it (each arrives up to SETTLE after it
happened, so any order of arrival is possible)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calls.rules import Direction, Happened, Happening, OutreachState, Verdict
from tests.calls.rules_harness import SimulatedPipeline
from tests.calls.rules_oracle import ENDING, ORDER, TABLE, WINDOW, Row

pytestmark = pytest.mark.fast  # no server: make test-fast runs it

H = Happening
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LINK_KINDS = {H.RECORDING_READY: "recordingUrl", H.VOICEMAIL_LEFT: "voicemailUrl"}
# Outreach refuses both: not a link a user can open, and longer than either column.
BAD_LINKS = ("ftp://media.example.com/1.mp3", "https://media.example.com/" + "a" * 1100)
Arrival = tuple[datetime, Happened]
SETTLE = timedelta(seconds=60)


@dataclass(frozen=True)
class Call:
    row: Row
    happenings: tuple[Happened, ...]  # distinct, in the order they happened on the phone
    valid_links: frozenset[str]  # keys of the links Outreach would accept

    @property
    def ended_at(self) -> datetime:
        return next(h.at for h in self.happenings if h.kind in ENDING)

    @property
    def links(self) -> tuple[Happened, ...]:
        return tuple(h for h in self.happenings if h.kind in LINK_KINDS)


@st.composite
def calls(draw: st.DrawFn) -> Call:
    """A table row plus any recording and voicemail links, at increasing times."""
    row = draw(st.sampled_from(TABLE))
    extra_links = draw(st.lists(st.sampled_from(list(LINK_KINDS)), max_size=3))
    happenings, valid_links, at = [], set(), T0
    for index, kind in enumerate((*row.happenings, *extra_links)):
        at += timedelta(seconds=draw(st.integers(0, 90)))  # 0 makes ties, broken by arrival
        key = f"{index}:{kind}"
        link = None
        if kind in LINK_KINDS:
            if draw(st.integers(0, 3)):
                link = f"https://media.example.com/{key}"
                valid_links.add(key)
            else:
                link = draw(st.sampled_from(BAD_LINKS))
        happenings.append(Happened(key=key, kind=kind, at=at, link=link))
    return Call(row, tuple(happenings), frozenset(valid_links))


def shuffled_with_repeats(draw: st.DrawFn, happenings: tuple[Happened, ...]) -> list[Happened]:
    """Providers deliver out of order and retry: shuffle, then deliver a few again."""
    order = list(draw(st.permutations(happenings)))
    if happenings:
        for repeat in draw(st.lists(st.sampled_from(happenings), max_size=3)):
            order.insert(draw(st.integers(0, len(order))), repeat)
    return order


def delayed_arrivals(draw: st.DrawFn, happenings: list[Happened]) -> list[Arrival]:
    """Each delivery arrives up to SETTLE after it happened; they overtake each other freely."""
    arrivals = [
        (happened.at + timedelta(seconds=draw(st.integers(0, int(SETTLE.total_seconds())))), h)
        for happened in happenings
        for h in [happened]
    ]
    return sorted(arrivals, key=lambda arrival: arrival[0])  # stable: shuffled order breaks ties


@st.composite
def prompt_calls(draw: st.DrawFn) -> tuple[Call, list[Arrival]]:
    call = draw(calls())
    return call, delayed_arrivals(draw, shuffled_with_repeats(draw, call.happenings))


@st.composite
def calls_with_late_links(draw: st.DrawFn) -> tuple[Call, list[Arrival]]:
    """The states arrive promptly; then time passes, maybe past the window, and links arrive."""
    call = draw(calls())
    states = tuple(h for h in call.happenings if h.kind not in LINK_KINDS)
    arrivals = delayed_arrivals(draw, shuffled_with_repeats(draw, states))
    delays = st.sampled_from([WINDOW, WINDOW + timedelta(microseconds=1)]) | st.timedeltas(
        min_value=timedelta(0), max_value=2 * WINDOW
    )
    for happened in shuffled_with_repeats(draw, call.links):
        now = max(arrivals[-1][0], happened.at, call.ended_at + draw(delays))
        arrivals.append((now, happened))
    return call, arrivals


def deliver(call: Call, arrivals: list[Arrival]) -> SimulatedPipeline:
    pipeline = SimulatedPipeline(call.row.direction, settle=SETTLE)
    for seq, (now, happened) in enumerate(arrivals):
        pipeline.arrive(replace(happened, seq=seq), now=now)  # seq: the inbox row's order
    pipeline.finish()
    return pipeline


def expected_link(
    call: Call, arrivals: list[Arrival], kind: Happening, final_sent_at: datetime
) -> str | None:
    """The newest acceptable link of a kind that could be sent within the window (links wait
    for the final state), if the row keeps it.

    Newest by time, and for links made at the same time the one that arrived last.
    """
    keeps = call.row.keeps_recording if kind is H.RECORDING_READY else call.row.keeps_voicemail
    first_arrival = {}
    for index, (now, happened) in enumerate(arrivals):
        if max(now, final_sent_at) <= call.ended_at + WINDOW:
            first_arrival.setdefault(happened.key, index)
    candidates = [
        h
        for h in call.links
        if h.kind is kind and h.key in call.valid_links and h.key in first_arrival
    ]
    if not keeps or not candidates:
        return None
    return max(candidates, key=lambda h: (h.at, first_arrival[h.key])).link


def check(call: Call, arrivals: list[Arrival], pipeline: SimulatedPipeline) -> None:
    outreach, sent = pipeline.outreach, pipeline.sent
    assert outreach.state is call.row.final
    assert outreach.state_changed_at == call.ended_at
    final_sent_at = next(now for now, update in sent if update.state is call.row.final)
    for kind, attribute in LINK_KINDS.items():
        assert outreach.urls.get(attribute) == expected_link(call, arrivals, kind, final_sent_at)

    assert all(now <= call.ended_at + WINDOW for now, _ in sent), "sent after the window"
    if call.row.direction is Direction.OUTBOUND:
        assert sent[0][1].state is OutreachState.INITIATED
    state_updates = [update for _, update in sent if update.state is not None]
    ranks = [ORDER.get(update.state, 3) for update in state_updates]
    assert ranks == sorted(set(ranks)), "states must only move forward"
    times = [update.state_changed_at for update in state_updates]
    assert times == sorted(times), "states are stamped in the order they happened"

    assert pipeline.last_plan is not None
    verdicts = pipeline.last_plan.verdicts
    assert verdicts.keys() == {h.key for h in call.happenings}
    assert Verdict.HELD not in {verdict for verdict, _ in verdicts.values()}


@settings(max_examples=300, deadline=None)
@given(prompt_calls())
def test_it_ends_where_the_table_says_whatever_the_arrival_order(
    scenario: tuple[Call, list[Arrival]],
) -> None:
    call, arrivals = scenario
    check(call, arrivals, deliver(call, arrivals))


@settings(max_examples=300, deadline=None)
@given(calls_with_late_links())
def test_it_drops_links_that_arrive_after_the_window(
    scenario: tuple[Call, list[Arrival]],
) -> None:
    call, arrivals = scenario
    check(call, arrivals, deliver(call, arrivals))
