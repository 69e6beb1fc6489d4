"""The Celery application shared by the web process, the workers and beat."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("callbridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task: Any = None, **kwargs: Any) -> None:
    """Between tasks, what Django does between requests: close a connection that broke or
    outlived CONN_MAX_AGE, keep the others (settings.CELERY_DB_REUSE_MAX says why). Not for a
    task run eagerly, inside its caller's transaction."""
    from django.db import close_old_connections

    if task is None or not getattr(task.request, "is_eager", False):
        close_old_connections()
