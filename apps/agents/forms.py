"""Forms of the AI pages: the assistant (in sections), model providers (write-only key), the
tenant's AI settings, a number's default assistant, and the AI activity filters.

Forms parse and check the shape of the input; the services apply the domain rules again (the
API goes straight to them), so a rule lives in ``services/assistants.py`` / ``providers.py``."""
from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Team
from apps.knowledge.models import Document
from apps.core.forms import StyledMixin

from .defaults import MESSAGE_FIELDS, default_messages
from .models import Assistant, DecisionAction, ModelProvider, Purpose, Tone
from .services import assistants as assistant_services

COMMON_TIME_ZONES = ("America/Sao_Paulo", "America/Manaus", "America/Belem", "America/Fortaleza",
                     "America/Recife", "America/Bahia", "America/Cuiaba", "America/Porto_Velho",
                     "America/Rio_Branco", "America/Noronha", "America/Argentina/Buenos_Aires", "America/Santiago",
                     "America/Bogota", "America/Lima", "America/Mexico_City", "America/New_York", "Europe/Lisbon",
                     "Europe/Madrid", "UTC")


def _time_input():
    return forms.TimeInput(format="%H:%M", attrs={"type": "time", "class": "tabular-nums"})


# --- assistant -----------------------------------------------------------------------------------

