"""The stock ledger: every change under a row lock with a ledger line, never negative unless allowed."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections
from django_tenants.utils import schema_context

from apps.store.errors import StoreError
from apps.store.models import Product, StockMovement
from apps.store.services.stock import stock_adjust

from .conftest import D, cleanup_store, make_product, store_settings_set

pytestmark = pytest.mark.usefixtures("english")


def ledger(product):
    return list(StockMovement.objects.filter(product=product).order_by("id")
                .values_list("kind", "quantity", "balance_after"))


def test_adjust_moves_stock_and_writes_a_ledger_line_with_the_balance(alpha, owner):
    product = make_product("Queijo minas", stock="5")
    movement = stock_adjust(product, quantity=D("3"), kind="purchase", reason="Fornecedor", user=owner)
    stock_adjust(product, quantity=D("-2"), reason="Quebra")

    product.refresh_from_db()
    assert product.stock_quantity == D("6")
    assert (movement.reason, movement.user) == ("Fornecedor", owner)
    assert ledger(product) == [("purchase", D("5"), D("5")), ("purchase", D("3"), D("8")),
                               ("adjustment", D("-2"), D("6"))]


def test_going_below_zero_is_refused_naming_the_product_and_what_is_left(alpha):
    product = make_product("Presunto cozido", stock="2")
    with pytest.raises(StoreError) as caught:
        stock_adjust(product, quantity=D("-3"))
    assert caught.value.code == "out_of_stock"
    assert caught.value.messages == ["Only 2 of Presunto cozido left in stock."]
    product.refresh_from_db()
    assert product.stock_quantity == D("2") and len(ledger(product)) == 1


def test_an_empty_product_says_out_of_stock(alpha):
    product = make_product("Mortadela", stock="0")
    with pytest.raises(StoreError) as caught:
        stock_adjust(product, quantity=D("-1"))
    assert caught.value.messages == ["Sorry, Mortadela is out of stock."]
    assert ledger(product) == []


def test_selling_without_stock_lets_the_balance_go_negative(alpha):
    store_settings_set(allow_negative_stock=True)
    product = make_product(stock="1")
    stock_adjust(product, quantity=D("-3"), kind="sale")
    product.refresh_from_db()
    assert product.stock_quantity == D("-2")
    assert ledger(product)[-1] == ("sale", D("-3"), D("-2"))


@pytest.mark.parametrize("quantity", ["1.5", "0", "abc", "NaN", "Infinity", None])
def test_unit_products_take_whole_nonzero_quantities(alpha, quantity):
    product = make_product(stock="10", unit="unit")
    with pytest.raises(StoreError) as caught:
        stock_adjust(product, quantity=quantity)
    assert caught.value.code == "quantity_invalid"
    assert ledger(product) == [("purchase", D("10"), D("10"))]


def test_weighed_products_take_three_decimal_places_but_not_four(alpha):
    product = make_product(stock="2.000", unit="kg")
    stock_adjust(product, quantity=D("-0.375"))
    assert Product.objects.get(pk=product.pk).stock_quantity == D("1.625")
    with pytest.raises(StoreError) as caught:
        stock_adjust(product, quantity=D("-2"))
    assert caught.value.messages == [f"Only 1.625 kg of {product.name} left in stock."]
    with pytest.raises(StoreError) as caught:
        stock_adjust(product, quantity=D("-0.0005"))
    assert caught.value.code == "quantity_invalid"
    assert Product.objects.get(pk=product.pk).stock_quantity == D("1.625")


def test_an_unknown_kind_is_a_programming_error(alpha):
    with pytest.raises(ValueError):
        stock_adjust(make_product(), quantity=D("1"), kind="gift")


def test_ledgers_are_per_tenant(tenant, other_tenant):
    with schema_context("alpha"):
        product = make_product("Só da alpha", sku="ONLY-A", stock="4")
        stock_adjust(product, quantity=D("-1"))
    with schema_context("beta"):
        assert not Product.objects.filter(sku="ONLY-A").exists()
        assert not StockMovement.objects.filter(product_id=product.pk, quantity=D("-1")).exists()


def test_concurrent_takes_never_oversell(committed):
    """Six connections each take one of three committed units at once: the row lock lets exactly
    three through; the others see the new balance and are refused. (No ``db`` fixture: its
    transaction would hide the row from the other connections.)"""
    with schema_context("alpha"):
        product = make_product("Últimas peças", stock="3")
    barrier = threading.Barrier(6)
    outcomes, errors = [], []

    def take():
        try:
            with schema_context("alpha"):
                barrier.wait(timeout=10)
                stock_adjust(Product.objects.get(pk=product.pk), quantity=Decimal("-1"), kind="sale")
                outcomes.append("ok")
        except StoreError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    try:
        threads = [threading.Thread(target=take) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert sorted(outcomes) == ["ok"] * 3 + ["out_of_stock"] * 3
        with schema_context("alpha"):
            assert Product.objects.get(pk=product.pk).stock_quantity == 0
            assert ledger(product) == [("purchase", D("3"), D("3")), ("sale", D("-1"), D("2")),
                                       ("sale", D("-1"), D("1")), ("sale", D("-1"), D("0"))]
    finally:
        with schema_context("alpha"):
            cleanup_store()
