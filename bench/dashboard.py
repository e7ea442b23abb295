"""Visão Geral benchmark: the whole dashboard (every KPI, chart and widget) for 30 days and for
12 months in one tenant with 1,000,000 orders and 3,000,000 items, against a naive ORM version.

    DJANGO_SETTINGS_MODULE=saas.settings.test python bench/dashboard.py [--orders 1000000]
        [--runs 60] [--naive-runs 3] [--fresh]

Own embedded PostgreSQL under var/bench/dashboard and its own database ("bench_dashboard"), never
dev or test data. The database, the tenant ("benchdash") and its orders are kept between runs
(generating them takes a few minutes); ``--fresh`` starts over.

Data (generated in SQL with INSERT ... SELECT generate_series, deterministic with setseed):
  * 15 months of orders ending now, growing over time (the last month has about twice the orders
    of the first), busier on Saturdays, at shop hours (peaks 10-12 h and 17-19 h local time);
  * channels WhatsApp 45 %, counter 35 %, phone 8 %, iFood 7 %, website 3 %, other 2 %; payment
    methods Pix, credit, debit, cash, voucher, boleto; 1 % carts, 4 % canceled, the rest sales;
  * 1-5 items per order (exactly 3 on average) over 200 products in 8 categories, with unit costs that
    drift over time (cost snapshots differ from today's product cost);
  * 150,000 customers (every non-counter order and 30 % of counter sales have one; skewed, so
    some buy often);
  * 400,000 WhatsApp conversations (about one per WhatsApp order) with 1.6 million messages from
    customers, the AI and staff, and hand-offs.

Measured (the tenant's time zone is America/Sao_Paulo):
  optimized -> apps.analytics.selectors.overview(): the whole page, summary refresh included
               (a no-op check when nothing changed), --runs times for "30 days" and for a custom
               range of the last 365 days; p50 / p95 / max
  refresh   -> the first build of the daily summary from scratch (once per database), and an
               incremental refresh after new orders today plus edits of old orders
  naive     -> the same numbers computed the way a first version would: per-day ORM aggregate
               queries and Python loops over querysets (--naive-runs times); its numbers are
               checked against the optimized ones
  plans     -> EXPLAIN (ANALYZE, BUFFERS) of the page's heaviest queries, showing index use
The last line printed is one JSON object: {"p95_ms", "naive_p95_ms", "ratio", "orders", ...}
(p95_ms and naive_p95_ms are over both periods). Target: p95 <= 300 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
DBNAME = "bench_dashboard"
SLUG = "benchdash"
TZ = "America/Sao_Paulo"
MONTHS = 15
PRODUCTS = 200
CUSTOMERS = 150_000
CONVERSATIONS = 400_000


# --- database ------------------------------------------------------------------------------------

def database(fresh: bool) -> None:
    """Embedded servers in var/bench/dashboard."""
    import psycopg

    from tenants.embedded import start_postgres, start_redis

    var_dir = ROOT / "var" / "bench" / "dashboard"
    admin_url = start_postgres(var_dir / "pg", "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DBNAME]).fetchone()
        if fresh and exists:
            conn.execute(f'DROP DATABASE "{DBNAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DBNAME}"')
    os.environ["DATABASE_URL"] = admin_url.replace("/postgres?", f"/{DBNAME}?")
    os.environ["EMBEDDED_POSTGRES"] = "1"
    os.environ["REDIS_URL"] = start_redis(var_dir / "redis")
    os.environ["EMBEDDED_REDIS"] = "1"


def provision() -> None:
    from django.core.management import call_command

    from apps.billing.services import plan_ensure_trial
    from tenants.models import Tenant
    from tenants.services import ensure_public_tenant, provision_tenant

    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0, executor="standard")
    plan_ensure_trial()
    ensure_public_tenant()
    if not Tenant.objects.filter(schema_name=SLUG).exists():
        provision_tenant(name="Bench Dashboard", slug=SLUG, owner_email="owner@benchdash.test",
                         owner_password="bench-password-1", timezone=TZ)
    print(f"database ready in {time.perf_counter() - started:.1f} s", flush=True)


def execute(cursor, sql: str, params=None, label: str = "") -> None:
    started = time.perf_counter()
    cursor.execute(sql, params)
    if label:
        print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


def generate(orders: int) -> None:
    """All the data, in SQL. Triggers are off during the load (session_replication_role = replica):
    the summary is rebuilt from scratch afterwards, as after any bulk load."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        execute(cursor, "TRUNCATE store_orderitem, store_order, store_product, store_category, inbox_message, "
                        "agents_decision, inbox_conversation, whatsapp_connection, crm_contact CASCADE")
        execute(cursor, "TRUNCATE analytics_sales_day, analytics_sales_hour, analytics_sales_product, "
                        "analytics_customer, analytics_dirty, analytics_summary_state")
        cursor.execute("SELECT setseed(0.2026)")
        execute(cursor, """
            INSERT INTO store_category (id, name, position, is_active)
            SELECT g, (ARRAY['Queijos', 'Frios fatiados', 'Embutidos', 'Laticínios', 'Bebidas', 'Congelados',
                             'Empório', 'Padaria'])[g], g, true
            FROM generate_series(1, 8) g""")
        execute(cursor, f"""
            INSERT INTO store_product (id, sku, name, description, category_id, unit, price, cost, is_active, image,
                                       min_stock, stock_quantity, created_at, updated_at)
            SELECT g, 'SKU-' || lpad(g::text, 5, '0'), 'Produto ' || g, '', 1 + (g % 8),
                   CASE WHEN g % 3 = 0 THEN 'kg' ELSE 'unit' END,
                   round((8 + random() * 90)::numeric, 2), 0, true, '', 5, 1000, now(), now()
            FROM generate_series(1, {PRODUCTS}) g""")
        cursor.execute("UPDATE store_product SET cost = round(price * (0.55 + random() * 0.15)::numeric, 2)")
        execute(cursor, f"""
            INSERT INTO crm_contact (id, name, push_name, phone, email, notes, custom_fields, created_at, updated_at)
            SELECT g, 'Cliente ' || g, '', '+55419' || lpad(g::text, 8, '0'), '', '', '{{}}', now(), now()
            FROM generate_series(1, {CUSTOMERS}) g""", label="contacts")
        # orders: day offset with a density growing linearly (x2 over the span), Sunday -> Saturday half
        # of the time, shop hours; then status, channel, payment, customer, delivery, discount
        execute(cursor, f"""
            CREATE TEMP TABLE gen_order ON COMMIT DROP AS
            WITH base AS (
                SELECT g AS id,
                       (now() AT TIME ZONE '{TZ}')::date - {MONTHS * 30}
                           + floor(({MONTHS * 30} + 1) * (sqrt(1 + 3 * random()) - 1))::int AS day,
                       (ARRAY[8,9,9,10,10,10,11,11,11,11,12,12,12,13,13,14,15,16,17,17,17,18,18,18,18,19,19,19,
                              20,20,21])
                           [1 + floor(random() * 31)::int] AS hour,
                       random() AS r_status, random() AS r_channel, random() AS r_payment, random() AS r_contact,
                       random() AS r_counter, random() AS r_delivery, random() AS r_discount, random() AS r_min,
                       random() AS r_weekend,
                       1 + g % 5 AS items
                FROM generate_series(1, {orders}) g
            ), dated AS (
                SELECT b.*, CASE WHEN extract(isodow FROM b.day) = 7 AND b.r_weekend < 0.5 THEN b.day - 1
                                 ELSE b.day END AS local_day
                FROM base b
            )
            SELECT row_number() OVER (ORDER BY d.local_day, d.hour, d.r_min)::int AS id,  -- ids follow time, as in life
                   d.items,
                   ((d.local_day + make_interval(hours => d.hour, secs => floor(d.r_min * 3600)::int))::timestamp
                       AT TIME ZONE '{TZ}') AS at,
                   CASE WHEN d.r_channel < 0.45 THEN 'whatsapp' WHEN d.r_channel < 0.80 THEN 'counter'
                        WHEN d.r_channel < 0.88 THEN 'phone' WHEN d.r_channel < 0.95 THEN 'ifood'
                        WHEN d.r_channel < 0.98 THEN 'website' ELSE 'other' END AS channel,
                   CASE WHEN d.r_payment < 0.40 THEN 'pix' WHEN d.r_payment < 0.65 THEN 'credit'
                        WHEN d.r_payment < 0.80 THEN 'debit' WHEN d.r_payment < 0.95 THEN 'cash'
                        WHEN d.r_payment < 0.98 THEN 'voucher' ELSE 'boleto' END AS payment_method,
                   d.r_status, d.r_contact, d.r_counter, d.r_delivery, d.r_discount
            FROM dated d""", label="orders (plan)")
        execute(cursor, f"""
            CREATE TEMP TABLE gen_item ON COMMIT DROP AS
            WITH picks AS MATERIALIZED (
                SELECT o.id AS order_id, o.at, 1 + floor({PRODUCTS} * power(random(), 1.7))::int AS product_id,
                       random() AS r_quantity
                FROM gen_order o CROSS JOIN LATERAL generate_series(1, o.items) k
            )
            SELECT x.order_id, x.at, p.id AS product_id, p.name, p.category_id, p.unit, p.sku, p.price,
                   round(p.cost * (0.9 + 0.2 * greatest(0, least(1, extract(epoch FROM x.at - (now() - interval
                       '{MONTHS * 30} days')) / ({MONTHS * 30} * 86400.0))))::numeric, 2) AS unit_cost,
                   CASE WHEN p.unit = 'kg' THEN round((0.2 + x.r_quantity * 1.3)::numeric, 3)
                        ELSE (1 + floor(x.r_quantity * 4))::numeric END AS quantity
            FROM picks x JOIN store_product p ON p.id = x.product_id""",
                label="items (plan)")
        cursor.execute("ANALYZE gen_order")
        cursor.execute("ANALYZE gen_item")
        execute(cursor, f"""
            INSERT INTO store_order (id, number, contact_id, channel, status, placed_at, confirmed_at, delivered_at,
                canceled_at, cancel_reason, payment_method, payment_status, paid_at, subtotal, discount,
                delivery_fee, total, cost_total, notes, fulfillment, delivery_address, neighbourhood,
                created_by_ai, rating_comment, ordering_state, created_at, updated_at)
            SELECT o.id,
                   CASE WHEN o.r_status < 0.01 THEN NULL ELSE o.id END,
                   CASE WHEN o.channel <> 'counter' OR o.r_counter < 0.3
                        THEN 1 + floor({CUSTOMERS} * power(o.r_contact, 1.3))::int END,
                   o.channel,
                   CASE WHEN o.r_status < 0.01 THEN 'cart' WHEN o.r_status < 0.05 THEN 'canceled'
                        WHEN o.at > now() - interval '3 hours' THEN
                            (ARRAY['placed', 'confirmed', 'preparing', 'ready'])[1 + floor(o.r_discount * 4)::int]
                        ELSE 'delivered' END,
                   CASE WHEN o.r_status < 0.01 THEN NULL ELSE o.at END,
                   CASE WHEN o.r_status >= 0.05 THEN o.at + interval '5 minutes' END,
                   CASE WHEN o.r_status >= 0.05 AND o.at <= now() - interval '3 hours'
                        THEN o.at + interval '1 hour' END,
                   CASE WHEN o.r_status >= 0.01 AND o.r_status < 0.05 THEN o.at + interval '10 minutes' END,
                   '', o.payment_method,
                   CASE WHEN o.r_status >= 0.05 THEN 'paid' ELSE 'pending' END,
                   CASE WHEN o.r_status >= 0.05 THEN o.at END,
                   t.subtotal, t.discount, t.fee, t.subtotal - t.discount + t.fee, t.cost, '',
                   CASE WHEN t.fee > 0 THEN 'delivery' ELSE 'pickup' END, '', '',
                   o.channel = 'whatsapp' AND o.r_counter < 0.5, '', '{{}}', coalesce(o.at, now()), now()
            FROM gen_order o
            JOIN (
                SELECT x.order_id, x.subtotal, x.cost,
                       CASE WHEN o2.r_discount < 0.1 THEN round(x.subtotal * 0.05, 2) ELSE 0 END AS discount,
                       CASE WHEN o2.channel IN ('whatsapp', 'phone', 'ifood', 'website') AND o2.r_delivery < 0.7
                            THEN (ARRAY[5, 7, 8, 10, 12])[1 + floor(o2.r_delivery / 0.7 * 5)::int] ELSE 0 END::numeric
                           AS fee
                FROM (SELECT i.order_id, sum(round(i.quantity * i.price, 2)) AS subtotal,
                             sum(round(i.quantity * i.unit_cost, 2)) AS cost
                      FROM gen_item i GROUP BY i.order_id) x
                JOIN gen_order o2 ON o2.id = x.order_id
            ) t ON t.order_id = o.id""", label="store_order")
        execute(cursor, """
            INSERT INTO store_orderitem (order_id, product_id, category_id, product_name, sku, unit, quantity,
                                         unit_price, unit_cost, total)
            SELECT i.order_id, i.product_id, i.category_id, i.name, i.sku, i.unit, i.quantity, i.price, i.unit_cost,
                   round(i.quantity * i.price, 2)
            FROM gen_item i ORDER BY i.order_id""", label="store_orderitem")
        # a few products' costs changed after their sales: the snapshots must win
        cursor.execute("UPDATE store_product SET cost = round(cost * 1.3, 2) WHERE id % 10 = 0")
        cursor.execute("SELECT setval(pg_get_serial_sequence('store_order', 'id'), (SELECT max(id) FROM store_order))")
        cursor.execute("SELECT setval('store_order_number_seq', (SELECT max(number) FROM store_order))")
        for table in ("store_product", "store_category", "crm_contact"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        generate_conversations(cursor)
    with connection.cursor() as cursor:
        execute(cursor, "VACUUM ANALYZE", label="vacuum analyze")
    print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)


