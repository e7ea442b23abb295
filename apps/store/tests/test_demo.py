"""The store's demo data (apps/store/demo.py; ``seed_demo`` and ``seed_store``).

Seeding 25,000 orders takes seconds, so the module seeds tenant alpha once inside an outer
transaction that is rolled back at the end of the module (each test still runs in its own nested
transaction); nothing of it is ever committed, so no other test sees it."""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.store.demo import CATALOGUE, CITY, LEDGER_DAYS, seed_demo_store

DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - the commands' output, for the whole module
DEMO_SKUS = [item[0] for _category, items in CATALOGUE for item in items]


def _counts() -> dict:
    from apps.crm.models import Contact, ContactIdentity
    from apps.store import models as m

    return {"products": m.Product.objects.count(), "categories": m.Category.objects.count(),
            "zones": m.DeliveryZone.objects.count(), "contacts": Contact.objects.count(),
            "identities": ContactIdentity.objects.count(), "profiles": m.CustomerProfile.objects.count(),
            "addresses": m.Address.objects.count(), "orders": m.Order.objects.count(),
            "items": m.OrderItem.objects.count(), "events": m.OrderEvent.objects.count(),
            "movements": m.StockMovement.objects.count(), "settings": m.StoreSettings.objects.count()}


def _valid_cpf(number: str) -> bool:
    if len(number) != 11 or not number.isdigit() or len(set(number)) == 1:
        return False
    for size in (9, 10):
        check = sum(int(d) * w for d, w in zip(number[:size], range(size + 1, 1, -1))) * 10 % 11 % 10
        if check != int(number[size]):
            return False
    return True


