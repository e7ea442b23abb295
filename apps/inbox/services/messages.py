"""Messages: applying inbound ones, creating and sending outbound ones, provider status changes.

Outbound is an outbox: ``message_send`` commits a ``queued`` row and enqueues
``inbox.send_message`` after commit; the task (``message_deliver``) marks the row ``sending`` and
commits BEFORE calling the provider, so a worker killed mid-send leaves a row that says "outcome
unknown", which the next attempt reconciles with ``provider.find_sent`` instead of sending twice.
A session advisory lock per message keeps two copies of the task from sending at the same time
(PostgreSQL drops it when a killed worker's connection goes away)."""
from __future__ import annotations

import io
import logging
import random
import uuid
import zipfile
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import events
from ..models import (BotState, Conversation, ConversationStatus, Direction, Message, MessageStatus, MessageType,
                      SenderKind)

log = logging.getLogger(__name__)

# --- attachments -------------------------------------------------------------------------------

ALLOWED_MIME_TYPES = {
    "image/jpeg", "image/png", "image/webp",
    "audio/ogg", "audio/mpeg", "audio/mp4",
    "video/mp4",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "text/plain",
}


def sniff_mime(head: bytes, content: bytes | None = None) -> str:
    """The real type of a file from its first bytes (never from its name or the browser's claim)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "audio/mp4" if brand in (b"M4A ", b"M4B ", b"M4P ") else "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04") and content is not None:
        try:
            names = zipfile.ZipFile(io.BytesIO(content)).namelist()
        except zipfile.BadZipFile:
            return "application/octet-stream"
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            if any(n.startswith("xl/") for n in names):
                return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "application/zip"
    sample = (content if content is not None else head)[:4096]
    if b"\x00" not in sample:
        try:
            sample.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as exc:
            if exc.start >= len(sample) - 3:  # a multi-byte character cut by the sample
                return "text/plain"
    return "application/octet-stream"


def type_for_mime(mime: str) -> str:
    major = mime.split("/", 1)[0]
    return {"image": MessageType.IMAGE, "audio": MessageType.AUDIO, "video": MessageType.VIDEO}.get(
        major, MessageType.DOCUMENT)


def _read_upload(media) -> tuple[bytes, str, str]:
    """(content, sniffed mime, file name) of an upload, validated; ValidationError otherwise."""
    limit = settings.INBOX_ATTACHMENT_MAX_BYTES
    size = getattr(media, "size", None)
    if size is not None and size > limit:
        raise ValidationError(_("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)})
    if hasattr(media, "seek"):
        media.seek(0)
    content = media.read(limit + 1)
    if len(content) > limit:
        raise ValidationError(_("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)})
    if not content:
        raise ValidationError(_("The file is empty."))
    mime = sniff_mime(content[:64], content)
    if mime not in ALLOWED_MIME_TYPES:
        raise ValidationError(_("This type of file cannot be sent. Send an image (JPEG, PNG, WebP), audio "
                                "(OGG, MP3, M4A), an MP4 video, a PDF, a Word or Excel file, or plain text."))
    name = (getattr(media, "name", "") or "file").rsplit("/", 1)[-1][:200]
    return content, mime, name


def _preview(message: Message) -> str:
    if message.text:
        return message.text[:200]
    labels = {
        MessageType.IMAGE: _("Photo"), MessageType.AUDIO: _("Audio"), MessageType.VIDEO: _("Video"),
        MessageType.DOCUMENT: _("Document"), MessageType.LOCATION: _("Location"),
        MessageType.STICKER: _("Sticker"), MessageType.REACTION: _("Reaction"),
        MessageType.INTERACTIVE: _("Menu"), MessageType.TEMPLATE: _("Template"),
    }
    label = str(labels.get(message.type, ""))
    return (f"{label}: {message.media_name}" if message.media_name else label)[:200]


def _touch(conversation: Conversation, message: Message, *, inbound: bool) -> None:
    """Keep the conversation's list fields in step with a new message (caller holds the row lock)."""
    fields = ["last_message_preview"]
    if conversation.last_message_at is None or message.created_at >= conversation.last_message_at:
        conversation.last_message_at = message.created_at
        conversation.last_message_preview = _preview(message)
        fields.append("last_message_at")
    if inbound:
        conversation.unread_count += 1
        fields.append("unread_count")
        if conversation.last_inbound_at is None or message.created_at > conversation.last_inbound_at:
            conversation.last_inbound_at = message.created_at
            fields.append("last_inbound_at")
    conversation.save(update_fields=fields)


