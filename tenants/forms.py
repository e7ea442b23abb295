"""Forms of the SaaS-owner admin for tenants."""
from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminEmailInputWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from apps.billing.models import Plan

from .errors import TenantError

# TenantError codes that are about the address the SaaS owner typed
SLUG_ERRORS = {"slug_invalid", "slug_reserved", "slug_taken", "domain_taken"}


def generate_password() -> str:
    return secrets.token_urlsafe(12)


class TenantAddForm(forms.Form):
    """Everything ``tenants.services.provision_tenant`` needs; it does the validation of the slug."""

    name = forms.CharField(label=_("Company name"), max_length=120, widget=UnfoldAdminTextInputWidget)
    slug = forms.CharField(
        label=_("Address (slug)"), max_length=30, widget=UnfoldAdminTextInputWidget,
        help_text=format_lazy(
            _("Lowercase letters, digits and hyphens, e.g. 3afrios. The company's dashboard will be at "
              "3afrios.{domain}; the address cannot be changed later."),
            domain=settings.BASE_DOMAIN,
        ),
    )
    owner_email = forms.EmailField(label=_("Owner email"), widget=UnfoldAdminEmailInputWidget)
    owner_name = forms.CharField(label=_("Owner name"), max_length=150, required=False,
                                 widget=UnfoldAdminTextInputWidget)
    owner_password = forms.CharField(
        label=_("Owner password"), required=False, strip=False,
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text=_("Leave blank to generate one; it is shown once after the company is created."),
    )
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.all(), required=False,
                                  empty_label=_("Default plan"), widget=UnfoldAdminSelectWidget)

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].strip().lower()

    def clean_owner_email(self) -> str:
        return self.cleaned_data["owner_email"].strip().lower()

    def clean_owner_password(self) -> str:
        password = self.cleaned_data.get("owner_password") or ""
        if password:
            validate_password(password)
        return password

    def provision_kwargs(self) -> dict:
        """Arguments for provision_tenant; a blank password is replaced by a generated one."""
        data = self.cleaned_data
        return {
            "name": data["name"], "slug": data["slug"], "owner_email": data["owner_email"],
            "owner_name": data.get("owner_name") or "", "owner_password": data.get("owner_password") or generate_password(),
            "plan": data.get("plan"),
        }

    def add_tenant_error(self, error: TenantError) -> None:
        self.add_error("slug" if error.code in SLUG_ERRORS else None, error.message)
