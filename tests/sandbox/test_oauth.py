"""Outreach's OAuth 2.0: the consent page, the code exchange, refresh rotation and the limits."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from outreach_sandbox import SandboxControl, running_sandbox

from .helpers import Cast

CALLBACK = "http://127.0.0.1:8000/accounts/outreach/login/callback/"
SCOPE = "calls.all users.read"


def authorize_params(**overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "callbridge-dev",
        "redirect_uri": CALLBACK,
        "scope": SCOPE,
        "state": "s-123",
        **overrides,
    }


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    return {k: v[-1] for k, v in parse_qs(location.query).items()}


def approve(web: httpx.Client, **form: str) -> httpx.Response:
    return web.post("/oauth/authorize", data={**authorize_params(), **form})


def code_for(web: httpx.Client, user_id: int, **overrides: str) -> str:
    response = approve(web, user_id=str(user_id), decision="approve", **overrides)
    return redirect_query(response)["code"]


def token_request(web: httpx.Client, **form: str) -> httpx.Response:
    base = {"client_id": "callbridge-dev", "client_secret": "callbridge-dev-secret"}
    return web.post("/oauth/token", data={**base, **form})


def exchange(web: httpx.Client, code: str, **form: str) -> httpx.Response:
    return token_request(
        web, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, **form
    )


def refresh(web: httpx.Client, refresh_token: str) -> httpx.Response:
    return token_request(web, grant_type="refresh_token", refresh_token=refresh_token)


def test_it_shows_a_page_to_pick_or_create_a_user(web: httpx.Client, cast: Cast) -> None:
    response = web.get("/oauth/authorize", params=authorize_params())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "rita@example.com" in response.text
    assert "calls.all" in response.text
    assert "value='approve'" in response.text and "value='deny'" in response.text


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"client_id": "someone-else"}, "OAUTH-CLIENT"),
        ({"redirect_uri": "https://evil.example/callback"}, "OAUTH-REDIRECT-URI"),
        ({"redirect_uri": CALLBACK + "extra"}, "OAUTH-REDIRECT-URI"),
    ],
)
def test_it_refuses_an_unknown_client_or_redirect_uri_without_redirecting(
    web: httpx.Client, sandbox: SandboxControl, overrides: dict[str, str], rule: str
) -> None:
    for response in (
        web.get("/oauth/authorize", params=authorize_params(**overrides)),
        approve(web, decision="approve", **overrides),
    ):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert response.headers["Content-Type"].startswith("text/html")
        assert sandbox.requests()[-1]["refusedBy"] == rule


def test_it_redirects_with_a_code_and_the_unchanged_state(web: httpx.Client, cast: Cast) -> None:
    response = approve(web, user_id=str(cast.rita["id"]), decision="approve")
    query = redirect_query(response)
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert query["state"] == "s-123"
    assert query["code"]


def test_it_redirects_access_denied_on_deny(web: httpx.Client, cast: Cast) -> None:
    response = approve(web, user_id=str(cast.rita["id"]), decision="deny")
    assert redirect_query(response) == {"error": "access_denied", "state": "s-123"}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "calls.everything"}, "invalid_scope"),
    ],
)
def test_it_redirects_a_bad_response_type_or_scope_as_an_error(
    web: httpx.Client, overrides: dict[str, str], error: str
) -> None:
    response = web.get("/oauth/authorize", params=authorize_params(**overrides))
    assert redirect_query(response) == {"error": error, "state": "s-123"}


def test_it_creates_a_user_and_an_org_from_the_page(
    web: httpx.Client, sandbox: SandboxControl
) -> None:
    form = {"email": "new@acme.example", "first_name": "Nia", "new_org_name": "Acme"}
    code = redirect_query(approve(web, decision="approve", **form))["code"]
    grant = exchange(web, code).json()
    me = web.get("/api/v2", headers={"Authorization": f"Bearer {grant['access_token']}"}).json()
    assert me["meta"]["user"]["email"] == "new@acme.example"
    acme = next(o for o in sandbox.orgs() if o["name"] == "Acme")
    assert me["data"]["id"] == acme["guid"]


def test_it_creates_a_user_in_an_existing_org(
    web: httpx.Client, sandbox: SandboxControl, cast: Cast
) -> None:
    form = {"email": "joe@other.example", "org_guid": cast.other_org_guid}
    assert approve(web, decision="approve", **form).status_code == 302
    joe = next(u for u in sandbox.users() if u["email"] == "joe@other.example")
    assert joe["orgGuid"] == cast.other_org_guid


@pytest.mark.parametrize(
    "form", [{}, {"email": "not-an-email"}, {"email": "rita@example.com"}, {"user_id": "999"}]
)
def test_it_shows_the_page_again_when_no_user_can_be_chosen(
    web: httpx.Client, cast: Cast, form: dict[str, str]
) -> None:
    response = approve(web, decision="approve", **form)
    assert response.status_code == 400
    assert "class='error'" in response.text


def test_it_exchanges_a_code_for_tokens(web: httpx.Client, cast: Cast) -> None:
    response = exchange(web, code_for(web, cast.rita["id"]))
    assert response.status_code == 200
    grant = response.json()
    assert set(grant) == {
        "access_token", "token_type", "expires_in", "refresh_token", "scope", "created_at"
    }  # fmt: skip
    assert grant["token_type"] == "bearer"
    assert grant["expires_in"] == 7200
    assert grant["scope"] == SCOPE


def test_it_takes_a_code_once(web: httpx.Client, cast: Cast, sandbox: SandboxControl) -> None:
    sandbox.set_limits(mint_window=0)
    code = code_for(web, cast.rita["id"])
    assert exchange(web, code).status_code == 200
    again = exchange(web, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert sandbox.requests()[-1]["refusedBy"] == "OAUTH-CODE"


def test_it_refuses_a_code_after_ten_minutes(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    code = code_for(web, cast.rita["id"])
    sandbox.advance_clock(600)
    assert exchange(web, code).json()["error"] == "invalid_grant"


def test_it_refuses_a_code_with_another_redirect_uri(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    code = code_for(web, cast.rita["id"])
    response = token_request(
        web,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost:8000/accounts/outreach/login/callback/",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert sandbox.requests()[-1]["refusedBy"] == "OAUTH-CODE-REDIRECT-URI"


@pytest.mark.parametrize(
    "form",
    [
        {"client_secret": "wrong"},
        {"client_id": "someone-else"},
        {"client_secret": ""},
    ],
)
def test_it_refuses_a_client_that_does_not_authenticate(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl, form: dict[str, str]
) -> None:
    response = exchange(web, code_for(web, cast.rita["id"]), **form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert sandbox.requests()[-1]["refusedBy"] == "OAUTH-CLIENT"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
    ],
)
def test_it_refuses_a_grant_it_does_not_support_or_understand(
    web: httpx.Client, form: dict[str, str], error: str
) -> None:
    response = token_request(web, **form)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert "error_description" in response.json()


def test_it_wants_the_token_request_form_encoded(web: httpx.Client) -> None:
    response = web.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "client_id": "callbridge-dev"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_it_rotates_the_refresh_token_on_every_refresh(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    sandbox.set_limits(mint_window=0)
    first = exchange(web, code_for(web, cast.rita["id"])).json()
    second = refresh(web, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert second.json()["scope"] == SCOPE
    old = refresh(web, first["refresh_token"])
    assert old.status_code == 400
    assert old.json()["error"] == "invalid_grant"
    assert sandbox.requests()[-1]["refusedBy"] == "OAUTH-REFRESH-TOKEN"
    assert refresh(web, second.json()["refresh_token"]).status_code == 200


def test_it_expires_a_refresh_token_after_14_days_unused(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    grant = exchange(web, code_for(web, cast.rita["id"])).json()
    sandbox.advance_clock(14 * 86400)
    assert refresh(web, grant["refresh_token"]).json()["error"] == "invalid_grant"


def test_it_refreshes_within_14_days(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    grant = exchange(web, code_for(web, cast.rita["id"])).json()
    sandbox.advance_clock(14 * 86400 - 1)
    assert refresh(web, grant["refresh_token"]).status_code == 200


def test_it_refuses_a_revoked_refresh_token(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    grant = exchange(web, code_for(web, cast.rita["id"])).json()
    sandbox.revoke_tokens(cast.rita["id"])
    sandbox.advance_clock(60)
    assert refresh(web, grant["refresh_token"]).json()["error"] == "invalid_grant"


def test_it_mints_one_access_token_per_user_per_minute(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    # The first exchange is a mint too: a refresh right after it is refused.
    grant = exchange(web, code_for(web, cast.rita["id"])).json()
    sandbox.advance_clock(30)
    refused = refresh(web, grant["refresh_token"])
    assert refused.status_code == 429
    assert 29 <= int(refused.headers["Retry-After"]) <= 30
    assert sandbox.requests()[-1]["refusedBy"] == "OAUTH-MINT-RATE"
    # Refusing it did not use up the refresh token; another user is not held back.
    tess = exchange(web, code_for(web, cast.tess["id"]))
    assert tess.status_code == 200
    sandbox.advance_clock(30)
    assert refresh(web, grant["refresh_token"]).status_code == 200


def test_it_counts_a_control_api_token_as_a_mint(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    sandbox.issue_token(cast.rita["id"], ["calls.all"])
    code = code_for(web, cast.rita["id"])
    assert exchange(web, code).status_code == 429
    sandbox.set_limits(mint_window=0)
    assert exchange(web, code).status_code == 200


def test_it_uses_the_mint_window_set_by_the_control_api(
    web: httpx.Client, cast: Cast, sandbox: SandboxControl
) -> None:
    sandbox.set_limits(mint_window=5)
    grant = exchange(web, code_for(web, cast.rita["id"])).json()
    sandbox.advance_clock(5)
    assert refresh(web, grant["refresh_token"]).status_code == 200


def test_it_gives_tokens_that_work_on_the_api(web: httpx.Client, cast: Cast) -> None:
    grant = exchange(web, code_for(web, cast.rita["id"])).json()
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    assert web.get("/api/v2/users", headers=headers).status_code == 200
    assert web.get("/api/v2/prospects/1", headers=headers).status_code == 403


def test_it_answers_unknown_oauth_paths_in_json(web: httpx.Client) -> None:
    response = web.get("/oauth/token")
    assert response.status_code == 405
    assert web.get("/oauth/nothing").json()["errors"][0]["id"] == "resourceNotFound"


def test_it_accepts_redirect_uris_given_as_options() -> None:
    with running_sandbox(redirect_uris=[CALLBACK, "https://demo.example/cb"]) as url:
        params = authorize_params(redirect_uri="https://demo.example/cb")
        assert httpx.get(f"{url}/oauth/authorize", params=params).status_code == 200
