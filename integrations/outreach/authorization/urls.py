from __future__ import annotations

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from integrations.outreach.authorization.provider import OutreachAuthorization

urlpatterns = default_urlpatterns(OutreachAuthorization)
