"""The normalised call event every provider class produces (`integrations/provider.py`).

It says what happened on the phone (a `Happening` from calls.rules), never what to tell Outreach:
deciding that is the rules' job. A provider's `parse` and `fetch_call_state` fill it from the
provider's payload; the inbox stores it with the raw payload beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers

from calls.rules import Direction, Happening


@dataclass(frozen=True, kw_only=True)
class AgentIdentity:
    """Whatever the provider tells us about the agent; any one field may find the mapping."""

    email: str = ""
    extension: str = ""
    phone: str = ""
    id: str = ""

    def as_dict(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


@dataclass(frozen=True, kw_only=True)
class PhoneNumber:
    raw: str
    e164: str  # empty when the raw value does not parse as a valid number

    @property
    def best(self) -> str:
        return self.e164 or self.raw


@dataclass(frozen=True, kw_only=True)
class CallEvent:
    dedup_key: str  # unique per provider connection: a repeat is a duplicate
    provider: str
    provider_call_id: str
    direction: Direction
    happening: Happening
    occurred_at: datetime
    outreach_call_id: str = ""  # known for outbound calls: Outreach created them
    from_number: PhoneNumber | None = None
    to_number: PhoneNumber | None = None
    extension: str = ""
    agent: AgentIdentity = field(default_factory=AgentIdentity)
    link: str = ""  # recording_ready / voicemail_left
    raw: Any = None  # the provider's payload for this event, as received


def normalise_number(raw: str, *, default_region: str) -> PhoneNumber:
    """E.164 through phonenumbers; numbers without a country code are read in the organisation's
    region. A value that does not parse is kept as it came, so nothing is lost."""
    raw = raw.strip()
    try:
        parsed = phonenumbers.parse(raw, default_region or None)
    except phonenumbers.NumberParseException:
        return PhoneNumber(raw=raw, e164="")
    if not phonenumbers.is_valid_number(parsed):
        return PhoneNumber(raw=raw, e164="")
    return PhoneNumber(
        raw=raw, e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    )
