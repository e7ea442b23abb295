from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ActionLog(models.Model):
    """Something a person did that is not a plain model save (assigning a conversation, pausing the
    bot, exporting data, impersonating). Model saves are recorded by django-auditlog."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("who"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(_("who (as recorded)"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=255, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("action log entry")
        verbose_name_plural = _("action log")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.action} {self.target_label}".strip()
