from __future__ import annotations

from django.urls import path

from calls import views

# Mounted under /o/<org>/ by portal.urls.
organization_urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("attention/", views.needs_attention, name="needs_attention"),
    path("calls/", views.call_list, name="call_list"),
    path("calls/export.csv", views.call_export, name="call_export"),
    path("calls/replay/", views.call_bulk_replay, name="call_bulk_replay"),
    path("calls/<int:call_id>/", views.call_detail, name="call_detail"),
    path("calls/<int:call_id>/timeline/", views.call_timeline_rows, name="call_timeline_rows"),
    path("calls/<int:call_id>/replay/", views.call_replay, name="call_replay"),
    path("agents/", views.agent_mappings, name="agent_mappings"),
    path("agents/new/", views.agent_mapping_create, name="agent_mapping_create"),
    path(
        "agents/<int:mapping_id>/delete/", views.agent_mapping_delete, name="agent_mapping_delete"
    ),
]
