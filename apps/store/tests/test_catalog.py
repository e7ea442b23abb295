"""Catalogue services and the store settings: validation with field messages, stock through the
ledger only, and the selectors that list products."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from apps.store.models import Category, Product, StockMovement, StoreSettings
from apps.store.selectors import category_list, product_list, products_low_stock, store_settings
from apps.store.services.catalog import (category_create, category_deactivate, category_update, product_create,
                                         product_deactivate, product_update)
from apps.store.services.settings import store_settings_update

from .conftest import D, make_category, make_product

pytestmark = pytest.mark.usefixtures("english")


def field_errors(call, *args, **kwargs) -> dict:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    return caught.value.message_dict


def test_product_create_with_initial_stock_through_the_ledger(alpha, owner):
    category = make_category("Queijos")
    product = product_create(sku=" QJ-01 ", name="  Queijo   minas ", price="32.90", cost=D("21.50"), unit="kg",
                             category=category, min_stock="2", initial_stock=D("12.5"), user=owner)
    product.refresh_from_db()
    assert (product.sku, product.name, product.price, product.cost, product.unit, product.category,
            product.min_stock, product.stock_quantity) == (
        "QJ-01", "Queijo minas", D("32.90"), D("21.50"), "kg", category, D("2"), D("12.5"))
    movement = StockMovement.objects.get(product=product)
    assert (movement.kind, movement.quantity, movement.balance_after, movement.user) == (
        "purchase", D("12.5"), D("12.5"), owner)


def test_product_create_reports_every_bad_field(alpha):
    make_product(sku="DUP-1")
    errors = field_errors(product_create, sku="dup-1", name="   ", price="-1", cost="abc", unit="litre")
    assert errors == {
        "sku": ["Another product already uses this SKU."],
        "name": ["Enter a name."],
        "price": ["Must be zero or more."],
        "cost": ["Enter a number."],
        "unit": ["Choose unit, kg or g."],
    }
    assert Product.objects.count() == 1


@pytest.mark.parametrize("price, message", [("10.999", "Use at most 2 decimal places."),
                                            ("", "Enter a number."), ("1e9", "This amount is too large.")])
def test_prices_are_money(alpha, price, message):
    assert field_errors(product_create, sku="X", name="X", price=price) == {"price": [message]}


def test_a_whole_unit_product_refuses_a_fractional_initial_stock(alpha):
    errors = field_errors(product_create, sku="U1", name="Lata", price="5", unit="unit", initial_stock="1.5")
    assert errors == {"initial_stock": ["Lata is sold by the unit: use a whole number."]}
    assert not Product.objects.filter(sku="U1").exists()


def test_product_update_validates_and_never_touches_stock(alpha):
    product = make_product("Salame", sku="SAL-1", price="10.00", stock="4")
    make_product(sku="OTHER")
    assert field_errors(product_update, product, sku="other") == {"sku": ["Another product already uses this SKU."]}
    assert field_errors(product_update, product, cost="-0.01") == {"cost": ["Must be zero or more."]}
    with pytest.raises(ValueError):
        product_update(product, stock_quantity=D("99"))
    product_update(product, name="Salame italiano", price="12.5", sku="SAL-1")
    product.refresh_from_db()
    assert (product.name, product.price, product.stock_quantity) == ("Salame italiano", D("12.50"), D("4"))


def test_switching_to_unit_with_a_fractional_stock_is_refused(alpha):
    product = make_product(unit="kg", stock="1.5")
    assert "unit" in field_errors(product_update, product, unit="unit")


def test_deactivated_products_stay_for_history(alpha):
    product = make_product()
    product_deactivate(product)
    assert Product.objects.get(pk=product.pk).is_active is False
    assert list(product_list(active=True)) == []
    assert list(product_list(active=False)) == [product]


def test_categories(alpha):
    cheese = category_create(name=" Queijos ", position=1)
    assert cheese.name == "Queijos"
    assert field_errors(category_create, name="queijos") == {"name": ["There is already a category with this name."]}
    assert field_errors(category_create, name="") == {"name": ["Enter a name."]}
    drinks = category_create(name="Bebidas", position=0)
    make_product(category=cheese)
    category_update(cheese, name="Queijos finos")
    category_deactivate(drinks)
    counts = {c.name: c.product_count for c in category_list()}
    assert counts == {"Bebidas": 0, "Queijos finos": 1}
    assert [c.name for c in category_list(active_only=True)] == ["Queijos finos"]
    assert Category.objects.get(pk=drinks.pk).is_active is False


def test_product_search_and_low_stock(alpha):
    cheese = make_category("Queijos")
    low = make_product("Queijo brie", sku="BR-1", category=cheese, stock="1", min_stock=D("2"))
    empty = make_product("Queijo gouda", sku="GO-1", category=cheese, stock="0", min_stock=D("5"))
    make_product("Salame", sku="SA-1", stock="10", min_stock=D("2"))
    make_product("Sem mínimo", stock="0")  # no minimum: never "low"
    make_product("Inativo", stock="0", min_stock=D("3"), is_active=False)
    assert {p.sku for p in product_list(q="queijo")} == {"BR-1", "GO-1"}
    assert {p.sku for p in product_list(q="go-1")} == {"GO-1"}
    assert {p.name for p in product_list(category=cheese)} == {"Queijo brie", "Queijo gouda"}
    assert list(products_low_stock()) == [empty, low]  # the emptiest against its minimum first


def test_store_settings_are_created_once_and_updated_with_validation(alpha):
    row = store_settings()
    assert (row.pk, row.max_quantity_per_item, row.cart_reminder_minutes) == (1, D("10"), 10)
    assert store_settings().pk == 1 and StoreSettings.objects.count() == 1
    errors = field_errors(store_settings_update, max_quantity_per_item="0", cart_reminder_minutes="x")
    assert set(errors) == {"max_quantity_per_item", "cart_reminder_minutes"}
    assert field_errors(store_settings_update, cart_reminder_minutes=20, cart_cancel_minutes=15) == {
        "cart_cancel_minutes": ["Cancel the cart after the reminder (more minutes)."]}
    store_settings_update(allow_negative_stock=True, max_quantity_per_item="24", mercadopago_access_token="APP-123")
    store_settings_update(mercadopago_access_token=None, cart_cancel_minutes=30)  # None keeps the secret
    row = store_settings()
    assert (row.allow_negative_stock, row.max_quantity_per_item, row.cart_cancel_minutes,
            row.mercadopago_access_token) == (True, D("24"), 30, "APP-123")


def test_catalogues_are_per_tenant(tenant, other_tenant):
    with schema_context("alpha"):
        product_create(sku="SAME", name="Alpha", price="1")
        store_settings_update(max_quantity_per_item="3")
    with schema_context("beta"):
        product_create(sku="SAME", name="Beta", price="2")  # the SKU is unique per store only
        assert [p.name for p in product_list()] == ["Beta"]
        assert store_settings().max_quantity_per_item == D("10")
