"""What every provider adapter offers: verify a webhook, turn its payload into call events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from calls.events import CallEvent
    from integrations.models import ProviderConnection


class WebhookRejected(Exception):
    """A webhook we will not accept. `status` is the HTTP answer; `reason` is shown to the
    sender and to support staff, so it must never contain a secret."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Adapter(Protocol):
    kind: str

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        """Raise WebhookRejected unless the request was signed by this connection's provider."""

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        """The call events the (verified) request carries; WebhookRejected when malformed."""
