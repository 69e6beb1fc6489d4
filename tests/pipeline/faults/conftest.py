"""Fault tests run their own web, worker, beat and broker processes (plant.py), so each can
kill, stop and start them; the sandbox, the clock and the organisation come from the pipeline
tests' fixtures (../conftest.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.pipeline.faults.plant import Processes, plant


@pytest.fixture
def worker() -> None:
    """The pipeline fixture's shared worker, replaced: each fault test starts its own."""
    return None


@pytest.fixture
def processes(sandbox_url: str, clock_file: Path, tmp_path: Path) -> Processes:
    """`with processes() as plant:` starts this test's broker, web, workers and beat."""
    return partial(plant, sandbox_url=sandbox_url, clock_file=clock_file, tmp_path=tmp_path)
