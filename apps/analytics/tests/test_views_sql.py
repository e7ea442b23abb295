"""The SQL views for Metabase exist in every provisioned tenant schema and return the right rows;
the summary's triggers and the dashboard's indexes are there too."""
from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from .factories import D, local, make_category, make_contact, make_order, make_product

pytestmark = pytest.mark.django_db
VIEWS = {"analytics_orders", "analytics_daily_sales", "analytics_order_items", "analytics_customers"}


def _fetch(sql: str, params=None) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_every_provisioned_tenant_has_the_views_triggers_and_indexes(tenant, other_tenant):
    for schema in (tenant.schema_name, other_tenant.schema_name):
        views = {r["table_name"] for r in _fetch(
            "SELECT table_name FROM information_schema.views WHERE table_schema = %s", [schema])}
        assert VIEWS <= views, schema
        triggers = {r["tgname"] for r in _fetch(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT t.tgisinternal", [schema])}
        assert {"analytics_orders_ins", "analytics_orders_upd", "analytics_orders_del", "analytics_orders_trunc",
                "analytics_items_ins", "analytics_items_upd", "analytics_items_del",
                "analytics_conversations_upd"} <= triggers, schema
        indexes = {r["indexname"] for r in _fetch("SELECT indexname FROM pg_indexes WHERE schemaname = %s", [schema])}
        assert {"analytics_msg_ai", "analytics_msg_human", "analytics_decision_handoff",
                "analytics_conv_unresolved", "analytics_customer_first"} <= indexes, schema


def test_the_migration_sale_statuses_are_the_stores():
    import importlib

    from apps.store.models import SALE_STATUSES

    migration = importlib.import_module("apps.analytics.migrations.0001_summary_views_indexes")
    assert migration.SALE == "(" + ", ".join(f"'{s}'" for s in SALE_STATUSES) + ")"


@pytest.fixture
def sales(tenant):
    with schema_context(tenant.schema_name):
        queijos = make_category("Queijos")
        queijo = make_product("Queijo minas", price="25.00", cost="15.00", category=queijos, unit="kg")
        ana, bia = make_contact("Ana"), make_contact("Bia")
        make_order(at=local("2025-05-05 23:30"), contact=ana, items=[(queijo, "1.5")], delivery_fee="8")  # 37.50
        make_order(at=local("2025-05-06 09:00"), contact=ana, items=[(queijo, 2)], channel="counter",
                   payment_method="cash")  # 50
        make_order(at=local("2025-05-06 10:00"), contact=bia, items=[(queijo, 1)], status="canceled")
        make_order(at=None, contact=bia, items=[(queijo, 1)], status="cart")
        queijo.cost = D("40.00")  # later cost change: the views read the snapshots
        queijo.save()
        yield


def test_daily_sales_in_the_zone_of_app_tz(tenant, sales):
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        cursor.execute("SET LOCAL app.tz = 'America/Sao_Paulo'")
        rows = _fetch("SELECT day::text, channel, orders, revenue, delivery_fee, net_revenue, cost, gross_margin, "
                      "margin_pct, avg_ticket, customers, tz FROM analytics_daily_sales ORDER BY day, channel")
        assert rows == [
            {"day": "2025-05-05", "channel": "whatsapp", "orders": 1, "revenue": D("45.50"), "delivery_fee": D("8.00"),
             "net_revenue": D("37.50"), "cost": D("22.50"), "gross_margin": D("15.00"), "margin_pct": D("40.00"),
             "avg_ticket": D("45.50"), "customers": 1, "tz": "America/Sao_Paulo"},
            {"day": "2025-05-06", "channel": "counter", "orders": 1, "revenue": D("50.00"), "delivery_fee": D("0.00"),
             "net_revenue": D("50.00"), "cost": D("30.00"), "gross_margin": D("20.00"), "margin_pct": D("40.00"),
             "avg_ticket": D("50.00"), "customers": 1, "tz": "America/Sao_Paulo"},
        ]
        # in UTC the 23:30 order is on the 6th
        cursor.execute("SET LOCAL app.tz = 'UTC'")
        assert [r["day"] for r in _fetch("SELECT day::text FROM analytics_daily_sales")] == ["2025-05-06"] * 2


def test_order_items_and_orders_views(tenant, sales):
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        cursor.execute("SET LOCAL app.tz = 'America/Sao_Paulo'")
        items = _fetch("SELECT day::text, channel, status, is_sale, product_name, category, unit, quantity, "
                       "unit_price, "
                       "unit_cost, revenue, cost, margin FROM analytics_order_items ORDER BY placed_at")
        assert [(i["day"], i["status"], i["is_sale"], i["quantity"], i["revenue"], i["cost"], i["margin"])
                for i in items] == [
            ("2025-05-05", "delivered", True, D("1.500"), D("37.50"), D("22.50"), D("15.00")),
            ("2025-05-06", "delivered", True, D("2.000"), D("50.00"), D("30.00"), D("20.00")),
            ("2025-05-06", "canceled", False, D("1.000"), D("25.00"), D("15.00"), D("10.00")),
        ]  # the cart (never placed) is not there
        assert {i["category"] for i in items} == {"Queijos"}
        orders = _fetch("SELECT day::text, hour, weekday, channel, is_sale, customer, gross_margin "
                        "FROM analytics_orders ORDER BY placed_at")
        assert [(o["day"], o["hour"], o["weekday"], o["is_sale"], o["customer"]) for o in orders] == [
            ("2025-05-05", 23, 1, True, "Ana"), ("2025-05-06", 9, 2, True, "Ana"), ("2025-05-06", 10, 2, False, "Bia")]


def test_customers_view_with_recurrence(tenant, sales):
    with schema_context(tenant.schema_name):
        rows = _fetch("SELECT name, orders, total_spent, avg_ticket, recurring FROM analytics_customers ORDER BY name")
    # Bia has a canceled order and a cart only: not a customer yet
    assert rows == [{"name": "Ana", "orders": 2, "total_spent": D("95.50"), "avg_ticket": D("47.75"),
                     "recurring": True}]


def test_views_default_to_the_dashboards_zone_then_utc(tenant, sales):
    """Without app.tz the views use the zone the dashboard last built its summary in (the
    tenant's), and UTC before the dashboard was ever opened."""
    from apps.analytics.periods import tenant_zone
    from apps.analytics.summary import summary_refresh

    with schema_context(tenant.schema_name):
        assert _fetch("SELECT analytics_tz() AS tz")[0]["tz"] == "UTC"
        summary_refresh(tz=tenant_zone())
        assert _fetch("SELECT analytics_tz() AS tz")[0]["tz"] == "America/Sao_Paulo"
        assert [r["day"] for r in _fetch("SELECT day::text FROM analytics_daily_sales ORDER BY day")] == [
            "2025-05-05", "2025-05-06"]


def test_views_are_per_tenant(tenant, other_tenant, sales):
    with schema_context(other_tenant.schema_name):
        assert _fetch("SELECT count(*) AS n FROM analytics_order_items")[0]["n"] == 0
        assert _fetch("SELECT count(*) AS n FROM analytics_customers")[0]["n"] == 0

