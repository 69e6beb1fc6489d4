"""The one HTTP layer under every request to Outreach (API and token endpoint): httpx with
explicit connect and read timeouts, and an `Attempt` for each request, answered or not."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import certifi
import httpx
from django.conf import settings
from django.utils import timezone

from integrations.outreach.errors import Attempt

# Outreach answers in well under a second; a read that takes longer than this is treated as lost
# (transient) rather than holding a worker. The token endpoint gets less (see oauth.py).
# OUTREACH_TIMEOUT_SECONDS (10 by default) is configurable so the fault tests can hang past it
# quickly; calls.pipeline.LEASE grows with it.
API_TIMEOUT = httpx.Timeout(settings.OUTREACH_TIMEOUT_SECONDS, connect=3.0)
# What is kept of a response body that is not JSON (an HTML error page from a proxy, say).
MAX_TEXT_BODY = 4000


@cache
def _ssl_context() -> ssl.SSLContext:
    # httpx otherwise builds one per client by loading certifi's CA bundle (~30 ms of CPU), and
    # the pipeline makes a client per request to Outreach. The same bundle, loaded once, serves
    # every client (an SSLContext is safe to share between threads and clients).
    return ssl.create_default_context(cafile=certifi.where())


def new_http_client(timeout: httpx.Timeout = API_TIMEOUT) -> httpx.Client:
    return httpx.Client(timeout=timeout, follow_redirects=False, verify=_ssl_context())


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:MAX_TEXT_BODY]


def error_pointer(body: Any) -> str:
    """The JSON:API `errors[0].source.pointer`, e.g. `/data/attributes/outcome`, or ""."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    source = first.get("source") if isinstance(first, dict) else None
    pointer = source.get("pointer") if isinstance(source, dict) else None
    return pointer if isinstance(pointer, str) else ""


def error_of(body: Any) -> tuple[str | None, str]:
    """Outreach's error id and detail: JSON:API `errors[0]` or OAuth's `error`."""
    if not isinstance(body, dict):
        return None, ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return first.get("id"), str(first.get("detail") or first.get("title") or "")
    if isinstance(body.get("error"), str):
        return body["error"], str(body.get("error_description") or "")
    return None, ""


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    path: str,
    recorded_body: Any,
    redact: Callable[[Any], Any] = lambda body: body,
    **kwargs: Any,
) -> tuple[httpx.Response | None, Any, Attempt]:
    """Make one request; answers the response (None if none came), its parsed body and the
    attempt. `path`, `recorded_body` and `redact` keep secrets out of what is recorded."""
    started_at, start = timezone.now(), time.monotonic()
    try:
        response = http.request(method, url, **kwargs)
    except httpx.TransportError as error:  # timeouts, refused connections, broken reads
        attempt = Attempt(
            method=method,
            path=path,
            request_body=recorded_body,
            status=None,
            response_body=f"{type(error).__name__}: no answer from Outreach",
            duration=time.monotonic() - start,
            started_at=started_at,
        )
        return None, None, attempt
    body = _body(response)
    attempt = Attempt(
        method=method,
        path=path,
        request_body=recorded_body,
        status=response.status_code,
        response_body=redact(body),
        duration=time.monotonic() - start,
        started_at=started_at,
        error_id=error_of(body)[0] if response.status_code >= 400 else None,
    )
    return response, body, attempt


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait, from Retry-After (seconds) or X-RateLimit-Reset (epoch seconds)."""
    value = response.headers.get("Retry-After", "")
    if value.strip().isdigit():
        return float(value)
    reset = response.headers.get("X-RateLimit-Reset", "")
    if reset.strip().isdigit():
        return max(1.0, float(reset) - time.time())
    return None
