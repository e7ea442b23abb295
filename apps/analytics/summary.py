"""The dashboard's summary: a cache of the store and inbox tables, exact at every read.

Why: the Visão Geral over 12 months of a large shop (1,000,000 orders, 3,000,000 items) cannot
aggregate the raw rows within the page's budget (the items alone take seconds). So every *closed*
local day (before today, in the tenant's time zone) is pre-aggregated in small tables, closed
months are rolled up again for the biggest ones, and a page reads whole months and days from
there plus the raw rows for partial days (today so far; the comparison's last day up to the same
time), at most a day at each end of a period. Customers (first and second purchase) and resolved
conversations (resolved by the AI or not) are kept per row, always current.

How it stays exact: statement-level triggers (migration 0001) on store_order, store_orderitem and
inbox_conversation append what changed to ``analytics_dirty`` inside the writer's own transaction
(the ``placed_at`` and customer of each touched order, the id of each conversation whose status
changed). Before reading, ``summary_refresh`` claims those rows and recomputes the local days,
months, customers and conversations they name, plus any day that closed since the last refresh.
A change committed after the claim stays in the log for the next refresh, so nothing is lost; a
changed time zone, a TRUNCATE, or the first read rebuilds everything (seconds at a million orders).

Writers pay one small INSERT per statement; there is no Celery job and no stale day.
"""
from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.store.models import SALE_STATUSES

# The second key of the advisory lock is the schema's hash: one refresh at a time per tenant.
LOCK_NAMESPACE = 7_501
SALE_SQL = "(" + ", ".join(f"'{s}'" for s in SALE_STATUSES) + ")"  # constants from code, never input
CHUNK = 8192  # customers per bit string in analytics_buyer_*
ALL = "*"  # the channel of the rows that hold every channel together
DAY_TABLES = ("analytics_sales_day", "analytics_sales_hour", "analytics_sales_product", "analytics_buyer_day")
MONTH_TABLES = ("analytics_sales_hour_month", "analytics_sales_product_month", "analytics_buyer_month")


def local_midnight(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass
class RefreshResult:
    rebuilt: bool = False
    days: int = 0
    months: int = 0
    customers: int = 0
    conversations: int = 0


def summary_refresh(*, tz: zoneinfo.ZoneInfo, now: datetime | None = None) -> RefreshResult:
    """Bring the summary of the current schema up to date for ``tz`` (see the module docstring)."""
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    result = RefreshResult()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, connection.schema_name])
        cursor.execute("SELECT tz, built_through FROM analytics_summary_state WHERE id = 1")
        row = cursor.fetchone()
        if row is None or row[0] != tz.key:
            _rebuild(cursor, tz, today)
            result.rebuilt = True
            return result
        built_through: date = row[1]
        cursor.execute("DELETE FROM analytics_dirty RETURNING ts, contact_id, conversation_id")
        claimed = cursor.fetchall()
        # days from today on are never in the summary (they are read raw), so their changes need nothing
        days = {ts.astimezone(tz).date() for ts, _, _ in claimed if ts is not None}
        days = {d for d in days if d < today}
        if built_through < today:
            days.update(built_through + timedelta(days=n) for n in range((today - built_through).days))
        elif built_through > today:  # the clock went back: forget what is not closed any more
            for table in DAY_TABLES:
                cursor.execute(f"DELETE FROM {table} WHERE day >= %s", [today])
            for table in MONTH_TABLES:
                cursor.execute(f"DELETE FROM {table} WHERE month >= %s", [month_start(today)])
        for first, last in _runs(sorted(days)):
            _build_days(cursor, tz, first, last + timedelta(days=1))
        months = sorted({month_start(d) for d in days if next_month(month_start(d)) <= today})
        for first, last in _month_runs(months):
            _build_months(cursor, first, next_month(last))
        contacts = sorted({c for _, c, _ in claimed if c is not None})
        if contacts:
            _build_customers(cursor, contacts)
        conversations = sorted({c for _, _, c in claimed if c is not None})
        if conversations:
            _build_conversations(cursor, tz, conversations)
        if built_through != today:
            cursor.execute("UPDATE analytics_summary_state SET built_through = %s, built_at = now() WHERE id = 1",
                           [today])
        result.days, result.months = len(days), len(months)
        result.customers, result.conversations = len(contacts), len(conversations)
    return result


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) pairs."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _month_runs(months: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for month in months:
        if runs and next_month(runs[-1][1]) == month:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return runs


