"""The QR flow end to end with the fake Evolution API: an admin adds a number, Evolution's webhooks
(qrcode.updated, connection.update) arrive on our public webhook URL, the pipeline applies them,
and the page and the API follow: waiting with the QR, a fresh QR, connected with the phone and no
QR, then a drop after which Evolution will not reconnect, shown with what to do."""
from __future__ import annotations

import pytest
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.notifications.models import Notification
from apps.whatsapp.models import Connection, InboundEvent
from apps.whatsapp.services.ingest import process_event


@pytest.fixture(autouse=True)
def _english():
    """Stored lines and provider errors are written in the active language (pt-BR by default);
    these tests read them in English."""
    from django.utils import translation

    with translation.override("en"):
        yield


def _deliver_and_process(evo, public_client, conn) -> None:
    """What Evolution would post, through our real webhook view; then what the worker does."""
    for response in evo.deliver_with(public_client):
        assert response.status_code == 200, response.content
    with schema_context("alpha"):
        for event_id in (InboundEvent.objects.filter(connection=conn, processed_at__isnull=True)
                         .order_by("id").values_list("id", flat=True)):
            process_event(event_id)


def _conn(pk) -> Connection:
    with schema_context("alpha"):
        return Connection.objects.get(pk=pk)


def test_from_add_to_connected(owner, owner_client, public_client, api_client, evo):
    response = owner_client.post("/whatsapp/connections/add/", {"provider": "evolution", "name": "Loja Centro"})
    assert response.status_code == 302
    with schema_context("alpha"):
        conn = Connection.objects.get(name="Loja Centro")
    assert response["Location"].endswith(f"?pair={conn.pk}")
    name = conn.instance_name

    # Evolution posts its webhooks to us: QR codes while waiting for the scan
    evo.next_qr(name)
    _deliver_and_process(evo, public_client, conn)
    conn = _conn(conn.pk)
    assert conn.status == "awaiting_qr"
    first_qr = conn.qr_code
    assert first_qr.startswith("data:image/png;base64,")
    assert first_qr == evo.instance(name).qr["base64"]
    page = owner_client.get(response["Location"]).content.decode()
    assert 'data-status="awaiting_qr"' in page and 'data-qr-open' in page
    qr_html = owner_client.get(f"/whatsapp/connections/{conn.pk}/qr/").content.decode()
    assert first_qr in qr_html
    api = api_client.get(f"/api/v1/connections/{conn.pk}/").json()
    assert api["status"] == "awaiting_qr" and api["has_qr"] is True

    # the code rotates: the page's QR follows
    evo.next_qr(name)
    _deliver_and_process(evo, public_client, conn)
    second_qr = _conn(conn.pk).qr_code
    assert second_qr != first_qr
    assert second_qr in owner_client.get(f"/whatsapp/connections/{conn.pk}/qr/").content.decode()

    # scanned on the phone: connected, with the number, and no QR any more
    evo.scan_qr(name, phone="5511988887777")
    _deliver_and_process(evo, public_client, conn)
    conn = _conn(conn.pk)
    assert (conn.status, conn.phone_number, conn.qr_code, conn.last_error) == \
        ("connected", "+5511988887777", "", "")
    qr_panel = owner_client.get(f"/whatsapp/connections/{conn.pk}/qr/").content.decode()
    assert "data-qr-connected" in qr_panel and "data-testid=\"qr-image\"" not in qr_panel
    api = api_client.get(f"/api/v1/connections/{conn.pk}/").json()
    assert api["status"] == "connected" and api["phone_number"] == "+5511988887777" and api["has_qr"] is False
    card = owner_client.get(f"/whatsapp/connections/{conn.pk}/card/").content.decode()
    assert 'data-status="connected"' in card and "+5511988887777" in card

    # logged out on the phone (401): Evolution will not reconnect by itself -> what to do, admins told
    evo.close(name, status_reason=401)
    _deliver_and_process(evo, public_client, conn)
    conn = _conn(conn.pk)
    assert conn.status == "disconnected"
    # says what to do, in the language the webhook was received in (the default, pt-BR)
    from django.utils import translation

    with translation.override("pt-br"):
        assert translation.gettext("Reconnect") in conn.last_error
    card = owner_client.get(f"/whatsapp/connections/{conn.pk}/card/").content.decode()
    assert escape(conn.last_error) in card and 'data-testid="connection-error"' in card
    with schema_context("alpha"):
        assert Notification.objects.filter(recipient=owner, kind="connection.dropped").count() == 1


def test_qr_limit_refused_says_what_to_do(owner_client, public_client, evo):
    owner_client.post("/whatsapp/connections/add/", {"provider": "evolution", "name": "Loja"})
    with schema_context("alpha"):
        conn = Connection.objects.get(name="Loja")
    evo.refuse(conn.instance_name)
    _deliver_and_process(evo, public_client, conn)
    conn = _conn(conn.pk)
    assert conn.status == "error" and conn.last_error and conn.qr_code == ""
    qr_panel = owner_client.get(f"/whatsapp/connections/{conn.pk}/qr/").content.decode()
    assert escape(conn.last_error) in qr_panel
    assert f"/whatsapp/connections/{conn.pk}/reconnect/" in qr_panel  # the way out is right there
    # and it works: a new code
    owner_client.post(f"/whatsapp/connections/{conn.pk}/reconnect/")
    conn = _conn(conn.pk)
    assert conn.status == "awaiting_qr" and conn.qr_code and conn.last_error == ""


def test_wrong_secret_changes_nothing(owner_client, public_client, evo):
    owner_client.post("/whatsapp/connections/add/", {"provider": "evolution", "name": "Loja"})
    with schema_context("alpha"):
        conn = Connection.objects.get(name="Loja")
    evo.scan_qr(conn.instance_name)
    [hook] = [h for h in evo.pending_webhooks()
              if h.event == "connection.update" and h.body["data"]["state"] == "open"]
    response = public_client.post(f"/hooks/evolution/{conn.webhook_key}/", data=hook.raw,
                                  content_type="application/json", HTTP_X_WEBHOOK_SECRET="wrong")
    assert response.status_code == 401
    with schema_context("alpha"):
        assert not InboundEvent.objects.filter(connection=conn, kind="connection").exists()
    assert _conn(conn.pk).status == "awaiting_qr"
