"""Which telephony providers exist: one line per provider of this repository, plus the classes the
`EXTRA_PROVIDERS` setting names (providers that live in another package, or a test's fake).

Classes are imported when first asked for, not when this module is, so a provider's
dependencies load only where it is used. The webhook door, the Telephony pages and the pipeline
find a provider here by its `kind` and name none themselves.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from integrations.provider import Provider

PROVIDERS: dict[str, str] = {
    "generic": "integrations.generic.provider.GenericProvider",
    "twilio": "integrations.twilio.provider.TwilioProvider",
    "finesse": "integrations.finesse.provider.FinesseProvider",
    "ccai": "integrations.ccai.provider.CcaiProvider",
}

# A kind is part of the webhook URL (`<slug:kind>`) and is stored in 30 characters.
KIND_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")


def is_known(kind: str) -> bool:
    return kind in PROVIDERS or kind in _extra_providers(tuple(settings.EXTRA_PROVIDERS))


def provider_class(kind: str) -> type[Provider]:
    """The class registered for `kind`; LookupError when none is."""
    dotted = PROVIDERS.get(kind) or _extra_providers(tuple(settings.EXTRA_PROVIDERS)).get(kind)
    if dotted is None:
        raise LookupError(f"No telephony provider '{kind}' is registered.")
    found = _load(dotted)
    if found.kind != kind:
        raise ImproperlyConfigured(
            f"{dotted} is registered as '{kind}' but declares '{found.kind}'."
        )
    return found


def provider_for(kind: str) -> Provider:
    return provider_class(kind)()


def provider_kinds() -> list[str]:
    """Every registered kind, this repository's first."""
    return [*PROVIDERS, *_extra_providers(tuple(settings.EXTRA_PROVIDERS))]


def provider_choices() -> list[tuple[str, str]]:
    """(kind, label) of every provider, this repository's first, for the setup form."""
    return [(kind, provider_class(kind).label) for kind in provider_kinds()]


@lru_cache(maxsize=8)
def _extra_providers(dotted_paths: tuple[str, ...]) -> dict[str, str]:
    """`EXTRA_PROVIDERS` keyed by each class's kind (which only its class knows, hence the
    import). Keyed on the setting's value, so tests that change it get the matching registry."""
    extra: dict[str, str] = {}
    for dotted in dotted_paths:
        kind = _load(dotted).kind
        if kind in PROVIDERS or kind in extra:
            raise ImproperlyConfigured(
                f"EXTRA_PROVIDERS: {dotted} declares kind '{kind}', which is already registered."
            )
        extra[kind] = dotted
    return extra


@cache
def _load(dotted: str) -> type[Provider]:
    try:
        found = import_string(dotted)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"Provider class {dotted} cannot be imported: {error}"
        ) from error
    if not (isinstance(found, type) and issubclass(found, Provider)):
        raise ImproperlyConfigured(f"{dotted} is not a subclass of integrations.provider.Provider.")
    if not KIND_PATTERN.fullmatch(getattr(found, "kind", "")) or not getattr(found, "label", ""):
        raise ImproperlyConfigured(
            f"{dotted} must declare a label and a kind of at most 30 lower-case letters, digits, "
            "'-' or '_' (the kind is part of its webhook URL)."
        )
    return found


def registry_check(app_configs: object = None, **kwargs: object) -> list[checks.Error]:
    """A system check, so a mistake in EXTRA_PROVIDERS shows at `manage.py check` and `migrate`
    rather than on the first webhook for that provider."""
    try:
        provider_choices()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="integrations.E001")]
    return []
