"""Retention: message content older than the tenant's retention (capped by the plan) is deleted in
batches, the rows stay (statuses, counts, metrics), media files leave the storage, old AI decisions
lose their texts but keep their numbers, each run is logged, a second run finds nothing new, 0 keeps
everything, and alpha's run never touches beta."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import add_message, make_contact, make_conversation


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


DAY_MINUTES = 24 * 60


def old(conversation, text, days, **fields):
    return add_message(conversation, text, minutes_ago=days * DAY_MINUTES, **fields)


def set_retention(tenant, *, days: int, plan_days: int | None):
    """The tenant's own setting and a plan of its own with ``plan_days`` (None: no cap)."""
    from apps.billing.models import Plan
    from tenants.models import Tenant

    plan = Plan.objects.create(name=f"Plano {plan_days}", slug=f"plano-{plan_days}", retention_days=plan_days)
    Tenant.objects.filter(pk=tenant.pk).update(message_retention_days=days, plan=plan)


def purged(message) -> bool:
    message.refresh_from_db()
    return message.purged_at is not None


@pytest.fixture
def chat(tenant):
    """Alpha: a conversation with old messages (40 days: text, a photo with caption, a system line,
    an outbound reply) and recent ones (2 days)."""
    with schema_context("alpha"):
        conversation = make_conversation(contact=make_contact("Maria Souza"))
        photo = old(conversation, "Foto do pedido", 40, type="image", media_mime="image/jpeg", media_size=4,
                    media_name="pedido.jpg", payload={"caption": "Foto do pedido"})
        photo.media.save("pedido.jpg", ContentFile(b"\xff\xd8\xff\xe0"), save=True)
        messages = {
            "text": old(conversation, "Moro na Rua das Flores, 123", 40),
            "photo": photo,
            "event": old(conversation, "Assigned to Ana", 39, direction="out", sender_kind="system", type="event",
                         payload={"event": "assigned", "agent": "Ana"}),
            "reply": old(conversation, "Chega em 2 horas!", 39, direction="out", sender_kind="ai", status="read"),
            "recent": old(conversation, "Quero 300 g de presunto", 2),
            "recent_reply": old(conversation, "Anotado!", 2, direction="out", sender_kind="human"),
        }
        conversation.refresh_from_db()
    return conversation, messages


def test_old_content_is_purged_and_recent_kept_and_the_run_is_logged(chat):
    from apps.agents.services.housekeeping import retention_run
    from apps.inbox.models import Message, RetentionRun

    conversation, m = chat
    with schema_context("alpha"):
        storage = Message._meta.get_field("media").storage
        media_name = m["photo"].media.name
        assert storage.exists(media_name)
        before = Message.objects.filter(conversation=conversation).count()

        run = retention_run()  # alpha keeps 30 days (its plan, Trial, caps at 90)

        assert Message.objects.filter(conversation=conversation).count() == before  # rows stay
        for key in ("text", "photo", "event", "reply"):
            message = m[key]
            assert purged(message), key
            assert (message.text, message.media.name or "", message.media_name) == ("", "", ""), key
        assert m["photo"].payload == {} and m["text"].payload == {}
        assert m["event"].payload == {"event": "assigned"}  # the event code only; the name is gone
        assert (m["reply"].status, m["reply"].direction, m["reply"].sender_kind) == ("read", "out", "ai")
        assert (m["photo"].type, m["photo"].media_mime, m["photo"].media_size) == ("image", "image/jpeg", 4)
        assert not storage.exists(media_name)
        for key in ("recent", "recent_reply"):
            assert not purged(m[key]) and m[key].text

        assert RetentionRun.objects.count() == 1
        logged = RetentionRun.objects.get()
        assert logged.pk == run.pk and logged.messages_purged == 4 and logged.error == ""
        assert logged.finished_at is not None and logged.finished_at >= logged.started_at
        assert abs(logged.cutoff - (timezone.now() - timedelta(days=30))) < timedelta(minutes=1)


def test_a_second_run_purges_nothing_new(chat):
    from apps.agents.services.housekeeping import retention_run
    from apps.inbox.models import Message

    conversation, m = chat
    with schema_context("alpha"):
        first = retention_run()
        stamps = dict(Message.objects.filter(purged_at__isnull=False).values_list("pk", "purged_at"))
        second = retention_run()
        assert (first.messages_purged, second.messages_purged) == (4, 0)
        assert dict(Message.objects.filter(purged_at__isnull=False).values_list("pk", "purged_at")) == stamps


def test_a_conversation_whose_last_message_is_purged_loses_its_preview(tenant):
    from apps.agents.services.housekeeping import retention_run

    with schema_context("alpha"):
        quiet = make_conversation(contact=make_contact("Caio"))
        old(quiet, "Meu CPF é 123.456.789-00", 45)
        busy = make_conversation(contact=make_contact("Rita"))
        old(busy, "Oi", 45)
        old(busy, "Tem mortadela?", 1)
        retention_run()
        quiet.refresh_from_db()
        busy.refresh_from_db()
        assert quiet.last_message_preview == "" and quiet.last_message_at is not None
        assert busy.last_message_preview == "Tem mortadela?"