class AssistantForm(StyledMixin, forms.Form):
    """Identity, persona, messages, behaviour, model. A blank message uses the default text of the
    chosen tone (shown as the placeholder)."""

    SECTIONS = {
        "identity": ("name", "description", "purpose"),
        "persona": ("master_prompt", "tone"),
        "messages": MESSAGE_FIELDS,
        "behaviour": ("confidence_threshold", "memory_size", "handoff_team", "typing_presence",
                      "reply_delay_seconds", "is_active"),
        "tools": ("enabled_tools",),
        "knowledge": ("documents",),
        "model": ("provider",),
    }

    name = forms.CharField(label=_("Name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. Ana, the 3A Frios assistant")}))
    description = forms.CharField(label=_("Description"), max_length=255, required=False,
                                  help_text=_("For your team: what this assistant is for."))
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices, initial=Purpose.SERVICE)
    master_prompt = forms.CharField(
        label=_("Master prompt"), required=False, max_length=8000,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": _(
            "Who the assistant is and the rules it follows. E.g.: You are Ana, from 3A Frios. Be brief and "
            "friendly. Never promise delivery times.")}),
        help_text=_("The persona and the rules. Prices, stock and policies come from the knowledge base, not "
                    "from here."))
    tone = forms.ChoiceField(label=_("Tone"), choices=Tone.choices, initial=Tone.CASUAL)
    greeting_message = forms.CharField(label=_("Greeting"), required=False, max_length=1000,
                                       widget=forms.Textarea(attrs={"rows": 2}))
    fallback_message = forms.CharField(label=_("Fallback when unsure"), required=False, max_length=1000,
                                       widget=forms.Textarea(attrs={"rows": 2}),
                                       help_text=_("Sent when the assistant hands the customer to your team."))
    wait_message = forms.CharField(label=_("\"Please wait\" message"), required=False, max_length=1000,
                                   widget=forms.Textarea(attrs={"rows": 2}))
    return_message = forms.CharField(label=_("When the assistant returns"), required=False, max_length=1000,
                                     widget=forms.Textarea(attrs={"rows": 2}),
                                     help_text=_("Sent when a conversation comes back to the AI after your team "
                                                 "was away."))
    outside_hours_message = forms.CharField(label=_("Outside business hours"), required=False, max_length=1000,
                                            widget=forms.Textarea(attrs={"rows": 2}))
    confidence_threshold = forms.FloatField(
        label=_("Confidence threshold"), min_value=0, max_value=1, initial=0.5,
        widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "1", "inputmode": "decimal"}),
        help_text=_("0 to 1. Below it the assistant does not guess: it sends the fallback and calls your team. "
                    "Higher = more careful."))
    memory_size = forms.IntegerField(label=_("Messages remembered"), min_value=1, max_value=50, initial=10,
                                     widget=forms.NumberInput(attrs={"min": "1", "max": "50"}),
                                     help_text=_("How many earlier messages of the conversation it reads (1 to 50)."))
    handoff_team = forms.ModelChoiceField(label=_("Hand-off team"), queryset=Team.objects.none(), required=False,
                                          empty_label=_("Anyone (no team)"),
                                          help_text=_("Who is called when the assistant hands a customer over."))
    enabled_tools = forms.MultipleChoiceField(label=_("What it may do"), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    documents = forms.ModelMultipleChoiceField(
        label=_("Knowledge documents"), queryset=Document.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: the assistant reads every document of the knowledge base."))
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, initial="America/Sao_Paulo",
                                widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off",
                                                              "spellcheck": "false"}))
    typing_presence = forms.BooleanField(label=_("Show \"typing…\" before answering"), required=False,
                                         initial=True)
    reply_delay_seconds = forms.DecimalField(
        label=_("Human-like delay (seconds)"), min_value=0, max_value=30, max_digits=4, decimal_places=1,
        initial=0, widget=forms.NumberInput(attrs={"step": "0.5", "min": "0", "max": "30", "inputmode": "decimal"}),
        help_text=_("A short pause before each answer, 0 to 30 seconds."))
    provider = forms.ModelChoiceField(label=_("Model provider"), queryset=ModelProvider.objects.none(),
                                      required=False, empty_label=_("The company default"))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handoff_team"].queryset = Team.objects.order_by("name")
        self.fields["documents"].queryset = Document.objects.order_by("title")
        self.fields["provider"].queryset = ModelProvider.objects.order_by("-is_default", "name")
        self.fields["enabled_tools"].choices = assistant_services.tool_choices()
        for day in assistant_services.WEEKDAYS:
            for suffix, label in (("open", _("Opens")), ("close", _("Closes")), ("open2", _("Opens again")),
                                  ("close2", _("Closes again"))):
                # the short label: the row is a group named after the day
                field = forms.CharField(label=label, required=False, max_length=8, widget=_time_input())
                field.widget.attrs["class"] = "input w-full min-h-11 tabular-nums"
                self.fields[f"hours_{day}_{suffix}"] = field
        # blank message = the tone's default: show it as the placeholder, and follow the tone select
        tone = (self.data.get("tone") if self.is_bound else self.initial.get("tone")) or Tone.CASUAL
        self.current_tone = tone if tone in Tone.values else Tone.CASUAL
        defaults = default_messages(self.current_tone)
        self.fields["tone"].widget.attrs["x-model"] = "tone"
        for name in MESSAGE_FIELDS:
            attrs = self.fields[name].widget.attrs
            attrs["placeholder"] = defaults[name]
            attrs[":placeholder"] = f"defaults[tone] && defaults[tone].{name}"

    @classmethod
    def initial_for(cls, assistant: Assistant | None) -> dict:
        from .models import default_business_hours
        from .tools import default_tool_names

        if assistant is None:
            initial = {"enabled_tools": default_tool_names(), "is_active": True, "typing_presence": True}
            hours = default_business_hours()
        else:
            initial = {name: getattr(assistant, name) for name in (
                "name", "description", "purpose", "master_prompt", "tone", *MESSAGE_FIELDS, "confidence_threshold",
                "memory_size", "enabled_tools", "time_zone", "typing_presence", "reply_delay_seconds",
                "is_active")}
            initial.update(handoff_team=assistant.handoff_team_id, provider=assistant.provider_id,
                           documents=list(assistant.documents.values_list("pk", flat=True)))
            hours = assistant.business_hours or {}
        for day in assistant_services.WEEKDAYS:
            intervals = hours.get(day) or []
            for index, interval in enumerate(intervals[:2]):
                suffix = "" if index == 0 else "2"
                initial[f"hours_{day}_open{suffix}"], initial[f"hours_{day}_close{suffix}"] = interval
        return initial

    def hours_rows(self):
        """One row per weekday for the template: (name, open, close, open2, close2) bound fields."""
        names = assistant_services.day_names()
        return [(names[int(d)], self[f"hours_{d}_open"], self[f"hours_{d}_close"], self[f"hours_{d}_open2"],
                 self[f"hours_{d}_close2"]) for d in assistant_services.WEEKDAYS]

    def section(self, name: str):
        return [self[field] for field in self.SECTIONS[name]]

    def clean_time_zone(self):
        return assistant_services.validate_time_zone(self.cleaned_data["time_zone"])

    def clean(self):
        data = super().clean()
        hours: dict[str, list[list[str]]] = {}
        for day in assistant_services.WEEKDAYS:
            intervals = []
            for suffix in ("", "2"):
                opens = _hhmm(data.get(f"hours_{day}_open{suffix}"))
                closes = _hhmm(data.get(f"hours_{day}_close{suffix}"))
                if not opens and not closes:
                    continue
                if not opens or not closes:
                    self.add_error(f"hours_{day}_open{suffix}" if not opens else f"hours_{day}_close{suffix}",
                                   _("Give both the opening and the closing time, or neither (closed)."))
                    continue
                intervals.append([opens, closes])
            try:
                checked = assistant_services.validate_business_hours({day: intervals})
            except ValidationError as exc:
                self.add_error(f"hours_{day}_open", exc.messages[0])
                continue
            if checked.get(day):
                hours[day] = checked[day]
        data["business_hours"] = hours
        return data

    def service_fields(self) -> dict:
        """What the services take (``documents`` separately)."""
        data = self.cleaned_data
        fields = {name: data[name] for name in (
            "name", "description", "purpose", "master_prompt", "tone", *MESSAGE_FIELDS, "confidence_threshold",
            "memory_size", "handoff_team", "enabled_tools", "time_zone", "typing_presence", "reply_delay_seconds",
            "provider", "is_active", "business_hours")}
        return fields

    def error_sections(self) -> set[str]:
        """Sections holding an error (the template opens them)."""
        found = set()
        for section, names in self.SECTIONS.items():
            if any(n in self.errors for n in names):
                found.add(section)
        if any(n.startswith("hours_") or n == "time_zone" for n in self.errors):
            found.add("hours")
        return found


