"""Thin task wrappers of the whatsapp app (logic in services)."""
from __future__ import annotations

from celery import shared_task


# No retries here: a failure is counted on the event row and the inbox sweep re-enqueues it.
# ignore_result: sending never touches the result backend, so a dead Redis fails fast.
@shared_task(name="whatsapp.process_inbound_event", max_retries=0, ignore_result=True)
def process_inbound_event(event_id: int) -> None:
    from .services import ingest

    ingest.process_event(event_id)
