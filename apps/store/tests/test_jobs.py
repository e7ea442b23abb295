"""The store sweep: abandoned carts (one reminder, one cancellation), unpaid Pix orders canceled with
their stock returned once, the rating request and the customer's answer, the idle ordering state;
each acts once however often (or however concurrently) the sweep runs, and only in its tenant."""
from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.inbox.tests.helpers_inbox import add_message, make_connection, make_conversation
from tests.fakes.mercadopago import FakeMercadoPago

from .conftest import D, cleanup_store, make_customer, make_product, store_settings_set

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def english_customers(request):
    """Customer texts follow the tenant's language: English here, so the tests read the msgids.
    (The committed-data test sets it itself: it must not open the per-test transaction.)"""
    if "committed" in request.fixturenames:
        return
    from tenants.models import Tenant

    tenants = [request.getfixturevalue("tenant"), request.getfixturevalue("other_tenant")]
    Tenant.objects.filter(pk__in=[t.pk for t in tenants]).update(language="en")


@pytest.fixture
def mp(settings):
    fake = FakeMercadoPago().start()
    settings.MERCADOPAGO_API_URL = fake.url
    settings.MERCADOPAGO_HTTP_TIMEOUT = 2
    yield fake
    fake.stop()


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


def chat(name="Maria Souza"):
    contact = make_customer(name)
    return contact, make_conversation(connection=make_connection(), contact=contact)


def whatsapp_cart(*, stock="10", quantity="2"):
    from apps.store.services.orders import cart_add_item, cart_for

    contact, conversation = chat()
    product = make_product("Pizza Calabresa", price="45.00", stock=stock)
    cart = cart_for(contact=contact, conversation=conversation)
    cart_add_item(cart, product=product, quantity=D(quantity))
    cart.refresh_from_db()
    return cart, conversation, product


def sent(conversation, event: str):
    from apps.inbox.models import Message

    return list(Message.objects.filter(conversation=conversation, direction="out", payload__event=event)
                .exclude(type="event"))


def run(now):
    from apps.store.services.jobs import store_sweep

    return store_sweep(now=now)


# --- abandoned carts -------------------------------------------------------------------------------


def test_abandoned_cart_run_twice_one_reminder_then_one_cancellation(alpha):
    from apps.store.models import Order, OrderEvent

    store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
    cart, conversation, product = whatsapp_cart()

    assert run(later(9))["reminded"] == 0  # not yet
    assert run(later(11))["reminded"] == 1
    assert run(later(12))["reminded"] == 0  # run again: nothing more
    [reminder] = sent(conversation, "cart_reminder")
    assert "still open" in reminder.text and "R$90.00" in reminder.text
    cart.refresh_from_db()
    assert cart.status == "cart" and cart.cart_reminded_at is not None and cart.cart_reminder_due_at is None

    first = run(later(16))
    second = run(later(17))
    assert (first["canceled"], second["canceled"]) == (1, 0)
    cart.refresh_from_db()
    assert cart.status == "canceled" and cart.cancel_reason == "Abandoned cart"
    assert OrderEvent.objects.filter(order=cart, status="canceled").count() == 1
    assert len(sent(conversation, "cart_canceled")) == 1
    assert len(sent(conversation, "cart_reminder")) == 1
    product.refresh_from_db()
    assert product.stock_quantity == Decimal("10")  # a cart holds no stock: nothing to return
    assert Order.objects.filter(cart_cancel_due_at__isnull=False).count() == 0


def test_a_placed_cart_is_neither_reminded_nor_canceled(alpha):
    from apps.store.models import Order
    from apps.store.services.orders import order_place, order_set_payment_method

    store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
    cart, conversation, product = whatsapp_cart()
    # due times left behind on purpose (as if placing had not cleared them): the sweep checks the status
    due = {"cart_reminder_due_at": later(10), "cart_cancel_due_at": later(15)}
    order_set_payment_method(cart, method="cash")
    order_place(cart)
    Order.objects.filter(pk=cart.pk).update(**due)
    result = run(later(20))
    assert result["reminded"] == result["canceled"] == 0
    cart.refresh_from_db()
    assert cart.status == "placed"
    assert cart.cart_reminder_due_at is None and cart.cart_cancel_due_at is None  # stale due times cleared
    assert sent(conversation, "cart_reminder") == [] and sent(conversation, "cart_canceled") == []


def test_counter_cart_without_conversation_is_canceled_quietly(alpha):
    from apps.store.services.orders import cart_add_item, cart_for

    store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
    cart = cart_for(contact=make_customer(), conversation=None, channel="counter")
    cart_add_item(cart, product=make_product(stock="5"), quantity=D("1"))
    result = run(later(16))
    assert result == {"reminded": 0, "canceled": 1, "rating_asked": 0, "ordering_reset": 0}
    cart.refresh_from_db()
    assert cart.status == "canceled"