def _hhmm(value) -> str:
    """"08:00:00" (what some browsers send with seconds) -> "08:00"; anything else as typed."""
    text = str(value or "").strip()
    if len(text) == 8 and text[2] == ":" and text[5] == ":" and text.endswith(":00"):
        return text[:5]
    return text


# --- providers -----------------------------------------------------------------------------------

PRESETS = [
    {"key": "openai", "label": "OpenAI", "base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini",
     "embedding_model": "text-embedding-3-small"},
    {"key": "groq", "label": "Groq", "base_url": "https://api.groq.com/openai/v1", "model": "llama-3.1-8b-instant",
     "embedding_model": ""},
    {"key": "gemini", "label": "Google Gemini", "base_url": "https://generativelanguage.googleapis.com/v1beta/openai",
     "model": "gemini-2.0-flash", "embedding_model": "text-embedding-004"},
    {"key": "ollama", "label": "Ollama", "base_url": "http://localhost:11434/v1", "model": "llama3.1",
     "embedding_model": "nomic-embed-text"},
]


class ProviderForm(StyledMixin, forms.Form):
    """The API key is write-only: never rendered back, blank keeps the stored one."""

    name = forms.CharField(label=_("Name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. OpenAI")}))
    base_url = forms.CharField(label=_("Base URL"), max_length=300, initial="https://api.openai.com/v1",
                               widget=forms.TextInput(attrs={"inputmode": "url", "spellcheck": "false",
                                                             "autocomplete": "off"}),
                               help_text=_("The OpenAI-compatible address, ending in /v1 for most providers."))
    model = forms.CharField(label=_("Model"), max_length=120, initial="gpt-4o-mini",
                            widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}))
    api_key = forms.CharField(
        label=_("API key"), required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}))
    remove_key = forms.BooleanField(label=_("Remove the stored key"), required=False)
    embedding_model = forms.CharField(label=_("Embedding model"), max_length=120, required=False,
                                      widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
                                      help_text=_("Optional. With one, knowledge search also matches by meaning; "
                                                  "blank = word search only."))
    temperature = forms.DecimalField(label=_("Temperature"), min_value=0, max_value=2, max_digits=3,
                                     decimal_places=2, initial="0.30",
                                     widget=forms.NumberInput(attrs={"step": "0.05", "min": "0", "max": "2"}),
                                     help_text=_("0 to 2. Lower = more predictable answers."))
    max_tokens = forms.IntegerField(label=_("Max tokens per answer"), min_value=1, max_value=32000, initial=600)
    timeout_seconds = forms.IntegerField(label=_("Timeout (seconds)"), min_value=1, max_value=300, initial=30)
    price_in_per_1k = forms.DecimalField(label=_("Price per 1k prompt tokens (US$)"), min_value=0, max_digits=10,
                                         decimal_places=6, initial=0, required=False,
                                         widget=forms.NumberInput(attrs={"step": "any", "min": "0"}))
    price_out_per_1k = forms.DecimalField(label=_("Price per 1k completion tokens (US$)"), min_value=0,
                                          max_digits=10, decimal_places=6, initial=0, required=False,
                                          widget=forms.NumberInput(attrs={"step": "any", "min": "0"}))
    is_default = forms.BooleanField(label=_("Company default"), required=False,
                                    help_text=_("Used by every assistant without its own provider."))

    def __init__(self, *args, provider: ModelProvider | None = None, **kwargs):
        self.provider = provider
        super().__init__(*args, **kwargs)
        if provider is not None and provider.has_key:
            self.fields["api_key"].help_text = _("Stored: %(masked)s. Leave blank to keep it.") % {
                "masked": provider_masked_key(provider)}
            self.fields["api_key"].widget.attrs["placeholder"] = _("Leave blank to keep the stored key")
        else:
            self.fields["api_key"].help_text = _("Without a key the assistants answer in retrieval-only mode. "
                                                 "Local servers such as Ollama need none.")
            del self.fields["remove_key"]

    @classmethod
    def initial_for(cls, provider: ModelProvider) -> dict:
        return {name: getattr(provider, name) for name in (
            "name", "base_url", "model", "embedding_model", "temperature", "max_tokens", "timeout_seconds",
            "price_in_per_1k", "price_out_per_1k", "is_default")}

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(_("Enter a full address such as https://api.openai.com/v1."))
        return url.rstrip("/")

    def clean(self):
        data = super().clean()
        if data.get("remove_key") and data.get("api_key"):
            self.add_error("api_key", _("Either type a new key or remove the stored one, not both."))
        for price in ("price_in_per_1k", "price_out_per_1k"):
            if price in data and data[price] is None:
                data[price] = 0
        return data

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in (
            "name", "base_url", "model", "embedding_model", "temperature", "max_tokens", "timeout_seconds",
            "price_in_per_1k", "price_out_per_1k")}


