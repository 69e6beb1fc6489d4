"""The one Outreach API client, used by everything that talks to Outreach's REST API (v2).

Every request: a valid token from the connection (refreshed under its row lock when it expires
soon), one unit of the token user's shared hourly budget (budget.py: per Outreach org and user),
JSON:API headers, connect and read timeouts, and an `Attempt` recorded whatever happens. A 401
refreshes the token once and tries again. Failures are typed (errors.py): 4xx other than
401/408/429 are permanent; 5xx, timeouts, connection errors, 401 and 429 are transient, 429 with
the wait Outreach asked for.

No row lock is held during an API request; the only lock, the refresh's, is bounded by the token
endpoint's own timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

from integrations.outreach.budget import budget_observe, budget_spend
from integrations.outreach.errors import (
    Attempt,
    OutreachError,
    OutreachRateLimited,
    OutreachResponse,
)
from integrations.outreach.models import OutcomeWords, OutreachConnection
from integrations.outreach.services import (
    OutreachIdentity,
    connection_access_token,
    connection_refresh,
    outreach_org_outcome_words,
    outreach_org_outcome_words_learn,
)
from integrations.outreach.transport import (
    error_of,
    error_pointer,
    new_http_client,
    retry_after,
    send,
)
from portal.encryption import Secret

JSON_API = "application/vnd.api+json"
TRANSIENT_4XX = frozenset({401, 408, 429})
VENDOR_CALL_ID_MAX = 63  # Outreach's vendorCallId column
# A logged call's outcome (answered, not answered) in each of the seeds' words: the Call
# resource's (001, the OpenAPI document) and seed 003's guide's. Outreach's 422 pointing at the
# outcome says which one an Outreach org does not take.
OUTCOME_WORDING = {
    OutcomeWords.REFERENCE: ("Answered", "Not Answered"),
    OutcomeWords.GUIDE: ("completed", "no_answer"),
}
OUTCOME_POINTER = "/data/attributes/outcome"


# The call requests the pipeline makes, as typed values: what to ask, never how it is spelled
# on the wire. `describe` says what will be sent (recorded before sending); `send_call_request`
# sends it and answers one of the typed results below.


@dataclass(frozen=True, kw_only=True)
class CreateInboundCall:
    """`POST /calls` for an inbound call, after looking up the caller's prospect."""

    outreach_user_id: str
    from_number: str
    to_number: str
    vendor_call_id: str


@dataclass(frozen=True, kw_only=True)
class UpdateCall:
    """`PATCH /calls/{id}`: a state with the time it changed, and/or links."""

    call_id: str
    state: str | None = None
    state_changed_at: datetime | None = None
    recording_url: str | None = None
    voicemail_url: str | None = None
    # The provider's call id, for a call Outreach created (outbound): Outreach learns it from
    # the updates, as it learns an inbound call's from our create.
    vendor_call_id: str | None = None


@dataclass(frozen=True)
class ReadCall:
    """`GET /calls/{id}`: what Outreach has, after an answer was lost."""

    call_id: str


@dataclass(frozen=True)
class FindCall:
    """`GET /calls?filter[vendorCallId]=`: a create whose answer was lost."""

    vendor_call_id: str


@dataclass(frozen=True, kw_only=True)
class LogCall:
    """`POST /calls` logging a call that did not start in Outreach, once it ended (seed 003 "Log
    External Calls"), after looking up the prospect by the number called and that prospect's
    open call task for the user. `hold_without_prospect`: the organisation would rather hold a
    call whose number matches no single prospect than log it without one."""

    outreach_user_id: str
    direction: str
    answered: bool
    answered_at: datetime | None
    completed_at: datetime
    from_number: str
    to_number: str
    vendor_call_id: str
    hold_without_prospect: bool = False


CallRequest = CreateInboundCall | UpdateCall | ReadCall | FindCall | LogCall


@dataclass(frozen=True)
class CallCreated:
    call_id: str
    response: OutreachResponse
    prospect_id: str | None = None
    lookup: OutreachResponse | None = None  # the prospect lookup made first, if any

    @property
    def attempts(self) -> list[Attempt]:
        return [*(self.lookup.attempts if self.lookup else []), *self.response.attempts]