def generate_conversations(cursor) -> None:
    """About one WhatsApp conversation per WhatsApp order (CONVERSATIONS), each with customer and
    AI messages; 15 % handed off (half of those got a staff reply); all resolved except the
    latest few thousand (one open conversation per customer at most, as the inbox requires)."""
    from apps.whatsapp.models import Connection

    connection_id = Connection.objects.create(name="Loja", provider="sandbox").pk
    open_from = CONVERSATIONS - 3_000
    execute(cursor, f"""
        CREATE TEMP TABLE gen_conv ON COMMIT DROP AS
        SELECT g AS id, 1 + (g % {CUSTOMERS}) AS contact_id,
               CASE WHEN g > {open_from} THEN now() - random() * interval '1 day'
                    ELSE now() - random() * interval '{MONTHS * 30} days' END AS created,
               random() AS r_state, g > {open_from} AS is_open
        FROM generate_series(1, {CONVERSATIONS}) g""")
    execute(cursor, f"""
        INSERT INTO inbox_conversation (id, contact_id, connection_id, status, bot_state, waiting_since,
            last_message_at, last_message_preview, unread_count, created_at, resolved_at)
        SELECT c.id, c.contact_id, {connection_id},
               CASE WHEN NOT c.is_open THEN 'resolved' WHEN c.r_state > 0.5 THEN 'open' ELSE 'pending' END,
               CASE WHEN c.r_state < 0.075 THEN 'waiting_human' WHEN c.r_state < 0.15 THEN 'human_active'
                    ELSE 'ai_active' END,
               CASE WHEN c.r_state < 0.15 THEN c.created + interval '3 minutes' END,
               c.created + interval '20 minutes', 'Obrigado!', 0, c.created,
               CASE WHEN NOT c.is_open THEN c.created + interval '2 hours' END
        FROM gen_conv c""", label="conversations")
    execute(cursor, """
        INSERT INTO inbox_message (conversation_id, direction, sender_kind, type, text, media, media_mime, media_name,
            payload, uid, provider_message_id, status, error, send_attempts, rate_limited, created_at)
        SELECT c.id, m.direction, m.kind, 'text', m.text, '', '', '', '{}', gen_random_uuid(), '', m.status, '', 0,
               false, c.created + m.after
        FROM gen_conv c
        CROSS JOIN LATERAL (VALUES
            ('in', 'contact', 'Oi, vocês têm queijo canastra?', 'received', interval '0 minutes'),
            ('out', 'ai', 'Temos sim! O quilo sai por R$ 89,90.', 'read', interval '1 minute'),
            ('in', 'contact', 'Quero 500 g para entregar hoje.', 'received', interval '2 minutes'),
            ('out', 'ai', 'Pedido anotado!', 'read', interval '3 minutes')) AS m (direction, kind, text, status, after)
        """, label="messages")
    execute(cursor, """
        INSERT INTO inbox_message (conversation_id, direction, sender_kind, type, text, media, media_mime, media_name,
            payload, uid, provider_message_id, status, error, send_attempts, rate_limited, created_at)
        SELECT c.id, 'out', 'human', 'text', 'Oi! Aqui é a Ana, da loja.', '', '', '', '{}', gen_random_uuid(), '',
               'read', '', 0, false, c.created + interval '10 minutes'
        FROM gen_conv c WHERE c.r_state < 0.15 AND c.id % 2 = 0""")
    execute(cursor, """
        INSERT INTO agents_decision (conversation_id, mode, input_message_ids, input_text, chunks, action, reason,
            tool_calls, reply_message_ids, reply_text, model, prompt_tokens, completion_tokens, cost, latency_ms,
            error, created_at)
        SELECT c.id, 'retrieval', '[]', 'falar com atendente', '[]', 'handed_off', 'asked_for_human', '[]', '[]', '',
               '', 0, 0, 0, 0, '', c.created + interval '3 minutes'
        FROM gen_conv c WHERE c.r_state < 0.15""", label="decisions")
    for table in ("inbox_conversation", "inbox_message", "agents_decision"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


# --- measuring -----------------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_line(label: str, times: list[float]) -> float:
    p95 = percentile(times, 95)
    print(f"{label:42s} n={len(times):3d}  p50 {percentile(times, 50):8.1f} ms  p95 {p95:8.1f} ms  "
          f"max {max(times):8.1f} ms", flush=True)
    return p95


def periods(now):
    from apps.analytics.periods import resolve, tenant_zone

    tz = tenant_zone()
    today = now.astimezone(tz).date()
    return {
        "30 days": resolve("30d", tz=tz, now=now),
        "12 months": resolve("custom", tz=tz, now=now, first=today - timedelta(days=364), last=today),
    }


# --- the naive version ---------------------------------------------------------------------------

def naive_overview(period, now) -> dict:
    """The same numbers as a first version would compute them: Python loops over querysets and
    one aggregate query per day of the chart."""
    from django.db.models import Count, Sum

    from apps.agents.models import Decision
    from apps.analytics.periods import to_date_spans
    from apps.analytics.selectors import bucket_of
    from apps.inbox.models import Conversation, Message
    from apps.store.models import SALE_STATUSES, Order, OrderItem

    tz = period.tz
    cent = Decimal("0.01")
    sales = Order.objects.filter(status__in=SALE_STATUSES)

    def totals(span):
        revenue = fee = cost = Decimal("0")
        count = 0
        for total, delivery_fee, cost_total in sales.filter(placed_at__gte=span.start, placed_at__lt=span.end) \
                .values_list("total", "delivery_fee", "cost_total"):
            count += 1
            revenue += total
            fee += delivery_fee
            cost += cost_total
        return count, revenue, fee, cost

    out = {}
    count, revenue, fee, cost = totals(period.current)
    p_count, p_revenue, p_fee, p_cost = totals(period.previous)
    out["revenue"], out["orders"] = revenue, count
    out["previous_revenue"], out["previous_orders"] = p_revenue, p_count
    out["avg_ticket"] = (revenue / count).quantize(cent, ROUND_HALF_UP) if count else None
    out["gross_margin"] = ((revenue - fee - cost) * 100 / (revenue - fee)).quantize(Decimal("0.1"), ROUND_HALF_UP) \
        if revenue - fee else None
    out["revenue_cards"] = {key: (totals(current)[1], totals(previous)[1])
                            for key, (current, previous) in to_date_spans(tz=tz, now=now).items()}

    # the chart: one query per day
    series = []
    day = period.first_day
    while day <= period.last_day:
        start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
        end = min(datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz), period.current.end)
        agg = sales.filter(placed_at__gte=start, placed_at__lt=end).aggregate(n=Count("id"), revenue=Sum("total"))
        series.append((day, agg["n"], agg["revenue"] or Decimal("0")))
        day += timedelta(days=1)
    buckets: dict = {}  # the chart's weeks or months, added up from the days
    for day, n, day_revenue in series:
        bucket = bucket_of(day, period.default_granularity())
        previous_n, previous_revenue = buckets.get(bucket, (0, Decimal("0")))
        buckets[bucket] = (previous_n + n, previous_revenue + day_revenue)
    out["series"] = [(bucket, n, r) for bucket, (n, r) in buckets.items()]

    channels, payments, heat, buyers = defaultdict(int), defaultdict(int), defaultdict(int), set()
    for channel, method, placed_at, contact_id in sales.filter(
            placed_at__gte=period.current.start, placed_at__lt=period.current.end) \
            .values_list("channel", "payment_method", "placed_at", "contact_id"):
        channels[channel] += 1
        payments[method] += 1
        local = placed_at.astimezone(tz)
        heat[(local.isoweekday(), local.hour)] += 1
        if contact_id:
            buyers.add(contact_id)
    out["channels"], out["payments"], out["heatmap"] = dict(channels), dict(payments), dict(heat)

    products, categories = defaultdict(lambda: [Decimal("0"), Decimal("0")]), defaultdict(Decimal)
    for product_id, name, category_id, quantity, total in OrderItem.objects.filter(
            order__status__in=SALE_STATUSES, order__placed_at__gte=period.current.start,
            order__placed_at__lt=period.current.end).values_list("product_id", "product_name", "category_id",
                                                                 "quantity", "total"):
        key = product_id or name
        products[key][0] += quantity
        products[key][1] += total
        categories[category_id] += total
    out["top_revenue"] = [k for k, _ in sorted(products.items(), key=lambda kv: (-kv[1][1], -kv[1][0]))[:10]]
    out["categories"] = {k: v for k, v in categories.items()}

    # customers: every sale order with a customer, in Python
    history = defaultdict(list)
    for contact_id, placed_at in sales.filter(contact__isnull=False).values_list("contact_id", "placed_at"):
        history[contact_id].append(placed_at)
    recurring = sum(1 for c in buyers if sum(1 for t in history[c] if t < period.current.end) >= 2)
    out["buyers"], out["recurring"] = len(buyers), recurring
    out["new_customers"] = sum(1 for times in history.values()
                               if period.current.start <= min(times) < period.current.end)

    # conversations
    with_ai = set(Message.objects.filter(sender_kind="ai").values_list("conversation_id", flat=True))
    with_human = set(Message.objects.filter(sender_kind="human").values_list("conversation_id", flat=True))
    handed_off = set(Decision.objects.filter(action="handed_off").values_list("conversation_id", flat=True))
    resolved = by_ai = 0
    for conversation_id in Conversation.objects.filter(
            resolved_at__gte=period.current.start, resolved_at__lt=period.current.end).values_list("id", flat=True):
        resolved += 1
        by_ai += conversation_id in with_ai and conversation_id not in with_human and conversation_id not in handed_off
    out["resolved"], out["resolved_by_ai"] = resolved, by_ai
    out["open"] = Conversation.objects.exclude(status="resolved").count()
    return out


