"""The summary stays exact: writes are logged by the triggers, a refresh recomputes exactly what
changed, and the numbers always equal a computation from the raw rows."""
from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.analytics.periods import resolve
from apps.analytics.selectors import overview
from apps.analytics.summary import summary_refresh

from .factories import SP, D, local, make_category, make_contact, make_order, make_product

pytestmark = pytest.mark.django_db
NOW = local("2025-06-20 12:00")


def _dirty() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ts, contact_id, conversation_id FROM analytics_dirty ORDER BY id")
        return cursor.fetchall()


def _day_rows(day: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT channel, payment_method, orders, revenue FROM analytics_sales_day WHERE day = %s "
                       "ORDER BY 1, 2", [date.fromisoformat(day)])
        return cursor.fetchall()


def _revenue(first: str, last: str, now=NOW, channel=""):
    period = resolve("custom", tz=SP, now=now, first=date.fromisoformat(first), last=date.fromisoformat(last))
    return overview(period=period, now=now, channel=channel)


@pytest.fixture
def catalog(tenant):
    with schema_context(tenant.schema_name):
        cat = make_category("Frios")
        yield {"presunto": make_product("Presunto", price="30.00", cost="18.00", category=cat),
               "mortadela": make_product("Mortadela", price="12.00", cost="6.00", category=cat)}


def test_writes_are_logged_and_a_refresh_claims_them(tenant, catalog):
    with schema_context(tenant.schema_name):
        summary_refresh(tz=SP, now=NOW)  # first read: everything built, log empty
        assert _dirty() == []
        ana = make_contact("Ana")
        order = make_order(at=local("2025-06-10 10:00"), contact=ana, items=[(catalog["presunto"], 1)])
        logged = _dirty()
        assert (order.placed_at, ana.pk, None) in logged
        # changes that cannot move a number are not logged
        order.ordering_state = {"step": "done"}
        order.notes = "sem cebola"
        order.save()
        assert len(_dirty()) == len(logged)
        result = summary_refresh(tz=SP, now=NOW)
        assert (result.rebuilt, result.days, result.customers) == (False, 1, 1)
        assert _dirty() == []
        assert _day_rows("2025-06-10") == [("whatsapp", "pix", 1, D("30.00"))]


def test_a_cart_is_not_logged_until_it_is_placed(tenant, catalog):
    with schema_context(tenant.schema_name):
        summary_refresh(tz=SP, now=NOW)
        cart = make_order(at=None, items=[(catalog["presunto"], 2)], status="cart")
        assert _dirty() == []
        cart.status, cart.placed_at = "placed", local("2025-06-11 09:00")
        cart.save()
        assert [row[0] for row in _dirty()] == [cart.placed_at]


def test_old_orders_edited_later_are_recomputed(tenant, catalog):
    """Cancel an order from last week, move another to a different day, add an item to a third,
    delete a fourth: the next read shows all of it, as a computation from scratch does."""
    with schema_context(tenant.schema_name):
        bia = make_contact("Bia")
        o1 = make_order(at=local("2025-06-02 10:00"), contact=bia, items=[(catalog["presunto"], 1)])
        o2 = make_order(at=local("2025-06-03 10:00"), items=[(catalog["mortadela"], 2)], channel="counter",
                        payment_method="cash")
        o3 = make_order(at=local("2025-06-04 10:00"), items=[(catalog["presunto"], 2)])
        o4 = make_order(at=local("2025-06-05 10:00"), items=[(catalog["mortadela"], 1)])
        before = _revenue("2025-06-01", "2025-06-07")
        assert before["totals"]["revenue"] == D("126.00")  # 30 + 24 + 60 + 12

        o1.status = "canceled"
        o1.save()
        o2.placed_at = local("2025-06-06 10:00")
        o2.save()
        from apps.store.models import OrderItem

        OrderItem.objects.create(order=o3, product=catalog["mortadela"], category=catalog["mortadela"].category,
                                 product_name="Mortadela", unit="unit", quantity=D("1"), unit_price=D("12.00"),
                                 unit_cost=D("6.00"), total=D("12.00"))
        o3.subtotal, o3.total, o3.cost_total = D("72.00"), D("72.00"), D("42.00")
        o3.save()
        o4.items.all().delete()
        o4.delete()

        after = _revenue("2025-06-01", "2025-06-07")
        assert after["totals"]["revenue"] == D("96.00")  # 24 (moved, same week) + 72
        assert _day_rows("2025-06-02") == [] and _day_rows("2025-06-03") == []
        assert _day_rows("2025-06-06") == [("counter", "cash", 1, D("24.00"))]
        assert {p["name"]: p["quantity"] for p in after["top_products_revenue"]} == {
            "Presunto": D("2.000"), "Mortadela": D("3.000")}
        assert after["kpis"]["recurring_share"]["buyers"] == 0  # Bia's only order was canceled
        # exactly what a rebuild from scratch gives
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM analytics_summary_state")
        rebuilt = _revenue("2025-06-01", "2025-06-07")
        for key in ("totals", "series", "channels", "payments", "categories", "top_products_revenue", "heatmap"):
            assert rebuilt[key] == after[key], key