def test_sweep_task_acts_only_in_its_tenant(tenant, other_tenant):
    from apps.store.models import Order
    from apps.store.tasks import sweep

    with schema_context("beta"):
        store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
        theirs, their_chat, _p = whatsapp_cart()
        Order.objects.filter(pk=theirs.pk).update(cart_reminder_due_at=later(-1), cart_cancel_due_at=later(-1))
    with schema_context("alpha"):
        store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
        ours, our_chat, _p = whatsapp_cart()
        Order.objects.filter(pk=ours.pk).update(cart_reminder_due_at=later(-1))
        result = sweep.apply().get()  # the beat task, eager, sent from alpha's schema
        assert result["reminded"] == 1
        assert len(sent(our_chat, "cart_reminder")) == 1
    with schema_context("beta"):
        theirs.refresh_from_db()
        assert theirs.status == "cart" and theirs.cart_reminder_due_at is not None
        assert sent(their_chat, "cart_reminder") == []


# --- unpaid Pix ------------------------------------------------------------------------------------


def pix_order(mp, *, stock="10", quantity="2"):
    from apps.store.services.orders import order_place, order_set_payment_method
    from apps.store.services.payments import pix_for_order
    from tests.fakes.mercadopago import ACCESS_TOKEN, WEBHOOK_SECRET

    store_settings_set(mercadopago_access_token=ACCESS_TOKEN, mercadopago_webhook_secret=WEBHOOK_SECRET,
                       pix_expiration_minutes=30)
    cart, conversation, product = whatsapp_cart(stock=stock, quantity=quantity)
    order_set_payment_method(cart, method="pix")
    order = order_place(cart, by_ai=True)
    payment = pix_for_order(order)
    order.refresh_from_db()
    product.refresh_from_db()
    return order, conversation, product, payment


def test_unpaid_pix_order_canceled_once_and_stock_released_once(alpha, mp):
    from apps.store.models import StockMovement

    order, conversation, product, payment = pix_order(mp, stock="10", quantity="2")
    assert product.stock_quantity == Decimal("8")  # reserved when placed

    assert run(later(20))["canceled"] == 0  # the Pix can still be paid
    first = run(later(36))  # 30 minutes of validity + 5 of grace
    second = run(later(37))
    assert (first["canceled"], second["canceled"]) == (1, 0)

    order.refresh_from_db()
    product.refresh_from_db()
    assert order.status == "canceled" and order.cancel_reason == "Pix not paid in time"
    assert product.stock_quantity == Decimal("10")
    releases = StockMovement.objects.filter(order=order, kind="release")
    assert [m.quantity for m in releases] == [Decimal("2")]
    assert len(mp.calls("GET", f"/v1/payments/{payment.external_id}")) == 1  # asked once before canceling
    [told] = sent(conversation, "pix_expired")
    assert f"#{order.number}" in told.text


def test_pix_paid_but_notification_lost_is_found_before_canceling(alpha, mp):
    order, conversation, product, payment = pix_order(mp)
    mp.approve(payment.external_id)
    result = run(later(36))
    assert result["canceled"] == 0
    order.refresh_from_db()
    product.refresh_from_db()
    assert order.status == "placed" and order.payment_status == "paid"
    assert product.stock_quantity == Decimal("8")
    assert len(sent(conversation, "pix_paid")) == 1


def test_mercadopago_down_at_expiry_postpones_the_cancellation(alpha, mp):
    order, conversation, product, payment = pix_order(mp)
    mp.fail_next(status=500)
    assert run(later(36))["canceled"] == 0
    order.refresh_from_db()
    assert order.status == "placed"
    assert order.cart_cancel_due_at is not None  # asked again later
    assert run(later(36 + 6))["canceled"] == 1
    order.refresh_from_db()
    assert order.status == "canceled"


# --- rating ----------------------------------------------------------------------------------------


def delivered_order():
    from apps.store.services.orders import order_advance, order_place, order_set_payment_method

    store_settings_set(rating_delay_minutes=30)
    cart, conversation, product = whatsapp_cart()
    order_set_payment_method(cart, method="cash")
    order = order_place(cart)
    order_advance(order, to_status="delivered")
    order.refresh_from_db()
    return order, conversation


def test_rating_asked_once_and_the_answer_stored(alpha):
    from apps.store.services.jobs import rating_capture

    order, conversation = delivered_order()
    assert order.rating_due_at is not None
    assert run(later(29))["rating_asked"] == 0
    assert run(later(31))["rating_asked"] == 1
    assert run(later(32))["rating_asked"] == 0
    [question] = sent(conversation, "rating_request")
    assert f"#{order.number}" in question.text and "1" in question.text and "5" in question.text

    assert rating_capture(conversation, "ok, thanks") is False  # not a rating
    assert rating_capture(conversation, "4 - muito bom, chegou quente") is True
    order.refresh_from_db()
    assert order.rating == 4 and order.rating_comment == "muito bom, chegou quente"
    assert len(sent(conversation, "rating_thanks")) == 1
    # the question is answered: a later "5" (or "2 pizzas") is not taken as a rating
    assert rating_capture(conversation, "5") is False
    assert rating_capture(conversation, "2 pizzas") is False
    order.refresh_from_db()
    assert order.rating == 4


