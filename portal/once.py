"""Forms that must act once: a reloaded POST (the browser's "resend?") is recognised and refused.

A page puts `once_token()` in a hidden `once` field; the view calls `once_spent(request)`
before acting, which is true when that token was already used (and marks it used otherwise).
Tokens live in the session, the newest few kept, so nothing is stored server-side beyond it.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest

FIELD = "once"
SESSION_KEY = "spent_once_tokens"
KEPT = 20


def once_token() -> str:
    return secrets.token_urlsafe(16)


def once_spent(request: HttpRequest) -> bool:
    """True when this POST's token was used before; a POST without one is let through."""
    token = request.POST.get(FIELD, "")
    if not token:
        return False
    spent = list(request.session.get(SESSION_KEY, []))
    if token in spent:
        return True
    request.session[SESSION_KEY] = [*spent, token][-KEPT:]
    return False
