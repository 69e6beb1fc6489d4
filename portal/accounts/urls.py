from __future__ import annotations

from django.urls import path

from portal.accounts import views

urlpatterns = [
    path("settings/", views.user_settings, name="user_settings"),
    path("settings/extension.zip", views.extension_download, name="extension_download"),
    path(
        "settings/tokens/<int:token_id>/revoke/",
        views.api_token_revoke_view,
        name="api_token_revoke",
    ),
]

api_urlpatterns = [
    path("me/", views.me, name="api_me"),
]
