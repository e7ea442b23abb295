"""AI assistants, the model endpoints they call, the decision log of every turn and daily usage."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField


class ModelProvider(models.Model):
    """An OpenAI-compatible endpoint (OpenAI, Groq, Gemini compat, Ollama, vLLM). The tenant's
    default one serves every assistant without its own; with no key anywhere the assistants run
    in retrieval-only mode."""

    class Status(models.TextChoices):
        UNTESTED = "untested", _("Not tested")
        OK = "ok", _("Working")
        ERROR = "error", _("Error")

    name = models.CharField(_("name"), max_length=80)
    base_url = models.URLField(_("base URL"), max_length=300, default="https://api.openai.com/v1")
    model = models.CharField(_("model"), max_length=120, default="gpt-4o-mini")
    api_key = EncryptedTextField(_("API key"), blank=True)
    # Blank: no vectors (full-text search only).
    embedding_model = models.CharField(_("embedding model"), max_length=120, blank=True)
    temperature = models.DecimalField(_("temperature"), max_digits=3, decimal_places=2, default=Decimal("0.30"))
    max_tokens = models.PositiveIntegerField(_("max tokens per answer"), default=600)
    timeout_seconds = models.PositiveSmallIntegerField(_("timeout (seconds)"), default=30)
    price_in_per_1k = models.DecimalField(_("price per 1k prompt tokens (US$)"), max_digits=10, decimal_places=6,
                                          default=Decimal("0"))
    price_out_per_1k = models.DecimalField(_("price per 1k completion tokens (US$)"), max_digits=10,
                                           decimal_places=6, default=Decimal("0"))
    is_default = models.BooleanField(_("tenant default"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.UNTESTED)
    last_error = models.TextField(blank=True)
    # When the admin was told about an invalid key (told once until the key works again).
    error_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("model provider")
        verbose_name_plural = _("model providers")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="agents_one_default_provider"),
        ]

    def __str__(self):
        return self.name

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


class Purpose(models.TextChoices):
    SERVICE = "service", _("Customer service")
    SALES = "sales", _("Sales")
    SUPPORT = "support", _("Support")
    ORDERS = "orders", _("Orders")


class Tone(models.TextChoices):
    FORMAL = "formal", _("Formal")
    CASUAL = "casual", _("Casual")
    TECHNICAL = "technical", _("Technical")


def default_business_hours() -> dict:
    """Weekday (0 = Monday) -> list of [open, close] "HH:MM" pairs; a missing day is closed."""
    week = [["08:00", "18:00"]]
    return {"0": week, "1": week, "2": week, "3": week, "4": week, "5": [["08:00", "12:00"]]}


class Assistant(models.Model):
    class Status(models.TextChoices):
        OK = "ok", _("Working")
        ERROR = "error", _("Error")

    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=255, blank=True)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.SERVICE)
    master_prompt = models.TextField(_("master prompt"), blank=True,
                                     help_text=_("Who the assistant is and the rules it follows."))
    tone = models.CharField(_("tone"), max_length=10, choices=Tone.choices, default=Tone.CASUAL)
    greeting_message = models.TextField(_("greeting"), blank=True)
    fallback_message = models.TextField(_("fallback when unsure"), blank=True)
    wait_message = models.TextField(_("\"please wait\" message"), blank=True)
    return_message = models.TextField(_("message when the assistant returns"), blank=True)
    outside_hours_message = models.TextField(_("message outside business hours"), blank=True)
    business_hours = models.JSONField(_("business hours"), default=default_business_hours, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/Sao_Paulo")
    confidence_threshold = models.FloatField(_("confidence threshold"), default=0.5)
    memory_size = models.PositiveSmallIntegerField(_("messages remembered"), default=10)
    handoff_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("hand-off team"))
    # Names from the tool registry (apps.agents.tools); empty = none.
    enabled_tools = models.JSONField(_("enabled tools"), default=list, blank=True)
    # None chosen = all documents.
    documents = models.ManyToManyField("knowledge.Document", blank=True, related_name="assistants",
                                       verbose_name=_("knowledge documents"))
    # Null = the tenant's default provider; no provider with a key = retrieval-only mode.
    provider = models.ForeignKey(ModelProvider, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assistants", verbose_name=_("model provider"))
    typing_presence = models.BooleanField(_("show \"typing…\" before answering"), default=True)
    reply_delay_seconds = models.DecimalField(_("human-like delay (seconds)"), max_digits=4, decimal_places=1,
                                              default=Decimal("0"))
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(_("default assistant"), default=False)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OK)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("assistant")
        verbose_name_plural = _("assistants")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="agents_one_default_assistant"),
        ]

    def __str__(self):
        return self.name


class DecisionAction(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    HANDED_OFF = "handed_off", _("Handed off")
    TOOL = "tool", _("Used a tool")
    ERROR = "error", _("Error")
    SKIPPED = "skipped", _("Skipped")


class Decision(models.Model):
    """What the assistant saw and did in one turn ("why this answer?")."""

    conversation = models.ForeignKey("inbox.Conversation", on_delete=models.CASCADE, related_name="ai_decisions")
    turn = models.ForeignKey("inbox.Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assistant = models.ForeignKey(Assistant, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="decisions")
    mode = models.CharField(max_length=12, default="retrieval")  # "retrieval" (no key) or "generative"
    input_message_ids = models.JSONField(default=list, blank=True)
    input_text = models.TextField(blank=True)
    # [{chunk_id, document_id, title, score, fts_rank, vector_score, text}]
    chunks = models.JSONField(default=list, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    action = models.CharField(max_length=12, choices=DecisionAction.choices, db_index=True)
    reason = models.CharField(max_length=200, blank=True)  # why skipped / handed off, machine-readable
    # [{name, arguments, ok, result|error}]
    tool_calls = models.JSONField(default=list, blank=True)
    reply_message_ids = models.JSONField(default=list, blank=True)
    reply_text = models.TextField(blank=True)
    model = models.CharField(max_length=120, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("AI decision")
        verbose_name_plural = _("AI decisions")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_action_display()} #{self.pk}"


class UsageDaily(models.Model):
    """Per-day AI usage of this tenant (kept in step by the turn; rolled up to the public schema)."""

    date = models.DateField(unique=True)
    turns = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("0"))
    handoffs = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("AI usage per day")
        verbose_name_plural = _("AI usage per day")
        ordering = ["-date"]
