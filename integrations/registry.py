"""One line per telephony provider: its label and where its adapter lives (imported lazily)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integrations.adapter import Adapter
    from integrations.provider import Provider

PROVIDERS: dict[str, tuple[str, str]] = {
    "generic": ("Generic signed webhook", "integrations.generic.adapter.GenericAdapter"),
}


def provider_choices() -> list[tuple[str, str]]:
    return [(kind, label) for kind, (label, _) in PROVIDERS.items()]


def adapter_for(kind: str) -> Adapter:
    _, dotted = PROVIDERS[kind]
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)()


def provider_class(kind: str) -> type[Provider]:
    _, dotted = PROVIDERS[kind]
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def provider_for(kind: str) -> Provider:
    return provider_class(kind)()
