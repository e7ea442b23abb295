"""Usage metering: per-day counters in the tenant schema, written with one upsert statement per
event so concurrent turns never lose an increment."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
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
    return local_day(tz_name)


def local_day(tz_name: str | None) -> date:
    """Today in the time zone ``tz_name`` (a tenant's; the server's when blank or unknown). The turn
    passes its tenant's zone so metering does not read the tenant row again."""
    if tz_name:
        import zoneinfo

        try:
            return timezone.now().astimezone(zoneinfo.ZoneInfo(tz_name)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.localdate()


def usage_record(*, turns: int = 0, prompt_tokens: int = 0, completion_tokens: int = 0,
                 cost: Decimal = Decimal("0"), handoffs: int = 0, day: date | None = None) -> None:
    """Add to the day's counters (the tenant's local day by default): one
    ``INSERT ... ON CONFLICT (date) DO UPDATE`` statement, atomic on its own and race-free (two
    turns finishing together both count), cheap enough for every turn."""
    day = day or _today()
    table = connection.ops.quote_name(UsageDaily._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (date, turns, prompt_tokens, completion_tokens, cost, handoffs, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (date) DO UPDATE SET "
            f"turns = {table}.turns + EXCLUDED.turns, "
            f"prompt_tokens = {table}.prompt_tokens + EXCLUDED.prompt_tokens, "
            f"completion_tokens = {table}.completion_tokens + EXCLUDED.completion_tokens, "
            f"cost = {table}.cost + EXCLUDED.cost, handoffs = {table}.handoffs + EXCLUDED.handoffs, "
            "updated_at = EXCLUDED.updated_at",
            [day, int(turns), int(prompt_tokens), int(completion_tokens), Decimal(cost), int(handoffs),
             timezone.now()])


def month_turns(day: date | None = None) -> int:
    """AI turns used in the tenant's current month (for the plan's ai_turns_per_month)."""
    day = day or _today()
    total = UsageDaily.objects.filter(date__year=day.year, date__month=day.month).aggregate(n=Sum("turns"))["n"]
    return total or 0
