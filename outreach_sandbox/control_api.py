"""The control API under /_control/ (plain JSON, no auth, loopback only): what tests and demos use
to set the scene (orgs, users, prospects, tokens, outbound calls), to bend the world (clock,
limits, faults) and to look inside (request log, a call's history)."""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from typing import Any

from .errors import ApiError
from .messages import Context, Request, Response, Route, json_response, route
from .oauth import SCOPE_PATTERN, token_document
from .resources import call_resource, timestamp
from .rules import INITIATED_DEADLINE, OUTCOME_VOCABULARIES, VOICE_EXTENSION
from .store import Call, Fault, HeldRequest, Limits, Org, Prospect, User

PREFIX = "/_control"
FAULT_KINDS = ("error", "rate_limit", "hang", "hold")
# A held request answers anyway after this long unless told otherwise: a test that dies before
# releasing it leaves no thread waiting forever, and a client that gave up is gone long before.
MAX_HOLD_SECONDS = 60.0
ERROR_STATUSES = frozenset(status.value for status in HTTPStatus if status >= 400)
_MISSING = object()


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "badRequest", "Bad Request", detail)


def _missing(what: str) -> ApiError:
    return ApiError(404, "resourceNotFound", "Resource Not Found", f"No {what}.")


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _invalid("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object.")
    return body


def _field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = _MISSING
) -> Any:
    """body[name], checked against kind; the default when absent or null (else required)."""
    if name not in body or (body[name] is None and default is not _MISSING):
        if default is _MISSING:
            raise _invalid(f"{name} is required.")
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int to isinstance(); a count or an id given as true is still a mistake.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _invalid(f"{name} must be {' or '.join(k.__name__ for k in kinds)}.")
    return value


def _org_json(org: Org) -> dict[str, Any]:
    return {"guid": org.guid, "name": org.name}


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "orgGuid": user.org_guid,
    }


def _limits_json(limits: Limits) -> dict[str, int]:
    return {
        "accessTokenLifetime": limits.access_token_lifetime,
        "refreshTokenLifetime": limits.refresh_token_lifetime,
        "mintWindow": limits.mint_window,
        "rateLimitPerHour": limits.rate_limit_per_hour,
    }


def _clock_json(ctx: Context) -> dict[str, Any]:
    return {"offsetSeconds": ctx.store.clock_offset, "now": timestamp(ctx.now)}


def _user(ctx: Context, user_id: object) -> User:
    user = ctx.store.users.get(user_id) if isinstance(user_id, int) else None
    if user is None:
        raise _missing(f"user {user_id}")
    return user


def _org_guid(ctx: Context, body: dict[str, Any]) -> str:
    guid = _field(body, "orgGuid", str, ctx.store.default_org.guid)
    if guid not in ctx.store.orgs:
        raise _missing(f"org {guid}")
    return guid


# Configuration and scene ----------------------------------------------------------------------