# --- system lines in the chat -----------------------------------------------------------------

def message_log_event(conversation: Conversation, *, text: str, payload: dict | None = None) -> Message:
    """A system line in the chat ("Bot paused by Ana", "Assigned to Vendas"): stored and shown,
    never sent to the customer. Does not change the conversation's preview or unread count."""
    message = Message.objects.create(
        conversation=conversation, direction=Direction.OUT, sender_kind=SenderKind.SYSTEM, type=MessageType.EVENT,
        text=text, payload=payload or {}, status=MessageStatus.SENT, sent_at=timezone.now())
    events.message_created(message)
    return message


# --- outbound ----------------------------------------------------------------------------------

def _window_check(conversation: Conversation, type: str) -> None:
    """Cloud API: free-form messages only inside the 24-hour customer-service window."""
    if type in (MessageType.TEMPLATE, MessageType.EVENT):
        return
    try:
        from apps.whatsapp.window import ensure_can_send_free_form
    except ImportError:
        return
    ensure_can_send_free_form(conversation)


def message_send(conversation, *, sender_kind: str, text: str = "", user=None, type: str = "text",
                 media=None, payload: dict | None = None):
    """Create an outbound Message (status queued) in ``conversation`` and enqueue its delivery after
    commit. ``sender_kind`` is human / ai / flow / system; ``user`` the staff member for human.
    ``media`` an uploaded file (type-checked, <= INBOX_ATTACHMENT_MAX_BYTES). A human message sets
    the bot state to human_active (and records first_human_reply_at). Publishes message.created and
    conversation.updated. Raises django.core.exceptions.ValidationError with a readable message on
    bad input (empty text without media, too large, wrong type, Cloud API window closed)."""
    if sender_kind not in (SenderKind.HUMAN, SenderKind.AI, SenderKind.FLOW, SenderKind.SYSTEM):
        raise ValueError(f"cannot send as {sender_kind!r}")
    text = (text or "").strip()
    payload = dict(payload or {})
    content = mime = name = None
    if media is not None:
        content, mime, name = _read_upload(media)
        if type in (MessageType.TEXT, "", None):
            type = type_for_mime(mime)
    if type not in MessageType.values or type == MessageType.EVENT:
        raise ValidationError(_("This kind of message cannot be sent."))
    if type == MessageType.TEMPLATE:
        if not payload.get("name"):
            raise ValidationError(_("Choose a template."))
    elif type == MessageType.INTERACTIVE:
        if not (payload.get("body") or text) or not (payload.get("buttons") or payload.get("sections")):
            raise ValidationError(_("A menu needs a text and at least one option."))
    elif content is None and not text:
        raise ValidationError(_("Write a message or attach a file."))
    if len(text) > 4096:
        raise ValidationError(_("The message is too long (4096 characters at most)."))
    if conversation.connection_id and not conversation.connection.is_active:
        raise ValidationError(_("This WhatsApp number is disabled."))
    _window_check(conversation, type)

    schema = db_connection.schema_name
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        message = Message(conversation=locked, direction=Direction.OUT, sender_kind=sender_kind,
                          sender_user=user if sender_kind == SenderKind.HUMAN else None, type=type, text=text,
                          payload=payload, status=MessageStatus.QUEUED)
        if content is not None:
            message.media.save(name, ContentFile(content), save=False)
            message.media_mime, message.media_size, message.media_name = mime, len(content), name
        message.save()
        now = timezone.now()
        if sender_kind == SenderKind.HUMAN:
            fields = []
            if locked.first_human_reply_at is None:
                locked.first_human_reply_at = now
                fields.append("first_human_reply_at")
            if locked.status == ConversationStatus.PENDING:
                pass  # answering does not reopen; staff choose the status
            if fields:
                locked.save(update_fields=fields)
            from .bot import bot_set_human_active, bot_touch_human_activity

            if locked.bot_state != BotState.HUMAN_ACTIVE:
                bot_set_human_active(locked, user)
            else:
                bot_touch_human_activity(locked)
        _touch(locked, message, inbound=False)
        events.message_created(message)
        events.conversation_updated(locked)
        message_id = message.pk
        transaction.on_commit(lambda: enqueue_send(message_id, schema=schema))
    conversation.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return message


