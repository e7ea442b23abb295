"""Thin task wrappers of the whatsapp app (logic in services)."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="whatsapp.process_inbound_event")
def process_inbound_event(event_id: int) -> None:
    from .services import ingest

    ingest.process_event(event_id)
