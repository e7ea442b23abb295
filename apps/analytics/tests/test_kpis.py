"""The Visão Geral numbers against hand-computed fixtures, in America/Sao_Paulo (UTC-3).

The shop (2025; 10 March is a Monday):
    o1  08/03 10:00  Ana   whatsapp pix   2 x Queijo (20, cost 10)                 total  40  cost 20
    o2  10/03 23:30  Ana   whatsapp pix   1 x Salame (50, cost 30) + delivery 10   total  60  cost 30
    o3  11/03 00:30  Bia   counter  cash  3 x Queijo, discount 5                   total  55  cost 30
    --  11/03 12:00  Caio  canceled (100)              --  11/03 13:00  a cart with a date (30)
    o6  12/03 00:10  Bia   whatsapp pix   1 x Salame                               total  50  cost 30
o2 is 02:30 UTC on the 11th and o3 03:30 UTC on the 11th: only local days put them apart.
Period 10/03..11/03 (custom, 2 days) vs 08/03..09/03:
    revenue 115 vs 40 (+187.5 %), orders 2 vs 1, ticket 57.50 vs 40.00 (+43.8 %),
    margin (115 - 10 - 60) / (115 - 10) = 42.9 % vs (40 - 20) / 40 = 50.0 % (-7.1 p.p.),
    customers who bought: Ana, Bia; recurring by the end of the period: Ana (o1, o2) -> 50.0 %;
    before: Ana with one order by 10/03 -> 0.0 %; new: Bia (1) vs Ana (1).
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation
from django_tenants.utils import schema_context

from apps.analytics.periods import resolve
from apps.analytics.selectors import overview

from .factories import SP, D, local, make_category, make_contact, make_order, make_product

pytestmark = pytest.mark.django_db
LATER = local("2025-03-20 15:00")  # every day of the fixtures is closed: read from the summary
ON_THE_11TH = local("2025-03-11 18:00")  # the 11th is today: read raw


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def shop(tenant):
    with schema_context(tenant.schema_name):
        queijos, embutidos = make_category("Queijos"), make_category("Embutidos")
        queijo = make_product("Queijo", price="20.00", cost="10.00", category=queijos)
        salame = make_product("Salame", price="50.00", cost="30.00", category=embutidos)
        ana, bia, caio = make_contact("Ana"), make_contact("Bia"), make_contact("Caio")
        orders = {
            "o1": make_order(at=local("2025-03-08 10:00"), contact=ana, items=[(queijo, 2)]),
            "o2": make_order(at=local("2025-03-10 23:30"), contact=ana, items=[(salame, 1)], delivery_fee="10"),
            "o3": make_order(at=local("2025-03-11 00:30"), contact=bia, items=[(queijo, 3)], channel="counter",
                             payment_method="cash", discount="5"),
            "o4": make_order(at=local("2025-03-11 12:00"), contact=caio, items=[(salame, 2)], status="canceled"),
            "o5": make_order(at=local("2025-03-11 13:00"), contact=caio, items=[(queijo, 1)], status="cart"),
            "o6": make_order(at=local("2025-03-12 00:10"), contact=bia, items=[(salame, 1)]),
        }
        yield {"queijo": queijo, "salame": salame, "ana": ana, "bia": bia, **orders}


def _custom(first: str, last: str, now=LATER):
    from datetime import date

    return resolve("custom", tz=SP, now=now, first=date.fromisoformat(first), last=date.fromisoformat(last))


def _run(period, *, channel="", now=LATER, granularity=None):
    return overview(period=period, channel=channel, now=now, granularity=granularity)


def test_period_kpis_and_previous_period(tenant, shop):
    with schema_context(tenant.schema_name):
        data = _run(_custom("2025-03-10", "2025-03-11"))
    k = data["kpis"]
    assert k["revenue"] == {"value": D("115.00"), "previous": D("40.00"), "change_pct": D("187.5"), "change_pp": None}
    assert (k["orders"]["value"], k["orders"]["previous"], k["orders"]["change_pct"]) == (2, 1, D("100.0"))
    assert (k["avg_ticket"]["value"], k["avg_ticket"]["previous"]) == (D("57.50"), D("40.00"))
    assert k["avg_ticket"]["change_pct"] == D("43.8")
    assert (k["gross_margin"]["value"], k["gross_margin"]["previous"], k["gross_margin"]["change_pp"]) == (
        D("42.9"), D("50.0"), D("-7.1"))
    assert k["gross_margin_amount"]["value"] == D("45.00")
    share = k["recurring_share"]
    assert (share["value"], share["previous"], share["recurring"], share["buyers"]) == (D("50.0"), D("0.0"), 1, 2)
    assert share["change_pp"] == D("50.0")
    assert (k["new_customers"]["value"], k["new_customers"]["previous"]) == (1, 1)
    assert data["has_sales"] is True


def test_orders_around_local_midnight_land_on_their_local_day(tenant, shop):
    with schema_context(tenant.schema_name):
        tenth = _run(_custom("2025-03-10", "2025-03-10"))
        eleventh = _run(_custom("2025-03-11", "2025-03-11"))
        series = _run(_custom("2025-03-09", "2025-03-12"), granularity="day")["series"]
    assert (tenth["kpis"]["revenue"]["value"], tenth["kpis"]["orders"]["value"]) == (D("60.00"), 1)
    assert (eleventh["kpis"]["revenue"]["value"], eleventh["kpis"]["orders"]["value"]) == (D("55.00"), 1)
    assert [(str(row["bucket"]), row["orders"], row["revenue"]) for row in series] == [
        ("2025-03-09", 0, D("0.00")), ("2025-03-10", 1, D("60.00")), ("2025-03-11", 1, D("55.00")),
        ("2025-03-12", 1, D("50.00"))]
    # the heatmap: o2 on Monday at 23 h, o3 on Tuesday at 0 h (local)
    assert tenth["heatmap"]["cells"] == {(1, 23): 1}
    assert eleventh["heatmap"]["cells"] == {(2, 0): 1}


def test_canceled_orders_and_carts_are_not_sales(tenant, shop):
    with schema_context(tenant.schema_name):
        data = _run(_custom("2025-03-11", "2025-03-11"))
    # o4 (canceled, 100) and o5 (cart, 20) are on the 11th too
    assert data["totals"]["orders"] == 1
    assert data["totals"]["revenue"] == D("55.00")
    assert data["kpis"]["recurring_share"]["buyers"] == 1  # Caio bought nothing


def test_breakdowns_categories_and_top_products(tenant, shop):
    with schema_context(tenant.schema_name):
        data = _run(_custom("2025-03-10", "2025-03-11"))
    assert [(c["channel"], c["orders"], c["revenue"]) for c in data["channels"]] == [
        ("counter", 1, D("55.00")), ("whatsapp", 1, D("60.00"))]
    assert [(p["method"], p["orders"], p["revenue"]) for p in data["payments"]] == [
        ("cash", 1, D("55.00")), ("pix", 1, D("60.00"))]
    # categories and products are item line totals (before the order's discount and delivery fee)
    assert [(c["name"], c["revenue"]) for c in data["categories"]] == [("Queijos", D("60.00")),
                                                                      ("Embutidos", D("50.00"))]
    assert [(p["name"], p["quantity"], p["revenue"], p["margin"]) for p in data["top_products_revenue"]] == [
        ("Queijo", D("3.000"), D("60.00"), D("30.00")), ("Salame", D("1.000"), D("50.00"), D("20.00"))]
    assert [p["name"] for p in data["top_products_quantity"]] == ["Queijo", "Salame"]


def test_margin_comes_from_the_cost_snapshots_not_todays_cost(tenant, shop):
    with schema_context(tenant.schema_name):
        before = _run(_custom("2025-03-10", "2025-03-11"))
        shop["queijo"].cost = D("99.00")
        shop["queijo"].save()
        shop["salame"].name = "Salame italiano"  # renamed: the table shows today's name
        shop["salame"].save()
        with connection.cursor() as cursor:  # even a rebuild from scratch reads the snapshots
            cursor.execute("DELETE FROM analytics_summary_state")
        after = _run(_custom("2025-03-10", "2025-03-11"))
    assert after["kpis"]["gross_margin"] == before["kpis"]["gross_margin"]
    assert after["kpis"]["gross_margin"]["value"] == D("42.9")
    assert after["top_products_revenue"][0]["margin"] == D("30.00")
    assert after["top_products_revenue"][1]["name"] == "Salame italiano"


def test_channel_filter_changes_every_number(tenant, shop):
    with schema_context(tenant.schema_name):
        whatsapp = _run(_custom("2025-03-10", "2025-03-11"), channel="whatsapp")
        counter = _run(_custom("2025-03-10", "2025-03-11"), channel="counter")
    k = whatsapp["kpis"]
    assert (k["revenue"]["value"], k["revenue"]["previous"], k["orders"]["value"]) == (D("60.00"), D("40.00"), 1)
    # Ana bought on WhatsApp in the period and had 2 orders by its end; her first was before it
    assert (k["recurring_share"]["value"], k["new_customers"]["value"]) == (D("100.0"), 0)
    assert [c["channel"] for c in whatsapp["channels"]] == ["whatsapp"]
    assert [p["name"] for p in whatsapp["top_products_revenue"]] == ["Salame"]
    assert whatsapp["heatmap"]["cells"] == {(1, 23): 1}
    k = counter["kpis"]
    assert (k["revenue"]["value"], k["revenue"]["previous"], k["revenue"]["change_pct"]) == (
        D("55.00"), D("0.00"), None)
    assert (k["recurring_share"]["value"], k["new_customers"]["value"]) == (D("0.0"), 1)
    assert [c["name"] for c in counter["categories"]] == ["Queijos"]


def test_summary_and_raw_reads_give_the_same_numbers(tenant, shop):
    """On the 11th at 18:00 the 11th is read raw (today so far); on the 20th it comes from the summary."""
    with schema_context(tenant.schema_name):
        raw = _run(_custom("2025-03-10", "2025-03-11", now=ON_THE_11TH), now=ON_THE_11TH)
        summary = _run(_custom("2025-03-10", "2025-03-11"))
    for key in ("totals", "channels", "payments", "categories", "top_products_revenue", "heatmap"):
        assert raw[key] == summary[key], key
    assert raw["kpis"]["recurring_share"] == summary["kpis"]["recurring_share"]


def test_today_is_compared_with_yesterday_until_the_same_time(tenant, shop):
    with schema_context(tenant.schema_name):
        data = _run(resolve("today", tz=SP, now=ON_THE_11TH), now=ON_THE_11TH)
    # today until 18:00: o3 (55); yesterday until 18:00: nothing (o2 was at 23:30)
    assert data["kpis"]["revenue"]["value"] == D("55.00")
    assert data["kpis"]["revenue"]["previous"] == D("0.00")
    cards = data["revenue_cards"]
    assert (cards["today"]["value"], cards["today"]["previous"], cards["today"]["change_pct"]) == (
        D("55.00"), D("0.00"), None)
    # this week from Monday 10/03: o2 + o3; this month: o1 + o2 + o3
    assert cards["week"]["value"] == D("115.00")
    assert cards["month"]["value"] == D("155.00")


def test_previous_month_to_the_same_day(tenant, shop):
    with schema_context(tenant.schema_name):
        make_order(at=local("2025-02-05 09:00"), items=[(shop["queijo"], 1)], channel="counter")  # 20
        make_order(at=local("2025-02-20 09:00"), items=[(shop["queijo"], 5)], channel="counter")  # after the 11th
        data = _run(resolve("month", tz=SP, now=ON_THE_11TH), now=ON_THE_11TH)
        last_month = _run(resolve("last_month", tz=SP, now=LATER))
    assert data["kpis"]["revenue"]["value"] == D("155.00")
    assert data["kpis"]["revenue"]["previous"] == D("20.00")  # 1..11 February, not the whole month
    assert last_month["kpis"]["revenue"]["value"] == D("120.00")  # all of February
    assert last_month["period"].first_day.isoformat() == "2025-02-01"


def test_recurring_customers_counted_up_to_the_end_of_each_period(tenant, shop):
    with schema_context(tenant.schema_name):
        # Bia's second order (o6, 12/03) makes her recurring in a period that includes it...
        with_o6 = _run(_custom("2025-03-11", "2025-03-12"))
        # ...but not in one that ends before it
        without_o6 = _run(_custom("2025-03-11", "2025-03-11"))
    assert (with_o6["kpis"]["recurring_share"]["recurring"], with_o6["kpis"]["recurring_share"]["buyers"]) == (1, 1)
    assert (without_o6["kpis"]["recurring_share"]["recurring"],
            without_o6["kpis"]["recurring_share"]["buyers"]) == (0, 1)
    assert with_o6["kpis"]["new_customers"]["value"] == 1  # Bia's first order is o3


def test_tenant_time_zone_moves_the_day_boundaries(tenant, shop):
    """Nothing is tied to São Paulo: in UTC, o2 (02:30 UTC on the 11th) belongs to the 11th."""
    import zoneinfo
    from datetime import date

    utc = zoneinfo.ZoneInfo("UTC")
    with schema_context(tenant.schema_name):
        period = resolve("custom", tz=utc, now=LATER, first=date(2025, 3, 11), last=date(2025, 3, 11))
        data = _run(period)
    assert data["timezone"] == "UTC"
    assert data["totals"]["orders"] == 2  # o2 and o3
    assert data["totals"]["revenue"] == D("115.00")


def test_beta_orders_never_reach_alphas_numbers(tenant, other_tenant, shop):
    with schema_context(other_tenant.schema_name):
        product = make_product("Pizza", price="70.00", cost="20.00")
        make_order(at=local("2025-03-10 20:00"), contact=make_contact("Zé"), items=[(product, 1)])
        beta = _run(_custom("2025-03-10", "2025-03-11"))
    with schema_context(tenant.schema_name):
        alpha = _run(_custom("2025-03-10", "2025-03-11"))
    assert alpha["kpis"]["revenue"]["value"] == D("115.00")
    assert [p["name"] for p in alpha["top_products_revenue"]] == ["Queijo", "Salame"]
    assert beta["kpis"]["revenue"]["value"] == D("70.00")
    assert [p["name"] for p in beta["top_products_revenue"]] == ["Pizza"]


def test_a_store_without_sales(tenant):
    with schema_context(tenant.schema_name):
        data = _run(_custom("2025-03-10", "2025-03-11"))
    assert data["has_sales"] is False
    assert data["kpis"]["revenue"]["value"] == Decimal("0.00")
    assert data["kpis"]["avg_ticket"]["value"] is None
    assert data["kpis"]["gross_margin"]["value"] is None
    assert data["kpis"]["recurring_share"]["value"] is None
    assert data["top_products_revenue"] == [] and data["categories"] == []
