"""The registry: one line per provider here, more from the EXTRA_PROVIDERS setting, and a clear
error at `manage.py check` for an entry that cannot work."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from integrations.generic.provider import GenericProvider
from integrations.provider import Provider
from integrations.registry import (
    is_known,
    provider_choices,
    provider_class,
    provider_for,
    registry_check,
)
from tests.providers.fakephone.provider import FakePhoneProvider

pytestmark = pytest.mark.fast  # no server: make test-fast runs it

FAKEPHONE = "tests.providers.fakephone.provider.FakePhoneProvider"


class Nameless(Provider):
    label = "No kind"


class Shouting(Provider):
    kind = "SHOUT/ING"
    label = "Not a slug"


class Impostor(Provider):
    kind = "generic"
    label = "Another generic"


def test_it_lists_the_repositorys_providers_first_then_extra_ones() -> None:
    assert provider_choices() == [
        ("generic", "Generic signed webhook"),
        ("twilio", "Twilio"),
        ("finesse", "Cisco Finesse (contact-centre connector)"),
        ("ccai", "Google CCAI Platform (UJET)"),
        ("fakephone", "FakePhone (test provider)"),
    ]
    assert provider_class("generic") is GenericProvider
    assert isinstance(provider_for("fakephone"), FakePhoneProvider)


def test_it_knows_only_registered_kinds() -> None:
    assert is_known("generic") and is_known("fakephone") and not is_known("telegraph")
    with pytest.raises(LookupError, match="No telephony provider 'telegraph'"):
        provider_class("telegraph")


@override_settings(EXTRA_PROVIDERS=[])
def test_it_forgets_an_extra_provider_taken_out_of_the_setting() -> None:
    assert not is_known("fakephone")
    assert provider_choices() == [
        ("generic", "Generic signed webhook"),
        ("twilio", "Twilio"),
        ("finesse", "Cisco Finesse (contact-centre connector)"),
        ("ccai", "Google CCAI Platform (UJET)"),
    ]


@pytest.mark.parametrize(
    "dotted, error",
    [
        ("tests.providers.no_such_module.Provider", "cannot be imported"),
        ("tests.providers.test_registry.FAKEPHONE", "is not a subclass"),
        ("tests.providers.test_registry.Nameless", "must declare a label and a kind"),
        ("tests.providers.test_registry.Shouting", "must declare a label and a kind"),
        ("tests.providers.test_registry.Impostor", "kind 'generic', which is already registered"),
    ],
)
def test_it_reports_an_extra_provider_that_cannot_work(dotted: str, error: str) -> None:
    with override_settings(EXTRA_PROVIDERS=[FAKEPHONE, dotted]):
        with pytest.raises(ImproperlyConfigured, match=error):
            provider_choices()
        [found] = registry_check()
        assert found.id == "integrations.E001" and error in found.msg
        assert is_known("generic")  # the repository's providers are not held up by it


def test_it_passes_the_system_check_as_configured() -> None:
    assert registry_check() == []
