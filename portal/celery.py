"""The Celery application shared by the web process, the workers and beat."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("callbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
