from __future__ import annotations

from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "calls.retention"
    label = "retention"
    verbose_name = "Retention"
