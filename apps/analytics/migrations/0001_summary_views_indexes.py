"""Per tenant schema: the dashboard's daily summary (a cache of the store tables kept exact by
triggers + refresh on read, see apps/analytics/summary.py), the documented SQL views for Metabase,
and the indexes the dashboard needs on other apps' tables.

Everything is plain SQL so that it lives in each tenant schema like the tables (the provisioning
snapshot replays pg_dump's DDL, triggers and functions included). Functions never name a schema:
trigger functions write to ``TG_TABLE_SCHEMA`` and views read through the search_path.
"""
from django.db import migrations

# apps.store.models.SALE_STATUSES, frozen here (a migration must not change when code does);
# apps/analytics/tests/test_views_sql.py checks they are still the same.
SALE = "('placed', 'confirmed', 'preparing', 'ready', 'out_for_delivery', 'delivered')"

TABLES = [
    # One row: the time zone the summary was built in and the first local day not yet in it.
    """CREATE TABLE analytics_summary_state (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        tz text NOT NULL,
        built_through date NOT NULL,
        built_at timestamptz NOT NULL DEFAULT now()
    )""",
    # What changed since the last refresh (filled by the triggers below, emptied by the refresh).
    """CREATE TABLE analytics_dirty (
        id bigserial PRIMARY KEY,
        ts timestamptz,
        contact_id bigint,
        conversation_id bigint
    )""",
    # Sale orders per local day (and per closed month for the bigger tables: long ranges read
    # whole months from there and only the edge days from the day tables). Except in
    # analytics_sales_day, channel '*' rows hold all channels together (what an unfiltered page reads).
    """CREATE TABLE analytics_sales_day (
        day date NOT NULL,
        channel varchar(10) NOT NULL,
        payment_method varchar(8) NOT NULL,
        orders integer NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        delivery_fee numeric(16, 2) NOT NULL,
        cost numeric(16, 2) NOT NULL,
        discount numeric(16, 2) NOT NULL,
        PRIMARY KEY (day, channel, payment_method)
    )""",
    """CREATE TABLE analytics_sales_hour (
        day date NOT NULL,
        channel varchar(10) NOT NULL,
        hour smallint NOT NULL,
        orders integer NOT NULL,
        PRIMARY KEY (day, channel, hour)
    )""",
    """CREATE TABLE analytics_sales_hour_month (
        month date NOT NULL,
        channel varchar(10) NOT NULL,
        dow smallint NOT NULL,
        hour smallint NOT NULL,
        orders integer NOT NULL,
        PRIMARY KEY (month, channel, dow, hour)
    )""",
    # Items by product (name and unit as sold; an item whose product was deleted keeps its name).
    """CREATE TABLE analytics_sales_product (
        day date NOT NULL,
        channel varchar(10) NOT NULL,
        product_id bigint,
        category_id bigint,
        product_name varchar(160) NOT NULL,
        unit varchar(4) NOT NULL,
        quantity numeric(18, 3) NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        cost numeric(16, 2) NOT NULL
    )""",
    "CREATE INDEX analytics_sales_product_day ON analytics_sales_product (day, channel)",
    """CREATE TABLE analytics_sales_product_month (
        month date NOT NULL,
        channel varchar(10) NOT NULL,
        product_id bigint,
        category_id bigint,
        product_name varchar(160) NOT NULL,
        unit varchar(4) NOT NULL,
        quantity numeric(18, 3) NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        cost numeric(16, 2) NOT NULL
    )""",
    "CREATE INDEX analytics_sales_product_month_idx ON analytics_sales_product_month (month, channel)",
    # Who bought: one bit per customer (bit contact_id % 8192 of chunk contact_id / 8192), so the
    # distinct customers of any range are a bit_or and a bit_count, exact and fast.
    """CREATE TABLE analytics_buyer_day (
        day date NOT NULL,
        channel varchar(10) NOT NULL,
        chunk integer NOT NULL,
        bits bit(8192) NOT NULL,
        PRIMARY KEY (day, channel, chunk)
    )""",
    """CREATE TABLE analytics_buyer_month (
        month date NOT NULL,
        channel varchar(10) NOT NULL,
        chunk integer NOT NULL,
        bits bit(8192) NOT NULL,
        PRIMARY KEY (month, channel, chunk)
    )""",
    # Per customer: first and second sale order (new and recurring customers), all time.
    """CREATE TABLE analytics_customer (
        contact_id bigint PRIMARY KEY,
        first_sale_at timestamptz NOT NULL,
        first_channel varchar(10) NOT NULL,
        second_sale_at timestamptz,
        last_sale_at timestamptz NOT NULL,
        sale_orders integer NOT NULL,
        total_spent numeric(16, 2) NOT NULL
    )""",
    "CREATE INDEX analytics_customer_first ON analytics_customer (first_sale_at) "
    "INCLUDE (first_channel, second_sale_at)",
    # Per resolved conversation: whether the AI resolved it (decided from the history up to resolution).
    """CREATE TABLE analytics_conversation (
        conversation_id bigint PRIMARY KEY,
        resolved_at timestamptz NOT NULL,
        by_ai boolean NOT NULL
    )""",
    "CREATE INDEX analytics_conversation_resolved ON analytics_conversation (resolved_at) INCLUDE (by_ai)",
    # ... and per local day of resolution (every day, kept current with the rows above)
    """CREATE TABLE analytics_conversation_day (
        day date PRIMARY KEY,
        resolved integer NOT NULL,
        by_ai integer NOT NULL
    )""",
]

