"""Each rep's own Finesse sign-in, on their settings page: encrypted, never shown again, theirs
alone, and what placing a call reads."""

from __future__ import annotations

import pytest
from django.db import connection as database
from django.test import Client
from django.urls import reverse

from integrations.models import ProviderConnection, RepSignIn
from integrations.selectors import rep_sign_in_values
from portal.tenancy.models import Membership
from portal.tenancy.services import membership_remove
from tests.conftest import Cast

PASSWORD = "bobs-finesse-password-42"


@pytest.fixture
def finesse(cast: Cast) -> ProviderConnection:
    connection = ProviderConnection(organization=cast.org, kind="finesse", name="Contact centre")
    connection.set_setup_values({"finesse_url": "https://finesse1.example.com:8445"})
    connection.save()
    return connection


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def page(cast: Cast, connection: ProviderConnection) -> str:
    return reverse(
        "provider_my_sign_in", kwargs={"org": cast.org.slug, "connection_id": connection.pk}
    )


def test_it_keeps_a_reps_finesse_sign_in_encrypted_and_never_shows_it_again(
    cast: Cast, finesse: ProviderConnection
) -> None:
    bob = signed_in(cast.bob)
    settings_page = bob.get(reverse("user_settings")).content.decode()
    assert "Contact centre" in settings_page and "not given" in settings_page
    answer = bob.post(
        page(cast, finesse),
        {"finesse_user": "bob01", "finesse_password": PASSWORD, "extension": "5069"},
    )
    assert answer.status_code == 302
    assert rep_sign_in_values(connection=finesse, user_id=cast.bob.pk) == {
        "finesse_user": "bob01",
        "finesse_password": PASSWORD,
        "extension": "5069",
    }
    with database.cursor() as cursor:
        cursor.execute("SELECT values FROM integrations_repsignin")
        (stored,) = cursor.fetchone()
    assert PASSWORD not in stored and "bob01" not in stored  # encrypted at rest
    form = bob.get(page(cast, finesse)).content.decode()
    assert PASSWORD not in form and "bob01" in form
    # Left blank on an edit, the password keeps its value.
    bob.post(page(cast, finesse), {"finesse_user": "bob02", "finesse_password": ""})
    assert rep_sign_in_values(connection=finesse, user_id=cast.bob.pk)["finesse_password"] == (
        PASSWORD
    )


def test_it_gives_every_rep_their_own_and_outsiders_nothing(
    cast: Cast, finesse: ProviderConnection
) -> None:
    signed_in(cast.bob).post(page(cast, finesse), {"finesse_user": "b", "finesse_password": "p"})
    signed_in(cast.alice).post(page(cast, finesse), {"finesse_user": "a", "finesse_password": "q"})
    assert RepSignIn.objects.count() == 2
    assert rep_sign_in_values(connection=finesse, user_id=cast.bob.pk)["finesse_user"] == "b"
    assert signed_in(cast.mallory).get(page(cast, finesse)).status_code == 404


def test_it_asks_no_sign_in_for_a_provider_that_needs_none(cast: Cast) -> None:
    generic = ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX")
    bob = signed_in(cast.bob)
    assert "needs no sign-in of yours" in bob.get(page(cast, generic)).content.decode()
    assert bob.post(page(cast, generic), {"x": "y"}).status_code == 403
    assert "Your phone system sign-in" not in (
        signed_in(cast.bob).get(reverse("user_settings")).content.decode()
    )


def test_it_forgets_a_reps_sign_in_when_they_leave_the_organisation(
    cast: Cast, finesse: ProviderConnection
) -> None:
    signed_in(cast.bob).post(page(cast, finesse), {"finesse_user": "b", "finesse_password": "p"})
    signed_in(cast.alice).post(page(cast, finesse), {"finesse_user": "a", "finesse_password": "q"})
    membership = Membership.objects.get(organization=cast.org, user=cast.bob)
    membership_remove(membership=membership, actor=cast.alice)
    assert list(RepSignIn.objects.values_list("user__email", flat=True)) == ["alice@example.com"]
