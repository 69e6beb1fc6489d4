from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import phonenumbers
from django import forms

from calls.models import AgentIdentityKind, AgentMapping, CallStatus
from calls.selectors import CallFilters
from integrations.events import Direction, normalise_number
from integrations.models import ProviderConnection
from portal.tenancy.models import Membership, Organization


class AgentMappingForm(forms.Form):
    kind = forms.ChoiceField(choices=AgentIdentityKind.choices, label="Agent identity")
    value = forms.CharField(max_length=254, help_text="As the provider reports it.")
    outreach_user = forms.CharField(
        max_length=254,
        label="Outreach user",
        help_text="Their email in Outreach (looked up in your Outreach org), or their user id.",
    )
    member = forms.ChoiceField(
        required=False,
        label="Portal member",
        help_text="Optional: the rep this agent is, so their click-to-dial knows them without "
        "connecting their own Outreach user.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = {
            str(m.user_id): m.user
            for m in Membership.objects.for_organization(organization).select_related("user")
        }
        member = self.fields["member"]
        assert isinstance(member, forms.ChoiceField)  # declared as one below
        member.choices = [("", "—")] + [(key, user.email) for key, user in self.members.items()]

    def member_user(self) -> Any:
        return self.members.get(self.cleaned_data.get("member") or "")


class CallFilterForm(forms.Form):
    """The calls list's search and filters, read from the URL. Every field is optional."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="A phone number, the provider's call id or Outreach's call id.",
    )
    direction = forms.ChoiceField(
        required=False, choices=[("", "Any direction"), *((d, d) for d in Direction)]
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *CallStatus.choices])
    provider = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    agent = forms.ChoiceField(required=False, label="Agent")
    attention = forms.BooleanField(required=False, label="Needs attention only")
    since = forms.DateField(
        required=False, label="From (UTC)", widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To (UTC, inclusive)", widget=forms.DateInput({"type": "date"})
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        provider = self.fields["provider"]
        assert isinstance(provider, forms.TypedChoiceField)
        provider.choices = [("", "Any connection")] + [
            (str(c.pk), c.name)
            for c in ProviderConnection.objects.for_organization(organization).order_by("name")
        ]
        agent = self.fields["agent"]
        assert isinstance(agent, forms.ChoiceField)
        mapped = (
            AgentMapping.objects.for_organization(organization)
            .order_by("outreach_user_id", "value")
            .values_list("outreach_user_id", "value")
        )
        agents: dict[str, list[str]] = {}
        for outreach_user_id, value in mapped:
            agents.setdefault(outreach_user_id, []).append(value)
        agent.choices = [("", "Any agent")] + [
            (user_id, f"{', '.join(values)} (Outreach user {user_id})")
            for user_id, values in agents.items()
        ]

    def filters(self) -> CallFilters:
        """What was asked, the fields that did not validate left out (the page says which)."""
        data = getattr(self, "cleaned_data", {}) if self.is_bound else {}
        search = (data.get("q") or "").strip()
        since, until = data.get("since"), data.get("until")
        return CallFilters(
            phones=phone_candidates(search, region=self.organization.default_region),
            call_id=search,
            direction=data.get("direction") or "",
            status=data.get("status") or "",
            connection_id=data.get("provider"),
            outreach_user_id=data.get("agent") or "",
            needs_attention=bool(data.get("attention")),
            since=_midnight(since) if since else None,
            until=_midnight(until) + timedelta(days=1) if until else None,
        )


def phone_candidates(search: str, *, region: str) -> tuple[str, ...]:
    """How a phone number someone typed may be stored: E.164 (what calls keep when their
    provider's number parses), read in the organisation's region, with or without a country
    code; and as typed. Empty when the search has no digits."""
    if not search or not any(ch.isdigit() for ch in search):
        return ()
    forms = [normalise_number(search, default_region=region).e164, search]
    try:
        possible = phonenumbers.parse(search, region or None)
        if phonenumbers.is_possible_number(possible):
            forms.append(phonenumbers.format_number(possible, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    digits = "".join(ch for ch in search if ch.isdigit())
    forms.append("+" + digits)
    return tuple(dict.fromkeys(form for form in forms if form))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
