from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.tenancy.models import Membership


def organizations(request: HttpRequest) -> dict[str, Any]:
    """The navigation's organisation switcher."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_memberships": Membership.objects.filter(user=user).select_related("organization"),
        "current_organization": getattr(request, "organization", None),
        "current_membership": getattr(request, "membership", None),
    }
