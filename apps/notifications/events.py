"""Realtime events of the notifications app. Who receives an event is decided here: only the
recipient's own group, whose name carries the tenant schema (``<schema>.notifications.<user_id>``),
so the same user id in another tenant never hears it."""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

log = logging.getLogger(__name__)

NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_READ = "notification.read"


def user_group(schema_name: str, user_id: int) -> str:
    return f"{schema_name}.notifications.{user_id}"


def _publish(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, payload in messages:
        try:
            async_to_sync(layer.group_send)(group, payload)
        except Exception:  # the socket only announces; the page re-reads, so a lost event is harmless
            log.warning("notification event to %s not delivered", group, exc_info=True)


def publish_on_commit(event: str, per_user: dict[int, dict], *, schema_name: str | None = None) -> None:
    """After the surrounding transaction commits, send ``event`` with each user's payload to that
    user's group in the current tenant."""
    schema_name = schema_name or connection.schema_name
    messages = [(user_group(schema_name, user_id), {"type": event, "data": data}) for user_id, data in per_user.items()]
    if messages:
        transaction.on_commit(lambda: _publish(messages))