def _pending_key(message_id: int) -> str:
    return f"inbox:send-pending:{message_id}"  # the cache adds the schema


def _mark_pending(message_id: int, countdown: float) -> None:
    """Tell the sweeper a send is scheduled (so it does not enqueue another before it is due)."""
    try:
        cache.set(_pending_key(message_id), 1, timeout=int(countdown + settings.MESSAGE_SWEEP_AFTER_SECONDS) + 1)
    except Exception:  # noqa: BLE001 - an early sweep is harmless: the send is exactly-once anyway
        log.debug("send-pending mark not stored", exc_info=True)


def send_is_pending(message_id: int) -> bool:
    try:
        return bool(cache.get(_pending_key(message_id)))
    except Exception:  # noqa: BLE001
        return False


def enqueue_send(message_id: int, *, countdown: float = 0, schema: str | None = None) -> bool:
    """Send ``inbox.send_message``; a broker failure is logged, never raised (the sweeper retries)."""
    from django_tenants.utils import schema_context

    from ..tasks import send_message

    try:
        with schema_context(schema or db_connection.schema_name):
            send_message.apply_async(args=[message_id], countdown=countdown or None, retry=False)
    except Exception as exc:  # noqa: BLE001
        log.warning("message %s not enqueued (%s); the sweeper will pick it up", message_id, exc)
        return False
    _mark_pending(message_id, countdown)
    return True


def send_retry_delay(retries: int) -> float:
    """Exponential backoff with jitter for attempt ``retries`` (0-based), capped at 10 minutes."""
    delay = min(settings.INBOX_SEND_RETRY_DELAY_SECONDS * (2 ** retries), 600.0)
    return delay * random.uniform(0.8, 1.2)


def _outbound(message: Message):
    from apps.crm.selectors import contact_recipient
    from apps.whatsapp.providers.base import OutboundMessage

    conversation = message.conversation
    out = OutboundMessage(uid=str(message.uid), to=contact_recipient(conversation.contact, conversation.connection.provider),
                          type=message.type, text=message.text, payload=dict(message.payload or {}))
    if message.media:
        import base64

        with message.media.open("rb") as fh:
            out.media_base64 = base64.b64encode(fh.read()).decode()
        out.media_mime = message.media_mime
        out.media_filename = message.media_name
    return out


class _SendLock:
    """A session-level advisory lock on one message; None when another worker holds it."""

    def __init__(self, message_id: int):
        self.key = f"{db_connection.schema_name}:inbox.send:{message_id}"
        self.held = False

    def __enter__(self):
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [self.key])
            self.held = bool(cursor.fetchone()[0])
        return self

    def __exit__(self, *exc):
        if self.held:
            try:
                with db_connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [self.key])
            except Exception:  # noqa: BLE001 - a broken connection releases it anyway
                log.warning("advisory unlock failed", exc_info=True)
        return False


