"""Usage roll-up: this tenant's per-day AI counters (agents.UsageDaily, in its own schema) copied
into the public billing.TenantUsageDaily for the SaaS owner's panel.

Values are replaced, never added (one upsert per day on tenant + date), so running it twice, or
two copies at once, leaves the same numbers; the last few days are copied every time because the
current day keeps growing and late turns may still land on yesterday."""
from __future__ import annotations

from datetime import date, timedelta

from ..models import UsageDaily
from .housekeeping import current_tenant
from .usage import _today as tenant_today

UPDATED = ["ai_turns", "prompt_tokens", "completion_tokens", "cost", "handoffs", "updated_at"]


def usage_rollup(days: int = 3, *, today: date | None = None) -> int:
    """Copy the current tenant's last ``days`` days (its local today included); returns the rows
    copied."""
    from apps.billing.models import TenantUsageDaily

    tenant = current_tenant()
    if tenant is None or days <= 0:
        return 0
    today = today or tenant_today()
    since = today - timedelta(days=days - 1)
    rows = [
        TenantUsageDaily(tenant=tenant, date=row.date, ai_turns=row.turns, prompt_tokens=row.prompt_tokens,
                         completion_tokens=row.completion_tokens, cost=row.cost, handoffs=row.handoffs)
        for row in UsageDaily.objects.filter(date__gte=since).order_by("date")
    ]
    if rows:
        TenantUsageDaily.objects.bulk_create(rows, update_conflicts=True, unique_fields=["tenant", "date"],
                                             update_fields=UPDATED)
    return len(rows)
