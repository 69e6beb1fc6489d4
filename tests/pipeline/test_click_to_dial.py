"""The whole click: Debian's Chromium with the unpacked extension (the development build Rita
downloads from her settings page), the sandbox's Outreach-like dialer, the portal on gunicorn
(reached as `localhost`, another origin than the dialer's, so the extension's requests go through
CORS as they would to a real portal), the phone sandbox and the real worker."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from calls.models import Call
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.pipeline.dialling import PAT_NUMBER, DialFlow, dial_flow
from tests.pipeline.helpers import Pipeline, eventually, state_of


@pytest.fixture
def flow(pipeline: Pipeline) -> Iterator[DialFlow]:
    with dial_flow(pipeline, web_host="localhost") as running:
        yield running


def unpacked_extension(flow: DialFlow, folder: Path) -> Path:
    """The development build, as Rita downloads it from her settings page, unzipped."""
    client = Client()
    client.force_login(flow.rita)
    download = client.get("/settings/extension.zip?build=development")
    assert download["Content-Disposition"].endswith('"callbridge-extension-development.zip"')
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        archive.extractall(folder)
    return folder / "callbridge-extension"


@pytest.fixture
def chromium(
    flow: DialFlow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BrowserContext]:
    extension = unpacked_extension(flow, tmp_path / "extension")
    # Playwright's sync API keeps an event loop in this thread; the test's ORM reads are plain
    # blocking calls all the same, which Django refuses there unless told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=False,
            args=[
                *CHROMIUM_ARGS,
                f"--disable-extensions-except={extension}",
                f"--load-extension={extension}",
            ],
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            # The reads made beside Playwright's event loop used a connection of their own.
            connections.close_all()
            context.close()


def extension_id(context: BrowserContext) -> str:
    worker = context.service_workers[0] if context.service_workers else None
    worker = worker or context.wait_for_event("serviceworker")
    return worker.url.split("/")[2]


def set_up_the_extension(context: BrowserContext, flow: DialFlow) -> Page:
    options = context.new_page()
    options.goto(f"chrome-extension://{extension_id(context)}/options.html")
    options.get_by_label("Portal address").fill(flow.web)
    options.get_by_label("API token").fill(flow.token)
    options.get_by_role("button", name="Save and test").click()
    expect(options.locator("#test")).to_have_text("Connected as rita@alice.example in Alice & Co.")
    return options


@pytest.mark.browser
def test_a_click_in_the_dialer_places_the_call_and_outreach_has_initiated_within_5_s(
    flow: DialFlow, chromium: BrowserContext
) -> None:
    sandbox = flow.pipeline.sandbox
    rita = next(u for u in sandbox.users() if u["id"] == flow.pipeline.rep_outreach_id)
    sandbox.create_prospect(
        first_name="Pat",
        last_name="Lee",
        phone_numbers=[{"number": PAT_NUMBER, "phoneType": "work", "extension": "1234"}],
        org_guid=rita["orgGuid"],
    )
    options = set_up_the_extension(chromium, flow)

    page = chromium.new_page()
    page.goto(f"{sandbox.base_url}/dialer?user={rita['id']}")
    dialer = page.frame_locator("#dialer")
    dialer.get_by_role("row", name=re.compile("Pat Lee")).get_by_role("button", name="Call").click()

    # The extension acknowledged Outreach's message at once ...
    call = dialer.locator("#calls li").first
    expect(call.locator(".ack")).to_have_text(re.compile(r"^received after \d+ ms$"))
    call_id = call.get_attribute("data-call")
    tel = call.get_by_role("link", name="tel: link").get_attribute("href")
    assert tel == f"tel:{PAT_NUMBER};ext=1234;source=outreach;call-id={call_id}"

    # ... the portal recorded the dial and the phone system was asked, extension included ...
    view = flow.pipeline.wait_for(call_id, lambda v: state_of(v) is not None, timeout=5)
    assert view["launch"]["initiatedWithin5s"] is True  # the sandbox's own reckoning
    recorded = Call.objects.get(outreach_call_id=call_id)
    assert (recorded.owner, recorded.to_number, recorded.extension) == (
        flow.rita,
        PAT_NUMBER,
        "1234",
    )
    # `initiated` never waits for the phone system: the dial request may still be on its way.
    eventually(lambda: len(flow.phone.dials) > 0)
    [asked] = flow.phone.dials
    assert asked.signature_ok and asked.message_id == f"dial_{call_id}"
    assert (asked.body["to"], asked.body["extension"], asked.body["agent"]) == (
        PAT_NUMBER,
        "1234",
        {"email": "rita@pbx.example"},
    )
    expect(call.locator(".state")).to_contain_text("initiated within 5 s")
    expect(options.locator("#last-dial")).to_contain_text(f"call {call_id}: succeeded.")

    # The same message again (same callId): acknowledged, and nothing placed anew.
    call.get_by_role("button", name="Send the message again").click()
    expect(call.locator(".ack")).to_have_text(re.compile(r"^received after \d+ ms$"))
    expect(options.locator("#last-dial")).to_contain_text(
        f"Call {call_id} was dialled before; nothing was placed again.", timeout=10_000
    )
    # The portal answered the repeat only after deciding it: nothing can be placed after this.
    assert len(flow.phone.dials) == 1 and len(flow.phone.calls) == 1
    assert Call.objects.filter(outreach_call_id=call_id).count() == 1


@pytest.mark.browser
def test_the_extension_answers_only_outreachs_own_messages(
    flow: DialFlow, chromium: BrowserContext
) -> None:
    set_up_the_extension(chromium, flow)
    page = chromium.new_page()
    page.goto(f"{flow.pipeline.sandbox.base_url}/dialer")
    call_id = flow.launch()
    page.evaluate(
        """(src) => new Promise((loaded) => {
            window.acks = [];
            window.addEventListener("message", (e) => {
                const data = e.data || {};
                if (data.type === "outreach-external-dial-ack") acks.push(data.callId);
            });
            const frame = document.createElement("iframe");  // another origin: the phone's page
            frame.onload = loaded;
            frame.src = src;
            document.body.append(frame);
        })""",
        f"{flow.phone_url}/",
    )
    init = {"type": "outreach-external-dial-init", "source": "outreach", "phoneNumber": PAT_NUMBER}
    other_origin = next(frame for frame in page.frames if frame.url.startswith(flow.phone_url))
    other_origin.evaluate("(m) => window.parent.postMessage(m, '*')", {**init, "callId": call_id})
    for refused in (
        {**init, "source": "someone-else", "callId": call_id},
        {**init, "callId": ""},
        {**init, "phoneNumber": " ", "callId": call_id},
        {"type": "outreach-external-dial-init", "callId": call_id, "phoneNumber": PAT_NUMBER},
        {**init, "type": "something-else", "callId": call_id},
    ):
        page.evaluate("(m) => window.postMessage(m, '*')", refused)

    # Messages reach the page in the order they were posted: once Outreach's own is
    # acknowledged, every one before it has been handled, and none of them was acknowledged.
    page.evaluate("(m) => window.postMessage(m, '*')", {**init, "callId": call_id})
    page.wait_for_function(f"window.acks.includes({call_id!r})")
    assert page.evaluate("window.acks") == [call_id]
