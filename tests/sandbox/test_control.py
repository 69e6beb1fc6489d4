"""The control API: request log, clock, faults, reset, and the ways to run the sandbox."""

from __future__ import annotations

import argparse
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.message import Message
from pathlib import Path

import httpx
import pytest

from outreach_sandbox import SandboxControl, api, running_sandbox, sandbox_process
from outreach_sandbox.messages import Request, route
from outreach_sandbox.options import (
    DEFAULT_REDIRECT_URIS,
    SandboxOptions,
    add_arguments,
    options_from_arguments,
)
from outreach_sandbox.rules import Rule
from outreach_sandbox.server import SandboxServer

from .helpers import Api, Cast, error_of, inbound, user_ref, wait_until

README = Path(__file__).resolve().parents[2] / "outreach_sandbox" / "README.md"


def documented_rules() -> set[str]:
    """The rule ids in the sandbox's README (its other tables are not rules)."""
    return set(re.findall(r"^\| `([A-Z0-9-]+)` \|", README.read_text(), re.MULTILINE))


def test_it_logs_every_request_with_its_rules(
    rita: Api, inbound_call: int, sandbox: SandboxControl, cast: Cast
) -> None:
    rita.update_call(inbound_call, state="in progress")
    rita.update_call(inbound_call, state="ringing", stateChangedAt="2030-01-01T00:00:00Z")
    accepted, refused = sandbox.requests(path_prefix="/api/v2/calls/")
    assert accepted["method"] == "PATCH"
    assert accepted["path"] == f"/api/v2/calls/{inbound_call}"
    assert accepted["status"] == 200
    assert accepted["refusedBy"] is None
    assert {"API-TOKEN", "API-SCOPE", "CALL-STATE-ORDER"} <= set(accepted["rulesChecked"])
    assert refused["status"] == 422
    assert refused["refusedBy"] == "CALL-STATE-ORDER"
    assert '"ringing"' in refused["requestBody"]
    assert "prior to the current state" in refused["responseBody"]
    assert refused["user"] == {"id": cast.rita["id"], "email": "rita@example.com"}
    assert refused["durationMs"] >= 0
    assert re.fullmatch(r".+T\d\d:\d\d:\d\d\.\d{6}\+00:00", refused["receivedAt"])
    assert datetime.fromisoformat(refused["receivedAtSandbox"])
    assert refused["authorization"] == "Bearer [REDACTED]"


def test_it_logs_on_the_sandbox_clock_and_the_wall_clock(
    rita: Api, sandbox: SandboxControl
) -> None:
    sandbox.set_clock_offset(86400)
    rita.get("/users")
    entry = sandbox.requests(path_prefix="/api/v2")[-1]
    wall = datetime.fromisoformat(entry["receivedAt"])
    shifted = datetime.fromisoformat(entry["receivedAtSandbox"])
    assert 86399 < (shifted - wall).total_seconds() < 86401


def test_it_redacts_tokens_and_client_secrets_in_the_log(
    web: httpx.Client, sandbox: SandboxControl, cast: Cast
) -> None:
    grant = sandbox.issue_token(cast.rita["id"], ["calls.all"], count_as_mint=False)
    web.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": grant["refresh_token"],
            "client_id": "callbridge-dev",
            "client_secret": "callbridge-dev-secret",
        },
    )
    web.get("/api/v2", headers={"Authorization": f"Bearer {grant['access_token']}"})
    log = str(sandbox.requests())
    assert grant["access_token"] not in log
    assert grant["refresh_token"] not in log
    assert "callbridge-dev-secret" not in log
    assert "client_secret=[REDACTED]" in log


def test_it_filters_the_log_by_path_prefix_and_index(rita: Api, sandbox: SandboxControl) -> None:
    rita.get("/users")
    mark = sandbox.requests()[-1]["index"] + 1
    rita.get("/calls")
    assert [r["path"] for r in sandbox.requests(since=mark)] == ["/api/v2/calls"]
    assert [r["path"] for r in sandbox.requests(path_prefix="/api/v2/users")] == ["/api/v2/users"]


