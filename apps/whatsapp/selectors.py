from __future__ import annotations

from django_tenants.utils import get_public_schema_name, schema_context


def route_for_key(key: str):
    """The public WebhookRoute (with its tenant) for a webhook key, or None."""
    from tenants.models import WebhookRoute

    with schema_context(get_public_schema_name()):
        return WebhookRoute.objects.select_related("tenant").filter(key=key).first()


def connections_list():
    from .models import Connection

    return Connection.objects.select_related("default_team").order_by("name", "id")
