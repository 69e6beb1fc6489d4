"""Probes, checked on a real gunicorn process against real (or really missing) services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.processes import child_process_environment, free_port, running, wait_for_http


@contextmanager
def gunicorn(**overrides: str) -> Iterator[str]:
    port = free_port()
    command = ["gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with running(command, env=child_process_environment(**overrides)) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", process=process)
        yield base


@pytest.mark.django_db
def test_it_is_ready_when_database_and_broker_answer() -> None:
    with gunicorn() as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        response = httpx.get(f"{base}/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_it_names_the_broker_when_it_is_unreachable() -> None:
    with gunicorn(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        response = httpx.get(f"{base}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["failing"] == ["broker"]


def test_it_names_the_database_when_it_is_unreachable() -> None:
    with gunicorn(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/callbridge") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        response = httpx.get(f"{base}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["failing"] == ["database"]
