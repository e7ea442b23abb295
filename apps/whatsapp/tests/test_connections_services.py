"""Connection lifecycle services against the fake Evolution API server (real HTTP on 127.0.0.1)."""
from __future__ import annotations

import socket

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django_tenants.utils import get_public_schema_name, schema_context

from apps.notifications.models import Notification
from apps.whatsapp.models import Connection, ConnectionStatus, Provider
from apps.whatsapp.providers.base import ConnectionUpdate
from apps.whatsapp.services import connections as services
from apps.whatsapp.urls_util import webhook_url
from tenants.models import WebhookRoute


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _route(conn):
    with schema_context(get_public_schema_name()):
        return WebhookRoute.objects.filter(connection_id=conn.pk, tenant__schema_name="alpha").first()


def test_add_evolution_creates_instance_with_our_webhook_and_waits_for_qr(tenant, evo, settings):
    settings.WHATSAPP_WEBHOOK_BASE_URL = "https://hooks.example.com"
    with schema_context("alpha"):
        conn = services.connection_add(name="Vendas", provider=Provider.EVOLUTION)
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.AWAITING_QR
        assert conn.qr_code.startswith("data:image/png;base64,")
        assert conn.qr_updated_at is not None
        # the instance token Evolution returned is kept, encrypted, for later calls
        instance = evo.instance(conn.instance_name)
        assert conn.get_credentials()["token"] == instance.token
        assert conn.external_id == instance.instance_id
        # Evolution posts to our public webhook URL, with the shared secret header
        hook = evo.calls("/instance/create")[0].json["webhook"]
        assert hook["url"] == f"https://hooks.example.com/hooks/evolution/{conn.webhook_key}/"
        assert hook["url"] == webhook_url(conn)
        assert conn.webhook_secret in hook["headers"].values()
        assert {"MESSAGES_UPSERT", "CONNECTION_UPDATE", "QRCODE_UPDATED"} <= set(hook["events"])
        assert _route(conn) is not None


def test_webhook_url_defaults_to_the_public_domain(tenant, settings):
    settings.WHATSAPP_WEBHOOK_BASE_URL = ""
    with schema_context("alpha"):
        conn = services.connection_create(name="S", provider=Provider.SANDBOX)
        url = webhook_url(conn)
    assert url.endswith(f"{settings.BASE_DOMAIN}{':' + str(settings.SITE_PORT) if settings.SITE_PORT else ''}"
                        f"/hooks/sandbox/{conn.webhook_key}/")


def test_provider_down_keeps_the_row_in_error_with_a_readable_message(tenant, settings):
    settings.EVOLUTION_API_URL = _closed_port()
    with schema_context("alpha"):
        conn = services.connection_add(name="Loja", provider=Provider.EVOLUTION)
        conn = Connection.objects.get(pk=conn.pk)
        assert conn.status == ConnectionStatus.ERROR
        assert conn.last_error  # says what happened, not a traceback
        assert "Traceback" not in conn.last_error
        assert _route(conn) is not None  # the row and its route are kept: Reconnect can retry


def test_provider_500_on_create_is_an_error_state(tenant, evo):
    evo.fail_next(1, status=500, path="/instance/create")
    with schema_context("alpha"):
        conn = services.connection_add(name="Loja", provider=Provider.EVOLUTION)
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.ERROR
        assert "500" in conn.last_error
        # Reconnect on the card creates the instance once the provider is back
        services.connection_reconnect(conn)
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.AWAITING_QR and conn.qr_code and conn.last_error == ""
        assert len(evo.calls("/instance/create")) == 2


def test_reconnect_gets_a_new_qr(tenant, evo):
    with schema_context("alpha"):
        conn = services.connection_add(name="Vendas", provider=Provider.EVOLUTION)
        first = Connection.objects.get(pk=conn.pk).qr_code
        evo.close(conn.instance_name, status_reason=401)  # logged out on the phone
        evo.instance(conn.instance_name).qr = {}
        services.connection_reconnect(conn)
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.AWAITING_QR
        assert conn.qr_code and conn.qr_code != first
        assert evo.calls("/instance/connect/")


def test_reconnect_failure_raises_readable_error_and_marks_error(tenant, evo):
    with schema_context("alpha"):
        conn = services.connection_add(name="Vendas", provider=Provider.EVOLUTION)
        evo.fail_next(1, status=400, path="/instance/connect", body={
            "status": 400, "error": "Bad Request", "response": {"message": ["instance blocked"]}})
        with pytest.raises(services.ConnectionActionError) as info:
            services.connection_reconnect(conn)
        assert "instance blocked" in info.value.message
        assert info.value.provider
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.ERROR
        assert "instance blocked" in conn.last_error


def test_disconnect_logs_out(tenant, evo):
    with schema_context("alpha"):
        conn = services.connection_add(name="Vendas", provider=Provider.EVOLUTION)
        evo.scan_qr(conn.instance_name, phone="5511988887777")
        services.connection_disconnect(conn)
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.DISCONNECTED
        assert conn.qr_code == ""
    assert evo.calls("/instance/logout/", method="DELETE")
    assert evo.instance(conn.instance_name).state == "close"


