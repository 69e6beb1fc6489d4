"""Outreach's OAuth 2.0 server: GET/POST /oauth/authorize (the consent page) and POST /oauth/token
(authorization_code and refresh_token grants), with Outreach's token lifetimes, refresh-token
rotation and the one-mint-per-user-per-minute limit (seeds/README.md "Outreach OAuth 2.0")."""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .authorize_page import render_authorize_page, render_error_page
from .errors import OAuthError
from .messages import (
    Context,
    Request,
    Response,
    Route,
    html_response,
    json_response,
    redirect_response,
    route,
)
from .rules import Rule
from .store import CODE_LIFETIME, AccessToken, RefreshToken, Store, User

SCOPE_PATTERN = re.compile(r"^[A-Za-z]+\.(read|write|delete|all)$")
FORM = "application/x-www-form-urlencoded"


class _PageRefusal(Exception):
    """The authorize request cannot be trusted with a redirect: answer an error page."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _with_query(uri: str, parameters: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *parameters.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redirect_back(params: dict[str, str], **answer: str) -> Response:
    if params.get("state"):
        answer["state"] = params["state"]
    return redirect_response(_with_query(params["redirect_uri"], answer))


def _authorize_params(request: Request) -> dict[str, str]:
    if request.method == "GET":
        return {name: values[-1] for name, values in request.query.items()}
    return request.form


def _check_authorize(params: dict[str, str], ctx: Context) -> Response | None:
    """The client and redirect URI (else an error page, never a redirect), then the response
    type and scopes (else a redirect carrying the error, as RFC 6749 4.1.2.1 says)."""
    options = ctx.store.options
    ctx.trace.check(Rule.OAUTH_CLIENT)
    if params.get("client_id") != options.client_id:
        raise _PageRefusal(Rule.OAUTH_CLIENT, f"Unknown client_id {params.get('client_id')!r}.")
    ctx.trace.check(Rule.OAUTH_REDIRECT_URI)
    if params.get("redirect_uri") not in options.redirect_uris:
        raise _PageRefusal(
            Rule.OAUTH_REDIRECT_URI,
            f"redirect_uri {params.get('redirect_uri')!r} is not registered for this client.",
        )
    ctx.trace.check(Rule.OAUTH_RESPONSE_TYPE)
    if params.get("response_type") != "code":
        ctx.trace.refused(Rule.OAUTH_RESPONSE_TYPE)
        return _redirect_back(params, error="unsupported_response_type")
    ctx.trace.check(Rule.OAUTH_SCOPE_FORMAT)
    scopes = params.get("scope", "").split()
    if not scopes or not all(SCOPE_PATTERN.match(s) for s in scopes):
        ctx.trace.refused(Rule.OAUTH_SCOPE_FORMAT)
        return _redirect_back(params, error="invalid_scope")
    return None


def authorize(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    params = _authorize_params(request)
    try:
        refused = _check_authorize(params, ctx)
    except _PageRefusal as refusal:
        ctx.trace.refused(refusal.rule)
        return html_response(400, render_error_page(refusal.message))
    if refused is not None:
        return refused
    if request.method == "GET":
        return html_response(200, render_authorize_page(ctx.store, params))
    if params.get("decision") != "approve":
        return _redirect_back(params, error="access_denied")
    user = _chosen_user(params, ctx.store)
    if isinstance(user, str):
        return html_response(400, render_authorize_page(ctx.store, params, error=user))
    code = ctx.store.add_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        user_id=user.id,
        scopes=tuple(params["scope"].split()),
    )
    return _redirect_back(params, code=code.code)


def _chosen_user(params: dict[str, str], store: Store) -> User | str:
    """The existing user picked on the page, or the one it creates; a message if neither."""
    if params.get("user_id"):
        user = store.users.get(int(params["user_id"])) if params["user_id"].isdigit() else None
        return user or "That user does not exist any more."
    email = params.get("email", "").strip()
    if not email:
        return "Pick a user or create one."
    if "@" not in email:
        return f"{email!r} is not an email address."
    if store.user_by_email(email):
        return f"{email} already exists: pick it from the list."
    org_name = params.get("new_org_name", "").strip()
    if org_name:
        org = store.add_org(name=org_name)
    elif params.get("org_guid") in store.orgs:
        org = store.orgs[params["org_guid"]]
    else:
        return "Pick an org or name a new one."
    return store.add_user(
        email=email,
        first_name=params.get("first_name", "").strip(),
        last_name=params.get("last_name", "").strip(),
        org_guid=org.guid,
    )


def token_document(access: AccessToken, refresh: RefreshToken) -> dict[str, Any]:
    return {
        "access_token": access.token,
        "token_type": "bearer",
        "expires_in": int((access.expires_at - access.created_at).total_seconds()),
        "refresh_token": refresh.token,
        "scope": " ".join(access.scopes),
        "created_at": int(access.created_at.timestamp()),
    }


def token(request: Request, ctx: Context, _: dict[str, str]) -> Response:
    try:
        document = _grant(request, ctx)
    except OAuthError as error:
        ctx.trace.refused(error.rule)
        response = json_response(error.status, error.document())
        response.headers.update(error.headers)
        return response
    response = json_response(200, document)
    response.headers["Cache-Control"] = "no-store"
    return response


def _grant(request: Request, ctx: Context) -> dict[str, Any]:
    ctx.trace.check(Rule.OAUTH_REQUEST)
    if request.media_type[0] != FORM:
        raise OAuthError(400, "invalid_request", f"Send the form as {FORM}.", Rule.OAUTH_REQUEST)
    form = request.form
    options = ctx.store.options
    ctx.trace.check(Rule.OAUTH_CLIENT)
    secret_ok = hmac.compare_digest(
        form.get("client_secret", "").encode(), options.client_secret.encode()
    )
    if form.get("client_id") != options.client_id or not secret_ok:
        raise OAuthError(401, "invalid_client", "Client authentication failed.", Rule.OAUTH_CLIENT)
    ctx.trace.check(Rule.OAUTH_GRANT_TYPE)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError(400, "invalid_request", "grant_type is missing.", Rule.OAUTH_GRANT_TYPE)
    if grant_type == "authorization_code":
        return _exchange_code(form, ctx)
    if grant_type == "refresh_token":
        return _refresh(form, ctx)
    raise OAuthError(
        400, "unsupported_grant_type", f"{grant_type} is not supported.", Rule.OAUTH_GRANT_TYPE
    )


def _require(form: dict[str, str], *names: str) -> None:
    for name in names:
        if not form.get(name):
            raise OAuthError(400, "invalid_request", f"{name} is missing.", Rule.OAUTH_REQUEST)


def _check_mint_rate(user_id: int, ctx: Context) -> None:
    """One access token per user per mint window; a refused exchange leaves the grant usable."""
    ctx.trace.check(Rule.OAUTH_MINT_RATE)
    retry_after = ctx.store.mint_retry_after(user_id)
    if retry_after is not None:
        raise OAuthError(
            429,
            "too_many_requests",
            f"An access token was minted for this user less than "
            f"{ctx.store.limits.mint_window} s ago.",
            Rule.OAUTH_MINT_RATE,
            {"Retry-After": str(retry_after)},
        )


def _exchange_code(form: dict[str, str], ctx: Context) -> dict[str, Any]:
    _require(form, "code", "redirect_uri")
    ctx.trace.check(Rule.OAUTH_CODE)
    code = ctx.store.codes.get(form["code"])
    if (
        code is None
        or code.used
        or code.client_id != form["client_id"]
        or ctx.now >= code.created_at + CODE_LIFETIME
    ):
        raise OAuthError(
            400, "invalid_grant", "The code is unknown, used or expired.", Rule.OAUTH_CODE
        )
    ctx.trace.check(Rule.OAUTH_CODE_REDIRECT_URI)
    if form["redirect_uri"] != code.redirect_uri:
        raise OAuthError(
            400,
            "invalid_grant",
            "redirect_uri differs from the one used to authorize.",
            Rule.OAUTH_CODE_REDIRECT_URI,
        )
    ctx.user_id = code.user_id
    _check_mint_rate(code.user_id, ctx)
    code.used = True
    access, refresh = ctx.store.mint_tokens(user_id=code.user_id, scopes=code.scopes)
    return token_document(access, refresh)


def _refresh(form: dict[str, str], ctx: Context) -> dict[str, Any]:
    _require(form, "refresh_token")
    ctx.trace.check(Rule.OAUTH_REFRESH_TOKEN)
    old = ctx.store.refresh_tokens.get(form["refresh_token"])
    if old is None or old.revoked or ctx.store.refresh_token_expired(old):
        raise OAuthError(
            400,
            "invalid_grant",
            "The refresh token is unknown, already used, revoked or expired.",
            Rule.OAUTH_REFRESH_TOKEN,
        )
    ctx.user_id = old.user_id
    _check_mint_rate(old.user_id, ctx)
    # Every refresh answers a new refresh token; the old one stops working.
    del ctx.store.refresh_tokens[old.token]
    access, refresh = ctx.store.mint_tokens(user_id=old.user_id, scopes=old.scopes)
    return token_document(access, refresh)


ROUTES: list[Route] = [
    route("GET", "/oauth/authorize", authorize),
    route("POST", "/oauth/authorize", authorize),
    route("POST", "/oauth/token", token),
]
