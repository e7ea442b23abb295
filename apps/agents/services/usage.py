"""Usage metering: per-day counters in the tenant schema, written with one upsert per event so
concurrent turns never lose an increment."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..models import UsageDaily


def cost_of(provider, prompt_tokens: int, completion_tokens: int) -> Decimal:
    """Estimated cost (US$) of a call at the provider's configured prices per 1k tokens."""
    if provider is None:
        return Decimal("0")
    cost = (Decimal(prompt_tokens) * provider.price_in_per_1k + Decimal(completion_tokens)
            * provider.price_out_per_1k) / Decimal(1000)
    return cost.quantize(Decimal("0.000001"))


def _today() -> date:
    from tenants.models import Tenant

    tz_name = Tenant.objects.filter(schema_name=connection.schema_name).values_list("timezone", flat=True).first()
    if tz_name:
        import zoneinfo

        return timezone.now().astimezone(zoneinfo.ZoneInfo(tz_name)).date()
    return timezone.localdate()


@transaction.atomic
def usage_record(*, turns: int = 0, prompt_tokens: int = 0, completion_tokens: int = 0,
                 cost: Decimal = Decimal("0"), handoffs: int = 0, day: date | None = None) -> None:
    """Add to the day's counters (the tenant's local day by default)."""
    day = day or _today()
    UsageDaily.objects.bulk_create([UsageDaily(date=day)], ignore_conflicts=True)  # race-free upsert
    UsageDaily.objects.filter(date=day).update(
        turns=F("turns") + turns, prompt_tokens=F("prompt_tokens") + prompt_tokens,
        completion_tokens=F("completion_tokens") + completion_tokens, cost=F("cost") + Decimal(cost),
        handoffs=F("handoffs") + handoffs, updated_at=timezone.now())


def month_turns(day: date | None = None) -> int:
    """AI turns used in the tenant's current month (for the plan's ai_turns_per_month)."""
    day = day or _today()
    total = UsageDaily.objects.filter(date__year=day.year, date__month=day.month).aggregate(n=Sum("turns"))["n"]
    return total or 0
