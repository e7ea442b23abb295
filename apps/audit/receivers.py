"""Keeps django-auditlog's actor honest across schemas.

AuditlogMiddleware stamps every log entry written during a request with ``request.user``. When a
SaaS-owner staff member (a user of the public schema) provisions or changes something inside a
tenant schema, that user's id means a different person (or nobody) there. Such entries keep the
email that auditlog recorded but lose the foreign key, so the tenant's audit log never names one of
its own users for something they did not do (and the deferred FK check cannot fail at commit).
"""
from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=LogEntry, dispatch_uid="audit.actor_in_schema")
def _actor_must_live_in_this_schema(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if not created or instance.actor_id is None:
        return
    same_person = get_user_model().objects.filter(pk=instance.actor_id)
    if instance.actor_email:
        same_person = same_person.filter(email__iexact=instance.actor_email)
    belongs = same_person.exists()
    if not belongs:
        LogEntry.objects.filter(pk=instance.pk).update(actor=None)
        instance.actor = None
