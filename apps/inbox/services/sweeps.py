"""The beat sweep of one tenant (task ``inbox.sweep``, every 15 s through core.fan_out): whatever
the message path stored but did not finish (broker down, worker killed, task lost) is enqueued
again. Everything it enqueues is idempotent, so sweeping twice is harmless."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Direction, Message, MessageStatus, MessageType

log = logging.getLogger(__name__)


def sweep_inbound() -> int:
    from apps.whatsapp.services.ingest import enqueue_processing, unprocessed_events

    ids = unprocessed_events(older_than_seconds=settings.MESSAGE_SWEEP_AFTER_SECONDS)
    if ids:
        enqueue_processing(ids)
    return len(ids)


def stuck_outbound(*, limit: int = 500) -> list[int]:
    """Outbound messages queued or sending for longer than the sweep delay whose send is not
    scheduled (no retry countdown pending)."""
    from .messages import send_is_pending

    cutoff = timezone.now() - timedelta(seconds=settings.MESSAGE_SWEEP_AFTER_SECONDS)
    ids = (Message.objects.filter(direction=Direction.OUT, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING],
                                  created_at__lte=cutoff)
           .exclude(type=MessageType.EVENT).order_by("created_at", "id").values_list("pk", flat=True)[:limit])
    return [pk for pk in ids if not send_is_pending(pk)]


def sweep_outbound() -> int:
    from .messages import enqueue_send

    ids = stuck_outbound()
    sent = 0
    for pk in ids:
        if not enqueue_send(pk):
            break  # broker down: the next sweep tries again
        sent += 1
    return sent


def sweep_turns() -> int:
    from .turns import enqueue_turn, turns_due

    ids = turns_due(grace_seconds=5)
    for pk in ids:
        if not enqueue_turn(pk):
            break
    return len(ids)


def sweep_bot_resume() -> int:
    from .bot import bot_resume_due

    return bot_resume_due()


def sweep_all() -> dict:
    done = {}
    for name, step in (("inbound", sweep_inbound), ("outbound", sweep_outbound), ("turns", sweep_turns),
                       ("bot_resume", sweep_bot_resume)):
        try:
            done[name] = step()
        except Exception:  # noqa: BLE001 - one broken step must not stop the others
            log.exception("sweep step %s failed", name)
            done[name] = -1
    if any(done.values()):
        log.info("message path sweep: %s", done)
    return done

