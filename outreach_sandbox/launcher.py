"""Runs the sandbox as a separate process (`python -m outreach_sandbox --port 0`),
for tests that want it outside their own process, e.g. beside a live server and a worker."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .options import DEFAULT_REDIRECT_URIS, SandboxOptions

REPO_ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"listening on (http://\S+)")


def command_line(options: SandboxOptions) -> list[str]:
    """The sandbox's command line for these options (its redirect URIs add to the defaults)."""
    arguments = [
        sys.executable, "-m", "outreach_sandbox",
        "--host", options.host,
        "--port", str(options.port),
        "--client-id", options.client_id,
        "--client-secret", options.client_secret,
        "--token-lifetime", str(options.access_token_lifetime),
        "--refresh-token-lifetime", str(options.refresh_token_lifetime),
        "--mint-window", str(options.mint_window),
        "--rate-limit", str(options.rate_limit_per_hour),
    ]  # fmt: skip
    for uri in options.redirect_uris:
        if uri not in DEFAULT_REDIRECT_URIS:
            arguments += ["--redirect-uri", uri]
    return arguments


@contextmanager
def sandbox_process(*, startup_timeout: float = 10.0, **options: Any) -> Iterator[str]:
    """Starts the sandbox process on a free loopback port and yields its base URL; stops it on
    exit. Takes SandboxOptions' fields."""
    if "redirect_uris" in options:
        options["redirect_uris"] = tuple(options["redirect_uris"])
    settings = SandboxOptions(**{"port": 0, **options})
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        command_line(settings), stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], startup_timeout)
        match = _LISTENING.search(process.stdout.readline()) if ready else None
        if match is None:
            raise RuntimeError(f"The sandbox process did not start within {startup_timeout} s.")
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
