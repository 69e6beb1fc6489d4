"""The Telephony pages: who sees what of a connection, and the one setup form every provider
gets from its class's declarations."""

from __future__ import annotations

import json

import pytest
from django.db import connection as database
from django.test import Client
from django.urls import reverse

from integrations.models import ProviderConnection
from portal.audit.models import AuditEntry
from tests.conftest import Cast, make_user


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def providers_page(cast: Cast, user: object) -> str:
    url = reverse("providers", kwargs={"org": cast.org.slug})
    return signed_in(user).get(url).content.decode()


@pytest.fixture
def pbx(cast: Cast) -> ProviderConnection:
    return ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX")


def test_it_shows_webhook_urls_to_admins_and_support_but_not_to_reps(
    cast: Cast, pbx: ProviderConnection
) -> None:
    assert pbx.webhook_token in providers_page(cast, cast.alice)
    assert pbx.webhook_token in providers_page(cast, cast.sam)
    staff = make_user("staff@callbridge.test", is_staff=True)  # platform support, read-only
    assert pbx.webhook_token in providers_page(cast, staff)
    page = providers_page(cast, cast.bob)
    assert "PBX" in page and pbx.webhook_token not in page


def test_it_shows_refused_bodies_to_admins_and_support_but_not_to_reps(
    cast: Cast, pbx: ProviderConnection
) -> None:
    Client().post(
        f"/hooks/generic/{pbx.webhook_token}/", '{"caller": "+14155550123"}', content_type="x/y"
    )
    url = reverse("webhook_receipts", kwargs={"org": cast.org.slug})
    for user in (cast.alice, cast.sam):
        assert "+14155550123" in signed_in(user).get(url).content.decode()
    page = signed_in(cast.bob).get(url).content.decode()
    assert "Content-Type must be application/json" in page and "+14155550123" not in page


def test_it_names_no_provider_in_the_page_template() -> None:
    from django.conf import settings

    from integrations.registry import provider_choices

    template = (settings.BASE_DIR / "templates/integrations/providers.html").read_text().lower()
    for kind, label in provider_choices():
        assert kind not in template and label.lower() not in template
    assert "whsec" not in template and "standard webhooks" not in template


def test_it_keeps_a_provider_connection_of_a_kind_no_longer_registered_visible(
    cast: Cast,
) -> None:
    ProviderConnection.objects.create(organization=cast.org, kind="retired-pbx", name="Old PBX")
    page = providers_page(cast, cast.alice)
    assert "Old PBX" in page and "retired-pbx" in page
    assert "New secret" not in page


def test_it_lets_an_admin_rename_a_connection_and_audits_it(
    cast: Cast, pbx: ProviderConnection
) -> None:
    url = reverse("provider_edit", kwargs={"org": cast.org.slug, "connection_id": pbx.pk})
    assert signed_in(cast.alice).post(url, {"name": "Main PBX"}).status_code == 302
    pbx.refresh_from_db()
    assert pbx.name == "Main PBX"
    assert signed_in(cast.sam).post(url, {"name": "Sam's PBX"}).status_code == 403


def test_it_stores_the_setup_values_encrypted(cast: Cast, pbx: ProviderConnection) -> None:
    pbx.set_setup_values({"api_key": "sk-live-123"})
    pbx.save()
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM integrations_providerconnection WHERE id = %s", [pbx.pk]
        )
        stored = cursor.fetchone()[0]
    assert "sk-live-123" not in stored
    pbx.refresh_from_db()
    assert pbx.setup_values() == {"api_key": "sk-live-123"}
    assert json.loads(pbx.credentials.reveal()) == {"api_key": "sk-live-123"}


def test_it_shows_the_connect_form_to_admins_only(cast: Cast) -> None:
    assert "Create connection" in providers_page(cast, cast.alice)
    assert "Create connection" not in providers_page(cast, cast.sam)
    assert "Create connection" not in providers_page(cast, cast.bob)


FAKEPHONE_SETUP = {
    "setup_api_url": "http://127.0.0.1:9/",
    "setup_api_key": "fp_key_that_must_not_show",
    "setup_webhook_secret": "fpsig_secret_that_must_not_show",
}


def test_it_builds_the_setup_form_from_the_chosen_providers_fields(cast: Cast) -> None:
    client = signed_in(cast.alice)
    url = reverse("providers", kwargs={"org": cast.org.slug})
    generic = client.get(url).content.decode()
    assert "API key" not in generic and 'type="text" name="setup_dial_url"' in generic
    page = client.get(url, {"kind": "fakephone"}).content.decode()
    assert 'type="password" name="setup_api_key"' in page
    assert 'type="password" name="setup_webhook_secret"' in page
    assert 'type="text" name="setup_api_url"' in page
    assert "FakePhone&#x27;s console" in page  # the class's instructions


