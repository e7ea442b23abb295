"""An Evolution number end to end, without a worker: the fake Evolution server's webhooks go through
the real webhook view, the stored events are processed synchronously (``process_event``), and
outbound messages go back through the provider to the fake. Who a message belongs to must not
depend on how WhatsApp happened to address it (our own echo, the phone, a LID, a 9th digit)."""
from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.crm.models import Contact, ContactIdentity
from apps.inbox.models import BotState, Conversation, Direction, Message, MessageStatus, MessageType, SenderKind
from apps.inbox.services.messages import message_deliver, message_send
from apps.whatsapp.models import InboundEvent
from apps.whatsapp.providers.evolution import EvolutionProvider
from apps.whatsapp.services.connections import connection_create
from apps.whatsapp.services.ingest import process_event
from tests.fakes.evolution import FakeEvolution, Payloads

pytestmark = pytest.mark.django_db

CUSTOMER = "5511987654321"


@pytest.fixture
def evo(settings):
    with FakeEvolution(deliver_webhooks=False) as fake:
        settings.EVOLUTION_API_URL = fake.url
        settings.EVOLUTION_API_KEY = fake.api_key
        settings.WHATSAPP_HTTP_TIMEOUT = 3.0
        yield fake


def connect(schema: str, evo, settings, public_client, *, phone: str):
    """Add an Evolution number to ``schema`` and pair it, the way the connections page does."""
    with schema_context(schema):
        conn = connection_create(name="Loja", provider="evolution")
        EvolutionProvider().create(
            conn, webhook_url=f"http://{settings.BASE_DOMAIN}/hooks/evolution/{conn.webhook_key}/")
        conn.save(update_fields=["credentials", "external_id"])
    evo.scan_qr(conn.instance_name, phone=phone)
    deliver(evo, public_client, schema)
    return conn


@pytest.fixture
def conn(tenant, evo, settings, public_client):
    return connect("alpha", evo, settings, public_client, phone="5511988887777")


def deliver(evo, client, schema: str = "alpha") -> None:
    """Post the fake's pending webhooks to our view, then process what was stored, like the worker."""
    responses = evo.deliver_with(client)
    assert all(r.status_code == 200 for r in responses), [r.content for r in responses]
    with schema_context(schema):
        pending = InboundEvent.objects.filter(processed_at__isnull=True).order_by("id")
        for event_id in list(pending.values_list("id", flat=True)):
            process_event(event_id)
        failed = list(InboundEvent.objects.exclude(last_error="").values_list("kind", "last_error"))
        assert failed == []


def chat(conversation) -> list[Message]:
    """The conversation's messages without the system lines ("... is answering")."""
    return list(Message.objects.filter(conversation=conversation).exclude(type=MessageType.EVENT).order_by("id"))


def only_conversation(schema: str = "alpha") -> Conversation:
    with schema_context(schema):
        (conversation,) = Conversation.objects.select_related("contact", "connection")
        return conversation


def test_the_connection_is_connected_with_its_phone(conn):
    with schema_context("alpha"):
        conn.refresh_from_db()
        assert (conn.status, conn.phone_number, conn.qr_code) == ("connected", "+5511988887777", "")


def test_echo_of_a_message_we_sent_is_not_duplicated(evo, conn, public_client, owner):
    evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Vocês entregam hoje?", push_name="Maria")
    deliver(evo, public_client)
    conversation = only_conversation()

    with schema_context("alpha"):
        reply = message_send(conversation, sender_kind=SenderKind.HUMAN, text="Entregamos sim!", user=owner)
        assert message_deliver(reply.pk) == "sent"
        reply.refresh_from_db()
    (sent,) = evo.sent
    assert sent["key"]["id"] == reply.provider_message_id
    assert [h.event for h in evo.pending_webhooks()] == ["send.message"]  # Evolution echoes our send

    deliver(evo, public_client)
    evo.ack(conn.instance_name, reply.provider_message_id, "DELIVERY_ACK")
    deliver(evo, public_client)

    with schema_context("alpha"):
        assert [(m.direction, m.text) for m in chat(conversation)] == [
            (Direction.IN, "Vocês entregam hoje?"), (Direction.OUT, "Entregamos sim!")]
        assert Message.objects.filter(provider_message_id=reply.provider_message_id).count() == 1
        reply.refresh_from_db()
        assert reply.status == MessageStatus.DELIVERED
        assert reply.sender_kind == SenderKind.HUMAN and reply.sender_user_id == owner.pk


def test_a_message_typed_on_the_phone_is_a_human_reply_and_quiets_the_bot(evo, conn, public_client):
    evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Oi")
    deliver(evo, public_client)
    assert only_conversation().bot_state == BotState.AI_ACTIVE

    evo.phone_message(conn.instance_name, to=CUSTOMER, text="Oi Maria, aqui é o João da loja")
    deliver(evo, public_client)

    conversation = only_conversation()
    assert conversation.bot_state == BotState.HUMAN_ACTIVE
    with schema_context("alpha"):
        typed = Message.objects.get(text="Oi Maria, aqui é o João da loja")
        assert (typed.direction, typed.sender_kind, typed.status) == (Direction.OUT, SenderKind.HUMAN,
                                                                      MessageStatus.SENT)
        assert typed.conversation_id == conversation.pk
        assert Contact.objects.count() == 1  # not a second "contact" for the business's own messages


