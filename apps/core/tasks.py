"""Jobs plumbing shared by every app: the per-tenant fan-out and a ping useful in operations.

A beat job that concerns every tenant is scheduled once (in the public schema) as
``core.fan_out`` with the per-tenant task's name; the dispatcher enqueues one task per live tenant,
each sent in that tenant's schema, spread over ``jitter_seconds`` so they don't all start at once.
"""
from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

logger = logging.getLogger(__name__)


def live_tenant_schemas() -> list[str]:
    """Schemas of tenants that jobs should serve: trial, active or past due.

    Suspended and canceled tenants, the public schema and the template are left out.
    """
    from tenants.choices import TenantStatus
    from tenants.models import Tenant

    with schema_context(get_public_schema_name()):
        return list(
            Tenant.objects.filter(status__in=[TenantStatus.TRIAL, TenantStatus.ACTIVE, TenantStatus.PAST_DUE])
            .exclude(schema_name__in=[get_public_schema_name(), settings.TENANT_BASE_SCHEMA])
            .order_by("schema_name")
            .values_list("schema_name", flat=True)
        )


def for_each_active_tenant(task_name: str, *, jitter_seconds: float = 60, kwargs: dict | None = None,
                           **options) -> dict[str, str]:
    """Enqueue ``task_name`` once per live tenant, in that tenant's schema.

    Each is delayed by a random 0..``jitter_seconds``; ``options`` go to ``send_task`` (``queue``...).
    Returns ``{schema: task id}``.
    """
    from saas.celery import app

    sent = {}
    for schema in live_tenant_schemas():
        countdown = random.uniform(0, jitter_seconds) if jitter_seconds > 0 else None
        with schema_context(schema):  # the schema travels in the message headers
            result = app.send_task(task_name, kwargs=kwargs or {}, countdown=countdown, **options)
        sent[schema] = result.id
    logger.info("fan-out of %s to %d tenants", task_name, len(sent))
    return sent


# No retries: a retry after a partial fan-out would enqueue duplicates; the next beat tick covers it.
@shared_task(name="core.fan_out", max_retries=0)
def fan_out(task_name: str, jitter_seconds: float = 60, kwargs: dict | None = None,
            options: dict | None = None) -> dict[str, str]:
    """Beat entry point for work on every tenant (schedule it in the public schema)."""
    return for_each_active_tenant(task_name, jitter_seconds=jitter_seconds, kwargs=kwargs, **(options or {}))


@shared_task(name="core.tenant_ping", max_retries=0)  # a probe: a failure is the answer
def tenant_ping() -> dict:
    """Proves the worker reaches a tenant's schema: its name and how many users it has."""
    from apps.accounts.models import User
    from tenants.models import Tenant

    schema = connection.schema_name
    tenant = Tenant.objects.filter(schema_name=schema).values_list("name", flat=True).first()
    return {"schema": schema, "tenant": tenant, "users": User.objects.count()}
