"""WhatsApp numbers of a tenant (connections), the raw inbound events they deliver, and Cloud API
message templates. All live in the tenant schema; the public ``tenants.WebhookRoute`` maps a
webhook key to the schema and connection."""
from __future__ import annotations

import json
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField


def new_webhook_key() -> str:
    return secrets.token_urlsafe(24)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Provider(models.TextChoices):
    EVOLUTION = "evolution", _("WhatsApp (QR code, Evolution API)")
    CLOUD_API = "cloud_api", _("WhatsApp Cloud API (official)")
    SANDBOX = "sandbox", _("Sandbox (simulator)")


class ConnectionStatus(models.TextChoices):
    DISCONNECTED = "disconnected", _("Disconnected")
    AWAITING_QR = "awaiting_qr", _("Waiting for QR code scan")
    CONNECTING = "connecting", _("Connecting")
    CONNECTED = "connected", _("Connected")
    ERROR = "error", _("Error")


class Connection(models.Model):
    name = models.CharField(_("name"), max_length=80)
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices)
    status = models.CharField(_("status"), max_length=16, choices=ConnectionStatus.choices,
                              default=ConnectionStatus.DISCONNECTED)
    last_error = models.TextField(_("last error"), blank=True)
    phone_number = models.CharField(_("phone number"), max_length=20, blank=True)
    # Evolution: the instance name; Cloud API: the phone_number_id; sandbox: unused.
    instance_name = models.CharField(_("instance"), max_length=120, blank=True, db_index=True)
    external_id = models.CharField(_("provider id"), max_length=120, blank=True)
    # Secrets as a JSON object, encrypted at rest (Evolution: instance token / api key;
    # Cloud API: access_token, app_secret, verify_token). Use .get_credentials()/.set_credentials().
    credentials = EncryptedTextField(_("credentials"), blank=True, default="")
    # Non-secret provider settings (Cloud API: waba_id, graph_version; Evolution: base_url override).
    config = models.JSONField(_("settings"), default=dict, blank=True)
    webhook_key = models.CharField(max_length=64, unique=True, default=new_webhook_key)
    webhook_secret = EncryptedTextField(default=new_webhook_secret)
    # Latest QR code while awaiting a scan (data URI or raw code); cleared on connect.
    qr_code = models.TextField(blank=True)
    qr_updated_at = models.DateTimeField(null=True, blank=True)
    default_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("default team"))
    # The default AI assistant (apps.agents, issue #4 turns this into a foreign key).
    default_assistant = models.ForeignKey("agents.Assistant", null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="connections", verbose_name=_("default AI assistant"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        verbose_name = _("connection")
        verbose_name_plural = _("connections")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def get_credentials(self) -> dict:
        return json.loads(self.credentials) if self.credentials else {}

    def set_credentials(self, values: dict) -> None:
        self.credentials = json.dumps(values) if values else ""


class InboundEvent(models.Model):
    """One normalized item of a provider webhook, stored (and committed) before the webhook is
    answered. ``dedup_key`` is the provider's message id (or a status/event id), so a provider
    retry or a duplicate post never stores a second row."""

    class Kind(models.TextChoices):
        MESSAGE = "message"
        STATUS = "status"
        CONNECTION = "connection"
        QRCODE = "qrcode"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="inbound_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    dedup_key = models.CharField(max_length=200)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "dedup_key"], name="wa_inbound_dedup")]
        indexes = [models.Index(fields=["received_at"], condition=models.Q(processed_at__isnull=True),
                                name="wa_inbound_unprocessed")]


class MessageTemplate(models.Model):
    """An approved Cloud API template (synced from the WhatsApp Business Account); the only thing
    that can be sent once the 24-hour customer-service window is closed."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(_("name"), max_length=512)
    language = models.CharField(_("language"), max_length=16)
    category = models.CharField(_("category"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=32, blank=True)
    components = models.JSONField(default=list, blank=True)
    variable_count = models.PositiveSmallIntegerField(default=0)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "language"]
        constraints = [models.UniqueConstraint(fields=["connection", "name", "language"], name="wa_template_unique")]

    def __str__(self):
        return f"{self.name} ({self.language})"
