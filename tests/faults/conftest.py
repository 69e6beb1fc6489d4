"""Fault tests run their own web, worker, beat and broker processes (tests/faults/plant.py), so
each can kill, stop and start them; the sandbox, the clock and the organisation come from the
pipeline tests' fixtures."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.faults.plant import Processes, plant
from tests.pipeline import conftest as pipeline_fixtures

# The pipeline tests' fixtures, used here by name.
sandbox_url = pipeline_fixtures.sandbox_url
sandbox = pipeline_fixtures.sandbox
clock_file = pipeline_fixtures.clock_file
clock_offset = pipeline_fixtures.clock_offset
pipeline = pipeline_fixtures.pipeline


@pytest.fixture
def worker() -> None:
    """The pipeline fixture's shared worker, replaced: each fault test starts its own."""
    return None


@pytest.fixture
def processes(sandbox_url: str, clock_file: Path, tmp_path: Path) -> Processes:
    """`with processes() as plant:` starts this test's broker, web, workers and beat."""
    return partial(plant, sandbox_url=sandbox_url, clock_file=clock_file, tmp_path=tmp_path)