def test_days_close_as_time_passes(tenant, catalog):
    with schema_context(tenant.schema_name):
        make_order(at=local("2025-06-20 09:00"), items=[(catalog["presunto"], 1)])
        summary_refresh(tz=SP, now=NOW)
        assert _day_rows("2025-06-20") == []  # today: read raw, not summarised
        tomorrow = local("2025-06-21 08:00")
        result = summary_refresh(tz=SP, now=tomorrow)
        assert result.days == 1
        assert _day_rows("2025-06-20") == [("whatsapp", "pix", 1, D("30.00"))]
        assert _revenue("2025-06-20", "2025-06-20", now=tomorrow)["totals"]["revenue"] == D("30.00")


def test_a_new_time_zone_rebuilds_with_new_day_boundaries(tenant, catalog):
    import zoneinfo

    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    with schema_context(tenant.schema_name):
        make_order(at=local("2025-06-10 20:00"), items=[(catalog["presunto"], 1)])  # 08:00 on the 11th in Tokyo
        summary_refresh(tz=SP, now=NOW)
        assert _day_rows("2025-06-10") == [("whatsapp", "pix", 1, D("30.00"))]
        assert summary_refresh(tz=tokyo, now=NOW).rebuilt
        assert _day_rows("2025-06-10") == []
        assert _day_rows("2025-06-11") == [("whatsapp", "pix", 1, D("30.00"))]


def test_long_ranges_read_closed_months_and_agree_with_days(tenant, catalog):
    """A range over several months reads whole months from the rollups and the edges from the
    days; its numbers equal the sum of the single months."""
    with schema_context(tenant.schema_name):
        cliente = make_contact("Cliente fiel")
        for month in (1, 2, 3, 4):
            for day in (1, 15, 28):
                make_order(at=local(f"2025-{month:02d}-{day:02d} 11:00"), contact=cliente,
                           items=[(catalog["presunto"], 1), (catalog["mortadela"], month)])
        whole = _revenue("2025-01-15", "2025-04-15")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM analytics_sales_product_month")
            assert cursor.fetchone()[0] > 0
        parts = [_revenue("2025-01-15", "2025-01-31"), _revenue("2025-02-01", "2025-02-28"),
                 _revenue("2025-03-01", "2025-03-31"), _revenue("2025-04-01", "2025-04-15")]
    assert whole["totals"]["orders"] == sum(p["totals"]["orders"] for p in parts) == 10
    assert whole["totals"]["revenue"] == sum(p["totals"]["revenue"] for p in parts)
    quantities = {p["name"]: p["quantity"] for p in whole["top_products_quantity"]}
    assert quantities == {"Presunto": D("10.000"), "Mortadela": D("2") + 3 * D("2") + 3 * D("3") + 2 * D("4")}
    assert sum(whole["heatmap"]["cells"].values()) == 10
    assert whole["kpis"]["recurring_share"]["buyers"] == 1


def test_conversations_resolved_by_the_ai(tenant):
    """Resolved by the AI: an AI reply, no staff message, no hand-off, by the time of resolution."""
    from django.utils import timezone

    from apps.agents.models import Decision
    from apps.inbox.models import Conversation
    from apps.inbox.tests.helpers_inbox import add_message, make_connection, make_conversation
    from apps.inbox.tests.helpers_inbox import make_contact as inbox_contact

    with schema_context(tenant.schema_name):
        line = make_connection()

        def conversation(*kinds, handoff=False, resolve=True):
            c = make_conversation(connection=line, contact=inbox_contact(name="x"))
            for kind in kinds:
                add_message(c, "oi", direction="in" if kind == "contact" else "out", sender_kind=kind, minutes_ago=5)
            if handoff:
                Decision.objects.create(conversation=c, action="handed_off")
            if resolve:
                c.status, c.resolved_at = "resolved", timezone.now()
                c.save()
            return c

        conversation("contact", "ai")  # by the AI
        conversation("contact", "ai", "contact", "ai")  # by the AI
        conversation("contact", "ai", "human")  # staff wrote
        conversation("contact", "ai", handoff=True)  # handed off
        conversation("contact")  # nobody answered
        waiting = conversation("contact", "ai", handoff=True, resolve=False)
        Conversation.objects.filter(pk=waiting.pk).update(bot_state="waiting_human")
        conversation("contact", resolve=False)
        def widgets():
            now = timezone.now()
            return overview(period=resolve("today", tz=SP, now=now), now=now)["conversations"]

        data = widgets()
        assert (data["resolved"], data["resolved_by_ai"], data["ai_share"]["value"]) == (5, 2, D("40.0"))
        assert (data["open"], data["waiting_human"]) == (2, 1)
        # reopening takes it out of the period's resolved conversations
        reopened = Conversation.objects.filter(status="resolved").order_by("pk").first()
        reopened.status, reopened.resolved_at = "open", None
        reopened.save()
        data = widgets()
        assert (data["resolved"], data["resolved_by_ai"], data["open"]) == (4, 1, 3)


def test_the_beat_task_refreshes_the_tenants_summary(tenant, catalog):
    from apps.analytics import tasks

    with schema_context(tenant.schema_name):
        make_order(at=local("2025-06-10 10:00"), items=[(catalog["presunto"], 1)])
        assert tasks.summary_refresh()["rebuilt"] is True
        assert _day_rows("2025-06-10") == [("whatsapp", "pix", 1, D("30.00"))]
        assert _dirty() == []
        assert tasks.summary_refresh() == {"rebuilt": False, "days": 0, "months": 0, "customers": 0,
                                           "conversations": 0}
