from __future__ import annotations

from django.urls import path

from calls.retention import views

# Mounted under /o/<org>/ by portal.urls; every view here is an @organization_view.
organization_urlpatterns = [
    path("settings/export/", views.organization_export, name="organization_export"),
    path("settings/delete/", views.organization_delete, name="organization_delete"),
]
