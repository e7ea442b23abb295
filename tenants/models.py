from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from .choices import BLOCKED_STATUSES, TenantStatus

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #7C3AED."))


class Tenant(TenantMixin):
    """One business. ``schema_name`` is its slug; the schema is created by provisioning (cloned)."""

    name = models.CharField(_("name"), max_length=120)
    status = models.CharField(_("status"), max_length=16, choices=TenantStatus.choices, default=TenantStatus.TRIAL)
    status_reason = models.CharField(_("status reason"), max_length=255, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="America/Sao_Paulo")
    language = models.CharField(_("language"), max_length=8, default="pt-br")
    logo = models.ImageField(_("logo"), upload_to="branding/", blank=True)
    primary_color = models.CharField(_("primary colour"), max_length=7, default="#7C3AED", validators=[hex_colour])
    accent_color = models.CharField(_("accent colour"), max_length=7, default="#EC4899", validators=[hex_colour])
    policies = models.TextField(_("policies"), blank=True, help_text=_("Delivery, payment, exchange policies..."))
    # A conversation handed to humans with no human activity for this long returns to the AI (0: never).
    bot_return_hours = models.PositiveSmallIntegerField(_("return to the AI after (hours without staff)"),
                                                        default=24)
    # Message content older than this is deleted by a nightly job (0 keeps everything).
    message_retention_days = models.PositiveIntegerField(_("keep message content for (days)"), default=30)
    # "YYYY-MM" of the month the admin was told the AI quota ran out (told once a month).
    ai_quota_notified_month = models.CharField(max_length=7, blank=True)
    plan = models.ForeignKey("billing.Plan", verbose_name=_("plan"), null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # provisioning clones the template schema itself (tenants.services)
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_blocked(self) -> bool:
        return self.status in BLOCKED_STATUSES


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self):
        return self.domain


class TemplateSnapshot(models.Model):
    """The template schema's DDL at one migration state (see tenants.snapshot)."""

    fingerprint = models.CharField(max_length=32, unique=True)
    ddl = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("template snapshot")
        verbose_name_plural = _("template snapshots")


class WebhookRoute(models.Model):
    """Public routing table: a provider webhook's key (in its URL) -> the tenant schema and connection.
    ``external_id`` (the Cloud API phone_number_id, the Evolution instance name) lets a payload be
    routed on its own metadata too. Kept in step with apps.whatsapp.Connection by its services."""

    key = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_routes")
    connection_id = models.PositiveIntegerField()
    provider = models.CharField(max_length=16)
    external_id = models.CharField(max_length=120, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook route")
        verbose_name_plural = _("webhook routes")
        constraints = [models.UniqueConstraint(fields=["tenant", "connection_id"], name="webhook_route_one_per_connection")]

    def __str__(self):
        return f"{self.provider}:{self.key[:6]}… -> {self.tenant_id}/{self.connection_id}"