def message_deliver(message_id: int) -> str:
    """Send one queued message through its connection's provider, exactly once.

    Returns what happened: "sent", "reconciled" (an earlier attempt had sent it), "done" (nothing to
    do: already sent, failed or gone), "busy" (another worker is sending it now) or "failed"
    (permanent error, stored on the row). Raises TemporaryProviderError after putting the row back
    to queued, for the caller to retry later."""
    from apps.whatsapp.providers import get_provider
    from apps.whatsapp.providers.base import PermanentProviderError, TemporaryProviderError

    with _SendLock(message_id) as lock:
        if not lock.held:
            return "busy"
        with transaction.atomic():
            message = (Message.objects.select_for_update(of=("self",))
                       .select_related("conversation__contact", "conversation__connection")
                       .filter(pk=message_id, direction=Direction.OUT).exclude(type=MessageType.EVENT).first())
            if message is None or message.status not in (MessageStatus.QUEUED, MessageStatus.SENDING):
                return "done"
            connection = message.conversation.connection
            provider = get_provider(connection.provider)
            out = _outbound(message)
            if message.status == MessageStatus.SENDING or message.send_attempts > 0:
                # an earlier attempt died between "sending" and its outcome, or timed out (the
                # provider may still have completed it): ask the provider before sending again
                try:
                    found = provider.find_sent(connection, out, message.created_at.timestamp())
                except Exception as exc:  # noqa: BLE001 - unknown still: retry later rather than risk a duplicate
                    raise TemporaryProviderError(str(exc) or exc.__class__.__name__) from exc
                if found and Message.objects.filter(provider_message_id=found).exclude(pk=message.pk).exclude(
                        payload__typed_on_phone=True).exists():
                    found = None  # an earlier message of ours with the same text, not this one
                if found:
                    _mark_sent(message, found)
                    return "reconciled"
            if not connection.is_active:
                _mark_failed(message, _("This WhatsApp number is disabled."))
                return "failed"
            message.status = MessageStatus.SENDING
            message.send_attempts += 1
            message.save(update_fields=["status", "send_attempts"])
            events.message_updated(message)
        # committed: from here on a crash leaves "sending", reconciled by the next attempt
        try:
            result = provider.send(connection, out)
        except PermanentProviderError as exc:
            with transaction.atomic():
                message = Message.objects.select_for_update().get(pk=message_id)
                _mark_failed(message, str(exc) or _("The provider refused the message."))
            return "failed"
        except TemporaryProviderError as exc:
            with transaction.atomic():
                message = Message.objects.select_for_update().get(pk=message_id)
                if message.status == MessageStatus.SENDING:
                    message.status = MessageStatus.QUEUED
                    message.error = str(exc)[:1000]
                    message.save(update_fields=["status", "error"])
                    events.message_updated(message)
            raise
        except Exception as exc:
            # a bug or an unexpected library error: the outcome is unknown, keep "sending" so the
            # next attempt reconciles first
            log.exception("provider send of message %s raised", message_id)
            raise TemporaryProviderError(str(exc) or exc.__class__.__name__) from exc
        with transaction.atomic():
            message = Message.objects.select_for_update().get(pk=message_id)
            _mark_sent(message, result.provider_message_id)
        return "sent"


def _mark_sent(message: Message, provider_message_id: str) -> None:
    """Record a successful send (caller holds the row lock). A status that arrived first (delivered,
    read) is kept: ticks only move forward."""
    provider_message_id = (provider_message_id or "")[:200]
    if provider_message_id and message.provider_message_id != provider_message_id:
        clash = Message.objects.filter(provider_message_id=provider_message_id).exclude(pk=message.pk).first()
        if clash is not None and clash.payload.get("typed_on_phone"):
            # the provider's echo was stored as a "typed on the phone" row before we learnt the id
            log.warning("message %s: echo row %s carried our provider id; merging", message.pk, clash.pk)
            clash.delete()
            clash = None
        if clash is None:
            message.provider_message_id = provider_message_id
        else:
            log.error("message %s: provider id %s already belongs to message %s", message.pk,
                      provider_message_id, clash.pk)
    if _RANK.get(message.status, 0) < _RANK[MessageStatus.SENT]:
        message.status = MessageStatus.SENT
    message.sent_at = message.sent_at or timezone.now()
    message.error = ""
    message.save(update_fields=["provider_message_id", "status", "sent_at", "error"])
    events.message_updated(message)


