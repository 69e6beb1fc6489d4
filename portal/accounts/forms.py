from __future__ import annotations

from typing import Any, cast

from django import forms

from portal.tenancy.models import Membership


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where you will use it, e.g. 'Chrome laptop'.")
    organization = forms.ChoiceField(label="Organisation")
    lifetime_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Leave empty for a token that lasts until you revoke it.",
    )

    def __init__(self, *args: Any, memberships: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.memberships = {str(m.organization_id): m for m in memberships}
        cast(forms.ChoiceField, self.fields["organization"]).choices = [
            (key, m.organization.name) for key, m in self.memberships.items()
        ]
