"""The one way Callbridge reaches a CCAI Platform API: HTTP Basic auth with the connection's API
user and token, JSON. Everything else (what to ask, what an answer means)
belongs to the callers: `place.py`, `poll.py` and the credential check in `provider.py`."""

from __future__ import annotations

from typing import Any

import httpx

from integrations.ccai.setup import CcaiSetup

ANSWER_MAX = 2000  # what support staff see of an answer


def api_request(
    setup: CcaiSetup,
    method: str,
    path: str,
    *,
    timeout: float | httpx.Timeout,
    body: Any = None,
) -> httpx.Response:
    """Send one request; httpx's errors are the caller's to read (a connect error means the
    request never left, a read time-out that it may have been acted on)."""
    return httpx.request(
        method,
        f"{setup.api_url}{path}",
        json=body,
        auth=httpx.BasicAuth(setup.api_user, setup.api_token),
        headers={"Accept": "application/json", "User-Agent": "Callbridge"},
        timeout=timeout,
        follow_redirects=False,
    )


def answer_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def answer_excerpt(response: httpx.Response) -> str:
    """The answer as support staff read it: status and the start of the body."""
    return f"HTTP {response.status_code} {response.text[:ANSWER_MAX]}"


def retry_after(response: httpx.Response, *, default: float = 1.0) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default
