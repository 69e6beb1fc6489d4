"""The sandbox's Outreach-like dialer: the prospects it lists (with their extensions) and its
pages. What a click does in a browser with the extension is tests/pipeline/test_click_to_dial.py."""

from __future__ import annotations

import httpx

from outreach_sandbox import SandboxControl

from .helpers import Api, Cast


def test_it_lists_an_orgs_prospects_with_their_extensions(
    sandbox: SandboxControl, cast: Cast, rita: Api
) -> None:
    pam = sandbox.create_prospect(
        first_name="Pam",
        phone_numbers=[{"number": "+12065550199", "phoneType": "work", "extension": "1234"}],
    )
    listed = sandbox.prospects(org_guid=cast.org_guid)
    assert [p["firstName"] for p in listed] == ["Pat", "Pam"]
    assert listed[1]["phoneNumbers"] == [
        {
            "id": pam["phoneNumbers"][0]["id"],
            "number": "+12065550199",
            "phoneType": "work",
            "extension": "1234",
        }
    ]
    assert sandbox.prospects(org_guid=cast.other_org_guid) == []
    found = rita.get("/phoneNumbers", **{"filter[number]": "+12065550199"}).json()
    assert found["data"][0]["attributes"]["extension"] == "1234"


def test_it_serves_the_dialer_in_a_frame_like_outreach(web: httpx.Client) -> None:
    shell = web.get("/dialer")
    assert shell.status_code == 200 and '<iframe id="dialer"' in shell.text
    frame = web.get("/dialer/frame")
    assert frame.status_code == 200 and 'src="/dialer/dialer.js"' in frame.text
    script = web.get("/dialer/dialer.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert 'type: "outreach-external-dial-init", source: "outreach"' in script.text


def test_its_pages_are_never_faulted(sandbox: SandboxControl, web: httpx.Client) -> None:
    sandbox.fail_next(5)
    assert web.get("/dialer").status_code == 200