@dataclass(frozen=True)
class CallUpdated:
    response: OutreachResponse

    @property
    def attempts(self) -> list[Attempt]:
        return self.response.attempts


@dataclass(frozen=True, kw_only=True)
class CallAsOutreachHasIt:
    """What Outreach has for a call, read from its call document."""

    state: str | None
    state_changed_at: datetime | None
    recording_url: str | None
    voicemail_url: str | None
    response: OutreachResponse = field(repr=False)

    @property
    def attempts(self) -> list[Attempt]:
        return self.response.attempts


@dataclass(frozen=True)
class CallSearch:
    """What `GET /calls?filter[vendorCallId]=` found: the call whose vendorCallId is exactly
    ours, or None; `others` counts calls answered that are not ours (Outreach's reference does
    not list this filter: if it ignores it, we get other calls and must not adopt one)."""

    call_id: str | None
    others: int
    response: OutreachResponse

    @property
    def attempts(self) -> list[Attempt]:
        return self.response.attempts


@dataclass(frozen=True, kw_only=True)
class CallLogged:
    """A logged call: its id, what it was linked to and why, for the call's timeline."""

    call_id: str
    prospect_id: str | None
    task_id: str | None
    outcome: str  # as sent
    notes: tuple[str, ...]  # why the prospect, the task and the outcome's words are what they are
    attempts: list[Attempt]


@dataclass(frozen=True, kw_only=True)
class CallNotLogged:
    """Nothing was created: the number matches no single prospect and the organisation holds
    such calls for a person."""

    reason: str
    attempts: list[Attempt]


CallResult = (
    CallCreated | CallUpdated | CallAsOutreachHasIt | CallSearch | CallLogged | CallNotLogged
)


def vendor_call_id(provider_call_id: str) -> str:
    """The provider's call id as Outreach's vendorCallId: it must fit in 63 characters, and it
    must be stable, because it is how a lost create is found again."""
    if len(provider_call_id) <= VENDOR_CALL_ID_MAX:
        return provider_call_id
    return "sha256:" + hashlib.sha256(provider_call_id.encode()).hexdigest()[:56]


def describe(request: CallRequest) -> tuple[str, str, dict[str, Any] | None]:
    """Method, path and body of a call request, as recorded before it is sent (an inbound
    create is recorded without the prospect, which is looked up on the way)."""
    if isinstance(request, CreateInboundCall):
        return "POST", "/calls", _create_document(request, prospect_id=None)
    if isinstance(request, UpdateCall):
        return "PATCH", f"/calls/{request.call_id}", _update_document(request)
    if isinstance(request, ReadCall):
        return "GET", f"/calls/{request.call_id}", None
    if isinstance(request, LogCall):
        return "POST", "/calls", log_call_document(request, outcome_words=OutcomeWords.REFERENCE)
    return "GET", f"/calls?filter[vendorCallId]={request.vendor_call_id}", None


