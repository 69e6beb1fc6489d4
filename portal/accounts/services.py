from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from portal.accounts.models import ApiToken, hash_api_token
from portal.audit.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.tenancy.models import Organization

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_create(
    *, user: User, organization: Organization, name: str, lifetime_days: int | None
) -> tuple[ApiToken, str]:
    """Returns the token row and the token itself, which is never stored nor shown again."""
    token = ApiToken.new_token()
    api_token = ApiToken.objects.create(
        user=user,
        organization=organization,
        name=name,
        prefix=token[:12],
        token_hash=hash_api_token(token),
        expires_at=timezone.now() + timedelta(days=lifetime_days) if lifetime_days else None,
    )
    audit_record(
        action="api_token.create",
        organization=organization,
        actor=user,
        target=api_token,
        data={"lifetime_days": lifetime_days},
    )
    return api_token, token


def api_token_revoke(*, api_token: ApiToken, actor: User) -> None:
    if api_token.revoked_at is None:
        api_token.revoked_at = timezone.now()
        api_token.save(update_fields=["revoked_at"])
        audit_record(
            action="api_token.revoke",
            organization=api_token.organization,
            actor=actor,
            target=api_token,
        )


def api_token_touch(*, api_token: ApiToken) -> None:
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        api_token.last_used_at = now
