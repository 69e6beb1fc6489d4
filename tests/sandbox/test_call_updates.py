"""PATCH /calls/{id}: every rule of 000 "Update an existing call" and "Call states"."""

from __future__ import annotations

from typing import Any

import pytest

from outreach_sandbox import SandboxControl

from .helpers import Api, Cast, error_of

FINAL_STATES = ("completed", "failed", "no answer", "busy", "canceled")


def test_it_accepts_the_states_in_order(rita: Api, inbound_call: int) -> None:
    for state in ("initiated", "ringing", "in progress", "completed"):
        response = rita.update_call(inbound_call, state=state)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["attributes"]["state"] == state


def test_it_lets_a_call_skip_forward(rita: Api, inbound_call: int) -> None:
    assert rita.update_call(inbound_call, state="ringing").status_code == 200
    assert rita.update_call(inbound_call, state="completed").status_code == 200


@pytest.mark.parametrize("current", ["initiated", "ringing", "in progress"])
@pytest.mark.parametrize("final", FINAL_STATES)
def test_it_accepts_any_final_state_after_any_non_final_one(
    rita: Api, inbound_call: int, current: str, final: str
) -> None:
    assert rita.update_call(inbound_call, state=current).status_code == 200
    assert rita.update_call(inbound_call, state=final).status_code == 200


