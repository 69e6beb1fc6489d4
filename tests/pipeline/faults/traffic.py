"""A fault test's traffic: calls planned from the seed's table, delivered as a busy PBX would."""

from __future__ import annotations

import random

from tests.pipeline.faults.plant import Plant
from tests.pipeline.faults.provider import Provider
from tests.pipeline.helpers import Pipeline
from tests.pipeline.scenarios import TABLE, PlannedCall, planned_call, shuffled_batches


def plan_calls(pipeline: Pipeline, count: int, *, seed: int) -> list[PlannedCall]:
    rng = random.Random(seed)
    return [planned_call(pipeline, i, TABLE[i % len(TABLE)], rng=rng) for i in range(count)]


def provider_for(
    pipeline: Pipeline, plant: Plant, calls: list[PlannedCall], *, seed: int, **options: object
) -> Provider:
    return Provider(
        url=f"{plant.web_url}/hooks/generic/{pipeline.provider.webhook_token}/",
        secret=pipeline.secret,
        batches=shuffled_batches(calls, rng=random.Random(seed)),
        **options,
    )