def test_it_answers_500_for_the_next_requests_when_told(rita: Api, sandbox: SandboxControl) -> None:
    sandbox.fail_next(2, path_prefix="/api/v2/calls")
    assert rita.get("/users").status_code == 200  # another path: untouched
    assert [rita.get("/calls").status_code for _ in range(3)] == [500, 500, 200]
    failed = sandbox.requests(path_prefix="/api/v2/calls")[0]
    assert failed["fault"] == "error"
    assert failed["responseBody"].startswith('{"errors"')


def test_it_answers_the_status_and_body_it_is_told(
    web: httpx.Client, rita: Api, sandbox: SandboxControl, cast: Cast
) -> None:
    sandbox.fail_next(path_prefix="/oauth/token", status=400, body={"error": "invalid_client"})
    grant = sandbox.issue_token(cast.rita["id"], ["calls.all"], count_as_mint=False)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": grant["refresh_token"],
        "client_id": "callbridge-dev",
        "client_secret": "callbridge-dev-secret",
    }
    refused = web.post("/oauth/token", data=form)
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/json"  # an OAuth error, not JSON:API
    assert refused.json() == {"error": "invalid_client"}
    assert sandbox.requests(path_prefix="/oauth/token")[-1]["fault"] == "error"
    assert web.post("/oauth/token", data=form).status_code == 200  # the refused one changed nothing
    sandbox.fail_next(path_prefix="/api/v2/users", status=404)
    missing = rita.get("/users")
    assert missing.status_code == 404
    assert error_of(missing)["id"] == "notFound"


def test_it_answers_429_with_retry_after_when_told(rita: Api, sandbox: SandboxControl) -> None:
    sandbox.rate_limit_next(retry_after=17)
    response = rita.get("/users")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "17"
    assert response.json()["errors"][0]["id"] == "rateLimitExceeded"
    assert rita.get("/users").status_code == 200


def test_it_hangs_without_holding_up_other_requests(rita: Api, sandbox: SandboxControl) -> None:
    sandbox.hang_next(0.6, path_prefix="/api/v2/calls")
    answers: list[int] = []
    slow = threading.Thread(target=lambda: answers.append(rita.get("/calls").status_code))
    started = time.perf_counter()
    slow.start()
    time.sleep(0.1)
    assert sandbox.config()["clientId"] == "callbridge-dev"  # answered while the other hangs
    assert time.perf_counter() - started < 0.5
    slow.join()
    assert answers == [200]
    assert time.perf_counter() - started >= 0.6


def test_it_hangs_then_fails_when_told(rita: Api, sandbox: SandboxControl) -> None:
    sandbox.hang_next(0.2, then_error=True)
    assert rita.get("/users").status_code == 500


def test_it_lets_a_client_give_up_on_a_hanging_request(rita: Api, sandbox: SandboxControl) -> None:
    sandbox.hang_next(0.5)
    with pytest.raises(httpx.ReadTimeout):
        rita.http.get("/users", timeout=0.1)
    time.sleep(0.5)
    assert rita.get("/users").status_code == 200


def test_it_holds_a_request_unapplied_until_released(
    rita: Api, inbound_call: int, sandbox: SandboxControl
) -> None:
    sandbox.hold_next(path_prefix=f"/api/v2/calls/{inbound_call}")
    with ThreadPoolExecutor() as pool:
        answer = pool.submit(rita.update_call, inbound_call, state="ringing")
        wait_until(lambda: sandbox.held() == 1)
        (held,) = sandbox.held_requests()
        assert (held["method"], held["path"]) == ("PATCH", f"/api/v2/calls/{inbound_call}")
        # Not applied yet, and the control API answers meanwhile: the lock is not held.
        assert sandbox.call(inbound_call)["call"]["attributes"]["state"] is None
        assert sandbox.requests(path_prefix="/api/v2/calls/") == []
        assert not answer.done()
        assert sandbox.release_held() == 1
        assert answer.result(timeout=5).status_code == 200
    assert sandbox.held() == 0
    assert sandbox.call(inbound_call)["call"]["attributes"]["state"] == "ringing"
    assert sandbox.requests(path_prefix="/api/v2/calls/")[-1]["fault"] == "hold"


