"""Sign-in cannot be guessed at: the Django admin has no password form of its own (it sends people
to the portal's, which allauth rate-limits), the limits see the client behind our proxies, and
they live in the shared cache, so every process counts the same failures."""

from __future__ import annotations

import re

import httpx
import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.conftest import PASSWORD, Cast, make_user
from tests.portal.test_health import gunicorn

TOO_MANY = "Too many failed login attempts"


def portal_login(client: Client, email: str, password: str, **headers: str) -> str:
    """Sign in on the portal's page; answers where it sent us, or the page's error."""
    response = client.post(
        reverse("account_login"), {"login": email, "password": password}, **headers
    )
    if response.status_code == 302:
        return response["Location"]
    return response.content.decode()


def test_it_sends_the_django_admin_to_the_portals_sign_in(cast: Cast) -> None:
    staff = make_user("staff@callbridge.example", is_staff=True, is_superuser=True)
    anonymous = Client()

    page = anonymous.get("/admin/login/?next=/admin/")
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("account_login") + "?next=")
    # Its own password form signs nobody in, even with the right password.
    posted = anonymous.post(
        "/admin/login/?next=/admin/", {"username": staff.username, "password": PASSWORD}
    )
    assert posted.status_code == 302 and posted["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in anonymous.session
    assert anonymous.get("/admin/").status_code == 302

    # Through the portal's sign-in, staff get in; an organisation's admin does not.
    staff_client = Client()
    assert portal_login(staff_client, "staff@callbridge.example", PASSWORD) == "/"
    assert staff_client.get("/admin/").status_code == 200
    alice = Client()
    alice.force_login(cast.alice)
    assert alice.get("/admin/login/?next=/admin/").status_code == 403


def test_it_refuses_the_right_password_after_fifteen_wrong_ones(db: None) -> None:
    make_user("staff@callbridge.example", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(15):
        portal_login(client, "staff@callbridge.example", "wrong password")

    assert TOO_MANY in portal_login(client, "staff@callbridge.example", PASSWORD)
    assert client.get("/admin/").status_code == 302  # still not in
    assert "_auth_user_id" not in client.session


def login_at(base: str, email: str, password: str, *, client_ip: str) -> httpx.Response:
    """Sign in on a real server process behind one proxy of ours, which appends the client's
    address to X-Forwarded-For."""
    page = httpx.get(f"{base}/accounts/login/")
    # The CSRF cookie is `Secure` (DEBUG is off), which httpx keeps off plain HTTP: sent by hand.
    token = page.cookies["csrftoken"]
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return httpx.post(
        f"{base}/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": form_token},
        headers={"Cookie": f"csrftoken={token}", "X-Forwarded-For": f"{client_ip}"},
    )


@pytest.mark.django_db(transaction=True)
def test_it_limits_each_client_behind_the_proxy_in_the_cache_every_process_shares() -> None:
    make_user("rita@example.com")
    attacker, colleague = "203.0.113.7", "198.51.100.9"

    with gunicorn(ALLAUTH_TRUSTED_PROXY_COUNT="1") as base:
        for n in range(10):  # 10 failed sign-ins per client address (tests/settings.py)
            failed = login_at(base, f"guess{n}@example.com", "wrong", client_ip=attacker)
            assert failed.status_code == 200 and TOO_MANY not in failed.text

        refused = login_at(base, "rita@example.com", PASSWORD, client_ip=attacker)
        assert TOO_MANY in refused.text
        # Someone else behind the same proxy is not held back by the attacker's failures.
        signed_in = login_at(base, "rita@example.com", PASSWORD, client_ip=colleague)
        assert signed_in.status_code == 302, signed_in.text

    # Another process (this one) sees the same count: the limits live in the shared cache.
    with override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1):
        assert TOO_MANY in portal_login(
            Client(), "rita@example.com", PASSWORD, HTTP_X_FORWARDED_FOR=attacker
        )
        assert (
            portal_login(Client(), "rita@example.com", PASSWORD, HTTP_X_FORWARDED_FOR=colleague)
            == "/"
        )
