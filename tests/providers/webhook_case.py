"""The shared webhook test case: a provider's payload fixtures, parsed by its class, one line per
fixture stating the happenings it carries.

Fixtures are real payloads from the provider's documents, one file each under
`tests/providers/<kind>/fixtures/`, named `<event>__<variant>.json` where `<event>` is one of the
event types the provider class declares (`Provider.events`). A JSON object is sent as the body in
the provider's first content type (form-encoded providers get it url-encoded). Parsing needs no
server and no database: the connection and its organisation are unsaved model instances.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from django.test import RequestFactory

from integrations.events import CallEvent, Happening
from integrations.models import ProviderConnection
from integrations.registry import provider_class
from portal.tenancy.models import Organization

PROVIDERS_ROOT = Path(__file__).resolve().parent


def fixtures_of(kind: str) -> list[str]:
    return sorted(path.stem for path in (PROVIDERS_ROOT / kind / "fixtures").glob("*.json"))


def payload_of(kind: str, name: str) -> dict:
    """Fixture `name`'s payload, as the provider sends it."""
    return json.loads((PROVIDERS_ROOT / kind / "fixtures" / f"{name}.json").read_text())


def parse_fixture(kind: str, name: str, *, region: str = "US") -> list[CallEvent]:
    """The call events `kind`'s provider class reads from fixture `name` (without `.json`)."""
    provider = provider_class(kind)
    event = name.split("__", 1)[0]
    assert event in provider.events, (
        f"fixture {name}: {kind} does not declare the event {event!r} "
        f"(it declares {', '.join(provider.events)})"
    )
    payload = payload_of(kind, name)
    content_type = provider.content_types[0]
    body = urlencode(payload) if "form-urlencoded" in content_type else json.dumps(payload)
    request = RequestFactory().post(f"/hooks/{kind}/t/", data=body, content_type=content_type)
    organization = Organization(name="Fixture Co", slug="fixture-co", default_region=region)
    connection = ProviderConnection(organization=organization, kind=kind, name="fixture")
    return provider().parse(request, connection)


def happenings_of(kind: str, name: str) -> list[Happening]:
    return [event.happening for event in parse_fixture(kind, name)]


def assert_every_event_has_a_fixture(kind: str) -> None:
    covered = {name.split("__", 1)[0] for name in fixtures_of(kind)}
    missing = [event for event in provider_class(kind).events if event not in covered]
    assert not missing, f"{kind}: no fixture for {', '.join(missing)}"
