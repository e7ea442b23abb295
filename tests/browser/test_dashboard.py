"""The Visão Geral in a real browser against a live uvicorn: the demo admin lands on it at "/",
sees the KPI cards, the four Chart.js charts drawn and the heatmap with the demo data; changing
the period or the channel swaps the content (htmx) with the numbers the database gives for it and
keeps the filters in the URL; a bad custom range shows the form's error; on a phone nothing
scrolls sideways and the charts fit the screen.

The test adds a few orders of its own (today and ten days ago, committed, removed at the end) so
that "today" and "last 30 days" differ whatever the demo seeder has written."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.db import connection

from .conftest import SCREENSHOTS
from .helpers import no_horizontal_scroll as _no_horizontal_scroll
from .helpers import sign_in as _sign_in
from .helpers import watch as _watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCHEMA = "3afrios"
CHARTS = ("series", "channels", "payments", "categories")


@pytest.fixture
def db_thread(shell_server, django_db_blocker):
    """Run database work committed, in its own thread (Playwright's loop runs in this one)."""
    from apps.notifications.tests.realtime import in_fresh_thread

    with django_db_blocker.unblock():
        yield in_fresh_thread
    connection.set_schema_to_public()


def _add_orders(tag: str) -> list[int]:
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.analytics.tests.factories import make_order, make_product

    with schema_context(SCHEMA):
        product = make_product(f"Queijo do teste {tag}", price="43.21", cost="20.00")
        now = timezone.now()
        orders = [
            make_order(at=now - timedelta(minutes=5), items=[(product, 2)], channel="counter", payment_method="cash"),
            make_order(at=now - timedelta(minutes=3), items=[(product, 1)], channel="whatsapp"),
            make_order(at=now - timedelta(days=10), items=[(product, 5)], channel="whatsapp"),
        ]
        return [product.pk, *(o.pk for o in orders)]


def _remove(ids: list[int]) -> None:
    from django_tenants.utils import schema_context

    from apps.store.models import Order, Product

    with schema_context(SCHEMA):
        Order.objects.filter(pk__in=ids[1:]).delete()
        Product.objects.filter(pk=ids[0]).delete()


def _revenue(key: str, channel: str = "") -> str:
    """The period's revenue as the page shows it (pt-BR), computed by the selectors now."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.analytics.periods import resolve, tenant_zone
    from apps.analytics.selectors import overview
    from apps.core.templatetags.money import format_money

    with schema_context(SCHEMA):
        now = timezone.now()
        period = resolve(key, tz=tenant_zone(), now=now)
        value = overview(period=period, channel=channel, now=now)["kpis"]["revenue"]["value"]
    return format_money(value, language="pt-br").replace("\xa0", " ")


def _kpi(page, key: str) -> str:
    return page.get_by_test_id(f"kpi-{key}").get_by_test_id("kpi-value").inner_text().replace("\xa0", " ").strip()


def _charts_drawn(page) -> None:
    from playwright.sync_api import expect

    for chart in CHARTS:
        expect(page.locator(f'canvas[data-chart="{chart}"]')).to_have_attribute("data-rendered", "true")


def test_overview_kpis_charts_filters_and_phone(shell_server, demo_admin, browser, db_thread):
    from playwright.sync_api import expect

    tag = secrets.token_hex(3)
    ids = db_thread(_add_orders, tag)
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _watch(page, problems)
    try:
        # 1. the home page is the Visão Geral: KPI cards, the charts drawn, the heatmap, top products
        _sign_in(page, shell_server, *demo_admin)
        assert page.url == shell_server + "/"
        content = page.locator("#overview-content")
        expect(content).to_have_attribute("data-period", "30d")
        for key in ("revenue_today", "revenue_week", "revenue_month", "revenue", "orders", "avg_ticket",
                    "gross_margin", "recurring_share", "new_customers", "ai_share"):
            expect(page.get_by_test_id(f"kpi-{key}")).to_be_visible()
        _charts_drawn(page)
        expect(page.get_by_test_id("heatmap")).to_be_visible()
        assert page.locator('[data-testid="heatmap"] td[data-level]:not([data-level="0"])').count() >= 1
        expect(page.get_by_test_id("top-revenue").get_by_test_id("top-row").first).to_be_visible()
        thirty_days = db_thread(_revenue, "30d")
        assert _kpi(page, "revenue") == thirty_days
        page.screenshot(path=str(SCREENSHOTS / "overview-30d-1280.png"), full_page=True)

        # 2. the period changes everything, without a reload, and the URL keeps it
        with page.expect_response(lambda r: "/overview/" in r.url and "period=today" in r.url):
            page.get_by_test_id("filter-period").select_option("today")
        expect(content).to_have_attribute("data-period", "today")
        today = db_thread(_revenue, "today")
        expect(page.get_by_test_id("kpi-revenue").get_by_test_id("kpi-value")).to_have_text(today)
        assert today != thirty_days  # the order of ten days ago is only in the 30 days
        assert "period=today" in page.url
        _charts_drawn(page)  # drawn again after the swap

        # 3. the channel too
        with page.expect_response(lambda r: "channel=counter" in r.url):
            page.get_by_test_id("filter-channel").select_option("counter")
        expect(content).to_have_attribute("data-channel", "counter")
        expect(page.get_by_test_id("kpi-revenue").get_by_test_id("kpi-value")).to_have_text(
            db_thread(_revenue, "today", "counter"))
        assert "channel=counter" in page.url

        # 4. a custom range that ends before it starts: the form says so, nothing breaks
        page.get_by_test_id("filter-period").select_option("custom")
        page.get_by_test_id("filter-start").fill("2025-03-12")
        page.get_by_test_id("filter-end").fill("2025-03-10")
        with page.expect_response(lambda r: "period=custom" in r.url and r.status == 400):
            page.get_by_test_id("filter-apply").click()
        expect(page.get_by_test_id("filters-invalid")).to_be_visible()
        expect(page.locator("#overview-content .field-error").first).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "overview-invalid-1280.png"), full_page=True)
        state = context.storage_state()

        # 5. a phone: no sideways scrolling, the charts fit, touch-sized filters
        phone = browser.new_context(viewport={"width": 375, "height": 812}, storage_state=state, is_mobile=True,
                                    has_touch=True)
        mobile = phone.new_page()
        _watch(mobile, problems)
        mobile.goto(shell_server + "/overview/?period=30d")
        _charts_drawn(mobile)
        expect(mobile.get_by_test_id("kpi-revenue")).to_be_visible()
        for chart in CHARTS:
            box = mobile.locator(f'canvas[data-chart="{chart}"]').bounding_box()
            assert box["width"] <= 375 and box["height"] > 100, (chart, box)
        for control in ("filter-period", "filter-channel", "filter-apply"):
            assert mobile.get_by_test_id(control).bounding_box()["height"] >= 44, control
        _no_horizontal_scroll(mobile)
        mobile.screenshot(path=str(SCREENSHOTS / "overview-375.png"), full_page=True)
        with mobile.expect_response(lambda r: "period=7d" in r.url):
            mobile.get_by_test_id("filter-period").select_option("7d")
        expect(mobile.locator("#overview-content")).to_have_attribute("data-period", "7d")
        _no_horizontal_scroll(mobile)
        phone.close()
    finally:
        context.close()
        db_thread(_remove, ids)
    assert not problems, problems
