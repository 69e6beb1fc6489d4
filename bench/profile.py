"""Where the CPU goes: py-spy on running processes, summarised from its collapsed stacks.

py-spy samples from outside the process (`--nonblocking`: without pausing it), 100 times a
second, only the thread holding the GIL (`--gil`): Python at work, not waiting on PostgreSQL,
Redis or the sandbox (py-spy's own idle detection counts psycopg's waits as busy). The raw
output (one `frame;frame;... count` line per distinct stack) is kept under var/bench/ for
flame graphs (e.g. speedscope.app); the summary lists the functions with the most samples
inclusive of what they call, and those where the samples land (self).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

PYSPY = shutil.which("py-spy") or str(Path(__file__).resolve().parent.parent / ".venv/bin/py-spy")


Profiler = tuple[str, subprocess.Popen, Path]
PROFILED = (("web", "gunicorn"), ("worker", "celery worker"))  # name, key in the testbed's pids


def start_all(pids: dict[str, int], out: Path) -> list[Profiler]:
    """py-spy on gunicorn and on the worker, each with all its processes."""
    return [start(name, pids[key], out) for name, key in PROFILED]


def stop_all(profilers: list[Profiler]) -> dict[str, Any]:
    return {profiler[0]: stop(profiler) for profiler in profilers}


def start(name: str, pid: int, out: Path) -> Profiler:
    path = out / f"profile-{name}.txt"
    process = subprocess.Popen(  # noqa: S603 - py-spy from our venv on our own child process
        [
            PYSPY, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil",
            "--rate", "100", "--format", "raw", "--output", str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return name, process, path


def stop(profiler: Profiler) -> dict[str, Any]:
    name, process, path = profiler
    process.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if not path.exists():
        return {"error": f"py-spy wrote nothing for {name} (is py-spy installed?)"}
    return {"file": str(path), **summarise(path)}


def summarise(path: Path, *, top: int = 25) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # [0] is the process
        total += count
        own[frames[-1] if frames else "?"] += count
        for frame in set(frames):
            inclusive[frame] += count

    def shares(counter: Counter[str]) -> list[str]:
        return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(top)]

    return {"samples": total, "inclusive": shares(inclusive), "self": shares(own)}


def _short(frame: str) -> str:
    """`update (django/db/models/query.py:1234)` -> `update (django/db/models/query.py)`:
    one entry per function, the site-packages prefix dropped."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name