def test_it_creates_a_connection_with_its_setup_and_never_shows_the_secrets_again(
    cast: Cast,
) -> None:
    client = signed_in(cast.alice)
    response = client.post(
        reverse("provider_create", kwargs={"org": cast.org.slug}),
        {"kind": "fakephone", "name": "Fake PBX", **FAKEPHONE_SETUP},
        follow=True,
    )
    page = response.content.decode()
    connection = ProviderConnection.objects.get()
    assert connection.kind == "fakephone"
    assert connection.setup_values() == {
        "api_url": "http://127.0.0.1:9/",
        "api_key": "fp_key_that_must_not_show",
        "webhook_secret": "fpsig_secret_that_must_not_show",
    }
    assert connection.signing_secrets() == []  # FakePhone made its own secret
    assert "created" in page and connection.webhook_token in page
    assert "must_not_show" not in page and "new-secret" not in page and "New secret" not in page
    edit = reverse("provider_edit", kwargs={"org": cast.org.slug, "connection_id": connection.pk})
    form = client.get(edit).content.decode()
    assert "must_not_show" not in form and 'value="http://127.0.0.1:9/"' in form
    assert "Leave blank to keep the saved value." in form
    rotate = reverse(
        "provider_rotate_secret", kwargs={"org": cast.org.slug, "connection_id": connection.pk}
    )
    assert client.post(rotate).status_code == 404


def test_it_refuses_a_connection_without_its_required_setup(cast: Cast) -> None:
    response = signed_in(cast.alice).post(
        reverse("provider_create", kwargs={"org": cast.org.slug}),
        {"kind": "fakephone", "name": "Fake PBX", "setup_api_url": "http://127.0.0.1:9/"},
    )
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not ProviderConnection.objects.exists()


def test_it_keeps_a_secret_left_blank_on_edit_and_audits_only_field_names(cast: Cast) -> None:
    client = signed_in(cast.alice)
    client.post(
        reverse("provider_create", kwargs={"org": cast.org.slug}),
        {"kind": "fakephone", "name": "Fake PBX", **FAKEPHONE_SETUP},
    )
    connection = ProviderConnection.objects.get()
    edit = reverse("provider_edit", kwargs={"org": cast.org.slug, "connection_id": connection.pk})
    response = client.post(
        edit,
        {
            "name": "Fake PBX",
            "setup_api_url": "http://127.0.0.1:10/",
            "setup_api_key": "fp_new_key",
            "setup_webhook_secret": "",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.setup_values() == {
        "api_url": "http://127.0.0.1:10/",
        "api_key": "fp_new_key",
        "webhook_secret": "fpsig_secret_that_must_not_show",
    }
    entry = AuditEntry.objects.get(action="provider.update")
    assert entry.data["changed"] == ["api_key", "api_url"]
    assert "fp_new_key" not in json.dumps(entry.data)


def test_it_lets_an_admin_choose_the_one_connection_that_places_calls(cast: Cast) -> None:
    first, second = (
        ProviderConnection.objects.create(organization=cast.org, kind="generic", name=name)
        for name in ("First PBX", "Second PBX")
    )
    client = signed_in(cast.alice)

    def choose(connection: ProviderConnection) -> None:
        url = reverse(
            "provider_places_calls", kwargs={"org": cast.org.slug, "connection_id": connection.pk}
        )
        assert client.post(url).status_code == 302

    choose(first)
    choose(second)
    placing = ProviderConnection.objects.filter(places_calls=True)
    assert list(placing.values_list("name", flat=True)) == ["Second PBX"]
    page = providers_page(cast, cast.alice)
    assert page.count("Stop placing calls") == 1 and page.count("Place calls with it") == 1
    choose(second)  # and again: it stops
    assert not ProviderConnection.objects.filter(places_calls=True).exists()
    actions = AuditEntry.objects.filter(action__startswith="provider.").values_list(
        "action", "target_label"
    )
    assert list(actions.order_by("id")) == [
        ("provider.places_calls", "First PBX (Generic signed webhook)"),
        ("provider.places_calls", "Second PBX (Generic signed webhook)"),
        ("provider.stops_placing_calls", "Second PBX (Generic signed webhook)"),
    ]


def test_it_offers_placing_calls_only_through_providers_that_can(cast: Cast) -> None:
    old = ProviderConnection.objects.create(organization=cast.org, kind="retired-pbx", name="Old")
    url = reverse("provider_places_calls", kwargs={"org": cast.org.slug, "connection_id": old.pk})
    assert signed_in(cast.alice).post(url).status_code == 404
    assert "Place calls with it" not in providers_page(cast, cast.alice)
    assert signed_in(cast.sam).post(url).status_code == 403
