"""POST /calls as 000 "Create a new call" requires, and reading calls back."""

from __future__ import annotations

from typing import Any

import pytest

from outreach_sandbox import SandboxControl

from .helpers import Api, Cast, error_of, inbound, user_ref


def test_it_creates_an_inbound_call_with_an_integer_id(rita: Api, cast: Cast) -> None:
    prospect = {"prospect": {"data": {"type": "prospect", "id": cast.pat["id"]}}}
    response = rita.create_call(inbound(), {**user_ref(cast.rita["id"]), **prospect})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    data = response.json()["data"]
    assert isinstance(data["id"], int)
    assert data["attributes"]["direction"] == "inbound"
    assert data["attributes"]["externalVendor"] == "VoiceExtension"
    assert data["attributes"]["state"] is None
    assert data["relationships"]["user"]["data"] == {"type": "user", "id": cast.rita["id"]}
    assert data["relationships"]["prospect"]["data"] == {"type": "prospect", "id": cast.pat["id"]}


def test_it_creates_a_call_with_a_blank_vendor_call_id_and_outcome(rita: Api, cast: Cast) -> None:
    response = rita.create_call(inbound(vendorCallId="", outcome=""), user_ref(cast.rita["id"]))
    assert response.status_code == 201


def test_it_creates_a_call_already_in_a_state(rita: Api, cast: Cast) -> None:
    response = rita.create_call(inbound(state="ringing"), user_ref(cast.rita["id"]))
    assert response.status_code == 201
    assert response.json()["data"]["attributes"]["state"] == "ringing"
    assert response.json()["data"]["attributes"]["stateChangedAt"] is not None


@pytest.mark.parametrize(
    ("overrides", "rule", "pointer"),
    [
        ({"direction": "outbound"}, "CALL-DIRECTION-INBOUND", "direction"),
        ({"direction": None}, "CALL-DIRECTION-INBOUND", "direction"),
        ({"externalVendor": "Twilio"}, "CALL-EXTERNAL-VENDOR", "externalVendor"),
        ({"externalVendor": None}, "CALL-EXTERNAL-VENDOR", "externalVendor"),
        ({"outcome": "Answered"}, "CALL-OUTCOME-BLANK", "outcome"),
        ({"vendorCallId": "x" * 64}, "CALL-VENDOR-CALL-ID", "vendorCallId"),
        ({"from": "1" * 256}, "CALL-NUMBERS", "from"),
        ({"to": "1" * 256}, "CALL-NUMBERS", "to"),
        ({"to": ""}, "CALL-NUMBERS", "to"),
        ({"note": "n" * 65536}, "CALL-NOTE-LENGTH", "note"),
        ({"state": "picked up"}, "CALL-STATE-VALUE", "state"),
        ({"answeredAt": "2030-01-01T00:00:00Z"}, "CALL-CREATE-ATTRIBUTES", "answeredAt"),
        ({"createdAt": "2030-01-01T00:00:00Z"}, "CALL-CREATE-ATTRIBUTES", "createdAt"),
        ({"voicemailUrl": "https://vm.example/1"}, "CALL-CREATE-ATTRIBUTES", "voicemailUrl"),
        ({"from": 12065550100}, "API-ATTRIBUTE-TYPE", "from"),
    ],
)
def test_it_refuses_an_inbound_call_outside_the_contract(
    rita: Api,
    cast: Cast,
    sandbox: SandboxControl,
    overrides: dict[str, Any],
    rule: str,
    pointer: str,
) -> None:
    response = rita.create_call(inbound(**overrides), user_ref(cast.rita["id"]))
    assert response.status_code == 422
    error = error_of(response)
    assert error["id"] == "validationError"
    assert error["source"] == {"pointer": f"/data/attributes/{pointer}"}
    assert sandbox.requests()[-1]["refusedBy"] == rule


def test_it_accepts_the_longest_allowed_values(rita: Api, cast: Cast) -> None:
    attributes = inbound(vendorCallId="x" * 63, **{"from": "1" * 255, "to": "2" * 255})
    assert rita.create_call(attributes, user_ref(cast.rita["id"])).status_code == 201


