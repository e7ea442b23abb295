"""Thin task of the dashboard. Beat sends it through ``core.fan_out`` (one per live tenant, in that
tenant's schema) so that the summary is already up to date when someone opens the Visão Geral:
the page still refreshes it itself, but then finds little or nothing left to do."""
from __future__ import annotations

from dataclasses import asdict

from celery import shared_task


# No retries: idempotent, and the next beat tick (or the next page view) does it anyway.
@shared_task(name="analytics.summary_refresh", ignore_result=True, max_retries=0)
def summary_refresh() -> dict:
    from .periods import tenant_zone
    from .summary import summary_refresh as refresh

    return asdict(refresh(tz=tenant_zone()))
