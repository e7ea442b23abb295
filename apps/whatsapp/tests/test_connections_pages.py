"""The Connections page as an admin meets it: cards, adding each kind of number, the QR, the
Cloud API credentials and their Test button, the actions, errors as alerts (never a 500)."""
from __future__ import annotations

import socket

import pytest
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.whatsapp.models import Connection, ConnectionStatus, Provider
from apps.whatsapp.services import connections as services
from conftest import as_shown, host_of, make_user
from tests.fakes import cloud_api as fake_cloud

PAGE = "/whatsapp/connections/"


def _client(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


def _in_alpha(fn):
    with schema_context("alpha"):
        return fn()


def _html(response) -> str:
    return response.content.decode()


def _shows(response, msgid) -> bool:
    return escape(as_shown(response, msgid)) in _html(response)


def test_page_for_admins_only(tenant, owner_client, tenant_client):
    agent = make_user(tenant, email="agent@alpha.test", role=Role.AGENT)
    supervisor = make_user(tenant, email="sup@alpha.test", role=Role.SUPERVISOR)
    assert _client(tenant, agent).get(PAGE).status_code == 403
    assert _client(tenant, supervisor).get(PAGE).status_code == 403
    assert _client(tenant, agent).post("/whatsapp/connections/add/", {"provider": "sandbox", "name": "x"}).status_code == 403
    assert tenant_client.get(PAGE).status_code == 302  # anonymous -> login
    response = owner_client.get(PAGE)
    assert response.status_code == 200
    assert _shows(response, "No WhatsApp number yet")
    # the sidebar offers the page to the admin only
    assert 'data-nav="connections"' in _html(response)
    assert 'data-nav="connections"' not in _html(_client(tenant, agent).get("/"))


def test_add_sandbox(owner_client):
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "sandbox", "name": "Testes"}, follow=True)
    assert response.status_code == 200
    conn = _in_alpha(lambda: Connection.objects.get(name="Testes"))
    assert conn.status == ConnectionStatus.CONNECTED
    html = _html(response)
    assert f'id="connection-{conn.pk}"' in html
    assert _shows(response, "Open the simulator")
    assert 'data-status="connected"' in html


def test_add_form_errors(owner_client):
    _in_alpha(lambda: services.connection_create(name="Vendas", provider=Provider.SANDBOX))
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "sandbox", "name": "vendas"})
    assert response.status_code == 400
    assert _shows(response, "There is already a connection with this name.")
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "cloud_api", "name": "Oficial",
                                                                "phone_number_id": "abc"})
    assert response.status_code == 400
    assert _shows(response, "Required for the WhatsApp Cloud API.")
    assert _shows(response, "The phone number ID is a number, like 106540352242922.")
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "telegram", "name": "X"})
    assert response.status_code == 400
    assert _in_alpha(lambda: Connection.objects.count()) == 1


def test_add_evolution_opens_the_qr(owner_client, evo):
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "evolution", "name": "Loja"})
    conn = _in_alpha(lambda: Connection.objects.get(name="Loja"))
    assert response.status_code == 302 and response["Location"].endswith(f"?pair={conn.pk}")
    page = owner_client.get(response["Location"])
    assert f'data-pair="{conn.pk}"' in _html(page)
    assert _shows(page, "Show QR code")
    qr = owner_client.get(f"/whatsapp/connections/{conn.pk}/qr/")
    assert 'data-testid="qr-image"' in _html(qr) and "data:image/png;base64," in _html(qr)


def test_raw_qr_code_is_drawn(owner_client):
    conn = _in_alpha(lambda: services.connection_create(name="Loja", provider=Provider.EVOLUTION))
    from apps.whatsapp.providers.base import ConnectionUpdate

    _in_alpha(lambda: services.connection_apply_update(conn, ConnectionUpdate(status="awaiting_qr",
                                                                              qr_code="2@only-the-code")))
    qr = owner_client.get(f"/whatsapp/connections/{conn.pk}/qr/")
    assert "data:image/svg+xml;base64," in _html(qr)


def test_provider_down_is_an_alert_not_a_500(owner_client, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.EVOLUTION_API_URL = f"http://127.0.0.1:{sock.getsockname()[1]}"
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "evolution", "name": "Loja"}, follow=True)
    assert response.status_code == 200
    conn = _in_alpha(lambda: Connection.objects.get(name="Loja"))
    assert conn.status == ConnectionStatus.ERROR
    messages = [str(m) for m in response.context["messages"]]
    assert any(conn.last_error in m for m in messages)
    assert 'data-testid="connection-error"' in _html(response)
    # Reconnect while it is still down: an alert again
    response = owner_client.post(f"/whatsapp/connections/{conn.pk}/reconnect/", follow=True)
    assert response.status_code == 200
    assert 'class="alert alert-error"' in _html(response)


