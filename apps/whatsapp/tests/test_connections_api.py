"""Connections REST API: admins only, credentials write-only (masked in reads), provider failures
as 502 with the reason (row kept), and tenant isolation."""
from __future__ import annotations

import socket

import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from apps.whatsapp.models import Connection, Provider
from apps.whatsapp.services import connections as services
from conftest import PASSWORD, host_of, make_user
from tests.fakes import cloud_api as fake_cloud

API = "/api/v1/connections/"


def _jwt_client(tenant, email) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(tenant))
    response = client.post("/api/v1/auth/token/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def test_admin_only(tenant, api_client):
    make_user(tenant, email="agent@alpha.test", role=Role.AGENT)
    make_user(tenant, email="sup@alpha.test", role=Role.SUPERVISOR)
    for email in ("agent@alpha.test", "sup@alpha.test"):
        client = _jwt_client(tenant, email)
        assert client.get(API).status_code == 403
        assert client.post(API, {"name": "x", "provider": "sandbox"}, format="json").status_code == 403
    assert APIClient(HTTP_HOST=host_of(tenant)).get(API).status_code == 401
    assert api_client.get(API).status_code == 200


def test_create_sandbox_list_detail_update_delete(api_client):
    response = api_client.post(API, {"name": "Testes", "provider": "sandbox"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "connected" and body["provider"] == "sandbox"
    pk = body["id"]
    assert [c["name"] for c in api_client.get(API).json()["results"]] == ["Testes"]
    assert api_client.patch(f"{API}{pk}/", {"name": "Simulador"}, format="json").json()["name"] == "Simulador"
    assert api_client.get(f"{API}{pk}/qr/").json() == {"status": "connected", "has_qr": False, "qr_code": "",
                                                      "image": "", "updated_at": None}
    assert api_client.delete(f"{API}{pk}/").status_code == 204
    assert api_client.get(f"{API}{pk}/").status_code == 404


def test_validation_errors_are_400(api_client):
    assert api_client.post(API, {"name": "X", "provider": "telegram"}, format="json").status_code == 400
    response = api_client.post(API, {"name": "Oficial", "provider": "cloud_api"}, format="json")
    assert response.status_code == 400 and "access_token" in response.json()
    api_client.post(API, {"name": "Dup", "provider": "sandbox"}, format="json")
    response = api_client.post(API, {"name": "dup", "provider": "sandbox"}, format="json")
    assert response.status_code == 400 and "name" in response.json()


def test_cloud_credentials_are_write_only(api_client, graph):
    response = api_client.post(API, {
        "name": "Oficial", "provider": "cloud_api", "phone_number_id": fake_cloud.PHONE_NUMBER_ID,
        "waba_id": fake_cloud.WABA_ID, "access_token": fake_cloud.ACCESS_TOKEN, "app_secret": fake_cloud.APP_SECRET,
        "verify_token": "my-verify-token"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    text = response.content.decode()
    assert fake_cloud.ACCESS_TOKEN not in text and fake_cloud.APP_SECRET not in text
    assert body["credentials"]["access_token"].endswith(fake_cloud.ACCESS_TOKEN[-4:])
    assert body["credentials"]["access_token"].startswith("•")
    assert body["verify_token"] == "my-verify-token"
    assert body["status"] == "connected" and body["phone_number"] == "+551140001234"
    pk = body["id"]
    with schema_context("alpha"):
        key = Connection.objects.get(pk=pk).webhook_key
    assert body["webhook_url"].endswith(f"/hooks/cloud_api/{key}/")
    test = api_client.post(f"{API}{pk}/test/")
    assert test.status_code == 200 and test.json()["ok"] is True and "Alpha Frios" in test.json()["detail"]
    # a new (wrong) token: write-only, kept encrypted; the test says what Meta answered
    assert api_client.patch(f"{API}{pk}/", {"access_token": "EAAG-wrong"}, format="json").status_code == 200
    test = api_client.post(f"{API}{pk}/test/").json()
    assert test["ok"] is False and test["detail"] and test["connection"]["status"] == "error"
    assert "EAAG-wrong" not in str(api_client.get(f"{API}{pk}/").json())


def test_evolution_qr_status_reconnect_disconnect(api_client, evo):
    response = api_client.post(API, {"name": "Loja", "provider": "evolution"}, format="json")
    body = response.json()
    assert response.status_code == 201 and body["status"] == "awaiting_qr" and body["has_qr"] is True
    assert body["credentials"]["token"].startswith("•")
    pk = body["id"]
    qr = api_client.get(f"{API}{pk}/qr/").json()
    assert qr["has_qr"] and qr["image"].startswith("data:image/png;base64,")
    with schema_context("alpha"):
        name = Connection.objects.get(pk=pk).instance_name
    evo.scan_qr(name, phone="5511988887777")
    status = api_client.get(f"{API}{pk}/status/").json()
    assert status["status"] == "connected"
    assert api_client.get(f"{API}{pk}/qr/").json()["has_qr"] is False
    assert api_client.post(f"{API}{pk}/disconnect/").json()["status"] == "disconnected"
    reconnect = api_client.post(f"{API}{pk}/reconnect/").json()
    assert reconnect["status"] == "awaiting_qr" and reconnect["has_qr"] is True


def test_provider_down_is_502_with_the_reason(api_client, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.EVOLUTION_API_URL = f"http://127.0.0.1:{sock.getsockname()[1]}"
    created = api_client.post(API, {"name": "Loja", "provider": "evolution"}, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "error" and created.json()["last_error"]
    pk = created.json()["id"]
    for action in ("reconnect", "disconnect", "status"):
        response = api_client.post(f"{API}{pk}/{action}/")
        assert response.status_code == 502, action
        assert response.json()["detail"] and response.json()["connection"]["status"] == "error"
    assert api_client.delete(f"{API}{pk}/").status_code == 204  # best effort on the provider side


def test_isolation(tenant, other_tenant, api_client):
    with schema_context("beta"):
        theirs = services.connection_create(name="Beta number", provider=Provider.SANDBOX)
    with schema_context("alpha"):
        mine = services.connection_create(name="Alpha number", provider=Provider.SANDBOX)
    names = [c["name"] for c in api_client.get(API).json()["results"]]
    assert names == ["Alpha number"]
    for path in ("", "qr/", "status/"):
        response = api_client.get(f"{API}{theirs.pk}/{path}")
        assert response.status_code == 404 or "Beta number" not in response.content.decode()
    if theirs.pk != mine.pk:
        assert api_client.patch(f"{API}{theirs.pk}/", {"name": "hacked"}, format="json").status_code == 404
        assert api_client.delete(f"{API}{theirs.pk}/").status_code == 404
    # alpha's token is refused on beta's domain
    client = APIClient(HTTP_HOST=host_of(other_tenant))
    client.credentials(HTTP_AUTHORIZATION=api_client._credentials["HTTP_AUTHORIZATION"])
    assert client.get(API).status_code == 401
    with schema_context("beta"):
        assert Connection.objects.get(pk=theirs.pk).name == "Beta number"


def test_openapi_lists_the_endpoints(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/connections/", "/api/v1/connections/{id}/", "/api/v1/connections/{id}/qr/",
                 "/api/v1/connections/{id}/status/", "/api/v1/connections/{id}/reconnect/",
                 "/api/v1/connections/{id}/disconnect/", "/api/v1/connections/{id}/test/"):
        assert path in paths, path