def test_delete_removes_instance_row_and_route(tenant, evo):
    with schema_context("alpha"):
        conn = services.connection_add(name="Vendas", provider=Provider.EVOLUTION)
        evo.scan_qr(conn.instance_name)
        name = conn.instance_name
        services.connection_delete(conn)
        assert not Connection.objects.filter(name="Vendas").exists()
    assert name not in evo.instances
    with schema_context(get_public_schema_name()):
        assert not WebhookRoute.objects.filter(tenant__schema_name="alpha", key=conn.webhook_key).exists()


def test_delete_works_when_the_provider_is_down(tenant, evo, settings):
    with schema_context("alpha"):
        conn = services.connection_add(name="Vendas", provider=Provider.EVOLUTION)
        settings.EVOLUTION_API_URL = _closed_port()
        services.connection_delete(conn)
        assert not Connection.objects.filter(pk=conn.pk).exists()
        assert _route(conn) is None


def test_apply_update_qr_then_connected_clears_qr_and_keeps_phone(tenant):
    with schema_context("alpha"):
        conn = services.connection_create(name="V", provider=Provider.EVOLUTION)
        services.connection_apply_update(conn, ConnectionUpdate(status="awaiting_qr", qr_code="2@abc"))
        conn.refresh_from_db()
        assert (conn.status, conn.qr_code) == (ConnectionStatus.AWAITING_QR, "2@abc")
        services.connection_apply_update(conn, ConnectionUpdate(status="connected", phone="+5511988887777"))
        conn.refresh_from_db()
        assert conn.status == ConnectionStatus.CONNECTED
        assert conn.phone_number == "+5511988887777"
        assert conn.qr_code == "" and conn.qr_updated_at is None
        assert conn.last_seen_at is not None


def test_dropped_without_reconnect_notifies_admins_once(tenant, owner):
    with schema_context("alpha"):
        conn = services.connection_create(name="Vendas", provider=Provider.EVOLUTION, status="connected")
        what_to_do = "WhatsApp logged this number out. Click Reconnect and scan a new QR code."
        services.connection_apply_update(conn, ConnectionUpdate(status="disconnected", error=what_to_do,
                                                                reconnect=False))
        conn.refresh_from_db()
        assert conn.last_error == what_to_do
        notes = list(Notification.objects.filter(recipient=owner, kind="connection.dropped"))
        assert len(notes) == 1 and "Vendas" in notes[0].title and notes[0].body == what_to_do
        # the same state again (a provider retry) does not notify twice
        services.connection_apply_update(conn, ConnectionUpdate(status="disconnected", error=what_to_do,
                                                                reconnect=False))
        assert Notification.objects.filter(recipient=owner, kind="connection.dropped").count() == 1


def test_transient_drop_does_not_notify(tenant, owner):
    with schema_context("alpha"):
        conn = services.connection_create(name="Vendas", provider=Provider.EVOLUTION, status="connected")
        services.connection_apply_update(conn, ConnectionUpdate(status="disconnected", error="lost; reconnecting",
                                                                reconnect=True))
        assert not Notification.objects.filter(kind="connection.dropped").exists()


def test_apply_update_announces_on_this_tenants_inbox_only(tenant, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    alpha, beta = async_to_sync(layer.new_channel)(), async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("alpha.inbox", alpha)
    async_to_sync(layer.group_add)("beta.inbox", beta)
    try:
        with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
            conn = services.connection_create(name="V", provider=Provider.EVOLUTION)
            services.connection_apply_update(conn, ConnectionUpdate(status="awaiting_qr", qr_code="2@abc"))
        message = async_to_sync(layer.receive)(alpha)
        assert message["event"] == "connection.updated"
        assert message["data"] == {**message["data"], "id": conn.pk, "status": "awaiting_qr", "has_qr": True}
        assert "2@abc" not in str(message)  # the QR itself is fetched over HTTP by admins only

        async def nothing_for_beta():
            import asyncio

            try:
                await asyncio.wait_for(layer.receive(beta), timeout=0.3)
            except asyncio.TimeoutError:
                return True
            return False

        assert async_to_sync(nothing_for_beta)()
    finally:
        async_to_sync(layer.group_discard)("alpha.inbox", alpha)
        async_to_sync(layer.group_discard)("beta.inbox", beta)


def test_cloud_settings_keep_secrets_when_left_blank_and_move_the_route(tenant):
    with schema_context("alpha"):
        conn = services.connection_create(
            name="Oficial", provider=Provider.CLOUD_API, instance_name="1111",
            credentials={"access_token": "EAAG-old-token", "app_secret": "s3cret", "verify_token": "vt"})
        services.connection_update_settings(conn, phone_number_id="2222", waba_id="99", access_token="",
                                            app_secret="new-secret", verify_token=None)
        conn.refresh_from_db()
        creds = conn.get_credentials()
        assert creds == {"access_token": "EAAG-old-token", "app_secret": "new-secret", "verify_token": "vt"}
        assert conn.instance_name == "2222" and conn.config["waba_id"] == "99"
        assert _route(conn).external_id == "2222"


def test_sandbox_needs_no_provider(tenant):
    with schema_context("alpha"):
        conn = services.connection_add(name="Teste", provider=Provider.SANDBOX)
        assert conn.status == ConnectionStatus.CONNECTED
        assert services.connection_test(conn)

