import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.notifications.models import Notification
from apps.notifications.services import notification_send
from conftest import PASSWORD, host_of, make_user

pytestmark = pytest.mark.django_db


def _jwt_client(tenant, email):
    client = APIClient(HTTP_HOST=host_of(tenant))
    response = client.post("/api/v1/auth/token/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def _send(tenant, user, title):
    with schema_context(tenant.schema_name):
        (notification,) = notification_send(user=user, kind="info", title=title)
    return notification


def test_list_returns_only_own_notifications(tenant, owner, api_client):
    agent = make_user(tenant, email="ana@alpha.test")
    _send(tenant, owner, "For the owner")
    _send(tenant, agent, "For Ana")

    response = api_client.get("/api/v1/notifications/")

    assert response.status_code == 200
    assert [n["title"] for n in response.json()["results"]] == ["For the owner"]
    ana = _jwt_client(tenant, "ana@alpha.test").get("/api/v1/notifications/").json()
    assert [n["title"] for n in ana["results"]] == ["For Ana"]


def test_unread_filter_and_fields(tenant, owner, api_client):
    first = _send(tenant, owner, "Old")
    _send(tenant, owner, "New")
    api_client.post("/api/v1/notifications/read/", {"ids": [first.pk]}, format="json")

    body = api_client.get("/api/v1/notifications/?unread=1").json()

    assert [n["title"] for n in body["results"]] == ["New"]
    assert set(body["results"][0]) >= {"id", "kind", "title", "body", "link", "is_read", "read_at", "created_at"}
    assert body["results"][0]["is_read"] is False


def test_mark_read_by_ids_ignores_other_users_ids(tenant, owner, api_client):
    agent = make_user(tenant, email="ana@alpha.test")
    mine = _send(tenant, owner, "Mine")
    _send(tenant, owner, "Also mine")
    theirs = _send(tenant, agent, "Theirs")

    response = api_client.post("/api/v1/notifications/read/", {"ids": [mine.pk, theirs.pk]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"updated": 1, "unread_count": 1}
    with schema_context(tenant.schema_name):
        assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_mark_all_read(tenant, owner, api_client):
    for title in ("a", "b"):
        _send(tenant, owner, title)
    response = api_client.post("/api/v1/notifications/read/", {"all": True}, format="json")
    assert response.json() == {"updated": 2, "unread_count": 0}


@pytest.mark.parametrize("payload", [{}, {"ids": []}, {"all": False}, {"ids": ["x"]}, {"ids": "1"}])
def test_mark_read_bad_input_is_400_with_message(api_client, payload):
    response = api_client.post("/api/v1/notifications/read/", payload, format="json")
    assert response.status_code == 400
    assert response.json()


def test_anonymous_gets_401(tenant_client):
    assert tenant_client.get("/api/v1/notifications/").status_code == 401
    assert tenant_client.post("/api/v1/notifications/read/", {"all": True}).status_code == 401


def test_alphas_notifications_are_invisible_on_beta(tenant, owner, other_tenant):
    from apps.accounts.models import User

    _send(tenant, owner, "Alpha secret")
    with schema_context(other_tenant.schema_name):
        beta_owner = User.objects.get(email="owner@beta.test")
    assert beta_owner.pk == owner.pk

    beta = _jwt_client(other_tenant, "owner@beta.test")
    assert beta.get("/api/v1/notifications/").json()["results"] == []
    # marking "all" on beta leaves alpha's row unread
    assert beta.post("/api/v1/notifications/read/", {"all": True}, format="json").json()["updated"] == 0
    with schema_context(tenant.schema_name):
        assert Notification.objects.get(title="Alpha secret").read_at is None
