"""The Evolution API v2 provider against the fake Evolution server (tests/fakes/evolution.py):
instance creation with our webhook and secret header, QR pairing, state, sending, presence,
media download, reconciliation of a send whose answer was lost, and how failures surface."""
from __future__ import annotations

import base64
import socket
import time

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from apps.whatsapp.models import Connection
from apps.whatsapp.providers.base import (
    InboundMessage,
    OutboundMessage,
    PermanentProviderError,
    TemporaryProviderError,
)
from apps.whatsapp.providers.evolution import WEBHOOK_EVENTS, EvolutionProvider
from apps.whatsapp.services.connections import connection_create
from tests.fakes.evolution import FakeEvolution, Payloads


@pytest.fixture(autouse=True)
def _english():
    """Stored lines and provider errors are written in the active language (pt-BR by default);
    these tests read them in English."""
    from django.utils import translation

    with translation.override("en"):
        yield

pytestmark = pytest.mark.django_db

HOOK_URL = "https://app.example.com/hooks/evolution/some-key/"
CUSTOMER = "5511987654321"
provider = EvolutionProvider()


@pytest.fixture
def evo(settings):
    with FakeEvolution(deliver_webhooks=False) as fake:
        settings.EVOLUTION_API_URL = fake.url
        settings.EVOLUTION_API_KEY = fake.api_key
        settings.WHATSAPP_HTTP_TIMEOUT = 3.0
        yield fake


@pytest.fixture
def conn(tenant, evo):
    with schema_context("alpha"):
        yield connection_create(name="Loja", provider="evolution")


def paired(evo, conn) -> Connection:
    """Create the instance, save its token as the connections service does, scan the QR."""
    provider.create(conn, webhook_url=HOOK_URL)
    conn.save(update_fields=["credentials", "external_id"])
    evo.scan_qr(conn.instance_name, phone="5511988887777")
    return conn


def text(body: str, to: str = "+" + CUSTOMER, uid: str = "m1") -> OutboundMessage:
    return OutboundMessage(uid=uid, to=to, text=body)


def test_create_registers_our_webhook_with_the_secret_header_and_returns_the_qr(evo, conn):
    qr = provider.create(conn, webhook_url=HOOK_URL)

    (call,) = evo.calls("/instance/create", "POST")
    assert call.headers["apikey"] == evo.api_key  # creating needs the global key
    assert call.json["instanceName"] == conn.instance_name
    assert call.json["integration"] == "WHATSAPP-BAILEYS"
    assert call.json["qrcode"] is True
    hook = call.json["webhook"]
    assert hook["url"] == HOOK_URL
    assert hook["byEvents"] is False
    assert hook["headers"]["x-webhook-secret"] == conn.webhook_secret
    assert set(hook["events"]) == set(WEBHOOK_EVENTS) == {
        "MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE", "CONNECTION_UPDATE", "QRCODE_UPDATED"}

    instance = evo.instance(conn.instance_name)
    assert qr.code == instance.qr["code"]
    assert qr.data_uri.startswith("data:image/png;base64,")
    # The instance token and id are handed back on the connection for the caller to save.
    assert conn.get_credentials()["token"] == instance.token
    assert conn.external_id == instance.instance_id
    # The QR also went out as a webhook to our URL, with the secret header.
    qr_hooks = [h for h in evo.pending_webhooks() if h.event == "qrcode.updated"]
    assert qr_hooks and qr_hooks[0].url == HOOK_URL
    assert qr_hooks[0].headers["x-webhook-secret"] == conn.webhook_secret


def test_calls_after_create_use_the_instance_token(evo, conn):
    paired(evo, conn)
    conn.refresh_from_db()

    assert provider.state(conn).status == "connected"
    assert evo.calls("/instance/connectionState")[-1].headers["apikey"] == evo.instance(conn.instance_name).token


