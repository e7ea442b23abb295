"""Everything the Visão Geral shows, computed in SQL in the tenant's time zone.

``overview()`` is the one entry point (page, htmx fragment and API). It first brings the daily
summary up to date (apps/analytics/summary.py), then reads whole local days from the summary and
the partial days (today so far; the comparison's last day up to the same time) from the raw
tables, so every number is what the store tables say at the moment of the read.

Definitions (periods and their comparisons: apps/analytics/periods.py):

* **Sale**: an order whose status is in ``apps.store.models.SALE_STATUSES`` (placed up to
  delivered; never carts or canceled orders), dated by ``placed_at``.
* **Revenue**: sum of the sale orders' ``total`` (after discount, delivery fee included).
* **Orders**: number of sale orders. **Average ticket**: revenue / orders.
* **Gross margin**: (total - delivery_fee - cost_total) / (total - delivery_fee), summed over the
  sale orders, where ``cost_total`` is the sum of the items' cost snapshots taken when the order
  was made (so a later change of a product's cost does not rewrite past margins).
* **Customers who bought** in a period: distinct customers (CRM contacts) with at least one sale
  order placed in the period (on the filtered channel); anonymous orders are not customers.
* **Recurring customers share**: among the customers who bought in the period, the percentage
  that had 2 or more sale orders (any channel) placed before the end of the period. "Before the
  end of the period" makes a past period's share stable: later purchases do not rewrite it.
* **New customers**: customers whose first sale order ever was placed in the period (with a
  channel filter: and that first order came through that channel).
* **Category and product sales**: item line totals (``OrderItem.total``, before the order's
  discount and delivery fee), grouped by the item's category snapshot and product.
* **Conversations**: *open* = not resolved now; *waiting for a human* = not resolved and handed
  off by the bot (``bot_state = waiting_human``) now; *resolved by the AI* = conversations resolved
  in the period that got at least one AI reply, no message from staff and no hand-off decision;
  the share is resolved by the AI / resolved in the period.

Changes: ``change_pct`` is the relative change against the previous equal period (None when the
previous value is zero); for percentages (margin, recurring share) ``change_pp`` is the
difference in percentage points.
"""
from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone

from . import summary
from .periods import Period, Span, to_date_spans
from .summary import ALL, CHUNK, SALE_SQL, local_midnight, month_start, next_month

ZERO = Decimal("0")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
TOP_PRODUCTS = 10
# the page's hash aggregates (distinct customers over a year) should not spill to disk
WORK_MEM = "32MB"


def money(value) -> Decimal:
    return (value or ZERO).quantize(CENT, rounding=ROUND_HALF_UP)


