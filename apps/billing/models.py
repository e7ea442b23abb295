from django.db import models
from django.utils.translation import gettext_lazy as _


class Plan(models.Model):
    """What a tenant pays and may use. An empty limit means unlimited."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    monthly_price = models.DecimalField(_("monthly price (R$)"), max_digits=10, decimal_places=2, default=0)
    max_users = models.PositiveIntegerField(_("users"), null=True, blank=True)
    max_connections = models.PositiveIntegerField(_("WhatsApp connections"), null=True, blank=True)
    max_assistants = models.PositiveIntegerField(_("AI assistants"), null=True, blank=True)
    ai_turns_per_month = models.PositiveIntegerField(_("AI turns per month"), null=True, blank=True)
    knowledge_chars_per_document = models.PositiveIntegerField(_("knowledge characters per document"),
                                                               null=True, blank=True)
    retention_days = models.PositiveIntegerField(_("message retention (days)"), null=True, blank=True)
    is_public = models.BooleanField(_("shown on the pricing page"), default=True)
    is_default = models.BooleanField(_("default for new tenants"), default=False)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["order", "monthly_price"]

    def __str__(self):
        return self.name


# limit name -> Plan field; later features ask by these names
LIMIT_FIELDS = {
    "users": "max_users",
    "connections": "max_connections",
    "assistants": "max_assistants",
    "ai_turns_per_month": "ai_turns_per_month",
    "knowledge_chars_per_document": "knowledge_chars_per_document",
    "retention_days": "retention_days",
}


class TenantUsageDaily(models.Model):
    """Roll-up of each tenant's AI usage per day (from the tenant schema's agents.UsageDaily), for the
    SaaS owner's panel."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_days")
    date = models.DateField(_("date"))
    ai_turns = models.PositiveIntegerField(_("AI turns"), default=0)
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)
    cost = models.DecimalField(_("estimated cost (US$)"), max_digits=14, decimal_places=6, default=0)
    handoffs = models.PositiveIntegerField(_("hand-offs"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("AI usage (per tenant and day)")
        verbose_name_plural = _("AI usage (per tenant and day)")
        ordering = ["-date", "tenant_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "date"], name="billing_usage_one_per_day")]
