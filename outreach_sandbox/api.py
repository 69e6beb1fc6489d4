"""The Outreach REST API under /api/v2: who-am-I, users, phoneNumbers, prospects and calls.

Every request passes, in order: the bearer token (401), the per-user rate limit (429), the route
(404/405), the token's scope (403), then the endpoint's own checks. Every answer carries the
X-RateLimit-* headers."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import ApiError, not_found
from .jsonapi import (
    check_query,
    collection_document,
    read_document,
    read_resource,
    relationship_id,
)
from .messages import (
    Context,
    Request,
    Response,
    Route,
    error_response,
    jsonapi_response,
    resolve,
    route,
)
from .resources import (
    call_resource,
    org_resource,
    phone_number_resource,
    prospect_resource,
    task_resource,
    user_resource,
)
from .rules import (
    LOG_RELATIONSHIPS,
    VOICE_EXTENSION,
    CallUpdate,
    Rule,
    check_call_update,
    check_logged_call,
    check_new_inbound_call,
    is_logged_call,
)
from .store import (
    RATE_WINDOW,
    AccessToken,
    Call,
    CallEvent,
    Prospect,
    Task,
    User,
    normalize_number,
)

PREFIX = "/api/v2"


def handle_api(request: Request, ctx: Context) -> Response:
    headers: dict[str, str] = {}
    try:
        response = _dispatch(request, ctx, headers)
    except ApiError as error:
        ctx.trace.refused(error.rule)
        response = error_response(error)
    if not headers:  # refused before the caller was known: report the limit, nothing counted
        headers = _rate_headers(ctx, ctx.store.limits.rate_limit_per_hour, ctx.now)
    response.headers.update(headers)
    return response


def _dispatch(request: Request, ctx: Context, headers: dict[str, str]) -> Response:
    ctx.token = _authenticate(request, ctx)
    ctx.user_id = ctx.token.user_id
    _count_request(ctx, ctx.token.user_id, headers)
    path = request.path.removeprefix(PREFIX).rstrip("/")
    endpoint, parameters = resolve(ROUTES, request.method, path, ctx.trace)
    if endpoint.scope:
        _require_scope(ctx.token, endpoint.scope, ctx)
    return endpoint.handler(request, ctx, parameters)


def _authenticate(request: Request, ctx: Context) -> AccessToken:
    ctx.trace.check(Rule.API_TOKEN)
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    token = ctx.store.access_tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if token is None or token.revoked:
        detail = "The access token is missing, unknown or revoked."
    elif ctx.now >= token.expires_at:
        detail = "The access token has expired."
    else:
        return token
    raise ApiError(401, "unauthorized", "Unauthorized", detail, rule=Rule.API_TOKEN)


def _rate_headers(ctx: Context, remaining: int, started_at: datetime) -> dict[str, str]:
    reset = started_at + RATE_WINDOW
    return {
        "X-RateLimit-Limit": str(ctx.store.limits.rate_limit_per_hour),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(math.ceil(reset.timestamp())),
    }


def _count_request(ctx: Context, user_id: int, headers: dict[str, str]) -> None:
    ctx.trace.check(Rule.API_RATE_LIMIT)
    window, allowed = ctx.store.count_request(user_id)
    limit = ctx.store.limits.rate_limit_per_hour
    headers.update(_rate_headers(ctx, limit - window.count, window.started_at))
    if not allowed:
        retry_after = math.ceil((window.started_at + RATE_WINDOW - ctx.now).total_seconds())
        raise ApiError(
            429,
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            f"More than {limit} requests this hour for this user.",
            rule=Rule.API_RATE_LIMIT,
            headers={"Retry-After": str(max(1, retry_after))},
        )


def _require_scope(token: AccessToken, needed: str, ctx: Context) -> None:
    """`calls.read` is satisfied by calls.read or calls.all; `calls.write` by write or all."""
    ctx.trace.check(Rule.API_SCOPE)
    resource, _, _access = needed.partition(".")
    if needed in token.scopes or f"{resource}.all" in token.scopes:
        return
    raise ApiError(
        403,
        "unauthorizedOauthScope",
        "Unauthorized OAuth Scope",
        f"The access token lacks the {needed} (or {resource}.all) scope.",
        rule=Rule.API_SCOPE,
    )


# Lookups within the token's org: anything of another org is "not found" ---------------------


def _caller(ctx: Context) -> User:
    assert ctx.token is not None  # set by _dispatch before any handler runs
    return ctx.store.users[ctx.token.user_id]


def _org_user(ctx: Context, user_id: int | str) -> User | None:
    ctx.trace.check(Rule.API_ORG)
    user = ctx.store.users.get(int(user_id)) if str(user_id).isdigit() else None
    return user if user and user.org_guid == _caller(ctx).org_guid else None


def _org_prospect(ctx: Context, prospect_id: int | str) -> Prospect | None:
    ctx.trace.check(Rule.API_ORG)
    prospect = ctx.store.prospects.get(int(prospect_id)) if str(prospect_id).isdigit() else None
    return prospect if prospect and prospect.org_guid == _caller(ctx).org_guid else None


def _org_call(ctx: Context, call_id: str) -> Call:
    ctx.trace.check(Rule.API_ORG)
    call = ctx.store.calls.get(call_id)
    if call is None or call.org_guid != _caller(ctx).org_guid:
        raise not_found(Rule.API_ORG, f"No call with id {call_id}.")
    return call


# Who am I -------------------------------------------------------------------------------------


def who_am_i(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """GET /api/v2: the token's org as data, and meta.user / meta.scopes, as Outreach answers
    (README.md "Who am I" cites the source)."""
    check_query(request, ctx.trace)
    user = _caller(ctx)
    assert ctx.token is not None
    return jsonapi_response(
        200,
        {
            "data": org_resource(ctx.store.orgs[user.org_guid]),
            "meta": {
                "instanceUrl": ctx.base_url,
                "application": {"name": ctx.store.options.client_id},
                "scopes": list(ctx.token.scopes),
                "user": {
                    "id": user.id,
                    "email": user.email,
                    "firstName": user.first_name,
                    "lastName": user.last_name,
                },
            },
        },
    )


# Users ----------------------------------------------------------------------------------------


def list_users(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    check_query(request, ctx.trace, filters=("email", "id"), collection=True)
    org = _caller(ctx).org_guid
    users = [u for u in ctx.store.users.values() if u.org_guid == org]
    if (email := request.param("filter[email]")) is not None:
        users = [u for u in users if u.email.lower() == email.lower()]
    if (wanted := request.param("filter[id]")) is not None:
        users = [u for u in users if str(u.id) == wanted]
    resources = [user_resource(u, ctx.base_url) for u in users]
    url = f"{ctx.base_url}{PREFIX}/users"
    return jsonapi_response(200, collection_document(request, resources, url))


def get_user(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    check_query(request, ctx.trace)
    user = _org_user(ctx, parameters["id"])
    if user is None:
        raise not_found(Rule.API_ORG, f"No user with id {parameters['id']}.")
    return jsonapi_response(200, {"data": user_resource(user, ctx.base_url)})


# Prospects and their phone numbers ------------------------------------------------------------


def _prospect_document(ctx: Context, prospect: Prospect) -> dict[str, Any]:
    phones = ctx.store.phone_numbers_of(prospect.id)
    return prospect_resource(prospect, phones, ctx.base_url)


def get_prospect(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    check_query(request, ctx.trace)
    prospect = _org_prospect(ctx, parameters["id"])
    if prospect is None:
        raise not_found(Rule.API_ORG, f"No prospect with id {parameters['id']}.")
    return jsonapi_response(200, {"data": _prospect_document(ctx, prospect)})


def list_phone_numbers(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """How Outreach finds the prospect behind a caller's number: filter[number] compares E.164
    digits, and the prospect relationship (or include=prospect) names the prospect."""
    includes = check_query(
        request,
        ctx.trace,
        filters=("number", "prospect][id"),
        includes=("prospect",),
        collection=True,
    )
    org = _caller(ctx).org_guid
    phones = [
        p for p in ctx.store.phone_numbers.values() if ctx.store.org_of_phone_number(p) == org
    ]
    if (number := request.param("filter[number]")) is not None:
        phones = [p for p in phones if normalize_number(p.number) == normalize_number(number)]
    if (prospect_id := request.param("filter[prospect][id]")) is not None:
        phones = [p for p in phones if str(p.prospect_id) == prospect_id]
    resources = [phone_number_resource(p, ctx.base_url) for p in phones]
    url = f"{ctx.base_url}{PREFIX}/phoneNumbers"
    document = collection_document(request, resources, url)
    if includes:
        prospect_ids = dict.fromkeys(p.prospect_id for p in phones)
        document["included"] = [
            _prospect_document(ctx, ctx.store.prospects[i]) for i in prospect_ids
        ]
    return jsonapi_response(200, document)


# Calls ----------------------------------------------------------------------------------------

CALL_FILTERS = ("vendorCallId", "user][id", "prospect][id", "direction", "state")


def list_calls(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    check_query(request, ctx.trace, filters=CALL_FILTERS, collection=True)
    org = _caller(ctx).org_guid
    calls = [c for c in ctx.store.calls.values() if c.org_guid == org]
    wanted = {
        "vendorCallId": lambda c: c.vendor_call_id,
        "user][id": lambda c: str(c.user_id),
        "prospect][id": lambda c: str(c.prospect_id),
        "direction": lambda c: c.direction,
        "state": lambda c: c.state,
    }
    for name, value_of in wanted.items():
        if (value := request.param(f"filter[{name}]")) is not None:
            calls = [c for c in calls if value_of(c) == value]
    resources = [call_resource(c, ctx.base_url) for c in calls]
    url = f"{ctx.base_url}{PREFIX}/calls"
    return jsonapi_response(200, collection_document(request, resources, url))


def get_call(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    check_query(request, ctx.trace)
    call = _org_call(ctx, parameters["id"])
    return jsonapi_response(200, {"data": call_resource(call, ctx.base_url)})


def create_call(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """POST /calls for an inbound call, as 000 "Create a new call" requires."""
    check_query(request, ctx.trace)
    document = read_document(request, ctx.trace)
    attributes, relationships = read_resource(
        document, resource_type="call", resource_id=None, trace=ctx.trace
    )
    if is_logged_call(attributes):
        return _log_call(ctx, attributes, relationships)
    new_call = check_new_inbound_call(attributes, ctx.now, ctx.trace)
    for name in relationships:
        if name not in ("user", "prospect"):
            raise _relationship_refused(Rule.CALL_CREATE_ATTRIBUTES, name, "is not accepted")
    user_id = relationship_id(relationships, "user", "user", Rule.CALL_USER, ctx.trace)
    if user_id is None or _org_user(ctx, user_id) is None:
        raise _relationship_refused(Rule.CALL_USER, "user", "must name a user of this org")
    prospect_id = relationship_id(
        relationships, "prospect", "prospect", Rule.CALL_PROSPECT, ctx.trace
    )
    if prospect_id is not None and _org_prospect(ctx, prospect_id) is None:
        raise _relationship_refused(
            Rule.CALL_PROSPECT, "prospect", "must name a prospect of this org"
        )
    call = ctx.store.add_call(
        Call(
            id=ctx.store.next_call_id(),
            org_guid=_caller(ctx).org_guid,
            user_id=user_id,
            prospect_id=prospect_id,
            direction="inbound",
            external_vendor=VOICE_EXTENSION,
            from_number=new_call.from_number,
            to_number=new_call.to_number,
            vendor_call_id=new_call.vendor_call_id,
            note=new_call.note,
            state=new_call.state,
            state_changed_at=new_call.state_changed_at,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    return jsonapi_response(201, {"data": call_resource(call, ctx.base_url)})


def _log_call(ctx: Context, attributes: dict[str, Any], relationships: dict[str, Any]) -> Response:
    """POST /calls logging a call that already happened (003 "Log External Calls"): its own
    rules, none of the Voice Extension ones. The call is created as it ended; it has no state
    and, not being a Voice Extension call, cannot be updated afterwards."""
    logged = check_logged_call(attributes, ctx.store.outcome_vocabulary, ctx.trace)
    for name in relationships:
        if name not in LOG_RELATIONSHIPS:
            raise _relationship_refused(Rule.LOG_ATTRIBUTES, name, "is not accepted")
    user_id = relationship_id(relationships, "user", "user", Rule.LOG_USER, ctx.trace)
    if user_id is None or _org_user(ctx, user_id) is None:
        raise _relationship_refused(Rule.LOG_USER, "user", "must name a user of this org")
    prospect_id = relationship_id(
        relationships, "prospect", "prospect", Rule.LOG_PROSPECT, ctx.trace
    )
    if prospect_id is not None and _org_prospect(ctx, prospect_id) is None:
        raise _relationship_refused(
            Rule.LOG_PROSPECT, "prospect", "must name a prospect of this org"
        )
    task_id = relationship_id(relationships, "task", "task", Rule.LOG_TASK, ctx.trace)
    if task_id is not None:
        _check_log_task(ctx, task_id, user_id=user_id, prospect_id=prospect_id)
    call = ctx.store.add_call(
        Call(
            id=ctx.store.next_call_id(),
            org_guid=_caller(ctx).org_guid,
            user_id=user_id,
            prospect_id=prospect_id,
            direction=logged.direction,
            external_vendor=logged.external_vendor,
            from_number=logged.from_number,
            to_number=logged.to_number,
            vendor_call_id=logged.vendor_call_id,
            note=logged.note,
            state=None,
            state_changed_at=None,
            created_at=ctx.now,
            updated_at=ctx.now,
            outcome=logged.outcome,
            answered_at=logged.answered_at,
            completed_at=logged.completed_at,
            dialed_at=logged.dialed_at,
            task_id=task_id,
        )
    )
    return jsonapi_response(201, {"data": call_resource(call, ctx.base_url)})


def _check_log_task(ctx: Context, task_id: int, *, user_id: int, prospect_id: int | None) -> None:
    """003: "If there's an existing open call task, then you may specify that task": a call
    task of this org, still open, of the calling user and about the call's prospect."""
    ctx.trace.check(Rule.API_ORG)
    task = ctx.store.tasks.get(task_id)
    if task is None or task.org_guid != _caller(ctx).org_guid:
        why = "must name a task of this org"
    elif task.action != "call" or task.state == "complete":
        why = "must name an open call task"
    elif task.owner_id != user_id or task.prospect_id != prospect_id:
        why = "must name a task of the call's user about the call's prospect"
    else:
        return
    raise _relationship_refused(Rule.LOG_TASK, "task", why)


