"""`callbridge-tel`: the `tel:` handler reps register with their operating system.

Outreach launches `tel:+1-234-555-6789;ext=1234;source=outreach;call-id=...` when a rep clicks
Call; the operating system runs `callbridge-tel --notify <uri>`, which posts it to the portal's
`POST /api/v1/dial` with the rep's API token and reports the answer (on the terminal, in a log
file beside the configuration, and with `--notify` as a desktop notification, since a launched
handler has no terminal). The portal reads the URI, even a malformed one: if it names Outreach's
call, Outreach must hear `failed` rather than nothing, which only the portal can tell it.
README "The tel: handler" shows how to register it on Linux, macOS and Windows.

The configuration file (`--config`, `$CALLBRIDGE_TEL_CONFIG`, or the platform's usual place):

    [callbridge]
    portal = https://callbridge.example.com
    token = cbt_...

No Django here: it runs on a rep's computer with only this package's dependencies.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

CONFIG_ENV = "CALLBRIDGE_TEL_CONFIG"
# The portal waits for the phone system up to its dial deadline (8 s by default).
TIMEOUT_SECONDS = 20.0
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home()) / "Callbridge" / "tel.ini"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Callbridge" / "tel.ini"
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "callbridge" / "tel.ini"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="callbridge-tel",
        description="Place the call of an Outreach tel: URI through Callbridge.",
    )
    parser.add_argument("uri", nargs="?", help="the tel: URI Outreach launched")
    parser.add_argument("--config", type=Path, help=f"configuration file (default {config_path()})")
    parser.add_argument("--check", action="store_true", help="test the portal address and token")
    parser.add_argument("--notify", action="store_true", help="show a desktop notification")
    arguments = parser.parse_args(argv)
    path = arguments.config or config_path()
    reporter = Reporter(log=path.with_name("tel.log"), notify=arguments.notify)
    try:
        portal, token = read_config(path)
    except ValueError as error:
        return reporter.say(str(error), EXIT_USAGE)
    if arguments.check:
        return check(portal, token, reporter)
    if not arguments.uri:
        return reporter.say("Give the tel: URI to dial (or --check).", EXIT_USAGE)
    return dial(portal, token, arguments.uri, reporter)


def read_config(path: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    if not parser.read(path, encoding="utf-8"):
        raise ValueError(f"No configuration at {path}: see README 'The tel: handler'.")
    portal = parser.get("callbridge", "portal", fallback="").strip()
    token = parser.get("callbridge", "token", fallback="").strip()
    if not portal or not token:
        raise ValueError(f"{path} needs 'portal' and 'token' in its [callbridge] section.")
    return portal.rstrip("/"), token


def dial(portal: str, token: str, uri: str, reporter: Reporter) -> int:
    try:
        response = httpx.post(
            f"{portal}/api/v1/dial",
            json={"uri": uri},
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as error:
        return reporter.say(f"Callbridge could not be reached at {portal}: {error}", EXIT_REFUSED)
    answer = _json(response)
    text = answer.get("detail") or answer.get("error") or f"HTTP {response.status_code}"
    return reporter.say(str(text), EXIT_OK if response.is_success else EXIT_REFUSED)


def check(portal: str, token: str, reporter: Reporter) -> int:
    try:
        response = httpx.get(
            f"{portal}/api/v1/me/", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError as error:
        return reporter.say(f"Callbridge could not be reached at {portal}: {error}", EXIT_REFUSED)
    answer = _json(response)
    if not response.is_success:
        detail = answer.get("detail") or f"HTTP {response.status_code}"
        return reporter.say(f"Callbridge refused the token: {detail}", EXIT_REFUSED)
    listed = answer.get("organizations")
    organizations = ", ".join(
        str(o.get("name", "")) for o in (listed if isinstance(listed, list) else [])
    )
    return reporter.say(f"Connected as {answer.get('email')} in {organizations}.", EXIT_OK)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


class Reporter:
    """Where a launched handler's words go: the terminal, its log, and a notification."""

    def __init__(self, *, log: Path, notify: bool) -> None:
        self.log = log
        self.notify = notify

    def say(self, text: str, code: int) -> int:
        print(text, file=sys.stdout if code == EXIT_OK else sys.stderr)
        try:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("a", encoding="utf-8") as log:
                log.write(f"{datetime.now(UTC).isoformat()} exit {code}: {text}\n")
        except OSError:
            pass  # a log we cannot write must not hide the answer
        if self.notify:
            _notify("Callbridge" if code == EXIT_OK else "Callbridge: call not placed", text)
        return code


def _notify(title: str, text: str) -> None:
    """Best effort: notify-send on Linux, osascript on macOS; nothing elsewhere."""
    if shutil.which("notify-send"):
        command = ["notify-send", title, text]
    elif shutil.which("osascript"):
        script = f"display notification {_quoted(text)} with title {_quoted(title)}"
        command = ["osascript", "-e", script]
    else:
        return
    try:
        subprocess.run(command, check=False, timeout=5, capture_output=True)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        pass


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    sys.exit(main())
