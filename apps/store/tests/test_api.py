"""The store API: products (CRUD, stock and ledger), categories, zones, orders (filters, counter
sale with server totals, advance / cancel / pay and their refusals as 400 with a code), customers;
role checks (sellers read the catalogue, managers change it; analysts get nothing) and tenant
isolation (beta's rows are 404 / absent on alpha)."""
from __future__ import annotations

import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from conftest import as_shown, host_of, make_user

from .conftest import D, make_category, make_customer, make_order, make_product, make_zone

BASE = "/api/v1/store"


def api_as(tenant, user) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(tenant))
    client.force_authenticate(user)
    return client


@pytest.fixture
def agent_api(alpha):
    return api_as(alpha, make_user(alpha, email="agent-api@alpha.test", role="agent"))


@pytest.fixture
def analyst_api(alpha):
    return api_as(alpha, make_user(alpha, email="analyst-api@alpha.test", role="analyst"))


# --- catalogue -----------------------------------------------------------------------------------------

def test_products_crud_and_stock(alpha, api_client, owner):
    category = make_category("Frios")
    created = api_client.post(f"{BASE}/products/", {
        "sku": "PER-1", "name": "Peito de peru", "unit": "kg", "price": "59.90", "cost": "38.00",
        "category": category.pk, "min_stock": "2", "initial_stock": "4.5", "stock_quantity": "999"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["price"] == "59.90" and body["cost"] == "38.00" and body["category_name"] == "Frios"
    assert body["stock_quantity"] == "4.500"  # the initial stock, not the stock_quantity sent
    pk = body["id"]

    listed = api_client.get(f"{BASE}/products/", {"q": "peru"}).json()
    assert [p["sku"] for p in listed["results"]] == ["PER-1"]

    patched = api_client.patch(f"{BASE}/products/{pk}/", {"price": "61.00", "stock_quantity": "1"}, format="json")
    assert patched.status_code == 200 and patched.json()["price"] == "61.00"
    assert patched.json()["stock_quantity"] == "4.500"  # read-only: only the ledger moves stock

    moved = api_client.post(f"{BASE}/products/{pk}/stock/", {"kind": "adjustment", "quantity": "-3",
                                                             "reason": "Vencido"}, format="json")
    assert moved.status_code == 200 and moved.json()["stock_quantity"] == "1.500" and moved.json()["is_low"] is True
    ledger = api_client.get(f"{BASE}/products/{pk}/movements/").json()
    assert [(m["kind"], m["quantity"], m["reason"]) for m in ledger] == [
        ("adjustment", "-3.000", "Vencido"), ("purchase", "4.500", as_shown(created, "Initial stock"))]
    assert ledger[0]["user"] == owner.pk

    low = api_client.get(f"{BASE}/products/", {"low_stock": "true"}).json()["results"]
    assert [p["sku"] for p in low] == ["PER-1"]

    assert api_client.delete(f"{BASE}/products/{pk}/").status_code == 204
    assert api_client.get(f"{BASE}/products/{pk}/").json()["is_active"] is False


def test_product_refusals_are_400_with_messages(alpha, api_client):
    make_product("Existente", sku="DUP-1", stock="2")
    duplicate = api_client.post(f"{BASE}/products/", {"sku": "dup-1", "name": "X", "price": "1.00"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["sku"] == [as_shown(duplicate, "Another product already uses this SKU.")]
    negative = api_client.post(f"{BASE}/products/", {"sku": "N-1", "name": "X", "price": "-1"}, format="json")
    assert negative.status_code == 400 and "price" in negative.json()
    garbage = api_client.post(f"{BASE}/products/", {"sku": "N-2", "name": "X", "price": "abc"}, format="json")
    assert garbage.status_code == 400
    product = make_product("Pouco", sku="FEW-1", stock="2")
    too_much = api_client.post(f"{BASE}/products/{product.pk}/stock/", {"quantity": "-5", "reason": "x"},
                               format="json")
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "out_of_stock"
    assert too_much.json()["detail"] == [as_shown(too_much, "Only %(available)s of %(product)s left in stock.")
                                         % {"available": "2", "product": "Pouco"}]
    no_reason = api_client.post(f"{BASE}/products/{product.pk}/stock/", {"quantity": "1"}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    assert api_client.get(f"{BASE}/products/", {"category": "x"}).status_code == 400
    product.refresh_from_db()
    assert product.stock_quantity == D("2")


def test_categories_and_zones(alpha, api_client):
    category = api_client.post(f"{BASE}/categories/", {"name": "Laticínios", "position": 3}, format="json")
    assert category.status_code == 201
    assert api_client.post(f"{BASE}/categories/", {"name": "laticínios"}, format="json").status_code == 400
    assert api_client.delete(f"{BASE}/categories/{category.json()['id']}/").status_code == 204
    assert api_client.get(f"{BASE}/categories/").json()[0]["is_active"] is False

    zone = api_client.post(f"{BASE}/zones/", {"neighbourhood": "Taquaral", "city": "Campinas", "fee": "6.00",
                                               "min_order": "25.00", "estimated_minutes": 40}, format="json")
    assert zone.status_code == 201, zone.content
    twin = api_client.post(f"{BASE}/zones/", {"neighbourhood": "TAQUARAL", "city": "Campinas"}, format="json")
    assert twin.status_code == 400
    assert twin.json()["neighbourhood"] == [as_shown(twin, "There is already a delivery zone for this neighbourhood.")]
    changed = api_client.patch(f"{BASE}/zones/{zone.json()['id']}/", {"fee": "7.50"}, format="json")
    assert changed.status_code == 200 and changed.json()["fee"] == "7.50"
    assert api_client.delete(f"{BASE}/zones/{zone.json()['id']}/").status_code == 204
    assert api_client.get(f"{BASE}/zones/").json()[0]["is_active"] is False


def test_sellers_read_the_catalogue_but_do_not_change_it(alpha, agent_api, analyst_api):
    product = make_product("Queijo", sku="Q-1")
    listed = agent_api.get(f"{BASE}/products/")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["price"] == "10.00" and "cost" not in listed.json()["results"][0]
    assert agent_api.get(f"{BASE}/zones/").status_code == 200
    assert agent_api.post(f"{BASE}/products/", {"sku": "Q-2", "name": "Y", "price": "1"}, format="json"
                          ).status_code == 403
    assert agent_api.post(f"{BASE}/products/{product.pk}/stock/", {"quantity": "1", "reason": "x"},
                          format="json").status_code == 403
    assert agent_api.post(f"{BASE}/zones/", {"neighbourhood": "Centro"}, format="json").status_code == 403
    for path in ("products/", "orders/", "customers/", "categories/", "zones/"):
        assert analyst_api.get(f"{BASE}/{path}").status_code == 403, path


# --- orders --------------------------------------------------------------------------------------------

def test_counter_sale_recomputes_totals_and_moves_stock(alpha, agent_api):
    cheese = make_product("Queijo prato", price="49.90", unit="kg", stock="5")
    soda = make_product("Refrigerante", price="8.50", stock="10")

    response = agent_api.post(f"{BASE}/orders/", {
        "items": [{"product": cheese.pk, "quantity": "0.333"}, {"product": soda.pk, "quantity": "2"},
                  {"product": soda.pk, "quantity": "1"}],
        "payment_method": "cash", "paid": True, "status": "delivered", "discount": "1.00",
        "customer_phone": "11 98765-0606", "customer_name": "Lia", "total": "0.01", "subtotal": "0.01"},
        format="json")

    assert response.status_code == 201, response.content
    order = response.json()
    # 0.333 x 49.90 = 16.62; 3 x 8.50 = 25.50 (the same product twice is one line)
    assert (order["subtotal"], order["discount"], order["total"]) == ("42.12", "1.00", "41.12")
    assert order["status"] == "delivered" and order["payment_status"] == "paid" and order["channel"] == "counter"
    assert [(i["product_name"], i["quantity"]) for i in order["items"]] == [("Queijo prato", "0.333"),
                                                                           ("Refrigerante", "3.000")]
    assert order["contact_phone"] == "+5511987650606"
    cheese.refresh_from_db()
    soda.refresh_from_db()
    assert cheese.stock_quantity == D("4.667") and soda.stock_quantity == D("7")


@pytest.mark.parametrize("items,code", [
    ([{"product": 999999, "quantity": "1"}], "product_not_found"),
    ([{"product": "P", "quantity": "0"}], "quantity_invalid"),
    ([{"product": "P", "quantity": "50"}], "out_of_stock"),
    ([{"product": "P", "quantity": "1.5"}], "quantity_invalid"),
])
def test_counter_sale_refusals(alpha, api_client, items, code):
    from apps.crm.models import Contact
    from apps.store.models import Order

    product = make_product("Iogurte", price="5.00", stock="10")
    items = [{**item, "product": product.pk if item["product"] == "P" else item["product"]} for item in items]
    contacts = Contact.objects.count()

    response = api_client.post(f"{BASE}/orders/", {"items": items, "customer_name": "Novo cliente"}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code and response.json()["detail"]
    assert not Order.objects.exists() and Contact.objects.count() == contacts
    product.refresh_from_db()
    assert product.stock_quantity == D("10")


def test_counter_sale_shape_errors(alpha, api_client):
    assert api_client.post(f"{BASE}/orders/", {"items": []}, format="json").status_code == 400
    assert api_client.post(f"{BASE}/orders/", {"items": [{"product": 1, "quantity": "x"}]},
                           format="json").status_code == 400
    assert api_client.post(f"{BASE}/orders/", {"items": [{"product": 1, "quantity": "1"}], "contact": 999999},
                           format="json").status_code == 400
    assert api_client.post(f"{BASE}/orders/", "not json", content_type="application/json").status_code == 400


def test_order_actions_and_their_refusals(alpha, api_client, owner):
    ham = make_product("Presunto", price="40.00", stock="10")
    order = make_order([(ham, 2)], payment_method="pix")
    url = f"{BASE}/orders/{order.pk}"

    advanced = api_client.post(f"{url}/advance/", {}, format="json")
    assert advanced.status_code == 200 and advanced.json()["status"] == "confirmed"
    assert advanced.json()["events"][-1]["user"] == owner.pk
    skipped = api_client.post(f"{url}/advance/", {"to": "ready"}, format="json")
    assert skipped.status_code == 200 and skipped.json()["status"] == "ready"
    backwards = api_client.post(f"{url}/advance/", {"to": "placed"}, format="json")
    assert backwards.status_code == 400 and backwards.json()["code"] == "invalid_transition"
    assert api_client.post(f"{url}/advance/", {"to": "nonsense"}, format="json").status_code == 400

    paid = api_client.post(f"{url}/pay/")
    assert paid.status_code == 200 and paid.json()["payment_status"] == "paid"

    assert api_client.post(f"{url}/cancel/", {}, format="json").status_code == 400  # a reason is required
    canceled = api_client.post(f"{url}/cancel/", {"reason": "Loja fechou"}, format="json")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    ham.refresh_from_db()
    assert ham.stock_quantity == D("10")
    again = api_client.post(f"{url}/cancel/", {"reason": "x"}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "invalid_transition"
    ham.refresh_from_db()
    assert ham.stock_quantity == D("10")
    assert api_client.post(f"{BASE}/orders/999999/pay/").status_code == 404


def test_order_list_filters(alpha, api_client):
    product = make_product(price="10.00")
    maria = make_customer("Maria Filtro")
    counter = make_order([(product, 1)], contact=maria, payment_method="pix")
    whatsapp = make_order([(product, 1)], channel="whatsapp", payment_method="cash")

    def ids(**params):
        response = api_client.get(f"{BASE}/orders/", params)
        assert response.status_code == 200, response.content
        return {o["id"] for o in response.json()["results"]}

    assert ids() == {counter.pk, whatsapp.pk}
    assert ids(channel="whatsapp") == {whatsapp.pk}
    assert ids(payment_method="pix") == {counter.pk}
    assert ids(q="maria") == {counter.pk}
    assert ids(contact=maria.pk) == {counter.pk}
    assert ids(period="today") == {counter.pk, whatsapp.pk}
    assert ids(period="last_month") == set()
    for bad in ({"period": "custom"}, {"period": "forever"}, {"status": "lost"}, {"contact": "abc"}):
        assert api_client.get(f"{BASE}/orders/", bad).status_code == 400, bad


def test_customers(alpha, api_client):
    from apps.store.services.customers import address_create, customer_update

    product = make_product(price="10.00")
    loyal = make_customer("Cliente Fiel")
    customer_update(loyal, document_number="123.456.789-09")
    address_create(loyal, street="Rua A", number="1", neighbourhood="Centro")
    make_order([(product, 1)], contact=loyal)
    make_order([(product, 3)], contact=loyal)
    make_customer("Só Cadastro")

    listed = api_client.get(f"{BASE}/customers/").json()["results"]
    by_name = {c["name"]: c for c in listed}
    assert by_name["Cliente Fiel"]["order_count"] == 2 and by_name["Cliente Fiel"]["total_spent"] == "40.00"
    assert by_name["Cliente Fiel"]["is_recurring"] is True and by_name["Só Cadastro"]["is_recurring"] is False
    recurring = api_client.get(f"{BASE}/customers/", {"recurring": "true"}).json()["results"]
    assert [c["name"] for c in recurring] == ["Cliente Fiel"]
    detail = api_client.get(f"{BASE}/customers/{loyal.pk}/").json()
    assert detail["document_number"] == "12345678909" and detail["addresses"][0]["street"] == "Rua A"
    assert api_client.get(f"{BASE}/customers/", {"recurring": "maybe"}).status_code == 400


# --- isolation -------------------------------------------------------------------------------------------

def test_beta_rows_do_not_exist_on_alpha(tenant, other_tenant, api_client):
    from apps.crm.models import Contact
    from apps.store.models import DeliveryZone, Order, Product

    with schema_context(other_tenant.schema_name):
        beta_product = make_product("Produto Beta", sku="BETA-API")
        beta_order = make_order([(beta_product, 1)], contact=make_customer("Cliente Beta API"))
        beta_zone = make_zone("Bairro Beta")
    with schema_context(tenant.schema_name):
        taken = {"product": Product.objects.filter(pk=beta_product.pk).exists(),
                 "order": Order.objects.filter(pk=beta_order.pk).exists(),
                 "contact": Contact.objects.filter(pk=beta_order.contact_id).exists(),
                 "zone": DeliveryZone.objects.filter(pk=beta_zone.pk).exists()}

    assert "BETA-API" not in api_client.get(f"{BASE}/products/").content.decode()
    assert "Cliente Beta API" not in api_client.get(f"{BASE}/orders/").content.decode()
    assert "Cliente Beta API" not in api_client.get(f"{BASE}/customers/").content.decode()
    assert "Bairro Beta" not in api_client.get(f"{BASE}/zones/").content.decode()
    if not taken["product"]:
        assert api_client.get(f"{BASE}/products/{beta_product.pk}/").status_code == 404
        assert api_client.post(f"{BASE}/products/{beta_product.pk}/stock/", {"quantity": "5", "reason": "x"},
                               format="json").status_code == 404
        sale = api_client.post(f"{BASE}/orders/", {"items": [{"product": beta_product.pk, "quantity": "1"}]},
                               format="json")
        assert sale.status_code == 400 and sale.json()["code"] == "product_not_found"
    if not taken["order"]:
        assert api_client.get(f"{BASE}/orders/{beta_order.pk}/").status_code == 404
        assert api_client.post(f"{BASE}/orders/{beta_order.pk}/cancel/", {"reason": "x"},
                               format="json").status_code == 404
    if not taken["contact"]:
        assert api_client.get(f"{BASE}/customers/{beta_order.contact_id}/").status_code == 404
    if not taken["zone"]:
        assert api_client.delete(f"{BASE}/zones/{beta_zone.pk}/").status_code == 404
    with schema_context(other_tenant.schema_name):
        beta_order.refresh_from_db()
        beta_product.refresh_from_db()
        beta_zone.refresh_from_db()
        assert beta_order.status == "placed" and beta_product.stock_quantity == D("99") and beta_zone.is_active
