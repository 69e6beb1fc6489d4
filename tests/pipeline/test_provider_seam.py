"""The provider seam across processes: FakePhone, a provider that lives under tests/ and is
registered only by the EXTRA_PROVIDERS environment variable, is set up by an admin on the real
Telephony page, sends its webhooks through the real URL on a real gunicorn, and its calls reach
Outreach (the sandbox) through the real worker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from django.conf import settings

from calls.models import Call
from calls.selectors import call_timeline
from calls.tasks import ask_providers_about_quiet_calls
from integrations.models import ProviderConnection
from integrations.provider import PlaceCallRequest, Placed
from integrations.registry import provider_for
from portal import clock
from tests.browser import browser_page
from tests.conftest import PASSWORD
from tests.pipeline.helpers import Pipeline, eventually, refusals, state_of
from tests.providers.fakephone.provider import FakePhoneProvider
from tests.providers.fakephone.server import SIGNATURE_HEADER, FakePhone


@pytest.fixture
def fake_phone() -> Iterator[FakePhone]:
    with FakePhone().running() as phone:
        yield phone


def set_up_fakephone_on_the_telephony_page(base: str, fake_phone: FakePhone) -> str:
    """Alice, the organisation's admin, signs in and connects FakePhone; the webhook URL."""
    with browser_page() as page:
        page.goto(f"{base}/accounts/login/")
        page.get_by_placeholder("Email address").fill("alice@example.com")
        page.get_by_placeholder("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(re.compile(r"/o/alice-co/"))
        page.get_by_role("link", name="Telephony").click()
        page.get_by_label("Provider").select_option(label=FakePhoneProvider.label)
        page.get_by_role("button", name="Choose").click()
        page.get_by_label("Name:", exact=True).fill("Office phones")
        page.get_by_label("API address").fill(fake_phone.url)
        page.get_by_label("API key").fill(fake_phone.api_key)
        page.get_by_label("Webhook signing secret").fill(fake_phone.webhook_secret)
        page.get_by_role("button", name="Create connection").click()
        assert page.get_by_text("“Office phones” created").is_visible()
        assert page.locator("#new-secret").count() == 0  # FakePhone made its own secret
        row = page.get_by_role("row", name=re.compile("Office phones"))
        assert row.get_by_role("button", name="New secret").count() == 0
        return row.locator("code").inner_text()


@pytest.mark.browser
def test_it_takes_a_provider_named_only_in_the_environment_from_setup_to_outreach(
    pipeline: Pipeline, web: str, fake_phone: FakePhone
) -> None:
    hook = set_up_fakephone_on_the_telephony_page(web, fake_phone)
    assert hook.startswith(f"{web}/hooks/fakephone/")
    fake_phone.webhook_url = hook  # pasted into FakePhone's console
    connection = ProviderConnection.objects.get(kind="fakephone")
    assert connection.setup_values()["api_key"] == fake_phone.api_key

    # A rep clicks Call in Outreach; FakePhone is asked to place it (as the dial API will).
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    outreach_id = str(launched["id"])
    placed = provider_for("fakephone").place_call(
        PlaceCallRequest(
            connection=connection,
            outreach_call_id=outreach_id,
            to_number="+12065550100",
            agent={"email": "rita@pbx.example"},
        ),
        deadline=clock.now() + timedelta(seconds=4),
        idempotency_key=f"dial-{outreach_id}",
    )
    assert isinstance(placed, Placed)

    # FakePhone reports the call by webhook, through the real door on gunicorn.
    fake_phone.happen(placed.provider_call_id, "dialing")
    view = pipeline.wait_for(outreach_id, lambda v: state_of(v) == "initiated")
    assert view["launch"]["initiatedWithin5s"] is True
    for kind in ("ringing", "answered", "hangup"):
        fake_phone.happen(placed.provider_call_id, kind)
    fake_phone.happen(
        placed.provider_call_id, "recording", recording_url="https://rec.example/fp.mp3"
    )
    view = pipeline.wait_for(
        outreach_id, lambda v: v["call"]["attributes"].get("recordingUrl") is not None
    )
    assert view["call"]["attributes"]["state"] == "completed"

    # Someone calls in: Callbridge creates the call in Outreach.
    incoming = fake_phone.call_in(
        from_="(415) 555-0123", to="+12065550100", agent="rita@pbx.example"
    )
    for kind in ("ringing", "busy"):
        fake_phone.happen(incoming.id, kind)
    eventually(lambda: Call.objects.filter(provider_call_id=incoming.id, status="done").exists())
    inbound = Call.objects.get(provider_call_id=incoming.id)
    attributes = pipeline.sandbox.call(inbound.outreach_call_id)["call"]["attributes"]
    assert (attributes["direction"], attributes["from"], attributes["state"]) == (
        "inbound",
        "+14155550123",
        "busy",
    )

    # Every webhook got the answer FakePhone's class declares (an empty 200) ...
    assert [(d.status, d.answer) for d in fake_phone.deliveries] == [(200, b"")] * 7
    assert refusals(pipeline.sandbox) == []
    # ... and the door refuses what FakePhone's class does not verify.
    forged = json.dumps({"call": incoming.resource(), "event": incoming.events[0]})
    answer = httpx.post(
        hook,
        content=forged,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: "sha256=00"},
    )
    assert (answer.status_code, answer.json()) == (
        401,
        {"error": "Signature does not match the webhook secret."},
    )


def test_it_asks_the_provider_about_a_call_whose_last_webhook_was_lost(
    pipeline: Pipeline,
    web: str,
    fake_phone: FakePhone,
    clock_offset: Callable[[float], None],
) -> None:
    connection = ProviderConnection.objects.create(
        organization=pipeline.organization, kind="fakephone", name="Office phones"
    )
    connection.set_setup_values(
        {
            "api_url": fake_phone.url,
            "api_key": fake_phone.api_key,
            "webhook_secret": fake_phone.webhook_secret,
        }
    )
    connection.save()
    fake_phone.webhook_url = f"{web}/hooks/fakephone/{connection.webhook_token}/"
    incoming = fake_phone.call_in(from_="+14155550123", to="+12065550100", agent="rita@pbx.example")
    fake_phone.happen(incoming.id, "ringing")
    fake_phone.happen(incoming.id, "answered")
    eventually(lambda: Call.objects.filter(provider_call_id=incoming.id, status="done").exists())
    fake_phone.happen(incoming.id, "hangup", notify=False)  # its webhook never reaches us
    call = Call.objects.get(provider_call_id=incoming.id)
    assert pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]["state"] == (
        "in progress"
    )

    clock_offset(settings.RECONCILE_AFTER_SECONDS + 5)  # the call has been quiet long enough
    ask_providers_about_quiet_calls.delay()  # what beat does every minute, on the real worker

    eventually(lambda: Call.objects.get(pk=call.pk).final_state == "completed", timeout=30)
    eventually(lambda: Call.objects.get(pk=call.pk).status == "done")
    attributes = pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]
    assert attributes["state"] == "completed"
    asked = [entry for entry in call_timeline(call=call) if entry.title == "call.provider_asked"]
    assert len(asked) == 1 and asked[0].data["new_events"] == 1
    assert refusals(pipeline.sandbox) == []
