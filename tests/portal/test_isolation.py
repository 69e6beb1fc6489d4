"""Every organisation-scoped page, found from the URLconf, checked for every kind of visitor.

A page added later is covered without editing this test; a page whose URL parameters this test
does not know how to fill fails it, so whoever adds one also says which object it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from calls.models import AgentMapping, Call
from integrations.models import ProviderConnection
from integrations.outreach.models import ConnectionKind, OutreachConnection
from portal.audit.models import AuditEntry
from portal.tenancy.models import Access, Invitation, Membership, Role, hash_token
from tests.conftest import Cast, make_user

ORG_PREFIX = "o/<slug:org>/"


def organization_patterns() -> Iterator[tuple[str, URLPattern]]:
    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif route.startswith(ORG_PREFIX):
                yield route, pattern

    yield from walk(get_resolver().url_patterns, "")


def parameter_fillers(cast: Cast) -> dict[str, Callable[[], object]]:
    """How to find a real object of Alice's organisation for each URL parameter."""
    return {
        "org": lambda: cast.org.slug,
        "membership_id": lambda: (
            Membership.objects.create(
                organization=cast.org, user=make_user("dave@example.com"), role=Role.MEMBER
            ).pk
        ),
        "connection_id": lambda: (
            ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX").pk
        ),
        "outreach_connection_id": lambda: (
            OutreachConnection.objects.create(
                organization=cast.org,
                kind=ConnectionKind.USER,
                user=cast.bob,
                outreach_user_id="7",
                outreach_org_id="org-1",
                access_token="a",
                refresh_token="r",
                expires_at="2999-01-01T00:00:00Z",
            ).pk
        ),
        "call_id": lambda: (
            Call.objects.create(
                organization=cast.org,
                direction="inbound",
                provider_call_id="c-1",
                owner=cast.bob,  # a rep sees their own calls (test_calls_pages covers the others)
                connection=ProviderConnection.objects.create(
                    organization=cast.org, kind="generic", name="PBX 2"
                ),
            ).pk
        ),
        "mapping_id": lambda: (
            AgentMapping.objects.create(
                organization=cast.org, kind="email", value="rita@pbx.example", outreach_user_id="7"
            ).pk
        ),
        "invitation_id": lambda: (
            Invitation.objects.create(
                organization=cast.org,
                email="erin@example.com",
                token_hash=hash_token("t"),
                expires_at="2999-01-01T00:00:00Z",
            ).pk
        ),
    }


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_finds_organisation_pages() -> None:
    names = {pattern.name for _, pattern in organization_patterns()}
    assert {"dashboard", "members", "organization_settings", "membership_remove"} <= names


def test_it_declares_access_on_every_organisation_page() -> None:
    undeclared = [
        route
        for route, pattern in organization_patterns()
        if getattr(pattern.callback, "access", None) not in set(Access)
    ]
    assert undeclared == []


@pytest.mark.parametrize(
    "route, pattern", list(organization_patterns()), ids=lambda value: str(value)
)
def test_it_isolates_the_page(cast: Cast, route: str, pattern: URLPattern) -> None:
    fillers = parameter_fillers(cast)
    unknown = set(pattern.pattern.converters) | {"org"} - set(fillers)
    assert not unknown - set(fillers), f"{route}: add a filler for {unknown - set(fillers)}"
    kwargs = {name: fillers[name]() for name in ["org", *pattern.pattern.converters]}
    url = reverse(pattern.name, kwargs=kwargs)
    access = pattern.callback.access
    staff = make_user("staff@callbridge.test", is_staff=True)

    # Nobody outside the organisation learns anything, whatever the method.
    for method in ("get", "post"):
        assert getattr(client_for(cast.mallory), method)(url).status_code == 404, (method, url)

    # Roles that may not take the declared action are refused before anything happens.
    refused = {
        Access.CONFIGURATION: [cast.sam, cast.bob, staff],
        Access.OPERATIONAL: [cast.bob, staff],
    }
    for user in refused.get(access, []):
        for method in ("get", "post"):
            status = getattr(client_for(user), method)(url).status_code
            assert status in (403, 404, 405), (user.email, method, url, status)
    if access == Access.READ:
        before = AuditEntry.objects.filter(action="staff.visit").count()
        response = client_for(staff).get(url)
        assert response.status_code in (200, 405), url
        if response.status_code == 200:
            assert AuditEntry.objects.filter(action="staff.visit").count() == before + 1

    # The owner gets the page (or, for an action, is sent back to one).
    owner = client_for(cast.alice)
    response = owner.get(url)
    if response.status_code == 405:
        response = owner.post(url)
        assert response.status_code in (200, 302), url  # done, or the form with its errors
    else:
        assert response.status_code == 200, url
        assert (
            client_for(cast.bob if access == Access.READ else cast.alice).get(url).status_code
            == 200
        )


def test_it_answers_404_for_an_unknown_organisation(cast: Cast) -> None:
    assert client_for(cast.alice).get("/o/no-such-org/").status_code == 404


def test_it_hides_another_tenants_objects_behind_a_known_slug(cast: Cast) -> None:
    """Alice's own slug with Mallory's membership id: not found, and nothing changes."""
    mallory_membership = Membership.objects.get(user=cast.mallory)
    response = client_for(cast.alice).post(
        reverse(
            "membership_remove",
            kwargs={"org": cast.org.slug, "membership_id": mallory_membership.pk},
        )
    )
    assert response.status_code == 404
    assert Membership.objects.filter(pk=mallory_membership.pk).exists()


def test_it_sends_anonymous_visitors_to_sign_in(cast: Cast) -> None:
    response = Client().get(reverse("dashboard", kwargs={"org": cast.org.slug}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
