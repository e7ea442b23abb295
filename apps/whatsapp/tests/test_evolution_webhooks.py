"""Evolution API webhooks through the real view (``/hooks/evolution/<key>/`` on the public domain):
the secret header, the body cap, every message kind normalized, groups and broadcasts ignored,
duplicates stored once, connection and QR events, and tenants that never write into each other."""
from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from apps.whatsapp.models import InboundEvent
from apps.whatsapp.providers.evolution import EvolutionProvider
from apps.whatsapp.services.connections import connection_create
from conftest import as_shown
from tests.fakes.evolution import FakeEvolution, Payloads

pytestmark = pytest.mark.django_db

CUSTOMER = "5511987654321"


def create(schema: str, name: str = "Loja"):
    with schema_context(schema):
        return connection_create(name=name, provider="evolution")


@pytest.fixture
def conn(tenant):
    return create("alpha")


def url(conn) -> str:
    return f"/hooks/evolution/{conn.webhook_key}/"


def post(client, conn, payload, *, secret: str | None = "", raw: bytes | None = None):
    """Post like Evolution does: JSON body, our secret in the custom header."""
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if secret is not None:
        headers["HTTP_X_WEBHOOK_SECRET"] = secret or conn.webhook_secret
    return client.post(url(conn), data=body, content_type="application/json", **headers)


def events(schema: str, conn=None) -> list[InboundEvent]:
    with schema_context(schema):
        rows = InboundEvent.objects.order_by("id")
        if conn is not None:
            rows = rows.filter(connection_id=conn.pk)
        return list(rows)


def upsert(conn, **record) -> dict:
    return Payloads.upsert(conn.instance_name, Payloads.message_record(**record))


# --- messages ---------------------------------------------------------------------------------
def test_customer_text_is_stored_once_normalized(public_client, conn):
    payload = upsert(conn, phone=CUSTOMER, text="Quero 200g de presunto", push_name="Maria Souza",
                     message_id="3EB0AAA1", timestamp=1717243200)

    response = post(public_client, conn, payload)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": 1, "stored": 1}
    (event,) = events("alpha", conn)
    assert (event.kind, event.dedup_key) == ("message", "msg:3EB0AAA1")
    data = event.payload
    assert (data["type"], data["text"], data["from_me"]) == ("text", "Quero 200g de presunto", False)
    assert data["contact"] == {"phone": "+5511987654321", "wa_jid": "5511987654321@s.whatsapp.net", "lid": "",
                               "bsuid": "", "name": "Maria Souza"}
    assert data["timestamp"] == 1717243200.0
    assert data["provider_message_id"] == "3EB0AAA1"


def test_the_same_message_twice_is_stored_once(public_client, conn):
    payload = upsert(conn, text="oi", message_id="3EB0DUP")
    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 1}
    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 0}
    assert len(events("alpha", conn)) == 1


def test_the_echo_of_our_send_and_its_upsert_dedupe(public_client, conn):
    record = Payloads.message_record(phone=CUSTOMER, text="Pedido confirmado", from_me=True, message_id="3EB0ECHO")
    assert post(public_client, conn, Payloads.send_message(conn.instance_name, record)).json()["stored"] == 1
    assert post(public_client, conn, Payloads.upsert(conn.instance_name, record)).json()["stored"] == 0
    (event,) = events("alpha", conn)
    assert event.payload["from_me"] is True
    assert event.payload["contact"]["name"] == ""  # pushName of our own message is not the customer's


def test_extended_text_and_extra_keys(public_client, conn):
    payload = upsert(conn, message=Payloads.extended_text("veja https://loja.example.com"))
    payload["data"]["message"]["messageContextInfo"] = {"deviceListMetadataVersion": 2}
    post(public_client, conn, payload)
    (event,) = events("alpha", conn)
    assert (event.payload["type"], event.payload["text"]) == ("text", "veja https://loja.example.com")


@pytest.mark.parametrize("remote", ["120363025555555555@g.us", "status@broadcast", "120363999999999999@newsletter",
                                    "1717243200@broadcast"])
def test_groups_statuses_and_channels_are_ignored(public_client, conn, remote):
    payload = upsert(conn, remote_jid=remote, text="oi grupo", participant="5511911112222@s.whatsapp.net")

    response = post(public_client, conn, payload)

    assert response.status_code == 200
    assert response.json() == {"received": 0, "stored": 0}
    assert events("alpha", conn) == []


