from __future__ import annotations

from django.urls import path

from integrations.outreach import views

urlpatterns = [
    path(
        "settings/outreach/<slug:org>/connect/",
        views.my_outreach_connect,
        name="my_outreach_connect",
    ),
    path(
        "settings/outreach/<slug:org>/disconnect/",
        views.my_outreach_disconnect,
        name="my_outreach_disconnect",
    ),
]

# Mounted under /o/<org>/ by portal.urls; every view here is an @organization_view.
organization_urlpatterns = [
    path("outreach/", views.outreach_page, name="outreach"),
    path("outreach/connect/", views.outreach_connect, name="outreach_connect"),
    path("outreach/disconnect/", views.outreach_disconnect, name="outreach_disconnect"),
    path(
        "outreach/reps/<int:outreach_connection_id>/disconnect/",
        views.outreach_rep_disconnect,
        name="outreach_rep_disconnect",
    ),
]