def get_config(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    options = ctx.store.options
    return json_response(
        200,
        {
            "clientId": options.client_id,
            "redirectUris": list(options.redirect_uris),
            "defaultOrg": _org_json(ctx.store.default_org),
            "limits": _limits_json(ctx.store.limits),
            "clock": _clock_json(ctx),
            "outcomeVocabulary": ctx.store.outcome_vocabulary,
        },
    )


def set_outcome_vocabulary(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """{"outcomeVocabulary": "reference" | "guide"}: the words a logged call's outcome must use
    from now on (rules.OUTCOME_VOCABULARIES); a reset goes back to the startup option's."""
    vocabulary = _field(_body(request), "outcomeVocabulary", str)
    if vocabulary not in OUTCOME_VOCABULARIES:
        raise _invalid(f"outcomeVocabulary is one of {', '.join(OUTCOME_VOCABULARIES)}.")
    ctx.store.outcome_vocabulary = vocabulary
    return json_response(200, {"outcomeVocabulary": vocabulary})


def reset(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    ctx.store.reset()
    return json_response(200, {"defaultOrg": _org_json(ctx.store.default_org)})


def list_orgs(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return json_response(200, {"orgs": [_org_json(o) for o in ctx.store.orgs.values()]})


def create_org(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    body = _body(request)
    guid = _field(body, "guid", str, None)
    if guid in ctx.store.orgs:
        raise _invalid(f"org {guid} exists already.")
    org = ctx.store.add_org(name=_field(body, "name", str), guid=guid)
    return json_response(201, _org_json(org))


def list_users(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return json_response(200, {"users": [_user_json(u) for u in ctx.store.users.values()]})


def create_user(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    body = _body(request)
    email = _field(body, "email", str)
    if "@" not in email or ctx.store.user_by_email(email):
        raise _invalid(f"{email!r} is not a new email address.")
    user = ctx.store.add_user(
        email=email,
        first_name=_field(body, "firstName", str, ""),
        last_name=_field(body, "lastName", str, ""),
        org_guid=_org_guid(ctx, body),
    )
    return json_response(201, _user_json(user))


def create_prospect(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """phoneNumbers: a list of numbers, or of {"number", "phoneType", "extension"} (phoneType
    mobile, work, home...; the extension is optional)."""
    body = _body(request)
    phones: list[tuple[str, str, str | None]] = []
    for entry in _field(body, "phoneNumbers", list, []):
        if isinstance(entry, str):
            phones.append((entry, "mobile", None))
        elif isinstance(entry, dict) and isinstance(entry.get("number"), str):
            extension = entry.get("extension")
            phones.append(
                (
                    entry["number"],
                    str(entry.get("phoneType", "mobile")),
                    str(extension) if extension else None,
                )
            )
        else:
            raise _invalid("phoneNumbers holds numbers or {number, phoneType, extension} objects.")
    prospect = ctx.store.add_prospect(
        org_guid=_org_guid(ctx, body),
        first_name=_field(body, "firstName", str, ""),
        last_name=_field(body, "lastName", str, ""),
        emails=[str(e) for e in _field(body, "emails", list, [])],
        phone_numbers=phones,
    )
    return json_response(201, _prospect_json(ctx, prospect))


def _prospect_json(ctx: Context, prospect: Prospect) -> dict[str, Any]:
    return {
        "id": prospect.id,
        "orgGuid": prospect.org_guid,
        "firstName": prospect.first_name,
        "lastName": prospect.last_name,
        "phoneNumbers": [
            {"id": p.id, "number": p.number, "phoneType": p.phone_type, "extension": p.extension}
            for p in ctx.store.phone_numbers_of(prospect.id)
        ],
    }


def list_prospects(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """Every prospect, or an org's (`?orgGuid=`): what the dialer page lists."""
    org_guid = request.param("orgGuid")
    prospects = [p for p in ctx.store.prospects.values() if org_guid in (None, p.org_guid)]
    return json_response(200, {"prospects": [_prospect_json(ctx, p) for p in prospects]})


def create_task(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """A task of `ownerId` about `prospectId`: `action` (call) and `state` (incomplete)."""
    body = _body(request)
    owner = _user(ctx, _field(body, "ownerId", int))
    prospect_id = _field(body, "prospectId", int, None)
    prospect = ctx.store.prospects.get(prospect_id) if prospect_id is not None else None
    if prospect_id is not None and (prospect is None or prospect.org_guid != owner.org_guid):
        raise _missing(f"prospect {prospect_id} in the owner's org")
    task = ctx.store.add_task(
        org_guid=owner.org_guid,
        owner_id=owner.id,
        prospect_id=prospect_id,
        action=_field(body, "action", str, "call"),
        state=_field(body, "state", str, "incomplete"),
    )
    return json_response(201, {"id": task.id, "ownerId": owner.id, "prospectId": prospect_id})


# Tokens ---------------------------------------------------------------------------------------


def issue_token(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """A token as the OAuth flow would give it. It counts as a mint unless countAsMint is false."""
    body = _body(request)
    user = _user(ctx, _field(body, "userId", int))
    scopes = _field(body, "scopes", (list, str))
    scopes = scopes.split() if isinstance(scopes, str) else scopes
    if not all(isinstance(s, str) and SCOPE_PATTERN.match(s) for s in scopes):
        raise _invalid("scopes look like calls.all, users.read ...")
    access, refresh = ctx.store.mint_tokens(
        user_id=user.id,
        scopes=tuple(scopes),
        count_as_mint=_field(body, "countAsMint", bool, True),
    )
    return json_response(201, token_document(access, refresh))


def expire_tokens(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    """The user's access tokens expire now; refresh tokens keep working."""
    user = _user(ctx, int(parameters["id"]))
    return json_response(200, {"expired": ctx.store.expire_tokens_of(user.id)})


def revoke_tokens(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    """The user's access and refresh tokens all stop working."""
    user = _user(ctx, int(parameters["id"]))
    return json_response(200, {"revoked": ctx.store.revoke_tokens_of(user.id)})


# Calls ----------------------------------------------------------------------------------------


def launch_call(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """An outbound call as the Outreach client creates it before the tel: launch: no state yet,
    a UUID id, and the launch time the 5-second "initiated" deadline counts from."""
    body = _body(request)
    user = _user(ctx, _field(body, "userId", int))
    prospect_id = _field(body, "prospectId", int, None)
    prospect = ctx.store.prospects.get(prospect_id) if prospect_id is not None else None
    if prospect_id is not None and (prospect is None or prospect.org_guid != user.org_guid):
        raise _missing(f"prospect {prospect_id} in the user's org")
    call = ctx.store.add_call(
        Call(
            id=str(uuid.uuid4()).upper(),
            org_guid=user.org_guid,
            user_id=user.id,
            prospect_id=prospect_id,
            direction=_field(body, "direction", str, "outbound"),
            external_vendor=_field(body, "externalVendor", str, VOICE_EXTENSION),
            from_number=_field(body, "from", str, None),
            to_number=_field(body, "to", str),
            vendor_call_id=None,
            note=None,
            state=None,
            state_changed_at=None,
            created_at=ctx.now,
            updated_at=ctx.now,
            launched_at=ctx.now,
        )
    )
    return json_response(201, _call_view(call, ctx))


def get_call(request: Request, ctx: Context, parameters: dict[str, str]) -> Response:
    call = ctx.store.calls.get(parameters["id"])
    if call is None:
        raise _missing(f"call {parameters['id']}")
    return json_response(200, _call_view(call, ctx))


def _call_view(call: Call, ctx: Context) -> dict[str, Any]:
    return {
        "id": call.id,
        "orgGuid": call.org_guid,
        "call": call_resource(call, ctx.base_url),
        "launch": _launch_report(call, ctx),
        "history": [
            {
                "at": timestamp(event.at),
                "requestIndex": event.request_index,
                "attributes": event.attributes,
                "outcome": event.outcome,
                "stateBefore": event.state_before,
                "stateAfter": event.state_after,
                "rule": event.rule,
                "detail": event.detail,
            }
            for event in call.history
        ],
    }


def _launch_report(call: Call, ctx: Context) -> dict[str, Any] | None:
    """000: "initiated" must arrive within 5 s of the launch, else Outreach treats the call as
    failed. The sandbox reports it (None while still possible) and never fails the call."""
    if call.launched_at is None:
        return None
    arrived = call.initiated_at
    delay = (arrived - call.launched_at).total_seconds() if arrived else None
    if delay is not None:
        within: bool | None = delay <= INITIATED_DEADLINE.total_seconds()
    else:
        within = None if ctx.now <= call.launched_at + INITIATED_DEADLINE else False
    return {
        "launchedAt": timestamp(call.launched_at),
        "initiatedAt": timestamp(arrived),
        "initiatedDelaySeconds": delay,
        "initiatedWithin5s": within,
    }


# Faults, clock, limits ------------------------------------------------------------------------


def add_fault(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """The next `count` requests whose path starts with pathPrefix (the first pending fault that
    matches takes a request):
    - error: answer `status` (500) with the JSON `body` (a JSON:API error for the status);
    - rate_limit: answer 429 with Retry-After: `retryAfter`;
    - hang: wait `seconds`, then answer normally, or 500 if thenError;
    - hold: wait until POST /faults/release (or `seconds`, 60 by default), then answer
      normally, or 500 if the release says thenError. GET /faults lists what is held."""
    body = _body(request)
    kind = _field(body, "kind", str)
    if kind not in FAULT_KINDS:
        raise _invalid(f"kind is one of {', '.join(FAULT_KINDS)}.")
    default_seconds = MAX_HOLD_SECONDS if kind == "hold" else 0
    fault = Fault(
        kind=kind,
        remaining=_field(body, "count", int, 1),
        path_prefix=_field(body, "pathPrefix", str, ""),
        retry_after=_field(body, "retryAfter", int, 1),
        seconds=float(_field(body, "seconds", (int, float), default_seconds)),
        then_error=_field(body, "thenError", bool, False),
        status=_field(body, "status", int, 500),
        body=_field(body, "body", (dict, list), None),
    )
    if fault.remaining < 1:
        raise _invalid("count must be at least 1.")
    if fault.seconds < 0:
        raise _invalid("seconds cannot be negative.")
    if fault.status not in ERROR_STATUSES:
        raise _invalid("status is an HTTP error status (400-599).")
    ctx.store.faults.append(fault)
    return json_response(201, {"pending": len(ctx.store.faults)})


def _held_json(held: HeldRequest) -> dict[str, Any]:
    return {
        "method": held.method,
        "path": held.path,
        "clientPort": held.client_port,
        "heldSince": timestamp(held.held_at),
    }


def list_faults(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """How many faults are pending, and the requests held right now (oldest first): a test waits
    for one to be held instead of sleeping and hoping."""
    store = ctx.store
    return json_response(
        200, {"pending": len(store.faults), "held": [_held_json(h) for h in store.held]}
    )


def release_held(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """Every held request goes on: it is applied and answered normally, or 500 if thenError."""
    then_error = _field(_body(request), "thenError", bool, False)
    return json_response(200, {"released": ctx.store.release_held(then_error=then_error)})


def clear_faults(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """No more faults; held requests go on too, answered normally."""
    ctx.store.faults.clear()
    return json_response(200, {"pending": 0, "released": ctx.store.release_held()})


def get_clock(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return json_response(200, _clock_json(ctx))


def set_clock(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    """{"offsetSeconds": n} sets the sandbox clock to wall clock + n; {"advanceSeconds": n}
    moves it on by n. Every time rule reads this clock."""
    body = _body(request)
    if "offsetSeconds" in body:
        ctx.store.clock_offset = float(_field(body, "offsetSeconds", (int, float)))
    else:
        ctx.store.clock_offset += float(_field(body, "advanceSeconds", (int, float)))
    ctx.now = ctx.store.now()
    return json_response(200, _clock_json(ctx))


def get_limits(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    return json_response(200, _limits_json(ctx.store.limits))


def set_limits(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    body = _body(request)
    limits = ctx.store.limits
    names = {
        "accessTokenLifetime": "access_token_lifetime",
        "refreshTokenLifetime": "refresh_token_lifetime",
        "mintWindow": "mint_window",
        "rateLimitPerHour": "rate_limit_per_hour",
    }
    for name in body:
        if name not in names:
            raise _invalid(f"{name} is not a limit; the limits are {', '.join(names)}.")
        value = _field(body, name, int)
        if value < 0:
            raise _invalid(f"{name} cannot be negative.")
        setattr(limits, names[name], value)
    return json_response(200, _limits_json(limits))


# The request log ------------------------------------------------------------------------------


def list_requests(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    prefix = request.param("pathPrefix") or ""
    since = request.param("since") or "0"
    if not since.isdigit():
        raise _invalid("since is a request index.")
    entries = [
        entry for entry in ctx.store.requests[int(since) :] if entry["path"].startswith(prefix)
    ]
    return json_response(200, {"requests": entries})


ROUTES: list[Route] = [
    route("GET", "/config", get_config),
    route("POST", "/reset", reset),
    route("GET", "/orgs", list_orgs),
    route("POST", "/orgs", create_org),
    route("GET", "/users", list_users),
    route("POST", "/users", create_user),
    route("POST", r"/users/(?P<id>\d+)/expire-tokens", expire_tokens),
    route("POST", r"/users/(?P<id>\d+)/revoke-tokens", revoke_tokens),
    route("GET", "/prospects", list_prospects),
    route("POST", "/prospects", create_prospect),
    route("POST", "/tasks", create_task),
    route("POST", "/outcome-vocabulary", set_outcome_vocabulary),
    route("POST", "/tokens", issue_token),
    route("POST", "/calls", launch_call),
    route("GET", r"/calls/(?P<id>[^/]+)", get_call),
    route("GET", "/faults", list_faults),
    route("POST", "/faults", add_fault),
    route("DELETE", "/faults", clear_faults),
    route("POST", "/faults/release", release_held),
    route("GET", "/clock", get_clock),
    route("POST", "/clock", set_clock),
    route("GET", "/limits", get_limits),
    route("POST", "/limits", set_limits),
    route("GET", "/requests", list_requests),
]
