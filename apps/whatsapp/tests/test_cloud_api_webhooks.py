"""Cloud API webhooks through the real view (``/hooks/cloud_api/<key>/`` on the public domain):
signature before parsing, every entry/change/message of a payload, statuses, the GET handshake,
rejections that store nothing, and tenants that never write into each other."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_tenants.utils import schema_context

from apps.whatsapp.models import InboundEvent
from apps.whatsapp.providers import get_provider
from apps.whatsapp.services.connections import connection_create
from tests.fakes import cloud_api as fake

pytestmark = pytest.mark.django_db

CREDENTIALS = {"access_token": fake.ACCESS_TOKEN, "app_secret": fake.APP_SECRET, "verify_token": fake.VERIFY_TOKEN}


def create(schema: str, *, phone_number_id: str = fake.PHONE_NUMBER_ID, **credentials):
    with schema_context(schema):
        return connection_create(name="Oficial", provider="cloud_api", instance_name=phone_number_id,
                                 credentials={**CREDENTIALS, **credentials}, config={"waba_id": fake.WABA_ID})


@pytest.fixture
def conn(tenant):
    return create("alpha")


def url(conn) -> str:
    return f"/hooks/cloud_api/{conn.webhook_key}/"


def post(client, conn, payload, *, secret: str = fake.APP_SECRET, signature: str | None = None, tamper=None):
    body = fake.body_of(payload)
    header = signature if signature is not None else fake.sign(body, secret)
    if tamper:
        body = tamper(body)
    return client.post(url(conn), data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=header)


def events(schema: str, conn=None) -> list[InboundEvent]:
    with schema_context(schema):
        rows = InboundEvent.objects.order_by("id")
        if conn is not None:
            rows = rows.filter(connection_id=conn.pk)
        return list(rows)


def test_signed_text_message_is_stored_normalized(public_client, conn):
    message = fake.text_message("Quero uma pizza", id="wamid.AAA1")
    payload = fake.webhook_payload(fake.change_value(messages=[message], names={fake.CUSTOMER_WA_ID: "Maria Souza"}))

    response = post(public_client, conn, payload)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": 1, "stored": 1}
    (event,) = events("alpha", conn)
    assert (event.kind, event.dedup_key) == ("message", "msg:wamid.AAA1")
    assert event.payload["text"] == "Quero uma pizza"
    assert event.payload["type"] == "text"
    assert event.payload["contact"] == {"phone": "+5511987654321", "wa_jid": "", "lid": "", "bsuid": "",
                                        "name": "Maria Souza"}
    assert event.payload["timestamp"] == float(message["timestamp"])


def test_the_same_message_posted_twice_is_stored_once(public_client, conn):
    payload = fake.webhook_payload(fake.change_value(messages=[fake.text_message("oi", id="wamid.DUP")]))
    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 1}
    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 0}
    assert len(events("alpha", conn)) == 1


def test_bad_signature_is_401_and_stores_nothing(public_client, conn):
    payload = fake.webhook_payload(fake.change_value(messages=[fake.text_message("oi")]))

    wrong_secret = post(public_client, conn, payload, secret="not-the-app-secret")
    missing = post(public_client, conn, payload, signature="")
    garbage = post(public_client, conn, payload, signature="sha256=zzz")

    for response in (wrong_secret, missing, garbage):
        assert response.status_code == 401
        assert "signature" in response.json()["error"].lower() or "X-Hub" in response.json()["error"]
    assert events("alpha") == []


def test_one_changed_byte_after_signing_is_401_and_stores_nothing(public_client, conn):
    payload = fake.webhook_payload(fake.change_value(messages=[fake.text_message("Total: R$ 10,00")]))

    response = post(public_client, conn, payload, tamper=lambda body: body.replace(b"10,00", b"90,00"))

    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert events("alpha") == []


def test_signature_is_checked_before_parsing(public_client, conn):
    """Malformed JSON with a wrong signature is a 401 (not a 400): nothing unauthenticated is parsed."""
    response = post(public_client, conn, b"{not json", secret="wrong")
    assert response.status_code == 401
    signed = post(public_client, conn, b"{not json")
    assert signed.status_code == 400 and "malformed JSON" in signed.json()["error"]
    assert events("alpha") == []


def test_a_payload_with_two_messages_stores_both(public_client, conn):
    value = fake.change_value(messages=[fake.text_message("Oi", id="wamid.M1"),
                                        fake.text_message("Tudo bem?", id="wamid.M2")])
    assert post(public_client, conn, fake.webhook_payload(value)).json() == {"received": 2, "stored": 2}
    assert [e.payload["text"] for e in events("alpha", conn)] == ["Oi", "Tudo bem?"]


def test_every_entry_and_change_is_handled(public_client, conn):
    first = fake.change_value(messages=[fake.text_message("Do João", wa_id="5521999990001", id="wamid.E1")],
                              names={"5521999990001": "João"})
    second = fake.change_value(messages=[fake.text_message("Da Ana", wa_id="5531988880002", id="wamid.E2")],
                               names={"5531988880002": "Ana"})
    third = fake.change_value(statuses=[fake.status_event("wamid.OURS", "delivered")])
    payload = fake.webhook_payload(entries=[[first], [second, third]])

    assert post(public_client, conn, payload).json() == {"received": 3, "stored": 3}
    stored = events("alpha", conn)
    assert [(e.payload.get("contact", {}).get("name"), e.kind) for e in stored] == [
        ("João", "message"), ("Ana", "message"), (None, "status")]
    assert stored[0].payload["contact"]["phone"] == "+5521999990001"


def test_changes_for_another_phone_number_are_skipped(public_client, conn):
    ours = fake.change_value(messages=[fake.text_message("Para nós", id="wamid.OK")])
    other = fake.change_value(messages=[fake.text_message("Para outro número", id="wamid.NO")],
                              phone_number_id="999999999999")
    response = post(public_client, conn, fake.webhook_payload(ours, other))
    assert response.json() == {"received": 1, "stored": 1}
    assert [e.dedup_key for e in events("alpha", conn)] == ["msg:wamid.OK"]


def test_statuses_are_stored_with_their_error(public_client, conn):
    statuses = [
        fake.status_event("wamid.OUT1", "sent", callback_data="7d0c-uid"),
        fake.status_event("wamid.OUT1", "delivered"),
        fake.status_event("wamid.OUT1", "read"),
        fake.status_event("wamid.OUT2", "failed", error=(131047, "Re-engagement message",
                                                          "Message failed to send because more than 24 hours have "
                                                          "passed since the customer last replied to this number.")),
    ]
    response = post(public_client, conn, fake.webhook_payload(fake.change_value(statuses=statuses)))

    assert response.json() == {"received": 4, "stored": 4}
    stored = {e.dedup_key: e.payload for e in events("alpha", conn)}
    assert set(stored) == {"status:wamid.OUT1:sent", "status:wamid.OUT1:delivered", "status:wamid.OUT1:read",
                           "status:wamid.OUT2:failed"}
    failed = stored["status:wamid.OUT2:failed"]
    assert failed["status"] == "failed" and failed["recipient"] == fake.CUSTOMER_WA_ID
    assert failed["error"].startswith("Re-engagement message: Message failed to send because more than 24 hours")
    assert "131047" in failed["error"]
    assert stored["status:wamid.OUT1:read"]["error"] == ""


def test_every_message_type_is_normalized(public_client, conn):
    messages = [
        fake.media_message("image", media_id="1111", mime_type="image/jpeg", caption="Olha", id="wamid.IMG"),
        fake.media_message("audio", media_id="2222", mime_type="audio/ogg; codecs=opus", id="wamid.AUD"),
        fake.media_message("document", media_id="3333", mime_type="application/pdf", filename="nota.pdf",
                           id="wamid.DOC"),
        fake.location_message(-23.55, -46.63, name="Loja", address="Av. Paulista, 1000", id="wamid.LOC"),
        fake.button_reply("menu-yes", "Sim", id="wamid.BTN"),
        fake.list_reply("pizza-2", "Calabresa", description="Grande", id="wamid.LST"),
        fake.template_button("STOP_PROMOS", "Parar promoções", id="wamid.TPL"),
        fake.reaction_message("wamid.OURS", "👍", id="wamid.REA"),
        fake.unsupported_message(id="wamid.UNS"),
    ]
    value = fake.change_value(messages=messages, user_ids={fake.CUSTOMER_WA_ID: "BR.1234567890abcdef"})
    assert post(public_client, conn, fake.webhook_payload(value)).json() == {"received": 9, "stored": 9}

    got = {e.dedup_key.removeprefix("msg:"): e.payload for e in events("alpha", conn)}
    assert got["wamid.IMG"]["type"] == "image" and got["wamid.IMG"]["text"] == "Olha"
    assert got["wamid.IMG"]["media"]["media_id"] == "1111" and got["wamid.IMG"]["media"]["mime"] == "image/jpeg"
    assert got["wamid.AUD"]["type"] == "audio" and got["wamid.AUD"]["payload"]["voice"] is True
    assert got["wamid.DOC"]["media"]["filename"] == "nota.pdf"
    assert got["wamid.LOC"]["type"] == "location"
    assert got["wamid.LOC"]["payload"] == {"latitude": -23.55, "longitude": -46.63, "name": "Loja",
                                           "address": "Av. Paulista, 1000"}
    assert (got["wamid.BTN"]["type"], got["wamid.BTN"]["text"]) == ("text", "Sim")
    assert got["wamid.BTN"]["payload"]["reply_id"] == "menu-yes"
    assert got["wamid.BTN"]["payload"]["context_id"].startswith("wamid.")
    assert (got["wamid.LST"]["text"], got["wamid.LST"]["payload"]["reply_id"]) == ("Calabresa", "pizza-2")
    assert (got["wamid.TPL"]["text"], got["wamid.TPL"]["payload"]["reply_id"]) == ("Parar promoções", "STOP_PROMOS")
    assert got["wamid.REA"]["type"] == "reaction" and got["wamid.REA"]["payload"]["message_id"] == "wamid.OURS"
    assert (got["wamid.UNS"]["text"], got["wamid.UNS"]["payload"]) == ("", {"unsupported": "unsupported"})
    assert all(p["contact"]["bsuid"] == "BR.1234567890abcdef" for p in got.values())


@pytest.mark.parametrize("payload, reason", [
    ({"object": "page", "entry": []}, "whatsapp_business_account"),
    ({"object": "whatsapp_business_account"}, "entry must be a list"),
    ({"object": "whatsapp_business_account", "entry": [{"id": "1"}]}, "changes"),
    ({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}, "value"),
    (["not", "an", "object"], "JSON object"),
])
def test_unknown_shape_is_400_with_a_reason_and_stores_nothing(public_client, conn, payload, reason):
    response = post(public_client, conn, payload)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert events("alpha") == []


def test_get_handshake_answers_the_challenge_only_with_our_verify_token(public_client, conn):
    good = public_client.get(url(conn), {"hub.mode": "subscribe", "hub.verify_token": fake.VERIFY_TOKEN,
                                         "hub.challenge": "1158201444"})
    assert good.status_code == 200 and good.content == b"1158201444"

    bad = public_client.get(url(conn), {"hub.mode": "subscribe", "hub.verify_token": "guess",
                                        "hub.challenge": "1158201444"})
    assert bad.status_code == 403 and b"1158201444" not in bad.content
    wrong_mode = public_client.get(url(conn), {"hub.mode": "unsubscribe", "hub.verify_token": fake.VERIFY_TOKEN,
                                               "hub.challenge": "1"})
    assert wrong_mode.status_code == 403


def test_alphas_key_never_writes_into_beta(public_client, conn, other_tenant):
    """One Meta app may serve both tenants (same app secret): the key decides the tenant and the
    phone_number_id must match that tenant's connection, so nothing crosses over."""
    beta_same_app = create("beta", phone_number_id="222222222222222")
    beta_own_app = create("beta", phone_number_id="333333333333333", app_secret="beta-secret")
    payload = fake.webhook_payload(fake.change_value(messages=[fake.text_message("Para a Alpha", id="wamid.ISO")]))

    assert post(public_client, conn, payload).json() == {"received": 1, "stored": 1}
    # alpha's payload replayed at beta's keys: skipped (other number) or rejected (other secret)
    assert post(public_client, beta_same_app, payload).json() == {"received": 0, "stored": 0}
    assert post(public_client, beta_own_app, payload).status_code == 401

    assert [e.dedup_key for e in events("alpha")] == ["msg:wamid.ISO"]
    assert events("beta") == []
    # an unknown key, or alpha's key under another provider's path, finds nothing
    assert public_client.post("/hooks/cloud_api/no-such-key/", data=fake.body_of(payload),
                              content_type="application/json").status_code == 404
    assert public_client.post(f"/hooks/evolution/{conn.webhook_key}/", data=fake.body_of(payload),
                              content_type="application/json").status_code == 404


def test_deliver_posts_like_meta_and_the_provider_accepts_it(conn):
    """The fake's delivery over real HTTP: our provider authenticates and parses what it sends."""
    captured = {}

    class Sink(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            captured["headers"] = {k.lower(): v for k, v in self.headers.items()}
            captured["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        payload = fake.webhook_payload(fake.change_value(messages=[fake.text_message("via HTTP", id="wamid.H")]))
        with fake.FakeGraphApi() as graph:
            status, _ = graph.send_webhook(f"http://127.0.0.1:{server.server_address[1]}/hooks/x/", payload)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200
    assert captured["headers"]["content-type"] == "application/json"
    provider = get_provider("cloud_api")
    with schema_context("alpha"):
        provider.authenticate(conn, headers=captured["headers"], body=captured["body"], query={})
        (item,) = provider.parse_webhook(conn, json.loads(captured["body"]))
    assert item.data["text"] == "via HTTP"
