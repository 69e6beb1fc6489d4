"""A CCAI Platform connection's setup values, read and checked once for everything that uses them.

The API lives at `https://{subdomain}.{domain}/apps/api/v1` (the seed's endpoints), reached with
HTTP Basic auth: the API user (the company key of Settings > Developer Settings) and its token.
`CCAI_API_URL` (a setting, for the tests' local fake only) may point it elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

SUBDOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
DOMAIN = re.compile(r"[a-z0-9.-]+(:\d{1,5})?", re.IGNORECASE)
LANG = re.compile(r"[a-z]{2}", re.IGNORECASE)  # ISO 639-1, as the API takes it
DEFAULT_REQUESTS_PER_SECOND = 5.0  # half of the platform's ~10 per customer
MAX_REQUESTS_PER_SECOND = 10.0
DEFAULT_MANUAL_WAIT = timedelta(seconds=60)


@dataclass(frozen=True)
class CcaiSetup:
    subdomain: str
    domain: str
    api_user: str
    api_token: str
    outbound_number: str = ""
    lang: str = "en"
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    manual_wait: timedelta = DEFAULT_MANUAL_WAIT

    @property
    def api_url(self) -> str:
        return str(settings.CCAI_API_URL).format(subdomain=self.subdomain, domain=self.domain)

    @property
    def host(self) -> str:
        return f"{self.subdomain}.{self.domain}"

    @property
    def interval(self) -> timedelta:
        """The time between two of our requests: the connection's share of the limit."""
        return timedelta(seconds=1 / self.requests_per_second)


def setup_problems(values: dict[str, str]) -> dict[str, str]:
    """What is wrong with the values as written, by field (before asking the platform)."""
    problems = {}
    if not SUBDOMAIN.fullmatch(values.get("subdomain", "")):
        problems["subdomain"] = (
            "Only the first part of your portal's address: “acme” for acme.ccaiplatform.com."
        )
    if not DOMAIN.fullmatch(values.get("domain", "")) or "." not in values.get("domain", ""):
        problems["domain"] = (
            "The rest of your portal's address, e.g. “ccaiplatform.com” or “ujet.co”."
        )
    if values.get("lang") and not LANG.fullmatch(values["lang"]):
        problems["lang"] = "A two-letter ISO 639-1 code, e.g. “en”."
    try:
        rate = float(values.get("requests_per_second") or DEFAULT_REQUESTS_PER_SECOND)
    except ValueError:
        rate = 0
    if not 0 < rate <= MAX_REQUESTS_PER_SECOND:
        problems["requests_per_second"] = (
            f"A number above 0 and at most {MAX_REQUESTS_PER_SECOND:g} (the platform's own "
            "limit per customer, which your other integrations share)."
        )
    try:
        wait = int(values.get("manual_wait_seconds") or 60)
    except ValueError:
        wait = 0
    if not 10 <= wait <= 600:
        problems["manual_wait_seconds"] = "Whole seconds from 10 to 600."
    return problems


def setup_of(values: dict[str, str]) -> CcaiSetup:
    return CcaiSetup(
        subdomain=values.get("subdomain", "").strip().lower(),
        domain=values.get("domain", "").strip().lower(),
        api_user=values.get("api_user", ""),
        api_token=values.get("api_token", ""),
        outbound_number=values.get("outbound_number", "").strip(),
        lang=(values.get("lang") or "en").strip().lower(),
        requests_per_second=float(values.get("requests_per_second") or DEFAULT_REQUESTS_PER_SECOND),
        manual_wait=timedelta(seconds=int(values.get("manual_wait_seconds") or 60)),
    )
