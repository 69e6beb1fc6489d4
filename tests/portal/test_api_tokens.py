from __future__ import annotations

import re
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import ApiToken
from tests.conftest import Cast


def create_token(cast: Cast, **form: object) -> str:
    client = Client()
    client.force_login(cast.bob)
    page = client.post(
        reverse("user_settings"), {"name": "Chrome laptop", "organization": cast.org.pk, **form}
    ).content.decode()
    return re.search(r'<code id="new-token">(cbt_[\w-]+)</code>', page).group(1)


def api(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def test_it_shows_a_new_token_once_and_stores_only_its_hash(cast: Cast) -> None:
    token = create_token(cast)
    stored = ApiToken.objects.get()
    assert token not in (stored.token_hash, stored.prefix)
    client = Client()
    client.force_login(cast.bob)
    assert token not in client.get(reverse("user_settings")).content.decode()


def test_it_authenticates_the_api_in_the_tokens_organisation(cast: Cast) -> None:
    token = create_token(cast)
    response = api(token).get(reverse("api_me"))
    assert response.status_code == 200
    assert response.json() == {
        "email": "bob@example.com",
        "organizations": [{"slug": "alice-co", "name": "Alice & Co", "role": "member"}],
    }
    assert ApiToken.objects.get().last_used_at is not None


def test_it_refuses_a_revoked_token(cast: Cast) -> None:
    token = create_token(cast)
    client = Client()
    client.force_login(cast.bob)
    client.post(reverse("api_token_revoke", kwargs={"token_id": ApiToken.objects.get().pk}))
    response = api(token).get(reverse("api_me"))
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token was revoked."}


def test_it_refuses_an_expired_token(cast: Cast) -> None:
    token = create_token(cast, lifetime_days=1)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api(token).get(reverse("api_me"))
    assert (response.status_code, response.json()["detail"]) == (401, "This API token has expired.")


def test_it_refuses_an_unknown_token(db: None) -> None:
    response = api("cbt_made-up").get(reverse("api_me"))
    assert (response.status_code, response.json()["detail"]) == (401, "Unknown API token.")


def test_it_refuses_a_token_whose_owner_left_the_organisation(cast: Cast) -> None:
    token = create_token(cast)
    cast.bob.memberships.all().delete()
    assert api(token).get(reverse("api_me")).status_code == 401


def test_it_does_not_let_someone_else_revoke_my_token(cast: Cast) -> None:
    create_token(cast)
    client = Client()
    client.force_login(cast.mallory)
    response = client.post(
        reverse("api_token_revoke", kwargs={"token_id": ApiToken.objects.get().pk})
    )
    assert response.status_code == 404
    assert ApiToken.objects.get().revoked_at is None


def test_it_refuses_a_token_for_an_organisation_i_do_not_belong_to(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.bob)
    response = client.post(
        reverse("user_settings"), {"name": "sneaky", "organization": cast.mallory_org.pk}
    )
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
