"""What every /api/v2 request goes through (token, rate limit, route, scope, media type, JSON),
who-am-I, users, and finding the prospect behind a caller's number."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from outreach_sandbox import SandboxControl

from .helpers import JSON_API, PAT_NUMBER, Api, Cast, error_of, inbound, user_ref


def test_it_answers_who_am_i_at_the_api_root(rita: Api, cast: Cast, sandbox_url: str) -> None:
    response = rita.get("")
    assert response.status_code == 200
    document = response.json()
    assert document["data"]["type"] == "org"
    assert document["data"]["id"] == cast.org_guid
    assert document["meta"]["user"] == {
        "id": cast.rita["id"],
        "email": "rita@example.com",
        "firstName": "Rita",
        "lastName": "Rep",
    }
    assert "calls.all" in document["meta"]["scopes"]
    assert document["meta"]["instanceUrl"] == sandbox_url


def test_it_answers_who_am_i_with_the_org_of_the_token(cast: Cast, api_for: Any) -> None:
    document = api_for(cast.oscar, ("users.read",)).get("/").json()
    assert document["data"]["id"] == cast.other_org_guid
    assert document["meta"]["user"]["email"] == "oscar@other.example"


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic cml0YTpwdw==", "Bearer"])
def test_it_refuses_a_missing_or_unknown_token(
    web: httpx.Client, sandbox: SandboxControl, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = web.get("/api/v2/calls", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["id"] == "unauthorized"
    assert sandbox.requests()[-1]["refusedBy"] == "API-TOKEN"


def test_it_refuses_an_expired_token(rita: Api, sandbox: SandboxControl) -> None:
    assert rita.get("/users").status_code == 200
    sandbox.advance_clock(7200)
    response = rita.get("/users")
    assert response.status_code == 401
    assert "expired" in error_of(response)["detail"]


def test_it_expires_tokens_after_the_lifetime_set_by_the_control_api(
    sandbox: SandboxControl, cast: Cast, api_for: Any
) -> None:
    sandbox.set_limits(access_token_lifetime=60)
    api = api_for(cast.rita)
    sandbox.advance_clock(59)
    assert api.get("/users").status_code == 200
    sandbox.advance_clock(1)
    assert api.get("/users").status_code == 401


def test_it_refuses_tokens_the_control_api_expired_or_revoked(
    sandbox: SandboxControl, cast: Cast, api_for: Any
) -> None:
    api = api_for(cast.rita)
    assert sandbox.expire_tokens(cast.rita["id"]) == 1
    assert api.get("/users").status_code == 401
    api = api_for(cast.rita)
    sandbox.revoke_tokens(cast.rita["id"])
    assert api.get("/users").status_code == 401


@pytest.mark.parametrize(
    ("scopes", "method", "path", "needed"),
    [
        (("calls.read",), "POST", "/calls", "calls.write"),
        (("calls.write",), "GET", "/calls", "calls.read"),
        (("prospects.read",), "GET", "/users", "users.read"),
        (("users.read",), "GET", "/phoneNumbers", "phoneNumbers.read"),
        (("phoneNumbers.read",), "GET", "/prospects/1", "prospects.read"),
        (("users.all",), "PATCH", "/calls/1", "calls.write"),
    ],
)
def test_it_refuses_a_token_without_the_scope(
    cast: Cast,
    api_for: Any,
    sandbox: SandboxControl,
    scopes: tuple[str, ...],
    method: str,
    path: str,
    needed: str,
) -> None:
    api = api_for(cast.rita, scopes)
    response = api.http.request(method, path, json={"data": {"type": "call"}})
    assert response.status_code == 403
    error = error_of(response)
    assert error["id"] == "unauthorizedOauthScope"
    assert needed in error["detail"]
    assert sandbox.requests()[-1]["refusedBy"] == "API-SCOPE"


@pytest.mark.parametrize("scopes", [("calls.write",), ("calls.all",)])
def test_it_accepts_write_or_all_for_a_write(
    cast: Cast, api_for: Any, scopes: tuple[str, ...]
) -> None:
    api = api_for(cast.rita, scopes)
    assert api.create_call(inbound(), user_ref(cast.rita["id"])).status_code == 201


def test_it_refuses_a_body_without_the_json_api_media_type(
    rita: Api, cast: Cast, sandbox: SandboxControl
) -> None:
    body = {"data": {"type": "call", "attributes": inbound()}}
    for content_type in ("application/json", "application/vnd.api+json; charset=utf-8"):
        response = rita.http.post("/calls", json=body, headers={"Content-Type": content_type})
        assert response.status_code == 415
        assert error_of(response)["id"] == "unsupportedMediaType"
        assert sandbox.requests()[-1]["refusedBy"] == "API-CONTENT-TYPE"


def test_it_refuses_malformed_json(rita: Api, sandbox: SandboxControl) -> None:
    response = rita.http.post("/calls", content=b'{"data": ')
    assert response.status_code == 400
    assert sandbox.requests()[-1]["refusedBy"] == "API-JSON"


def test_it_answers_unknown_paths_and_methods_in_json_api(rita: Api) -> None:
    unknown = rita.get("/sequences")
    assert unknown.status_code == 404
    assert error_of(unknown)["id"] == "resourceNotFound"
    wrong = rita.http.delete("/calls/1")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, PATCH"
    assert error_of(wrong)["id"] == "methodNotAllowed"
    odd = rita.http.request("BREW", "/calls")
    assert odd.status_code == 405


def test_it_refuses_unknown_query_parameters(rita: Api, sandbox: SandboxControl) -> None:
    response = rita.get("/calls", **{"filter[outcome]": "x"})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "filter[outcome]"}
    assert rita.get("/users", **{"page[size]": 0}).status_code == 400
    assert rita.get("/phoneNumbers", include="account").status_code == 400


def test_it_sends_the_rate_limit_headers_on_every_answer(
    rita: Api, web: httpx.Client, sandbox: SandboxControl
) -> None:
    for response in (rita.get("/users"), rita.get("/nowhere"), web.get("/api/v2")):
        assert response.headers["X-RateLimit-Limit"] == "10000"
        assert int(response.headers["X-RateLimit-Remaining"]) <= 10000
        assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert rita.get("/users").headers["X-RateLimit-Remaining"] == "9997"


def test_it_answers_429_past_the_hourly_rate_limit(
    rita: Api, sandbox: SandboxControl, cast: Cast, api_for: Any
) -> None:
    sandbox.set_limits(rate_limit_per_hour=3)
    assert [rita.get("/users").status_code for _ in range(3)] == [200, 200, 200]
    refused = rita.get("/users")
    assert refused.status_code == 429
    assert error_of(refused)["id"] == "rateLimitExceeded"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    assert sandbox.requests()[-1]["refusedBy"] == "API-RATE-LIMIT"
    # Per user: Tess still has her hour.
    assert api_for(cast.tess).get("/users").status_code == 200
    sandbox.advance_clock(3600)
    assert rita.get("/users").status_code == 200


def test_it_finds_users_by_email_within_the_org(rita: Api, cast: Cast) -> None:
    found = rita.get("/users", **{"filter[email]": "TESS@example.com"}).json()["data"]
    assert [u["id"] for u in found] == [cast.tess["id"]]
    assert rita.get("/users", **{"filter[email]": "oscar@other.example"}).json()["data"] == []
    assert rita.get(f"/users/{cast.tess['id']}").json()["data"]["attributes"]["name"] == "Tess Mate"
    assert rita.get(f"/users/{cast.oscar['id']}").status_code == 404
    assert rita.get("/users/abc").status_code == 404


@pytest.mark.parametrize("number", ["+12065550100", "+1 206 555 0100", "+1-206-555-0100"])
def test_it_finds_the_prospect_behind_a_number_by_its_e164_digits(
    rita: Api, cast: Cast, number: str
) -> None:
    document = rita.get("/phoneNumbers", **{"filter[number]": number, "include": "prospect"}).json()
    (phone,) = document["data"]
    assert phone["attributes"]["number"] == PAT_NUMBER
    assert phone["relationships"]["prospect"]["data"] == {"type": "prospect", "id": cast.pat["id"]}
    assert document["included"][0]["attributes"]["name"] == "Pat Lee"


@pytest.mark.parametrize("number", ["+12065550101", "12065550100", "+2065550100"])
def test_it_finds_no_prospect_for_other_digits(rita: Api, number: str) -> None:
    assert rita.get("/phoneNumbers", **{"filter[number]": number}).json()["data"] == []


def test_it_hides_phone_numbers_and_prospects_of_another_org(cast: Cast, api_for: Any) -> None:
    oscar = api_for(cast.oscar)
    assert oscar.get("/phoneNumbers", **{"filter[number]": "+12065550100"}).json()["data"] == []
    assert oscar.get(f"/prospects/{cast.pat['id']}").status_code == 404


def test_it_reads_a_prospect(rita: Api, cast: Cast) -> None:
    response = rita.get(f"/prospects/{cast.pat['id']}")
    assert response.headers["Content-Type"] == JSON_API
    attributes = response.json()["data"]["attributes"]
    assert attributes["mobilePhones"] == [PAT_NUMBER]
    assert attributes["firstName"] == "Pat"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe", b"null", b'"text"', b"[1, 2]", b'{"data": {"type": "call", "id": 2}}'],
)
def test_it_never_answers_500_to_bad_input(
    rita: Api, inbound_call: int, body: bytes, sandbox: SandboxControl
) -> None:
    for path in ("/calls", f"/calls/{inbound_call}"):
        for method in ("POST", "PATCH"):
            response = rita.http.request(method, path, content=body)
            assert 400 <= response.status_code < 500
            assert response.headers["Content-Type"] == JSON_API
    assert all(r["status"] < 500 for r in sandbox.requests())
