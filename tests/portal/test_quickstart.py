"""README command one's process set, started for real on SQLite and the filesystem broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from portal.devenv import development_env
from tests.browser import browser_page
from tests.processes import VENV_BIN, clean_environment, free_port, running, wait_for_http


def quick_start_environment(tmp_path: Path) -> tuple[dict[str, str], int]:
    web, sandbox = free_port(), free_port()
    settings = dict(
        line.split("=", 1)
        for line in development_env(web_port=web, sandbox_port=sandbox).splitlines()
        if line and not line.startswith("#")
    )
    env = clean_environment(
        **settings,
        DATABASE_URL=f"sqlite:///{tmp_path / 'quick.db'}",
        WEB_PORT=str(web),
        SANDBOX_PORT=str(sandbox),
    )
    return env, web


@pytest.mark.browser
def test_it_runs_the_quick_start_and_a_newcomer_reaches_an_empty_dashboard(tmp_path: Path) -> None:
    env, port = quick_start_environment(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        env=env,
        check=True,
        capture_output=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    honcho = [str(VENV_BIN / "honcho"), "--procfile", "Procfile.dev", "start"]
    base = f"http://127.0.0.1:{port}"
    with running(honcho, env=env) as process:
        wait_for_http(f"{base}/healthz", process=process, timeout=60)
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text

        with browser_page() as page:
            page.goto(base)
            page.get_by_role("link", name="Create an account").click()
            page.get_by_placeholder("Email address").fill("newcomer@example.com")
            page.get_by_placeholder("Password").first.fill("a long pass phrase 42")
            page.get_by_placeholder("Password (again)").fill("a long pass phrase 42")
            page.get_by_role("button", name="Sign Up").click()
            page.wait_for_url(f"{base}/orgs/new/")
            page.get_by_label("Name").fill("Newcomer Sales")
            page.get_by_role("button", name="Create organisation").click()
            page.wait_for_url(f"{base}/o/newcomer-sales/")
            assert page.get_by_role("heading", name="Newcomer Sales").is_visible()
            assert page.get_by_text("No calls yet.").is_visible()

        # Ctrl-C in the terminal: SIGINT to the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
        log = Path(process.log_path).read_text()
        for name in ("web", "worker", "beat", "sandbox"):
            assert f"{name}." in log, f"{name} did not start:\n{log[-3000:]}"
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # nothing of the group is left running