def same_numbers(fast: dict, naive: dict) -> list[str]:
    """Where the two versions disagree (empty: they agree)."""
    k = fast["kpis"]
    checks = {
        "revenue": (k["revenue"]["value"], naive["revenue"]),
        "previous revenue": (k["revenue"]["previous"], naive["previous_revenue"]),
        "orders": (k["orders"]["value"], naive["orders"]),
        "average ticket": (k["avg_ticket"]["value"], naive["avg_ticket"]),
        "gross margin": (k["gross_margin"]["value"], naive["gross_margin"]),
        "revenue cards": ({key: (m["value"], m["previous"]) for key, m in fast["revenue_cards"].items()},
                          naive["revenue_cards"]),
        "series": ([(r["bucket"], r["orders"], r["revenue"]) for r in fast["series"]], naive["series"]),
        "channels": ({r["channel"]: r["orders"] for r in fast["channels"]}, naive["channels"]),
        "payments": ({r["method"]: r["orders"] for r in fast["payments"]}, naive["payments"]),
        "heatmap": (fast["heatmap"]["cells"], naive["heatmap"]),
        "categories": ({c["category_id"]: c["revenue"] for c in fast["categories"]}, naive["categories"]),
        "top products": ([p["product_id"] or p["name"] for p in fast["top_products_revenue"]], naive["top_revenue"]),
        "customers who bought": (k["recurring_share"]["buyers"], naive["buyers"]),
        "recurring customers": (k["recurring_share"]["recurring"], naive["recurring"]),
        "new customers": (k["new_customers"]["value"], naive["new_customers"]),
        "resolved conversations": (fast["conversations"]["resolved"], naive["resolved"]),
        "resolved by the AI": (fast["conversations"]["resolved_by_ai"], naive["resolved_by_ai"]),
        "open conversations": (fast["conversations"]["open"], naive["open"]),
    }
    return [name for name, (a, b) in checks.items() if a != b]


