"""The inbound half of the message path, in-process: a sandbox webhook is stored, the worker's
service turns it into contact / conversation / message rows, and the debounced turn hands the
customer's messages to the turn hook. (Real worker processes: tests/test_message_path_worker.py.)"""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

# --- helpers shared by the pipeline / outbound / bot tests ------------------------------------


class Recorder:
    """A turn handler that takes every turn and remembers what it was given."""

    def __init__(self, name="recorder", take=True, fail=False):
        self.name = name
        self.take = take
        self.fail = fail
        self.turns = []

    def handle(self, turn):
        self.turns.append([m.text for m in turn.messages.order_by("created_at", "id")])
        if self.fail:
            raise RuntimeError("the handler broke")
        return self.take


@pytest.fixture
def handler():
    from apps.inbox.turns import register_turn_handler, unregister_turn_handler

    recorder = Recorder()
    register_turn_handler(recorder)
    yield recorder
    unregister_turn_handler(recorder.name)


@pytest.fixture
def alpha(tenant):
    with schema_context(tenant.schema_name):
        yield tenant


@pytest.fixture
def sandbox(alpha):
    from apps.whatsapp.services.connections import connection_create

    return connection_create(name="Simulador", provider="sandbox")


def hook_post(conn, messages, *, secret=None):
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    return client.post(f"/hooks/sandbox/{conn.webhook_key}/", data=json.dumps({"messages": messages}),
                       content_type="application/json",
                       HTTP_X_WEBHOOK_SECRET=conn.webhook_secret if secret is None else secret)


def process_all(schema="alpha"):
    """What the worker does with every stored event (in-process: on_commit never fires here)."""
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.services.ingest import process_event

    with schema_context(schema):
        for pk in InboundEvent.objects.filter(processed_at__isnull=True).order_by("id").values_list("pk", flat=True):
            process_event(pk)


def run_due_turns(schema="alpha"):
    from apps.inbox.models import Conversation
    from apps.inbox.services.turns import turn_run

    with schema_context(schema):
        Conversation.objects.filter(turn_due_at__isnull=False).update(turn_due_at=timezone.now() - timedelta(seconds=1))
        return [turn_run(pk) for pk in Conversation.objects.values_list("pk", flat=True)]


def msg(mid, text, phone="+5511987654321", name="Ana", **extra):
    return {"id": mid, "from": phone, "name": name, "text": text, **extra}


# --- webhook -> rows -------------------------------------------------------------------------


def test_sandbox_message_becomes_contact_conversation_and_message(sandbox, handler):
    from apps.crm.models import Contact
    from apps.inbox.models import BotState, Conversation, Message, Turn

    response = hook_post(sandbox, [msg("m1", "Oi, vocês entregam?")])
    assert response.status_code == 200, response.content
    process_all()
    with schema_context("alpha"):
        contact = Contact.objects.get()
        assert (contact.phone, contact.push_name) == ("+5511987654321", "Ana")
        conversation = Conversation.objects.get()
        assert (conversation.contact, conversation.connection) == (contact, sandbox)
        assert conversation.unread_count == 1
        assert conversation.last_message_preview == "Oi, vocês entregam?"
        assert conversation.bot_state == BotState.AI_ACTIVE and conversation.turn_due_at is not None
        message = Message.objects.get()
        assert (message.direction, message.sender_kind, message.status) == ("in", "contact", "received")
    run_due_turns()
    assert handler.turns == [["Oi, vocês entregam?"]]
    with schema_context("alpha"):
        turn = Turn.objects.get()
        assert (turn.status, turn.handler) == ("done", "recorder")


def test_sandbox_webhook_rejects_bad_secret_and_unknown_shape(sandbox):
    from apps.whatsapp.models import InboundEvent

    assert hook_post(sandbox, [msg("m1", "oi")], secret="wrong").status_code == 401
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    bad = client.post(f"/hooks/sandbox/{sandbox.webhook_key}/", data=json.dumps({"text": "oi"}),
                      content_type="application/json", HTTP_X_WEBHOOK_SECRET=sandbox.webhook_secret)
    assert bad.status_code == 400 and "messages" in bad.json()["error"]
    assert hook_post(sandbox, [{"id": "x", "from": "not a phone", "text": "oi"}]).status_code == 400
    with schema_context("alpha"):
        assert not InboundEvent.objects.exists()


