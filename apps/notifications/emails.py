"""The optional email copy of a notification, in the recipient's language."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django_tenants.utils import get_tenant_model, schema_context

from apps.core.urls_util import tenant_absolute_url

from .models import Notification

log = logging.getLogger(__name__)


def send_notification_emails(notification_ids: list[int], *, schema_name: str) -> None:
    tenant = get_tenant_model().objects.get(schema_name=schema_name)
    with schema_context(schema_name):
        notifications = list(Notification.objects.select_related("recipient").filter(pk__in=notification_ids))
        for notification in notifications:
            user = notification.recipient
            link = notification.link
            if link.startswith("/"):
                link = tenant_absolute_url(tenant, link)
            language = user.language or getattr(tenant, "language", "") or settings.LANGUAGE_CODE
            with translation.override(language):
                context = {"notification": notification, "tenant": tenant, "user": user, "link": link}
                body = render_to_string("notifications/email/notification.txt", context)
            try:
                send_mail(f"[{tenant.name}] {notification.title}", body, settings.DEFAULT_FROM_EMAIL, [user.email])
            except Exception:  # the in-app notification is already stored; email is best effort
                log.warning("notification %s email to user %s failed", notification.pk, user.pk, exc_info=True)
