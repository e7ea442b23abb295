"""Vendas, Clientes and the store settings as staff meet them: who may open what (store.sell vs
store.manage), the order list and its filters, the order drawer and its actions (advance, cancel
with a reason, mark paid) with their refusals shown and nothing changed, the counter sale (totals
and stock from the server, errors next to the line with everything typed kept), the customer
pages, the settings (secrets write-only and masked) and delivery zones, and tenant isolation."""
from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import schema_context

from conftest import as_shown, host_of, make_user

from .conftest import D, make_customer, make_order, make_product, store_settings_set

ORDERS = "/store/orders/"
NEW_SALE = "/store/orders/new/"


# --- helpers (also used by test_views_products.py) ---------------------------------------------------

def client_for(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def shows(response, msgid: str, **params) -> bool:
    text = as_shown(response, msgid)
    return escape(text % params if params else text) in html(response)


HX = {"HTTP_HX_REQUEST": "true"}


def hx_from_list(target="order-drawer-body"):
    """Headers of an htmx request sent from the Vendas list (the drawer's actions)."""
    return {**HX, "HTTP_HX_TARGET": target, "HTTP_HX_CURRENT_URL": "http://alpha.localhost/store/orders/"}


@pytest.fixture
def staff(alpha):
    """Clients for each role on alpha."""
    users = {role: make_user(alpha, email=f"{role}-store@alpha.test", role=role)
             for role in ("supervisor", "agent", "analyst")}
    return {role: client_for(alpha, user) for role, user in users.items()} | {"users": users}


# --- who may open what -------------------------------------------------------------------------------

SELL_PAGES = [ORDERS, NEW_SALE, "/store/customers/", "/store/orders/products/?q=a"]
MANAGE_PAGES = ["/store/products/", "/store/products/new/", "/store/products/categories/",
                "/store/products/import/", "/store/settings/", "/store/products/export/?format=csv"]


def test_pages_follow_the_capabilities(alpha, owner_client, staff, tenant_client):
    for path in SELL_PAGES:
        assert owner_client.get(path).status_code == 200, path
        assert staff["supervisor"].get(path).status_code == 200, path
        assert staff["agent"].get(path).status_code == 200, path
        assert staff["analyst"].get(path).status_code == 403, path
    for path in MANAGE_PAGES:
        assert owner_client.get(path).status_code == 200, path
        assert staff["supervisor"].get(path).status_code == 200, path
        assert staff["agent"].get(path).status_code == 403, path
        assert staff["analyst"].get(path).status_code == 403, path
    response = tenant_client.get(ORDERS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_agent_may_sell_but_not_touch_the_catalogue(alpha, staff):
    product = make_product("Queijo prato", price="10.00")
    response = staff["agent"].post(f"/store/products/{product.pk}/stock/", {"kind": "purchase", "quantity": "5",
                                                                           "reason": "x"})
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.stock_quantity == D("100")
    assert staff["agent"].post("/store/settings/zones/", {"neighbourhood": "Centro", "fee": "5",
                                                          "estimated_minutes": "30"}).status_code == 403


# --- the order list --------------------------------------------------------------------------------

def test_order_list_shows_orders_and_filters_them(alpha, owner_client):
    cheese = make_product("Queijo minas", price="30.00")
    maria = make_customer("Maria Souza", phone="+5511987650001")
    joao = make_customer("João Lima", phone="+5511987650002")
    first = make_order([(cheese, 1)], contact=maria, payment_method="pix")
    second = make_order([(cheese, 2)], contact=joao, channel="whatsapp", payment_method="cash")

    page = owner_client.get(ORDERS)
    assert page.status_code == 200
    assert f'id="order-row-{first.pk}"' in html(page) and f'id="order-row-{second.pk}"' in html(page)
    assert "Maria Souza" in html(page) and "João Lima" in html(page)

    only_whatsapp = owner_client.get(ORDERS, {"channel": "whatsapp"})
    assert f'id="order-row-{second.pk}"' in html(only_whatsapp)
    assert f'id="order-row-{first.pk}"' not in html(only_whatsapp)

    by_name = owner_client.get(ORDERS, {"q": "maria"}, **{**HX, "HTTP_HX_TARGET": "orders-results"})
    assert by_name.status_code == 200
    assert "<html" not in html(by_name)  # the fragment only
    assert f'id="order-row-{first.pk}"' in html(by_name) and f'id="order-row-{second.pk}"' not in html(by_name)

    by_number = owner_client.get(ORDERS, {"q": f"#{second.number}"})
    assert f'id="order-row-{second.pk}"' in html(by_number)


def test_a_wrong_filter_is_reported_not_a_500(alpha, owner_client):
    response = owner_client.get(ORDERS, {"period": "custom", "start": "2025-13-40", "end": "x", "page": "zz"})
    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in html(response)


def test_order_row_answers_204_when_it_no_longer_matches(alpha, owner_client):
    order = make_order([(make_product(price="5.00"), 1)], payment_method="cash")
    row = owner_client.get(f"/store/orders/{order.pk}/row/", {"status": "placed"})
    assert row.status_code == 200 and f'id="order-row-{order.pk}"' in html(row)
    assert owner_client.get(f"/store/orders/{order.pk}/row/", {"status": "delivered"}).status_code == 204


# --- the drawer --------------------------------------------------------------------------------------

def test_the_drawer_shows_items_timeline_payment_and_conversation(alpha, owner_client):
    from apps.inbox.tests.helpers_inbox import make_conversation

    ham = make_product("Presunto cozido", price="42.90", unit="kg")
    customer = make_customer("Ana Paula")
    order = make_order([(ham, "0.350")], contact=customer, payment_method="pix")
    conversation = make_conversation(contact=customer)
    type(order).objects.filter(pk=order.pk).update(conversation=conversation)

    fragment = owner_client.get(f"/store/orders/{order.pk}/", {"fragment": "1"})
    body = html(fragment)
    assert fragment.status_code == 200 and "<html" not in body
    assert "Presunto cozido" in body
    assert f"/inbox/c/{conversation.pk}/" in body  # the linked conversation
    assert 'data-testid="order-timeline"' in body and 'data-testid="advance-status"' in body
    # the list page with ?order= opens the same drawer
    page = owner_client.get(ORDERS, {"order": order.pk})
    assert f'data-open="{order.pk}"' in html(page) and "Presunto cozido" in html(page)
    # a full page without script
    assert owner_client.get(f"/store/orders/{order.pk}/").status_code == 200


def test_advance_moves_to_the_next_status_and_records_who(alpha, owner_client, owner):
    order = make_order([(make_product(price="8.00"), 1)], payment_method="cash")

    response = owner_client.post(f"/store/orders/{order.pk}/advance/", {"to": "confirmed"}, **hx_from_list())

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "confirmed" and order.confirmed_at is not None
    event = order.events.filter(status="confirmed").get()
    assert event.user_id == owner.pk and not event.by_ai
    body = html(response)
    assert 'data-testid="order-drawer"' in body
    assert f'id="order-row-{order.pk}"' in body and 'hx-swap-oob="true"' in body  # the list row follows


def test_a_refused_move_shows_the_reason_and_changes_nothing(alpha, owner_client):
    order = make_order([(make_product(price="8.00"), 1)], payment_method="cash", status="delivered")

    response = owner_client.post(f"/store/orders/{order.pk}/advance/", {}, **hx_from_list())

    assert response.status_code == 400
    assert 'data-testid="drawer-error"' in html(response)
    order.refresh_from_db()
    assert order.status == "delivered"
    # without script: back to the list with the drawer open and the message
    plain = owner_client.post(f"/store/orders/{order.pk}/advance/", {})
    assert plain.status_code == 302 and f"order={order.pk}" in plain["Location"]


def test_cancel_needs_a_reason_and_returns_the_stock(alpha, owner_client):
    cheese = make_product("Muçarela", price="39.90", stock="10")
    order = make_order([(cheese, 3)], payment_method="pix")
    cheese.refresh_from_db()
    assert cheese.stock_quantity == D("7")

    missing = owner_client.post(f"/store/orders/{order.pk}/cancel/", {"reason": "  "}, **hx_from_list())
    assert missing.status_code == 400
    assert shows(missing, "Say why the order is canceled.")
    too_long = "Cliente mudou de ideia " * 10
    refused = owner_client.post(f"/store/orders/{order.pk}/cancel/", {"reason": too_long}, **hx_from_list())
    assert refused.status_code == 400
    assert f'value="{too_long}"' in html(refused)  # what was typed is still there, the form open
    order.refresh_from_db()
    assert order.status == "placed"

    done = owner_client.post(f"/store/orders/{order.pk}/cancel/", {"reason": "Cliente desistiu"}, **hx_from_list())
    assert done.status_code == 200
    order.refresh_from_db()
    cheese.refresh_from_db()
    assert order.status == "canceled" and order.cancel_reason == "Cliente desistiu"
    assert cheese.stock_quantity == D("10")

    again = owner_client.post(f"/store/orders/{order.pk}/cancel/", {"reason": "de novo"}, **hx_from_list())
    assert again.status_code == 400
    assert shows(again, "This order is already canceled.")
    cheese.refresh_from_db()
    assert cheese.stock_quantity == D("10")  # returned once


def test_mark_paid(alpha, owner_client):
    order = make_order([(make_product(price="8.00"), 1)], payment_method="cash")
    response = owner_client.post(f"/store/orders/{order.pk}/pay/", {}, **hx_from_list())
    assert response.status_code == 200 and 'data-testid="paid-badge"' in html(response)
    order.refresh_from_db()
    assert order.payment_status == "paid" and order.paid_at is not None


def test_staff_edit_and_place_a_whatsapp_cart(alpha, owner_client):
    from apps.inbox.tests.helpers_inbox import make_conversation
    from apps.store.services.orders import cart_add_item, cart_for

    salami = make_product("Salame italiano", price="12.00", stock="20")
    customer = make_customer("Cliente Zap")
    cart = cart_for(contact=customer, conversation=make_conversation(contact=customer))
    item = cart_add_item(cart, product=salami, quantity=D("2"))

    page = owner_client.get(ORDERS, {"order": cart.pk})  # the inbox's order card links here
    assert "Salame italiano" in html(page) and 'data-testid="place-order"' in html(page)

    changed = owner_client.post(f"/store/orders/{cart.pk}/items/{item.pk}/", {"quantity": "3"}, **hx_from_list())
    assert changed.status_code == 200
    cart.refresh_from_db()
    assert cart.total == D("36.00")

    placed = owner_client.post(f"/store/orders/{cart.pk}/place/", {}, **hx_from_list())
    assert placed.status_code == 200
    cart.refresh_from_db()
    salami.refresh_from_db()
    assert cart.status == "placed" and cart.number is not None
    assert salami.stock_quantity == D("17")


# --- the counter sale -------------------------------------------------------------------------------

def sale(**overrides):
    data = {"payment_method": "pix", "paid": "on", "handed_over": "on", "discount": "", "notes": "",
            "customer_phone": "", "customer_name": ""}
    data.update(overrides)
    return data


def test_counter_sale_creates_the_order_with_server_totals_and_moves_stock(alpha, owner_client, owner):
    from apps.store.models import Order

    cheese = make_product("Queijo prato", price="49.90", unit="kg", stock="5")
    juice = make_product("Suco de uva", price="12.50", stock="10")

    response = owner_client.post(NEW_SALE, {
        **sale(discount="2,40", customer_phone="(11) 98765-0303", customer_name="Carla Dias"),
        "product": [cheese.pk, juice.pk], "quantity": ["0,333", "2"],
        "total": "1.00", "price": "0.01",  # not fields: a client cannot set prices or totals
    })

    assert response.status_code == 302
    order = Order.objects.get(created_by=owner)
    assert f"order={order.pk}" in response["Location"]
    # 0.333 kg x 49.90 = 16.6167 -> 16.62; + 2 x 12.50 = 25.00 -> 41.62; - 2.40 = 39.22
    assert order.subtotal == D("41.62") and order.discount == D("2.40") and order.total == D("39.22")
    assert order.status == "delivered" and order.payment_status == "paid" and order.channel == "counter"
    assert order.contact.phone == "+5511987650303" and order.contact.name == "Carla Dias"
    cheese.refresh_from_db()
    juice.refresh_from_db()
    assert cheese.stock_quantity == D("4.667") and juice.stock_quantity == D("8")
    assert set(order.movements.values_list("kind", flat=True)) == {"sale"}


def test_counter_sale_not_handed_over_waits_in_the_list(alpha, owner_client, owner):
    from apps.store.models import Order

    product = make_product("Manteiga", price="15.00")
    response = owner_client.post(NEW_SALE, {**sale(paid="", handed_over=""), "product": [product.pk],
                                            "quantity": ["1"]})
    assert response.status_code == 302
    order = Order.objects.get(created_by=owner)
    assert order.status == "placed" and order.payment_status == "pending"
    assert order.movements.get().kind == "reservation"
    assert f'id="order-row-{order.pk}"' in html(owner_client.get(ORDERS))


def _posted_lines(response) -> list[dict]:
    match = re.search(r'<script id="sale-lines" type="application/json">(.*?)</script>', html(response), re.S)
    return json.loads(match.group(1))


def test_out_of_stock_is_shown_on_its_line_and_nothing_is_lost(alpha, owner_client):
    from apps.crm.models import Contact
    from apps.store.models import Order

    plenty = make_product("Iogurte", price="6.00", stock="50")
    scarce = make_product("Copa", price="89.00", unit="kg", stock="0.200")
    contacts = Contact.objects.count()

    response = owner_client.post(NEW_SALE, {**sale(customer_name="Pedro Alves", notes="sem sacola"),
                                            "product": [plenty.pk, scarce.pk], "quantity": ["3", "0,5"]})

    assert response.status_code == 400
    lines = _posted_lines(response)
    assert [(line["id"], line["quantity"]) for line in lines] == [(plenty.pk, "3"), (scarce.pk, "0,5")]
    message = as_shown(response, "Only %(available)s %(unit)s of %(product)s left in stock.") % {
        "available": "0.2", "unit": as_shown(response, "kg"), "product": "Copa"}
    assert lines[1]["error"] == message and lines[0]["error"] == ""
    assert 'value="Pedro Alves"' in html(response) and 'value="sem sacola"' in html(response)
    assert not Order.objects.exists()
    assert Contact.objects.count() == contacts  # the customer typed was not created for nothing
    plenty.refresh_from_db()
    assert plenty.stock_quantity == D("50")


@pytest.mark.parametrize("quantity", ["0", "abc", "-1", ""])
def test_a_bad_quantity_is_refused_on_its_line(alpha, owner_client, quantity):
    from apps.store.models import Order

    product = make_product("Requeijão", price="9.00")
    response = owner_client.post(NEW_SALE, {**sale(), "product": [product.pk], "quantity": [quantity]})
    assert response.status_code == 400
    assert _posted_lines(response)[0]["error"] == as_shown(response, "Enter a quantity greater than zero.")
    assert not Order.objects.exists()


def test_a_fractional_quantity_of_a_unit_product_is_refused(alpha, owner_client):
    product = make_product("Refrigerante", price="8.00")
    response = owner_client.post(NEW_SALE, {**sale(), "product": [product.pk], "quantity": ["1,5"]})
    assert response.status_code == 400
    assert _posted_lines(response)[0]["error"] == as_shown(
        response, "%(product)s is sold by the unit: use a whole number.") % {"product": "Refrigerante"}


def test_a_sale_without_products_or_with_an_unknown_one_is_refused(alpha, owner_client):
    empty = owner_client.post(NEW_SALE, sale())
    assert empty.status_code == 400 and shows(empty, "Add at least one product.")
    unknown = owner_client.post(NEW_SALE, {**sale(), "product": ["999999"], "quantity": ["1"]})
    assert unknown.status_code == 400
    assert 'data-testid="sale-errors"' in html(unknown)


def test_a_bad_customer_phone_is_a_field_error(alpha, owner_client):
    product = make_product("Pão de queijo", price="25.00")
    response = owner_client.post(NEW_SALE, {**sale(customer_phone="12"), "product": [product.pk],
                                            "quantity": ["1"]})
    assert response.status_code == 400
    assert shows(response, "Enter a valid phone number.")
    assert _posted_lines(response)[0]["quantity"] == "1"


def test_product_search_finds_active_products_by_name_or_sku(alpha, owner_client):
    make_product("Queijo minas frescal", sku="QMF-1", price="32.00")
    make_product("Queijo velho", sku="QV-9", price="10.00", is_active=False)
    found = owner_client.get("/store/orders/products/", {"q": "queijo"}).json()["results"]
    assert [r["name"] for r in found] == ["Queijo minas frescal"]
    assert found[0]["price"] == "32.00" and found[0]["available"] is True
    assert owner_client.get("/store/orders/products/", {"q": "qmf-1"}).json()["results"][0]["sku"] == "QMF-1"


# --- customers -----------------------------------------------------------------------------------------

def test_customer_list_and_page(alpha, owner_client):
    from apps.inbox.tests.helpers_inbox import make_conversation
    from apps.store.services.customers import address_create

    product = make_product(price="10.00")
    loyal = make_customer("Beatriz Costa", phone="+5511987650404")
    once = make_customer("Rafael Nunes", phone="+5511987650505")
    make_order([(product, 1)], contact=loyal)
    make_order([(product, 2)], contact=loyal)
    make_order([(product, 1)], contact=once)
    address_create(loyal, street="Rua Barão", number="12", neighbourhood="Cambuí")
    conversation = make_conversation(contact=loyal)

    page = owner_client.get("/store/customers/")
    assert page.status_code == 200
    assert "Beatriz Costa" in html(page) and "Rafael Nunes" in html(page)
    recurring = owner_client.get("/store/customers/", {"recurring": "yes"})
    assert "Beatriz Costa" in html(recurring) and "Rafael Nunes" not in html(recurring)

    detail = owner_client.get(f"/store/customers/{loyal.pk}/")
    body = html(detail)
    assert detail.status_code == 200
    assert 'data-testid="customer-orders">2<' in body
    assert "Rua Barão 12" in body and "Cambuí" in body
    assert f"/inbox/c/{conversation.pk}/" in body


# --- settings and zones --------------------------------------------------------------------------------

def test_settings_keep_the_secrets_write_only(alpha, owner_client):
    from apps.store.selectors import store_settings

    response = owner_client.post("/store/settings/", {
        "max_quantity_per_item": "12", "cart_reminder_minutes": "10", "cart_cancel_minutes": "20",
        "rating_delay_minutes": "60", "ordering_reset_minutes": "120", "pix_expiration_minutes": "30",
        "mercadopago_access_token": "APP_USR-1234567890-secret-token-abcd", "mercadopago_webhook_secret": "whsec-9876"})
    assert response.status_code == 302
    row = store_settings()
    assert row.mercadopago_access_token == "APP_USR-1234567890-secret-token-abcd"
    assert row.max_quantity_per_item == D("12")

    page = html(owner_client.get("/store/settings/"))
    assert "APP_USR-1234567890-secret-token-abcd" not in page and "whsec-9876" not in page
    assert "abcd" in page  # the masked tail

    # blank keeps the stored secrets
    owner_client.post("/store/settings/", {
        "max_quantity_per_item": "12", "cart_reminder_minutes": "10", "cart_cancel_minutes": "20",
        "rating_delay_minutes": "60", "ordering_reset_minutes": "120", "pix_expiration_minutes": "30",
        "mercadopago_access_token": "", "mercadopago_webhook_secret": ""})
    row.refresh_from_db()
    assert row.mercadopago_access_token == "APP_USR-1234567890-secret-token-abcd"
    assert row.mercadopago_webhook_secret == "whsec-9876"


def test_settings_errors_are_shown_and_nothing_changes(alpha, owner_client):
    from apps.store.selectors import store_settings

    store_settings_set(cart_reminder_minutes=10, cart_cancel_minutes=15)
    response = owner_client.post("/store/settings/", {
        "max_quantity_per_item": "abc", "cart_reminder_minutes": "30", "cart_cancel_minutes": "20",
        "rating_delay_minutes": "60", "ordering_reset_minutes": "120", "pix_expiration_minutes": "30"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in html(response)
    response = owner_client.post("/store/settings/", {
        "max_quantity_per_item": "10", "cart_reminder_minutes": "30", "cart_cancel_minutes": "20",
        "rating_delay_minutes": "60", "ordering_reset_minutes": "120", "pix_expiration_minutes": "30"})
    assert response.status_code == 400
    assert shows(response, "Cancel the cart after the reminder (more minutes).")
    assert store_settings().cart_reminder_minutes == 10


def test_delivery_zones_crud(alpha, owner_client):
    from apps.store.models import DeliveryZone

    created = owner_client.post("/store/settings/zones/", {"neighbourhood": "Cambuí", "city": "Campinas",
                                                           "fee": "7,50", "min_order": "30",
                                                           "estimated_minutes": "40", "is_active": "on"})
    assert created.status_code == 302
    zone = DeliveryZone.objects.get(neighbourhood="Cambuí")
    assert zone.fee == D("7.50") and zone.min_order == D("30.00")

    twin = owner_client.post("/store/settings/zones/", {"neighbourhood": "cambui", "city": "Campinas", "fee": "5",
                                                        "estimated_minutes": "30", "is_active": "on"})
    assert twin.status_code == 400
    assert shows(twin, "There is already a delivery zone for this neighbourhood.")
    assert 'value="cambui"' in html(twin)

    updated = owner_client.post(f"/store/settings/zones/{zone.pk}/", {
        f"z{zone.pk}-neighbourhood": "Cambuí", f"z{zone.pk}-city": "Campinas", f"z{zone.pk}-fee": "9.00",
        f"z{zone.pk}-min_order": "0", f"z{zone.pk}-estimated_minutes": "35", f"z{zone.pk}-is_active": "on"})
    assert updated.status_code == 302
    zone.refresh_from_db()
    assert zone.fee == D("9.00") and zone.estimated_minutes == 35

    bad = owner_client.post(f"/store/settings/zones/{zone.pk}/", {
        f"z{zone.pk}-neighbourhood": "", f"z{zone.pk}-fee": "-1", f"z{zone.pk}-estimated_minutes": "35"})
    assert bad.status_code == 400
    zone.refresh_from_db()
    assert zone.fee == D("9.00")

    assert owner_client.post(f"/store/settings/zones/{zone.pk}/delete/").status_code == 302
    zone.refresh_from_db()
    assert zone.is_active is False


# --- isolation -------------------------------------------------------------------------------------------

def test_beta_orders_and_customers_never_show_on_alpha(tenant, other_tenant, owner_client):
    from apps.store.models import Order

    with schema_context(other_tenant.schema_name):
        beta_order = make_order([(make_product("Pizza beta", price="50.00"), 1)],
                                contact=make_customer("Cliente Beta Secreto"))
        beta_contact_id = beta_order.contact_id
    with schema_context(tenant.schema_name):
        alpha_has_same_id = Order.objects.filter(pk=beta_order.pk).exists()
        alpha_has_contact = type(beta_order.contact).objects.filter(pk=beta_contact_id).exists()

    page = html(owner_client.get(ORDERS))
    assert "Cliente Beta Secreto" not in page
    assert "Cliente Beta Secreto" not in html(owner_client.get("/store/customers/"))
    assert "Pizza beta" not in owner_client.get("/store/orders/products/", {"q": "pizza"}).content.decode()
    if not alpha_has_same_id:
        assert owner_client.get(f"/store/orders/{beta_order.pk}/").status_code == 404
        assert owner_client.post(f"/store/orders/{beta_order.pk}/cancel/", {"reason": "x"}).status_code == 404
    if not alpha_has_contact:
        assert owner_client.get(f"/store/customers/{beta_contact_id}/").status_code == 404
    with schema_context(other_tenant.schema_name):
        beta_order.refresh_from_db()
        assert beta_order.status == "placed"


def test_store_settings_are_per_tenant(tenant, other_tenant, owner_client):
    from apps.store.selectors import store_settings

    with schema_context(other_tenant.schema_name):
        store_settings_set(mercadopago_access_token="BETA-TOKEN-0000000000001")
    page = html(owner_client.get("/store/settings/"))
    assert "0001" not in page
    with schema_context(tenant.schema_name):
        assert store_settings().mercadopago_access_token == ""
