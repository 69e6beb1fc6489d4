"""The portal refuses to run in production without its secrets, and is clean when it has them."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import REPO, clean_environment

PRODUCTION = {
    "DEBUG": "off",
    "SECRET_KEY": "a-real-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ENCRYPTION_KEYS": "mDx1cs9cHsUJtuSCSBDC0Ezbo2tVYnOCNQlN3vHbmyY=",
    "ALLOWED_HOSTS": "callbridge.example.com",
    "PUBLIC_BASE_URL": "https://callbridge.example.com",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key() -> None:
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_to_start_without_encryption_keys() -> None:
    result = manage("check", **{**PRODUCTION, "ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS must be set" in result.stderr


def test_it_refuses_development_placeholders_in_production() -> None:
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": "insecure-copied-from-a-laptop"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_it_passes_the_deployment_checklist_with_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_starts_in_development_without_any_configuration() -> None:
    result = manage("check", DEBUG="on")
    assert result.returncode == 0, result.stderr