def test_reconnect_disconnect_delete(owner_client, evo):
    owner_client.post("/whatsapp/connections/add/", {"provider": "evolution", "name": "Loja"})
    conn = _in_alpha(lambda: Connection.objects.get(name="Loja"))
    evo.scan_qr(conn.instance_name)
    response = owner_client.post(f"/whatsapp/connections/{conn.pk}/disconnect/", follow=True)
    assert response.status_code == 200
    assert _in_alpha(lambda: Connection.objects.get(pk=conn.pk).status) == ConnectionStatus.DISCONNECTED
    response = owner_client.post(f"/whatsapp/connections/{conn.pk}/reconnect/")
    assert response.status_code == 302 and response["Location"].endswith(f"?pair={conn.pk}")
    assert _in_alpha(lambda: Connection.objects.get(pk=conn.pk).status) == ConnectionStatus.AWAITING_QR
    assert owner_client.get(f"/whatsapp/connections/{conn.pk}/delete/").status_code == 405
    response = owner_client.post(f"/whatsapp/connections/{conn.pk}/delete/", follow=True)
    assert response.status_code == 200
    assert not _in_alpha(lambda: Connection.objects.filter(pk=conn.pk).exists())
    assert conn.instance_name not in evo.instances


def test_cloud_api_add_shows_webhook_verify_token_masked_secrets_and_tests(owner_client, graph):
    response = owner_client.post("/whatsapp/connections/add/", {
        "provider": "cloud_api", "name": "Oficial", "phone_number_id": fake_cloud.PHONE_NUMBER_ID,
        "waba_id": fake_cloud.WABA_ID, "access_token": fake_cloud.ACCESS_TOKEN, "app_secret": fake_cloud.APP_SECRET,
    }, follow=True)
    conn = _in_alpha(lambda: Connection.objects.get(name="Oficial"))
    assert conn.status == ConnectionStatus.CONNECTED
    assert conn.phone_number == "+551140001234"
    creds = conn.get_credentials()
    assert creds["verify_token"]  # generated, to paste in Meta's dashboard
    html = _html(response)
    assert f"/hooks/cloud_api/{conn.webhook_key}/" in html
    assert creds["verify_token"] in html
    assert fake_cloud.ACCESS_TOKEN not in html and fake_cloud.APP_SECRET not in html
    assert fake_cloud.ACCESS_TOKEN[-4:] in html  # masked: the last characters only

    ok = owner_client.post(f"/whatsapp/connections/{conn.pk}/test/", HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and "alert-success" in _html(ok) and "Alpha Frios" in _html(ok)

    # a wrong token: the provider's error, readable, on the card
    owner_client.post(f"/whatsapp/connections/{conn.pk}/settings/", {
        f"c{conn.pk}-name": "Oficial", f"c{conn.pk}-phone_number_id": fake_cloud.PHONE_NUMBER_ID,
        f"c{conn.pk}-access_token": "EAAG-wrong"})
    bad = owner_client.post(f"/whatsapp/connections/{conn.pk}/test/", HTTP_HX_REQUEST="true")
    assert bad.status_code == 200 and "alert-error" in _html(bad)
    conn = _in_alpha(lambda: Connection.objects.get(pk=conn.pk))
    assert conn.status == ConnectionStatus.ERROR and conn.last_error
    assert conn.get_credentials()["app_secret"] == fake_cloud.APP_SECRET  # left blank: kept


def test_settings_form_errors(owner_client):
    a = _in_alpha(lambda: services.connection_create(name="A", provider=Provider.SANDBOX))
    _in_alpha(lambda: services.connection_create(name="B", provider=Provider.SANDBOX))
    response = owner_client.post(f"/whatsapp/connections/{a.pk}/settings/", {f"c{a.pk}-name": "b"})
    assert response.status_code == 400
    assert _shows(response, "There is already a connection with this name.")
    response = owner_client.post(f"/whatsapp/connections/{a.pk}/settings/", {f"c{a.pk}-name": "Renamed"})
    assert response.status_code == 302
    assert _in_alpha(lambda: Connection.objects.get(pk=a.pk).name) == "Renamed"


def test_card_partial_and_isolation(tenant, other_tenant, owner_client):
    mine = _in_alpha(lambda: services.connection_create(name="Alpha number", provider=Provider.SANDBOX))
    with schema_context("beta"):
        theirs = services.connection_create(name="Beta number", provider=Provider.SANDBOX)
    card = owner_client.get(f"/whatsapp/connections/{mine.pk}/card/")
    assert card.status_code == 200 and "Alpha number" in _html(card)
    assert "Beta number" not in _html(owner_client.get(PAGE))
    # beta's id on alpha's domain is never beta's row
    for url in (f"/whatsapp/connections/{theirs.pk}/card/", f"/whatsapp/connections/{theirs.pk}/qr/"):
        response = owner_client.get(url)
        assert response.status_code == 404 or "Beta number" not in _html(response)
    if theirs.pk != mine.pk:
        assert owner_client.post(f"/whatsapp/connections/{theirs.pk}/delete/").status_code == 404
    with schema_context("beta"):
        assert Connection.objects.filter(pk=theirs.pk).exists()
