"""A typed client for the sandbox's control API, for tests and demos:

with running_sandbox() as url, SandboxControl(url) as sandbox:
    user = sandbox.create_user("rep@example.com")
    token = sandbox.issue_token(user["id"], ["calls.all", "users.read"])
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from functools import cache
from types import TracebackType
from typing import Any, TypedDict, cast

import httpx


class OrgInfo(TypedDict):
    guid: str
    name: str


class UserInfo(TypedDict):
    id: int
    email: str
    firstName: str
    lastName: str
    orgGuid: str


class PhoneNumberInfo(TypedDict):
    id: int
    number: str
    phoneType: str
    extension: str | None


class ProspectInfo(TypedDict):
    id: int
    orgGuid: str
    firstName: str
    lastName: str
    phoneNumbers: list[PhoneNumberInfo]


class TokenGrant(TypedDict):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    scope: str
    created_at: int


class LaunchReport(TypedDict):
    launchedAt: str
    initiatedAt: str | None
    initiatedDelaySeconds: float | None
    initiatedWithin5s: bool | None


class CallEventInfo(TypedDict):
    at: str
    requestIndex: int
    attributes: dict[str, Any]
    outcome: str  # "accepted", "unchanged" or "refused"
    stateBefore: str | None
    stateAfter: str | None
    rule: str | None
    detail: str | None


class CallView(TypedDict):
    id: int | str
    orgGuid: str
    call: dict[str, Any]  # the JSON:API resource, as GET /api/v2/calls/{id} answers it
    launch: LaunchReport | None
    history: list[CallEventInfo]


class RequestRecord(TypedDict):
    index: int
    method: str
    path: str
    query: str
    requestContentType: str | None
    authorization: str | None
    requestBody: str
    status: int
    responseBody: str
    receivedAt: str
    receivedAtSandbox: str
    durationMs: float
    user: dict[str, Any] | None
    rulesChecked: list[str]
    refusedBy: str | None
    fault: str | None


class HeldRequestInfo(TypedDict):
    method: str
    path: str
    clientPort: int  # the port the client sent it from: which connection waits for the answer
    heldSince: str


class Limits(TypedDict):
    accessTokenLifetime: int
    refreshTokenLifetime: int
    mintWindow: int
    rateLimitPerHour: int


@cache
def _ssl_context() -> ssl.SSLContext:
    # httpx builds one per client otherwise (~40 ms each), and tests make a client per test.
    return ssl.create_default_context()


class SandboxControl:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/_control", timeout=timeout, verify=_ssl_context()
        )

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.is_error:  # with the sandbox's explanation, which raise_for_status drops
            raise httpx.HTTPStatusError(
                f"{method} {path} answered {response.status_code}: {response.text}",
                request=response.request,
                response=response,
            )
        return response.json()

    # Scene -------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", "/config"))

    def reset(self) -> OrgInfo:
        """Forgets everything; answers the fresh default org."""
        return cast(OrgInfo, self._call("POST", "/reset")["defaultOrg"])

    def default_org(self) -> OrgInfo:
        return cast(OrgInfo, self.config()["defaultOrg"])

    def create_org(self, name: str, *, guid: str | None = None) -> OrgInfo:
        return cast(OrgInfo, self._call("POST", "/orgs", json={"name": name, "guid": guid}))

    def orgs(self) -> list[OrgInfo]:
        return cast(list[OrgInfo], self._call("GET", "/orgs")["orgs"])

    def create_user(
        self,
        email: str,
        *,
        first_name: str = "",
        last_name: str = "",
        org_guid: str | None = None,
    ) -> UserInfo:
        body = {"email": email, "firstName": first_name, "lastName": last_name, "orgGuid": org_guid}
        return cast(UserInfo, self._call("POST", "/users", json=body))

    def users(self) -> list[UserInfo]:
        return cast(list[UserInfo], self._call("GET", "/users")["users"])

    def create_prospect(
        self,
        *,
        first_name: str = "",
        last_name: str = "",
        phone_numbers: Iterable[str | dict[str, str]] = (),  # number, phoneType, extension
        emails: Iterable[str] = (),
        org_guid: str | None = None,
    ) -> ProspectInfo:
        body = {
            "firstName": first_name,
            "lastName": last_name,
            "phoneNumbers": list(phone_numbers),
            "emails": list(emails),
            "orgGuid": org_guid,
        }
        return cast(ProspectInfo, self._call("POST", "/prospects", json=body))

    def prospects(self, *, org_guid: str | None = None) -> list[ProspectInfo]:
        params = {"orgGuid": org_guid} if org_guid else {}
        answer = self._call("GET", "/prospects", params=params)["prospects"]
        return cast(list[ProspectInfo], answer)

    def create_task(
        self,
        owner_id: int,
        *,
        prospect_id: int | None = None,
        action: str = "call",
        state: str = "incomplete",
    ) -> dict[str, Any]:
        body = {"ownerId": owner_id, "prospectId": prospect_id, "action": action, "state": state}
        return cast(dict[str, Any], self._call("POST", "/tasks", json=body))

    def set_outcome_vocabulary(self, vocabulary: str) -> None:
        """ "reference" ("Answered" / "Not Answered") or "guide" ("completed" / "no_answer"):
        the words a logged call's outcome must use until the next reset."""
        self._call("POST", "/outcome-vocabulary", json={"outcomeVocabulary": vocabulary})

    # Tokens ------------------------------------------------------------------------------------

    def issue_token(
        self, user_id: int, scopes: Iterable[str], *, count_as_mint: bool = True
    ) -> TokenGrant:
        """A token as the OAuth flow gives it; it counts toward the mint window by default."""
        body = {"userId": user_id, "scopes": list(scopes), "countAsMint": count_as_mint}
        return cast(TokenGrant, self._call("POST", "/tokens", json=body))

    def expire_tokens(self, user_id: int) -> int:
        return int(self._call("POST", f"/users/{user_id}/expire-tokens")["expired"])

    def revoke_tokens(self, user_id: int) -> int:
        return int(self._call("POST", f"/users/{user_id}/revoke-tokens")["revoked"])

    # Calls -------------------------------------------------------------------------------------

    def launch_call(
        self,
        user_id: int,
        to: str,
        *,
        prospect_id: int | None = None,
        from_number: str | None = None,
        direction: str = "outbound",
        external_vendor: str = "VoiceExtension",
    ) -> CallView:
        """Creates a call as the Outreach client does before it launches the dial."""
        body = {
            "userId": user_id,
            "to": to,
            "prospectId": prospect_id,
            "from": from_number,
            "direction": direction,
            "externalVendor": external_vendor,
        }
        return cast(CallView, self._call("POST", "/calls", json=body))

    def call(self, call_id: int | str) -> CallView:
        return cast(CallView, self._call("GET", f"/calls/{call_id}"))

    # Faults ------------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        path_prefix: str = "",
        status: int = 500,
        body: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        """The next `count` requests answer `status` (500) with this JSON body, or with a
        JSON:API error for the status; e.g. status=400, body={"error": "invalid_client"}."""
        self._fault(
            {
                "kind": "error",
                "count": count,
                "pathPrefix": path_prefix,
                "status": status,
                "body": body,
            }
        )

    def rate_limit_next(
        self, count: int = 1, *, retry_after: int = 1, path_prefix: str = ""
    ) -> None:
        """The next `count` requests answer 429 rateLimitExceeded with this Retry-After."""
        self._fault(
            {
                "kind": "rate_limit",
                "count": count,
                "retryAfter": retry_after,
                "pathPrefix": path_prefix,
            }
        )

    def hang_next(
        self, seconds: float, count: int = 1, *, then_error: bool = False, path_prefix: str = ""
    ) -> None:
        """The next `count` requests wait `seconds`, then answer normally (or 500)."""
        self._fault(
            {
                "kind": "hang",
                "count": count,
                "seconds": seconds,
                "thenError": then_error,
                "pathPrefix": path_prefix,
            }
        )

    def hold_next(
        self, count: int = 1, *, path_prefix: str = "", max_seconds: float | None = None
    ) -> None:
        """The next `count` requests are held, not yet applied, until release_held() (or
        `max_seconds`, the sandbox's 60 s by default), so that a test can act while a client
        waits for an answer. held() says when one is."""
        body: dict[str, Any] = {"kind": "hold", "count": count, "pathPrefix": path_prefix}
        if max_seconds is not None:
            body["seconds"] = max_seconds
        self._fault(body)

    def held_requests(self) -> list[HeldRequestInfo]:
        """The requests held right now, oldest first."""
        return cast(list[HeldRequestInfo], self._call("GET", "/faults")["held"])

    def held(self) -> int:
        """How many requests are held right now."""
        return len(self.held_requests())

    def release_held(self, *, then_error: bool = False) -> int:
        """Every held request is applied and answered normally (or 500); answers how many."""
        answer = self._call("POST", "/faults/release", json={"thenError": then_error})
        return int(answer["released"])

    def _fault(self, body: dict[str, Any]) -> None:
        self._call("POST", "/faults", json=body)

    def clear_faults(self) -> None:
        """No more pending faults; held requests are released and answered normally."""
        self._call("DELETE", "/faults")

    # Clock and limits --------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("GET", "/clock"))

    def set_clock_offset(self, seconds: float) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("POST", "/clock", json={"offsetSeconds": seconds}))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("POST", "/clock", json={"advanceSeconds": seconds}))

    def limits(self) -> Limits:
        return cast(Limits, self._call("GET", "/limits"))

    def set_limits(
        self,
        *,
        rate_limit_per_hour: int | None = None,
        mint_window: int | None = None,
        access_token_lifetime: int | None = None,
        refresh_token_lifetime: int | None = None,
    ) -> Limits:
        given = {
            "rateLimitPerHour": rate_limit_per_hour,
            "mintWindow": mint_window,
            "accessTokenLifetime": access_token_lifetime,
            "refreshTokenLifetime": refresh_token_lifetime,
        }
        body = {name: value for name, value in given.items() if value is not None}
        return cast(Limits, self._call("POST", "/limits", json=body))

    # The request log ---------------------------------------------------------------------------

    def requests(self, *, path_prefix: str = "", since: int = 0) -> list[RequestRecord]:
        params = {"pathPrefix": path_prefix, "since": since}
        return cast(list[RequestRecord], self._call("GET", "/requests", params=params)["requests"])
