"""One setup form for every telephony provider, built from what its class declares."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from integrations.models import ProviderConnection, UnmatchedProspect
from integrations.provider import Provider, SetupField
from integrations.registry import provider_choices

KEEP_SECRET = "Leave blank to keep the saved value."


class ProviderConnectionForm(forms.Form):
    """Name and the provider's `setup_fields`; on creation also the provider, whose fields the
    form was built with (a hidden field: the page's provider chooser picks it).

    Setup fields are prefixed (`setup_<name>`), so a provider may declare any field name. Secret
    fields are password inputs that are never filled in: on an edit, left blank they keep the
    saved value.
    """

    kind = forms.ChoiceField(choices=provider_choices, label="Provider", widget=forms.HiddenInput)
    name = forms.CharField(max_length=100, help_text="So you can tell connections apart.")

    def __init__(
        self,
        *args: Any,
        provider: type[Provider],
        connection: ProviderConnection | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider
        self.editing = connection is not None
        saved = connection.setup_values() if connection is not None else {}
        self.saved = saved
        if connection is not None:
            del self.fields["kind"]
            self.fields["name"].initial = connection.name
            self.fields["log_external_calls"] = forms.BooleanField(
                label="Log calls that did not start in Outreach",
                required=False,
                initial=connection.log_external_calls,
                help_text="Outbound calls with no Outreach call id (desk phones, the phone "
                "system's own app, campaign dialers) are logged in Outreach once they end, for "
                "the rep the agent mapping names. Off: they are shown here only.",
            )
            self.fields["unmatched_prospect"] = forms.ChoiceField(
                label="When the number called matches no single prospect",
                choices=UnmatchedProspect.choices,
                required=False,
                initial=connection.unmatched_prospect,
            )
        else:
            self.fields["kind"].initial = provider.kind
        for setup in provider.setup_fields:
            self.fields[f"setup_{setup.name}"] = setup_form_field(
                setup, saved.get(setup.name, ""), editing=self.editing
            )

    def clean_kind(self) -> str:
        # The fields were built for `provider`; another kind would skip its required ones.
        if self.cleaned_data["kind"] != self.provider.kind:
            raise forms.ValidationError("Choose the provider again: the form was for another.")
        return self.cleaned_data["kind"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned  # each field's own problem first
        try:
            self.provider().check_setup({**self.saved, **self.setup_values()})
        except ValidationError as error:
            declared = {setup.name for setup in self.provider.setup_fields}
            problems = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            for name, messages in problems.items():
                self.add_error(f"setup_{name}" if name in declared else None, messages)
        return cleaned

    def setup_values(self) -> dict[str, str]:
        """The setup fields to save; a secret left blank on an edit is left out (kept)."""
        values = {}
        for setup in self.provider.setup_fields:
            value = self.cleaned_data.get(f"setup_{setup.name}", "")
            if setup.secret and self.editing and not value:
                continue
            values[setup.name] = value
        return values

    def logging_choices(self) -> dict[str, Any]:
        """Whether calls that did not start in Outreach are logged, and how (an edit only)."""
        if not self.editing:
            return {}
        return {
            "log_external_calls": bool(self.cleaned_data.get("log_external_calls")),
            "unmatched_prospect": self.cleaned_data.get("unmatched_prospect")
            or UnmatchedProspect.LOG,
        }


def setup_form_field(setup: SetupField, saved: str, *, editing: bool) -> forms.CharField:
    """A text input for a setup field; a password input never filled in for a secret one."""
    if setup.secret:
        return forms.CharField(
            label=setup.label,
            max_length=setup.max_length,
            # A saved secret may stay as it is; a new one is needed the first time.
            required=setup.required and not (editing and saved),
            help_text=f"{setup.help_text} {KEEP_SECRET}".strip() if editing else setup.help_text,
            widget=forms.PasswordInput(render_value=False),
        )
    return forms.CharField(
        label=setup.label,
        max_length=setup.max_length,
        required=setup.required,
        help_text=setup.help_text,
        initial=saved,
    )


class RepSignInForm(forms.Form):
    """A rep's own sign-in at a connection's phone system: its provider's `rep_fields`."""

    def __init__(self, *args: Any, provider: type[Provider], saved: dict[str, str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.provider = provider
        self.editing = bool(saved)
        for setup in provider.rep_fields:
            self.fields[setup.name] = setup_form_field(
                setup, saved.get(setup.name, ""), editing=self.editing
            )

    def values(self) -> dict[str, str]:
        """The values to save; a secret left blank on an edit is left out (kept)."""
        return {
            setup.name: self.cleaned_data.get(setup.name, "")
            for setup in self.provider.rep_fields
            if not (setup.secret and self.editing and not self.cleaned_data.get(setup.name))
        }
