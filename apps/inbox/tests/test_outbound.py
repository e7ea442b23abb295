"""Outbound, in-process: message_send validates and queues; message_deliver sends exactly once
through the real provider code against a fake Graph API on 127.0.0.1; provider statuses move the
ticks forward only. (Retries through a real worker: tests/test_message_path_worker.py.)"""
from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.test_pipeline import alpha, hook_post, msg, process_all, sandbox  # noqa: F401
from tests.fakes import cloud_api as fake_cloud


@pytest.fixture(autouse=True)
def _english():
    """Stored lines and provider errors are written in the active language (pt-BR by default);
    these tests read them in English."""
    from django.utils import translation

    with translation.override("en"):
        yield

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200


@pytest.fixture
def conversation(sandbox):
    from apps.inbox.models import Conversation

    hook_post(sandbox, [msg("in1", "Oi, tem picanha?")])
    process_all()
    with schema_context("alpha"):
        return Conversation.objects.select_related("connection", "contact").get()


@pytest.fixture
def graph():
    with fake_cloud.FakeGraphApi() as fake:
        yield fake


@pytest.fixture
def cloud_conversation(alpha, graph):
    from apps.crm.services import contact_resolve
    from apps.inbox.models import Conversation
    from apps.whatsapp.providers.base import ContactRef
    from apps.whatsapp.services.connections import connection_create

    conn = connection_create(name="Oficial", provider="cloud_api", instance_name=fake_cloud.PHONE_NUMBER_ID,
                             credentials={"access_token": fake_cloud.ACCESS_TOKEN, "app_secret": fake_cloud.APP_SECRET,
                                          "verify_token": fake_cloud.VERIFY_TOKEN},
                             config={"graph_url": graph.url}, status="connected")
    contact = contact_resolve(ContactRef(phone="+" + fake_cloud.CUSTOMER_WA_ID, name="Bia"))
    return Conversation.objects.create(contact=contact, connection=conn, last_inbound_at=timezone.now())


def send(conversation, **kwargs):
    from apps.inbox.services.messages import message_send

    with schema_context("alpha"):
        return message_send(conversation, **kwargs)


def deliver(message):
    from apps.inbox.services.messages import message_deliver

    with schema_context("alpha"):
        try:
            return message_deliver(message.pk)
        finally:
            message.refresh_from_db()


# --- message_send ----------------------------------------------------------------------------


def test_a_human_reply_is_queued_quiets_the_bot_and_is_enqueued_after_commit(conversation, owner,
                                                                            django_capture_on_commit_callbacks):
    from apps.inbox.models import Message

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = send(conversation, sender_kind="human", user=owner, text="  Tem sim! 49,90 o kg  ")
    assert (message.status, message.direction, message.sender_user, message.text) == (
        "queued", "out", owner, "Tem sim! 49,90 o kg")
    assert any(getattr(cb, "__name__", "") == "<lambda>" for cb in callbacks)  # the send task, after commit
    with schema_context("alpha"):
        conversation.refresh_from_db()
        assert conversation.bot_state == "human_active"
        assert conversation.first_human_reply_at is not None
        assert conversation.last_message_preview == "Tem sim! 49,90 o kg"
        event = Message.objects.get(type="event")
        assert event.sender_kind == "system" and event.payload["event"] == "human_active"
    assert deliver(message) == "sent"
    assert message.status == "sent" and message.provider_message_id.startswith("sandbox-")
    assert message.send_attempts == 1 and message.sent_at is not None
    assert deliver(message) == "done"  # a second run of the task never sends again
    assert message.send_attempts == 1


def test_an_ai_reply_leaves_the_bot_state_alone(conversation):
    message = send(conversation, sender_kind="ai", text="Temos sim!")
    with schema_context("alpha"):
        conversation.refresh_from_db()
    assert conversation.bot_state == "ai_active" and conversation.first_human_reply_at is None
    assert message.sender_user is None


def test_bad_input_is_refused_with_a_readable_reason(conversation, owner, settings):
    from apps.inbox.models import Message

    with pytest.raises(ValidationError, match="Write a message"):
        send(conversation, sender_kind="human", user=owner, text="   ")
    exe = SimpleUploadedFile("nota.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\xff" * 100)
    with pytest.raises(ValidationError, match="cannot be sent"):
        send(conversation, sender_kind="human", user=owner, media=exe)
    settings.INBOX_ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="larger than"):
        send(conversation, sender_kind="human", user=owner, media=SimpleUploadedFile("a.jpg", JPEG))
    with schema_context("alpha"):
        assert not Message.objects.filter(direction="out").exclude(type="event").exists()


