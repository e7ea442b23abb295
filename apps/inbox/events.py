"""Realtime events of the inbox (``/ws/inbox/``). One group per tenant (``<schema>.inbox``) carries
``message.created``, ``message.updated``, ``conversation.updated`` and ``connection.updated``;
the schema in the group name keeps tenants apart. Events are announcements: after a reconnect the
page re-reads from the database since its last cursor, because the channel layer may drop events.
Publishing happens after the surrounding transaction commits, so a client never hears of a row it
cannot read yet."""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection as db_connection
from django.db import transaction

log = logging.getLogger(__name__)

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_UPDATED = "conversation.updated"
CONNECTION_UPDATED = "connection.updated"


def inbox_group(schema_name: str) -> str:
    return f"{schema_name}.inbox"


def _send(group: str, event: str, data: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "inbox.event", "event": event, "data": data})
    except Exception:  # an announcement only: the page re-reads on reconnect
        log.warning("inbox event %s to %s not delivered", event, group, exc_info=True)


def publish(event: str, data: dict, *, schema_name: str | None = None) -> None:
    """Send ``event`` to the current tenant's inbox group once the transaction commits."""
    group = inbox_group(schema_name or db_connection.schema_name)
    transaction.on_commit(lambda: _send(group, event, data))


def _conversation_owner(message) -> tuple[int | None, int | None]:
    """(assignee, team) of the message's conversation: who may hear of it. Read once here, where
    the event is made, rather than by every listening socket."""
    from .models import Conversation, Message

    if Message.conversation.is_cached(message):
        return message.conversation.assignee_id, message.conversation.team_id
    owner = Conversation.objects.filter(pk=message.conversation_id).values_list("assignee_id", "team_id").first()
    return owner or (None, None)


def message_data(message) -> dict:
    assignee_id, team_id = _conversation_owner(message)
    return {
        "id": message.pk,
        "assignee_id": assignee_id,
        "team_id": team_id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "sender_kind": message.sender_kind,
        "sender_user_id": message.sender_user_id,
        "type": message.type,
        "text": message.text,
        "status": message.status,
        "error": message.error,
        "created_at": message.created_at.isoformat(),
    }


def conversation_data(conversation) -> dict:
    return {
        "id": conversation.pk,
        "contact_id": conversation.contact_id,
        "connection_id": conversation.connection_id,
        "status": conversation.status,
        "bot_state": conversation.bot_state,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "unread_count": conversation.unread_count,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "last_message_preview": conversation.last_message_preview,
    }


def connection_data(connection) -> dict:
    return {
        "id": connection.pk,
        "name": connection.name,
        "provider": connection.provider,
        "status": connection.status,
        "last_error": connection.last_error,
        "phone_number": connection.phone_number,
        "has_qr": bool(connection.qr_code),
    }


def message_created(message) -> None:
    publish(MESSAGE_CREATED, message_data(message))


def message_updated(message) -> None:
    publish(MESSAGE_UPDATED, message_data(message))


def conversation_updated(conversation) -> None:
    publish(CONVERSATION_UPDATED, conversation_data(conversation))


def connection_updated(connection) -> None:
    publish(CONNECTION_UPDATED, connection_data(connection))
