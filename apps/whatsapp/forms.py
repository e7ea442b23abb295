"""Forms of the Connections and Simulator pages."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Team
from apps.core.forms import StyledMixin

from .models import Connection, Provider


def _secret(label, help_text=""):
    return forms.CharField(label=label, required=False, max_length=1000, help_text=help_text,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))


class ConnectionAddForm(StyledMixin, forms.Form):
    """Add a number: pick the provider, name it; Cloud API also needs its credentials."""

    provider = forms.ChoiceField(label=_("Kind"), choices=Provider.choices, widget=forms.RadioSelect,
                                 initial=Provider.EVOLUTION)
    name = forms.CharField(label=_("Name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. Sales, Store 1")}))
    default_team = forms.ModelChoiceField(label=_("Default team"), queryset=Team.objects.none(), required=False,
                                          empty_label=_("No team"))
    phone_number_id = forms.CharField(label=_("Phone number ID"), required=False, max_length=120,
                                      help_text=_("In Meta's dashboard: WhatsApp > API Setup."))
    waba_id = forms.CharField(label=_("WhatsApp Business Account ID"), required=False, max_length=120)
    access_token = _secret(_("Access token"), _("A permanent System User token with whatsapp_business_messaging."))
    app_secret = _secret(_("App secret"), _("In Meta's dashboard: App settings > Basic. Used to verify webhooks."))
    verify_token = forms.CharField(label=_("Verify token"), required=False, max_length=200,
                                   help_text=_("Leave blank to generate one; paste it in Meta's webhook settings."))

    CLOUD_REQUIRED = ("phone_number_id", "access_token", "app_secret")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_team"].queryset = Team.objects.order_by("name")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the connection a name."))
        if Connection.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(_("There is already a connection with this name."))
        return name

    def clean(self):
        data = super().clean()
        if data.get("provider") == Provider.CLOUD_API:
            for field in self.CLOUD_REQUIRED:
                if not (data.get(field) or "").strip():
                    self.add_error(field, _("Required for the WhatsApp Cloud API."))
            pid = (data.get("phone_number_id") or "").strip()
            if pid and not pid.isdigit():
                self.add_error("phone_number_id", _("The phone number ID is a number, like 106540352242922."))
            elif pid and Connection.objects.filter(provider=Provider.CLOUD_API, instance_name=pid).exists():
                self.add_error("phone_number_id", _("This phone number ID is already connected."))
        return data


class CloudSettingsForm(StyledMixin, forms.Form):
    """Edit a Cloud API number's credentials; secret fields left blank keep their stored value."""

    name = forms.CharField(label=_("Name"), max_length=80)
    default_team = forms.ModelChoiceField(label=_("Default team"), queryset=Team.objects.none(), required=False,
                                          empty_label=_("No team"))
    phone_number_id = forms.CharField(label=_("Phone number ID"), max_length=120)
    waba_id = forms.CharField(label=_("WhatsApp Business Account ID"), required=False, max_length=120)
    access_token = _secret(_("Access token"), _("Leave blank to keep the current one."))
    app_secret = _secret(_("App secret"), _("Leave blank to keep the current one."))
    verify_token = forms.CharField(label=_("Verify token"), required=False, max_length=200,
                                   help_text=_("Leave blank to keep the current one."))

    def __init__(self, *args, connection: Connection, **kwargs):
        self.connection = connection
        super().__init__(*args, **kwargs)
        self.fields["default_team"].queryset = Team.objects.order_by("name")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Connection.objects.filter(name__iexact=name).exclude(pk=self.connection.pk).exists():
            raise forms.ValidationError(_("There is already a connection with this name."))
        return name

    def clean_phone_number_id(self):
        pid = self.cleaned_data["phone_number_id"].strip()
        if not pid.isdigit():
            raise forms.ValidationError(_("The phone number ID is a number, like 106540352242922."))
        if Connection.objects.filter(provider=Provider.CLOUD_API, instance_name=pid).exclude(
                pk=self.connection.pk).exists():
            raise forms.ValidationError(_("This phone number ID is already connected."))
        return pid


class ConnectionSettingsForm(StyledMixin, forms.Form):
    """Name and default team of an Evolution or sandbox number."""

    name = forms.CharField(label=_("Name"), max_length=80)
    default_team = forms.ModelChoiceField(label=_("Default team"), queryset=Team.objects.none(), required=False,
                                          empty_label=_("No team"))

    def __init__(self, *args, connection: Connection, **kwargs):
        self.connection = connection
        super().__init__(*args, **kwargs)
        self.fields["default_team"].queryset = Team.objects.order_by("name")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Connection.objects.filter(name__iexact=name).exclude(pk=self.connection.pk).exists():
            raise forms.ValidationError(_("There is already a connection with this name."))
        return name


class SimulatorForm(StyledMixin, forms.Form):
    """One customer message typed in the simulator."""

    connection = forms.ModelChoiceField(label=_("Sandbox number"), queryset=Connection.objects.none(),
                                        empty_label=None)
    name = forms.CharField(label=_("Customer name"), max_length=120)
    phone = forms.CharField(label=_("Customer phone"), max_length=20,
                            help_text=_("With country and area code, e.g. +55 11 98765-4321."))
    text = forms.CharField(label=_("Message"), max_length=4096, strip=True,
                           error_messages={"required": _("Type a message to send.")},
                           widget=forms.Textarea(attrs={"rows": 1}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = sandbox_connections()

    def clean_phone(self):
        from apps.crm.phones import normalize_phone

        phone = normalize_phone(self.cleaned_data["phone"])
        if not phone:
            raise forms.ValidationError(_("Enter a phone number with 8 to 15 digits, e.g. +55 11 98765-4321."))
        return phone

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the customer a name."))
        return name


class SimulatorCustomerForm(StyledMixin, forms.Form):
    """Which conversation the transcript / reset is about."""

    connection = forms.ModelChoiceField(queryset=Connection.objects.none(), empty_label=None)
    phone = forms.CharField(max_length=20)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = sandbox_connections()

    clean_phone = SimulatorForm.clean_phone


def sandbox_connections():
    return Connection.objects.filter(provider=Provider.SANDBOX, is_active=True).order_by("name", "id")