class OutreachClient:
    """Acts with one connection (or, while connecting, with a bare access token)."""

    def __init__(
        self,
        *,
        connection: OutreachConnection | None = None,
        access_token: Secret | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        if (connection is None) == (access_token is None):
            raise ValueError("Give either a connection or an access token.")
        self.connection = connection
        self._access_token = access_token
        self._http = http or new_http_client()

    def __enter__(self) -> OutreachClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The API ------------------------------------------------------------------------------

    def whoami(self) -> tuple[OutreachIdentity, OutreachResponse]:
        """`GET /api/v2`: the token's org as `data`, its user and scopes in `meta`."""
        response = self._request("GET", "")
        try:
            meta, org = response.document["meta"], response.data
            user = meta["user"]
            name = " ".join(filter(None, [user.get("firstName"), user.get("lastName")]))
            identity = OutreachIdentity(
                user_id=str(user["id"]),
                email=str(user.get("email") or ""),
                name=name,
                org_id=str(org["id"]),
                org_name=str((org.get("attributes") or {}).get("name") or ""),
                scopes=list(meta.get("scopes") or []),
            )
        except (KeyError, TypeError, AttributeError):
            raise OutreachError(
                "Outreach did not say which user and org this token belongs to.",
                permanent=True,
                status=200,
                error_id="invalidWhoAmI",
                attempts=response.attempts,
            ) from None
        return identity, response

    def find_user_by_email(self, email: str) -> tuple[str | None, OutreachResponse]:
        """The Outreach user id for this email in the token's org, or None."""
        response = self._request("GET", "/users", params={"filter[email]": email})
        return _first_id(response.data), response

    def user_exists(self, user_id: str) -> tuple[bool, OutreachResponse]:
        """Whether the token's org has a user with this id (an agent mapping names one)."""
        response = self._request("GET", "/users", params={"filter[id]": user_id})
        return _first_id(response.data) == user_id, response

    def find_prospect_by_number(self, number: str) -> tuple[str | None, OutreachResponse]:
        """The prospect with this phone number (E.164), or None. Outreach matches the digits."""
        prospects, response = self.find_prospects_by_number(number)
        return (prospects[0] if prospects else None), response

    def find_prospects_by_number(self, number: str) -> tuple[list[str], OutreachResponse]:
        """Every prospect with this phone number (E.164), each once, in Outreach's order."""
        response = self._request("GET", "/phoneNumbers", params={"filter[number]": number})
        prospects: dict[str, None] = {}
        for phone in response.data or []:
            prospect = ((phone.get("relationships") or {}).get("prospect") or {}).get("data")
            if prospect:
                prospects[str(prospect["id"])] = None
        return list(prospects), response

    def find_open_call_task(
        self, *, outreach_user_id: str, prospect_id: str
    ) -> tuple[str | None, OutreachResponse]:
        """The user's open call task about this prospect, if any (003 "Discover Open Tasks")."""
        params = {
            "filter[state]": "incomplete",
            "filter[owner][id]": outreach_user_id,
            "filter[prospect][id]": prospect_id,
        }
        response = self._request("GET", "/tasks", params=params)
        for task in response.data if isinstance(response.data, list) else []:
            if (task.get("attributes") or {}).get("action") == "call":
                return str(task["id"]), response
        return None, response

    def create_call(
        self,
        *,
        outreach_user_id: str,
        from_number: str,
        to_number: str,
        vendor_call_id: str,
        prospect_id: str | None = None,
    ) -> CallCreated:
        """`POST /calls` for an inbound call (000 "Create a new call")."""
        body = create_call_document(
            outreach_user_id=outreach_user_id,
            from_number=from_number,
            to_number=to_number,
            vendor_call_id=vendor_call_id,
            prospect_id=prospect_id,
        )
        response = self._request("POST", "/calls", body=body)
        call_id = _first_id(response.data)
        if call_id is None:
            raise OutreachError(
                "Outreach created the call but did not answer its id.",
                permanent=True,
                status=response.attempt.status,
                attempts=response.attempts,
            )
        return CallCreated(call_id, response)

    def get_call(self, call_id: str) -> OutreachResponse:
        return self._request("GET", f"/calls/{call_id}")

    def find_call_by_vendor_call_id(self, vendor_call_id: str) -> CallSearch:
        """The call created with this vendorCallId: how a create whose answer was lost is found
        again instead of being made twice. Only an exact match counts."""
        response = self._request("GET", "/calls", params={"filter[vendorCallId]": vendor_call_id})
        found = response.data if isinstance(response.data, list) else []
        matches = [
            str(call["id"])
            for call in found
            if isinstance(call, dict)
            and call.get("id") is not None
            and ((call.get("attributes") or {}).get("vendorCallId")) == vendor_call_id
        ]
        return CallSearch(
            call_id=matches[0] if matches else None,
            others=len(found) - len(matches),
            response=response,
        )

    def update_call(self, call_id: str, *, attributes: dict[str, Any]) -> OutreachResponse:
        """`PATCH /calls/{id}` with `state`, `stateChangedAt`, `recordingUrl`, `voicemailUrl`
        or `vendorCallId` (000 "Update an existing call"); datetimes are sent as ISO 8601."""
        body = update_call_document(call_id, attributes=attributes)
        return self._request("PATCH", f"/calls/{call_id}", body=body)

    def send_call_request(self, request: CallRequest) -> CallResult:
        if isinstance(request, CreateInboundCall):
            return self._create_inbound_call(request)
        if isinstance(request, UpdateCall):
            path = f"/calls/{request.call_id}"
            return CallUpdated(self._request("PATCH", path, body=_update_document(request)))
        if isinstance(request, ReadCall):
            return _as_outreach_has_it(self.get_call(request.call_id))
        if isinstance(request, LogCall):
            return self._log_call(request)
        return self.find_call_by_vendor_call_id(request.vendor_call_id)

    def _log_call(self, request: LogCall) -> CallLogged | CallNotLogged:
        attempts: list[Attempt] = []
        notes: list[str] = []
        prospects: list[str] = []
        if request.to_number:
            with _after(attempts):
                prospects, lookup = self.find_prospects_by_number(request.to_number)
            attempts += lookup.attempts
        prospect_id = prospects[0] if len(prospects) == 1 else None
        if prospect_id is None:
            unmatched = (
                f"{len(prospects)} prospects ({', '.join(prospects)}) have the number "
                f"{request.to_number}"
                if prospects
                else f"no prospect has the number {request.to_number or '(none given)'}"
            )
            if request.hold_without_prospect:
                return CallNotLogged(
                    reason=f"Not logged in Outreach: {unmatched}, and this connection holds "
                    "such calls for a person (it may log them without a prospect instead).",
                    attempts=attempts,
                )
            notes.append(f"logged without a prospect: {unmatched}")
        else:
            notes.append(
                f"prospect {prospect_id}: the only one with the number {request.to_number}"
            )
        task_id = None
        if prospect_id is not None:
            try:
                with _after(attempts):
                    task_id, tasks = self.find_open_call_task(
                        outreach_user_id=request.outreach_user_id, prospect_id=prospect_id
                    )
                attempts += tasks.attempts
                notes.append(
                    f"open call task {task_id}" if task_id else "no open call task to log against"
                )
            except OutreachError as error:
                if not error.permanent:
                    raise
                # An older connection lacks tasks.read (403): the call is still worth logging.
                attempts = error.attempts
                notes.append(f"no task: Outreach refused looking for one ({error})")

        org_id = self.connection.outreach_org_id if self.connection else ""
        words = outreach_org_outcome_words(outreach_org_id=org_id)
        try:
            with _after(attempts):
                response = self._request(
                    "POST", "/calls", body=_log_body(request, words, prospect_id, task_id)
                )
        except OutreachError as error:
            if not (error.status == 422 and error.pointer == OUTCOME_POINTER):
                raise
            refused, words = words, _other(words)
            attempts = error.attempts
            notes.append(
                f"Outreach refused the outcome in the {refused} words ({error.detail}); "
                f"sent again in the {words} words"
            )
            with _after(attempts):
                response = self._request(
                    "POST", "/calls", body=_log_body(request, words, prospect_id, task_id)
                )
            outreach_org_outcome_words_learn(outreach_org_id=org_id, words=words)
        attempts += response.attempts
        call_id = _first_id(response.data)
        if call_id is None:
            raise OutreachError(
                "Outreach logged the call but did not answer its id.",
                permanent=True,
                status=response.attempt.status,
                attempts=attempts,
            )
        return CallLogged(
            call_id=call_id,
            prospect_id=prospect_id,
            task_id=task_id,
            outcome=_outcome(request, words),
            notes=tuple(notes),
            attempts=attempts,
        )

    def _create_inbound_call(self, request: CreateInboundCall) -> CallCreated:
        prospect_id, lookup = (
            self.find_prospect_by_number(request.from_number)
            if request.from_number
            else (None, None)
        )
        response = self._request(
            "POST", "/calls", body=_create_document(request, prospect_id=prospect_id)
        )
        call_id = _first_id(response.data)
        if call_id is None:
            raise OutreachError(
                "Outreach created the call but did not answer its id.",
                permanent=True,
                status=response.attempt.status,
                attempts=[*(lookup.attempts if lookup else []), *response.attempts],
            )
        return CallCreated(call_id, response, prospect_id=prospect_id, lookup=lookup)

    # The mechanics ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> OutreachResponse:
        attempts: list[Attempt] = []
        # A connection's requests spend its Outreach user's budget in its Outreach org.
        budgeted = self.connection if self.connection and self.connection.outreach_user_id else None
        for may_refresh in (True, False):
            with _after(attempts):
                token = self._token()
                if budgeted is not None:
                    budget_spend(
                        outreach_org_id=budgeted.outreach_org_id,
                        outreach_user_id=budgeted.outreach_user_id,
                    )
            response, document, attempt = send(
                self._http,
                method,
                settings.OUTREACH_API_URL.rstrip("/") + path,
                path=path or "/",
                recorded_body=body,
                params=params,
                json=body,
                headers={
                    "Authorization": f"Bearer {token.reveal()}",
                    "Accept": JSON_API,
                    **({"Content-Type": JSON_API} if body is not None else {}),
                },
            )
            attempts.append(attempt)
            if response is None:
                raise OutreachError(
                    f"No answer from Outreach to {method} {path or '/'}.",
                    permanent=False,
                    attempts=attempts,
                )
            if budgeted is not None:
                self._observe_limits(budgeted, response)
            if response.status_code == 401 and may_refresh and self.connection is not None:
                with _after(attempts):
                    connection_refresh(connection=self.connection, stale_access_token=token)
                continue
            if response.status_code < 400:
                return OutreachResponse(document if isinstance(document, dict) else {}, attempts)
            raise self._error(response, document, attempts)
        raise AssertionError("unreachable: the second pass returns or raises")

    def _token(self) -> Secret:
        if self.connection is None:
            assert self._access_token is not None
            return self._access_token
        return connection_access_token(connection=self.connection)

    @staticmethod
    def _observe_limits(connection: OutreachConnection, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining", "")
        budget_observe(
            outreach_org_id=connection.outreach_org_id,
            outreach_user_id=connection.outreach_user_id,
            remaining=int(remaining) if remaining.isdigit() else None,
            retry_after=retry_after(response) if response.status_code == 429 else None,
        )

    @staticmethod
    def _error(response: httpx.Response, document: Any, attempts: list[Attempt]) -> OutreachError:
        status = response.status_code
        error_id, detail = error_of(document)
        message = f"Outreach answered {status}" + (f" {error_id}" if error_id else "")
        if detail:
            message += f": {detail}"
        if status == 429:
            return OutreachRateLimited(
                message,
                retry_after=retry_after(response) or 60.0,
                error_id=error_id or "rateLimitExceeded",
                detail=detail,
                attempts=attempts,
            )
        return OutreachError(
            message,
            permanent=400 <= status < 500 and status not in TRANSIENT_4XX,
            status=status,
            error_id=error_id,
            detail=detail,
            attempts=attempts,
            pointer=error_pointer(document),
        )


@contextmanager
def _after(attempts: list[Attempt]) -> Iterator[None]:
    """A failure here follows earlier attempts: the caller records them all."""
    try:
        yield
    except OutreachError as error:
        error.attempts = [*attempts, *error.attempts]
        raise


def create_call_document(
    *,
    outreach_user_id: str,
    from_number: str,
    to_number: str,
    vendor_call_id: str,
    prospect_id: str | None = None,
) -> dict[str, Any]:
    """The JSON:API body of an inbound call's `POST /calls`: what the client sends and what the
    pipeline records before sending it."""
    relationships: dict[str, Any] = {
        "user": {"data": {"type": "user", "id": _id(outreach_user_id)}}
    }
    if prospect_id is not None:
        relationships["prospect"] = {"data": {"type": "prospect", "id": _id(prospect_id)}}
    attributes = {
        "direction": "inbound",
        "externalVendor": "VoiceExtension",
        "from": from_number,
        "to": to_number,
        "vendorCallId": vendor_call_id,
    }
    return {"data": {"type": "call", "attributes": attributes, "relationships": relationships}}


def log_call_document(
    request: LogCall,
    *,
    outcome_words: OutcomeWords,
    prospect_id: str | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """The JSON:API body of a logged call's `POST /calls` (seed 003 "Log External Calls"): no
    externalVendor and no state, since it is not a Voice Extension call and it has ended."""
    attributes: dict[str, Any] = {
        "direction": request.direction,
        "outcome": _outcome(request, outcome_words),
        "completedAt": _timestamp(request.completed_at),
        "vendorCallId": request.vendor_call_id,
    }
    if request.answered_at is not None:
        attributes["answeredAt"] = _timestamp(request.answered_at)
    if request.from_number:
        attributes["from"] = request.from_number
    if request.to_number:
        attributes["to"] = request.to_number
    relationships: dict[str, Any] = {
        "user": {"data": {"type": "user", "id": _id(request.outreach_user_id)}}
    }
    if prospect_id is not None:
        relationships["prospect"] = {"data": {"type": "prospect", "id": _id(prospect_id)}}
    if task_id is not None:
        relationships["task"] = {"data": {"type": "task", "id": _id(task_id)}}
    return {"data": {"type": "call", "attributes": attributes, "relationships": relationships}}


def _log_body(
    request: LogCall, words: OutcomeWords, prospect_id: str | None, task_id: str | None
) -> dict[str, Any]:
    return log_call_document(request, outcome_words=words, prospect_id=prospect_id, task_id=task_id)


def _outcome(request: LogCall, words: OutcomeWords) -> str:
    answered, not_answered = OUTCOME_WORDING[words]
    return answered if request.answered else not_answered


def _other(words: OutcomeWords) -> OutcomeWords:
    return OutcomeWords.GUIDE if words is OutcomeWords.REFERENCE else OutcomeWords.REFERENCE


def update_call_document(call_id: str, *, attributes: dict[str, Any]) -> dict[str, Any]:
    """The JSON:API body of `PATCH /calls/{id}`."""
    sent = {k: _timestamp(v) if isinstance(v, datetime) else v for k, v in attributes.items()}
    return {"data": {"type": "call", "id": _id(call_id), "attributes": sent}}


def update_attributes(request: UpdateCall) -> dict[str, str]:
    """Outreach's names for what an update carries (000 "Update an existing call")."""
    attributes: dict[str, str] = {}
    if request.state is not None:
        attributes["state"] = request.state
    if request.state_changed_at is not None:
        attributes["stateChangedAt"] = _timestamp(request.state_changed_at)
    if request.recording_url is not None:
        attributes["recordingUrl"] = request.recording_url
    if request.voicemail_url is not None:
        attributes["voicemailUrl"] = request.voicemail_url
    if request.vendor_call_id:
        attributes["vendorCallId"] = request.vendor_call_id
    return attributes


def _update_document(request: UpdateCall) -> dict[str, Any]:
    return update_call_document(request.call_id, attributes=update_attributes(request))


def _create_document(request: CreateInboundCall, *, prospect_id: str | None) -> dict[str, Any]:
    return create_call_document(
        outreach_user_id=request.outreach_user_id,
        from_number=request.from_number,
        to_number=request.to_number,
        vendor_call_id=request.vendor_call_id,
        prospect_id=prospect_id,
    )


def _as_outreach_has_it(response: OutreachResponse) -> CallAsOutreachHasIt:
    """Read a call document. Outreach answers the voicemail link as `voicemailRecordingUrl`
    although it is sent as `voicemailUrl` (its reference, and what the sandbox mirrors)."""
    data = response.data if isinstance(response.data, dict) else {}
    attributes = data.get("attributes") or {}
    changed = attributes.get("stateChangedAt")
    try:
        changed_at = datetime.fromisoformat(changed) if isinstance(changed, str) else None
    except ValueError:
        changed_at = None
    return CallAsOutreachHasIt(
        state=attributes.get("state") or None,
        state_changed_at=changed_at,
        recording_url=attributes.get("recordingUrl") or None,
        voicemail_url=attributes.get("voicemailRecordingUrl") or None,
        response=response,
    )


def _first_id(data: Any) -> str | None:
    if isinstance(data, list):
        data = data[0] if data else None
    if isinstance(data, dict) and data.get("id") is not None:
        return str(data["id"])
    return None


def _id(value: str) -> int | str:
    # Outreach's ids are integers in JSON:API documents; keep anything else as given.
    return int(value) if str(value).isdigit() else value


def _timestamp(moment: datetime) -> str:
    """YYYY-MM-DDTHH:MM:SS.sssZ, the form Outreach's examples use, always in UTC."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
