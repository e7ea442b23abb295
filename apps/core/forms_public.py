"""Forms of the public site (landing page)."""
from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant
from tenants.services import SLUG_RE


def _slug_from_input(raw: str) -> str:
    """Accept "3afrios", "3afrios.example.com" or a pasted URL; return the slug part, lowercased."""
    value = raw.strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    value = value.split("/")[0].split(":")[0].strip(".")
    suffix = f".{settings.BASE_DOMAIN}"
    if value.endswith(suffix):
        value = value[: -len(suffix)]
    return value


class CompanySignInForm(forms.Form):
    """The "Sign in" box: which company's dashboard to go to."""

    company = forms.CharField(
        label=_("Your company's address"), max_length=253,
        widget=forms.TextInput(attrs={
            "class": "input", "placeholder": _("e.g. 3afrios"), "autocomplete": "organization",
            "autocapitalize": "none", "spellcheck": "false", "inputmode": "url",
        }),
    )

    def clean_company(self) -> Tenant:
        slug = _slug_from_input(self.cleaned_data["company"])
        if not SLUG_RE.match(slug):
            raise forms.ValidationError(
                _("Enter your company's address: lowercase letters, digits and hyphens, like 3afrios."),
                code="invalid",
            )
        tenant = Tenant.objects.exclude(schema_name="public").filter(schema_name=slug).first()
        if tenant is None:
            raise forms.ValidationError(_("We couldn't find this company. Check the address and try again."),
                                        code="unknown")
        return tenant
