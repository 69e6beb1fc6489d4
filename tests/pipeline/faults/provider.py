"""A telephony provider as the fault tests need one: it POSTs signed batches of events to the web
process over real HTTP, and sends a batch again until it is answered 200, as providers do. It
keeps an account of every post, so the reconciliation knows what was sent and what was
acknowledged."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.pipeline.helpers import signed_headers

# How long a provider waits before sending a refused or unanswered batch again (real ones wait
# longer; the tests only need the repeat).
RESEND_AFTER_SECONDS = 0.3


@dataclass
class Post:
    batch: int
    status: int | None  # None: no answer (connection refused, timeout)
    seconds: float
    at: float  # time.monotonic() when sent


@dataclass
class Provider:
    url: str
    secret: str
    batches: list[list[dict[str, Any]]]
    pause: float = 0.02  # between batches, so that the traffic spans the faults
    deadline_seconds: float = 120.0
    posts: list[Post] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    _done: int = 0
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    @property
    def events(self) -> int:
        return len({event["id"] for batch in self.batches for event in batch})

    @property
    def batches_done(self) -> int:
        return self._done

    def start(self) -> Provider:
        """Send the batches not sent yet (so a test may add batches and start again)."""
        self._thread = threading.Thread(target=self._run, name="provider", daemon=True)
        self._thread.start()
        return self

    def wait_for_batches(self, count: int, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self._done < min(count, len(self.batches)):
            self._raise_if_failed()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} batches not acknowledged in {timeout} s")
            time.sleep(0.02)

    def finish(self) -> None:
        assert self._thread is not None
        self._thread.join(self.deadline_seconds)
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            deadline = time.monotonic() + self.deadline_seconds
            with httpx.Client(timeout=30.0) as http:
                for index, batch in enumerate(self.batches[self._done :], start=self._done):
                    while not self._post(http, index, batch):
                        if time.monotonic() > deadline:
                            return  # given up: the reconciliation counts what never got in
                        time.sleep(RESEND_AFTER_SECONDS)
                    self._done = index + 1
                    time.sleep(self.pause)
        except BaseException as error:  # surfaced to the test by wait_for_batches / finish
            self._error = error

    def _post(self, http: httpx.Client, index: int, batch: list[dict[str, Any]]) -> bool:
        body = json.dumps({"events": batch})
        headers = {
            **signed_headers(self.secret, body, msg_id=f"batch-{index}"),
            "Content-Type": "application/json",
        }
        self.sent |= {event["id"] for event in batch}
        started = time.monotonic()
        try:
            status: int | None = http.post(self.url, content=body, headers=headers).status_code
        except httpx.TransportError:
            status = None
        self.posts.append(Post(index, status, time.monotonic() - started, started))
        if status == 200:
            self.acknowledged |= {event["id"] for event in batch}
        return status == 200