@pytest.mark.parametrize(
    "relationships",
    [
        None,
        {"user": {"data": None}},
        {"user": {"data": {"type": "user", "id": 999}}},
        {"user": {"data": {"type": "prospect", "id": 1}}},
        {"user": {"data": {"type": "user", "id": "rita"}}},
    ],
)
def test_it_refuses_a_call_without_a_user_of_the_org(
    rita: Api, sandbox: SandboxControl, relationships: dict[str, Any] | None
) -> None:
    response = rita.create_call(inbound(), relationships)
    assert response.status_code == 422
    assert error_of(response)["source"]["pointer"].startswith("/data/relationships/user")
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-USER"


def test_it_refuses_a_user_of_another_org(rita: Api, cast: Cast, sandbox: SandboxControl) -> None:
    response = rita.create_call(inbound(), user_ref(cast.oscar["id"]))
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-USER"


def test_it_refuses_a_prospect_of_another_org(
    sandbox: SandboxControl, rita: Api, cast: Cast
) -> None:
    stranger = sandbox.create_prospect(first_name="Stan", org_guid=cast.other_org_guid)
    prospect = {"prospect": {"data": {"type": "prospect", "id": stranger["id"]}}}
    response = rita.create_call(inbound(), {**user_ref(cast.rita["id"]), **prospect})
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "CALL-PROSPECT"


def test_it_refuses_other_relationships(rita: Api, cast: Cast, sandbox: SandboxControl) -> None:
    task = {"task": {"data": {"type": "task", "id": 1}}}
    response = rita.create_call(inbound(), {**user_ref(cast.rita["id"]), **task})
    assert response.status_code == 422
    assert error_of(response)["source"] == {"pointer": "/data/relationships/task"}


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"data": []},
        {"data": {"type": "calls", "attributes": {}}},
        {"data": {"type": "call", "attributes": []}},
    ],
)
def test_it_refuses_a_document_of_the_wrong_shape(
    rita: Api, sandbox: SandboxControl, document: Any
) -> None:
    response = rita.http.post("/calls", json=document)
    assert response.status_code == 422
    assert sandbox.requests()[-1]["refusedBy"] == "API-DOCUMENT"


def test_it_lists_calls_filtered_by_vendor_call_id_and_user(
    rita: Api, cast: Cast, api_for: Any
) -> None:
    rita.create_call(inbound(vendorCallId="CA1"), user_ref(cast.rita["id"]))
    rita.create_call(inbound(vendorCallId="CA2"), user_ref(cast.tess["id"]))
    api_for(cast.oscar).create_call(inbound(vendorCallId="CA1"), user_ref(cast.oscar["id"]))
    by_vendor = rita.get("/calls", **{"filter[vendorCallId]": "CA1"}).json()["data"]
    assert [c["attributes"]["vendorCallId"] for c in by_vendor] == ["CA1"]
    by_user = rita.get("/calls", **{"filter[user][id]": cast.tess["id"]}).json()["data"]
    assert [c["attributes"]["vendorCallId"] for c in by_user] == ["CA2"]


def test_it_reads_a_call_of_its_org_only(
    rita: Api, inbound_call: int, cast: Cast, api_for: Any
) -> None:
    assert rita.get(f"/calls/{inbound_call}").json()["data"]["id"] == inbound_call
    assert api_for(cast.oscar).get(f"/calls/{inbound_call}").status_code == 404
    assert api_for(cast.oscar).get("/calls").json()["data"] == []


def test_it_pages_a_long_collection(rita: Api, cast: Cast) -> None:
    for number in range(3):
        rita.create_call(inbound(vendorCallId=f"CA{number}"), user_ref(cast.rita["id"]))
    first = rita.get("/calls", **{"page[size]": 2}).json()
    assert len(first["data"]) == 2
    second = rita.http.get(first["links"]["next"]).json()
    assert [c["attributes"]["vendorCallId"] for c in second["data"]] == ["CA2"]
    assert "next" not in second["links"]