def _scalar(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Tenant alpha seeded once for the module, rolled back afterwards."""
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            connection.set_schema_to_public()
            tenant = Tenant.objects.get(schema_name="alpha")
            with schema_context("alpha"):
                started = time.monotonic()
                created = seed_demo_store(tenant)
                seconds = time.monotonic() - started
                counts = _counts()
                # check the deferred foreign keys of the seeded rows now, once (every test's
                # teardown would otherwise check them all again)
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            yield {"tenant": tenant, "created": created, "seconds": seconds, "counts": counts,
                   "now": timezone.now()}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            connection.set_schema_to_public()


@pytest.fixture
def demo(seeded, alpha):
    """The seeded data, with alpha's schema active for the test."""
    return seeded


def test_seed_is_quick_and_reports_what_it_made(demo):
    print(f"store demo seeded in {demo['seconds']:.1f} s: {demo['created']}")
    assert demo["seconds"] < 20, demo  # seed_demo runs it before the browser tests
    created, counts = demo["created"], demo["counts"]
    assert created["products"] == counts["products"] and created["zones"] == counts["zones"]
    assert created["orders"] == counts["orders"] and created["items"] == counts["items"]
    assert created["customers"] == counts["profiles"] and counts["settings"] == 1


def test_seed_builds_the_shop_catalogue_and_zones(demo):
    from apps.store.models import Category, DeliveryZone, Product

    assert 55 <= Product.objects.count() <= 65
    assert set(Category.objects.values_list("name", flat=True)) == {
        "Queijos", "Frios fatiados", "Embutidos", "Laticínios", "Bebidas", "Congelados"}
    for product in Product.objects.all():
        assert Decimal("0.55") <= product.cost / product.price <= Decimal("0.75"), product
        assert product.category_id is not None and product.is_active
    by_name = {p.name: p for p in Product.objects.all()}
    for weighed in ("Presunto cozido", "Queijo muçarela", "Queijo prato", "Mortadela tradicional", "Salame italiano"):
        assert by_name[weighed].unit == "kg"
    assert Decimal("30") < by_name["Presunto cozido"].price < Decimal("80")  # R$ per kg
    assert by_name["Coca-Cola 2 L"].unit == "unit" and by_name["Lasanha bolonhesa 600 g"].unit == "unit"
    # a few below their minimum and one sold out, so the low-stock list has something to show
    assert 2 <= sum(1 for p in by_name.values() if p.stock_quantity < p.min_stock) <= 8
    assert any(p.stock_quantity == 0 for p in by_name.values())
    zones = DeliveryZone.objects.filter(city=CITY)
    assert 15 <= zones.count() <= 20 and zones.count() == DeliveryZone.objects.count()
    for zone in zones:
        assert Decimal("5") <= zone.fee <= Decimal("15") and zone.min_order >= Decimal("40")
        assert 20 <= zone.estimated_minutes <= 90 and zone.is_active
    # the fees the demo assistant's knowledge base quotes (apps/agents/demo.py)
    fees = dict(zones.values_list("neighbourhood", "fee"))
    assert fees["Centro"] == Decimal("5.00") and fees["Jardins"] == Decimal("8.00")
    assert fees["Vila Mariana"] == Decimal("12.00")


def test_seed_makes_a_year_of_orders_with_the_shops_rhythm(demo):
    from apps.store.models import Order

    tz = ZoneInfo(demo["tenant"].timezone)
    orders = list(Order.objects.values_list("placed_at", "channel", "status", "payment_method"))
    assert 23_000 <= len(orders) <= 27_000
    assert all(demo["now"] - timedelta(days=366) <= placed <= demo["now"] for placed, *_ in orders)
    share = {k: v / len(orders) for k, v in Counter(channel for _p, channel, *_ in orders).items()}
    assert 0.42 <= share["whatsapp"] <= 0.48 and 0.37 <= share["counter"] <= 0.43, share
    assert 0.03 <= share["phone"] <= 0.1 and 0.03 <= share["ifood"] <= 0.1 and 0.01 <= share["website"] <= 0.06
    statuses = Counter(status for _p, _c, status, _m in orders)
    assert 0.02 <= statuses["canceled"] / len(orders) <= 0.04, statuses
    assert statuses["delivered"] / len(orders) > 0.9 and not statuses["cart"]
    methods = Counter(m for *_x, m in orders)
    assert set(methods) == {"pix", "credit", "debit", "cash", "voucher"}
    assert methods.most_common(1)[0][0] == "pix"

    local = [placed.astimezone(tz) for placed, *_ in orders]
    assert all(8 <= t.hour < 19 for t in local)  # the shop's hours
    assert all(t.hour < 14 for t in local if t.weekday() == 5)  # Saturday until 14 h
    assert all(t.hour < 12 for t in local if t.weekday() == 6)  # a short Sunday morning
    per_weekday = Counter(t.weekday() for t in local)
    assert per_weekday[5] > per_weekday[4] > per_weekday[1] > per_weekday[6]  # Sat > Fri > Tue > Sun
    per_month = Counter((t.year, t.month) for t in local)
    december = max(v for (_y, m), v in per_month.items() if m == 12)
    others = sorted(v for (_y, m), v in per_month.items() if m != 12)[1:-1]  # without a partial month
    assert december > 1.25 * max(others)
    assert not any((t.month, t.day) in ((12, 25), (1, 1)) for t in local)  # closed on holidays


def test_seed_totals_match_the_items_as_the_order_services_compute_them(demo):
    from apps.store.models import Order, OrderItem

    assert _scalar("SELECT count(*) FROM store_orderitem WHERE total <> round(quantity * unit_price, 2)") == 0
    assert _scalar("""
        SELECT count(*) FROM store_order o
        LEFT JOIN (SELECT order_id, sum(total) AS s, round(sum(quantity * unit_cost), 2) AS c
                   FROM store_orderitem GROUP BY order_id) i ON i.order_id = o.id
        WHERE i.s IS NULL OR o.subtotal <> i.s OR o.cost_total <> i.c
           OR o.total <> o.subtotal - o.discount + o.delivery_fee
           OR o.discount < 0 OR o.discount > o.subtotal""") == 0
    # snapshots: the product's name, SKU, unit and category; the price and cost of that month
    assert _scalar("""
        SELECT count(*) FROM store_orderitem i JOIN store_product p ON p.id = i.product_id
        WHERE i.product_name <> p.name OR i.sku <> p.sku OR i.unit <> p.unit
           OR i.category_id IS DISTINCT FROM p.category_id
           OR i.unit_price > p.price OR i.unit_cost > p.cost OR i.unit_price < p.price * 0.9""") == 0
    old = OrderItem.objects.filter(order__placed_at__lt=demo["now"] - timedelta(days=200), sku="FF-001").first()
    assert old.unit_price < old.product.price  # prices went up during the year
    assert 2.4 <= OrderItem.objects.count() / Order.objects.count() <= 3.3
    assert not OrderItem.objects.filter(quantity__lte=0).exists()
    assert not OrderItem.objects.filter(unit="unit").exclude(quantity__in=[1, 2, 3, 4, 5, 6]).exists()
    # delivery only to known zones, with the zone's fee and at least its minimum
    assert _scalar("""
        SELECT count(*) FROM store_order o LEFT JOIN store_deliveryzone z ON z.id = o.zone_id
        WHERE (o.fulfillment = 'delivery' AND (z.id IS NULL OR o.delivery_fee <> z.fee
                                              OR o.subtotal - o.discount < z.min_order
                                              OR o.neighbourhood <> z.neighbourhood OR o.delivery_address = ''))
           OR (o.fulfillment = 'pickup' AND (o.delivery_fee <> 0 OR o.zone_id IS NOT NULL))""") == 0
    assert Order.objects.filter(fulfillment="delivery").count() > 2000
    assert not Order.objects.filter(channel="counter", fulfillment="delivery").exists()


def test_seed_numbers_come_from_the_sequence_and_statuses_are_consistent(demo):
    from apps.store.models import Order

    numbers = list(Order.objects.order_by("placed_at", "id").values_list("number", flat=True))
    assert None not in numbers and numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert _scalar("SELECT nextval('store_order_number_seq')") > numbers[-1]  # the next order goes on
    orders = Order.objects
    assert not orders.filter(status="delivered", delivered_at__isnull=True).exists()
    assert not orders.filter(status="canceled", canceled_at__isnull=True).exists()
    assert not orders.filter(status="canceled", cancel_reason="").exists()
    assert not orders.filter(channel="counter").exclude(status="delivered").exists()  # sold on the spot
    assert _scalar("SELECT count(*) FROM store_order WHERE channel = 'counter' AND delivered_at <> placed_at") == 0
    assert _scalar("""SELECT count(*) FROM store_order WHERE status = 'delivered' AND channel <> 'counter' AND NOT
                      (placed_at < confirmed_at AND confirmed_at < preparing_at AND preparing_at < ready_at
                       AND ready_at < delivered_at)""") == 0
    assert not orders.filter(fulfillment="pickup", out_for_delivery_at__isnull=False).exists()
    assert not orders.filter(status="delivered").exclude(payment_status="paid").exists()
    assert not orders.filter(payment_status="paid", paid_at__isnull=True).exists()
    assert not orders.filter(status="canceled", payment_status="paid").exists()
    assert orders.filter(status="canceled", payment_status="refunded").exists()
    assert not orders.filter(rating__isnull=False).exclude(status="delivered").exists()
    assert orders.filter(rating=5).count() > orders.filter(rating=1).count() > 0


def test_seed_customers_recur_and_their_since_is_the_first_order(demo):
    from apps.crm.models import Contact, ContactIdentity
    from apps.store.models import Address, CustomerProfile, Order

    tz = ZoneInfo(demo["tenant"].timezone)
    assert CustomerProfile.objects.count() == 800 == demo["created"]["customers"]
    customers = Contact.objects.filter(store_profile__isnull=False)
    assert customers.exclude(name="").count() == 800
    phones = list(customers.values_list("phone", flat=True))
    assert len(set(phones)) == 800 and all(p.startswith("+55119") and len(p) == 14 for p in phones)
    # found by the message path when they write on WhatsApp (one person, one contact)
    assert ContactIdentity.objects.filter(kind="phone", value__in=phones).count() == 800
    assert ContactIdentity.objects.filter(kind="wa_jid", contact__in=customers).count() == 800
    per_contact = list(Order.objects.filter(contact__isnull=False).values("contact")
                       .annotate(n=Count("id"), first=Min("placed_at")))
    assert len(per_contact) == 800  # every customer bought something
    recurring = sum(1 for row in per_contact if row["n"] >= 2)
    assert 0.6 <= recurring / 800 <= 0.95
    assert 50 <= max(row["n"] for row in per_contact) <= 250  # a few regulars buy every week
    since = dict(CustomerProfile.objects.values_list("contact_id", "customer_since"))
    assert all(since[row["contact"]] == row["first"].astimezone(tz).date() for row in per_contact)
    first_month = demo["now"] - timedelta(days=335)
    assert 0.2 <= sum(1 for row in per_contact if row["first"] < first_month) / 800 <= 0.45  # the regulars
    documents = [d for d in CustomerProfile.objects.values_list("document_number", flat=True) if d]
    assert 0.2 <= len(documents) / 800 <= 0.4 and all(_valid_cpf(d) for d in documents)
    # most have an address; delivery goes to the customer's own neighbourhood
    assert 0.55 <= Address.objects.values("contact").distinct().count() / 800 <= 0.8
    assert _scalar("""
        SELECT count(*) FROM store_order o WHERE o.fulfillment = 'delivery' AND NOT EXISTS (
            SELECT 1 FROM store_address a WHERE a.contact_id = o.contact_id AND a.neighbourhood = o.neighbourhood)
    """) == 0
    # counter sales are often anonymous; the other channels always know the customer
    assert not Order.objects.exclude(channel="counter").filter(contact__isnull=True).exists()
    anonymous = Order.objects.filter(channel="counter", contact__isnull=True).count()
    assert 0.5 <= anonymous / Order.objects.filter(channel="counter").count() <= 0.8


def test_seed_leaves_recent_orders_open_with_their_timeline(demo):
    from apps.store.models import Order

    open_orders = list(Order.objects.exclude(status__in=["delivered", "canceled"]))
    assert len(open_orders) >= 4
    assert {o.status for o in open_orders} <= {"placed", "confirmed", "preparing", "ready", "out_for_delivery"}
    assert "placed" in {o.status for o in open_orders}
    for order in open_orders:
        assert order.channel != "counter" and order.placed_at > demo["now"] - timedelta(days=LEDGER_DAYS)
        timeline = list(order.events.filter(kind="status").values_list("status", flat=True))
        assert timeline[0] == "placed" and timeline[-1] == order.status, (order.pk, timeline)
        assert getattr(order, f"{order.status}_at") is not None
        assert order.delivered_at is None and order.rating is None
    # every order of the last 30 days has its timeline; older ones only their timestamps (kept small)
    recent = Order.objects.filter(placed_at__gte=demo["now"] - timedelta(days=29))
    assert not recent.filter(events__isnull=True).exists()
    delivered = recent.filter(status="delivered", channel="whatsapp", fulfillment="delivery").first()
    assert list(delivered.events.filter(kind="status").values_list("status", flat=True)) == [
        "placed", "confirmed", "preparing", "ready", "out_for_delivery", "delivered"]
    assert delivered.events.filter(kind="payment").count() == 1
    assert not Order.objects.filter(placed_at__lt=demo["now"] - timedelta(days=40), events__isnull=False).exists()


def test_seed_stock_ledger_explains_every_products_stock(demo):
    from apps.store.models import Order, Product, StockMovement

    since = demo["now"] - timedelta(days=LEDGER_DAYS)
    for product in Product.objects.all():
        movements = list(StockMovement.objects.filter(product=product).order_by("created_at", "id"))
        assert sum((m.quantity for m in movements), Decimal("0")) == product.stock_quantity, product
        running = Decimal("0")
        for movement in movements:  # each balance follows from the previous one, never below zero
            running += movement.quantity
            assert movement.balance_after == running >= 0, (product, movement.kind)
    # open orders hold what they ordered; counter sales sold it; canceled orders got it back
    for order in Order.objects.filter(placed_at__gte=since + timedelta(minutes=1)).prefetch_related("items"):
        held = dict(order.movements.values("product").annotate(net=Sum("quantity")).values_list("product", "net"))
        kinds = set(order.movements.values_list("kind", flat=True))
        if order.status == "canceled":
            assert kinds == {"reservation", "release"} and not any(held.values()), order.pk
        else:
            assert kinds == ({"sale"} if order.channel == "counter" else {"reservation"}), order.pk
            assert held == {i.product_id: -i.quantity for i in order.items.all()}, order.pk
    assert not StockMovement.objects.filter(order__placed_at__lt=since).exists()


def test_a_second_run_adds_nothing(demo):
    before = _counts()
    again = seed_demo_store(demo["tenant"])
    assert _counts() == before == demo["counts"]
    assert again["orders"] == again["customers"] == again["products"] == again["zones"] == 0


def test_scale_two_doubles_the_orders_with_new_customers(demo):
    from apps.crm.models import Contact
    from apps.store.models import Order

    tz = ZoneInfo(demo["tenant"].timezone)
    today = datetime.combine(demo["now"].astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    first = demo["counts"]
    first_past = Order.objects.filter(placed_at__lt=today).count()
    sample = list(Order.objects.order_by("number").values_list("channel", "subtotal", "payment_method")[:300])

    call_command("seed_store", "--schema", demo["tenant"].schema_name, "--scale", "2", stdout=DEVNULL)

    doubled = _counts()
    assert Order.objects.filter(placed_at__lt=today).count() == 2 * first_past  # the same days, twice
    assert abs(doubled["orders"] - 2 * first["orders"]) <= 3  # today's share depends on the minute
    assert doubled["profiles"] == 2 * first["profiles"] == 1600
    assert doubled["products"] == first["products"] and doubled["zones"] == first["zones"]
    assert not Contact.objects.values("phone").annotate(n=Count("id")).filter(n__gt=1).exists()
    # the first chunk is untouched; the second is another set of orders, not a copy
    numbers = Order.objects.order_by("number").values_list("channel", "subtotal", "payment_method")
    assert list(numbers[:300]) == sample
    assert list(numbers[first["orders"]:first["orders"] + 300]) != sample
    # and a second --scale 2 adds nothing
    call_command("seed_store", "--schema", demo["tenant"].schema_name, "--scale", "2", stdout=DEVNULL)
    assert _counts() == doubled


def test_seeding_is_deterministic(other_tenant, demo):
    """The same data every time: beta seeded now (rolled back) equals alpha seeded at the module's
    start, for every day before today."""
    from apps.store.models import Order

    tz = ZoneInfo(demo["tenant"].timezone)
    today = datetime.combine(demo["now"].astimezone(tz).date(), datetime.min.time(), tzinfo=tz)

    def fingerprint():
        return list(Order.objects.filter(placed_at__lt=today).order_by("placed_at", "number").values_list(
            "placed_at", "channel", "status", "subtotal", "total", "payment_method", "contact__phone"))

    mine = fingerprint()
    with schema_context(other_tenant.schema_name):
        seed_demo_store(other_tenant)
        theirs = fingerprint()
    assert len(mine) > 20_000 and mine == theirs


def test_seeding_alpha_leaves_beta_untouched(other_tenant, demo):
    from apps.crm.models import Contact
    from apps.store.models import Order, Product

    phones = list(Contact.objects.filter(store_profile__isnull=False).values_list("phone", flat=True)[:50])
    with schema_context(other_tenant.schema_name):
        assert not Product.objects.filter(sku__in=DEMO_SKUS).exists()
        assert not Order.objects.exists()
        assert not Contact.objects.filter(phone__in=phones).exists()


def test_the_demo_chat_gets_its_order_and_the_assistant_its_ordering_tools(demo):
    """With the WhatsApp demo and the demo assistant present, Maria's chat (she asked for 500 g of
    presunto and 300 g of queijo prato, delivered in Jardins) has that order, linked to it, and the
    assistant takes orders with the store's tools."""
    from apps.agents.demo import ASSISTANT_NAME
    from apps.agents.models import Assistant
    from apps.agents.tools import get_tool
    from apps.store.models import Order
    from apps.whatsapp.demo import seed_demo_sandbox
    from apps.whatsapp.services.simulator import current_conversation

    conn = seed_demo_sandbox(demo["tenant"])
    assistant = Assistant.objects.create(name=ASSISTANT_NAME, enabled_tools=["handoff_to_human"])
    before = Order.objects.count()

    seed_demo_store(demo["tenant"])

    conversation = current_conversation(conn, "+5511987650001")
    order = Order.objects.get(conversation=conversation)
    assert Order.objects.count() == before + 1
    assert order.contact_id == conversation.contact_id and order.channel == "whatsapp"
    assert order.status == "preparing" and order.number > 0
    assert {(i.sku, i.quantity) for i in order.items.all()} == {("FF-001", Decimal("0.512")),
                                                                ("QJ-003", Decimal("0.304"))}
    assert order.fulfillment == "delivery" and order.neighbourhood == "Jardins"
    assert order.total == order.subtotal + order.delivery_fee
    assert list(order.events.filter(kind="status").values_list("status", flat=True)) == [
        "placed", "confirmed", "preparing"]
    assert dict(order.movements.values_list("kind", "order")) == {"reservation": order.pk}
    assert conversation.contact.store_profile.customer_since is not None

    wanted = ["search_products", "add_to_cart", "update_cart_item", "remove_from_cart", "view_cart",
              "set_delivery", "set_payment_method", "confirm_order", "order_status"]
    assistant.refresh_from_db()
    present = [name for name in wanted if get_tool(name) is not None]
    assert set(assistant.enabled_tools) == {"handoff_to_human", *present}  # the staff's choice kept

    # running it again changes nothing
    again = _counts()
    seed_demo_store(demo["tenant"])
    assert _counts() == again


def test_the_command_refuses_bad_arguments(db):
    for args in (["--schema", "nope"], ["--schema", "alpha", "--scale", "0"], ["--schema", "public"]):
        with pytest.raises(CommandError):
            call_command("seed_store", *args, stdout=DEVNULL)
