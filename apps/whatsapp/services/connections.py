"""Connection lifecycle. Every write to a Connection that changes its webhook key or provider id
keeps the public ``tenants.WebhookRoute`` in step, so a webhook always finds its tenant."""
from __future__ import annotations

from django.db import connection as db_connection
from django.db import transaction
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from ..models import Connection, ConnectionStatus, Provider


def _sync_route(conn: Connection) -> None:
    from tenants.models import WebhookRoute

    schema = db_connection.schema_name
    with schema_context(get_public_schema_name()):
        tenant = get_tenant_model().objects.get(schema_name=schema)
        WebhookRoute.objects.update_or_create(
            tenant=tenant, connection_id=conn.pk,
            defaults={"key": conn.webhook_key, "provider": conn.provider,
                      "external_id": conn.instance_name or conn.external_id},
        )


def _drop_route(connection_id: int) -> None:
    from tenants.models import WebhookRoute

    schema = db_connection.schema_name
    with schema_context(get_public_schema_name()):
        WebhookRoute.objects.filter(tenant__schema_name=schema, connection_id=connection_id).delete()


@transaction.atomic
def connection_create(*, name: str, provider: str, credentials: dict | None = None, config: dict | None = None,
                      instance_name: str = "", default_team=None, status: str | None = None) -> Connection:
    """Create the row and its webhook route. Provider-side set-up (Evolution instance, QR) is a
    separate step so a provider outage never loses the row."""
    if provider not in Provider.values:
        raise ValueError(f"unknown provider {provider!r}")
    conn = Connection(name=name, provider=provider, config=config or {}, instance_name=instance_name,
                      default_team=default_team)
    if status:
        conn.status = status
    elif provider == Provider.SANDBOX:
        conn.status = ConnectionStatus.CONNECTED
    conn.set_credentials(credentials or {})
    conn.save()
    if provider == Provider.EVOLUTION and not conn.instance_name:
        conn.instance_name = f"{db_connection.schema_name}-{conn.pk}"
        conn.save(update_fields=["instance_name"])
    _sync_route(conn)
    return conn


def connection_sync_route(conn: Connection) -> None:
    _sync_route(conn)


@transaction.atomic
def connection_delete_row(conn: Connection) -> None:
    """Remove the row and its route (provider-side clean-up is the caller's first step)."""
    pk = conn.pk
    conn.delete()
    _drop_route(pk)
