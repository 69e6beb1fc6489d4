from __future__ import annotations

from typing import Any

from django import forms

from portal.tenancy.models import Organization


class OrganizationDeleteForm(forms.Form):
    """Deleting cannot be undone: the person types the organisation's short name to confirm."""

    confirm = forms.CharField(label="Type the organisation's short name to confirm")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["confirm"].help_text = f"Its short name is “{organization.slug}”."

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.organization.slug:
            raise forms.ValidationError(
                f"That is not “{self.organization.slug}”; nothing was deleted."
            )
        return typed
