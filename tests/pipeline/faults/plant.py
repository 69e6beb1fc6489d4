"""The processes a fault test runs, each one its own so that it can be killed, stopped and started:
a private Redis, gunicorn, two Celery workers and beat (whose sweeper re-sends lost work), and a
TCP proxy in front of PostgreSQL that can be cut."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.processes import child_process_environment, free_port, running, wait_for_http

# Short enough that a hang past it costs little; calls.pipeline.LEASE (4 x this + 20 s) follows.
OUTREACH_TIMEOUT_SECONDS = 2


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


def log_of(process: subprocess.Popen) -> str:
    return Path(process.log_path).read_text(errors="replace")  # type: ignore[attr-defined]  # processes.running sets it


def wait_for_log(process: subprocess.Popen, text: str, *, timeout: float = 30.0) -> None:
    def seen() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{log_of(process)}")
        return text in log_of(process)

    wait_until(seen, timeout=timeout, what=f"'{text}' in the log")


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (name) state ppid ...": the name may hold spaces, so split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def connection_owner(pids: list[int], *, local_port: int, remote_port: int) -> int | None:
    """Which of `pids` holds the established TCP connection 127.0.0.1:`local_port` ->
    127.0.0.1:`remote_port` right now (None: none of them)."""
    wanted = [f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}", "01"]  # ESTABLISHED
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1:4] == wanted:
            inode = f"socket:[{fields[9]}]"
    if inode is None:
        return None
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # exited meanwhile
        if inode in links:
            return pid
    return None


class PrivateRedis:
    """A Redis of the test's own on a free port, with no persistence: stopping it loses every
    queued task, as a broker restart without a disk does."""

    def __init__(self, stack: ExitStack, env: dict[str, str]) -> None:
        self.stack, self.env, self.port = stack, env, free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        self.process = self.stack.enter_context(running(command, env=self.env))
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=10, what="Redis answering")
        client.close()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


class PostgresProxy:
    """Forwards a local port to PostgreSQL; `cut()` closes the port and every connection through
    it (the server is unreachable: connections are refused), `restore()` opens it again."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port, self.port = target_port, free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._open = False

    def __enter__(self) -> PostgresProxy:
        self.restore()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener, self._open = listener, True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._open = False
            doomed = [*self._sockets, *([self._listener] if self._listener else [])]
            self._sockets.clear()
            self._listener = None
        for sock in doomed:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self._open:
                    client.close()
                    upstream.close()
                    continue
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@dataclass
class Plant:
    """Web, workers, beat and broker for one fault test; everything stops when its `with` ends."""

    stack: ExitStack
    env: dict[str, str]
    broker: PrivateRedis
    web_url: str = ""
    web: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    beat: subprocess.Popen | None = None
    started_workers: list[subprocess.Popen] = field(default_factory=list)

    def start_web(self, **overrides: str) -> None:
        port = free_port()
        command = [
            "gunicorn", "portal.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "2",
            "--timeout", "60",
        ]  # fmt: skip
        self.web = self.stack.enter_context(running(command, env={**self.env, **overrides}))
        self.web_url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{self.web_url}/healthz", process=self.web)

    def start_worker(
        self, index: int | None = None, *, queues: str = "urgent,celery"
    ) -> subprocess.Popen:
        """A worker process with one pool child, consuming both queues (or those given)."""
        number = len(self.started_workers)
        command = [
            "celery", "-A", "portal", "worker",
            "--loglevel", "INFO",
            "--concurrency", "1",
            "--queues", queues,
            "--hostname", f"fault-worker-{number}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        process = self.stack.enter_context(running(command, env=self.env))
        wait_for_log(process, " ready.")
        self.started_workers.append(process)
        if index is None:
            self.workers.append(process)
        else:
            self.workers[index] = process
        return process

    def start_beat(self, schedule: Path) -> None:
        command = [
            "celery", "-A", "portal", "beat", "--loglevel", "INFO", "--schedule", str(schedule)
        ]  # fmt: skip
        self.beat = self.stack.enter_context(running(command, env=self.env))

    def kill_worker(self, index: int) -> None:
        """SIGKILL a worker and its pool child at once: nothing gets to ack, reject or requeue
        its task, which stays unacknowledged in Redis until the visibility timeout (an hour)."""
        process = self.workers[index]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self) -> str:
        processes = [*self.started_workers, self.beat, self.web]
        return "\n".join(log_of(process) for process in processes if process)


@contextmanager
def plant(
    *,
    sandbox_url: str,
    clock_file: Path,
    tmp_path: Path,
    web: dict[str, str] | None = None,
    workers: int = 2,
    beat: bool = True,
) -> Iterator[Plant]:
    """A private broker, gunicorn, two workers and beat, pointed at the sandbox; `web` adds to
    the web process's environment."""
    with ExitStack() as stack:
        env = child_process_environment(
            OUTREACH_API_URL=f"{sandbox_url}/api/v2",
            OUTREACH_OAUTH_URL=f"{sandbox_url}/oauth",
            OUTREACH_TIMEOUT_SECONDS=str(OUTREACH_TIMEOUT_SECONDS),
            CLOCK_OFFSET_FILE=str(clock_file),
        )
        broker = PrivateRedis(stack, env)
        broker.start()
        env["CELERY_BROKER_URL"] = broker.url
        built = Plant(stack=stack, env=env, broker=broker)
        built.start_web(**(web or {}))
        for _ in range(workers):
            built.start_worker()
        if beat:
            built.start_beat(tmp_path / "beat-schedule")
        yield built


# What the `processes` fixture gives a test: `with processes(web={...}) as plant:`.
Processes = Callable[..., AbstractContextManager[Plant]]
