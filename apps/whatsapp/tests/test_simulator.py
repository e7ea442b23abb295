"""The Sandbox simulator: staff play the customer; what they type takes the real message path
(sandbox payload -> InboundEvent -> worker -> Contact/Conversation/Message), and the transcript
shows both sides."""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.inbox.models import Conversation, Message
from apps.whatsapp.models import Connection, InboundEvent, Provider
from apps.whatsapp.services import connections as services
from apps.whatsapp.services import simulator
from apps.whatsapp.services.ingest import process_event
from conftest import as_shown, host_of, make_user

PAGE = "/whatsapp/simulator/"
SEND = "/whatsapp/simulator/send/"
TRANSCRIPT = "/whatsapp/simulator/transcript/"
PHONE = "+5511987650001"


def _client(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


@pytest.fixture
def sandbox(tenant):
    with schema_context("alpha"):
        return services.connection_create(name="Simulador", provider=Provider.SANDBOX)


@pytest.fixture
def agent_client(tenant):
    return _client(tenant, make_user(tenant, email="agent@alpha.test", role=Role.AGENT, name="Bruno"))


def _events(conn):
    with schema_context("alpha"):
        return list(InboundEvent.objects.filter(connection=conn).order_by("id"))


def _process_all(conn):
    with schema_context("alpha"):
        for event in InboundEvent.objects.filter(connection=conn, processed_at__isnull=True).order_by("id"):
            process_event(event.pk)


def test_page_lists_sandbox_numbers_only(agent_client, sandbox):
    with schema_context("alpha"):
        services.connection_create(name="Vendas QR", provider=Provider.EVOLUTION)
    response = agent_client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Simulador" in html and "Vendas QR" not in html
    assert 'data-nav="simulator"' in html


def test_without_sandbox_explains_what_to_do(owner_client, agent_client):
    response = owner_client.get(PAGE)
    assert escape(as_shown(response, "No Sandbox number yet")) in response.content.decode()
    assert "/whatsapp/connections/" in response.content.decode()
    response = agent_client.get(PAGE)
    assert escape(as_shown(response, "Ask an admin to add a Sandbox connection.")) in response.content.decode()


def test_analyst_cannot_play(tenant, sandbox):
    analyst = _client(tenant, make_user(tenant, email="analyst@alpha.test", role=Role.ANALYST))
    assert analyst.get(PAGE).status_code == 403
    assert analyst.post(SEND, {"connection": sandbox.pk, "name": "A", "phone": PHONE, "text": "oi"}).status_code == 403
    assert _events(sandbox) == []


def test_typed_message_goes_through_the_pipeline_and_both_sides_show(agent_client, owner, sandbox):
    response = agent_client.post(SEND, {"connection": sandbox.pk, "name": "Maria", "phone": "+55 (11) 98765-0001",
                                        "text": "Oi, tem presunto?"})
    assert response.status_code == 302
    [event] = _events(sandbox)
    assert event.kind == "message" and event.processed_at is None
    assert event.payload["text"] == "Oi, tem presunto?"
    assert event.payload["contact"] == {**event.payload["contact"], "phone": PHONE, "name": "Maria"}

    # accepted but not processed yet (the worker is down): shown as waiting
    transcript = agent_client.get(TRANSCRIPT, {"connection": sandbox.pk, "phone": PHONE})
    html = transcript.content.decode()
    assert "Oi, tem presunto?" in html and "data-pending" in html

    _process_all(sandbox)
    with schema_context("alpha"):
        message = Message.objects.get(conversation__connection=sandbox)
        assert (message.direction, message.sender_kind, message.text) == ("in", "contact", "Oi, tem presunto?")
        conversation = message.conversation
        assert conversation.contact.phone == PHONE
        from apps.inbox.services.messages import message_send

        message_send(conversation, sender_kind="human", text="Temos sim!", user=owner)
    html = agent_client.get(TRANSCRIPT, {"connection": sandbox.pk, "phone": PHONE}).content.decode()
    assert 'data-side="customer"' in html and "Oi, tem presunto?" in html
    assert 'data-side="business"' in html and "Temos sim!" in html and owner.get_full_name() in html
    assert 'data-side="customer" data-pending' not in html
    assert f'data-conversation-id="{conversation.pk}"' in html


def test_htmx_send_returns_the_transcript(agent_client, sandbox):
    response = agent_client.post(SEND, {"connection": sandbox.pk, "name": "Maria", "phone": PHONE, "text": "Olá"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Olá" in response.content.decode()


def test_empty_text_and_bad_phone_are_form_errors(agent_client, sandbox):
    response = agent_client.post(SEND, {"connection": sandbox.pk, "name": "Maria", "phone": PHONE, "text": "  "})
    assert response.status_code == 400
    assert escape(as_shown(response, "Type a message to send.")) in response.content.decode()
    response = agent_client.post(SEND, {"connection": sandbox.pk, "name": "Maria", "phone": "12", "text": "oi"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert _events(sandbox) == []


def test_only_sandbox_connections(agent_client, sandbox):
    with schema_context("alpha"):
        qr = services.connection_create(name="QR", provider=Provider.EVOLUTION)
    response = agent_client.post(SEND, {"connection": qr.pk, "name": "M", "phone": PHONE, "text": "oi"})
    assert response.status_code == 400
    assert _events(qr) == []


def test_beta_agent_cannot_use_alphas_sandbox(tenant, other_tenant, sandbox):
    beta_agent = make_user(other_tenant, email="agent@beta.test", role=Role.AGENT)
    client = _client(other_tenant, beta_agent)
    response = client.post(SEND, {"connection": sandbox.pk, "name": "M", "phone": PHONE, "text": "invasão"})
    assert response.status_code == 400
    assert _events(sandbox) == []
    with schema_context("beta"):
        assert not InboundEvent.objects.exists()
    # and alpha's transcript is not readable from beta's domain
    with schema_context("alpha"):
        simulator.simulator_send(sandbox, name="M", phone=PHONE, text="segredo da alpha")
    html = client.get(TRANSCRIPT, {"connection": sandbox.pk, "phone": PHONE}).content.decode()
    assert "segredo da alpha" not in html
    # a beta session is not valid on alpha's domain at all
    hop = Client(HTTP_HOST=host_of(tenant))
    hop.cookies = client.cookies
    assert hop.post(SEND, {"connection": sandbox.pk, "name": "M", "phone": PHONE, "text": "x"}).status_code == 302


def test_same_message_id_is_stored_once(sandbox):
    with schema_context("alpha"):
        first = simulator.simulator_send(sandbox, name="M", phone=PHONE, text="oi", message_id="abc")
        again = simulator.simulator_send(sandbox, name="M", phone=PHONE, text="oi", message_id="abc")
    assert len(first) == 1 and again == []


def test_reset_starts_a_new_conversation(agent_client, sandbox):
    agent_client.post(SEND, {"connection": sandbox.pk, "name": "M", "phone": PHONE, "text": "primeira"})
    _process_all(sandbox)
    response = agent_client.post("/whatsapp/simulator/reset/", {"connection": sandbox.pk, "phone": PHONE},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "primeira" not in response.content.decode()
    assert escape(as_shown(response, "The previous conversation was closed. Your next message starts a new one.")) \
        in response.content.decode()
    agent_client.post(SEND, {"connection": sandbox.pk, "name": "M", "phone": PHONE, "text": "segunda"})
    _process_all(sandbox)
    with schema_context("alpha"):
        assert list(Conversation.objects.filter(connection=sandbox).order_by("id").values_list("status", flat=True)) \
            == ["resolved", "open"]
    html = agent_client.get(TRANSCRIPT, {"connection": sandbox.pk, "phone": PHONE}).content.decode()
    assert "segunda" in html and "primeira" not in html


def test_disabled_sandbox_is_refused(agent_client, sandbox):
    with schema_context("alpha"):
        Connection.objects.filter(pk=sandbox.pk).update(is_active=False)
    response = agent_client.post(SEND, {"connection": sandbox.pk, "name": "M", "phone": PHONE, "text": "oi"})
    assert response.status_code == 400


def test_demo_seed_is_idempotent_and_uses_the_pipeline(tenant, owner):
    from apps.whatsapp.demo import seed_demo_sandbox

    with schema_context("alpha"):
        seed_demo_sandbox(tenant)
        seed_demo_sandbox(tenant)
        [conn] = Connection.objects.filter(provider=Provider.SANDBOX)
        assert conn.name == "Simulador" and conn.status == "connected"
        assert InboundEvent.objects.filter(connection=conn, processed_at__isnull=False).count() == 3
        conversations = Conversation.objects.filter(connection=conn)
        assert conversations.count() == 2
        maria = conversations.get(contact__phone="+5511987650001")
        assert list(maria.messages.exclude(sender_kind="system").values_list("direction", "sender_kind")) == [
            ("in", "contact"), ("in", "contact"), ("out", "human")]
        assert maria.messages.get(sender_kind="human").status == "sent"
