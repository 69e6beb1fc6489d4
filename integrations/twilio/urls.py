from __future__ import annotations

from django.urls import path

from integrations.twilio import views

# Mounted at the top level by portal.urls: Twilio and Outreach's players reach them unsigned-in.
urlpatterns = [
    path("hooks/twilio/<str:token>/voice/", views.voice, name="twilio_voice"),
    path("play/<str:token>", views.recording, name="twilio_recording"),
]