def test_attachments_are_typed_by_their_content(conversation, owner, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    photo = send(conversation, sender_kind="human", user=owner, text="a foto",
                 media=SimpleUploadedFile("foto.bin", JPEG, content_type="application/octet-stream"))
    assert (photo.type, photo.media_mime, photo.media_size, photo.media_name) == ("image", "image/jpeg", len(JPEG), "foto.bin")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    sheet = send(conversation, sender_kind="human", user=owner,
                 media=SimpleUploadedFile("precos.xlsx", buffer.getvalue()))
    assert sheet.type == "document" and sheet.media_mime.endswith("spreadsheetml.sheet")
    assert deliver(photo) == "sent"


def test_cloud_api_window_closed_only_templates(cloud_conversation):
    from apps.inbox.models import Conversation

    with schema_context("alpha"):
        Conversation.objects.filter(pk=cloud_conversation.pk).update(last_inbound_at=timezone.now() - timezone.timedelta(hours=25))
        cloud_conversation.refresh_from_db()
    with pytest.raises(ValidationError, match="24-hour"):
        send(cloud_conversation, sender_kind="ai", text="oi")
    template = send(cloud_conversation, sender_kind="ai", type="template",
                    payload={"name": "hello_world", "language": "pt_BR", "variables": []})
    assert template.status == "queued"


# --- delivery --------------------------------------------------------------------------------


def test_provider_500_twice_then_200_is_sent_exactly_once(cloud_conversation, graph):
    from apps.whatsapp.providers.base import TemporaryProviderError

    message = send(cloud_conversation, sender_kind="ai", text="Seu pedido saiu para entrega")
    graph.fail_next(2, status=500)
    for _ in range(2):
        with pytest.raises(TemporaryProviderError):
            deliver(message)
        assert message.status == "queued" and "unexpected error" in message.error
    assert deliver(message) == "sent"
    assert message.status == "sent" and message.error == "" and message.send_attempts == 3
    assert [body["text"]["body"] for body in graph.sent] == ["Seu pedido saiu para entrega"]
    assert message.provider_message_id.startswith("wamid.")
    assert deliver(message) == "done" and len(graph.sent) == 1


def test_permanent_error_fails_with_the_reason_and_retry_sends_it(cloud_conversation, graph):
    from apps.inbox.services.messages import message_retry

    message = send(cloud_conversation, sender_kind="ai", text="Oi")
    graph.fail_next(1, status=400, body=fake_cloud.graph_error("(#131030) Recipient phone number not in allowed list",
                                                               code=131030))
    assert deliver(message) == "failed"
    assert message.status == "failed" and "allowed list" in message.error
    with schema_context("alpha"):
        message_retry(message)
    assert message.status == "queued" and message.error == ""
    assert deliver(message) == "sent" and len(graph.sent) == 1
    with schema_context("alpha"), pytest.raises(ValidationError):
        message_retry(message)  # only failed messages


def test_an_unknown_outcome_is_sent_again_when_the_provider_does_not_have_it(conversation):
    from apps.inbox.models import Message

    message = send(conversation, sender_kind="ai", text="oi")
    with schema_context("alpha"):
        Message.objects.filter(pk=message.pk).update(status="sending", send_attempts=1)  # a worker died here
    assert deliver(message) == "sent" and message.send_attempts == 2


def test_a_second_worker_does_not_send_while_the_first_holds_the_message(conversation):
    from apps.inbox.services.messages import _SendLock

    message = send(conversation, sender_kind="ai", text="oi")
    import psycopg

    from conftest import test_database_url

    other = psycopg.connect(test_database_url(), autocommit=True)
    try:
        with schema_context("alpha"):
            key = _SendLock(message.pk).key
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        assert deliver(message) == "busy" and message.status == "queued"
        other.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    finally:
        other.close()
    assert deliver(message) == "sent"


def test_send_task_of_one_tenant_never_touches_another(conversation, other_tenant):
    from apps.inbox.services.messages import message_deliver

    message = send(conversation, sender_kind="ai", text="só da alpha")
    with schema_context("beta"):
        assert message_deliver(message.pk) == "done"
    with schema_context("alpha"):
        message.refresh_from_db()
    assert message.status == "queued" and message.send_attempts == 0


# --- statuses --------------------------------------------------------------------------------


def test_statuses_move_ticks_forward_only(conversation):
    from apps.inbox.services.messages import status_apply
    from apps.whatsapp.providers.base import StatusUpdate

    message = send(conversation, sender_kind="ai", text="oi")
    deliver(message)
    pid = message.provider_message_id
    with schema_context("alpha"):
        status_apply(StatusUpdate(provider_message_id=pid, status="read", timestamp=1_700_000_100))
        status_apply(StatusUpdate(provider_message_id=pid, status="delivered", timestamp=1_700_000_050))
        status_apply(StatusUpdate(provider_message_id=pid, status="sent", timestamp=1_700_000_000))
        status_apply(StatusUpdate(provider_message_id=pid, status="failed", timestamp=1_700_000_200, error="x"))
        message.refresh_from_db()
        assert message.status == "read" and message.read_at and message.delivered_at and not message.error
        assert status_apply(StatusUpdate(provider_message_id="nope", status="read", timestamp=0)) is None


def test_status_failed_shows_the_reason_and_status_by_uid(conversation):
    from apps.inbox.services.messages import status_apply
    from apps.whatsapp.providers.base import StatusUpdate

    message = send(conversation, sender_kind="ai", text="oi")
    deliver(message)
    with schema_context("alpha"):
        status_apply(StatusUpdate(provider_message_id=str(message.uid), status="delivered", timestamp=0))
        message.refresh_from_db()
        assert message.status == "delivered"
    other = send(conversation, sender_kind="ai", text="oi de novo")
    deliver(other)
    with schema_context("alpha"):
        status_apply(StatusUpdate(provider_message_id=other.provider_message_id, status="failed", timestamp=0,
                                  error="Message undeliverable"))
        other.refresh_from_db()
    assert (other.status, other.error) == ("failed", "Message undeliverable")


def test_a_status_that_arrives_before_the_send_is_recorded_waits_for_it(conversation):
    from apps.whatsapp.models import InboundEvent
    from apps.whatsapp.providers.base import StatusUpdate, WebhookItem
    from apps.whatsapp.services.ingest import process_event, store_items

    message = send(conversation, sender_kind="ai", text="oi")
    with schema_context("alpha"):
        store_items(conversation.connection, [WebhookItem(kind="status", dedup_key="s1", data=StatusUpdate(
            provider_message_id="early-id", status="delivered", timestamp=0).to_dict())])
        event = InboundEvent.objects.get(dedup_key="s1")
        process_event(event.pk)
        event.refresh_from_db()
        assert event.processed_at is None and event.attempts == 1  # the sweep tries again
        from apps.inbox.models import Message

        Message.objects.filter(pk=message.pk).update(status="sent", provider_message_id="early-id")
        process_event(event.pk)
        event.refresh_from_db()
        message.refresh_from_db()
    assert event.processed_at is not None and message.status == "delivered"


def test_from_me_echo_of_our_message_is_not_duplicated(conversation):
    from apps.inbox.models import Message
    from apps.inbox.services.messages import inbound_apply
    from apps.whatsapp.providers.base import ContactRef, InboundMessage

    sent = send(conversation, sender_kind="ai", text="Pedido confirmado")
    deliver(sent)
    with schema_context("alpha"):
        echo = inbound_apply(conversation.connection, InboundMessage(
            provider_message_id=sent.provider_message_id, contact=ContactRef(phone="+5511987654321", name="Loja"),
            timestamp=0, text="Pedido confirmado", from_me=True))
        assert echo.pk == sent.pk
    # the echo can also arrive while the send task has not stored the provider's id yet
    racing = send(conversation, sender_kind="ai", text="Saiu para entrega")
    with schema_context("alpha"):
        Message.objects.filter(pk=racing.pk).update(status="sending")
    hook_post(conversation.connection, [msg("echo-2", "Saiu para entrega", name="Loja", from_me=True)])
    process_all()
    with schema_context("alpha"):
        outbound = list(Message.objects.filter(direction="out").exclude(type="event").order_by("id")
                        .values_list("text", "status"))
        racing.refresh_from_db()
        conversation.refresh_from_db()
        assert conversation.contact.push_name == "Ana"
    assert outbound == [("Pedido confirmado", "sent"), ("Saiu para entrega", "sent")]
    assert racing.provider_message_id.endswith(":echo-2")
    assert conversation.bot_state == "ai_active"  # our own echo is not a human taking over
    assert deliver(racing) == "done"


# --- inbound media and the sweep ---------------------------------------------------------------


def test_inbound_media_is_downloaded_and_a_failed_download_keeps_the_message(cloud_conversation, graph, settings,
                                                                             tmp_path):
    from apps.inbox.services.messages import inbound_apply
    from apps.whatsapp.providers.base import ContactRef, InboundMessage

    settings.MEDIA_ROOT = str(tmp_path)
    media_id = graph.add_media(JPEG, "image/jpeg")
    customer = ContactRef(phone="+" + fake_cloud.CUSTOMER_WA_ID, bsuid="BR.bia1")
    with schema_context("alpha"):
        photo = inbound_apply(cloud_conversation.connection, InboundMessage(
            provider_message_id="wamid.photo", contact=customer, timestamp=0, type="image", text="olha a peça",
            media={"media_id": media_id, "mime": "image/jpeg"}))
        assert photo.conversation_id == cloud_conversation.pk
        assert (photo.type, photo.media_mime, photo.media_size) == ("image", "image/jpeg", len(JPEG))
        with photo.media.open("rb") as fh:
            assert fh.read() == JPEG
        lost = inbound_apply(cloud_conversation.connection, InboundMessage(
            provider_message_id="wamid.lost", contact=customer, timestamp=0, type="audio",
            media={"media_id": "999", "mime": "audio/ogg"}))
        assert lost.pk and not lost.media and lost.payload["media_error"]
        assert lost.media_mime == "audio/ogg"


def test_sweep_finds_stuck_sends_but_not_scheduled_ones(conversation, settings):
    from datetime import timedelta

    from apps.inbox.models import Conversation, Message
    from apps.inbox.services.messages import _mark_pending
    from apps.inbox.services.sweeps import stuck_outbound
    from apps.inbox.services.turns import turns_due

    settings.MESSAGE_SWEEP_AFTER_SECONDS = 30
    stuck = send(conversation, sender_kind="ai", text="preso")
    scheduled = send(conversation, sender_kind="ai", text="aguardando nova tentativa")
    fresh = send(conversation, sender_kind="ai", text="acabou de entrar")
    with schema_context("alpha"):
        old = timezone.now() - timedelta(minutes=2)
        Message.objects.filter(pk__in=[stuck.pk, scheduled.pk]).update(created_at=old)
        _mark_pending(scheduled.pk, countdown=60)
        found = stuck_outbound()
        assert stuck.pk in found and scheduled.pk not in found and fresh.pk not in found
        Conversation.objects.filter(pk=conversation.pk).update(turn_due_at=timezone.now() - timedelta(seconds=10))
        assert conversation.pk in turns_due()
    assert deliver(stuck) == "sent"
    with schema_context("alpha"):
        assert stuck.pk not in stuck_outbound()


def test_cloud_status_echoing_our_uid_stops_a_resend_after_a_timeout(cloud_conversation, graph):
    """Graph took the message but our call timed out: the status webhook carries our uid in
    biz_opaque_callback_data, so the row is recorded as sent and the pending retry sends nothing."""
    from apps.inbox.services.messages import status_apply
    from apps.whatsapp.providers import get_provider
    from apps.whatsapp.providers.base import StatusUpdate

    message = send(cloud_conversation, sender_kind="ai", text="Seu pedido saiu")
    payload = fake_cloud.webhook_payload(fake_cloud.change_value(
        statuses=[fake_cloud.status_event("wamid.TIMEDOUT", "sent", callback_data=str(message.uid))]))
    with schema_context("alpha"):
        # the outcome of the first attempt is unknown: back in the queue, one attempt spent
        type(message).objects.filter(pk=message.pk).update(status="queued", send_attempts=1)
        [item] = get_provider("cloud_api").parse_webhook(cloud_conversation.connection, payload)
        status_apply(StatusUpdate.from_dict(item.data))
        message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "wamid.TIMEDOUT")
    assert deliver(message) == "done"
    assert graph.calls("POST", "/messages") == []  # no second copy


def test_without_the_echo_a_queued_retry_still_sends(cloud_conversation, graph):
    """The failing side of the above: an unrelated status does not mark our row, and it is sent."""
    from apps.inbox.services.messages import status_apply
    from apps.whatsapp.providers.base import StatusUpdate

    message = send(cloud_conversation, sender_kind="ai", text="Seu pedido saiu")
    with schema_context("alpha"):
        assert status_apply(StatusUpdate(provider_message_id="wamid.OTHER", status="sent", timestamp=0,
                                         callback_data="not-a-uid")) is None
    assert deliver(message) == "sent"
    assert len(graph.calls("POST", "/messages")) == 1
