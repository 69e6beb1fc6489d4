"""One entry of the request log: what came in, what went out, when (wall and sandbox clocks),
for whom, and which rules were checked and which refused. Secrets never reach the log."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .messages import Context, Request, Response

_SECRETS = "client_secret|access_token|refresh_token"
_JSON_SECRET = re.compile(rf'("(?:{_SECRETS})"\s*:\s*")[^"]*(")')
_FORM_SECRET = re.compile(rf"((?:^|[&?])(?:{_SECRETS})=)[^&]*")
REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    """Client secrets and tokens, in JSON bodies and in form bodies or query strings."""
    return _FORM_SECRET.sub(rf"\1{REDACTED}", _JSON_SECRET.sub(rf"\1{REDACTED}\2", text))


def _authorization(request: Request) -> str | None:
    """The scheme only: "Bearer [REDACTED]"."""
    header = request.headers.get("Authorization")
    return f"{header.split()[0]} {REDACTED}" if header and header.strip() else None


def log_entry(
    *,
    index: int,
    request: Request,
    response: Response,
    ctx: Context,
    received_at: datetime,
    received_at_sandbox: datetime,
    duration_ms: float,
    fault: str | None,
) -> dict[str, Any]:
    user = ctx.store.users.get(ctx.user_id) if ctx.user_id is not None else None
    return {
        "index": index,
        "method": request.method,
        "path": request.path,
        "query": redact(request.query_string),
        "requestContentType": request.headers.get("Content-Type"),
        "authorization": _authorization(request),
        "requestBody": redact(request.body.decode("utf-8", "replace")),
        "status": response.status,
        "responseBody": redact(response.body.decode("utf-8", "replace")),
        "receivedAt": received_at.isoformat(timespec="microseconds"),
        "receivedAtSandbox": received_at_sandbox.isoformat(timespec="microseconds"),
        "durationMs": round(duration_ms, 3),
        "user": {"id": user.id, "email": user.email} if user else None,
        "rulesChecked": list(ctx.trace.checked),
        "refusedBy": ctx.trace.refused_by,
        "fault": fault,
    }
