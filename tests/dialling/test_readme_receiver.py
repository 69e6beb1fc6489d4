"""The copy-paste receiver in README "The generic provider places calls" works as printed:
taken from the README, run, and asked to place calls by the generic provider."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from integrations.provider import Placed, Refused
from portal.encryption import Secret
from tests.conftest import Cast
from tests.dialling.helpers import NEW_SECRET, SECRET, generic_connection, place
from tests.processes import free_port


def readme_receiver() -> str:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    return re.search(r"```python\n(# dial_receiver\.py.*?)```", readme, re.DOTALL).group(1)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "dial_receiver.py"
    script.write_text(readme_receiver())
    port = free_port()
    env = {"DIAL_SECRET": SECRET, "PORT": str(port), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/dial"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_readmes_receiver_takes_a_dial_once_and_refuses_a_bad_signature(
    cast: Cast, receiver: str
) -> None:
    connection = generic_connection(cast, dial_url=receiver)
    first = place(connection)
    assert isinstance(first, Placed) and first.provider_call_id.startswith("pbx-")
    assert place(connection) == first  # the same webhook-id: the same call

    connection.webhook_secrets = Secret(NEW_SECRET)
    connection.save()
    assert place(connection) == Refused(
        "Your phone system refused the call: bad signature", permanent=True
    )