def test_create_again_after_a_crash_reapplies_the_webhook_and_pairs(evo, conn):
    provider.create(conn, webhook_url=HOOK_URL)
    first = evo.instance(conn.instance_name).qr["code"]

    qr = provider.create(conn, webhook_url="https://new.example.com/hooks/evolution/k2/")

    (webhook_set,) = evo.calls("/webhook/set/")
    assert webhook_set.json["webhook"]["url"] == "https://new.example.com/hooks/evolution/k2/"
    assert webhook_set.json["webhook"]["headers"]["x-webhook-secret"] == conn.webhook_secret
    assert qr is not None and qr.code == first  # still waiting for that scan: same code
    assert evo.instance(conn.instance_name).webhook["url"].startswith("https://new.example.com/")


def test_connect_gives_a_fresh_qr_after_a_disconnect_and_state_follows_the_phone(evo, conn):
    first = provider.create(conn, webhook_url=HOOK_URL)
    conn.save(update_fields=["credentials", "external_id"])
    assert provider.state(conn).status == "connecting"

    evo.close(conn.instance_name, status_reason=401)  # logged out on the phone
    assert provider.state(conn).status == "disconnected"
    again = provider.connect(conn)

    assert again.code and again.code != first.code
    assert again.data_uri.startswith("data:image/png;base64,") and again.data_uri != first.data_uri
    evo.scan_qr(conn.instance_name)
    assert provider.state(conn).status == "connected"
    assert provider.connect(conn) is None  # already open: nothing to scan


def test_test_credentials_names_the_paired_phone(evo, conn):
    provider.create(conn, webhook_url=HOOK_URL)
    conn.save(update_fields=["credentials", "external_id"])
    with translation.override("en"):
        assert provider.test_credentials(conn) == "Connecting"
    evo.scan_qr(conn.instance_name, phone="5511988887777", profile_name="Alpha Frios")
    assert provider.test_credentials(conn) == "+5511988887777 (Alpha Frios)"
    assert evo.calls("/instance/fetchInstances")[-1].headers["apikey"] == evo.instance(conn.instance_name).token


def test_send_text_returns_the_provider_id(evo, conn):
    paired(evo, conn)

    result = provider.send(conn, text("Seu pedido saiu para entrega"))

    (call,) = evo.calls("/message/sendText/", "POST")
    assert call.json == {"number": CUSTOMER, "text": "Seu pedido saiu para entrega"}
    assert result.provider_message_id == evo.sent[-1]["key"]["id"]
    assert evo.sent[-1]["message"]["conversation"] == "Seu pedido saiu para entrega"


def test_send_to_a_jid_passes_it_through(evo, conn):
    paired(evo, conn)
    provider.send(conn, text("oi", to="123456789012345@lid"))
    assert evo.calls("/message/sendText/")[-1].json["number"] == "123456789012345@lid"


def test_send_media_audio_and_document(evo, conn):
    paired(evo, conn)
    pdf = base64.b64encode(b"%PDF-1.4 pedido").decode()

    image = provider.send(conn, OutboundMessage(uid="i", to="+" + CUSTOMER, type="image", text="Cardápio",
                                                media_url="https://files.example.com/menu.jpg", media_mime="image/jpeg"))
    document = provider.send(conn, OutboundMessage(uid="d", to="+" + CUSTOMER, type="document", media_base64=pdf,
                                                   media_mime="application/pdf", media_filename="pedido.pdf"))
    audio = provider.send(conn, OutboundMessage(uid="a", to="+" + CUSTOMER, type="audio",
                                                media_url="https://files.example.com/voz.ogg", media_mime="audio/ogg"))

    media_calls = evo.calls("/message/sendMedia/")
    assert media_calls[0].json == {"number": CUSTOMER, "mediatype": "image", "mimetype": "image/jpeg",
                                   "caption": "Cardápio", "media": "https://files.example.com/menu.jpg",
                                   "fileName": "i.jpg"}
    assert media_calls[1].json["mediatype"] == "document"
    assert media_calls[1].json["media"] == pdf and media_calls[1].json["fileName"] == "pedido.pdf"
    assert evo.calls("/message/sendWhatsAppAudio/")[0].json == {
        "number": CUSTOMER, "audio": "https://files.example.com/voz.ogg"}
    assert [image.provider_message_id, document.provider_message_id, audio.provider_message_id] == [
        r["key"]["id"] for r in evo.sent]


