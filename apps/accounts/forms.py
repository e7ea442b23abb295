from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True,
                                                                                "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("Wrong email or password. After 5 failed attempts the login is locked for 15 minutes."),
        "inactive": _("This account is deactivated. Ask your company's admin."),
    }