def test_a_lid_sender_with_remote_jid_alt_is_the_existing_phone_contact(evo, conn, public_client):
    evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Primeira mensagem", push_name="Ana")
    deliver(evo, public_client)
    first = only_conversation()

    evo.customer_message(conn.instance_name, phone=CUSTOMER, lid="215830927839287@lid", text="Agora com LID",
                         push_name="Ana")
    deliver(evo, public_client)

    conversation = only_conversation()
    assert conversation.pk == first.pk
    with schema_context("alpha"):
        (contact,) = Contact.objects.all()
        assert contact.phone == "+5511987654321"
        kinds = set(ContactIdentity.objects.filter(contact=contact).values_list("kind", "value"))
        assert ("lid", "215830927839287@lid") in kinds
        assert [m.text for m in chat(conversation)] == ["Primeira mensagem", "Agora com LID"]

    # and a later message addressed by the LID alone still lands on the same person
    evo.customer_message(conn.instance_name, phone="", remote_jid="215830927839287@lid", text="Só LID")
    deliver(evo, public_client)
    assert only_conversation().pk == first.pk


def test_a_brazilian_number_with_and_without_the_9th_digit_is_one_contact(evo, conn, public_client, owner):
    # WhatsApp registered this Belo Horizonte mobile before the 9th digit: 553187654321@s.whatsapp.net
    evo.customer_message(conn.instance_name, phone="5531987654321", text="Oi de BH")
    deliver(evo, public_client)
    conversation = only_conversation()
    assert conversation.contact.phone == "+5531987654321"

    evo.customer_message(conn.instance_name, phone="", remote_jid="5531987654321@s.whatsapp.net", text="com o 9")
    deliver(evo, public_client)
    assert only_conversation().pk == conversation.pk

    # our reply's echo comes back on the 9-less JID and still matches our row
    with schema_context("alpha"):
        reply = message_send(conversation, sender_kind=SenderKind.HUMAN, text="Olá, BH!", user=owner)
        assert message_deliver(reply.pk) == "sent"
    assert evo.sent[-1]["key"]["remoteJid"] == "553187654321@s.whatsapp.net"
    deliver(evo, public_client)
    with schema_context("alpha"):
        assert Contact.objects.count() == 1
        assert [m.text for m in chat(conversation)] == ["Oi de BH", "com o 9", "Olá, BH!"]


def test_a_lost_answer_is_looked_up_and_sent_exactly_once(evo, conn, public_client, owner, settings):
    evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Oi")
    deliver(evo, public_client)
    conversation = only_conversation()
    settings.WHATSAPP_HTTP_TIMEOUT = 0.3
    evo.hang_next(1, seconds=1.0, path="/message/sendText")  # Evolution sends; its answer comes too late

    with schema_context("alpha"):
        reply = message_send(conversation, sender_kind=SenderKind.HUMAN, text="Pedido anotado", user=owner)
        assert message_deliver(reply.pk) == "sent"
        assert message_deliver(reply.pk) == "done"  # a duplicate task run finds it sent
        reply.refresh_from_db()
    assert len(evo.sent) == 1
    assert (reply.provider_message_id, reply.status) == (evo.sent[0]["key"]["id"], MessageStatus.SENT)


def test_a_worker_killed_mid_send_is_reconciled_not_resent(evo, conn, public_client, owner):
    evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Oi")
    deliver(evo, public_client)
    conversation = only_conversation()

    with schema_context("alpha"):
        reply = message_send(conversation, sender_kind=SenderKind.HUMAN, text="Pedido anotado", user=owner)
        # The worker marked it "sending", Evolution sent it, and the worker died before recording it.
        Message.objects.filter(pk=reply.pk).update(status=MessageStatus.SENDING, send_attempts=1)
        reply.refresh_from_db()
        from apps.inbox.services.messages import _outbound

        EvolutionProvider().send(conn, _outbound(reply))

        assert message_deliver(reply.pk) == "reconciled"
        reply.refresh_from_db()
    assert len(evo.sent) == 1
    assert (reply.provider_message_id, reply.status) == (evo.sent[0]["key"]["id"], MessageStatus.SENT)


def test_each_tenant_keeps_its_own_customers(evo, conn, public_client, other_tenant, settings):
    beta = connect("beta", evo, settings, public_client, phone="5521977776666")
    with schema_context("beta"):
        beta_before = Contact.objects.count()

    evo.customer_message(conn.instance_name, phone=CUSTOMER, text="Para a Alpha")
    deliver(evo, public_client, "alpha")
    evo.customer_message(beta.instance_name, phone=CUSTOMER, text="Para a Beta")
    deliver(evo, public_client, "beta")

    with schema_context("alpha"):
        assert list(Message.objects.values_list("text", flat=True)) == ["Para a Alpha"]
    with schema_context("beta"):
        assert list(Message.objects.values_list("text", flat=True)) == ["Para a Beta"]
        assert Contact.objects.count() == beta_before + 1


def test_payload_posted_to_the_wrong_tenant_key_is_refused(evo, conn, public_client, other_tenant, settings):
    beta = connect("beta", evo, settings, public_client, phone="5521977776666")
    payload = Payloads.upsert(beta.instance_name, Payloads.message_record(phone=CUSTOMER, text="intruso"))
    response = public_client.post(f"/hooks/evolution/{conn.webhook_key}/", data=payload,
                                  content_type="application/json", HTTP_X_WEBHOOK_SECRET=beta.webhook_secret)
    assert response.status_code == 401
    with schema_context("alpha"):
        assert not Message.objects.exists()
    with schema_context("beta"):
        assert not Message.objects.exists()
