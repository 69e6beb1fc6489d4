"""`callbridge-tel`, the console script installed with the package, end to end: run as the
operating system would run it, against the portal on gunicorn and the phone sandbox."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from calls.models import Call
from portal.accounts.models import ApiToken
from tests.dialling.helpers import CALL_ID, Dialling, portal_server
from tests.processes import VENV_BIN, clean_environment

URI = f"tel:+1-206-555-0100;ext=1234;source=outreach;call-id={CALL_ID}"


@pytest.fixture
def portal(transactional_db: None, dialling: Dialling) -> Iterator[str]:
    with portal_server() as base:
        yield base


def handler(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "callbridge-tel"), "--config", str(config), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(),  # a rep's computer: none of the portal's settings
    )


@pytest.fixture
def config(tmp_path: Path, portal: str, dialling: Dialling) -> Path:
    path = tmp_path / "callbridge" / "tel.ini"
    path.parent.mkdir()
    path.write_text(f"[callbridge]\nportal = {portal}/\ntoken = {dialling.token}\n")
    return path


def test_it_places_the_call_of_the_uri_outreach_launched(config: Path, dialling: Dialling) -> None:
    done = handler(config, URI)

    assert (done.returncode, done.stdout.strip()) == (
        0,
        "Your phone system is placing the call to +12065550100 ext. 1234.",
    )
    call = Call.objects.get(outreach_call_id=CALL_ID)
    assert (call.owner, call.extension, call.dial_status) == (dialling.cast.bob, "1234", "placed")
    assert [d.body["extension"] for d in dialling.phone.dials] == ["1234"]
    assert "exit 0: Your phone system is placing" in config.with_name("tel.log").read_text()

    again = handler(config, URI)  # the operating system launched it twice
    assert again.returncode == 0
    assert again.stdout.startswith(f"Call {CALL_ID} was dialled before; nothing was placed again.")
    assert len(dialling.phone.dials) == 1


def test_it_has_a_malformed_uri_naming_outreachs_call_failed_and_says_why(
    config: Path, dialling: Dialling
) -> None:
    done = handler(config, "tel:+1-206-CALL-NOW;source=outreach;call-id=7")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "The call could not be placed: Outreach's tel: URI could not be read: "
        "'+1-206-CALL-NOW' is not a phone number"
    )
    assert Call.objects.get(outreach_call_id="7").dial_status == "failed"  # Outreach hears it
    assert not dialling.phone.dials

    nothing = handler(config, "mailto:rep@example.com")
    assert (nothing.returncode, nothing.stderr.strip()) == (
        1,
        "Not a tel: URI (it must start with 'tel:'): 'mailto:rep@example.com'.",
    )


def test_it_says_why_the_portal_refused(config: Path, dialling: Dialling) -> None:
    not_outreach = handler(config, "tel:+12065550100;call-id=7")
    assert not_outreach.returncode == 1
    assert "did not come from Outreach" in not_outreach.stderr

    dialling.phone.answer_next(409, {"error": "Agent bob@pbx.example is not available"})
    refused = handler(config, URI)
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        "The call could not be placed: Your phone system refused the call: Agent "
        "bob@pbx.example is not available",
    )

    ApiToken.objects.update(revoked_at=timezone.now())
    revoked = handler(config, URI.replace(CALL_ID, "4711"))
    assert (revoked.returncode, revoked.stderr.strip()) == (1, "This API token was revoked.")


def test_it_checks_its_configuration(config: Path, tmp_path: Path) -> None:
    checked = handler(config, "--check")
    assert (checked.returncode, checked.stdout.strip()) == (
        0,
        "Connected as bob@example.com in Alice & Co.",
    )
    missing = handler(tmp_path / "nowhere.ini", URI)
    assert missing.returncode == 2
    assert f"No configuration at {tmp_path / 'nowhere.ini'}" in missing.stderr
