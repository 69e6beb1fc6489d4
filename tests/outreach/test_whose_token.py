"""The one rule of whose token a call's updates go out with (selectors.connection_for_call)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.outreach.errors import ConnectionUnusable
from integrations.outreach.models import ConnectionKind, ConnectionStatus, OutreachConnection
from integrations.outreach.selectors import connection_for_call
from tests.conftest import Cast


def connection(
    cast: Cast, *, rep: object = None, outreach_user_id: str, status: str = ConnectionStatus.ACTIVE
) -> OutreachConnection:
    return OutreachConnection.objects.create(
        organization=cast.org,
        kind=ConnectionKind.USER if rep else ConnectionKind.ORGANIZATION,
        user=rep,
        outreach_user_id=outreach_user_id,
        outreach_org_id="org-1",
        access_token="a",
        refresh_token="r",
        expires_at=timezone.now() + timedelta(hours=2),
        status=status,
    )


def test_it_uses_the_owners_own_connection_when_active(cast: Cast) -> None:
    connection(cast, outreach_user_id="1")
    own = connection(cast, rep=cast.bob, outreach_user_id="7")

    chosen = connection_for_call(organization=cast.org, owner=cast.bob)

    assert (chosen.connection, chosen.outreach_user_id) == (own, "7")


def test_it_falls_back_to_the_organisation_connection_naming_the_owner(cast: Cast) -> None:
    shared = connection(cast, outreach_user_id="1")
    connection(cast, rep=cast.bob, outreach_user_id="7", status=ConnectionStatus.NEEDS_REAUTH)

    chosen = connection_for_call(organization=cast.org, owner=cast.bob)

    assert (chosen.connection, chosen.outreach_user_id) == (shared, "7")


def test_it_names_the_outreach_user_given_when_the_owner_never_connected(cast: Cast) -> None:
    shared = connection(cast, outreach_user_id="1")

    by_user = connection_for_call(organization=cast.org, owner=cast.sam, outreach_user_id="9")
    unknown = connection_for_call(organization=cast.org, owner=cast.sam)

    assert (by_user.connection, by_user.outreach_user_id) == (shared, "9")
    assert (unknown.connection, unknown.outreach_user_id) == (shared, None)


def test_it_finds_the_owners_connection_by_outreach_user_id(cast: Cast) -> None:
    connection(cast, outreach_user_id="1")
    own = connection(cast, rep=cast.bob, outreach_user_id="7")

    assert connection_for_call(organization=cast.org, outreach_user_id="7").connection == own


def test_it_holds_the_work_when_no_connection_is_usable(cast: Cast) -> None:
    connection(cast, outreach_user_id="1", status=ConnectionStatus.NEEDS_REAUTH)
    own = connection(cast, rep=cast.bob, outreach_user_id="7", status=ConnectionStatus.NEEDS_REAUTH)

    with pytest.raises(ConnectionUnusable) as raised:
        connection_for_call(organization=cast.org, owner=cast.bob)

    assert raised.value.connection_id == own.pk and not raised.value.permanent


def test_it_holds_the_work_when_outreach_is_not_connected(cast: Cast) -> None:
    with pytest.raises(ConnectionUnusable, match="Outreach is not connected"):
        connection_for_call(organization=cast.org, owner=cast.bob)


def test_it_never_uses_another_organisations_connection(cast: Cast) -> None:
    OutreachConnection.objects.create(
        organization=cast.mallory_org,
        kind=ConnectionKind.ORGANIZATION,
        outreach_user_id="1",
        outreach_org_id="org-2",
        access_token="a",
        refresh_token="r",
        expires_at=timezone.now() + timedelta(hours=2),
    )

    with pytest.raises(ConnectionUnusable):
        connection_for_call(organization=cast.org, owner=cast.bob)