def test_it_refuses_a_state_prior_to_the_current_one(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    rita.update_call(inbound_call, state="in progress")
    response = rita.update_call(inbound_call, state="ringing")
    assert response.status_code == 422
    error = error_of(response)
    assert error["id"] == "validationError"
    assert error["source"] == {"pointer": "/data/attributes/state"}
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-STATE-ORDER"


@pytest.mark.parametrize("then", ["completed", "busy", "ringing"])
def test_it_refuses_any_state_after_a_final_one(
    rita: Api, inbound_call: int, sandbox: SandboxControl, then: str
) -> None:
    rita.update_call(inbound_call, state="busy")
    response = rita.update_call(inbound_call, state=then)
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-STATE-AFTER-FINAL"


def test_it_changes_nothing_when_the_current_state_is_repeated(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    first = rita.update_call(inbound_call, state="ringing").json()["data"]["attributes"]
    sandbox.advance_clock(2)
    again = rita.update_call(inbound_call, state="ringing")
    assert again.status_code == 200
    assert again.json()["data"]["attributes"]["stateChangedAt"] == first["stateChangedAt"]
    assert sandbox.call(inbound_call)["history"][-1]["outcome"] == "unchanged"


def test_it_refuses_an_unknown_state(rita: Api, inbound_call: int, sandbox: SandboxControl) -> None:
    response = rita.update_call(inbound_call, state="answered")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-STATE-VALUE"


@pytest.mark.parametrize("attributes", [{}, {"state": ""}, {"state": None}, {"vendorCallId": "x"}])
def test_it_refuses_an_empty_state_without_a_link(
    rita: Api, inbound_call: int, sandbox: SandboxControl, attributes: dict[str, Any]
) -> None:
    response = rita.update_call(inbound_call, **attributes)
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-STATE-REQUIRED"


def test_it_accepts_an_empty_state_with_a_link(rita: Api, inbound_call: int) -> None:
    rita.update_call(inbound_call, state="completed")
    response = rita.update_call(inbound_call, recordingUrl="https://rec.example/1.mp3")
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["recordingUrl"] == "https://rec.example/1.mp3"


def test_it_defaults_state_changed_at_to_the_sandbox_clock(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    sandbox.set_clock_offset(-86400)
    attributes = rita.update_call(inbound_call, state="ringing").json()["data"]["attributes"]
    assert attributes["stateChangedAt"].startswith(sandbox.clock()["now"][:13])


def test_it_keeps_the_state_changed_at_it_is_given(rita: Api, inbound_call: int) -> None:
    response = rita.update_call(
        inbound_call, state="ringing", stateChangedAt="2030-01-02T03:04:05.000Z"
    )
    assert response.json()["data"]["attributes"]["stateChangedAt"] == "2030-01-02T03:04:05.000Z"


@pytest.mark.parametrize(
    "attributes",
    [
        {"state": "ringing", "stateChangedAt": "yesterday"},
        {"stateChangedAt": "2030-01-02T03:04:05Z", "recordingUrl": "https://rec.example/1"},
    ],
)
def test_it_refuses_a_bad_or_lonely_state_changed_at(
    rita: Api, inbound_call: int, sandbox: SandboxControl, attributes: dict[str, Any]
) -> None:
    rita.update_call(inbound_call, state="in progress")
    response = rita.update_call(inbound_call, **attributes)
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": "/data/attributes/stateChangedAt"}
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-STATE-CHANGED-AT"


@pytest.mark.parametrize("name", ["outcome", "note", "direction", "voicemailRecordingUrl", "x"])
def test_it_refuses_attributes_the_contract_does_not_let_update(
    rita: Api, inbound_call: int, sandbox: SandboxControl, name: str
) -> None:
    response = rita.update_call(inbound_call, state="ringing", **{name: "whatever"})
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": f"/data/attributes/{name}"}
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-UPDATE-ATTRIBUTES"


def test_it_refuses_relationships_in_an_update(rita: Api, inbound_call: int, cast: Cast) -> None:
    data = {
        "type": "call",
        "id": str(inbound_call),
        "attributes": {"state": "ringing"},
        "relationships": {"user": {"data": {"type": "user", "id": cast.tess["id"]}}},
    }
    response = rita.http.patch(f"/calls/{inbound_call}", json={"data": data})
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": "/data/relationships/user"}


def test_it_refuses_a_non_string_attribute(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    response = rita.update_call(inbound_call, state=3)
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "API-ATTRIBUTE-TYPE"


def test_it_takes_a_recording_url_with_the_completed_state(rita: Api, inbound_call: int) -> None:
    response = rita.update_call(
        inbound_call, state="completed", recordingUrl="http://rec.example/1.mp3"
    )
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["recordingUrl"] == "http://rec.example/1.mp3"


@pytest.mark.parametrize("state", ["in progress", "busy", "no answer", "failed", "canceled"])
def test_it_refuses_a_recording_url_unless_the_call_completed(
    rita: Api, inbound_call: int, sandbox: SandboxControl, state: str
) -> None:
    response = rita.update_call(inbound_call, state=state, recordingUrl="https://rec.example/1")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-RECORDING-COMPLETED"


@pytest.mark.parametrize(
    "url", ["ftp://rec.example/1.mp3", "rec.example/1.mp3", "https://rec.example/" + "a" * 236]
)
def test_it_refuses_a_recording_url_that_is_not_short_http(
    rita: Api, inbound_call: int, sandbox: SandboxControl, url: str
) -> None:
    response = rita.update_call(inbound_call, state="completed", recordingUrl=url)
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": "/data/attributes/recordingUrl"}
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-RECORDING-URL"


def test_it_accepts_a_recording_url_of_255_characters(rita: Api, inbound_call: int) -> None:
    url = "https://rec.example/" + "a" * 235
    assert len(url) == 255
    assert rita.update_call(inbound_call, state="completed", recordingUrl=url).status_code == 200


@pytest.mark.parametrize("state", ["busy", "no answer"])
def test_it_takes_a_voicemail_url_for_an_unanswered_inbound_call(
    rita: Api, inbound_call: int, state: str
) -> None:
    url = "https://vm.example/" + "v" * 1005
    assert len(url) == 1024
    response = rita.update_call(inbound_call, state=state, voicemailUrl=url)
    assert response.status_code == 200
    # The update sends voicemailUrl; the resource reports voicemailRecordingUrl.
    assert response.json()["data"]["attributes"]["voicemailRecordingUrl"] == url


@pytest.mark.parametrize("state", ["completed", "failed", "canceled", "ringing"])
def test_it_refuses_a_voicemail_url_unless_the_inbound_call_went_unanswered(
    rita: Api, inbound_call: int, sandbox: SandboxControl, state: str
) -> None:
    response = rita.update_call(inbound_call, state=state, voicemailUrl="https://vm.example/1")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-VOICEMAIL-UNANSWERED-INBOUND"


def test_it_refuses_a_voicemail_url_for_an_outbound_call(
    rita: Api, outbound_call: str, sandbox: SandboxControl
) -> None:
    response = rita.update_call(outbound_call, state="busy", voicemailUrl="https://vm.example/1")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-VOICEMAIL-UNANSWERED-INBOUND"


def test_it_refuses_a_voicemail_url_over_1024_characters(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    url = "https://vm.example/" + "v" * 1006
    response = rita.update_call(inbound_call, state="busy", voicemailUrl=url)
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-VOICEMAIL-URL"


def test_it_takes_links_until_an_hour_after_the_call_ended(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    rita.update_call(inbound_call, state="completed")
    sandbox.advance_clock(3590)
    response = rita.update_call(inbound_call, recordingUrl="https://rec.example/1")
    assert response.status_code == 200


def test_it_refuses_everything_more_than_an_hour_after_the_call_ended(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    rita.update_call(inbound_call, state="completed")
    sandbox.advance_clock(3601)
    response = rita.update_call(inbound_call, recordingUrl="https://rec.example/1")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-UPDATE-WINDOW"


def test_it_counts_the_hour_from_the_final_state_changed_at(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    ended = sandbox.clock()["now"]
    sandbox.advance_clock(1800)
    rita.update_call(inbound_call, state="busy", stateChangedAt=ended)
    sandbox.advance_clock(1801)
    response = rita.update_call(inbound_call, voicemailUrl="https://vm.example/1")
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-UPDATE-WINDOW", response.text


def test_it_refuses_to_update_a_call_of_another_vendor(
    sandbox: SandboxControl, cast: Cast, rita: Api
) -> None:
    native = sandbox.launch_call(cast.rita["id"], "+12065550100", external_vendor="OutreachVoice")
    response = rita.update_call(native["id"], state="initiated")
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-UPDATE-VOICE-EXTENSION"


def test_it_hides_the_call_from_another_org(
    cast: Cast, api_for: Any, inbound_call: int, sandbox: SandboxControl
) -> None:
    oscar = api_for(cast.oscar)
    response = oscar.update_call(inbound_call, state="ringing")
    assert response.status_code == 404
    assert error_of(response)["id"] == "resourceNotFound"
    assert sandbox.requests()[-1]["refusedBy"] == "API-ORG"
    assert sandbox.call(inbound_call)["history"] == []


def test_it_lets_a_teammate_update_the_call(cast: Cast, api_for: Any, inbound_call: int) -> None:
    assert api_for(cast.tess).update_call(inbound_call, state="ringing").status_code == 200


def test_it_answers_404_for_a_call_that_does_not_exist(rita: Api) -> None:
    assert rita.update_call("999", state="ringing").status_code == 404
    assert (
        rita.update_call("91FCF82E-9817-4C73-959F-4CF4A0DB334D", state="ringing").status_code == 404
    )


def test_it_updates_an_outbound_call_by_its_uuid(
    rita: Api, outbound_call: str, sandbox: SandboxControl
) -> None:
    assert outbound_call == outbound_call.upper() and len(outbound_call) == 36
    response = rita.update_call(outbound_call, state="initiated", vendorCallId="CA42")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == outbound_call
    assert response.json()["data"]["attributes"]["vendorCallId"] == "CA42"


def test_it_refuses_a_vendor_call_id_over_63_characters(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    response = rita.update_call(inbound_call, state="ringing", vendorCallId="x" * 64)
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-VENDOR-CALL-ID"
    assert rita.update_call(inbound_call, state="ringing", vendorCallId="x" * 63).status_code == 200


def test_it_reports_initiated_within_5_seconds_of_the_launch(
    rita: Api, outbound_call: str, sandbox: SandboxControl
) -> None:
    assert sandbox.call(outbound_call)["launch"]["initiatedWithin5s"] is None
    sandbox.advance_clock(3)
    rita.update_call(outbound_call, state="initiated")
    launch = sandbox.call(outbound_call)["launch"]
    assert launch["initiatedWithin5s"] is True
    assert 3 <= launch["initiatedDelaySeconds"] < 4
    assert launch["initiatedAt"] is not None


def test_it_reports_initiated_arriving_late_without_failing_the_call(
    rita: Api, outbound_call: str, sandbox: SandboxControl
) -> None:
    sandbox.advance_clock(6)
    assert sandbox.call(outbound_call)["launch"]["initiatedWithin5s"] is False
    response = rita.update_call(outbound_call, state="initiated")
    assert response.status_code == 200
    launch = sandbox.call(outbound_call)["launch"]
    assert launch["initiatedWithin5s"] is False
    assert launch["initiatedDelaySeconds"] >= 6


def test_it_keeps_every_accepted_and_refused_update_in_the_call_history(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    rita.update_call(inbound_call, state="ringing")
    rita.update_call(inbound_call, state="initiated")
    history = sandbox.call(inbound_call)["history"]
    assert [(e["outcome"], e["stateBefore"], e["stateAfter"], e["rule"]) for e in history] == [
        ("accepted", None, "ringing", None),
        ("refused", "ringing", "ringing", "CALL-STATE-ORDER"),
    ]
    assert history[1]["attributes"] == {"state": "initiated"}
    assert sandbox.requests()[history[1]["requestIndex"]]["status"] == 422
