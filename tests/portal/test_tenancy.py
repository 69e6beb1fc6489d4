from __future__ import annotations

import re

from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.tenancy.models import Invitation, Membership, Organization, Role
from tests.conftest import Cast, make_user


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invite(cast: Cast, email: str, role: str = Role.MEMBER) -> str:
    """Alice invites `email`; returns the link from the email that was sent."""
    response = signed_in(cast.alice).post(
        reverse("invitation_create", kwargs={"org": cast.org.slug}), {"email": email, "role": role}
    )
    assert response.status_code == 302
    assert mail.outbox[-1].to == [email]
    return re.search(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body).group(0)


def test_it_creates_an_organisation_with_its_creator_as_admin(db: None) -> None:
    user = make_user("newcomer@example.com")
    response = signed_in(user).post(
        reverse("organization_create"), {"name": "Newco Sales", "default_region": "gb"}
    )
    organization = Organization.objects.get(name="Newco Sales")
    assert response["Location"] == reverse("dashboard", kwargs={"org": organization.slug})
    assert organization.default_region == "GB"
    assert Membership.objects.get(organization=organization).role == Role.ADMIN


def test_it_refuses_an_unknown_region(db: None) -> None:
    response = signed_in(make_user("x@example.com")).post(
        reverse("organization_create"), {"name": "X", "default_region": "ZZ"}
    )
    assert response.status_code == 200
    assert "not a country code" in response.content.decode()
    assert not Organization.objects.exists()


def test_it_invites_by_email_and_the_invitee_joins_with_the_role(cast: Cast) -> None:
    link = invite(cast, "dora@example.com", Role.SUPPORT)
    assert "Alice & Co" in mail.outbox[-1].subject
    dora = make_user("dora@example.com")
    path = link.split("127.0.0.1:8000", 1)[-1]
    response = signed_in(dora).post(path)
    assert response.status_code == 302
    assert Membership.objects.get(organization=cast.org, user=dora).role == Role.SUPPORT


def test_it_refuses_an_invitation_link_used_twice(cast: Cast) -> None:
    path = invite(cast, "dora@example.com").split("127.0.0.1:8000", 1)[-1]
    dora = make_user("dora@example.com")
    assert signed_in(dora).post(path).status_code == 302
    again = signed_in(dora).post(path)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_it_refuses_an_invitation_for_someone_else(cast: Cast) -> None:
    path = invite(cast, "dora@example.com").split("127.0.0.1:8000", 1)[-1]
    response = signed_in(cast.mallory).post(path)
    assert response.status_code == 403
    assert "sent to dora@example.com" in response.content.decode()
    assert not Membership.objects.filter(organization=cast.org, user=cast.mallory).exists()


def test_it_answers_404_for_a_made_up_invitation(db: None) -> None:
    response = Client().get(reverse("invitation_accept", args=["not-a-real-token"]))
    assert response.status_code == 404


def test_it_refuses_a_withdrawn_invitation(cast: Cast) -> None:
    path = invite(cast, "dora@example.com").split("127.0.0.1:8000", 1)[-1]
    invitation = Invitation.objects.get(email="dora@example.com")
    signed_in(cast.alice).post(
        reverse("invitation_revoke", kwargs={"org": cast.org.slug, "invitation_id": invitation.pk})
    )
    assert signed_in(make_user("dora@example.com")).post(path).status_code == 410


def test_it_does_not_store_the_invitation_token(cast: Cast) -> None:
    link = invite(cast, "dora@example.com")
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert not Invitation.objects.filter(token_hash=token).exists()


def test_it_changes_a_role_and_audits_it(cast: Cast) -> None:
    membership = Membership.objects.get(organization=cast.org, user=cast.bob)
    signed_in(cast.alice).post(
        reverse("membership_role", kwargs={"org": cast.org.slug, "membership_id": membership.pk}),
        {"role": Role.SUPPORT},
    )
    membership.refresh_from_db()
    assert membership.role == Role.SUPPORT
    entry = AuditEntry.objects.get(action="membership.role")
    assert (entry.actor_label, entry.data) == (
        "alice@example.com",
        {"from": "member", "to": "support"},
    )


def test_it_keeps_at_least_one_admin(cast: Cast) -> None:
    own = Membership.objects.get(organization=cast.org, user=cast.alice)
    client = signed_in(cast.alice)
    client.post(
        reverse("membership_role", kwargs={"org": cast.org.slug, "membership_id": own.pk}),
        {"role": Role.MEMBER},
    )
    response = client.post(
        reverse("membership_remove", kwargs={"org": cast.org.slug, "membership_id": own.pk}),
        follow=True,
    )
    own.refresh_from_db()
    assert own.role == Role.ADMIN
    assert "at least one admin" in response.content.decode()


def test_it_removes_a_member_who_then_loses_access(cast: Cast) -> None:
    membership = Membership.objects.get(organization=cast.org, user=cast.bob)
    signed_in(cast.alice).post(
        reverse("membership_remove", kwargs={"org": cast.org.slug, "membership_id": membership.pk})
    )
    assert (
        signed_in(cast.bob).get(reverse("dashboard", kwargs={"org": cast.org.slug})).status_code
        == 404
    )


def test_it_switches_between_organisations(cast: Cast) -> None:
    Membership.objects.create(organization=cast.mallory_org, user=cast.bob, role=Role.MEMBER)
    client = signed_in(cast.bob)
    page = client.get(reverse("dashboard", kwargs={"org": cast.org.slug})).content.decode()
    assert "Mallory Inc" in page  # the switcher lists both
    client.get(reverse("dashboard", kwargs={"org": cast.mallory_org.slug}))
    assert client.get(reverse("home"))["Location"] == reverse(
        "dashboard", kwargs={"org": cast.mallory_org.slug}
    )


def test_it_shows_staff_a_read_only_view_and_audits_the_visit(cast: Cast) -> None:
    staff = make_user("staff@callbridge.test", is_staff=True)
    client = signed_in(staff)
    assert client.get(reverse("members", kwargs={"org": cast.org.slug})).status_code == 200
    assert (
        client.get(reverse("organization_settings", kwargs={"org": cast.org.slug})).status_code
        == 403
    )
    visit = AuditEntry.objects.get(action="staff.visit")
    assert (visit.organization_id, visit.actor_label) == (cast.org.pk, "staff@callbridge.test")


def test_it_requires_a_verified_email_before_signing_in_in_production(db: None) -> None:
    client = Client()
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a long pass phrase 42",
            "password2": "a long pass phrase 42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "/accounts/confirm-email/" in mail.outbox[-1].body
    assert client.get(reverse("organization_create")).status_code == 302  # not signed in
