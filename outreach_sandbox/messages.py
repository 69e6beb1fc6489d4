"""The plain request and response objects the handlers work with, independent of http.server,
the routing table, and the per-request context (store, sandbox time, rule trace, caller)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from .errors import ApiError
from .rules import Rule, RuleTrace
from .store import AccessToken, Store

JSON_API = "application/vnd.api+json"


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: Message  # what http.server parsed: case-insensitive
    body: bytes
    client_host: str
    client_port: int = 0

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @cached_property
    def form(self) -> dict[str, str]:
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[-1] for name, values in fields.items()}

    @property
    def media_type(self) -> tuple[str, list[str]]:
        """The Content-Type's media type (lowercase) and its parameters."""
        raw = self.headers.get("Content-Type") or ""
        media_type, *parameters = (part.strip() for part in raw.split(";"))
        return media_type.lower(), [p for p in parameters if p]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    status: int, payload: object, *, content_type: str = "application/json"
) -> Response:
    return Response(status, json.dumps(payload).encode(), content_type)


def jsonapi_response(status: int, payload: object) -> Response:
    return json_response(status, payload, content_type=JSON_API)


def error_response(error: ApiError) -> Response:
    response = jsonapi_response(error.status, error.document())
    response.headers.update(error.headers)
    return response


def html_response(status: int, html: str) -> Response:
    return Response(status, html.encode(), "text/html; charset=utf-8")


def redirect_response(location: str) -> Response:
    return Response(302, b"", None, {"Location": location})


@dataclass
class Context:
    """What a handler knows about the request beyond its bytes."""

    store: Store
    now: datetime
    base_url: str
    trace: RuleTrace = field(default_factory=RuleTrace)
    token: AccessToken | None = None
    user_id: int | None = None  # whose token or grant it was, for the request log
    request_index: int = 0


Handler = Callable[[Request, Context, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scope: str | None = None  # e.g. "calls.read"; None: any valid token


def route(method: str, pattern: str, handler: Handler, scope: str | None = None) -> Route:
    return Route(method, re.compile(f"^{pattern}$"), handler, scope)


def resolve(routes: list[Route], method: str, path: str, trace: RuleTrace) -> tuple[Route, dict]:
    """The route for this method and path, or a JSON:API 404 / 405."""
    trace.check(Rule.API_ROUTE)
    allowed = []
    for candidate in routes:
        match = candidate.pattern.match(path)
        if match:
            if candidate.method == method:
                return candidate, match.groupdict()
            allowed.append(candidate.method)
    if allowed:
        raise ApiError(
            405,
            "methodNotAllowed",
            "Method Not Allowed",
            f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}.",
            rule=Rule.API_ROUTE,
            headers={"Allow": ", ".join(allowed)},
        )
    raise ApiError(
        404, "resourceNotFound", "Resource Not Found", f"No route for {path}.", rule=Rule.API_ROUTE
    )


def parse_json(body: bytes) -> Any:
    """The body as JSON, or a JSON:API 400."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400, "badRequest", "Bad Request", "The body is not valid JSON.", rule=Rule.API_JSON
        ) from None
