"""What one request to Outreach was (an `Attempt`), and the typed errors the client raises.

The pipeline stores one row per attempt, so every attempt carries what support staff need to
read it: method, path, request body, status, response body, duration and Outreach's error id.
An error's `permanent` flag says whether trying the same request again can ever succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    request_body: Any
    status: int | None  # None: no answer (timeout, connection refused)
    response_body: Any
    duration: float  # seconds
    started_at: datetime
    error_id: str | None = None


class OutreachError(Exception):
    """Base of every failure to get an answer from Outreach.

    `attempts` lists the HTTP requests made (possibly none, e.g. when the hourly budget was
    already spent); `retry_after` is how many seconds to wait before trying again, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        error_id: str | None = None,
        detail: str = "",
        retry_after: float | None = None,
        attempts: list[Attempt] | None = None,
        pointer: str = "",
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.pointer = pointer  # JSON:API source.pointer: what Outreach refused, when it says
        self.status = status
        self.error_id = error_id
        self.detail = detail
        self.retry_after = retry_after
        self.attempts = attempts or []

    @property
    def attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


class OutreachRateLimited(OutreachError):
    """429 from Outreach, or our shared hourly budget for the user is spent: wait `retry_after`."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        kwargs.setdefault("status", 429)
        kwargs.setdefault("error_id", "rateLimitExceeded")
        super().__init__(message, permanent=False, retry_after=retry_after, **kwargs)


class ConnectionUnusable(OutreachError):
    """The connection needs reconnecting (or was disconnected): hold the work, do not drop it.

    Not permanent: the same request succeeds once the person reconnects, which fires
    `signals.connection_reactivated`."""

    def __init__(self, message: str, *, connection_id: int | None, **kwargs: Any) -> None:
        super().__init__(message, permanent=False, **kwargs)
        self.connection_id = connection_id


class TokenRefused(OutreachError):
    """The token endpoint refused the grant (`invalid_grant` and friends): only a person
    authorising again can fix it."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, permanent=True, **kwargs)


class TokenEndpointFailing(OutreachError):
    """Outreach's token endpoint answered something other than a refused grant: no answer, a
    5xx, `invalid_client` (our client secret was rotated), a proxy's HTML page, a 200 without
    tokens. None of these is the connection's fault and any may be fixed without it, so the
    work waits and retries; only `invalid_grant` means "connect again" (TokenRefused)."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, permanent=False, **kwargs)


@dataclass(frozen=True)
class OutreachResponse:
    """A successful answer: the JSON:API document and every attempt it took (a 401 is retried
    once after a refresh, so there may be two)."""

    document: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def attempt(self) -> Attempt:
        return self.attempts[-1]

    @property
    def data(self) -> Any:
        return self.document.get("data")
