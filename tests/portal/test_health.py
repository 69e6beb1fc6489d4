"""Probes, checked on a real gunicorn process against real (or really missing) services."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

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


@contextmanager
def counting_proxy(target: tuple[str, int]) -> Iterator[tuple[int, list[object]]]:
    """A TCP proxy on loopback to `target` that notes every connection made through it."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[object] = []

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            accepted.append(client)
            upstream = socket.create_connection(target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(source, sink), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        listener.close()


@pytest.mark.django_db
def test_it_is_ready_when_database_broker_and_cache_answer() -> None:
    with gunicorn() as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        response = httpx.get(f"{base}/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_it_asks_the_broker_once_for_many_probes() -> None:
    broker = urlsplit(os.environ["CELERY_BROKER_URL"])
    with counting_proxy((broker.hostname, broker.port)) as (port, connections):
        with gunicorn(
            CELERY_BROKER_URL=f"redis://127.0.0.1:{port}{broker.path}",
            # Longer than 20 probes take on a busy machine: one answer covers them all.
            READYZ_BROKER_ANSWER_SECONDS="600",
        ) as base:
            answers = [httpx.get(f"{base}/readyz") for _ in range(20)]

    assert all(a.status_code == 200 for a in answers)
    # One check's connection; the other 19 probes read its answer from the cache.
    assert len(connections) == 1


@pytest.mark.django_db
def test_it_names_the_broker_when_it_is_unreachable_without_its_error() -> None:
    port = free_port()
    with gunicorn(CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        response = httpx.get(f"{base}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["failing"] == ["broker"]
        assert response.json()["checks"]["broker"] == "failing"
        assert str(port) not in response.text and "rror" not in response.text


def test_it_names_the_database_when_it_is_unreachable_without_its_error() -> None:
    port = free_port()
    with gunicorn(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/callbridge") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        response = httpx.get(f"{base}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["failing"] == ["database"]
        assert str(port) not in response.text and "postgres" not in response.text


def test_it_names_the_cache_when_it_is_unreachable() -> None:
    with gunicorn(CACHE_URL=f"redis://127.0.0.1:{free_port()}/0") as base:
        response = httpx.get(f"{base}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["failing"] == ["cache"]