def test_the_same_message_twice_is_one_message(sandbox, handler):
    from apps.inbox.models import Message

    for _ in range(3):
        assert hook_post(sandbox, [msg("m1", "oi")]).status_code == 200
    process_all()
    # a redelivered task for an already processed event changes nothing
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.services.ingest import process_event

    with schema_context("alpha"):
        process_event(InboundEvent.objects.get().pk)
        assert Message.objects.count() == 1
    run_due_turns()
    assert handler.turns == [["oi"]]


def test_quick_messages_become_one_turn_in_order_and_a_later_one_a_second_turn(sandbox, handler):
    from apps.inbox.models import Conversation, Turn
    from apps.inbox.services.turns import turn_run

    for i, text in enumerate(["Oi", "queria 1 kg de presunto", "e 500 g de queijo"]):
        hook_post(sandbox, [msg(f"m{i}", text, timestamp=time.time())])
        process_all()
    with schema_context("alpha"):
        conversation = Conversation.objects.get()
        assert turn_run(conversation.pk) is None  # the window is still open: nothing runs early
    run_due_turns()
    assert handler.turns == [["Oi", "queria 1 kg de presunto", "e 500 g de queijo"]]
    assert run_due_turns() == [None]  # a duplicate run_turn finds nothing due
    hook_post(sandbox, [msg("m9", "pode entregar às 18h?")])
    process_all()
    run_due_turns()
    assert handler.turns[1] == ["pode entregar às 18h?"]
    with schema_context("alpha"):
        assert Turn.objects.count() == 2


def test_turn_without_handlers_is_skipped_and_failures_are_recorded(sandbox):
    from apps.inbox.models import Turn
    from apps.inbox.turns import register_turn_handler, unregister_turn_handler

    hook_post(sandbox, [msg("m1", "oi")])
    process_all()
    run_due_turns()
    with schema_context("alpha"):
        turn = Turn.objects.get()
        assert turn.status == "skipped" and turn.detail["reason"] == "no_handler"
        assert list(turn.messages.values_list("text", flat=True)) == ["oi"]

    broken = Recorder(name="broken", fail=True)
    register_turn_handler(broken)
    try:
        hook_post(sandbox, [msg("m2", "alô?")])
        process_all()
        run_due_turns()
    finally:
        unregister_turn_handler("broken")
    with schema_context("alpha"):
        failed = Turn.objects.order_by("id").last()
        assert (failed.status, failed.handler) == ("failed", "broken")
        assert "the handler broke" in failed.detail["error"]


def test_paused_bot_and_blocked_tenant_skip_the_turn(sandbox, handler):
    from apps.inbox.models import Conversation, Turn
    from apps.inbox.services.bot import bot_pause
    from tenants.models import Tenant

    hook_post(sandbox, [msg("m1", "oi")])
    process_all()
    with schema_context("alpha"):
        bot_pause(Conversation.objects.get(), None)
    run_due_turns()
    assert handler.turns == []
    with schema_context("alpha"):
        assert Turn.objects.get().detail["reason"] == "bot_paused"

    with schema_context("alpha"):
        from apps.inbox.services.bot import bot_resume

        bot_resume(Conversation.objects.get(), None)
    Tenant.objects.filter(schema_name="alpha").update(status="suspended")
    hook_post(sandbox, [msg("m2", "tem alguém?")])
    process_all()
    run_due_turns()
    assert handler.turns == []
    with schema_context("alpha"):
        assert Turn.objects.order_by("id").last().detail["reason"] == "tenant_blocked"


