"""Forms of the dashboard's core pages: the company profile and the user's preferences."""
from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import RegexValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Theme

LOGO_MAX_BYTES = 2 * 1024 * 1024
HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour in the form #RRGGBB, like #7C3AED."))


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
    return [(name, name.replace("_", " ")) for name in names]


class LowercaseChoiceField(forms.ChoiceField):
    """Language codes arrive as pt-BR or pt-br; the settings spell them in lowercase."""

    def to_python(self, value):
        return super().to_python(value).strip().lower()


class CompanyProfileForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=120)
    logo = forms.ImageField(
        label=_("Logo"), required=False,
        help_text=_("PNG, JPG, GIF or WebP, up to 2 MB. A square image looks best."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )
    primary_color = forms.CharField(label=_("Primary colour"), max_length=7, validators=[HEX_COLOUR],
                                    help_text=_("Buttons, links and highlights."))
    accent_color = forms.CharField(label=_("Accent colour"), max_length=7, validators=[HEX_COLOUR],
                                   help_text=_("Gradients and secondary highlights."))
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices,
                                 help_text=_("Used for opening hours, reports and schedules."))
    language = LowercaseChoiceField(label=_("Company language"), choices=settings.LANGUAGES,
                                 help_text=_("Default language for new users and customers."))
    policies = forms.CharField(
        label=_("Policies"), required=False, max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Delivery, payment and exchange policies. The AI assistant uses this text when answering customers."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = "input"
            if name in ("primary_color", "accent_color"):
                field.widget.attrs.update({"pattern": "#[0-9a-fA-F]{6}", "spellcheck": "false",
                                           "autocomplete": "off", "class": "input font-mono uppercase"})
                continue
            field.widget.attrs.setdefault("class", css)

    def clean_primary_color(self) -> str:
        return self.cleaned_data["primary_color"].upper()

    def clean_accent_color(self) -> str:
        return self.cleaned_data["accent_color"].upper()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter the company name."))
        return name

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if isinstance(logo, UploadedFile) and logo.size > LOGO_MAX_BYTES:
            raise forms.ValidationError(
                _("The logo is %(size)s; the maximum is 2 MB. Upload a smaller image."),
                params={"size": filesizeformat(logo.size)}, code="logo_too_large",
            )
        return logo

    def profile_changes(self) -> dict:
        """The fields to hand to tenants.services.tenant_update_profile."""
        data = {key: self.cleaned_data[key] for key in
                ("name", "primary_color", "accent_color", "timezone", "language", "policies")}
        logo = self.cleaned_data.get("logo")
        if logo is False:  # "clear" ticked
            data["logo"] = ""
        elif isinstance(logo, UploadedFile):
            data["logo"] = logo
        return data


class PreferencesForm(forms.Form):
    theme = forms.ChoiceField(choices=Theme.choices, required=False)
    language = LowercaseChoiceField(choices=settings.LANGUAGES, required=False)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("theme") and not data.get("language"):
            raise forms.ValidationError(_("Choose a theme or a language."))
        return data


class StyledMixin:
    """Text inputs and selects get the shared ``input`` look (full width, 44 px touch targets);
    fields with errors get aria-invalid; ``add_service_errors`` puts a service's ValidationError on
    the form (per field when it names one, else on top)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
                continue
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} input w-full min-h-11".strip()

    def full_clean(self):
        super().full_clean()
        self._mark_invalid()

    def _mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"

    def add_service_errors(self, exc, mapping: dict | None = None) -> None:
        mapping = mapping or {}
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                target = mapping.get(field, field)
                for message in messages:
                    self.add_error(target if target in self.fields else None, message)
        else:
            for message in exc.messages:
                self.add_error(None, message)
        self._mark_invalid()
