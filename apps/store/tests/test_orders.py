"""Orders: carts, placing with stock reservation, counter sales, the status machine, cancel,
payment, rating, numbering, money, realtime events, isolation and the last-unit race."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import make_conversation
from apps.store.errors import StoreError
from apps.store.models import CustomerProfile, Order, OrderEvent, Product, StockMovement
from apps.store.services import orders as svc
from apps.store.services.catalog import product_deactivate

from .conftest import D, cleanup_store, make_customer, make_order, make_product, make_zone, store_settings_set

pytestmark = pytest.mark.usefixtures("english")


def stock_of(product) -> Decimal:
    return Product.objects.get(pk=product.pk).stock_quantity


def movements(order):
    return list(StockMovement.objects.filter(order=order).order_by("id")
                .values_list("product__name", "kind", "quantity", "balance_after"))


def refused(code, call, *args, **kwargs) -> StoreError:
    with pytest.raises(StoreError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


@pytest.fixture
def customer(alpha):
    return make_customer("Maria Souza")


@pytest.fixture
def cart(customer):
    return svc.cart_for(contact=customer, channel="whatsapp")


# --- carts --------------------------------------------------------------------------------------


def test_one_open_cart_per_contact_and_conversation(customer):
    conversation = make_conversation(contact=customer)
    other = make_conversation(contact=customer)
    first = svc.cart_for(contact=customer, conversation=conversation)
    assert svc.cart_for(contact=customer, conversation=conversation) == first
    assert svc.cart_for(contact=customer, conversation=other) != first
    assert svc.cart_for(contact=make_customer(), conversation=conversation, create=False) is None
    assert (first.status, first.number, first.channel) == ("cart", None, "whatsapp")


def test_adding_snapshots_the_product_merges_lines_and_recomputes(cart):
    cheese = make_product("Queijo prato", price="42.90", cost="30.00", stock="20")
    item = svc.cart_add_item(cart, product=cheese, quantity=D("2"))
    again = svc.cart_add_item(cart, product=cheese, quantity=D("1"))

    assert again.pk == item.pk and cart.items.count() == 1
    again.refresh_from_db()
    assert (again.product_name, again.sku, again.unit, again.quantity, again.unit_price, again.unit_cost,
            again.total) == ("Queijo prato", cheese.sku, "unit", D("3"), D("42.90"), D("30.00"), D("128.70"))
    assert (cart.subtotal, cart.total, cart.cost_total) == (D("128.70"), D("128.70"), D("90.00"))
    assert stock_of(cheese) == D("20")  # a cart holds nothing
    assert StockMovement.objects.filter(order=cart).count() == 0


def test_update_and_remove_recompute_totals(cart):
    ham = make_product("Presunto", price="10.00")
    salami = make_product("Salame", price="5.50")
    ham_line = svc.cart_add_item(cart, product=ham, quantity=D("2"))
    salami_line = svc.cart_add_item(cart, product=salami, quantity=D("1"))
    svc.cart_update_item(cart, item=ham_line, quantity=D("4"))
    assert cart.subtotal == D("45.50")
    svc.cart_remove_item(cart, item=salami_line)
    assert (cart.subtotal, cart.total) == (D("40.00"), D("40.00"))
    assert list(cart.items.values_list("product_name", flat=True)) == ["Presunto"]


def test_cart_changes_set_the_sweeps_due_times(customer):
    store_settings_set(cart_reminder_minutes=7, cart_cancel_minutes=20, ordering_reset_minutes=90)
    cart = svc.cart_for(contact=customer, conversation=make_conversation(contact=customer))
    before = timezone.now()
    svc.cart_add_item(cart, product=make_product(), quantity=D("1"))
    assert before + timedelta(minutes=7) <= cart.cart_reminder_due_at <= timezone.now() + timedelta(minutes=7)
    assert before + timedelta(minutes=20) <= cart.cart_cancel_due_at <= timezone.now() + timedelta(minutes=20)
    assert before + timedelta(minutes=90) <= cart.ordering_reset_due_at <= timezone.now() + timedelta(minutes=90)
    svc.order_place(cart)
    assert (cart.cart_reminder_due_at, cart.cart_cancel_due_at, cart.ordering_reset_due_at) == (None, None, None)


@pytest.mark.parametrize("quantity", ["0", "-1", "1.5", "abc"])
def test_bad_quantities_are_refused_and_change_nothing(cart, quantity):
    product = make_product("Requeijão", unit="unit")
    refused("quantity_invalid", svc.cart_add_item, cart, product=product, quantity=quantity)
    assert cart.items.count() == 0 and Order.objects.get(pk=cart.pk).subtotal == 0


def test_zero_on_update_is_refused(cart):
    line = svc.cart_add_item(cart, product=make_product(), quantity=D("2"))
    refused("quantity_invalid", svc.cart_update_item, cart, item=line, quantity=D("0"))
    line.refresh_from_db()
    assert line.quantity == D("2")


def test_over_the_per_item_limit_is_refused_counting_what_is_already_in_the_cart(cart):
    product = make_product("Cerveja lata", stock="100")
    svc.cart_add_item(cart, product=product, quantity=D("8"))
    error = refused("quantity_over_limit", svc.cart_add_item, cart, product=product, quantity=D("3"))
    assert error.messages == ["You can order at most 10 of Cerveja lata."]
    store_settings_set(max_quantity_per_item=D("12"))
    svc.cart_add_item(cart, product=product, quantity=D("3"))
    assert cart.items.get().quantity == D("11")


def test_more_than_the_stock_is_refused_with_what_is_left(cart):
    product = make_product("Provolone", stock="2")
    error = refused("out_of_stock", svc.cart_add_item, cart, product=product, quantity=D("3"))
    assert error.messages == ["Only 2 of Provolone left in stock."]
    assert error.params["available"] == "2"
    assert cart.items.count() == 0


def test_inactive_and_missing_products_are_refused(cart):
    product = make_product("Salaminho")
    product_deactivate(product)
    error = refused("product_inactive", svc.cart_add_item, cart, product=product, quantity=D("1"))
    assert error.messages == ["Salaminho is not available any more."]
    refused("product_not_found", svc.cart_add_item, cart, product=999999, quantity=D("1"))
    assert cart.items.count() == 0


def test_a_product_deactivated_while_in_the_cart_blocks_placing(cart):
    product = make_product("Coppa", stock="5")
    svc.cart_add_item(cart, product=product, quantity=D("1"))
    product_deactivate(product)
    refused("product_inactive", svc.order_place, cart)
    assert Order.objects.get(pk=cart.pk).status == "cart" and stock_of(product) == D("5")


def test_items_of_a_placed_order_cannot_change_through_the_cart_services(cart):
    line = svc.cart_add_item(cart, product=make_product(), quantity=D("1"))
    svc.order_place(cart)
    refused("not_a_cart", svc.cart_add_item, cart, product=make_product(), quantity=D("1"))
    refused("not_a_cart", svc.cart_update_item, cart, item=line, quantity=D("2"))
    refused("not_a_cart", svc.cart_remove_item, cart, item=line)


# --- money --------------------------------------------------------------------------------------


def test_money_is_rounded_half_up_per_line_and_summed(cart):
    picanha = make_product("Queijo gorgonzola", unit="kg", price="59.90", cost="41.27", stock="5")
    mortadela = make_product("Mortadela", unit="kg", price="10.10", cost="6.02", stock="5")
    svc.cart_add_item(cart, product=picanha, quantity=D("0.333"))  # 19.9467 -> 19.95
    svc.cart_add_item(cart, product=mortadela, quantity=D("0.25"))  # 2.525 -> 2.53 (half up, not 2.52)

    assert sorted(cart.items.values_list("total", flat=True)) == [D("2.53"), D("19.95")]
    assert cart.subtotal == D("22.48")
    # cost: 0.333 * 41.27 = 13.74291, 0.25 * 6.02 = 1.505 -> 15.24791 -> 15.25
    assert cart.cost_total == D("15.25")
    assert isinstance(cart.total, Decimal) and cart.total == D("22.48")


def test_totals_are_recomputed_from_the_database_whatever_was_stored(cart):
    product = make_product("Queijo coalho", price="25.00", stock="10")
    line = svc.cart_add_item(cart, product=product, quantity=D("2"))
    # a client (or a bug) writes its own numbers: a cheaper line and a tiny total
    Order.objects.filter(pk=cart.pk).update(subtotal=D("1.00"), total=D("1.00"))
    type(line).objects.filter(pk=line.pk).update(unit_price=D("0.01"), total=D("0.02"))
    svc.order_place(cart)

    line.refresh_from_db()
    assert (line.unit_price, line.total) == (D("25.00"), D("50.00"))  # prices come from the catalogue
    assert (cart.subtotal, cart.total) == (D("50.00"), D("50.00"))


def test_placing_uses_the_current_price(cart):
    product = make_product("Peito de peru", price="8.00")
    svc.cart_add_item(cart, product=product, quantity=D("2"))
    Product.objects.filter(pk=product.pk).update(price=D("9.50"), cost=D("7.00"))
    svc.order_place(cart)
    assert (cart.subtotal, cart.cost_total) == (D("19.00"), D("14.00"))


def test_discount_and_delivery_fee_make_the_total(customer):
    make_zone("Centro", fee="7.50")
    product = make_product(price="20.00")
    order = make_order([(product, 3)], contact=customer, discount=D("5.00"), fulfillment="delivery",
                       neighbourhood="centro")
    assert (order.subtotal, order.discount, order.delivery_fee, order.total) == (
        D("60.00"), D("5.00"), D("7.50"), D("62.50"))
    refused("discount_invalid", svc.order_set_discount, order, discount=D("60.01"))
    refused("discount_invalid", svc.order_set_discount, order, discount=D("-1"))
    svc.order_set_discount(order, discount=D("10"))
    assert order.total == D("57.50")


# --- delivery -----------------------------------------------------------------------------------


def test_delivery_finds_the_zone_ignoring_case_and_accents(cart):
    zone = make_zone("Jardim América", fee="6.00")
    svc.cart_add_item(cart, product=make_product(price="30.00"), quantity=D("1"))
    svc.order_set_delivery(cart, neighbourhood="  jardim   AMERICA ", address="Rua A, 10")
    assert (cart.zone, cart.neighbourhood, cart.delivery_fee, cart.total, cart.delivery_address) == (
        zone, "Jardim América", D("6.00"), D("36.00"), "Rua A, 10")
    svc.order_set_delivery(cart, neighbourhood="", fulfillment="pickup")
    assert (cart.zone, cart.delivery_fee, cart.total, cart.fulfillment) == (None, D("0"), D("30.00"), "pickup")


def test_an_unknown_neighbourhood_is_refused_and_changes_nothing(cart):
    make_zone("Centro", fee="5.00")
    error = refused("unknown_zone", svc.order_set_delivery, cart, neighbourhood="Vila Nova", address="Rua B")
    assert error.messages == ["Sorry, we don't deliver to Vila Nova yet."]
    cart.refresh_from_db()
    assert (cart.neighbourhood, cart.delivery_address, cart.zone) == ("", "", None)


def test_an_inactive_zone_is_unknown(cart):
    make_zone("Centro", is_active=False)
    refused("unknown_zone", svc.order_set_delivery, cart, neighbourhood="Centro")


def test_staff_may_keep_an_unknown_neighbourhood_and_place_it(cart, owner):
    svc.cart_add_item(cart, product=make_product(), quantity=D("1"))
    svc.order_set_delivery(cart, neighbourhood="Sítio Novo", allow_unknown_zone=True)
    refused("unknown_zone", svc.order_place, cart)  # the assistant alone cannot
    svc.order_place(cart, user=owner, allow_unknown_zone=True)
    assert (cart.status, cart.zone, cart.neighbourhood) == ("placed", None, "Sítio Novo")


def test_a_delivery_below_the_zones_minimum_is_refused(cart):
    make_zone("Centro", fee="5.00", min_order="50.00")
    product = make_product("Queijo", price="20.00", stock="10")
    svc.cart_add_item(cart, product=product, quantity=D("2"))
    svc.order_set_delivery(cart, neighbourhood="Centro")
    error = refused("below_minimum", svc.order_place, cart)
    assert error.messages == ["The minimum order for delivery to Centro is R$ 50.00 (this order: R$ 40.00)."]
    cart.refresh_from_db()
    assert (cart.status, cart.number) == ("cart", None)
    assert stock_of(product) == D("10") and movements(cart) == []
    svc.cart_add_item(cart, product=product, quantity=D("1"))
    svc.order_place(cart)
    assert cart.status == "placed" and cart.total == D("65.00")


def test_payment_method_must_be_known(cart):
    refused("payment_method_invalid", svc.order_set_payment_method, cart, method="bitcoin")
    svc.order_set_payment_method(cart, method="pix")
    assert cart.payment_method == "pix"


# --- placing ------------------------------------------------------------------------------------


def test_placing_reserves_stock_numbers_the_order_and_records_who(customer, django_capture_on_commit_callbacks):
    conversation = make_conversation(contact=customer)
    cart = svc.cart_for(contact=customer, conversation=conversation)
    cheese = make_product("Queijo minas", price="30.00", stock="10")
    ham = make_product("Presunto", unit="kg", price="40.00", stock="3.5")
    svc.cart_add_item(cart, product=cheese, quantity=D("2"))
    svc.cart_add_item(cart, product=ham, quantity=D("0.75"))
    with django_capture_on_commit_callbacks() as callbacks:
        svc.order_place(cart, by_ai=True)

    assert cart.status == "placed" and cart.number and cart.placed_at and cart.created_by_ai
    assert (stock_of(cheese), stock_of(ham)) == (D("8"), D("2.75"))
    assert sorted(movements(cart)) == [("Presunto", "reservation", D("-0.75"), D("2.75")),
                                       ("Queijo minas", "reservation", D("-2"), D("8"))]
    event = OrderEvent.objects.get(order=cart)
    assert (event.status, event.by_ai, event.user) == ("placed", True, None)
    assert CustomerProfile.objects.get(contact=customer).customer_since is not None
    assert len(callbacks) == 1  # the realtime announcement waits for the commit


def test_placing_rechecks_stock_that_changed_since_the_cart(cart, customer):
    product = make_product("Última peça", stock="3")
    svc.cart_add_item(cart, product=product, quantity=D("3"))
    make_order([(product, 2)], contact=make_customer())  # someone else bought two meanwhile
    error = refused("out_of_stock", svc.order_place, cart)
    assert error.messages == ["Only 1 of Última peça left in stock."]
    cart.refresh_from_db()
    assert (cart.status, cart.number) == ("cart", None) and stock_of(product) == D("1")


def test_all_lines_or_none_are_reserved(cart):
    plenty = make_product("Muito", stock="50")
    scarce = make_product("Pouco", stock="1")
    svc.cart_add_item(cart, product=plenty, quantity=D("5"))
    svc.cart_add_item(cart, product=scarce, quantity=D("1"))
    Product.objects.filter(pk=scarce.pk).update(stock_quantity=0)
    refused("out_of_stock", svc.order_place, cart)
    assert stock_of(plenty) == D("50") and movements(cart) == []


def test_empty_and_already_placed_carts_cannot_be_placed(cart):
    refused("empty_cart", svc.order_place, cart)
    svc.cart_add_item(cart, product=make_product(), quantity=D("1"))
    svc.order_place(cart)
    number = cart.number
    refused("not_a_cart", svc.order_place, cart)
    assert Order.objects.get(pk=cart.pk).number == number


def test_customer_since_is_the_first_order_day_in_the_tenants_time_zone(customer, tenant):
    # 02:30 UTC on 10 March is still 9 March in São Paulo (UTC-3)
    late_evening = datetime(2025, 3, 10, 2, 30, tzinfo=dt_timezone.utc)
    make_order([(make_product(), 1)], contact=customer, placed_at=late_evening, status="delivered")
    assert tenant.timezone == "America/Sao_Paulo"
    assert str(CustomerProfile.objects.get(contact=customer).customer_since) == "2025-03-09"
    make_order([(make_product(), 1)], contact=customer)  # a later order keeps the first day
    assert str(CustomerProfile.objects.get(contact=customer).customer_since) == "2025-03-09"


def test_selling_without_stock_lets_orders_through(cart):
    store_settings_set(allow_negative_stock=True)
    product = make_product(stock="1")
    svc.cart_add_item(cart, product=product, quantity=D("3"))
    svc.order_place(cart)
    assert stock_of(product) == D("-2")


# --- counter sales ------------------------------------------------------------------------------


def test_a_counter_sale_handed_over_is_delivered_paid_and_writes_sale_movements(alpha, owner):
    cheese = make_product("Queijo", price="12.34", cost="8.00", stock="40")
    order = make_order([(cheese, 12), (cheese.pk, "1")], contact=None, channel="counter", payment_method="cash",
                       paid=True, status="delivered", user=owner)
    assert (order.status, order.payment_status, order.channel, order.created_by) == (
        "delivered", "paid", "counter", owner)
    assert order.placed_at and order.delivered_at == order.placed_at and order.paid_at
    assert order.items.get().quantity == D("13")  # same product merged, no limit at the counter
    assert (order.subtotal, order.cost_total, order.total) == (D("160.42"), D("104.00"), D("160.42"))
    assert movements(order) == [("Queijo", "sale", D("-13"), D("27"))]
    assert list(order.events.values_list("kind", "status", "user")) == [
        ("status", "placed", owner.pk), ("status", "delivered", owner.pk), ("payment", "", owner.pk)]


def test_an_order_over_whatsapp_keeps_the_per_item_limit(customer):
    product = make_product(stock="50")
    refused("quantity_over_limit", make_order, [(product, 11)], contact=customer, channel="whatsapp")
    assert not Order.objects.filter(contact=customer).exists()


def test_a_counter_sale_refuses_what_is_not_in_stock_and_leaves_no_order(customer):
    product = make_product("Brie", stock="1")
    other = make_product("Camembert", stock="5")
    refused("out_of_stock", make_order, [(other, 2), (product, 2)], contact=customer)
    assert not Order.objects.filter(contact=customer).exists()
    assert (stock_of(product), stock_of(other)) == (D("1"), D("5"))


def test_a_counter_sale_with_bad_input_is_refused(customer):
    product = make_product()
    refused("empty_cart", make_order, [], contact=customer)
    refused("product_not_found", make_order, [(123456789, 1)], contact=customer)
    refused("payment_method_invalid", make_order, [(product, 1)], contact=customer, payment_method="gold")
    refused("channel_invalid", make_order, [(product, 1)], contact=customer, channel="pigeon")
    refused("invalid_transition", make_order, [(product, 1)], contact=customer, status="ready")
    refused("unknown_zone", make_order, [(product, 1)], contact=customer, fulfillment="delivery",
            neighbourhood="Lugar Nenhum")
    assert not Order.objects.filter(contact=customer).exists()


# --- status machine -----------------------------------------------------------------------------


def test_a_delivery_walks_every_status_with_timestamps_and_who(customer, owner):
    make_zone("Centro")
    order = make_order([(make_product(), 1)], contact=customer, fulfillment="delivery", neighbourhood="Centro")
    seen = []
    for by_ai in (False, True, False, False, False):
        svc.order_advance(order, user=None if by_ai else owner, by_ai=by_ai)
        seen.append(order.status)
    assert seen == ["confirmed", "preparing", "ready", "out_for_delivery", "delivered"]
    for status in seen:
        assert getattr(order, f"{status}_at") is not None
    timeline = list(order.events.values_list("status", "user", "by_ai"))
    assert timeline == [("placed", None, False), ("confirmed", owner.pk, False), ("preparing", None, True),
                        ("ready", owner.pk, False), ("out_for_delivery", owner.pk, False),
                        ("delivered", owner.pk, False)]
    refused("invalid_transition", svc.order_advance, order)  # delivered is the end


def test_a_pickup_goes_from_ready_to_delivered(customer):
    order = make_order([(make_product(), 1)], contact=customer)
    svc.order_advance(order, to_status="ready")  # staff may skip forward
    error = refused("invalid_transition", svc.order_advance, order, to_status="out_for_delivery")
    assert error.messages == ["An order that is Ready cannot become Out for delivery."]
    svc.order_advance(order)
    assert (order.status, order.out_for_delivery_at, order.confirmed_at) == ("delivered", None, None)


@pytest.mark.parametrize("start, target", [("confirmed", "placed"), ("ready", "confirmed"), ("placed", "placed"),
                                           ("placed", "canceled"), ("placed", "cart"), ("placed", "teleported")])
def test_backwards_and_unknown_moves_are_refused(customer, start, target):
    order = make_order([(make_product(), 1)], contact=customer)
    if start != "placed":
        svc.order_advance(order, to_status=start)
    events_before = order.events.count()
    refused("invalid_transition", svc.order_advance, order, to_status=target)
    assert Order.objects.get(pk=order.pk).status == start and order.events.count() == events_before


def test_carts_and_canceled_orders_do_not_advance(cart):
    refused("invalid_transition", svc.order_advance, cart)
    svc.order_cancel(cart, reason="desistiu")
    error = refused("invalid_transition", svc.order_advance, cart)
    assert error.messages == ["This order is already canceled."]


def test_delivering_an_order_from_a_chat_schedules_the_rating_question(customer):
    store_settings_set(rating_delay_minutes=30)
    conversation = make_conversation(contact=customer)
    in_chat = make_order([(make_product(), 1)], contact=customer, conversation=conversation)
    counter = make_order([(make_product(), 1)], contact=customer)
    svc.order_advance(in_chat, to_status="delivered")
    svc.order_advance(counter, to_status="delivered")
    assert in_chat.rating_due_at - in_chat.delivered_at == timedelta(minutes=30)
    assert counter.rating_due_at is None


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_returns_the_reserved_stock_exactly_once(customer, owner):
    cheese = make_product("Queijo", stock="10")
    ham = make_product("Presunto", unit="kg", stock="4")
    order = make_order([(cheese, 3), (ham, "1.250")], contact=customer)
    svc.order_advance(order)  # confirmed: still cancelable
    assert (stock_of(cheese), stock_of(ham)) == (D("7"), D("2.75"))

    svc.order_cancel(order, reason="Cliente desistiu", user=owner)
    assert (order.status, order.cancel_reason) == ("canceled", "Cliente desistiu") and order.canceled_at
    assert (stock_of(cheese), stock_of(ham)) == (D("10"), D("4"))
    assert sorted(m for m in movements(order) if m[1] == "release") == [
        ("Presunto", "release", D("1.25"), D("4")), ("Queijo", "release", D("3"), D("10"))]
    assert order.events.last().note == "Cliente desistiu"

    refused("invalid_transition", svc.order_cancel, order, reason="de novo")
    assert (stock_of(cheese), stock_of(ham)) == (D("10"), D("4"))
    assert StockMovement.objects.filter(order=order, kind="release").count() == 2


def test_a_canceled_cart_returns_nothing_and_delivered_orders_cannot_be_canceled(cart, customer):
    product = make_product(stock="5")
    svc.cart_add_item(cart, product=product, quantity=D("2"))
    svc.order_cancel(cart, reason="abandonado")
    assert stock_of(product) == D("5") and movements(cart) == []
    sold = make_order([(product, 1)], contact=customer, status="delivered")
    refused("invalid_transition", svc.order_cancel, sold, reason="tarde demais")
    assert stock_of(product) == D("4")


def test_cancel_releases_only_what_the_order_still_holds(customer):
    """Stock moved by hand for an order (e.g. a correction) is taken into account."""
    from apps.store.services.stock import stock_adjust

    product = make_product(stock="10")
    order = make_order([(product, 4)], contact=customer)
    stock_adjust(product, quantity=D("1"), kind="release", order=order, reason="um item voltou")
    svc.order_cancel(order, reason="fim")
    assert stock_of(product) == D("10")
    assert StockMovement.objects.filter(order=order, kind="release").order_by("id").last().quantity == D("3")


# --- payment and rating -------------------------------------------------------------------------


def test_mark_paid_acts_once(customer, owner, django_capture_on_commit_callbacks):
    order = make_order([(make_product(), 1)], contact=customer, payment_method="pix")
    with django_capture_on_commit_callbacks() as callbacks:
        svc.order_mark_paid(order, user=owner, note="Pix 123")
        svc.order_mark_paid(order, user=owner, note="Pix 123")
    assert (order.payment_status, order.paid_at is not None) == ("paid", True)
    assert list(order.events.filter(kind="payment").values_list("note", flat=True)) == ["Pix 123"]
    assert len(callbacks) == 1
    cart = svc.cart_for(contact=customer)
    refused("not_a_cart", svc.order_mark_paid, cart)


def test_rating_a_delivered_order(customer):
    order = make_order([(make_product(), 1)], contact=customer)
    refused("invalid_transition", svc.order_rate, order, rating=5)
    svc.order_advance(order, to_status="delivered")
    for bad in (0, 6, "x", True):
        refused("rating_invalid", svc.order_rate, order, rating=bad)
    svc.order_rate(order, rating="4", comment=" Muito bom ")
    assert (order.rating, order.rating_comment, order.rating_due_at) == (4, "Muito bom", None)


# --- numbering, events, isolation ---------------------------------------------------------------


def _last_number(schema):
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM store_order_number_seq")
        value, called = cursor.fetchone()
        return value if called else value - 1


def test_order_numbers_are_sequential_per_tenant_and_independent(tenant, other_tenant):
    beta_before = _last_number("beta")
    with schema_context("alpha"):
        product = make_product()
        contact = make_customer()
        numbers = [make_order([(product, 1)], contact=contact).number for _ in range(3)]
        cart = svc.cart_for(contact=contact)
        svc.cart_add_item(cart, product=product, quantity=D("1"))
        numbers.append(svc.order_place(cart).number)
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    assert _last_number("beta") == beta_before  # alpha's orders never move beta's counter
    with schema_context("beta"):
        beta_order = make_order([(make_product(), 1)], contact=make_customer())
    assert beta_order.number == beta_before + 1


def test_beta_never_sees_alphas_orders_or_products(tenant, other_tenant):
    from apps.store.selectors import order_list, product_list

    with schema_context("alpha"):
        product = make_product("Queijo da alpha", sku="ALPHA-ONLY")
        order = make_order([(product, 1)], contact=make_customer("Cliente alpha"))
    with schema_context("beta"):
        assert not order_list().filter(contact__name="Cliente alpha").exists()
        assert not product_list(q="ALPHA-ONLY").exists()
        assert not Order.objects.filter(number=order.number, contact__name="Cliente alpha").exists()
        # beta's services never reach alpha's rows, even by id
        assert not Product.objects.filter(pk=product.pk).exists()
        refused("product_not_found", make_order, [(product.pk, 1)], contact=None)


def test_order_events_reach_only_the_tenants_store_group(tenant, other_tenant, django_capture_on_commit_callbacks):
    from apps.store.events import store_group

    layer = get_channel_layer()
    alpha_channel = async_to_sync(layer.new_channel)()
    beta_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(store_group("alpha"), alpha_channel)
    async_to_sync(layer.group_add)(store_group("beta"), beta_channel)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            with schema_context("alpha"):
                order = make_order([(make_product(price="9.99"), 2)], contact=make_customer("Ana"),
                                   channel="phone", payment_method="pix")
                svc.order_advance(order, by_ai=True)
        first = async_to_sync(_receive)(layer, alpha_channel)
        second = async_to_sync(_receive)(layer, alpha_channel)
        assert (first["type"], first["event"]) == ("store.event", "order.placed")
        assert first["data"] | {"placed_at": None} == {
            "id": order.pk, "number": order.number, "status": "placed", "previous_status": "cart",
            "channel": "phone", "fulfillment": "pickup", "payment_method": "pix", "payment_status": "pending",
            "total": "19.98", "contact_id": order.contact_id, "contact_name": "Ana", "placed_at": None,
            "conversation_id": None, "by_ai": False}
        assert (second["event"], second["data"]["status"], second["data"]["previous_status"],
                second["data"]["by_ai"]) == ("order.updated", "confirmed", "placed", True)
        with pytest.raises(TimeoutError):
            async_to_sync(_receive)(layer, beta_channel)
    finally:
        async_to_sync(layer.group_discard)(store_group("alpha"), alpha_channel)
        async_to_sync(layer.group_discard)(store_group("beta"), beta_channel)


async def _receive(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)


# --- races on committed data --------------------------------------------------------------------


def _run_together(*calls):
    """Run each call in its own thread and DB connection, released together; returns outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            with schema_context("alpha"):
                barrier.wait(timeout=10)
                outcomes[index] = call()
        except StoreError as exc:
            outcomes[index] = exc.code
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.fixture
def committed_alpha(committed):
    made = []
    try:
        yield made
    finally:
        with schema_context("alpha"):
            cleanup_store(contacts=made)