def test_it_reports_how_many_requests_it_holds_and_from_which_port(
    rita: Api, sandbox_url: str, sandbox: SandboxControl
) -> None:
    sandbox.hold_next(2, path_prefix="/api/v2/users")
    host, port = sandbox_url.removeprefix("http://").split(":")
    request = (
        f"GET /api/v2/users HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {rita.token}\r\n\r\n"
    ).encode()
    with (
        socket.create_connection((host, int(port))) as first,
        socket.create_connection((host, int(port))) as second,
    ):
        for connection in (first, second):
            connection.sendall(request)
        wait_until(lambda: sandbox.held() == 2)
        # The client's port says which connection, and so which process, waits for the answer.
        ports = {held["clientPort"] for held in sandbox.held_requests()}
        assert ports == {first.getsockname()[1], second.getsockname()[1]}
        assert sandbox.release_held() == 2
        for connection in (first, second):
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
    assert sandbox.held() == 0


def test_it_answers_500_to_held_requests_when_released_so(
    rita: Api, sandbox: SandboxControl
) -> None:
    sandbox.hold_next()
    with ThreadPoolExecutor() as pool:
        answer = pool.submit(rita.get, "/users")
        wait_until(lambda: sandbox.held() == 1)
        assert sandbox.release_held(then_error=True) == 1
        assert answer.result(timeout=5).status_code == 500


def test_it_answers_a_held_request_anyway_after_its_maximum(
    rita: Api, sandbox: SandboxControl
) -> None:
    sandbox.hold_next(max_seconds=0.3)
    started = time.perf_counter()
    assert rita.get("/users").status_code == 200
    assert time.perf_counter() - started >= 0.3
    assert sandbox.held() == 0


@pytest.mark.parametrize(
    ("action", "status"),
    # A request waiting across a reset is answered 503 and left out of the new log: it belongs
    # to the sandbox before the reset (so a test never reads an earlier test's late request).
    [("clear_faults", 200), ("reset", 503)],
)
def test_it_lets_held_requests_go_when_faults_are_cleared_or_on_reset(
    rita: Api, sandbox: SandboxControl, action: str, status: int
) -> None:
    sandbox.hold_next()
    with ThreadPoolExecutor() as pool:
        answer = pool.submit(rita.get, "/users")
        wait_until(lambda: sandbox.held() == 1)
        getattr(sandbox, action)()
        assert answer.result(timeout=5).status_code == status
    assert sandbox.held() == 0


def test_it_clears_faults(rita: Api, sandbox: SandboxControl) -> None:
    sandbox.fail_next(5)
    sandbox.clear_faults()
    assert rita.get("/users").status_code == 200


def test_it_shifts_and_advances_its_clock(sandbox: SandboxControl) -> None:
    assert sandbox.set_clock_offset(100)["offsetSeconds"] == 100
    assert sandbox.advance_clock(50)["offsetSeconds"] == 150
    assert sandbox.set_clock_offset(0)["offsetSeconds"] == 0


def test_it_resets_everything(rita: Api, inbound_call: int, sandbox: SandboxControl) -> None:
    sandbox.set_limits(rate_limit_per_hour=5)
    sandbox.advance_clock(10)
    old_org = sandbox.default_org()
    fresh_org = sandbox.reset()
    assert fresh_org["guid"] != old_org["guid"]
    assert sandbox.users() == []
    assert sandbox.limits()["rateLimitPerHour"] == 10_000
    assert sandbox.clock()["offsetSeconds"] == 0
    assert rita.get("/users").status_code == 401
    assert sandbox.requests()[0]["path"] == "/_control/reset"
    assert sandbox.requests()[0]["index"] == 0


def test_it_sets_limits_and_refuses_unknown_ones(sandbox: SandboxControl) -> None:
    limits = sandbox.set_limits(rate_limit_per_hour=5, mint_window=0, access_token_lifetime=30)
    assert limits == {
        "rateLimitPerHour": 5,
        "mintWindow": 0,
        "accessTokenLifetime": 30,
        "refreshTokenLifetime": 14 * 86400,
    }
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sandbox._call("POST", "/limits", json={"speed": 3})
    assert refused.value.response.status_code == 400


