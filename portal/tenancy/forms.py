from __future__ import annotations

import phonenumbers
from django import forms

from portal.tenancy.models import MINIMUM_AUDIT_RETENTION_DAYS, Role


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200)
    default_region = forms.CharField(
        max_length=2,
        initial="US",
        help_text="Country whose numbering plan reads phone numbers given without a country "
        "code (ISO 3166, e.g. US, GB, DE).",
    )

    def clean_default_region(self) -> str:
        region = self.cleaned_data["default_region"].upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(f"{region} is not a country code phonenumbers knows.")
        return region


class OrganizationSettingsForm(OrganizationForm):
    settle_seconds = forms.IntegerField(
        min_value=0,
        max_value=120,
        initial=5,
        label="Settle time (seconds)",
        help_text="How long a call's final state waits for events that happened earlier but "
        "arrive later (a provider's retry). 5 s catches a typical retry; longer delays every "
        "call's outcome in Outreach by as much.",
    )
    give_up_hours = forms.IntegerField(
        min_value=1,
        max_value=72,
        initial=4,
        label="Give up after (hours)",
        help_text="A call whose provider never says how it ended is closed this long after its "
        "last event (completed if anyone answered, otherwise failed), and delivery stops "
        "retrying an hour later.",
    )

    call_retention_days = forms.IntegerField(
        min_value=7,
        max_value=3650,
        initial=90,
        label="Keep finished calls (days)",
        help_text="A call that is up to date in Outreach, or failed, is deleted this long after "
        "its last event, with what the provider sent and every request to Outreach. Calls still "
        "in progress or held are never deleted. Outreach keeps its own copy.",
    )
    audit_retention_days = forms.IntegerField(
        min_value=MINIMUM_AUDIT_RETENTION_DAYS,
        max_value=3650,
        initial=365,
        label="Keep the audit trail (days)",
        help_text="Who changed what, staff visits, deliveries. Deleting old entries is itself "
        "recorded in the platform's audit trail.",
    )
    recording_links_need_sign_in = forms.BooleanField(
        required=False,
        label="Recording links need a sign-in",
        help_text="Recording and voicemail links in Outreach play only for members signed in "
        "to this portal. Off: anyone holding a link can play it (links are unguessable).",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
