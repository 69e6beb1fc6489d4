"""Liveness and readiness probes for load balancers and process supervisors.

Anyone can call them, so they name a failing dependency but never its error (which can carry
host names, user names or library versions): the error goes to the log. The broker's answer is
kept in the shared cache for a few seconds, because checking it opens a connection and a probe
(or someone hammering it) must not open one per request. The database is asked every time: it
is one query on a connection the process keeps anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0
BROKER_ANSWER_KEY = "readyz:broker"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _answers(name: str, check: Callable[[], object]) -> bool:
    try:
        check()
    except Exception as error:
        logger.warning(
            "readyz.failing dependency=%s error=%s: %s", name, type(error).__name__, error
        )
        return False
    return True


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def _broker_answers(cache_answers: bool) -> bool:
    if cache_answers:
        known = cache.get(BROKER_ANSWER_KEY)
        if known is not None:
            return bool(known)
    answer = _answers("broker", _broker)
    if cache_answers:
        cache.set(BROKER_ANSWER_KEY, answer, settings.READYZ_BROKER_ANSWER_SECONDS)
    return answer


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    # The cache is a dependency too (sign-in limits live there); asking it is its check.
    cache_answers = _answers("cache", lambda: cache.get(BROKER_ANSWER_KEY))
    checks = {
        "database": _answers("database", _database),
        "broker": _broker_answers(cache_answers),
        "cache": cache_answers,
    }
    failing = sorted(name for name, ok in checks.items() if not ok)
    body: dict[str, object] = {
        "status": "unavailable" if failing else "ok",
        "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
    }
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
