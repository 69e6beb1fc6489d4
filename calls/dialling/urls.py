from __future__ import annotations

from django.urls import path, re_path

from calls.dialling import views

# Mounted under /api/v1/ by portal.urls; `dial` with or without the slash, since the
# extension and the tel: handler are configured by people.
api_urlpatterns = [
    re_path(r"^dial/?$", views.dial, name="api_dial"),
    path("dial/<str:call_id>", views.dial_status, name="api_dial_status"),
]