SUMMARY_TABLES = ["analytics_conversation_day", "analytics_conversation", "analytics_customer",
                  "analytics_buyer_month", "analytics_buyer_day",
                  "analytics_sales_product_month", "analytics_sales_product", "analytics_sales_hour_month",
                  "analytics_sales_hour", "analytics_sales_day", "analytics_dirty", "analytics_summary_state"]
REVERSE_TABLES = [f"DROP TABLE IF EXISTS {table}" for table in SUMMARY_TABLES]

# Statement-level triggers with transition tables: one small INSERT per statement whatever the
# number of rows (bulk loads stay fast). Only changes that can move a number are logged.
TRIGGERS = [
    """CREATE FUNCTION analytics_log_orders() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            EXECUTE format($q$INSERT INTO %I.analytics_dirty (ts, contact_id)
                SELECT DISTINCT n.placed_at, n.contact_id FROM new_rows n WHERE n.placed_at IS NOT NULL$q$,
                TG_TABLE_SCHEMA);
        ELSIF TG_OP = 'DELETE' THEN
            EXECUTE format($q$INSERT INTO %I.analytics_dirty (ts, contact_id)
                SELECT DISTINCT o.placed_at, o.contact_id FROM old_rows o WHERE o.placed_at IS NOT NULL$q$,
                TG_TABLE_SCHEMA);
        ELSIF TG_OP = 'UPDATE' THEN
            EXECUTE format($q$INSERT INTO %I.analytics_dirty (ts, contact_id)
                SELECT DISTINCT x.ts, x.contact_id
                FROM new_rows n JOIN old_rows o ON o.id = n.id
                CROSS JOIN LATERAL (VALUES (o.placed_at, o.contact_id), (n.placed_at, n.contact_id))
                    AS x (ts, contact_id)
                WHERE x.ts IS NOT NULL
                  AND (n.status, n.placed_at, n.channel, n.payment_method, n.total, n.delivery_fee, n.cost_total,
                       n.discount, n.contact_id)
                      IS DISTINCT FROM
                      (o.status, o.placed_at, o.channel, o.payment_method, o.total, o.delivery_fee, o.cost_total,
                       o.discount, o.contact_id)$q$,
                TG_TABLE_SCHEMA);
        ELSE  -- TRUNCATE: the summary is rebuilt from scratch on the next read
            EXECUTE format('DELETE FROM %I.analytics_summary_state', TG_TABLE_SCHEMA);
        END IF;
        RETURN NULL;
    END
    $fn$""",
    """CREATE FUNCTION analytics_log_items() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            EXECUTE format($q$INSERT INTO %1$I.analytics_dirty (ts)
                SELECT DISTINCT o.placed_at FROM new_rows i JOIN %1$I.store_order o ON o.id = i.order_id
                WHERE o.placed_at IS NOT NULL$q$, TG_TABLE_SCHEMA);
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            EXECUTE format($q$INSERT INTO %1$I.analytics_dirty (ts)
                SELECT DISTINCT o.placed_at FROM old_rows i JOIN %1$I.store_order o ON o.id = i.order_id
                WHERE o.placed_at IS NOT NULL$q$, TG_TABLE_SCHEMA);
        END IF;
        RETURN NULL;
    END
    $fn$""",
    # conversations: only a change of status / resolution matters (last_message_at changes do not)
    """CREATE FUNCTION analytics_log_conversations() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            EXECUTE format($q$INSERT INTO %I.analytics_dirty (conversation_id)
                SELECT n.id FROM new_rows n WHERE n.resolved_at IS NOT NULL$q$, TG_TABLE_SCHEMA);
        ELSIF TG_OP = 'DELETE' THEN
            EXECUTE format($q$INSERT INTO %I.analytics_dirty (conversation_id)
                SELECT o.id FROM old_rows o WHERE o.resolved_at IS NOT NULL$q$, TG_TABLE_SCHEMA);
        ELSIF TG_OP = 'UPDATE' THEN
            EXECUTE format($q$INSERT INTO %I.analytics_dirty (conversation_id)
                SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE (n.status, n.resolved_at) IS DISTINCT FROM (o.status, o.resolved_at)$q$, TG_TABLE_SCHEMA);
        ELSE
            EXECUTE format('DELETE FROM %I.analytics_summary_state', TG_TABLE_SCHEMA);
        END IF;
        RETURN NULL;
    END
    $fn$""",
]
for table, function, prefix in (("store_order", "analytics_log_orders", "analytics_orders"),
                                ("store_orderitem", "analytics_log_items", "analytics_items"),
                                ("inbox_conversation", "analytics_log_conversations", "analytics_conversations")):
    TRIGGERS += [
        f"CREATE TRIGGER {prefix}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {prefix}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]
    if table != "store_orderitem":  # truncating orders truncates their items too
        TRIGGERS.append(f"CREATE TRIGGER {prefix}_trunc AFTER TRUNCATE ON {table} "
                        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")

REVERSE_TRIGGERS = [
    *(f"DROP TRIGGER IF EXISTS {prefix}_{event} ON {table}"
      for table, prefix in (("store_order", "analytics_orders"), ("store_orderitem", "analytics_items"),
                            ("inbox_conversation", "analytics_conversations"))
      for event in ("ins", "upd", "del", "trunc")),
    "DROP FUNCTION IF EXISTS analytics_log_conversations()",
    "DROP FUNCTION IF EXISTS analytics_log_items()",
    "DROP FUNCTION IF EXISTS analytics_log_orders()",
]

# The dashboard's indexes on other apps' tables (named analytics_* so they never clash with theirs).
# None on the store's: its (placed_at), (status, placed_at), (contact, placed_at) indexes and the
# items' order_id index are what the partial-day reads and the summary's rebuilds use.
INDEXES = [
    # conversation widgets: open / waiting now, and how each resolved conversation was resolved
    "CREATE INDEX analytics_conv_unresolved ON inbox_conversation (bot_state) WHERE status <> 'resolved'",
    "CREATE INDEX analytics_msg_human ON inbox_message (conversation_id, created_at) WHERE sender_kind = 'human'",
    "CREATE INDEX analytics_msg_ai ON inbox_message (conversation_id, created_at) WHERE sender_kind = 'ai'",
    "CREATE INDEX analytics_decision_handoff ON agents_decision (conversation_id, created_at) "
    "WHERE action = 'handed_off'",
]

REVERSE_INDEXES = [
    "DROP INDEX IF EXISTS analytics_decision_handoff",
    "DROP INDEX IF EXISTS analytics_msg_ai",
    "DROP INDEX IF EXISTS analytics_msg_human",
    "DROP INDEX IF EXISTS analytics_conv_unresolved",
]

# Views for Metabase (README: "Metabase"). Local days and hours use analytics_tz(): the
# connection's app.tz setting (set it on the Metabase role), else the zone the dashboard last
# built its summary in (the tenant's), else UTC. Every view also exposes the UTC timestamp.
VIEWS = [
    # plpgsql: its body is not bound at creation (the provisioning replays pg_dump's DDL without
    # pg_dump's SET lines, so an SQL function reading a table would fail to be created)
    """CREATE FUNCTION analytics_tz() RETURNS text LANGUAGE plpgsql STABLE AS $fn$
    BEGIN
        RETURN coalesce(nullif(current_setting('app.tz', true), ''),
                        (SELECT s.tz FROM analytics_summary_state s WHERE s.id = 1),
                        'UTC');
    END
    $fn$""",
    f"""CREATE VIEW analytics_orders AS
    SELECT o.id AS order_id,
           o.number AS order_number,
           o.placed_at,
           (o.placed_at AT TIME ZONE analytics_tz())::date AS day,
           extract(hour FROM o.placed_at AT TIME ZONE analytics_tz())::int AS hour,
           extract(isodow FROM o.placed_at AT TIME ZONE analytics_tz())::int AS weekday,
           o.channel,
           o.status,
           o.status IN {SALE} AS is_sale,
           o.payment_method,
           o.payment_status,
           o.contact_id,
           coalesce(nullif(c.name, ''), nullif(c.push_name, ''), c.phone) AS customer,
           o.subtotal,
           o.discount,
           o.delivery_fee,
           o.total,
           o.cost_total,
           o.total - o.delivery_fee - o.cost_total AS gross_margin,
           o.fulfillment,
           o.neighbourhood,
           o.created_by_ai,
           o.rating,
           analytics_tz() AS tz
    FROM store_order o
    LEFT JOIN crm_contact c ON c.id = o.contact_id
    WHERE o.placed_at IS NOT NULL""",
    f"""CREATE VIEW analytics_daily_sales AS
    SELECT (o.placed_at AT TIME ZONE analytics_tz())::date AS day,
           o.channel,
           count(*) AS orders,
           sum(o.total) AS revenue,
           sum(o.discount) AS discount,
           sum(o.delivery_fee) AS delivery_fee,
           sum(o.total - o.delivery_fee) AS net_revenue,
           sum(o.cost_total) AS cost,
           sum(o.total - o.delivery_fee - o.cost_total) AS gross_margin,
           round(100 * sum(o.total - o.delivery_fee - o.cost_total) / nullif(sum(o.total - o.delivery_fee), 0), 2)
               AS margin_pct,
           round(sum(o.total) / count(*), 2) AS avg_ticket,
           count(DISTINCT o.contact_id) AS customers,
           analytics_tz() AS tz
    FROM store_order o
    WHERE o.status IN {SALE}
    GROUP BY 1, 2""",
    f"""CREATE VIEW analytics_order_items AS
    SELECT i.id AS item_id,
           o.id AS order_id,
           o.number AS order_number,
           o.placed_at,
           (o.placed_at AT TIME ZONE analytics_tz())::date AS day,
           o.channel,
           o.status,
           o.status IN {SALE} AS is_sale,
           o.payment_method,
           o.contact_id,
           i.product_id,
           i.sku,
           i.product_name,
           i.category_id,
           cat.name AS category,
           i.unit,
           i.quantity,
           i.unit_price,
           i.unit_cost,
           i.total AS revenue,
           round(i.quantity * i.unit_cost, 2) AS cost,
           i.total - round(i.quantity * i.unit_cost, 2) AS margin
    FROM store_orderitem i
    JOIN store_order o ON o.id = i.order_id
    LEFT JOIN store_category cat ON cat.id = i.category_id
    WHERE o.placed_at IS NOT NULL""",
    f"""CREATE VIEW analytics_customers AS
    SELECT c.id AS contact_id,
           coalesce(nullif(c.name, ''), nullif(c.push_name, ''), c.phone) AS name,
           c.phone,
           c.email,
           p.customer_since,
           s.orders,
           s.total_spent,
           round(s.total_spent / s.orders, 2) AS avg_ticket,
           s.first_order_at,
           s.last_order_at,
           (now() AT TIME ZONE analytics_tz())::date - (s.last_order_at AT TIME ZONE analytics_tz())::date
               AS days_since_last_order,
           s.orders >= 2 AS recurring
    FROM crm_contact c
    JOIN (SELECT o.contact_id, count(*) AS orders, sum(o.total) AS total_spent,
                 min(o.placed_at) AS first_order_at, max(o.placed_at) AS last_order_at
          FROM store_order o
          WHERE o.status IN {SALE} AND o.contact_id IS NOT NULL
          GROUP BY o.contact_id) s ON s.contact_id = c.id
    LEFT JOIN store_customerprofile p ON p.contact_id = c.id""",
]

REVERSE_VIEWS = [
    "DROP VIEW IF EXISTS analytics_customers",
    "DROP VIEW IF EXISTS analytics_order_items",
    "DROP VIEW IF EXISTS analytics_daily_sales",
    "DROP VIEW IF EXISTS analytics_orders",
    "DROP FUNCTION IF EXISTS analytics_tz()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0002_order_number_sequence"),
        ("inbox", "0002_retentionrun_message_purged_at"),
        ("agents", "0001_initial"),
        ("crm", "0002_contact_custom_fields"),
    ]

    operations = [
        migrations.RunSQL(TABLES, reverse_sql=REVERSE_TABLES),
        migrations.RunSQL(TRIGGERS, reverse_sql=REVERSE_TRIGGERS),
        migrations.RunSQL(INDEXES, reverse_sql=REVERSE_INDEXES),
        migrations.RunSQL(VIEWS, reverse_sql=REVERSE_VIEWS),
    ]