def _relationship_refused(rule: Rule, name: str, why: str) -> ApiError:
    return ApiError(
        422,
        "validationError",
        "Validation Error",
        f"The {name} relationship {why}.",
        rule=rule,
        pointer=f"/data/relationships/{name}",
    )


def update_call(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    """PATCH /calls/{id}: 000 "Update an existing call". Every attempt that reaches a call of the
    caller's org lands in the call's history, accepted or refused."""
    check_query(request, ctx.trace)
    call = _org_call(ctx, parameters["id"])
    document = read_document(request, ctx.trace)
    attributes, relationships = read_resource(
        document, resource_type="call", resource_id=parameters["id"], trace=ctx.trace
    )
    state_before = call.state
    try:
        if relationships:
            name = next(iter(relationships))
            raise _relationship_refused(Rule.CALL_UPDATE_ATTRIBUTES, name, "cannot be updated")
        update = check_call_update(call, attributes, ctx.now, ctx.trace)
    except ApiError as error:
        call.history.append(
            CallEvent(
                at=ctx.now,
                request_index=ctx.request_index,
                attributes=attributes,
                outcome="refused",
                state_before=state_before,
                state_after=state_before,
                rule=error.rule,
                detail=error.detail,
            )
        )
        raise
    _apply_update(call, update, ctx)
    outcome = "accepted" if update.new_state or _changes_links(update) else "unchanged"
    call.history.append(
        CallEvent(ctx.now, ctx.request_index, attributes, outcome, state_before, call.state)
    )
    return jsonapi_response(200, {"data": call_resource(call, ctx.base_url)})


def _changes_links(update: CallUpdate) -> bool:
    return bool(update.recording_url or update.voicemail_url or update.sets_vendor_call_id)


def _apply_update(call: Call, update: CallUpdate, ctx: Context) -> None:
    if update.new_state is not None:
        call.state = update.new_state
        call.state_changed_at = update.state_changed_at
        if update.new_state == "initiated" and call.launched_at and call.initiated_at is None:
            call.initiated_at = ctx.now  # when it arrived, for the 5-second report
    if update.recording_url is not None:
        call.recording_url = update.recording_url
    if update.voicemail_url is not None:
        call.voicemail_url = update.voicemail_url
    if update.sets_vendor_call_id:
        call.vendor_call_id = update.vendor_call_id
    call.updated_at = ctx.now


# Tasks ----------------------------------------------------------------------------------------


def list_tasks(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """003 "Discover Open Tasks": `filter[state]=incomplete&filter[owner][id]=1`, and the
    OpenAPI document's `filter[prospect][id]`."""
    check_query(
        request,
        ctx.trace,
        filters=("state", "owner][id", "prospect][id"),
        includes=("prospect",),
        collection=True,
    )
    org = _caller(ctx).org_guid
    tasks = [t for t in ctx.store.tasks.values() if t.org_guid == org]
    wanted: dict[str, Callable[[Task], str]] = {
        "state": lambda t: t.state,
        "owner][id": lambda t: str(t.owner_id),
        "prospect][id": lambda t: str(t.prospect_id),
    }
    for name, value_of in wanted.items():
        if (value := request.param(f"filter[{name}]")) is not None:
            tasks = [t for t in tasks if value_of(t) == value]
    resources = [task_resource(t, ctx.base_url) for t in tasks]
    url = f"{ctx.base_url}{PREFIX}/tasks"
    return jsonapi_response(200, collection_document(request, resources, url))


ROUTES: list[Route] = [
    route("GET", "", who_am_i),
    route("GET", "/users", list_users, "users.read"),
    route("GET", r"/users/(?P<id>[^/]+)", get_user, "users.read"),
    route("GET", "/phoneNumbers", list_phone_numbers, "phoneNumbers.read"),
    route("GET", r"/prospects/(?P<id>[^/]+)", get_prospect, "prospects.read"),
    route("GET", "/tasks", list_tasks, "tasks.read"),
    route("GET", "/calls", list_calls, "calls.read"),
    route("POST", "/calls", create_call, "calls.write"),
    route("GET", r"/calls/(?P<id>[^/]+)", get_call, "calls.read"),
    route("PATCH", r"/calls/(?P<id>[^/]+)", update_call, "calls.write"),
]