def provider_masked_key(provider: ModelProvider) -> str:
    from apps.core.crypto import mask

    return mask(provider.api_key or "")


# --- tenant settings, numbers --------------------------------------------------------------------

class TenantAISettingsForm(StyledMixin, forms.Form):
    bot_return_hours = forms.IntegerField(
        label=_("Give conversations back to the AI after (hours)"), min_value=0, max_value=168,
        help_text=_("When nobody on your team has written for this long, the assistant takes the conversation "
                    "back and sends its return message. 0 = never."))
    message_retention_days = forms.IntegerField(label=_("Keep message content for (days)"), min_value=0,
                                                max_value=36500)

    def __init__(self, *args, retention_cap: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["message_retention_days"]
        if retention_cap:
            field.min_value = 1
            field.widget.attrs.update(min="1", max=str(retention_cap))
            field.help_text = _("Older message text and files are deleted; orders and metrics are kept. Your plan "
                                "keeps messages for up to %(cap)s days.") % {"cap": retention_cap}
        else:
            field.help_text = _("Older message text and files are deleted; orders and metrics are kept. 0 = keep "
                                "everything.")


class ConnectionAssistantForm(forms.Form):
    assistant = forms.ModelChoiceField(queryset=Assistant.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assistant"].queryset = Assistant.objects.order_by("name")


# --- activity ------------------------------------------------------------------------------------

class ActivityFilterForm(StyledMixin, forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False,
                               choices=[("", _("Any action")), *DecisionAction.choices])
    assistant = forms.ModelChoiceField(label=_("Assistant"), queryset=Assistant.objects.none(), required=False,
                                       empty_label=_("Any assistant"))
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    conversation = forms.IntegerField(label=_("Conversation #"), required=False, min_value=1,
                                      widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    q = forms.CharField(label=_("Customer"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name or phone")}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assistant"].queryset = Assistant.objects.order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> assistant_services.DecisionFilters:
        """The valid filters (an invalid field is left out, and shown as an error)."""
        data = self.cleaned_data if self.is_bound else {}
        assistant = data.get("assistant")
        return assistant_services.DecisionFilters(
            action=data.get("action") or "", assistant=assistant.pk if assistant else None,
            date_from=data.get("date_from") if "date_to" not in self.errors else None,
            date_to=data.get("date_to") if "date_to" not in self.errors else None,
            conversation=data.get("conversation"), q=(data.get("q") or "").strip())