def test_rate_limit_excess_is_stored_flagged_and_starts_no_turn(sandbox, handler, settings):
    from apps.inbox.models import Message

    settings.RATE_LIMIT_PER_CONTACT_PER_MIN = 3
    now = time.time()
    hook_post(sandbox, [msg(f"r{i}", f"spam {i}", phone="+5521999990000", timestamp=now) for i in range(5)])
    process_all()
    with schema_context("alpha"):
        flags = list(Message.objects.order_by("id").values_list("text", "rate_limited"))
    assert flags == [("spam 0", False), ("spam 1", False), ("spam 2", False), ("spam 3", True), ("spam 4", True)]
    run_due_turns()
    assert handler.turns == [["spam 0", "spam 1", "spam 2"]]
    # only the excess: a flagged message alone schedules nothing
    hook_post(sandbox, [msg("r9", "more spam", phone="+5521999990000", timestamp=now)])
    process_all()
    with schema_context("alpha"):
        from apps.inbox.models import Conversation

        assert Conversation.objects.get().turn_due_at is None


def test_resolved_conversation_starts_a_new_one_and_pending_reopens(sandbox):
    from apps.inbox.models import Conversation

    hook_post(sandbox, [msg("m1", "oi")])
    process_all()
    with schema_context("alpha"):
        first = Conversation.objects.get()
        Conversation.objects.filter(pk=first.pk).update(status="pending")
    hook_post(sandbox, [msg("m2", "oi de novo")])
    process_all()
    with schema_context("alpha"):
        assert Conversation.objects.get().status == "open"
        Conversation.objects.filter(pk=first.pk).update(status="resolved")
    hook_post(sandbox, [msg("m3", "outra coisa")])
    process_all()
    with schema_context("alpha"):
        assert Conversation.objects.count() == 2
        latest = Conversation.objects.exclude(pk=first.pk).get()
        assert latest.status == "open" and latest.messages.get().text == "outra coisa"


def test_from_me_typed_on_the_phone_is_a_human_message_and_quiets_the_bot(sandbox, handler):
    from apps.inbox.models import Conversation, Message

    hook_post(sandbox, [msg("m1", "oi")])
    hook_post(sandbox, [msg("m2", "Oi Ana, aqui é o João da loja", name="Alpha Frios", from_me=True)])
    process_all()
    with schema_context("alpha"):
        conversation = Conversation.objects.get()
        assert conversation.bot_state == "human_active"
        assert conversation.contact.push_name == "Ana"
        typed = Message.objects.get(text__startswith="Oi Ana")
        assert (typed.direction, typed.sender_kind, typed.status, typed.sender_user) == ("out", "human", "sent", None)
        assert conversation.unread_count == 1
    run_due_turns()
    assert handler.turns == []  # a human is answering


def test_inbound_event_failure_is_counted_and_given_up_after_ten(sandbox):
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.services.ingest import process_event

    with schema_context("alpha"):
        event = InboundEvent.objects.create(connection=sandbox, kind="message", dedup_key="broken",
                                            payload={"provider_message_id": "x", "contact": {}, "timestamp": 0})
        for attempt in range(1, 11):
            process_event(event.pk)
            event.refresh_from_db()
            assert event.attempts == attempt
        assert event.processed_at is not None and "contact" in event.last_error


def test_connection_events_update_the_connection(sandbox):
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.providers.base import ConnectionUpdate, WebhookItem
    from apps.whatsapp.services.ingest import process_event, store_items

    with schema_context("alpha"):
        store_items(sandbox, [WebhookItem(kind="connection", dedup_key="c1",
                                          data=ConnectionUpdate(status="error", error="Logged out").to_dict())])
        process_event(InboundEvent.objects.get().pk)
        sandbox.refresh_from_db()
        assert (sandbox.status, sandbox.last_error) == ("error", "Logged out")


def test_tenant_isolation_of_the_pipeline(sandbox, other_tenant, handler):
    """Alpha's webhook key writes only into alpha; processing in beta's schema finds nothing of it."""
    from apps.inbox.models import Message
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.services.ingest import process_event

    hook_post(sandbox, [msg("m1", "segredo da alpha")])
    with schema_context("alpha"):
        event_id = InboundEvent.objects.get().pk
    with schema_context("beta"):
        process_event(event_id)  # a task sent in beta's schema with alpha's id
        assert not Message.objects.exists() and not InboundEvent.objects.filter(pk=event_id).exists()
    with schema_context("alpha"):
        assert InboundEvent.objects.get().processed_at is None
    process_all()
    with schema_context("alpha"):
        assert Message.objects.get().text == "segredo da alpha"
    with schema_context("beta"):
        assert not Message.objects.exists()
