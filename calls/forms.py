from __future__ import annotations

from django import forms

from calls.models import AgentIdentityKind


class AgentMappingForm(forms.Form):
    kind = forms.ChoiceField(choices=AgentIdentityKind.choices, label="Agent identity")
    value = forms.CharField(max_length=254, help_text="As the provider reports it.")
    outreach_user = forms.CharField(
        max_length=254,
        label="Outreach user",
        help_text="Their email in Outreach (looked up in your Outreach org), or their user id.",
    )
