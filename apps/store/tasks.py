"""Thin task wrappers of the store (logic in services). Beat runs "store.sweep" once in the public
schema through ``core.fan_out``, which sends one per live tenant in that tenant's schema."""
from __future__ import annotations

from celery import shared_task


# No retries: the sweep is idempotent and runs again on the next beat tick (every minute).
@shared_task(name="store.sweep", ignore_result=True, max_retries=0)
def sweep() -> dict:
    """Abandoned carts (reminder, cancellation), unpaid expired Pix, rating requests, idle ordering state."""
    from .services.jobs import store_sweep

    return store_sweep()
