"""Reads about provider connections that other apps need."""

from __future__ import annotations

from integrations.models import ProviderConnection, RepSignIn


def rep_sign_in_values(*, connection: ProviderConnection, user_id: int | None) -> dict[str, str]:
    """A rep's own sign-in at the connection's phone system (its provider's `rep_fields`), for
    the provider's use only; empty when they saved none."""
    if user_id is None:
        return {}
    found = RepSignIn.objects.filter(connection=connection, user_id=user_id).first()
    return found.revealed() if found is not None else {}
