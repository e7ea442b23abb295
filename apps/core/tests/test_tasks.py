"""Every task of the project runs in the tenant context it was sent from, under a stable name."""
import pytest
from django.db import connection
from django_tenants.utils import schema_context
from tenant_schemas_celery.task import TenantTask

from apps.core.tasks import live_tenant_schemas, tenant_ping
from saas.celery import app
from tenants.choices import TenantStatus
from tenants.models import Tenant
from tenants.services import provision_tenant, tenant_set_status


def project_tasks():
    app.loader.import_default_modules()  # autodiscovery of every app's tasks.py
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_registered_task_is_a_tenant_task():
    tasks = project_tasks()
    assert "core.fan_out" in tasks and "core.tenant_ping" in tasks
    not_tenant = [name for name, task in tasks.items() if not isinstance(task, TenantTask)]
    assert not_tenant == [], f"tasks that would run in the wrong schema: {not_tenant}"


def test_every_task_has_an_explicit_stable_name():
    """Names like 'apps.inbox.tasks.send' change when code moves; queued messages would be lost."""
    derived = [name for name, task in project_tasks().items() if name == f"{task.__module__}.{task.__name__}"]
    assert derived == []


def test_a_task_sent_from_a_tenant_carries_its_schema(tenant):
    with schema_context(tenant.schema_name):
        result = tenant_ping.apply()  # eager, same headers as a real send
    assert result.get() == {"schema": "alpha", "tenant": "Alpha Frios", "users": 1}
    assert connection.schema_name == "public"


def test_fan_out_serves_live_tenants_only(tenant, other_tenant):
    gamma = provision_tenant(name="Gamma", slug="gamma-h4", owner_email="o@gamma.test", owner_password="x" * 12)
    delta = provision_tenant(name="Delta", slug="delta-h4", owner_email="o@delta.test", owner_password="x" * 12)
    tenant_set_status(tenant=gamma, status=TenantStatus.SUSPENDED)
    tenant_set_status(tenant=delta, status=TenantStatus.PAST_DUE)
    Tenant.objects.filter(pk=other_tenant.pk).update(status=TenantStatus.CANCELED)

    schemas = live_tenant_schemas()

    assert {"alpha", "delta-h4"} <= set(schemas)
    assert not {"beta", "gamma-h4", "public", "tenant_template"} & set(schemas)


@pytest.mark.parametrize("status", [TenantStatus.TRIAL, TenantStatus.ACTIVE, TenantStatus.PAST_DUE])
def test_live_statuses(tenant, status):
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    assert "alpha" in live_tenant_schemas()
