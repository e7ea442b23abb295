"""Step 1-2 of the message path: store normalized webhook items durably, deduplicated, and hand
them to the worker. Processing (step 3) lives further down this module."""
from __future__ import annotations

import json
import logging

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from ..models import InboundEvent
from ..providers.base import WebhookItem

log = logging.getLogger(__name__)


def store_items(conn, items: list[WebhookItem]) -> list[int]:
    """Insert one InboundEvent per item, skipping (connection, dedup_key) pairs already stored,
    in one transaction. Returns the ids of the NEW rows; each is enqueued for processing after
    commit. When the broker is down the rows stay unprocessed and the sweeper enqueues them."""
    if not items:
        return []
    now = timezone.now()
    table = InboundEvent._meta.db_table
    rows = []
    params: list = []
    for item in items:
        rows.append("(%s, %s, %s, %s::jsonb, %s, 0, '')")
        params += [conn.pk, item.kind, item.dedup_key[:200], json.dumps(item.data), now]
    sql = (f"INSERT INTO {table} (connection_id, kind, dedup_key, payload, received_at, attempts, last_error) "
           f"VALUES {', '.join(rows)} ON CONFLICT (connection_id, dedup_key) DO NOTHING RETURNING id")
    with transaction.atomic():
        with db_connection.cursor() as cursor:
            cursor.execute(sql, params)
            new_ids = [row[0] for row in cursor.fetchall()]
        if new_ids:
            transaction.on_commit(lambda: enqueue_processing(new_ids))
    return new_ids


def enqueue_processing(event_ids: list[int]) -> None:
    """Send the processing tasks; a broker failure is logged, never raised (the sweeper retries)."""
    from ..tasks import process_inbound_event

    for event_id in event_ids:
        try:
            process_inbound_event.apply_async(args=[event_id], retry=False)
        except Exception:
            log.warning("inbound event %s not enqueued; the sweeper will pick it up", event_id, exc_info=True)
            return