def _mark_failed(message: Message, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.error = str(reason)[:1000]
    message.save(update_fields=["status", "error"])
    events.message_updated(message)


def message_fail(message_id: int, *, reason: str) -> None:
    """Give up on a queued message (retries exhausted): failed, with the reason shown in the chat."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status not in (MessageStatus.QUEUED, MessageStatus.SENDING):
            return
        _mark_failed(message, reason)


def message_retry(message: Message) -> Message:
    """The chat's retry button: a failed message is queued again and sent."""
    schema = db_connection.schema_name
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.status != MessageStatus.FAILED or locked.direction != Direction.OUT:
            raise ValidationError(_("Only a failed message can be sent again."))
        locked.status = MessageStatus.QUEUED
        locked.error = ""
        locked.save(update_fields=["status", "error"])
        events.message_updated(locked)
        transaction.on_commit(lambda: enqueue_send(locked.pk, schema=schema))
    message.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return message


# --- provider statuses ---------------------------------------------------------------------------

_RANK = {MessageStatus.QUEUED: 0, MessageStatus.SENDING: 1, MessageStatus.SENT: 2,
         MessageStatus.DELIVERED: 3, MessageStatus.READ: 4}


def _ts(value: float | None) -> datetime:
    if not value:
        return timezone.now()
    try:
        stamp = datetime.fromtimestamp(float(value), tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError):
        return timezone.now()
    now = timezone.now()
    return now if stamp > now + timedelta(minutes=5) else stamp


def status_apply(update) -> Message | None:
    """Move an outbound message's ticks forward (sent < delivered < read) or to failed with the
    provider's reason. Older or repeated statuses change nothing. Returns the message, or None
    when no message has that id (yet)."""
    status = update.status
    if status not in ("sent", "delivered", "read", "failed"):
        return None
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(provider_message_id=update.provider_message_id).first()
        if message is None:
            for candidate in (update.callback_data, update.provider_message_id):
                try:
                    uid = uuid.UUID(str(candidate))
                except ValueError:
                    continue
                message = Message.objects.select_for_update().filter(uid=uid).first()
                if message is not None:
                    break
        if message is None:
            return None
        if (message.direction == Direction.OUT and not message.provider_message_id
                and message.status in (MessageStatus.QUEUED, MessageStatus.SENDING)
                and update.provider_message_id and status != MessageStatus.FAILED):
            # the provider has it although our send never heard back (timeout): record it as sent,
            # so a pending retry finds the row done instead of sending a second copy
            _mark_sent(message, update.provider_message_id)
        if message.direction != Direction.OUT:
            return message
        at = _ts(update.timestamp)
        fields: list[str] = []
        if status == MessageStatus.FAILED:
            if message.status in (MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED):
                return message
            message.status = MessageStatus.FAILED
            message.error = (update.error or _("The provider could not deliver the message."))[:1000]
            fields += ["status", "error"]
        else:
            if message.status == MessageStatus.FAILED and status == MessageStatus.SENT:
                return message
            if _RANK.get(status, 0) <= _RANK.get(message.status, 0) and message.status != MessageStatus.FAILED:
                return message
            message.status = status
            fields.append("status")
            if message.error:
                message.error = ""
                fields.append("error")
            if message.sent_at is None:
                message.sent_at = at
                fields.append("sent_at")
            if status in (MessageStatus.DELIVERED, MessageStatus.READ) and message.delivered_at is None:
                message.delivered_at = at
                fields.append("delivered_at")
            if status == MessageStatus.READ and message.read_at is None:
                message.read_at = at
                fields.append("read_at")
        message.save(update_fields=fields)
        events.message_updated(message)
    return message


# --- inbound -----------------------------------------------------------------------------------

def conversation_for_inbound(contact, connection) -> tuple[Conversation, bool]:
    """The open conversation of ``contact`` on ``connection`` under a row lock, created when there
    is none (a resolved one stays closed: a new conversation starts). A pending one reopens.
    Two workers racing to create it meet at the partial unique constraint."""
    for _attempt in range(3):
        conversation = (Conversation.objects.select_for_update()
                        .filter(contact=contact, connection=connection)
                        .exclude(status=ConversationStatus.RESOLVED).first())
        if conversation is not None:
            if conversation.status == ConversationStatus.PENDING:
                conversation.status = ConversationStatus.OPEN
                conversation.save(update_fields=["status"])
            return conversation, False
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(contact=contact, connection=connection,
                                                           team=connection.default_team)
            # lock the new row too (the insert already holds it until commit)
            return conversation, True
        except IntegrityError:
            continue
    raise RuntimeError("could not get the open conversation")


def _rate_limited(contact_id: int, connection_id: int, at: datetime) -> bool:
    """Count the message in per-minute buckets (per contact, per connection); True when over."""
    minute = int(at.timestamp() // 60)
    limits = [(f"inbox:rl:contact:{contact_id}:{minute}", settings.RATE_LIMIT_PER_CONTACT_PER_MIN),
              (f"inbox:rl:conn:{connection_id}:{minute}", settings.RATE_LIMIT_PER_CONNECTION_PER_MIN)]
    over = False
    try:
        for key, limit in limits:
            cache.add(key, 0, timeout=180)
            count = cache.incr(key)
            if limit and count > limit:
                over = True
    except Exception:  # noqa: BLE001 - no Redis: do not block customers
        log.warning("rate limit counters unavailable", exc_info=True)
        return False
    return over


def _store_media(connection, inbound, message: Message) -> None:
    """Download the media into ``message.media``; a failure is recorded, the message kept."""
    from apps.whatsapp.providers import get_provider

    hints = inbound.media or {}
    message.media_mime = (hints.get("mime") or "")[:100]
    message.media_name = (hints.get("filename") or "")[:255]
    if hints.get("size"):
        try:
            message.media_size = int(hints["size"])
        except (TypeError, ValueError):
            pass
    try:
        fetched = get_provider(connection.provider).fetch_media(connection, inbound)
    except Exception as exc:  # noqa: BLE001
        log.warning("media of %s not fetched: %s", inbound.provider_message_id, exc)
        message.payload = {**message.payload, "media_error": str(exc)[:500] or exc.__class__.__name__}
        return
    if not fetched:
        message.payload = {**message.payload, "media_error": "unavailable"}
        return
    content, mime, filename = fetched
    ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "audio/ogg": ".ogg",
           "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "video/mp4": ".mp4", "application/pdf": ".pdf"}
    name = (filename or message.media_name or f"{message.type}{ext.get((mime or '').split(';')[0], '')}")
    name = name.rsplit("/", 1)[-1][:200] or "file"
    message.media.save(name, ContentFile(content), save=False)
    message.media_mime = (mime or message.media_mime)[:100]
    message.media_size = len(content)
    message.media_name = message.media_name or name


def _arrival_time(provider_ts: float | None, received_at: datetime | None) -> datetime:
    """When the message is shown as received. Providers stamp whole seconds, so quick messages
    would tie; the time the webhook reached us keeps their order. A message the provider delivers
    late (its own retries after an outage) keeps the provider's time."""
    stamp = _ts(provider_ts)
    if received_at is None or not provider_ts:
        return received_at or stamp
    return stamp if (received_at - stamp) > timedelta(seconds=60) else received_at


def inbound_apply(connection, inbound, *, received_at: datetime | None = None) -> Message | None:
    """Turn one normalized ``InboundMessage`` into rows: the contact, its open conversation and the
    message; schedule the conversation's turn (unless rate limited) and announce it all.

    A ``from_me`` message is ours: the echo of a message we sent matches its row; one typed on the
    business phone is stored as a human outbound message and quiets the bot. Applying the same
    provider message twice stores it once."""
    from apps.crm.services import contact_resolve

    from .turns import turn_schedule

    if not inbound.provider_message_id:
        raise ValueError("inbound message without an id")
    existing = Message.objects.filter(provider_message_id=inbound.provider_message_id).first()
    if existing is not None:
        if inbound.from_me and existing.direction == Direction.OUT:
            with transaction.atomic():
                locked = Message.objects.select_for_update().get(pk=existing.pk)
                if locked.status in (MessageStatus.QUEUED, MessageStatus.SENDING):
                    _mark_sent(locked, inbound.provider_message_id)
        return existing
    at = _arrival_time(inbound.timestamp, received_at)
    ref = inbound.contact
    if inbound.from_me:  # the push name on our own messages is the business's, not the customer's
        from dataclasses import replace

        ref = replace(ref, name="")
    with transaction.atomic():
        contact = contact_resolve(ref)
        message = Message(direction=Direction.IN, sender_kind=SenderKind.CONTACT,
                          type=inbound.type if inbound.type in MessageType.values else MessageType.TEXT,
                          text=(inbound.text or "")[:65535], payload=dict(inbound.payload or {}),
                          provider_message_id=inbound.provider_message_id[:200], status=MessageStatus.RECEIVED,
                          created_at=at)
        if inbound.media:
            _store_media(connection, inbound, message)  # before any row lock: it is a network call
        conversation, created = conversation_for_inbound(contact, connection)
        message.conversation = conversation
        if inbound.from_me:
            return _apply_from_me(conversation, message, created)
        message.rate_limited = _rate_limited(contact.pk, connection.pk, at)
        try:
            with transaction.atomic():
                message.save()
        except IntegrityError:  # applied concurrently by another worker
            return Message.objects.filter(provider_message_id=message.provider_message_id).first()
        _touch(conversation, message, inbound=True)
        events.message_created(message)
        if not message.rate_limited:
            turn_schedule(conversation)
        events.conversation_updated(conversation)
    return message


def _apply_from_me(conversation: Conversation, message: Message, created: bool) -> Message:
    """A message sent from the business number (caller holds the conversation lock)."""
    # The echo may arrive before our send task stored the provider id: match our in-flight row.
    cutoff = timezone.now() - timedelta(minutes=10)
    in_flight = (Message.objects.select_for_update()
                 .filter(conversation=conversation, direction=Direction.OUT, provider_message_id="",
                         status__in=[MessageStatus.QUEUED, MessageStatus.SENDING], created_at__gte=cutoff)
                 .exclude(type=MessageType.EVENT))
    if message.text:
        in_flight = in_flight.filter(text=message.text)
    else:
        in_flight = in_flight.filter(type=message.type)
    ours = in_flight.order_by("created_at", "id").first()
    if ours is not None:
        _mark_sent(ours, message.provider_message_id)
        return ours
    message.direction = Direction.OUT
    message.sender_kind = SenderKind.HUMAN
    message.status = MessageStatus.SENT
    message.sent_at = message.created_at
    message.payload = {**message.payload, "typed_on_phone": True}
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return Message.objects.filter(provider_message_id=message.provider_message_id).first()
    fields = []
    if conversation.first_human_reply_at is None:
        conversation.first_human_reply_at = message.created_at
        fields.append("first_human_reply_at")
    if fields:
        conversation.save(update_fields=fields)
    _touch(conversation, message, inbound=False)
    events.message_created(message)
    from .bot import bot_set_human_active, bot_touch_human_activity

    if conversation.bot_state == BotState.HUMAN_ACTIVE:
        bot_touch_human_activity(conversation)
    else:
        bot_set_human_active(conversation)
    events.conversation_updated(conversation)
    return message
