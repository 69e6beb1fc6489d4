"""Starting real processes on 127.0.0.1: free ports, readiness, logs, environments.

The tests (a live server beside a worker, the quick start, the fault plant) and the benchmark
both run the product as it runs in production, as separate processes, and must stop every one
they started, even on failure or Ctrl-C. Both import these helpers from here: the benchmark is
not a test, so they live outside tests/ (tests/processes.py adds the tests' own environments).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
STOP_TIMEOUT = 20.0  # seconds a process has to finish its work once asked to stop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def venv_environment(base: Mapping[str, str], **overrides: str) -> dict[str, str]:
    """`base` plus `overrides`, with this venv's commands first on PATH (gunicorn, celery and
    the rest are started by name, and the venv need not be activated) and Python's output
    unbuffered (so a log is complete up to the moment a process fails)."""
    env = dict(base)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def wait_for_http(
    url: str, *, timeout: float = 30.0, process: subprocess.Popen | None = None
) -> None:
    """Returns once `url` answers anything; fails early if `process`, which should serve it,
    has exited."""
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
def running(
    command: list[str], *, env: dict[str, str], log_path: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group; stop the group afterwards (see `stop`).

    Its output goes to `log_path`, or to a temporary file that is printed if the block fails:
    a log kept nowhere else is the only way to see why (pytest shows it with the failure).
    Either way the process carries the file's name as `log_path`.
    """
    log_file = (
        log_path.open("w+")
        if log_path
        else tempfile.NamedTemporaryFile("w+", prefix="proc-", suffix=".log", delete=False)
    )
    process = subprocess.Popen(  # noqa: S603 - our own venv's commands, no shell
        command,
        cwd=REPO,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # Readers of the log (the fault plant, the quick start's test) find it on the process.
    process.log_path = log_file.name  # type: ignore[attr-defined]  # Popen has no such field
    try:
        yield process
    except BaseException:
        if log_path is None:
            log_file.flush()
            print(Path(log_file.name).read_text()[-20000:])
        raise
    finally:
        stop(process)
        log_file.close()


def stop(process: subprocess.Popen) -> None:
    """SIGINT to the whole group, as Ctrl-C in a terminal sends it: gunicorn, Celery and the
    sandbox all shut down cleanly on it. Whatever of the group is left after STOP_TIMEOUT, or
    outlived its leader (a worker's child whose parent died), is killed: a stray Celery child
    would take tasks from the next run's broker."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is gone: nothing was left
    process.wait()
