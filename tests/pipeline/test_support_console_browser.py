"""The support console in a real browser, on real processes: an admin finds calls, reads a
timeline, fixes a held call and replays a failure, and every page is photographed at 1280 and
390 px (var/screenshots/, written by the run, ignored by git) and checked to fit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from calls.models import Call
from portal.audit.models import AuditEntry
from tests.browser import browser_page
from tests.conftest import PASSWORD
from tests.pipeline.helpers import Pipeline, eventually
from tests.processes import REPO

SCREENSHOTS = REPO / "var" / "screenshots"
WIDTHS = (1280, 390)
NUMBERS = {"direction": "inbound", "from": "+14155550123", "to": "+12065550100"}


UNLABELLED = """[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
    .filter(field => !field.labels.length && !field.getAttribute("aria-label"))
    .map(field => field.name)"""


def photograph(page: Page, name: str) -> list[Path]:
    """The page at each width, after checking nothing spills sideways, every field has a label
    and the product spells "Organisation" one way."""
    assert page.evaluate(UNLABELLED) == [], name
    assert "Organization" not in page.inner_text("body"), name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide at {width} px"
        shot = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        shots.append(shot)
    page.set_viewport_size({"width": 1280, "height": 900})
    return shots


@pytest.mark.browser
def test_it_lets_an_admin_find_read_fix_and_replay_calls_in_the_browser(
    pipeline: Pipeline, web: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Playwright's sync API keeps an event loop in this thread; the test's ORM reads are plain
    # blocking calls all the same, which Django refuses there unless told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # A call Outreach refuses, and one whose agent nobody has mapped yet.
    pipeline.sandbox.fail_next(1, path_prefix="/api/v2/calls", status=422)
    pipeline.send([pipeline.event("refused-1", "ringing", 0, **NUMBERS)])
    eventually(lambda: Call.objects.filter(provider_call_id="refused-1", status="failed").exists())
    held = pipeline.event("held-1", "ringing", 1, **NUMBERS)
    held["agent"] = {"email": "newrep@pbx.example"}
    pipeline.send([held])
    eventually(lambda: Call.objects.filter(provider_call_id="held-1", status="held").exists())
    org = f"{web}/o/{pipeline.organization.slug}"

    with browser_page() as page:
        page.on("dialog", lambda dialog: dialog.accept())  # every destructive action asks
        page.goto(f"{web}/accounts/login/")
        photograph(page, "sign-in")
        page.get_by_placeholder("Email address").fill("alice@example.com")
        page.get_by_placeholder("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(re.compile(r"/o/alice-co/$"))
        assert page.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
        photograph(page, "dashboard")

        # Search and filter the list.
        page.get_by_role("link", name="Calls", exact=True).click()
        assert page.locator("#call-count").inner_text().startswith("2 calls")
        photograph(page, "calls")
        page.get_by_label("Search").fill("held-1")
        page.get_by_role("button", name="Search").click()
        assert page.locator("#call-count").inner_text().startswith("1 call matches")
        page.get_by_label("Search").fill("")
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Search").click()
        assert page.locator("#call-count").inner_text().startswith("1 call matches")
        photograph(page, "calls-filtered")

        # The failed call's story.
        page.locator("table.calls a").first.click()
        assert page.get_by_role("heading", name="Inbound call refused-1").is_visible()
        timeline = page.locator("#timeline")
        assert timeline.get_by_text("provider → us").first.is_visible()
        assert timeline.get_by_text("POST /calls").first.is_visible()
        assert timeline.get_by_text("Caused by ringing").first.is_visible()
        assert "UTC" in (page.locator("#timeline time").first.get_attribute("title") or "")
        photograph(page, "timeline")

        # A held call's timeline grows by itself while the phone system reports (htmx polling).
        held_call = Call.objects.get(provider_call_id="held-1")
        page.goto(f"{org}/calls/{held_call.pk}/")
        assert page.locator("#timeline[hx-trigger]").count() == 1
        answered = pipeline.event("held-1", "answered", 2, **NUMBERS)
        answered["agent"] = {"email": "newrep@pbx.example"}
        pipeline.send([answered])
        page.locator("#timeline").get_by_text(re.compile(r"^answered \(happened")).wait_for()

        # Needs attention: fix the held call with one click, then replay the failure.
        page.get_by_role("link", name="Needs attention", exact=True).click()
        assert page.get_by_role("heading", name=re.compile("Held calls")).is_visible()
        photograph(page, "needs-attention")
        page.get_by_role("link", name="Map agent newrep@pbx.example").click()
        assert page.get_by_label("Value").input_value() == "newrep@pbx.example"
        page.get_by_label("Outreach user").fill("999999")  # no such user: refused, said
        page.get_by_role("button", name="Add mapping").click()
        assert page.get_by_text("No user with the id 999999 in your Outreach org").is_visible()
        page.get_by_label("Outreach user").fill(str(pipeline.rep_outreach_id))
        page.get_by_role("button", name="Add mapping").click()
        assert page.get_by_text("Mapping added").is_visible()
        photograph(page, "agents")
        eventually(lambda: Call.objects.get(provider_call_id="held-1").status == "done")

        page.goto(f"{org}/attention/")
        group = page.locator("#group-failed")
        group.get_by_role("button", name="Replay", exact=True).click()
        assert page.get_by_text("Replay queued").is_visible()
        eventually(lambda: Call.objects.get(provider_call_id="refused-1").status == "done")
        page.reload()
        assert page.locator("#replays").get_by_text("Up to date").first.is_visible()
        assert AuditEntry.objects.filter(action="call.replay").count() == 1

        for name, path in [
            ("outreach", f"{org}/outreach/"),
            ("telephony", f"{org}/providers/"),
            ("members", f"{org}/members/"),
            ("settings", f"{org}/settings/"),
            ("my-settings", f"{web}/settings/"),
        ]:
            page.goto(path)
            photograph(page, name)
