"""A suspended or canceled company is locked out of its dashboard, API and sockets with the reason
shown; nothing is deleted and reactivating restores access at once (the tenant row is re-read on
every request)."""
import asyncio

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.notifications.consumers import CLOSE_BLOCKED
from apps.notifications.models import Notification
from apps.notifications.services import notification_send
from apps.notifications.tests.realtime import access_token_for, committed_session, committed_status, connect
from conftest import PASSWORD, as_shown, host_of
from tenants.choices import TenantStatus
from tenants.middleware import blocked_reason
from tenants.services import tenant_set_status as _tenant_set_status

pytestmark = pytest.mark.django_db


def tenant_set_status(**kwargs):
    with schema_context("public"):  # the tenant row is saved from the public schema (as the admin does)
        return _tenant_set_status(**kwargs)


@pytest.fixture
def beta(other_tenant):
    """Beta's owner signed in on the dashboard and holding a JWT, taken while beta is active."""
    host = host_of(other_tenant)
    with schema_context(other_tenant.schema_name):
        owner = User.objects.get(email="owner@beta.test")
        notification_send(user=owner, kind="info", title="Kept through suspension")
    web = Client(HTTP_HOST=host)
    with schema_context(other_tenant.schema_name):
        web.force_login(owner)
    api = APIClient(HTTP_HOST=host)
    tokens = api.post("/api/v1/auth/token/", {"email": owner.email, "password": PASSWORD}, format="json").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert web.get("/").status_code == 200
    assert api.get("/api/v1/me/").status_code == 200
    return {"tenant": other_tenant, "owner": owner, "web": web, "api": api, "anon": APIClient(HTTP_HOST=host),
            "tokens": tokens}


@pytest.mark.parametrize("status", [TenantStatus.SUSPENDED, TenantStatus.CANCELED])
def test_blocked_tenant_dashboard_and_api_answer_403_with_reason(beta, status):
    tenant_set_status(tenant=beta["tenant"], status=status, reason="unpaid invoice")

    page = beta["web"].get("/")
    assert page.status_code == 403
    html = page.content.decode()
    with translation.override(page["Content-Language"]):
        expected_reason = blocked_reason(beta["tenant"])
    assert as_shown(page, "Access blocked") in html and expected_reason in html and "Beta Pizzaria" in html
    assert beta["web"].get("/notifications/").status_code == 403

    for response in (
        beta["api"].get("/api/v1/me/"),
        beta["api"].post("/api/v1/notifications/read/", {"all": True}, format="json"),
        beta["anon"].get("/api/v1/me/"),  # anonymous too: 403 with the reason, not DRF's 401
        beta["anon"].post("/api/v1/auth/token/", {"email": "owner@beta.test", "password": PASSWORD}, format="json"),
        beta["anon"].post("/api/v1/auth/token/refresh/", {"refresh": beta["tokens"]["refresh"]}, format="json"),
    ):
        assert response.status_code == 403
        body = response.json()
        assert set(body) == {"detail", "code"}
        assert body["code"] == f"tenant_{status}"
        with translation.override(response["Content-Language"]):
            assert body["detail"] == blocked_reason(beta["tenant"])


def test_health_still_answers_and_nothing_is_deleted(beta):
    tenant_set_status(tenant=beta["tenant"], status=TenantStatus.SUSPENDED)

    assert Client(HTTP_HOST=host_of(beta["tenant"])).get("/health").status_code == 200
    with schema_context(beta["tenant"].schema_name):
        assert User.objects.filter(email="owner@beta.test", is_active=True).exists()
        assert Notification.objects.filter(title="Kept through suspension").exists()


def test_reactivating_restores_access(beta):
    tenant_set_status(tenant=beta["tenant"], status=TenantStatus.SUSPENDED)
    assert beta["web"].get("/").status_code == 403

    tenant_set_status(tenant=beta["tenant"], status=TenantStatus.ACTIVE)

    assert beta["web"].get("/").status_code == 200
    titles = [n["title"] for n in beta["api"].get("/api/v1/notifications/").json()["results"]]
    assert titles == ["Kept through suspension"]


def test_blocking_one_tenant_leaves_the_other_alone(beta, owner_client, api_client):
    tenant_set_status(tenant=beta["tenant"], status=TenantStatus.CANCELED)
    assert owner_client.get("/").status_code == 200
    assert api_client.get("/api/v1/me/").status_code == 200


def test_past_due_is_not_blocked(beta):
    tenant_set_status(tenant=beta["tenant"], status=TenantStatus.PAST_DUE)
    assert beta["web"].get("/").status_code == 200
    assert beta["api"].get("/api/v1/me/").status_code == 200


def test_websocket_is_refused_while_blocked_and_accepted_after(other_tenant):
    """Sockets resolve the tenant in another thread, so the status is committed here (and restored)."""
    with schema_context(other_tenant.schema_name):
        owner = User.objects.get(email="owner@beta.test")
    host = host_of(other_tenant)
    token = access_token_for(other_tenant.schema_name, owner)

    async def attempt(**kwargs):
        socket, connected, detail = await connect(host, **kwargs)
        if connected:
            await socket.disconnect()
        return connected, detail

    with committed_session(other_tenant.schema_name, owner) as cookie:
        with committed_status(other_tenant.schema_name, TenantStatus.SUSPENDED):
            assert asyncio.run(attempt(cookie=cookie)) == (False, CLOSE_BLOCKED)
            assert asyncio.run(attempt(path=f"/ws/notifications/?token={token}")) == (False, CLOSE_BLOCKED)
        assert asyncio.run(attempt(cookie=cookie))[0] is True