def pct(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def change_pct(value, previous) -> Decimal | None:
    if value is None or not previous:
        return None
    return ((Decimal(value) - Decimal(previous)) * 100 / abs(Decimal(previous))).quantize(TENTH, rounding=ROUND_HALF_UP)


def change_pp(value, previous) -> Decimal | None:
    if value is None or previous is None:
        return None
    return (value - previous).quantize(TENTH, rounding=ROUND_HALF_UP)


def metric(value, previous, *, ratio: bool = False) -> dict:
    if ratio:
        return {"value": value, "previous": previous, "change_pct": None, "change_pp": change_pp(value, previous)}
    return {"value": value, "previous": previous, "change_pct": change_pct(value, previous), "change_pp": None}


# --- splitting spans into summary months, days and raw ranges ----------------------------------

@dataclass
class Parts:
    """Where the rows of some spans come from. ``days``: every whole local day (for tables without
    a month rollup); ``months`` + ``edge_days``: the same days as whole closed months plus the
    days around them; ``raw``: the partial days, as UTC ranges of ``placed_at``."""
    days: list[tuple[int, date, date]] = field(default_factory=list)
    months: list[tuple[int, date, date]] = field(default_factory=list)
    edge_days: list[tuple[int, date, date]] = field(default_factory=list)
    raw: list[tuple[int, datetime, datetime]] = field(default_factory=list)


def split(spans: list[Span], *, tz, today: date) -> Parts:
    """Whole local days before ``today`` come from the summary; the rest (at most a partial day at
    each end of a span) from the raw tables. End bounds are exclusive."""
    parts = Parts()

    def raw(i, start, end):
        if start < end:
            parts.raw.append((i, start, end))

    def edge(i, first, end):
        if first < end:
            parts.edge_days.append((i, first, end))

    for i, span in enumerate(spans):
        start, end = span.start.astimezone(tz), span.end.astimezone(tz)
        first_full = start.date() if start == local_midnight(start.date(), tz) else start.date() + timedelta(days=1)
        end_full = min(end.date(), today)
        if first_full >= end_full:
            raw(i, span.start, span.end)
            continue
        parts.days.append((i, first_full, end_full))
        raw(i, span.start, local_midnight(first_full, tz))
        raw(i, local_midnight(end_full, tz), span.end)
        # whole months inside [first_full, end_full) are closed (they end on or before today)
        m0 = first_full if first_full.day == 1 else next_month(month_start(first_full))
        m1 = month_start(end_full)
        if m0 < m1:
            parts.months.append((i, m0, m1))
            edge(i, first_full, m0)
            edge(i, m1, end_full)
        else:
            edge(i, first_full, end_full)
    return parts


class Query:
    """A UNION ALL over the summary tables and the raw rows for some Parts, one literal range per
    branch (so the planner sees each range and uses the (day, ...) / placed_at indexes)."""

    def __init__(self, channel: str):
        self.channel = channel
        self.params: dict = {"channel": channel}
        self.branches: list[str] = []

    def param(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def _channel(self, alias: str, all_rows: bool = False) -> str:
        if self.channel:
            return f" AND {alias}.channel = %(channel)s"
        return f" AND {alias}.channel = '{ALL}'" if all_rows else ""

    def summary(self, ranges, template: str, column: str = "day", all_rows: bool = True) -> Query:
        """``template``: "SELECT {i} AS i, s.x FROM table s" (alias s). ``all_rows``: the table has
        channel '*' rows holding all channels (read those when there is no channel filter)."""
        for i, first, end in ranges:
            self.branches.append(template.format(i=int(i)) + f" WHERE s.{column} >= {self.param(first)} "
                                 f"AND s.{column} < {self.param(end)}{self._channel('s', all_rows)}")
        return self

    def between(self, ranges, template: str, column: str) -> Query:
        """Raw rows of another table by a timestamp column (no channel)."""
        for i, start, end in ranges:
            self.branches.append(template.format(i=int(i)) + f" WHERE {column} >= {self.param(start)} "
                                 f"AND {column} < {self.param(end)}")
        return self

    def raw(self, ranges, template: str, extra: str = "") -> Query:
        """``template``: "SELECT {i} AS i, o.x FROM store_order o [JOIN ...]" (orders alias o)."""
        for i, start, end in ranges:
            self.branches.append(template.format(i=int(i)) + f" WHERE o.placed_at >= {self.param(start)} "
                                 f"AND o.placed_at < {self.param(end)} AND o.status IN {SALE_SQL}"
                                 f"{self._channel('o')}{extra}")
        return self

    def union(self, columns: str) -> str:
        """The branches as one subquery (an empty one when there is nothing to read). Every
        branch names its columns: a UNION takes its names from whichever branch comes first."""
        if not self.branches:
            return f"(SELECT {columns} WHERE false)"
        return "(" + " UNION ALL ".join(self.branches) + ")"


def _rows(cursor, sql: str, params: dict) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


# --- the queries --------------------------------------------------------------------------------

def _totals(cursor, parts: Parts, channel: str) -> dict[int, dict]:
    """Orders, revenue, delivery fees, cost and discounts of each span."""
    q = Query(channel)
    q.summary(parts.days, "SELECT {i} AS i, s.orders, s.revenue, s.delivery_fee, s.cost, s.discount "
                          "FROM analytics_sales_day s", all_rows=False)
    q.raw(parts.raw, "SELECT {i} AS i, 1 AS orders, o.total AS revenue, o.delivery_fee, o.cost_total AS cost, "
                     "o.discount FROM store_order o")
    sql = (f"SELECT x.i, sum(x.orders), sum(x.revenue), sum(x.delivery_fee), sum(x.cost), sum(x.discount) "
           f"FROM {q.union('0 AS i, 0 AS orders, 0 AS revenue, 0 AS delivery_fee, 0 AS cost, 0 AS discount')} x "
           f"GROUP BY x.i")
    out = {}
    for i, orders, revenue, fee, cost, discount in _rows(cursor, sql, q.params):
        out[i] = {"orders": int(orders or 0), "revenue": money(revenue), "delivery_fee": money(fee),
                  "cost": money(cost), "discount": money(discount)}
    return out


def _breakdown(cursor, parts: Parts, channel: str) -> tuple[list[dict], list[dict]]:
    """Orders and revenue by channel and by payment method."""
    q = Query(channel)
    q.summary(parts.days, "SELECT s.channel, s.payment_method, s.orders, s.revenue FROM analytics_sales_day s",
              all_rows=False)
    q.raw(parts.raw, "SELECT o.channel, o.payment_method, 1 AS orders, o.total AS revenue FROM store_order o")
    empty = "'' AS channel, '' AS payment_method, 0 AS orders, 0 AS revenue"
    sql = (f"SELECT grouping(x.channel), x.channel, x.payment_method, sum(x.orders), sum(x.revenue) "
           f"FROM {q.union(empty)} x "
           f"GROUP BY GROUPING SETS ((x.channel), (x.payment_method))")
    channels, payments = [], []
    for by_payment, chan, method, orders, revenue in _rows(cursor, sql, q.params):
        row = {"orders": int(orders), "revenue": money(revenue)}
        if by_payment:
            payments.append({"method": method or "", **row})
        else:
            channels.append({"channel": chan, **row})
    channels.sort(key=lambda r: (-r["orders"], r["channel"]))
    payments.sort(key=lambda r: (-r["orders"], r["method"]))
    return channels, payments


def _series(cursor, parts: Parts, channel: str, tz, granularity: str, first: date, last: date) -> list[dict]:
    q = Query(channel)
    g = q.param(granularity)
    q.summary(parts.days, f"SELECT date_trunc({g}, s.day::timestamp)::date AS bucket, s.orders, s.revenue "
                          f"FROM analytics_sales_day s", all_rows=False)
    q.raw(parts.raw, f"SELECT date_trunc({g}, o.placed_at AT TIME ZONE {q.param(tz.key)})::date AS bucket, "
                     f"1 AS orders, o.total AS revenue FROM store_order o")
    sql = (f"SELECT x.bucket, sum(x.orders), sum(x.revenue) "
           f"FROM {q.union('NULL::date AS bucket, 0 AS orders, 0 AS revenue')} x GROUP BY x.bucket")
    found = {bucket: (int(orders), money(revenue)) for bucket, orders, revenue in _rows(cursor, sql, q.params)}
    out, bucket = [], bucket_of(first, granularity)
    while bucket <= last:
        orders, revenue = found.get(bucket, (0, ZERO))
        out.append({"bucket": bucket, "orders": orders, "revenue": money(revenue)})
        bucket = next_bucket(bucket, granularity)
    return out


def bucket_of(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def next_bucket(bucket: date, granularity: str) -> date:
    if granularity == "week":
        return bucket + timedelta(days=7)
    if granularity == "month":
        return next_month(bucket)
    return bucket + timedelta(days=1)


def _heatmap(cursor, parts: Parts, channel: str, tz) -> dict:
    """Orders by local weekday (1 = Monday) and hour."""
    q = Query(channel)
    q.summary(parts.months, "SELECT s.dow::int AS dow, s.hour::int AS hour, s.orders "
                            "FROM analytics_sales_hour_month s", column="month")
    q.summary(parts.edge_days, "SELECT extract(isodow FROM s.day)::int AS dow, s.hour::int AS hour, s.orders "
                               "FROM analytics_sales_hour s")
    local = f"(o.placed_at AT TIME ZONE {q.param(tz.key)})"
    q.raw(parts.raw, f"SELECT extract(isodow FROM {local})::int AS dow, extract(hour FROM {local})::int AS hour, "
                     f"1 AS orders FROM store_order o")
    sql = f"SELECT x.dow, x.hour, sum(x.orders) FROM {q.union('0 AS dow, 0 AS hour, 0 AS orders')} x GROUP BY 1, 2"
    grid = {(dow, hour): int(n) for dow, hour, n in _rows(cursor, sql, q.params)}
    return {"max": max(grid.values(), default=0), "cells": grid}


def _products(cursor, parts: Parts, channel: str) -> tuple[list[dict], list[dict], list[dict]]:
    """Sales by category, and the top products by revenue and by quantity."""
    q = Query(channel)
    columns = "s.product_id, s.category_id, s.product_name, s.unit, s.quantity, s.revenue, s.cost"
    q.summary(parts.months, f"SELECT {columns} FROM analytics_sales_product_month s", column="month")
    q.summary(parts.edge_days, f"SELECT {columns} FROM analytics_sales_product s")
    q.raw(parts.raw, "SELECT i.product_id, i.category_id, i.product_name, i.unit, i.quantity, i.total AS revenue, "
                     "round(i.quantity * i.unit_cost, 2) AS cost "
                     "FROM store_order o JOIN store_orderitem i ON i.order_id = o.id")
    empty = ("NULL::bigint AS product_id, NULL::bigint AS category_id, '' AS product_name, '' AS unit, "
             "0 AS quantity, 0 AS revenue, 0 AS cost")
    sql = (f"SELECT x.product_id, x.category_id, max(x.product_name), max(x.unit), sum(x.quantity), "
           f"sum(x.revenue), sum(x.cost) FROM {q.union(empty)} x "
           f"GROUP BY x.product_id, x.category_id, CASE WHEN x.product_id IS NULL THEN x.product_name END")
    products: dict = {}
    by_category: dict = {}
    for product_id, category_id, name, unit, quantity, revenue, cost in _rows(cursor, sql, q.params):
        key = product_id if product_id is not None else ("name", name)
        entry = products.setdefault(key, {"product_id": product_id, "name": name, "unit": unit,
                                          "quantity": ZERO, "revenue": ZERO, "cost": ZERO})
        entry["quantity"] += quantity
        entry["revenue"] += revenue
        entry["cost"] += cost
        category = by_category.setdefault(category_id, {"category_id": category_id, "revenue": ZERO,
                                                        "quantity": ZERO})
        category["revenue"] += revenue
        category["quantity"] += quantity
    for p in products.values():
        p["revenue"], p["cost"] = money(p["revenue"]), money(p["cost"])
        p["margin"] = p["revenue"] - p["cost"]
    ranked = list(products.values())
    by_revenue = sorted(ranked, key=lambda p: (-p["revenue"], -p["quantity"], p["name"]))[:TOP_PRODUCTS]
    by_quantity = sorted(ranked, key=lambda p: (-p["quantity"], -p["revenue"], p["name"]))[:TOP_PRODUCTS]
    # current names for products that still exist (the snapshot names are what was sold)
    ids = sorted({p["product_id"] for p in by_revenue + by_quantity if p["product_id"]})
    if ids:
        current = dict(_rows(cursor, "SELECT id, name FROM store_product WHERE id = ANY(%(ids)s)", {"ids": ids}))
        for p in by_revenue + by_quantity:
            p["name"] = current.get(p["product_id"], p["name"])
    names = dict(_rows(cursor, "SELECT id, name FROM store_category", {}))
    categories = []
    for c in by_category.values():
        c["revenue"] = money(c["revenue"])
        c["name"] = names.get(c["category_id"])  # None: uncategorised or a deleted category
        categories.append(c)
    categories.sort(key=lambda c: (-c["revenue"], c["name"] or "~"))
    return categories, by_revenue, by_quantity


def _buyers(cursor, parts: Parts, channel: str) -> dict[int, int]:
    """Distinct customers with a sale order in each span: OR of the per-day / per-month bit strings
    (one bit per customer) and of the raw days' customers, then a bit count."""
    q = Query(channel)
    q.summary(parts.months, "SELECT {i} AS i, s.chunk, s.bits FROM analytics_buyer_month s", column="month")
    q.summary(parts.edge_days, "SELECT {i} AS i, s.chunk, s.bits FROM analytics_buyer_day s")
    # (%% is a literal % for the driver)
    q.raw(parts.raw, f"SELECT {{i}} AS i, (o.contact_id / {CHUNK})::int AS chunk, "
                     f"set_bit(B'0'::bit({CHUNK}), (o.contact_id %% {CHUNK})::int, 1) AS bits FROM store_order o",
          extra=" AND o.contact_id IS NOT NULL")
    empty = f"0 AS i, 0 AS chunk, B'0'::bit({CHUNK}) AS bits"
    sql = (f"SELECT y.i, sum(y.n) FROM (SELECT x.i, bit_count(bit_or(x.bits)) AS n FROM {q.union(empty)} x "
           f"GROUP BY x.i, x.chunk) y GROUP BY y.i")
    return {i: int(n) for i, n in _rows(cursor, sql, q.params)}


def _customers(cursor, parts: Parts, current: Span, previous: Span, channel: str) -> dict:
    """Customers who bought, recurring and new, in the period (span 0) and the previous one (1)."""
    buyers = _buyers(cursor, parts, channel)
    buyers_now, buyers_before = buyers.get(0, 0), buyers.get(1, 0)
    # A buyer of the period who is not recurring has exactly one sale order before its end, and it
    # is their first, placed in the period: so one-timers come from the customer summary alone.
    params = {"s": current.start, "e": current.end, "ps": previous.start, "pe": previous.end, "channel": channel}
    first_channel = " AND c.first_channel = %(channel)s" if channel else ""
    cursor.execute(f"""
        SELECT count(*) FILTER (WHERE c.first_sale_at >= %(s)s AND c.first_sale_at < %(e)s),
               count(*) FILTER (WHERE c.first_sale_at >= %(s)s AND c.first_sale_at < %(e)s
                                  AND (c.second_sale_at IS NULL OR c.second_sale_at >= %(e)s)),
               count(*) FILTER (WHERE c.first_sale_at >= %(ps)s AND c.first_sale_at < %(pe)s),
               count(*) FILTER (WHERE c.first_sale_at >= %(ps)s AND c.first_sale_at < %(pe)s
                                  AND (c.second_sale_at IS NULL OR c.second_sale_at >= %(pe)s))
        FROM analytics_customer c
        WHERE c.first_sale_at >= least(%(s)s, %(ps)s) AND c.first_sale_at < greatest(%(e)s, %(pe)s){first_channel}""",
                   params)
    new_now, one_time_now, new_before, one_time_before = cursor.fetchone()
    return {
        "buyers": buyers_now, "recurring": buyers_now - one_time_now, "new": new_now,
        "previous_buyers": buyers_before, "previous_recurring": buyers_before - one_time_before,
        "previous_new": new_before,
    }


def _conversations(cursor, parts: Parts) -> dict:
    """Open and waiting now; resolved (by the AI) in the period (span 0) and the previous one (1)."""
    cursor.execute("""
        SELECT count(*), count(*) FILTER (WHERE bot_state = 'waiting_human')
        FROM inbox_conversation WHERE status <> 'resolved'""")
    open_now, waiting = cursor.fetchone()
    q = Query("")
    q.summary(parts.days, "SELECT {i} AS i, s.resolved, s.by_ai FROM analytics_conversation_day s", all_rows=False)
    q.between(parts.raw, "SELECT {i} AS i, 1 AS resolved, c.by_ai::int AS by_ai FROM analytics_conversation c",
              "c.resolved_at")
    sql = (f"SELECT x.i, sum(x.resolved), sum(x.by_ai) FROM {q.union('0 AS i, 0 AS resolved, 0 AS by_ai')} x "
           f"GROUP BY x.i")
    found = {i: (int(resolved), int(by_ai)) for i, resolved, by_ai in _rows(cursor, sql, q.params)}
    (resolved, by_ai), (previous_resolved, previous_by_ai) = found.get(0, (0, 0)), found.get(1, (0, 0))
    return {
        "open": open_now, "waiting_human": waiting, "resolved": resolved, "resolved_by_ai": by_ai,
        "ai_share": metric(pct(by_ai, resolved), pct(previous_by_ai, previous_resolved), ratio=True),
    }


# --- the page -----------------------------------------------------------------------------------

def _kpis(now_totals: dict, before_totals: dict, customers: dict) -> dict:
    def ticket(t):
        return money(t["revenue"] / t["orders"]) if t["orders"] else None

    def margin(t):
        net = t["revenue"] - t["delivery_fee"]
        return pct(net - t["cost"], net) if net else None

    return {
        "revenue": metric(now_totals["revenue"], before_totals["revenue"]),
        "orders": metric(now_totals["orders"], before_totals["orders"]),
        "avg_ticket": metric(ticket(now_totals), ticket(before_totals)),
        "gross_margin": metric(margin(now_totals), margin(before_totals), ratio=True),
        "gross_margin_amount": metric(now_totals["revenue"] - now_totals["delivery_fee"] - now_totals["cost"],
                                      before_totals["revenue"] - before_totals["delivery_fee"] - before_totals["cost"]),
        "recurring_share": {
            **metric(pct(customers["recurring"], customers["buyers"]),
                     pct(customers["previous_recurring"], customers["previous_buyers"]), ratio=True),
            "recurring": customers["recurring"], "buyers": customers["buyers"],
        },
        "new_customers": metric(customers["new"], customers["previous_new"]),
    }


EMPTY_TOTALS = {"orders": 0, "revenue": money(ZERO), "delivery_fee": money(ZERO), "cost": money(ZERO),
                "discount": money(ZERO)}


def overview(*, period: Period, channel: str = "", granularity: str | None = None,
             now: datetime | None = None) -> dict:
    """Every number of the Visão Geral for ``period`` (and ``channel``, "" = all), as of ``now``."""
    now = now or timezone.now()
    tz: zoneinfo.ZoneInfo = period.tz
    today = now.astimezone(tz).date()
    granularity = granularity or period.default_granularity()
    summary.summary_refresh(tz=tz, now=now)
    to_date = to_date_spans(tz=tz, now=now)
    spans = [period.current, period.previous]
    for current, previous in to_date.values():
        spans += [current, previous]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM store_order WHERE status IN {SALE_SQL})")
        has_sales = cursor.fetchone()[0]
        totals = _totals(cursor, split(spans, tz=tz, today=today), channel)
        current = split([period.current], tz=tz, today=today)
        channels, payments = _breakdown(cursor, current, channel)
        series = _series(cursor, current, channel, tz, granularity, period.first_day, period.last_day)
        heatmap = _heatmap(cursor, current, channel, tz)
        categories, top_revenue, top_quantity = _products(cursor, current, channel)
        both = split([period.current, period.previous], tz=tz, today=today)
        customers = _customers(cursor, both, period.current, period.previous, channel)
        conversations = _conversations(cursor, both)
    span_totals = [totals.get(i, EMPTY_TOTALS) for i in range(len(spans))]
    revenue_cards = {key: metric(span_totals[2 + 2 * n]["revenue"], span_totals[3 + 2 * n]["revenue"])
                     for n, key in enumerate(to_date)}
    return {
        "period": period,
        "channel": channel,
        "granularity": granularity,
        "timezone": tz.key,
        "now": now,
        "has_sales": has_sales,
        "revenue_cards": revenue_cards,
        "kpis": _kpis(span_totals[0], span_totals[1], customers),
        "totals": span_totals[0],
        "previous_totals": span_totals[1],
        "series": series,
        "channels": channels,
        "payments": payments,
        "categories": categories,
        "top_products_revenue": top_revenue,
        "top_products_quantity": top_quantity,
        "heatmap": heatmap,
        "conversations": conversations,
    }