def test_rating_reply_only_counts_while_the_question_is_the_last_thing_asked(alpha):
    from apps.inbox.models import Message
    from apps.store.services.jobs import rating_capture

    order, conversation = delivered_order()
    run(later(31))
    # the conversation moved on: the assistant asked something else since
    add_message(conversation, "How many pizzas would you like?", direction="out", sender_kind="ai")
    assert rating_capture(conversation, "2") is False
    order.refresh_from_db()
    assert order.rating is None
    assert Message.objects.filter(conversation=conversation, payload__event="rating_thanks").count() == 0


def test_rating_reply_in_a_new_conversation_after_the_old_one_was_resolved(alpha):
    from apps.store.services.jobs import rating_capture

    order, conversation = delivered_order()
    run(later(31))
    conversation.status = "resolved"
    conversation.save(update_fields=["status"])
    fresh = make_conversation(connection=conversation.connection, contact=conversation.contact)
    assert rating_capture(fresh, "5") is True
    order.refresh_from_db()
    assert order.rating == 5
    assert len(sent(fresh, "rating_thanks")) == 1


@pytest.mark.parametrize("text, expected", [
    ("5", (5, "")), (" 4 ", (4, "")), ("3 - ok", (3, "ok")), ("nota 2", (2, "")), ("5/5", (5, "")),
    ("5!", (5, "")), ("⭐⭐⭐", (3, "")), ("10", None), ("4.5", None), ("0", None), ("6", None), ("ok", None),
    ("", None),
])
def test_parse_rating(text, expected):
    from apps.store.services.jobs import parse_rating

    assert parse_rating(text) == expected


def test_rating_not_asked_for_a_canceled_or_already_rated_order(alpha):
    from apps.store.models import Order
    from apps.store.services.orders import order_rate

    order, conversation = delivered_order()
    order_rate(order, rating=5)
    Order.objects.filter(pk=order.pk).update(rating_due_at=later(-1))  # a stale due time
    assert run(later(31))["rating_asked"] == 0
    assert sent(conversation, "rating_request") == []


# --- idle ordering state ---------------------------------------------------------------------------


def test_idle_ordering_state_reset_once(alpha):
    from apps.store.models import Order

    store_settings_set(ordering_reset_minutes=120, cart_reminder_minutes=300, cart_cancel_minutes=600)
    cart, conversation, product = whatsapp_cart()
    Order.objects.filter(pk=cart.pk).update(ordering_state={"step": "delivery", "fulfillment_set": True})
    assert run(later(119))["ordering_reset"] == 0
    assert run(later(121))["ordering_reset"] == 1
    assert run(later(122))["ordering_reset"] == 0
    cart.refresh_from_db()
    assert cart.ordering_state == {} and cart.ordering_reset_due_at is None
    assert cart.status == "cart" and cart.items.count() == 1  # only the assistant's memory is forgotten


# --- concurrency -----------------------------------------------------------------------------------


def test_two_sweeps_at_once_send_one_reminder(committed):
    """Two workers run the sweep at the same moment on committed data: the row lock (SKIP LOCKED) and
    the due time cleared in the same transaction make it one reminder."""
    from apps.crm.models import Contact
    from apps.inbox.models import Conversation, Message
    from apps.store.models import Order
    from apps.store.services.jobs import store_sweep
    from apps.whatsapp.models import Connection
    from apps.whatsapp.services.connections import connection_delete_row
    from tenants.models import Tenant

    Tenant.objects.filter(schema_name="alpha").update(language="en")
    with schema_context("alpha"):
        store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
        carts = [whatsapp_cart() for _i in range(3)]
    moment = later(11)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with schema_context("alpha"):
                barrier.wait(timeout=10)
                results.append(store_sweep(now=moment)["reminded"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sum(results) == 3
        with schema_context("alpha"):
            for cart, conversation, _product in carts:
                assert Message.objects.filter(conversation=conversation, payload__event="cart_reminder").count() == 1
    finally:
        with schema_context("alpha"):
            contacts = [cart.contact for cart, _c, _p in carts]
            conversations = [c.pk for _o, c, _p in carts]
            connections = list(Conversation.objects.filter(pk__in=conversations).values_list("connection", flat=True))
            cleanup_store(contacts)
            Message.objects.filter(conversation__in=conversations).delete()
            Conversation.objects.filter(pk__in=conversations).delete()
            for conn in Connection.objects.filter(pk__in=connections):
                connection_delete_row(conn)
            Contact.objects.filter(pk__in=[c.pk for c in contacts]).delete()
            assert not Order.objects.exists()
        Tenant.objects.filter(schema_name="alpha").update(language="pt-br")
