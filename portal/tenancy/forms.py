from __future__ import annotations

import phonenumbers
from django import forms

from portal.tenancy.models import Role


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


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
