"""Thin task wrappers of the AI assistants (logic in services). Beat schedules them once in the
public schema through ``core.fan_out``, which sends one per live tenant in that tenant's schema."""
from __future__ import annotations

from celery import shared_task


# No retries: both are idempotent and run again on the next beat tick.
@shared_task(name="agents.retention", ignore_result=True, max_retries=0)
def retention() -> dict:
    """Nightly: delete message content older than the tenant's retention (logged as a RetentionRun)."""
    from .services.housekeeping import retention_run

    run = retention_run()
    if run is None:
        return {"skipped": "retention off"}
    return {"run": run.pk, "messages": run.messages_purged, "decisions": run.decisions_purged,
            "error": run.error}


@shared_task(name="agents.usage_rollup", ignore_result=True, max_retries=0)
def usage_rollup(days: int = 3) -> int:
    """Copy the tenant's recent daily AI usage to the public schema (values replaced, not added)."""
    from .services.rollup import usage_rollup as rollup

    return rollup(days=days)
