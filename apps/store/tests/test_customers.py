"""Customers (CRM contacts + the store's profile and addresses) and the order / customer lists."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.crm.models import Contact
from apps.store.models import Address, CustomerProfile, Order
from apps.store.selectors import (OrderFilters, customer_detail, customer_list, customer_orders, order_detail,
                                  order_list, period_range)
from apps.store.services import orders as svc
from apps.store.services.customers import (address_create, address_delete, address_update, customer_find_or_create,
                                           customer_update)

from .conftest import D, make_customer, make_order, make_product

pytestmark = pytest.mark.usefixtures("english")


def _order(contact, total, *, days_ago=0, status="placed", **kwargs):
    product = make_product(price=total, stock="10")
    placed_at = timezone.now() - timedelta(days=days_ago)
    order = make_order([(product, 1)], contact=contact, placed_at=placed_at, **kwargs)
    if status == "canceled":
        svc.order_cancel(order, reason="x")
    elif status != "placed":
        svc.order_advance(order, to_status=status)
    return order


@pytest.fixture
def shoppers(alpha):
    """Ana: 2 sale orders (+ a canceled one and an open cart); Bruno: 1; Carla: a profile, no order;
    Davi: a contact who only chatted (not a customer)."""
    ana = make_customer("Ana Lima", phone="+5521987654321", document="12345678901")
    bruno = make_customer("Bruno Reis")
    carla = make_customer("Carla Dias")
    davi = Contact.objects.create(name="Davi Só Conversa", phone="+5521911112222")
    _order(ana, "100.00", days_ago=10, status="delivered")
    last = _order(ana, "50.50", days_ago=1)
    _order(ana, "999.00", status="canceled")
    svc.cart_add_item(svc.cart_for(contact=ana), product=make_product(price="77"), quantity=D("1"))
    _order(bruno, "20.00", days_ago=3)
    return {"ana": ana, "bruno": bruno, "carla": carla, "davi": davi, "ana_last": last}


def test_customer_list_figures_count_only_sales(shoppers):
    rows = {c.name: c for c in customer_list()}
    assert set(rows) == {"Ana Lima", "Bruno Reis", "Carla Dias"}
    ana, bruno, carla = rows["Ana Lima"], rows["Bruno Reis"], rows["Carla Dias"]
    assert (ana.order_count, ana.total_spent, ana.is_recurring) == (2, D("150.50"), True)
    assert ana.last_order_at == shoppers["ana_last"].placed_at
    assert (bruno.order_count, bruno.total_spent, bruno.is_recurring) == (1, D("20.00"), False)
    assert (carla.order_count, carla.total_spent, carla.is_recurring, carla.last_order_at) == (
        0, Decimal("0"), False, None)
    assert [c.name for c in customer_list()] == ["Ana Lima", "Bruno Reis", "Carla Dias"]  # latest buyer first


def test_customer_list_filters(shoppers):
    assert [c.name for c in customer_list(recurring=True)] == ["Ana Lima"]
    assert {c.name for c in customer_list(recurring=False)} == {"Bruno Reis", "Carla Dias"}
    assert [c.name for c in customer_list(q="ana")] == ["Ana Lima"]
    assert [c.name for c in customer_list(q="(21) 98765-4321")] == ["Ana Lima"]  # formatted: digits are searched
    assert [c.name for c in customer_list(q="98765")] == ["Ana Lima"]
    assert [c.name for c in customer_list(q="123.456.789-01")] == ["Ana Lima"]
    assert [c.name for c in customer_list(q="45678")] == ["Ana Lima"]  # CPF digits


def test_customer_list_is_one_query_however_many_customers(shoppers, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = [(c.name, c.order_count, c.store_profile.document_number) for c in customer_list()]
    assert len(rows) == 3
    for i in range(5):
        _order(make_customer(f"Extra {i}"), "5.00")
    with django_assert_num_queries(1):
        rows = [(c.name, c.order_count, c.store_profile.customer_since) for c in customer_list()]
    assert len(rows) == 8


def test_customer_detail_and_orders(shoppers):
    ana = shoppers["ana"]
    address_create(ana, street="Rua A", number="1", neighbourhood="Centro")
    detail = customer_detail(ana.pk)
    assert (detail.order_count, detail.total_spent) == (2, D("150.50"))
    assert [a.street for a in detail.addresses.all()] == ["Rua A"]
    assert [o.status for o in customer_orders(ana)] == ["canceled", "placed", "delivered"]
    assert customer_detail(shoppers["davi"].pk) is None  # not a customer


def test_customer_find_or_create_by_phone_reuses_the_contact(alpha):
    ana = make_customer("Ana", phone="+5521987654321")
    assert customer_find_or_create(phone="(21) 98765-4321") == ana
    assert customer_find_or_create(name="Ana Outra", phone="+55 21 8765-4321") == ana  # the old 8-digit form
    new = customer_find_or_create(name="  Zé   Balcão ", phone="21 99999-0000")
    assert (new.name, new.phone) == ("Zé Balcão", "+5521999990000")
    assert CustomerProfile.objects.filter(contact=new).exists()
    walk_in = customer_find_or_create(name="Cliente sem telefone")
    assert walk_in.phone == "" and walk_in != new
    with pytest.raises(ValidationError) as caught:
        customer_find_or_create(phone="12")
    assert caught.value.message_dict == {"phone": ["Enter a valid phone number."]}
    with pytest.raises(ValidationError):
        customer_find_or_create()


def test_document_number(alpha):
    contact = make_customer()
    assert customer_update(contact, document_number="123.456.789-01").document_number == "12345678901"
    assert customer_update(contact, document_number="12.345.678/0001-90").document_number == "12345678000190"
    with pytest.raises(ValidationError):
        customer_update(contact, document_number="123")
    assert CustomerProfile.objects.get(contact=contact).document_number == "12345678000190"


def test_addresses_keep_one_default(alpha):
    contact = make_customer()
    home = address_create(contact, label="Casa", street="Rua A", neighbourhood="Centro")
    work = address_create(contact, label="Trabalho", street="Rua B", neighbourhood="Savassi")
    assert (home.is_default, work.is_default) == (True, False)
    address_update(work, is_default=True)
    assert list(Address.objects.filter(contact=contact, is_default=True)) == [work]
    address_delete(work)
    assert Address.objects.get(pk=home.pk).is_default is True
    with pytest.raises(ValidationError) as caught:
        address_create(contact, street="", neighbourhood="")
    assert set(caught.value.message_dict) == {"street", "neighbourhood"}


# --- the order list -----------------------------------------------------------------------------


def test_order_list_filters(shoppers):
    ana, bruno = shoppers["ana"], shoppers["bruno"]
    counter = _order(bruno, "12.00", channel="counter", payment_method="cash", paid=True)
    whatsapp = _order(ana, "30.00", channel="whatsapp", payment_method="pix")
    old = _order(bruno, "8.00", days_ago=40)

    def names(**filters):
        return [o.pk for o in order_list(filters=OrderFilters(**filters))]

    everything = names()
    assert Order.objects.filter(status="cart").exists()
    assert all(Order.objects.get(pk=pk).status != "cart" for pk in everything)  # carts only when asked
    assert len(everything) == 7
    assert everything[:2] == sorted([counter.pk, whatsapp.pk], reverse=True)  # newest first
    assert set(names(period="today")) == {counter.pk, whatsapp.pk, Order.objects.get(contact=ana,
                                                                                   status="canceled").pk}
    assert old.pk not in names(period="30d") and old.pk in names(period="custom",
                                                                 start=(timezone.now() - timedelta(days=41)).date(),
                                                                 end=(timezone.now() - timedelta(days=39)).date())
    assert names(channel="whatsapp") == [whatsapp.pk]
    assert counter.pk in names(channel="counter") and whatsapp.pk not in names(channel="counter")
    assert names(payment_method="pix") == [whatsapp.pk]
    assert names(payment_status="paid") == [counter.pk]
    assert set(names(status="delivered")) == {o.pk for o in Order.objects.filter(status="delivered")}
    assert len(names(statuses=["cart"])) == 1
    assert set(names(q="bruno")) == {o.pk for o in Order.objects.filter(contact=bruno)}
    assert names(q=f"#{whatsapp.number}") == [whatsapp.pk]
    assert set(names(q="98765")) == {o.pk for o in Order.objects.filter(contact=ana).exclude(status="cart")}
    assert order_list(filters={"channel": "whatsapp", "unknown": 1}).get() == whatsapp


def test_order_detail_in_a_fixed_number_of_queries(shoppers, owner, django_assert_num_queries):
    order = shoppers["ana_last"]
    svc.order_advance(order, user=owner)
    svc.order_mark_paid(order, user=owner)
    with django_assert_num_queries(4):  # order + items + events (with users) + payments
        detail = order_detail(order.pk)
        summary = ([i.product_name for i in detail.items.all()],
                   [(e.status, e.user.email if e.user else None) for e in detail.events.all()],
                   list(detail.payments.all()), detail.contact.store_profile.document_number)
    assert summary[1] == [("placed", None), ("confirmed", owner.email), ("", owner.email)]
    assert order_detail(0) is None


def test_period_boundaries_are_local_days(alpha):
    start, end = period_range("today")
    assert str(start.tzinfo) == "America/Sao_Paulo" and (start.hour, start.minute) == (0, 0)
    assert end - start == timedelta(days=1)
    first, last = period_range("last_month")
    assert first.day == 1 and last.day == 1 and (last - first).days in (28, 29, 30, 31)
    with pytest.raises(ValueError):
        period_range("forever")


def test_lists_are_per_tenant(tenant, other_tenant):
    with schema_context("alpha"):
        _order(make_customer("Cliente Alpha"), "10.00")
    with schema_context("beta"):
        assert not customer_list(q="Cliente Alpha").exists()
        assert not order_list(filters=OrderFilters(q="Cliente Alpha")).exists()