@pytest.mark.parametrize("days, plan_days, purged_ages, kept_ages", [
    (0, None, [], [400, 40, 2]),          # 0 keeps everything when the plan sets no limit
    (0, 90, [400], [40, 2]),               # ... but never longer than the plan allows
    (365, 60, [400], [40, 2]),             # the plan caps a longer setting
    (10, 90, [400, 40], [2]),              # a shorter setting wins
])
def test_effective_retention_is_the_tenants_capped_by_the_plan(tenant, days, plan_days, purged_ages, kept_ages):
    from apps.agents.services.housekeeping import retention_run
    from apps.inbox.models import RetentionRun

    set_retention(tenant, days=days, plan_days=plan_days)
    with schema_context("alpha"):
        conversation = make_conversation()
        messages = {age: old(conversation, f"mensagem de {age} dias", age) for age in (400, 40, 2)}
        run = retention_run()
        assert sorted(age for age, message in messages.items() if purged(message)) == sorted(purged_ages)
        assert all(not purged(messages[age]) for age in kept_ages)
        if days == 0 and plan_days is None:
            assert run is None and RetentionRun.objects.count() == 0  # nothing ran, nothing logged
        else:
            assert run.messages_purged == len(purged_ages)


def test_old_ai_decisions_lose_their_texts_but_keep_their_numbers(chat):
    from apps.agents.models import Decision
    from apps.agents.services.housekeeping import retention_run

    conversation, _ = chat
    with schema_context("alpha"):
        chunks = [{"chunk_id": 1, "document_id": 2, "title": "Entrega", "score": 0.8, "text": "Entregamos no Centro"}]
        tools = [{"name": "save_contact_data", "arguments": {"email": "maria@x.com"}, "ok": True, "result": {"ok": 1}}]
        stale = Decision.objects.create(
            conversation=conversation, action="answered", input_text="Vocês entregam na Rua X, 10?",
            reply_text="Entregamos sim", chunks=chunks, tool_calls=tools, confidence=0.8, prompt_tokens=120,
            completion_tokens=30, cost=Decimal("0.000123"), model="gpt-4o-mini",
            created_at=timezone.now() - timedelta(days=40))
        fresh = Decision.objects.create(conversation=conversation, action="handed_off", input_text="Oi",
                                        chunks=chunks, created_at=timezone.now() - timedelta(days=1))
        run = retention_run()
        assert run.decisions_purged == 1
        stale.refresh_from_db()
        fresh.refresh_from_db()
        assert (stale.input_text, stale.reply_text) == ("", "")
        assert stale.chunks == [{"chunk_id": 1, "document_id": 2, "title": "Entrega", "score": 0.8}]
        assert stale.tool_calls == [{"name": "save_contact_data", "ok": True}]
        assert (stale.action, stale.confidence, stale.prompt_tokens, stale.completion_tokens, stale.cost,
                stale.model) == ("answered", 0.8, 120, 30, Decimal("0.000123"), "gpt-4o-mini")
        assert fresh.input_text == "Oi" and fresh.chunks == chunks
        assert retention_run().decisions_purged == 0  # already purged: not again


def test_batches_cover_more_than_one_batch(tenant):
    from apps.agents.services import housekeeping
    from apps.inbox.models import Message

    with schema_context("alpha"):
        conversation = make_conversation()
        for i in range(8):
            old(conversation, f"antiga {i}", 50)
        old(conversation, "nova", 1)
        run = housekeeping.retention_run(batch=3)
        assert run.messages_purged == 8
        assert Message.objects.filter(conversation=conversation, purged_at__isnull=True).count() == 1


def test_alphas_run_never_touches_beta(chat, other_tenant):
    from apps.agents.services.housekeeping import retention_run
    from apps.agents.tasks import retention
    from apps.inbox.models import RetentionRun

    with schema_context("beta"):
        theirs = old(make_conversation(), "mensagem antiga da beta", 200)
    with schema_context("alpha"):
        result = retention.apply().get()  # the beat task, eager, sent from alpha's schema
        assert result["messages"] == 4
        assert retention_run().messages_purged == 0
    with schema_context("beta"):
        assert not purged(theirs) and theirs.text == "mensagem antiga da beta"
        assert RetentionRun.objects.count() == 0


# --- live traffic holding a row: skipped, never waited for -------------------------------------


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture
def committed_chat(committed):
    """Old messages committed in alpha (other connections see them), removed afterwards."""
    from apps.crm.models import Contact
    from apps.inbox.models import RetentionRun
    from apps.inbox.tests.helpers_inbox import make_connection
    from apps.whatsapp.services.connections import connection_delete_row

    with schema_context("alpha"):
        runs_before = set(RetentionRun.objects.values_list("pk", flat=True))
        conn = make_connection(name=f"Retention {uuid.uuid4().hex[:6]}")
        conversation = make_conversation(connection=conn, contact=make_contact("Cliente antigo"))
        messages = [old(conversation, f"antiga {i}", 60) for i in range(3)]
    try:
        yield messages
    finally:
        with schema_context("alpha"):
            contact = conversation.contact_id
            connection_delete_row(conn)
            Contact.objects.filter(pk=contact).delete()
            RetentionRun.objects.exclude(pk__in=runs_before).delete()


def test_a_row_held_by_live_traffic_is_skipped_not_waited_for(committed_chat):
    """(No ``db`` fixture: the rows must be committed for the second connection to lock one.)"""
    from apps.agents.services.housekeeping import retention_run
    from apps.inbox.models import Message

    held, free = committed_chat[0], committed_chat[1:]
    locked, release = threading.Event(), threading.Event()

    def hold():  # a request busy with this message (e.g. a status update) in its own transaction
        try:
            with schema_context("alpha"), transaction.atomic():
                Message.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(timeout=20)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        with schema_context("alpha"):
            started = time.monotonic()
            run = retention_run()
            assert time.monotonic() - started < 5  # did not wait for the lock (held for up to 20 s)
            assert run.messages_purged == 2
            assert all(purged(m) for m in free) and not purged(held)
    finally:
        release.set()
        thread.join(timeout=30)
    with schema_context("alpha"):
        assert retention_run().messages_purged == 1  # the next run takes it
        assert purged(held)
