"""How the sandbox is started: the registered OAuth client and the limits, with defaults that match
the portal's development settings, and the command-line options shared by
`python manage.py outreach_sandbox` and `python -m outreach_sandbox`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/accounts/outreach/login/callback/",
    "http://localhost:8000/accounts/outreach/login/callback/",
)


@dataclass(frozen=True)
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    client_id: str = "callbridge-dev"
    client_secret: str = "callbridge-dev-secret"
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
    # Outreach's documented figures (seeds/README.md): tokens last 7200 s, refresh tokens expire
    # after 14 days unused, one mint per user per 60 s, 10,000 requests per user per hour.
    access_token_lifetime: int = 7200
    refresh_token_lifetime: int = 14 * 24 * 3600
    mint_window: int = 60
    rate_limit_per_hour: int = 10_000
    # The words a logged call's outcome must use: "reference" (001: "Answered" / "Not
    # Answered") or "guide" (003: "completed" / "no_answer").
    outcome_vocabulary: str = "reference"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SandboxOptions()
    parser.add_argument("--host", default=defaults.host, help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        dest="redirect_uris",
        help="an allowed redirect URI besides the portal's development ones (repeatable)",
    )
    parser.add_argument(
        "--token-lifetime", type=int, default=defaults.access_token_lifetime, help="seconds"
    )
    parser.add_argument(
        "--refresh-token-lifetime",
        type=int,
        default=defaults.refresh_token_lifetime,
        help="seconds a refresh token may stay unused",
    )
    parser.add_argument(
        "--mint-window",
        type=int,
        default=defaults.mint_window,
        help="seconds between two access tokens for one user (0 disables)",
    )
    parser.add_argument(
        "--rate-limit", type=int, default=defaults.rate_limit_per_hour, help="requests/user/hour"
    )
    parser.add_argument(
        "--outcome-vocabulary",
        choices=("reference", "guide"),
        default=defaults.outcome_vocabulary,
        help="the words a logged call's outcome must use (001's, or 003's guide's)",
    )


def options_from_arguments(arguments: Mapping[str, Any]) -> SandboxOptions:
    extra = [uri for uri in arguments["redirect_uris"] if uri not in DEFAULT_REDIRECT_URIS]
    return SandboxOptions(
        host=str(arguments["host"]),
        port=int(arguments["port"]),
        client_id=str(arguments["client_id"]),
        client_secret=str(arguments["client_secret"]),
        redirect_uris=(*DEFAULT_REDIRECT_URIS, *extra),
        access_token_lifetime=int(arguments["token_lifetime"]),
        refresh_token_lifetime=int(arguments["refresh_token_lifetime"]),
        mint_window=int(arguments["mint_window"]),
        rate_limit_per_hour=int(arguments["rate_limit"]),
        outcome_vocabulary=str(arguments.get("outcome_vocabulary") or "reference"),
    )