def _rebuild(cursor, tz: zoneinfo.ZoneInfo, today: date) -> None:
    cursor.execute("TRUNCATE " + ", ".join(DAY_TABLES + MONTH_TABLES + ("analytics_customer", "analytics_conversation",
                                                                        "analytics_conversation_day")))
    # claim the log first: a change committed after this is read by the rebuild AND stays logged
    cursor.execute("DELETE FROM analytics_dirty")
    _build_days(cursor, tz, None, today)
    _build_months(cursor, None, month_start(today))
    _build_customers(cursor, None)
    _build_conversations(cursor, tz, None)
    # fresh tables: give the planner their statistics now rather than at autovacuum's next visit
    cursor.execute("ANALYZE " + ", ".join(DAY_TABLES + MONTH_TABLES + (
        "analytics_customer", "analytics_conversation", "analytics_conversation_day")))
    cursor.execute(
        "INSERT INTO analytics_summary_state (id, tz, built_through, built_at) VALUES (1, %s, %s, now()) "
        "ON CONFLICT (id) DO UPDATE SET tz = excluded.tz, built_through = excluded.built_through, "
        "built_at = excluded.built_at", [tz.key, today])


def _build_days(cursor, tz: zoneinfo.ZoneInfo, first: date | None, end: date) -> None:
    """(Re)compute the local days [first, end) (``first=None``: from the beginning)."""
    params = {"tz": tz.key, "t1": local_midnight(end, tz), "chunk": CHUNK}
    where = f"o.status IN {SALE_SQL} AND o.placed_at < %(t1)s"
    if first is not None:
        params.update(d0=first, d1=end, t0=local_midnight(first, tz))
        where += " AND o.placed_at >= %(t0)s"
        for table in DAY_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE day >= %(d0)s AND day < %(d1)s", params)
    local = "(o.placed_at AT TIME ZONE %(tz)s)"
    cursor.execute(f"""
        INSERT INTO analytics_sales_day (day, channel, payment_method, orders, revenue, delivery_fee, cost, discount)
        SELECT {local}::date, o.channel, o.payment_method, count(*), sum(o.total), sum(o.delivery_fee),
               sum(o.cost_total), sum(o.discount)
        FROM store_order o WHERE {where}
        GROUP BY 1, 2, 3 ORDER BY 1""", params)
    # the other tables: one row per channel and one for all channels together ('*')
    channel = f"CASE WHEN grouping(x.channel) = 1 THEN '{ALL}' ELSE x.channel END"
    cursor.execute(f"""
        INSERT INTO analytics_sales_hour (day, channel, hour, orders)
        SELECT x.day, {channel}, x.hour, count(*)
        FROM (SELECT {local}::date AS day, o.channel, extract(hour FROM {local})::smallint AS hour
              FROM store_order o WHERE {where}) x
        GROUP BY GROUPING SETS ((x.day, x.channel, x.hour), (x.day, x.hour)) ORDER BY 1""", params)
    cursor.execute(f"""
        INSERT INTO analytics_sales_product (day, channel, product_id, category_id, product_name, unit, quantity,
                                             revenue, cost)
        SELECT x.day, {channel}, x.product_id, x.category_id, max(x.product_name), max(x.unit), sum(x.quantity),
               sum(x.revenue), sum(x.cost)
        FROM (SELECT {local}::date AS day, o.channel, i.product_id, i.category_id, i.product_name, i.unit,
                     i.quantity, i.total AS revenue, round(i.quantity * i.unit_cost, 2) AS cost,
                     CASE WHEN i.product_id IS NULL THEN i.product_name END AS orphan
              FROM store_orderitem i JOIN store_order o ON o.id = i.order_id WHERE {where}) x
        GROUP BY GROUPING SETS ((x.day, x.channel, x.product_id, x.category_id, x.orphan),
                                (x.day, x.product_id, x.category_id, x.orphan)) ORDER BY 1""", params)
    cursor.execute(f"""
        INSERT INTO analytics_buyer_day (day, channel, chunk, bits)
        SELECT x.day, {channel}, x.chunk, bit_or(set_bit(B'0'::bit({CHUNK}), x.bit, 1))
        FROM (SELECT DISTINCT {local}::date AS day, o.channel, (o.contact_id / %(chunk)s)::int AS chunk,
                     (o.contact_id %% %(chunk)s)::int AS bit
              FROM store_order o WHERE {where} AND o.contact_id IS NOT NULL) x
        GROUP BY GROUPING SETS ((x.day, x.channel, x.chunk), (x.day, x.chunk)) ORDER BY 1""", params)


