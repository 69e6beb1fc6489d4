"""The environments the tests give the real processes they start.

Starting and stopping them (free ports, readiness, logs on failure) is shared with the benchmark
in bench/processes.py; it is re-exported here so a test imports all it needs from one place.
"""

from __future__ import annotations

import os

from bench.processes import REPO, VENV_BIN, free_port, running, venv_environment, wait_for_http
from tests.settings import TEST_ENVIRONMENT

__all__ = [
    "REPO",
    "VENV_BIN",
    "child_process_environment",
    "clean_environment",
    "free_port",
    "running",
    "wait_for_http",
]


def child_process_environment(**overrides: str) -> dict[str, str]:
    """The test settings for a child process, pointed at the database the tests are using."""
    from django.db import connection

    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, **TEST_ENVIRONMENT, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env["DATABASE_URL"] = database_url
    return venv_environment(env, **overrides)


def clean_environment(**overrides: str) -> dict[str, str]:
    """The machine's environment without the test settings, plus `overrides`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in TEST_ENVIRONMENT and name != "DJANGO_SETTINGS_MODULE"
    }
    return venv_environment(env, **overrides)
