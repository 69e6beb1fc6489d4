from __future__ import annotations

from django.urls import path

from portal.tenancy import views

urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/new/", views.organization_create, name="organization_create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]

# Mounted under /o/<org>/ by portal.urls; every view here is an @organization_view.
organization_urlpatterns = [
    path("members/", views.members, name="members"),
    path("members/invite/", views.invitation_create, name="invitation_create"),
    path("members/<int:membership_id>/role/", views.membership_role, name="membership_role"),
    path("members/<int:membership_id>/remove/", views.membership_remove, name="membership_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("settings/", views.organization_settings, name="organization_settings"),
    path(
        "settings/recording-links/revoke/",
        views.recording_links_revoke,
        name="recording_links_revoke",
    ),
]
