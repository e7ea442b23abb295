"""The Sandbox simulator: staff play a customer of a sandbox number. A typed message takes exactly
the path a real webhook takes (the sandbox provider parses the payload, ``store_items`` stores it
deduplicated and enqueues the worker), so contacts, conversations, turns and replies behave as in
production."""
from __future__ import annotations

import time
import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import Connection, InboundEvent, Provider
from ..providers import get_provider
from ..providers.base import WebhookRejected
from .ingest import store_items


def _require_sandbox(conn: Connection) -> None:
    if conn.provider != Provider.SANDBOX:
        raise ValidationError(_("The simulator only talks to Sandbox numbers."))


def sandbox_payload(*, name: str, phone: str, text: str, message_id: str | None = None,
                    timestamp: float | None = None) -> dict:
    """The body a sandbox "webhook" carries (see providers/sandbox.py): one customer text message."""
    return {"messages": [{
        "id": message_id or f"sim-{uuid.uuid4().hex}",
        "from": phone,
        "name": name,
        "type": "text",
        "text": text,
        "timestamp": timestamp if timestamp is not None else time.time(),
        "from_me": False,
    }]}


def simulator_send(conn: Connection, *, name: str, phone: str, text: str, message_id: str | None = None,
                   timestamp: float | None = None) -> list[int]:
    """Store the customer's message as an InboundEvent of ``conn`` (ids of the new rows; a repeated
    ``message_id`` stores nothing, like a provider retry)."""
    _require_sandbox(conn)
    payload = sandbox_payload(name=name, phone=phone, text=text, message_id=message_id, timestamp=timestamp)
    try:
        items = get_provider(Provider.SANDBOX).parse_webhook(conn, payload)
    except WebhookRejected as exc:
        raise ValidationError(_("The simulator could not send this message: %(reason)s") % {"reason": exc.reason}) \
            from None
    return store_items(conn, items)


def _contact(phone: str):
    from apps.crm import phones
    from apps.crm.selectors import contact_by_identifier

    canonical = phones.normalize_phone(phone) or phone
    return contact_by_identifier(phone=canonical), canonical


def current_conversation(conn: Connection, phone: str):
    """The customer's latest conversation on this number (open or resolved), or None."""
    from apps.inbox.models import Conversation

    contact, _canonical = _contact(phone)
    if contact is None:
        return None
    return Conversation.objects.filter(contact=contact, connection=conn).order_by("-created_at", "-id").first()


def transcript(conn: Connection, phone: str, *, limit: int = 200) -> dict:
    """What the simulator shows: the open conversation's messages (both sides), then the customer's
    messages accepted but not processed yet (shown as waiting, e.g. while the worker is down)."""
    from apps.crm import phones

    conversation = current_conversation(conn, phone)
    items: list[dict] = []
    resolved = False
    since = None
    if conversation is not None:
        if conversation.status == "resolved":
            resolved = True
            since = conversation.resolved_at
        else:
            messages = list(conversation.messages.select_related("sender_user").order_by("-created_at", "-id")[:limit])
            items = [{"kind": "message", "message": m, "at": m.created_at} for m in reversed(messages)]
            since = None
    variants = set(phones.phone_variants(phone) or []) | {phone}
    pending = InboundEvent.objects.filter(connection=conn, kind=InboundEvent.Kind.MESSAGE, processed_at__isnull=True,
                                          payload__contact__phone__in=list(variants))
    if since is not None:
        pending = pending.filter(received_at__gt=since)
    for event in pending.order_by("received_at", "id")[:limit]:
        items.append({"kind": "pending", "text": event.payload.get("text", ""), "at": event.received_at,
                      "error": event.last_error})
    return {"items": items, "conversation": None if resolved else conversation, "resolved": resolved,
            "connection": conn, "phone": phone}


def simulator_reset(conn: Connection, *, phone: str, actor=None):
    """Resolve the customer's open conversation: the next message starts a new one."""
    from apps.inbox.services.conversations import conversation_set_status

    _require_sandbox(conn)
    conversation = current_conversation(conn, phone)
    if conversation is None or conversation.status == "resolved":
        return None
    return conversation_set_status(conversation=conversation, status="resolved", by=actor)
