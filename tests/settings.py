"""Test settings: production settings (DEBUG off) on PostgreSQL and Redis, with test secrets.

Set through the environment, not by overriding settings, so that the server, worker and sandbox
processes the tests start read exactly the same configuration.
"""

from __future__ import annotations

import os
import random

_BROKER_DB, _CACHE_DB = random.sample(range(1, 16), 2)
TEST_ENVIRONMENT = {
    "DEBUG": "off",
    "SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdefghijklmnop",
    # Two keys, so every test exercises the MultiFernet path (first encrypts, both decrypt).
    "ENCRYPTION_KEYS": "mDx1cs9cHsUJtuSCSBDC0Ezbo2tVYnOCNQlN3vHbmyY=,"
    "t8pt7lJf6y6LCRy7R1V3s6gYIRF7wAQ4V6LzJ0nJ2Zc=",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/callbridge",
    # A Redis database of its own per test run, so runs on one machine never take each other's
    # tasks (child processes inherit it through the environment).
    "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{_BROKER_DB}",
    # The shared cache (sign-in limits, readiness) in another database: tests clear it, and
    # clearing a Redis cache empties its whole database.
    "CACHE_URL": f"redis://127.0.0.1:6379/{_CACHE_DB}",
    "SECURE_SSL_REDIRECT": "off",
    # The sandbox's default OAuth client (outreach_sandbox/options.py).
    "OUTREACH_CLIENT_ID": "callbridge-dev",
    "OUTREACH_CLIENT_SECRET": "callbridge-dev-secret",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    # A provider no product file names, registered the way another package's would be; the
    # server and worker processes the tests start inherit it with the rest.
    "EXTRA_PROVIDERS": "tests.providers.fakephone.provider.FakePhoneProvider",
}
for _name, _value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
# What this run uses, given or defaulted: the processes the tests start inherit exactly this.
TEST_ENVIRONMENT = {_name: os.environ[_name] for _name in TEST_ENVIRONMENT}

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
# Production serves hashed files collected by `collectstatic`; tests serve them as they are.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
# ... straight from static/ (whitenoise finds them as `runserver` would), so that a fresh clone's
# browser tests get the stylesheet and scripts without a `collectstatic` first.
WHITENOISE_USE_FINDERS = True

# allauth's failed sign-in limit per address, over ten minutes instead of one: the sign-in tests
# count failures across a real gunicorn, and on a busy machine ten tries can take over a minute.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/10m/ip,5/5m/key"}