def test_lid_sender_carries_both_identifiers(public_client, conn):
    payload = upsert(conn, phone=CUSTOMER, lid="215830927839287@lid", text="oi", push_name="Ana")
    assert payload["data"]["key"]["addressingMode"] == "lid"

    post(public_client, conn, payload)

    (event,) = events("alpha", conn)
    assert event.payload["contact"] == {"phone": "+5511987654321", "wa_jid": "5511987654321@s.whatsapp.net",
                                        "lid": "215830927839287@lid", "bsuid": "", "name": "Ana"}


def test_phone_jid_with_the_lid_as_alternate(public_client, conn):
    """Newer Evolution releases put the phone JID in remoteJid and the LID in remoteJidAlt."""
    payload = upsert(conn, phone=CUSTOMER, text="oi")
    payload["data"]["key"]["remoteJidAlt"] = "215830927839287@lid"
    post(public_client, conn, payload)
    contact = events("alpha", conn)[0].payload["contact"]
    assert (contact["phone"], contact["lid"]) == ("+5511987654321", "215830927839287@lid")


def test_lid_only_sender_is_kept(public_client, conn):
    payload = upsert(conn, remote_jid="215830927839287@lid", phone="", text="oi")
    post(public_client, conn, payload)
    contact = events("alpha", conn)[0].payload["contact"]
    assert (contact["phone"], contact["lid"]) == ("", "215830927839287@lid")


def test_media_kinds_are_normalized(public_client, conn):
    kinds = {
        "3EB0IMG": Payloads.image("Olha o produto"),
        "3EB0AUD": Payloads.audio(seconds=6),
        "3EB0VID": Payloads.video(),
        "3EB0DOC": Payloads.document("orcamento.pdf", caption="segue"),
        "3EB0STK": Payloads.sticker(),
    }
    for message_id, message in kinds.items():
        assert post(public_client, conn, upsert(conn, message=message, message_id=message_id)).status_code == 200

    stored = {e.payload["provider_message_id"]: e.payload for e in events("alpha", conn)}
    assert stored["3EB0IMG"]["type"] == "image" and stored["3EB0IMG"]["text"] == "Olha o produto"
    assert stored["3EB0IMG"]["media"] == {"message_id": "3EB0IMG", "mime": "image/jpeg", "filename": "",
                                          "size": 48213}
    assert stored["3EB0AUD"]["type"] == "audio"
    assert stored["3EB0AUD"]["media"]["mime"] == "audio/ogg"
    assert stored["3EB0AUD"]["media"]["voice"] is True and stored["3EB0AUD"]["media"]["seconds"] == 6
    assert stored["3EB0VID"]["type"] == "video"
    assert stored["3EB0DOC"]["type"] == "document"
    assert (stored["3EB0DOC"]["text"], stored["3EB0DOC"]["media"]["filename"]) == ("segue", "orcamento.pdf")
    assert stored["3EB0STK"]["type"] == "sticker"


def test_location_replies_reaction_and_unsupported(public_client, conn):
    post(public_client, conn, upsert(conn, message_id="L", message=Payloads.location(-23.5505, -46.6333, "Loja",
                                                                                      "Av. Paulista, 1000")))
    post(public_client, conn, upsert(conn, message_id="B", message=Payloads.button_reply("Falar com atendente",
                                                                                          "human")))
    post(public_client, conn, upsert(conn, message_id="R", message=Payloads.list_reply("Pizza grande", "pz-g")))
    post(public_client, conn, upsert(conn, message_id="X", message=Payloads.reaction("3EB0TARGET", "👍")))
    post(public_client, conn, upsert(conn, message_id="P", message={"pollCreationMessage": {"name": "?"}}))

    stored = {e.payload["provider_message_id"]: e.payload for e in events("alpha", conn)}
    assert stored["L"]["type"] == "location"
    assert stored["L"]["payload"] == {"latitude": -23.5505, "longitude": -46.6333, "name": "Loja",
                                      "address": "Av. Paulista, 1000"}
    assert (stored["B"]["type"], stored["B"]["text"], stored["B"]["payload"]) == (
        "text", "Falar com atendente", {"reply_id": "human"})
    assert (stored["R"]["text"], stored["R"]["payload"]) == ("Pizza grande", {"reply_id": "pz-g"})
    assert (stored["X"]["type"], stored["X"]["payload"]) == ("reaction", {"target_id": "3EB0TARGET", "emoji": "👍"})
    assert (stored["P"]["type"], stored["P"]["text"], stored["P"]["payload"]) == (
        "text", "", {"unsupported": "pollCreationMessage"})


def test_data_may_be_a_list_of_messages(public_client, conn):
    records = [Payloads.message_record(text=f"m{i}", message_id=f"3EB0L{i}") for i in range(3)]
    response = post(public_client, conn, Payloads.envelope("messages.upsert", conn.instance_name, records))
    assert response.json() == {"received": 3, "stored": 3}


