from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from calls import urls as calls_urls
from calls.dialling import urls as dialling_urls
from calls.retention import urls as retention_urls
from calls.webhooks import receive_webhook
from integrations import urls as integrations_urls
from integrations.outreach import urls as outreach_urls
from integrations.twilio import urls as twilio_urls
from portal import health
from portal.accounts import urls as accounts_urls
from portal.tenancy import urls as tenancy_urls

# The Django admin reads every tenant, so it has no sign-in of its own: anyone not signed in is
# sent to the portal's (allauth: rate-limited, verified email in production), and only staff
# get in. Its own login form never checked a limit. Wrapping the bound method is what allauth's
# docs say to do; mypy refuses any assignment to a method, hence the ignore.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # as allauth says

# Every page of one organisation lives under /o/<org>/ and is an @organization_view.
organization_urlpatterns = [
    *tenancy_urls.organization_urlpatterns,
    *outreach_urls.organization_urlpatterns,
    *integrations_urls.organization_urlpatterns,
    *calls_urls.organization_urlpatterns,
    *retention_urls.organization_urlpatterns,
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("hooks/<slug:kind>/<str:token>/", receive_webhook, name="webhook"),
    *twilio_urls.urlpatterns,
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path(
        "api/v1/",
        include([*accounts_urls.api_urlpatterns, *dialling_urls.api_urlpatterns]),
    ),
    path("", include(accounts_urls.urlpatterns)),
    path("", include(outreach_urls.urlpatterns)),
    path("", include(tenancy_urls.urlpatterns)),
    path("o/<slug:org>/", include(organization_urlpatterns)),
]
