from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.core.mail import EmailMessage
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .models import Team, Theme, User
from .roles import Role

AVATAR_MAX_BYTES = 2 * 1024 * 1024


class StyledMixin:
    """Gives text inputs and selects the shared ``input`` look with 44 px touch targets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple, forms.FileInput)):
                continue
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} input w-full min-h-11".strip()


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True,
                                                                                "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("Wrong email or password. After 5 failed attempts the login is locked for 15 minutes."),
        "inactive": _("This account is deactivated. Ask your company's admin."),
    }


class ProfileForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    avatar = forms.ImageField(label=_("Photo"), required=False, widget=forms.ClearableFileInput(
        attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
        help_text=_("PNG, JPG, WebP or GIF, up to 2 MB."))
    language = forms.ChoiceField(label=_("Language"), required=False)
    theme = forms.ChoiceField(label=_("Theme"), choices=Theme.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Company default"))] + list(settings.LANGUAGES)

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if avatar and getattr(avatar, "size", 0) > AVATAR_MAX_BYTES:
            raise forms.ValidationError(
                _("The photo is %(size)s; the maximum is 2 MB.") % {"size": filesizeformat(avatar.size)})
        return avatar


class InvitationForm(StyledMixin, forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AGENT)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False,
                                  empty_label=_("No team"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.order_by("name")


class RoleForm(StyledMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class TeamForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=80)
    members = forms.ModelMultipleChoiceField(label=_("Members"), queryset=User.objects.none(), required=False,
                                             widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = User.objects.filter(is_active=True).order_by("name", "email")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the team a name."))
        return name


class InvitationAcceptForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150,
                           widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}))
    password1 = forms.CharField(label=_("Password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=password_validation.password_validators_help_text_html())
    password2 = forms.CharField(label=_("Password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords do not match."))
        elif password1:
            try:
                password_validation.validate_password(
                    password1, user=User(email=self.email, name=cleaned.get("name", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class TenantPasswordResetForm(StyledMixin, PasswordResetForm):
    """Sends the reset email in the user's language (the company's when the user has none); the
    link points at the host the request came to, i.e. the company's own domain."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        user = context.get("user")
        tenant = getattr(connection, "tenant", None)
        is_company = getattr(tenant, "schema_name", "public") != "public"
        language = (getattr(user, "language", "") or (tenant.language if is_company else "")
                    or settings.LANGUAGE_CODE)
        with translation.override(language):
            context = {**context, "company": tenant if is_company else None}
            subject = "".join(render_to_string(subject_template_name, context).splitlines())
            body = render_to_string(email_template_name, context)
        EmailMessage(subject, body, from_email, [to_email], headers={"Content-Language": language}).send()


class StyledPasswordChangeForm(StyledMixin, PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # it shares the profile page: do not steal the focus from the top of the page
        self.fields["old_password"].widget.attrs.pop("autofocus", None)


class StyledSetPasswordForm(StyledMixin, SetPasswordForm):
    pass