# --- plans ---------------------------------------------------------------------------------------

def explain_page(period, now) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every query of one page whose plan is worth reading."""
    from django.db import connection

    from apps.analytics.selectors import overview

    captured = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        overview(period=period, now=now)
    for sql, params in captured:
        flat = " ".join(sql.split())
        if not flat.startswith("SELECT") or "FROM store_category" in flat or "WHERE id = ANY" in flat \
                or "analytics_summary_state" in flat or "pg_advisory" in flat or flat.startswith("SELECT EXISTS"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("SET work_mem = '32MB'")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        print(f"\n-- {flat[:160]}{'...' if len(flat) > 160 else ''}")
        print("\n".join(plan))


def incremental(tz, now) -> None:
    """What a refresh costs after a day's ordinary writes: 300 new orders today, 30 orders of the
    last 7 days canceled or edited, and 3 orders of earlier months corrected (rolled back
    afterwards, so the data set stays the same)."""
    from django.db import connection, transaction

    from apps.analytics import summary

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("""
                INSERT INTO store_order (number, contact_id, channel, status, placed_at, cancel_reason, payment_method,
                    payment_status, subtotal, discount, delivery_fee, total, cost_total, notes, fulfillment,
                    delivery_address, neighbourhood, created_by_ai, rating_comment, ordering_state, created_at,
                    updated_at)
                SELECT nextval('store_order_number_seq'), 1 + g * 7, 'whatsapp', 'placed', %s - g * interval '10 s',
                       '', 'pix', 'pending', 50, 0, 0, 50, 30, '', 'pickup', '', '', false, '', '{}', now(), now()
                FROM generate_series(1, 300) g""", [now])
            cursor.execute("UPDATE store_order SET status = 'canceled' WHERE id IN (SELECT id FROM store_order "
                           "WHERE status = 'delivered' AND placed_at > %s - interval '7 days' "
                           "AND placed_at < %s - interval '1 day' ORDER BY random() LIMIT 30)", [now, now])
            cursor.execute("UPDATE store_order SET total = total - 1, discount = discount + 1 WHERE id IN "
                           "(SELECT id FROM store_order WHERE status = 'delivered' AND placed_at < %s - interval "
                           "'60 days' ORDER BY random() LIMIT 3)", [now])
            cursor.execute("SELECT count(*) FROM analytics_dirty")
            logged = cursor.fetchone()[0]
        started = time.perf_counter()
        result = summary.summary_refresh(tz=tz, now=now)
        elapsed = (time.perf_counter() - started) * 1000
        print(f"incremental refresh after 300 new orders today, 30 edits in the last week and 3 in older months "
              f"({logged} log rows): {elapsed:.0f} ms ({result.days} days, {result.months} closed months, "
              f"{result.customers} customers recomputed)", flush=True)
        started = time.perf_counter()
        summary.summary_refresh(tz=tz, now=now)
        print(f"refresh with nothing to do: {(time.perf_counter() - started) * 1000:.1f} ms", flush=True)
        transaction.set_rollback(True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="drop the bench database and generate again")
    args = parser.parse_args()

    database(args.fresh)
    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.analytics import summary
    from apps.analytics.periods import tenant_zone
    from apps.analytics.selectors import overview
    from apps.store.models import Order, OrderItem

    provision()
    with schema_context(SLUG):
        existing = Order.objects.count()
        if existing != args.orders:
            print(f"generating {args.orders:,} orders (found {existing:,})", flush=True)
            generate(args.orders)
        orders, items = Order.objects.count(), OrderItem.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('store_order')), "
                           "pg_size_pretty(pg_total_relation_size('store_orderitem')), "
                           "(SELECT count(*) FROM inbox_conversation), (SELECT count(*) FROM inbox_message), "
                           "(SELECT count(*) FROM crm_contact)")
            order_size, item_size, conversations, messages, contacts = cursor.fetchone()
        print(f"store_order {orders:,} rows ({order_size} with indexes), store_orderitem {items:,} rows ({item_size}); "
              f"{contacts:,} customers, {conversations:,} conversations, {messages:,} messages", flush=True)
        tz = tenant_zone()
        # "now" is 18:00 on the day of the latest order: today's partial day (read raw) holds a working
        # day's orders whatever the hour the bench runs at, and a rerun on another day measures the same
        from django.db.models import Max

        last_day = Order.objects.aggregate(last=Max("placed_at"))["last"].astimezone(tz).date()
        now = datetime.combine(last_day, datetime.min.time().replace(hour=18), tzinfo=tz)
        today_so_far = Order.objects.filter(placed_at__gte=now.replace(hour=0), placed_at__lt=now).count()
        print(f"now = {now.isoformat()} (today so far: {today_so_far:,} orders)", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM analytics_summary_state")
        started = time.perf_counter()
        summary.summary_refresh(tz=tz, now=now)
        build_s = time.perf_counter() - started
        print(f"summary built from scratch in {build_s:.1f} s (once; then only what changes)", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE analytics_customer, analytics_sales_product, analytics_buyer_day")
            cursor.execute("SELECT (SELECT count(*) FROM analytics_sales_day), "
                           "(SELECT count(*) FROM analytics_sales_hour), "
                           "(SELECT count(*) FROM analytics_sales_product), "
                           "(SELECT count(*) FROM analytics_sales_product_month), "
                           "(SELECT count(*) FROM analytics_buyer_day),"
                           " (SELECT count(*) FROM analytics_customer), (SELECT count(*) FROM analytics_conversation)")
            print("summary rows: sales_day %s, sales_hour %s, sales_product %s, sales_product_month %s, buyer_day %s, "
                  "customer %s, conversation %s" % cursor.fetchone(), flush=True)
        incremental(tz, now)

        fast_times: dict[str, list[float]] = {}
        results = {}
        for label, period in periods(now).items():
            for _ in range(3):  # warm the caches and the connection
                overview(period=period, now=now)
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                data = overview(period=period, now=now)
                times.append((time.perf_counter() - started) * 1000)
            fast_times[label], results[label] = times, data
            summary_line(f"optimized {label}", times)
        k = results["12 months"]["kpis"]
        print(f"12 months: revenue R$ {k['revenue']['value']:,} ({k['revenue']['change_pct']} %), "
              f"{k['orders']['value']:,} orders, ticket R$ {k['avg_ticket']['value']}, "
              f"margin {k['gross_margin']['value']} %, "
              f"{k['recurring_share']['buyers']:,} customers bought ({k['recurring_share']['value']} % recurring), "
              f"{k['new_customers']['value']:,} new", flush=True)

        naive_times: dict[str, list[float]] = {}
        for label, period in periods(now).items():
            times = []
            for _ in range(args.naive_runs):
                started = time.perf_counter()
                naive = naive_overview(period, now)
                times.append((time.perf_counter() - started) * 1000)
            naive_times[label] = times
            summary_line(f"naive ORM {label}", times)
            differences = same_numbers(results[label], naive)
            print(f"  naive and optimized numbers for {label}: "
                  f"{'identical' if not differences else 'DIFFER in ' + ', '.join(differences)}", flush=True)
            if differences:
                return 1

        print("\nquery plans (12 months):", flush=True)
        explain_page(periods(now)["12 months"], now)

    all_fast = [t for times in fast_times.values() for t in times]
    all_naive = [t for times in naive_times.values() for t in times]
    p95, naive_p95 = percentile(all_fast, 95), percentile(all_naive, 95)
    print(json.dumps({
        "p95_ms": round(p95, 1),
        "naive_p95_ms": round(naive_p95, 1),
        "ratio": round(naive_p95 / p95, 1),
        "orders": orders,
        "items": items,
        "p95_30d_ms": round(percentile(fast_times["30 days"], 95), 1),
        "p95_12m_ms": round(percentile(fast_times["12 months"], 95), 1),
        "naive_p95_30d_ms": round(percentile(naive_times["30 days"], 95), 1),
        "naive_p95_12m_ms": round(percentile(naive_times["12 months"], 95), 1),
        "summary_build_s": round(build_s, 1),
        "runs": args.runs,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
