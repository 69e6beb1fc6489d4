"""Recording and voicemail links a rep can play: Outreach gets a link of ours, not Twilio's media
URL (which needs the account's credentials when the account enforces HTTP auth on media, and
Outreach will not authenticate on the user's behalf).

A link names the connection, the recording and the organisation's link generation, signed with
`SECRET_KEY` (Django's `Signer`): unguessable, within Outreach's 255 characters, and not expiring
on its own. Revoking an organisation's links moves its generation on, so every link it gave out
before stops working (including those already in Outreach). The view (`views.py`) streams the
media from Twilio with the connection's credentials, Range passed through, or redirects to the
short-lived URL Twilio redirects to; every request is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.signing import BadSignature, Signer
from django.urls import reverse

if TYPE_CHECKING:
    from integrations.models import ProviderConnection

SALT = "callbridge.twilio.recording-link"
RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class LinkNames:
    connection_id: int
    recording_sid: str
    generation: int


def recording_link(connection: ProviderConnection, recording_sid: str) -> str:
    generation = connection.organization.recording_links_generation
    token = Signer(salt=SALT).sign(f"{connection.pk}.{recording_sid}.{generation}")
    # About 110 characters after PUBLIC_BASE_URL: within RECORDING_URL_MAX for any sane host.
    return settings.PUBLIC_BASE_URL + reverse("twilio_recording", kwargs={"token": token})


def read_link(token: str) -> LinkNames | None:
    """What a link names, or None when it is not one of ours (tampered, made up)."""
    try:
        value = Signer(salt=SALT).unsign(token)
    except BadSignature:
        return None
    connection_id, recording_sid, generation = [*value.split("."), "", "", ""][:3]
    if not (connection_id.isdigit() and generation.isdigit()):
        return None
    if not RECORDING_SID.fullmatch(recording_sid):
        return None
    return LinkNames(int(connection_id), recording_sid, int(generation))
