"""The cast every test can use, after healthchecks: Alice owns an organisation, Bob is her
teammate (a rep), Sam does support there, and Mallory, from another organisation, should have no
access to Alice's stuff."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.cache import cache

from portal.tenancy.models import Membership, Organization, Role

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Sign-in limits and the readiness answer live in the shared cache (Redis, shared with the
    server processes tests start): each test starts without another's."""
    cache.clear()


def make_user(email: str, **extra: object) -> AbstractUser:
    user = get_user_model().objects.create_user(
        username=email.split("@")[0], email=email, password=PASSWORD, **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@dataclass
class Cast:
    org: Organization
    alice: AbstractUser  # admin of org
    bob: AbstractUser  # member (a rep) of org
    sam: AbstractUser  # support in org
    mallory_org: Organization
    mallory: AbstractUser  # admin of another organisation


@pytest.fixture
def cast(db: None) -> Cast:
    org = Organization.objects.create(name="Alice & Co", slug="alice-co")
    mallory_org = Organization.objects.create(name="Mallory Inc", slug="mallory-inc")
    alice, bob, sam, mallory = (
        make_user("alice@example.com"),
        make_user("bob@example.com"),
        make_user("sam@example.com"),
        make_user("mallory@example.net"),
    )
    Membership.objects.create(organization=org, user=alice, role=Role.ADMIN)
    Membership.objects.create(organization=org, user=bob, role=Role.MEMBER)
    Membership.objects.create(organization=org, user=sam, role=Role.SUPPORT)
    Membership.objects.create(organization=mallory_org, user=mallory, role=Role.ADMIN)
    return Cast(org, alice, bob, sam, mallory_org, mallory)
