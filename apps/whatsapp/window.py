"""The Cloud API's 24-hour customer-service window.

A business may send free-form messages (text, media, menus) only within 24 hours of the customer's
last message; after that, only approved templates. Providers without the rule (Evolution, the
sandbox) are never restricted. The window is measured from ``Conversation.last_inbound_at``."""
from __future__ import annotations

import importlib
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from .providers import get_provider

WINDOW = timedelta(hours=24)


def provider_of(connection):
    """The provider implementation of ``connection`` (importing its module if nothing did yet)."""
    try:
        return get_provider(connection.provider)
    except LookupError:
        importlib.import_module(f"apps.whatsapp.providers.{connection.provider}")
        return get_provider(connection.provider)


def service_window(conversation, now: datetime | None = None) -> dict:
    """{"applies", "open", "expires_at", "seconds_left"} for ``conversation``. When the rule does not
    apply, ``open`` is True and there is no expiry; when it applies and the customer never wrote,
    the window is closed."""
    if not provider_of(conversation.connection).has_service_window:
        return {"applies": False, "open": True, "expires_at": None, "seconds_left": 0}
    last = conversation.last_inbound_at
    if last is None:
        return {"applies": True, "open": False, "expires_at": None, "seconds_left": 0}
    now = now or timezone.now()
    expires_at = last + WINDOW
    seconds_left = max(0, int((expires_at - now).total_seconds()))
    return {"applies": True, "open": now < expires_at, "expires_at": expires_at, "seconds_left": seconds_left}


def ensure_can_send_free_form(conversation, now: datetime | None = None) -> None:
    """Raise ValidationError when only a template may be sent in ``conversation`` right now."""
    window = service_window(conversation, now=now)
    if window["applies"] and not window["open"]:
        raise ValidationError(_("The 24-hour window is closed: send an approved template."), code="window_closed")