def test_uppercase_event_names_are_accepted(public_client, conn):
    payload = upsert(conn, text="oi", message_id="3EB0UP")
    payload["event"] = "MESSAGES_UPSERT"
    assert post(public_client, conn, payload).json()["stored"] == 1


# --- statuses, connection, QR -------------------------------------------------------------------
def test_delivery_statuses(public_client, conn):
    for status in ("SERVER_ACK", "DELIVERY_ACK", "READ", "DELIVERY_ACK", "PLAYED", "PENDING"):
        response = post(public_client, conn, Payloads.update(conn.instance_name, "3EB0OUT", status))
        assert response.status_code == 200
    # the customer's message being read on another device of ours is not a tick of ours
    post(public_client, conn, Payloads.update(conn.instance_name, "3EB0IN", "READ", from_me=False))

    rows = events("alpha", conn)
    assert [(e.kind, e.dedup_key, e.payload["status"]) for e in rows] == [
        ("status", "status:3EB0OUT:SERVER_ACK", "sent"),
        ("status", "status:3EB0OUT:DELIVERY_ACK", "delivered"),
        ("status", "status:3EB0OUT:READ", "read"),
        ("status", "status:3EB0OUT:PLAYED", "read"),
    ]
    assert rows[0].payload["provider_message_id"] == "3EB0OUT"


def test_failed_status(public_client, conn):
    post(public_client, conn, Payloads.update(conn.instance_name, "3EB0BAD", "ERROR"))
    (event,) = events("alpha", conn)
    assert event.payload["status"] == "failed" and event.payload["error"]


def test_connection_open_close_and_refused(public_client, conn):
    post(public_client, conn, Payloads.connection(conn.instance_name, "connecting", date_time="2024-06-01T12:00:00.000Z"))
    post(public_client, conn, Payloads.connection(conn.instance_name, "open", wuid="5511988887777@s.whatsapp.net",
                                                  date_time="2024-06-01T12:00:01.000Z"))
    logged_out_response = post(public_client, conn, Payloads.connection(conn.instance_name, "close", 401,
                                                                        date_time="2024-06-01T13:00:00.000Z"))
    post(public_client, conn, Payloads.connection(conn.instance_name, "close", 428,
                                                  date_time="2024-06-01T13:00:01.000Z"))
    refused_response = post(public_client, conn, Payloads.connection(conn.instance_name, "refused", 428,
                                                                     date_time="2024-06-01T14:00:00.000Z"))

    rows = events("alpha", conn)
    assert [e.dedup_key for e in rows] == [
        "conn:connecting:200:2024-06-01T12:00:00.000Z", "conn:open:200:2024-06-01T12:00:01.000Z",
        "conn:close:401:2024-06-01T13:00:00.000Z", "conn:close:428:2024-06-01T13:00:01.000Z",
        "conn:refused:428:2024-06-01T14:00:00.000Z"]
    connecting, opened, logged_out, lost, refused = (e.payload for e in rows)
    assert connecting["status"] == "connecting"
    assert (opened["status"], opened["phone"]) == ("connected", "+5511988887777")
    assert (logged_out["status"], logged_out["reconnect"]) == ("disconnected", False)
    assert logged_out["error"] == as_shown(logged_out_response, (
        "WhatsApp logged this number out (it was disconnected on the phone). "
        "Click Reconnect and scan a new QR code."))
    assert (lost["status"], lost["reconnect"]) == ("disconnected", True)
    assert (refused["status"], refused["reconnect"]) == ("error", False)
    assert refused["error"] == as_shown(refused_response, "QR code limit reached: click Reconnect for a new code")


def test_banned_number_is_not_reconnected(public_client, conn):
    response = post(public_client, conn, Payloads.connection(conn.instance_name, "close", 403))
    (event,) = events("alpha", conn)
    assert event.payload["reconnect"] is False
    assert event.payload["error"] == as_shown(response, (
        "WhatsApp refused this number (it may be banned or restricted). "
        "Check the WhatsApp app on the phone, then click Reconnect."))


def test_qrcode_updated(public_client, conn):
    payload = Payloads.qrcode(conn.instance_name, "2@abc,def,ghi,jkl")

    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 1}
    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 0}

    (event,) = events("alpha", conn)
    assert event.kind == "qrcode" and event.dedup_key.startswith("qr:")
    assert event.payload["status"] == "awaiting_qr"
    assert event.payload["qr_code"] == payload["data"]["qrcode"]["base64"]
    assert event.payload["qr_code"].startswith("data:image/png;base64,")