def test_two_orders_for_the_last_unit_one_wins_the_other_is_out_of_stock(committed_alpha):
    """Two customers each have the last unit in their cart (a cart reserves nothing) and confirm at
    the same moment, each on its own connection: exactly one order is placed."""
    with schema_context("alpha"):
        product = make_product("Último queijo", stock="1")
        carts = []
        for name in ("Ana", "Bia"):
            contact = make_customer(name)
            committed_alpha.append(contact)
            cart = svc.cart_for(contact=contact)
            svc.cart_add_item(cart, product=product, quantity=D("1"))
            carts.append(cart)

    outcomes = _run_together(*[lambda cart=cart: svc.order_place(Order.objects.get(pk=cart.pk)).status
                               for cart in carts])

    assert sorted(map(str, outcomes)) == ["out_of_stock", "placed"]
    with schema_context("alpha"):
        assert stock_of(product) == 0
        placed = Order.objects.get(pk__in=[c.pk for c in carts], status="placed")
        loser = Order.objects.get(pk__in=[c.pk for c in carts], status="cart")
        assert loser.number is None and not StockMovement.objects.filter(order=loser).exists()
        ledger = list(StockMovement.objects.filter(product=product).order_by("id")
                      .values_list("kind", "quantity", "balance_after", "order"))
        assert ledger == [("purchase", D("1"), D("1"), None), ("reservation", D("-1"), D("0"), placed.pk)]


def test_two_orders_locking_the_same_products_in_opposite_orders_do_not_deadlock(committed_alpha):
    with schema_context("alpha"):
        first, second = make_product("A", stock="10"), make_product("B", stock="10")
        contact = make_customer("Cruzado")
        committed_alpha.append(contact)

    outcomes = _run_together(
        lambda: make_order([(first, 1), (second, 1)], contact=contact).status,
        lambda: make_order([(second, 2), (first, 2)], contact=contact).status)

    assert outcomes == ["placed", "placed"]
    with schema_context("alpha"):
        assert (stock_of(first), stock_of(second)) == (D("7"), D("7"))
        for product in (first, second):
            balances = list(StockMovement.objects.filter(product=product).order_by("id")
                            .values_list("balance_after", flat=True))
            assert balances[0] == D("10") and balances[-1] == D("7") and len(balances) == 3
