"""The public address a provider posts a connection's webhooks to."""
from __future__ import annotations

from django.conf import settings

from apps.core.urls_util import public_absolute_url


def webhook_path(conn) -> str:
    return f"/hooks/{conn.provider}/{conn.webhook_key}/"


def webhook_url(conn) -> str:
    """``WHATSAPP_WEBHOOK_BASE_URL`` (e.g. an https tunnel in development) when set, else the
    public domain of this deployment."""
    base = (settings.WHATSAPP_WEBHOOK_BASE_URL or "").rstrip("/")
    if base:
        return base + webhook_path(conn)
    return public_absolute_url(webhook_path(conn))
