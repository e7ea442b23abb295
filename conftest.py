"""Shared fixtures. One embedded PostgreSQL and Redis per run (saas.settings.test starts them);
the test database is migrated once (public + template schema), then two tenants are provisioned
by cloning the template and kept for the whole run. Each test runs in a transaction that is
rolled back, so data a test makes never leaks into the next one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

ROOT = Path(__file__).resolve().parent
PASSWORD = "correct-horse-9"

TENANTS = {
    "alpha": {"name": "Alpha Frios", "owner": "owner@alpha.test"},
    "beta": {"name": "Beta Pizzaria", "owner": "owner@beta.test"},
}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from apps.billing.services import plan_ensure_trial
    from tenants.models import Tenant
    from tenants.services import ensure_public_tenant, provision_tenant

    with django_db_blocker.unblock():
        plan_ensure_trial()
        ensure_public_tenant()
        for slug, spec in TENANTS.items():
            if not Tenant.objects.filter(schema_name=slug).exists():
                provision_tenant(name=spec["name"], slug=slug, owner_email=spec["owner"], owner_password=PASSWORD)
        connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _back_to_public():
    yield
    connection.set_schema_to_public()


def _tenant(slug):
    from tenants.models import Tenant

    connection.set_schema_to_public()
    return Tenant.objects.get(schema_name=slug)


@pytest.fixture
def tenant(db):
    return _tenant("alpha")


@pytest.fixture
def other_tenant(db):
    return _tenant("beta")


def host_of(tenant) -> str:
    return tenant.get_primary_domain().domain


@pytest.fixture
def owner(tenant):
    """Tenant alpha's Admin (committed at session start, so other threads/processes see it)."""
    from apps.accounts.models import User

    with schema_context(tenant.schema_name):
        return User.objects.get(email=TENANTS["alpha"]["owner"])


@pytest.fixture
def public_client(db):
    from django.conf import settings

    return Client(HTTP_HOST=settings.BASE_DOMAIN)


@pytest.fixture
def tenant_client(tenant):
    """Anonymous client on tenant alpha's domain."""
    return Client(HTTP_HOST=host_of(tenant))


@pytest.fixture
def owner_client(tenant, owner):
    """Client on alpha's domain, signed in as alpha's Admin."""
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(owner)
    return client


def as_shown(response, msgid: str) -> str:
    """``msgid`` as the user reads it: translated into the language the response was rendered in."""
    from django.utils import translation

    with translation.override(response.headers.get("Content-Language", "pt-br")):
        return translation.gettext(msgid)


def make_user(tenant, *, email, role="agent", password=PASSWORD, name=""):
    from apps.accounts.services import user_create

    with schema_context(tenant.schema_name):
        return user_create(email=email, password=password, name=name or email.split("@")[0], role=role)


@pytest.fixture
def api_client(tenant, owner):
    """DRF client on alpha's domain carrying a JWT of alpha's Admin."""
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=host_of(tenant))
    response = client.post("/api/v1/auth/token/", {"email": owner.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    client.tokens = response.json()
    return client


def test_database_url() -> str:
    """DATABASE_URL of the test database, for subprocesses (Celery worker, uvicorn)."""
    params = connection.settings_dict
    host = params["OPTIONS"].get("host") or params["HOST"]
    if host.startswith("/"):
        return f"postgres://{params['USER']}@/{params['NAME']}?host={host}"
    return f"postgres://{params['USER']}:{params['PASSWORD']}@{host}:{params['PORT']}/{params['NAME']}"


test_database_url.__test__ = False


def subprocess_env(**extra) -> dict:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "saas.settings.test",
           "PYTHONPATH": str(ROOT)}
    env.update(extra)
    return env


def start_process(args: list[str], **extra_env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=subprocess_env(**extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
