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
        except Exception as exc:  # noqa: BLE001 - broker down: one line, not a traceback per webhook
            log.warning("inbound events %s not enqueued (%s); the sweeper will pick them up",
                        event_ids[event_ids.index(event_id):], exc)
            return


# --- step 3: the worker applies a stored event -------------------------------------------------

MAX_ATTEMPTS = 10
# A status for a message we cannot find yet (its send is still being recorded) waits this long.
STATUS_WAIT_SECONDS = 120


class _NotYet(Exception):
    """The event cannot be applied yet; the sweep tries again later."""


def process_event(event_id: int) -> None:
    """Apply one stored InboundEvent, at most once: the row is locked (a concurrent worker skips
    it), already-processed rows are left alone, and the row is marked processed in the same
    transaction as the rows it produced. A failure is counted on the row (``attempts``,
    ``last_error``) and retried by the sweep; after MAX_ATTEMPTS the error is kept and it stops."""
    from datetime import timedelta

    with transaction.atomic():
        event = (InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
                 .select_related("connection").filter(pk=event_id).first())
        if event is None or event.processed_at is not None:
            return
        try:
            with transaction.atomic():
                _apply(event)
        except _NotYet as exc:
            event.attempts += 1
            event.last_error = str(exc)[:2000]
            if timezone.now() - event.received_at > timedelta(seconds=STATUS_WAIT_SECONDS):
                event.processed_at = timezone.now()  # nothing to apply it to: done, with the reason kept
            event.save(update_fields=["attempts", "last_error", "processed_at"])
            return
        except Exception as exc:  # noqa: BLE001 - counted on the row; the sweep retries
            log.exception("inbound event %s failed", event_id)
            event.attempts += 1
            event.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if event.attempts >= MAX_ATTEMPTS:
                event.processed_at = timezone.now()  # give up; last_error says why
            event.save(update_fields=["attempts", "last_error", "processed_at"])
            return
        event.attempts += 1
        event.last_error = ""
        event.processed_at = timezone.now()
        event.save(update_fields=["attempts", "last_error", "processed_at"])


def _apply(event: InboundEvent) -> None:
    from ..providers.base import ConnectionUpdate, InboundMessage, StatusUpdate

    conn = event.connection
    kind = event.kind
    if kind == InboundEvent.Kind.MESSAGE:
        from apps.inbox.services.messages import inbound_apply

        _seen(conn)
        inbound_apply(conn, InboundMessage.from_dict(event.payload), received_at=event.received_at)
    elif kind == InboundEvent.Kind.STATUS:
        from apps.inbox.services.messages import status_apply

        update = StatusUpdate.from_dict(event.payload)
        if status_apply(update) is None:
            raise _NotYet(f"no message with provider id {update.provider_message_id!r}")
    elif kind in (InboundEvent.Kind.CONNECTION, InboundEvent.Kind.QRCODE):
        update = ConnectionUpdate.from_dict(event.payload)
        from .connections import connection_apply_update

        connection_apply_update(conn, update)
    else:
        raise ValueError(f"unknown inbound event kind {kind!r}")


def _seen(conn) -> None:
    """Refresh the connection's last-seen time, at most once a minute (a hot row otherwise)."""
    from datetime import timedelta

    from ..models import Connection

    now = timezone.now()
    if conn.last_seen_at is None or now - conn.last_seen_at > timedelta(seconds=60):
        Connection.objects.filter(pk=conn.pk).update(last_seen_at=now)
        conn.last_seen_at = now


def unprocessed_events(*, older_than_seconds: float, limit: int = 500) -> list[int]:
    """Ids of events stored but not processed for a while (broker down, worker killed): for the sweep."""
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(InboundEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff,
                                            attempts__lt=MAX_ATTEMPTS)
                .order_by("received_at", "id").values_list("pk", flat=True)[:limit])
