from __future__ import annotations

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from integrations.outreach.provider.provider import OutreachProvider

urlpatterns = default_urlpatterns(OutreachProvider)
