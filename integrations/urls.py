from __future__ import annotations

from django.urls import path

from integrations import views

# Mounted under /o/<org>/ by portal.urls.
organization_urlpatterns = [
    path("providers/", views.providers, name="providers"),
    path("providers/new/", views.provider_create, name="provider_create"),
    path("providers/<int:connection_id>/edit/", views.provider_edit, name="provider_edit"),
    path(
        "providers/<int:connection_id>/rotate-secret/",
        views.provider_rotate_secret,
        name="provider_rotate_secret",
    ),
    path(
        "providers/<int:connection_id>/retire-secrets/",
        views.provider_retire_secrets,
        name="provider_retire_secrets",
    ),
    path("providers/<int:connection_id>/toggle/", views.provider_toggle, name="provider_toggle"),
    path(
        "providers/<int:connection_id>/places-calls/",
        views.provider_places_calls,
        name="provider_places_calls",
    ),
    path(
        "providers/<int:connection_id>/my-sign-in/",
        views.provider_my_sign_in,
        name="provider_my_sign_in",
    ),
    path("webhooks/refused/", views.webhook_receipts, name="webhook_receipts"),
]