def test_interactive_menu_goes_out_as_text(evo, conn):
    paired(evo, conn)
    menu = "Escolha:\n1. Pizza\n2. Bebidas"
    provider.send(conn, OutboundMessage(uid="x", to="+" + CUSTOMER, type="interactive", text=menu,
                                        payload={"body": "Escolha:", "buttons": [{"id": "p", "title": "Pizza"}]}))
    assert evo.calls("/message/sendText/")[-1].json["text"] == menu


def test_templates_are_refused_with_a_reason(evo, conn):
    paired(evo, conn)
    with pytest.raises(PermanentProviderError, match="Cloud API"):
        provider.send(conn, OutboundMessage(uid="t", to="+" + CUSTOMER, type="template",
                                            payload={"name": "x", "language": "pt_BR"}))
    assert evo.calls("/message/") == []


def test_send_presence_shows_typing(evo, conn):
    paired(evo, conn)
    provider.send_presence(conn, "+" + CUSTOMER, delay_ms=30)
    (call,) = evo.calls("/chat/sendPresence/", "POST")
    assert call.json == {"number": CUSTOMER, "presence": "composing", "delay": 30}


def test_5xx_is_temporary_and_the_retry_sends_once(evo, conn):
    paired(evo, conn)
    evo.fail_next(2, status=500, path="/message/sendText")

    for _attempt in range(2):
        with pytest.raises(TemporaryProviderError, match="500"):
            provider.send(conn, text("oi"))
    result = provider.send(conn, text("oi"))

    assert len(evo.calls("/message/sendText/")) == 3
    assert [r["key"]["id"] for r in evo.sent] == [result.provider_message_id]


def test_429_is_temporary(evo, conn):
    paired(evo, conn)
    evo.fail_next(1, status=429, path="/message/sendText")
    with pytest.raises(TemporaryProviderError):
        provider.send(conn, text("oi"))


def test_unknown_number_is_permanent_with_a_readable_reason(evo, conn):
    paired(evo, conn)
    evo.unknown_numbers.add("5511900001111")

    with pytest.raises(PermanentProviderError) as exc:
        provider.send(conn, text("oi", to="+5511900001111"))

    assert "not on WhatsApp" in str(exc.value) and "5511900001111" in str(exc.value)
    assert evo.sent == []


def test_a_disconnected_number_is_worth_retrying(evo, conn):
    provider.create(conn, webhook_url=HOOK_URL)  # never scanned: not connected
    with pytest.raises(TemporaryProviderError, match="Connection Closed"):
        provider.send(conn, text("oi"))


def test_wrong_api_key_is_permanent(evo, conn, settings):
    paired(evo, conn)
    conn.set_credentials({})
    settings.EVOLUTION_API_KEY = "wrong"
    with pytest.raises(PermanentProviderError, match="API key"):
        provider.send(conn, text("oi"))


