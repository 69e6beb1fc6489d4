from __future__ import annotations

from typing import Any

from django import forms

from calls.models import AgentIdentityKind
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