def _build_months(cursor, first: date | None, end: date) -> None:
    """(Re)compute the rollups of the closed months [first, end) from the day tables."""
    params = {"m0": first, "m1": end}
    where = "s.day < %(m1)s" + (" AND s.day >= %(m0)s" if first is not None else "")
    if first is not None:
        for table in MONTH_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE month >= %(m0)s AND month < %(m1)s", params)
    month = "date_trunc('month', s.day::timestamp)::date"
    cursor.execute(f"""
        INSERT INTO analytics_sales_hour_month (month, channel, dow, hour, orders)
        SELECT {month}, s.channel, extract(isodow FROM s.day)::smallint, s.hour, sum(s.orders)
        FROM analytics_sales_hour s WHERE {where} GROUP BY 1, 2, 3, 4""", params)
    cursor.execute(f"""
        INSERT INTO analytics_sales_product_month (month, channel, product_id, category_id, product_name, unit,
                                                   quantity, revenue, cost)
        SELECT {month}, s.channel, s.product_id, s.category_id, max(s.product_name), max(s.unit), sum(s.quantity),
               sum(s.revenue), sum(s.cost)
        FROM analytics_sales_product s WHERE {where}
        GROUP BY 1, 2, 3, 4, CASE WHEN s.product_id IS NULL THEN s.product_name END""", params)
    cursor.execute(f"""
        INSERT INTO analytics_buyer_month (month, channel, chunk, bits)
        SELECT {month}, s.channel, s.chunk, bit_or(s.bits)
        FROM analytics_buyer_day s WHERE {where} GROUP BY 1, 2, 3""", params)


def _build_customers(cursor, contacts: list[int] | None) -> None:
    """(Re)compute each customer's first and second sale order (``None``: every customer)."""
    where = f"o.status IN {SALE_SQL} AND o.contact_id IS NOT NULL"
    params: list = []
    if contacts is not None:
        cursor.execute("DELETE FROM analytics_customer WHERE contact_id = ANY(%s)", [contacts])
        where += " AND o.contact_id = ANY(%s)"
        params = [contacts]
    cursor.execute(f"""
        INSERT INTO analytics_customer (contact_id, first_sale_at, first_channel, second_sale_at, last_sale_at,
                                        sale_orders, total_spent)
        SELECT o.contact_id, min(o.placed_at), (array_agg(o.channel ORDER BY o.placed_at, o.id))[1],
               (array_agg(o.placed_at ORDER BY o.placed_at, o.id))[2], max(o.placed_at), count(*), sum(o.total)
        FROM store_order o WHERE {where}
        GROUP BY o.contact_id""", params)


def _build_conversations(cursor, tz: zoneinfo.ZoneInfo, conversations: list[int] | None) -> None:
    """(Re)compute how each resolved conversation was resolved (``None``: all of them), and the
    per-day counts of the days they were (or are now) resolved on. Resolved by the AI: by the time
    it was resolved it had an AI reply, no staff message and no hand-off."""
    where = "c.resolved_at IS NOT NULL"
    params: dict = {"tz": tz.key}
    days: set = set()
    returning = "" if conversations is None else " RETURNING (resolved_at AT TIME ZONE %(tz)s)::date"
    if conversations is not None:
        cursor.execute("DELETE FROM analytics_conversation WHERE conversation_id = ANY(%(ids)s) "
                       "RETURNING (resolved_at AT TIME ZONE %(tz)s)::date", {"ids": conversations, "tz": tz.key})
        days.update(day for (day,) in cursor.fetchall())
        where += " AND c.id = ANY(%(ids)s)"
        params["ids"] = conversations
    cursor.execute(f"""
        INSERT INTO analytics_conversation (conversation_id, resolved_at, by_ai)
        SELECT c.id, c.resolved_at,
               EXISTS (SELECT 1 FROM inbox_message m WHERE m.conversation_id = c.id AND m.sender_kind = 'ai'
                       AND m.created_at <= c.resolved_at)
               AND NOT EXISTS (SELECT 1 FROM inbox_message m WHERE m.conversation_id = c.id
                               AND m.sender_kind = 'human' AND m.created_at <= c.resolved_at)
               AND NOT EXISTS (SELECT 1 FROM agents_decision d WHERE d.conversation_id = c.id
                               AND d.action = 'handed_off' AND d.created_at <= c.resolved_at)
        FROM inbox_conversation c WHERE {where}{returning}""", params)
    if conversations is not None:
        days.update(day for (day,) in cursor.fetchall())
    insert = """
        INSERT INTO analytics_conversation_day (day, resolved, by_ai)
        SELECT (c.resolved_at AT TIME ZONE %(tz)s)::date, count(*), count(*) FILTER (WHERE c.by_ai)
        FROM analytics_conversation c {where} GROUP BY 1"""
    if conversations is None:
        cursor.execute("TRUNCATE analytics_conversation_day")
        cursor.execute(insert.format(where=""), {"tz": tz.key})
        return
    for first, last in _runs(sorted(days)):
        end = last + timedelta(days=1)
        cursor.execute("DELETE FROM analytics_conversation_day WHERE day >= %s AND day < %s", [first, end])
        cursor.execute(insert.format(where="WHERE c.resolved_at >= %(t0)s AND c.resolved_at < %(t1)s"),
                       {"tz": tz.key, "t0": local_midnight(first, tz), "t1": local_midnight(end, tz)})