def test_unreachable_server_is_temporary(evo, conn, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.EVOLUTION_API_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(TemporaryProviderError, match="unreachable"):
        provider.state(conn)


def test_a_lost_answer_is_reconciled_instead_of_sending_twice(evo, conn, settings):
    paired(evo, conn)
    settings.WHATSAPP_HTTP_TIMEOUT = 0.3
    since = time.time()
    evo.hang_next(1, seconds=1.0, path="/message/sendText")  # sent, but the answer comes too late

    result = provider.send(conn, text("Pedido confirmado"))  # looked it up instead of failing

    (sent,) = evo.sent
    assert result.provider_message_id == sent["key"]["id"]
    assert len(evo.calls("/message/sendText/")) == 1
    assert provider.find_sent(conn, text("Pedido confirmado"), since) == sent["key"]["id"]
    assert provider.find_sent(conn, text("Outra coisa"), since) is None
    assert provider.find_sent(conn, text("Pedido confirmado", to="+5511911112222"), since) is None
    assert provider.find_sent(conn, text("Pedido confirmado"), time.time() + 60) is None
    call = evo.calls("/chat/findMessages/")[-1]
    assert call.json["where"]["key"] == {"fromMe": True}
    assert set(call.json["where"]["messageTimestamp"]) == {"gte", "lte"}


def test_a_timeout_that_sent_nothing_is_temporary(evo, conn, settings):
    paired(evo, conn)
    settings.WHATSAPP_HTTP_TIMEOUT = 0.3
    evo.hang_next(1, seconds=1.0, path="/message/sendText", apply=False)  # nothing happened on their side

    with pytest.raises(TemporaryProviderError, match="in time"):
        provider.send(conn, text("Pedido confirmado"))
    assert evo.sent == []


def test_find_sent_matches_a_brazilian_number_without_the_ninth_digit(evo, conn):
    paired(evo, conn)
    since = time.time()
    # Evolution stores 55 31 9xxxx-xxxx as 553187654321@s.whatsapp.net (no 9th digit).
    result = provider.send(conn, text("oi BH", to="+5531987654321"))
    assert evo.sent[-1]["key"]["remoteJid"] == "553187654321@s.whatsapp.net"
    assert provider.find_sent(conn, text("oi BH", to="+5531987654321"), since) == result.provider_message_id


def test_fetch_media_downloads_through_get_base64(evo, conn):
    paired(evo, conn)
    record = evo.customer_message(conn.instance_name, message=Payloads.image("foto"), media=b"\xff\xd8jpeg-bytes")
    (item,) = provider.parse_webhook(conn, evo.pending_webhooks()[-1].body)
    message = InboundMessage.from_dict(item.data)

    content, mime, filename = provider.fetch_media(conn, message)

    assert content == b"\xff\xd8jpeg-bytes"
    assert mime == "image/jpeg"
    assert filename.startswith(record["key"]["id"])
    (call,) = evo.calls("/chat/getBase64FromMediaMessage/")
    assert call.json["message"] == {"key": {"id": record["key"]["id"]}}


def test_fetch_media_uses_inline_base64_without_calling(evo, conn):
    conn.config = {"webhook_base64": True}
    paired(evo, conn)
    assert evo.calls("/instance/create")[0].json["webhook"]["base64"] is True
    evo.customer_message(conn.instance_name, message=Payloads.document("nota.pdf"), media=b"%PDF-nota")
    (item,) = provider.parse_webhook(conn, evo.pending_webhooks()[-1].body)

    assert provider.fetch_media(conn, InboundMessage.from_dict(item.data)) == (b"%PDF-nota", "application/pdf",
                                                                               "nota.pdf")
    assert evo.calls("/chat/getBase64FromMediaMessage/") == []


def test_fetch_media_of_a_vanished_message_is_none(evo, conn):
    paired(evo, conn)
    message = InboundMessage(provider_message_id="3EB0GONE", contact=None, timestamp=0, type="image",
                             media={"message_id": "3EB0GONE", "mime": "image/jpeg"})
    assert provider.fetch_media(conn, message) is None


def test_logout_and_delete(evo, conn):
    paired(evo, conn)

    provider.delete(conn)  # connected: Evolution wants a logout first, the provider does it

    assert conn.instance_name not in evo.instances
    assert [c.path.split("/")[2] for c in evo.calls("/instance/") if c.method == "DELETE"] == [
        "delete", "logout", "delete"]
    provider.delete(conn)  # already gone: fine
    provider.logout(conn)  # idem


def test_logout_of_a_disconnected_number_is_a_no_op(evo, conn):
    provider.create(conn, webhook_url=HOOK_URL)
    evo.close(conn.instance_name, status_reason=428)
    provider.logout(conn)
    assert evo.instance(conn.instance_name).state == "close"


def test_restart_uses_post(evo, conn):
    paired(evo, conn)
    provider.restart(conn)
    assert evo.calls("/instance/restart/")[0].method == "POST"
