"""The call event vocabulary: what every provider class produces and the core consumes.

A contract module both sides import (providers in `integrations/`, the inbox and the rules in
`calls/`), pure like the rules: no Django. An event says what happened on the phone (a
`Happening`), never what to tell Outreach: deciding that is `calls.rules`' job. A provider's
`parse` and `fetch_call_state` fill it from the provider's payload; the inbox stores it with the
raw payload beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers

# Outreach's column sizes for recordingUrl and voicemailUrl: a longer link is refused, so a
# provider refuses it at the door and the rules never send it.
RECORDING_URL_MAX = 255
VOICEMAIL_URL_MAX = 1024


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Happening(StrEnum):
    """What happened on the phone; calls.rules maps each to Outreach's states and links."""

    DIALLING = "dialling"
    RINGING = "ringing"
    ANSWERED = "answered"
    ANSWERED_BY_VOICEMAIL = "answered_by_voicemail"
    REJECTED = "rejected"
    NOT_ANSWERED = "not_answered"
    CALLER_HUNG_UP = "caller_hung_up"
    SETUP_FAILED = "setup_failed"
    ENDED = "ended"
    RECORDING_READY = "recording_ready"
    VOICEMAIL_LEFT = "voicemail_left"


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