def test_qr_limit_notice_is_accepted_without_storing(public_client, conn):
    response = post(public_client, conn, Payloads.qrcode_limit(conn.instance_name))
    assert response.json() == {"received": 0, "stored": 0}


@pytest.mark.parametrize("event", ["chats.update", "presence.update", "contacts.upsert", "CHATS_UPSERT"])
def test_events_we_do_not_use_are_accepted_and_dropped(public_client, conn, event):
    response = post(public_client, conn, Payloads.envelope(event, conn.instance_name, [{"remoteJid": "x"}]))
    assert response.status_code == 200
    assert response.json() == {"received": 0, "stored": 0}
    assert events("alpha", conn) == []


# --- rejections -------------------------------------------------------------------------------
def test_body_over_the_cap_is_413_and_stores_nothing(public_client, conn):
    payload = upsert(conn, text="x" * (300 * 1024))
    response = post(public_client, conn, payload)
    assert response.status_code == 413
    assert events("alpha", conn) == []


def test_malformed_json_is_400_and_stores_nothing(public_client, conn):
    response = post(public_client, conn, None, raw=b'{"event": "messages.upsert", "data": {')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    assert events("alpha", conn) == []


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_missing_or_wrong_secret_is_401_and_stores_nothing(public_client, conn, secret):
    response = post(public_client, conn, upsert(conn, text="oi"), secret=secret)
    assert response.status_code == 401
    assert events("alpha", conn) == []


@pytest.mark.parametrize("payload", [
    {"instance": "x", "data": {}},  # no event
    {"event": "messages.explode", "data": {}},  # unknown event
    {"event": "messages.upsert", "data": "oi"},  # data not an object
    {"event": "messages.upsert", "data": {"message": {"conversation": "oi"}}},  # no key
    {"event": "messages.update", "data": {"status": "READ"}},  # no keyId
    {"event": "connection.update", "data": {"statusReason": 200}},  # no state
    [1, 2, 3],  # not an object
])
def test_unknown_shapes_are_400_with_a_reason(public_client, conn, payload):
    response = post(public_client, conn, payload)
    assert response.status_code == 400
    assert response.json()["error"]
    assert events("alpha", conn) == []


def test_unknown_key_is_404(public_client, conn):
    response = public_client.post("/hooks/evolution/not-a-key/", data=b"{}", content_type="application/json",
                                  HTTP_X_WEBHOOK_SECRET=conn.webhook_secret)
    assert response.status_code == 404


# --- tenant isolation ------------------------------------------------------------------------
def test_a_key_of_alpha_only_writes_into_alpha(public_client, conn, other_tenant):
    beta = create("beta", "Beta")
    before = len(events("beta"))

    ok = post(public_client, conn, upsert(conn, text="para alpha", message_id="3EB0ISO"))
    with_beta_secret = post(public_client, conn, upsert(conn, text="x", message_id="3EB0ISO2"),
                            secret=beta.webhook_secret)
    naming_beta = post(public_client, conn, Payloads.upsert(beta.instance_name,
                                                            Payloads.message_record(text="y", message_id="3EB0ISO3")))

    assert ok.status_code == 200
    assert with_beta_secret.status_code == 401
    assert naming_beta.status_code == 400  # alpha's key, an event of beta's instance: refused
    assert [e.dedup_key for e in events("alpha")] == ["msg:3EB0ISO"]
    assert len(events("beta")) == before


def test_beta_key_with_alpha_secret_is_refused(public_client, conn, other_tenant):
    beta = create("beta", "Beta")
    response = post(public_client, beta, Payloads.upsert(beta.instance_name, Payloads.message_record(text="z")),
                    secret=conn.webhook_secret)
    assert response.status_code == 401
    assert events("alpha") == [] and events("beta", beta) == []


# --- the fake server's own webhooks, end to end -----------------------------------------------
def test_webhooks_from_the_fake_server_are_accepted_end_to_end(public_client, conn, settings):
    with FakeEvolution(deliver_webhooks=False) as evo:
        settings.EVOLUTION_API_URL, settings.EVOLUTION_API_KEY = evo.url, evo.api_key
        provider = EvolutionProvider()
        provider.create(conn, webhook_url=f"http://{settings.BASE_DOMAIN}{url(conn)}")
        evo.scan_qr(conn.instance_name, phone="5511988887777")
        evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Bom dia", push_name="Maria")

        responses = evo.deliver_with(public_client)

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    kinds = [(e.kind, e.payload.get("status") or e.payload.get("text")) for e in events("alpha", conn)]
    assert kinds == [("connection", "connecting"), ("qrcode", "awaiting_qr"), ("connection", "connected"),
                     ("message", "Bom dia")]
