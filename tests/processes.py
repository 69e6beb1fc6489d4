"""Starting real server processes for tests: free ports, readiness, logs on failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.settings import TEST_ENVIRONMENT

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_process_environment(**overrides: str) -> dict[str, str]:
    """The test settings for a child process, pointed at the database the tests are using."""
    from django.db import connection

    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, **TEST_ENVIRONMENT, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.update(DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(overrides)
    return env


def clean_environment(**overrides: str) -> dict[str, str]:
    """The machine's environment without the test settings, plus `overrides`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in TEST_ENVIRONMENT and name != "DJANGO_SETTINGS_MODULE"
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def wait_for_http(
    url: str, *, timeout: float = 30.0, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(command: list[str], *, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group; stop it with SIGINT (like Ctrl-C) afterwards.

    Its output goes to a file that is printed if the test fails, so a failure shows why.
    """
    log = tempfile.NamedTemporaryFile("w+", prefix="proc-", suffix=".log", delete=False)
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_path = log.name  # type: ignore[attr-defined]
    try:
        yield process
    except BaseException:
        log.flush()
        print(Path(log.name).read_text()[-20000:])
        raise
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
