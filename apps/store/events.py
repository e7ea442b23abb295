"""Realtime events of the store, for the Vendas page (a ``/ws/store/`` consumer joins the group).

Group: ``<schema>.store`` (one per tenant; the schema in the name keeps tenants apart).
Channel-layer message: ``{"type": "store.event", "event": <name>, "data": <payload>}`` - so the
consumer's handler method is ``store_event``.

Events:
- ``order.placed``  - a cart was confirmed or a counter / phone order was created.
- ``order.updated`` - an order's status changed (advance, cancel) or it was marked paid.

Payload (both events; money as strings with 2 places, times ISO 8601 UTC)::

    {"id": 12, "number": 1043, "status": "placed", "previous_status": "cart",
     "channel": "whatsapp", "fulfillment": "delivery", "payment_method": "pix",
     "payment_status": "pending", "total": "63.40", "contact_id": 7,
     "contact_name": "Maria Souza", "placed_at": "2025-05-01T13:02:11+00:00",
     "conversation_id": 31, "by_ai": true}

Events are announcements: the page re-reads the order (or the list) from the database, and after a
reconnect it reloads, because the channel layer may drop messages. Publishing happens after the
surrounding transaction commits, so a client never hears of an order it cannot read yet."""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection as db_connection
from django.db import transaction

log = logging.getLogger(__name__)

ORDER_PLACED = "order.placed"
ORDER_UPDATED = "order.updated"


def store_group(schema_name: str) -> str:
    return f"{schema_name}.store"


def _send(group: str, event: str, data: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "store.event", "event": event, "data": data})
    except Exception:  # an announcement only: the page re-reads on reconnect
        log.warning("store event %s to %s not delivered", event, group, exc_info=True)


def publish(event: str, data: dict, *, schema_name: str | None = None) -> None:
    """Send ``event`` to the current tenant's store group once the transaction commits."""
    group = store_group(schema_name or db_connection.schema_name)
    transaction.on_commit(lambda: _send(group, event, data))


def order_data(order, *, previous_status: str = "", by_ai: bool = False) -> dict:
    contact = order.contact if order.contact_id else None
    return {
        "id": order.pk,
        "number": order.number,
        "status": order.status,
        "previous_status": previous_status,
        "channel": order.channel,
        "fulfillment": order.fulfillment,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "total": f"{order.total:.2f}",
        "contact_id": order.contact_id,
        "contact_name": contact.display_name if contact else "",
        "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        "conversation_id": order.conversation_id,
        "by_ai": by_ai,
    }


def order_placed(order, *, by_ai: bool = False) -> None:
    publish(ORDER_PLACED, order_data(order, previous_status="cart", by_ai=by_ai))


def order_updated(order, *, previous_status: str = "", by_ai: bool = False) -> None:
    publish(ORDER_UPDATED, order_data(order, previous_status=previous_status, by_ai=by_ai))
