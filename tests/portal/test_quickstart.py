"""README command one's process set, started for real on SQLite and the filesystem broker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from outreach_sandbox.control import SandboxControl
from portal.devenv import development_env
from tests.browser import browser_page
from tests.pipeline.helpers import signed_headers
from tests.processes import VENV_BIN, clean_environment, free_port, running, wait_for_http


def quick_start_environment(tmp_path: Path) -> tuple[dict[str, str], int]:
    web, sandbox, phone = free_port(), free_port(), free_port()
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
        PHONE_PORT=str(phone),
    )
    return env, web


@pytest.mark.browser
def test_it_runs_the_quick_start_where_a_newcomer_sets_up_and_sees_a_call_reach_outreach(
    tmp_path: Path,
) -> None:
    env, port = quick_start_environment(tmp_path)
    sandbox = SandboxControl(env["OUTREACH_API_URL"].removesuffix("/api/v2"))
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
        # The generic provider's fake phone system, for click-to-dial on a laptop.
        phone = f"http://127.0.0.1:{env['PHONE_PORT']}/"
        wait_for_http(phone, process=process)
        assert "Phone sandbox" in httpx.get(phone, timeout=10).text

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

            # Connect Outreach (the sandbox's authorize page), as the organisation's admin.
            page.get_by_role("link", name="Outreach", exact=True).click()
            page.get_by_role("button", name="Connect Outreach").click()
            page.get_by_label("Email").fill("ada@newcomer.example")
            page.get_by_role("button", name="Approve").click()
            page.wait_for_url(f"{base}/o/newcomer-sales/outreach/")
            assert page.get_by_text("Outreach connected as ada@newcomer.example").is_visible()

            # A generic provider connection: its URL and its secret, shown once.
            page.get_by_role("link", name="Telephony").click()
            page.get_by_label("Name").fill("Office PBX")
            page.get_by_role("button", name="Create connection").click()
            secret = page.locator("#new-secret").inner_text()
            hook = page.locator("td code").first.inner_text()

            # The rep's agent, mapped to the Outreach user.
            # Mapped by the Outreach user's email: the portal looks it up in the Outreach org.
            rep = next(u for u in sandbox.users() if u["email"] == "ada@newcomer.example")
            page.get_by_role("link", name="Agents").click()
            page.get_by_label("Agent identity").select_option("email")
            page.get_by_label("Value").fill("rep@pbx.example")
            page.get_by_label("Outreach user").fill(rep["email"])
            page.get_by_role("button", name="Add mapping").click()

            # The phone system reports an inbound call; the worker creates it in Outreach.
            body = json.dumps(
                {
                    "events": [
                        {
                            "id": "evt-1",
                            "call_id": "pbx-1",
                            "direction": "inbound",
                            "happening": "ringing",
                            "occurred_at": datetime.now(UTC).isoformat(),
                            "from": "+14155550123",
                            "to": "+12065550100",
                            "agent": {"email": "rep@pbx.example"},
                        }
                    ]
                }
            )
            answer = httpx.post(
                hook,
                content=body,
                headers={"Content-Type": "application/json", **signed_headers(secret, body)},
            )
            assert answer.json() == {"stored": 1, "duplicates": 0}
            page.get_by_role("link", name="Calls").click()
            page.get_by_role("link", name=re.compile(r"^\d{4}-")).click()
            for _ in range(60):  # the worker's answer lands a moment after the request
                if page.get_by_text("Up to date").count():
                    break
                time.sleep(0.5)
                page.reload()
            assert page.get_by_text("POST /calls").is_visible()
            assert page.get_by_text("PATCH /calls/").is_visible()
            answered = [
                r for r in sandbox.requests(path_prefix="/api/v2/calls") if r["status"] < 300
            ]
            assert [r["method"] for r in answered] == ["POST", "PATCH"]

        # Ctrl-C in the terminal: SIGINT to the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
        log = Path(process.log_path).read_text()
        for name in ("web", "worker", "beat", "sandbox", "phone"):
            assert f"{name}." in log, f"{name} did not start:\n{log[-3000:]}"
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # nothing of the group is left running
