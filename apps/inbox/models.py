"""Conversations and messages: what staff see in the inbox and what the bot's turns are made of."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    RESOLVED = "resolved", _("Resolved")


class BotState(models.TextChoices):
    AI_ACTIVE = "ai_active", _("Bot active")
    WAITING_HUMAN = "waiting_human", _("Waiting for a human")
    HUMAN_ACTIVE = "human_active", _("Human answering")
    PAUSED = "paused", _("Bot paused")


class Conversation(models.Model):
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="conversations",
                                verbose_name=_("contact"))
    connection = models.ForeignKey("whatsapp.Connection", on_delete=models.CASCADE, related_name="conversations",
                                   verbose_name=_("connection"))
    status = models.CharField(_("status"), max_length=10, choices=ConversationStatus.choices,
                              default=ConversationStatus.OPEN, db_index=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_conversations", verbose_name=_("assignee"))
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="conversations", verbose_name=_("team"))
    assigned_at = models.DateTimeField(null=True, blank=True)
    # First-response time runs from waiting_since (hand-off to humans, or reopen) to first_human_reply_at.
    waiting_since = models.DateTimeField(null=True, blank=True)
    first_human_reply_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    # Last message from the customer: the Cloud API 24-hour window is measured from it.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    bot_state = models.CharField(_("bot"), max_length=16, choices=BotState.choices, default=BotState.AI_ACTIVE)
    # When set, a beat sweep returns the bot to ai_active at this time (never a long countdown).
    bot_resume_at = models.DateTimeField(null=True, blank=True)
    # Debounce: when set, the turn runs at this time with every message received since the last turn.
    turn_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "connection"], condition=~Q(status="resolved"),
                                    name="inbox_one_open_conversation"),
        ]
        indexes = [
            models.Index(fields=["turn_due_at"], condition=Q(turn_due_at__isnull=False), name="inbox_turn_due"),
            models.Index(fields=["bot_resume_at"], condition=Q(bot_resume_at__isnull=False), name="inbox_bot_resume"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.contact}"


class Direction(models.TextChoices):
    IN = "in", _("Received")
    OUT = "out", _("Sent")


class SenderKind(models.TextChoices):
    CONTACT = "contact", _("Customer")
    AI = "ai", _("AI")
    HUMAN = "human", _("Staff")
    FLOW = "flow", _("Flow")
    SYSTEM = "system", _("System")


class MessageType(models.TextChoices):
    TEXT = "text", _("Text")
    IMAGE = "image", _("Image")
    AUDIO = "audio", _("Audio")
    VIDEO = "video", _("Video")
    DOCUMENT = "document", _("Document")
    LOCATION = "location", _("Location")
    INTERACTIVE = "interactive", _("Menu")
    REACTION = "reaction", _("Reaction")
    STICKER = "sticker", _("Sticker")
    TEMPLATE = "template", _("Template")
    EVENT = "event", _("Event")  # system line in the chat ("assigned to Vendas"); never sent


class MessageStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


def message_media_path(instance, filename):
    return f"inbox/{timezone.now():%Y/%m}/{uuid.uuid4().hex}/{filename}"


class Turn(models.Model):
    """One bot turn: the customer messages buffered in one debounce window, handed to the turn hook."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        SKIPPED = "skipped"
        FAILED = "failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    handler = models.CharField(max_length=40, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender_kind = models.CharField(max_length=10, choices=SenderKind.choices)
    sender_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    type = models.CharField(max_length=12, choices=MessageType.choices, default=MessageType.TEXT)
    text = models.TextField(blank=True)
    media = models.FileField(upload_to=message_media_path, blank=True, max_length=300)
    media_mime = models.CharField(max_length=100, blank=True)
    media_size = models.PositiveIntegerField(null=True, blank=True)
    media_name = models.CharField(max_length=255, blank=True)
    # Type-specific data: location {latitude, longitude, name}; interactive {body, buttons|sections};
    # the id of a button/list reply; template {name, language, variables}.
    payload = models.JSONField(default=dict, blank=True)
    # Our idempotency key, sent to the provider where it accepts one and used to reconcile.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider_message_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    error = models.TextField(blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # Excess messages over the rate limit are stored and shown but start no turn.
    rate_limited = models.BooleanField(default=False)
    turn = models.ForeignKey(Turn, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set when the retention job deleted this message's content (text, media, payload).
    purged_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider_message_id"], condition=~Q(provider_message_id=""),
                                    name="inbox_message_provider_id"),
        ]
        indexes = [
            models.Index(fields=["conversation", "-created_at", "-id"], name="inbox_msg_history"),
            models.Index(fields=["status", "created_at"], condition=Q(status__in=["queued", "sending"]),
                         name="inbox_msg_outbox"),
        ]


class CannedReply(models.Model):
    shortcut = models.SlugField(_("shortcut"), max_length=40, unique=True,
                                help_text=_("Type / and this word in the composer."))
    title = models.CharField(_("title"), max_length=120, blank=True)
    text = models.TextField(_("text"), help_text=_("Variables: {{contact.name}}, {{contact.phone}}, {{agent.name}}"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["shortcut"]

    def __str__(self):
        return f"/{self.shortcut}"


class RetentionRun(models.Model):
    """One run of the retention job: what it deleted, for the tenant's record."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    cutoff = models.DateTimeField()
    messages_purged = models.PositiveIntegerField(default=0)
    decisions_purged = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at"]
