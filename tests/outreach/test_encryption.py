"""Secrets at rest: one encrypted field type, MultiFernet keys, rotation, and no leaks."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection as database
from django.test import Client, override_settings
from django.utils import timezone

from integrations.outreach.models import ConnectionKind, OutreachConnection
from portal.encryption import EncryptedTextField, Secret, encrypted_fields
from tests.conftest import Cast

ACCESS, REFRESH = "access-secret-value", "refresh-secret-value"


def stored(cast: Cast) -> OutreachConnection:
    return OutreachConnection.objects.create(
        organization=cast.org,
        kind=ConnectionKind.ORGANIZATION,
        outreach_user_id="1",
        outreach_org_id="org-1",
        access_token=ACCESS,
        refresh_token=REFRESH,
        expires_at=timezone.now() + timedelta(hours=2),
    )


def raw(connection: OutreachConnection) -> tuple[str, str]:
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM outreach_outreachconnection WHERE id = %s",
            [connection.pk],
        )
        return cursor.fetchone()


def test_it_stores_ciphertext_and_reads_back_a_masked_secret(cast: Cast) -> None:
    connection = OutreachConnection.objects.get(pk=stored(cast).pk)

    assert ACCESS not in "".join(raw(connection))
    assert connection.access_token.reveal() == ACCESS
    assert ACCESS not in f"{connection.access_token} {connection.access_token!r}"


def test_it_registers_every_encrypted_field_by_its_type() -> None:
    found = {model._meta.label: [f.name for f in fields] for model, fields in encrypted_fields()}

    assert found["outreach.OutreachConnection"] == ["access_token", "refresh_token"]
    assert all(
        isinstance(f, EncryptedTextField) for _, fields in encrypted_fields() for f in fields
    )


def test_it_still_decrypts_every_secret_after_rotation_and_removal_of_the_old_keys(
    cast: Cast, settings: object
) -> None:
    connection = stored(cast)
    before = raw(connection)
    new_key = Fernet.generate_key().decode()

    with override_settings(ENCRYPTION_KEYS=[new_key, *settings.ENCRYPTION_KEYS]):
        call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))

    with override_settings(ENCRYPTION_KEYS=[new_key]):
        reloaded = OutreachConnection.objects.get(pk=connection.pk)
        assert reloaded.access_token.reveal() == ACCESS
        assert reloaded.refresh_token.reveal() == REFRESH
    assert raw(connection) != before
    # And the old keys alone no longer open what was rewritten.
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        OutreachConnection.objects.get(pk=connection.pk)


def test_it_decrypts_with_any_key_and_encrypts_with_the_first(cast: Cast, settings: object) -> None:
    first, second = settings.ENCRYPTION_KEYS
    connection = stored(cast)

    with override_settings(ENCRYPTION_KEYS=[first]):
        assert OutreachConnection.objects.get(pk=connection.pk).access_token.reveal() == ACCESS
    with override_settings(ENCRYPTION_KEYS=[second]), pytest.raises(ImproperlyConfigured):
        OutreachConnection.objects.get(pk=connection.pk)


def test_it_never_shows_a_secret_in_the_django_admin(cast: Cast) -> None:
    connection = stored(cast)
    admin = get_user_model().objects.create_superuser("root", "root@callbridge.test", "pw")
    client = Client()
    client.force_login(admin)

    pages = [
        client.get("/admin/outreach/outreachconnection/"),
        client.get(f"/admin/outreach/outreachconnection/{connection.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert ACCESS not in body and REFRESH not in body
        assert raw(connection)[0] not in body


def test_it_never_logs_a_secret(cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    connection = stored(cast)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info(
            "using %s / %r", connection.access_token, connection.refresh_token
        )
        logging.getLogger("test").info("row %s", connection.__dict__)

    assert ACCESS not in caplog.text and REFRESH not in caplog.text


def test_it_compares_secrets_by_value() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b") and Secret("a") != "a"