def test_it_answers_bad_control_input_with_400(web: httpx.Client) -> None:
    for path, body in [
        ("/users", {"email": 3}),
        ("/tokens", {"userId": True, "scopes": []}),
        ("/faults", {"kind": "explode"}),
        ("/faults", {"kind": "error", "status": 200}),
        ("/faults", {"kind": "error", "status": 599}),
        ("/faults", {"kind": "hold", "seconds": -1}),
        ("/calls", {"userId": 999, "to": "+1"}),
    ]:
        response = web.post(f"/_control{path}", json=body)
        assert response.status_code in (400, 404)
        assert response.json()["errors"]


def test_it_keeps_the_control_api_for_loopback_callers() -> None:
    server = SandboxServer(SandboxOptions(port=0))
    try:
        request = Request("GET", "/_control/config", "", Message(), b"", "10.1.2.3")
        response = server.answer(request, datetime.now(), time.perf_counter())
        assert response.status == 403
    finally:
        server.server_close()


def test_it_runs_in_a_thread_on_loopback() -> None:
    with running_sandbox(client_id="other-client") as url:
        assert url.startswith("http://127.0.0.1:")
        assert SandboxControl(url).config()["clientId"] == "other-client"


def test_it_runs_as_a_separate_process() -> None:
    with sandbox_process(mint_window=0, redirect_uris=["https://demo.example/cb"]) as url:
        assert url.startswith("http://127.0.0.1:")
        config = SandboxControl(url).config()
        assert "https://demo.example/cb" in config["redirectUris"]
        assert config["limits"]["mintWindow"] == 0


@pytest.mark.fast
def test_it_documents_every_rule_it_enforces() -> None:
    assert documented_rules() == {rule.value for rule in Rule}


def test_it_creates_calls_through_the_control_api_with_a_launch_time(
    sandbox: SandboxControl, cast: Cast, rita: Api
) -> None:
    view = sandbox.launch_call(cast.rita["id"], "+12065550100", prospect_id=cast.pat["id"])
    assert view["call"]["attributes"]["direction"] == "outbound"
    assert view["call"]["attributes"]["state"] is None
    assert view["launch"]["launchedAt"] is not None
    assert rita.get(f"/calls/{view['id']}").json()["data"]["relationships"]["prospect"]["data"]
    inbound_view = sandbox.call(
        rita.create_call(inbound(), user_ref(cast.rita["id"])).json()["data"]["id"]
    )
    assert inbound_view["launch"] is None


def test_it_answers_an_unexpected_failure_with_a_json_api_500(
    rita: Api, sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api, "ROUTES", [route("GET", "", broken), *api.ROUTES[1:]])
    response = rita.get("")
    assert response.status_code == 500
    assert response.json()["errors"][0]["id"] == "internalServerError"
    assert sandbox.requests()[-1]["status"] == 500


def test_it_answers_a_malformed_request_line_in_json(sandbox_url: str) -> None:
    host, port = sandbox_url.removeprefix("http://").split(":")
    # One byte over the server's 65,536-byte line limit and nothing after it: the server reads
    # everything we sent before it answers, so closing cannot reset the connection under us.
    header = b"X-Long: " + b"a" * (65537 - len(b"X-Long: "))
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\n" + header)
        chunks = []
        while chunk := connection.recv(4096):  # headers and body may come in separate reads
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 431")
    assert "Content-Type: application/vnd.api+json" in answer
    assert '"errors"' in answer


def test_it_adds_redirect_uris_given_on_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    arguments = parser.parse_args(["--redirect-uri", "https://a.example/cb", "--mint-window", "0"])
    options = options_from_arguments(vars(arguments))
    assert options.redirect_uris == (*DEFAULT_REDIRECT_URIS, "https://a.example/cb")
    assert options.mint_window == 0
    assert (options.host, options.port, options.client_id) == ("127.0.0.1", 8765, "callbridge-dev")
