"""Produtos as a manager meets it: the list with search, category filter and low-stock badges, the
low-stock list, creating and editing products (image upload, prices typed with a comma, service
validation shown on the form with the input kept), stock adjustments with a reason and their
ledger, per-product performance over a period with a sparkline, categories, and isolation."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import as_shown

from .conftest import D, make_category, make_order, make_product
from .test_views import HX, html, shows

PRODUCTS = "/store/products/"


def png(name="queijo.png") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 160, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def product_data(**overrides) -> dict:
    data = {"sku": "QMF-500", "name": "Queijo minas frescal", "description": "Peça de 500 g", "category": "",
            "unit": "kg", "price": "34,90", "cost": "21,50", "min_stock": "2", "initial_stock": "8,5",
            "is_active": "on"}
    data.update(overrides)
    return data


def test_list_searches_filters_and_flags_low_stock(alpha, owner_client):
    cheeses = make_category("Queijos")
    drinks = make_category("Bebidas")
    brie = make_product("Queijo brie", category=cheeses, stock="1", min_stock=D("3"))
    make_product("Queijo coalho", category=cheeses, stock="40", min_stock=D("3"))
    make_product("Cerveja", category=drinks, stock="0")

    page = owner_client.get(PRODUCTS)
    assert page.status_code == 200
    for name in ("Queijo brie", "Queijo coalho", "Cerveja"):
        assert name in html(page)
    assert html(page).count('data-testid="low-stock-badge"') == 2  # brie (cards + table)

    search = owner_client.get(PRODUCTS, {"q": "queijo"}, **{**HX, "HTTP_HX_TARGET": "product-results"})
    assert "<html" not in html(search)
    assert "Queijo brie" in html(search) and "Cerveja" not in html(search)

    by_category = owner_client.get(PRODUCTS, {"category": drinks.pk})
    assert "Cerveja" in html(by_category) and "Queijo brie" not in html(by_category)

    low = owner_client.get(PRODUCTS, {"low": "1"})
    assert f'data-product="{brie.pk}"' in html(low)
    assert "Queijo coalho" not in html(low)

    assert owner_client.get(PRODUCTS, {"category": "abc", "page": "x"}).status_code == 200


def test_create_product_with_image_and_initial_stock(alpha, owner_client, owner):
    from apps.store.models import Product

    category = make_category("Queijos")
    response = owner_client.post("/store/products/new/", {**product_data(category=category.pk), "image": png()})

    assert response.status_code == 302
    product = Product.objects.get(sku="QMF-500")
    assert response["Location"] == f"/store/products/{product.pk}/"
    assert product.price == D("34.90") and product.cost == D("21.50") and product.unit == "kg"
    assert product.category == category and product.image.name.endswith(".png")
    assert product.stock_quantity == D("8.5")
    movement = product.movements.get()
    assert movement.kind == "purchase" and movement.quantity == D("8.5") and movement.user_id == owner.pk

    page = owner_client.get(f"/store/products/{product.pk}/")
    assert page.status_code == 200
    assert 'data-testid="stock-ledger"' in html(page) and product.image.url in html(page)


def test_create_refusals_are_shown_with_the_input_kept(alpha, owner_client):
    from apps.store.models import Product

    make_product("Outro", sku="QMF-500")
    duplicate = owner_client.post("/store/products/new/", product_data(sku="qmf-500"))
    assert duplicate.status_code == 400
    assert shows(duplicate, "Another product already uses this SKU.")
    assert 'value="Queijo minas frescal"' in html(duplicate) and 'value="34,90"' in html(duplicate)

    bad = owner_client.post("/store/products/new/", product_data(sku="NEW-1", price="abc", name=""))
    assert bad.status_code == 400
    assert 'aria-invalid="true"' in html(bad)
    assert shows(bad, "Enter a number.")

    too_precise = owner_client.post("/store/products/new/", product_data(sku="NEW-2", price="1,999"))
    assert too_precise.status_code == 400
    not_an_image = owner_client.post("/store/products/new/", {
        **product_data(sku="NEW-3"), "image": SimpleUploadedFile("x.png", b"not a png", content_type="image/png")})
    assert not_an_image.status_code == 400
    assert not Product.objects.filter(sku__startswith="NEW").exists()


def test_edit_product(alpha, owner_client):
    product = make_product("Mortadela", sku="MORT-1", price="20.00", unit="kg")
    response = owner_client.post(f"/store/products/{product.pk}/", {
        "sku": "MORT-1", "name": "Mortadela Bologna", "unit": "kg", "price": "22,40", "cost": "12", "min_stock": "1",
        "category": "", "description": "", "is_active": "on"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.name == "Mortadela Bologna" and product.price == D("22.40")
    assert product.stock_quantity == D("100")  # never changed by editing

    deactivate = owner_client.post(f"/store/products/{product.pk}/", {
        "sku": "MORT-1", "name": "Mortadela Bologna", "unit": "kg", "price": "22,40", "cost": "12",
        "min_stock": "1", "category": "", "description": ""})
    assert deactivate.status_code == 302
    product.refresh_from_db()
    assert product.is_active is False


def test_stock_adjustment_needs_a_reason_and_is_refused_below_zero(alpha, owner_client, owner):
    product = make_product("Linguiça calabresa", unit="kg", stock="3")
    url = f"/store/products/{product.pk}/stock/"

    no_reason = owner_client.post(url, {"kind": "adjustment", "quantity": "-1", "reason": ""}, **HX)
    assert no_reason.status_code == 400 and shows(no_reason, "Say why the stock changes.")

    too_much = owner_client.post(url, {"kind": "adjustment", "quantity": "-5", "reason": "Quebra"}, **HX)
    assert too_much.status_code == 400
    assert shows(too_much, "Only %(available)s %(unit)s of %(product)s left in stock.", available="3",
                 unit=as_shown(too_much, "kg"), product="Linguiça calabresa")
    assert 'value="Quebra"' in html(too_much)

    negative_purchase = owner_client.post(url, {"kind": "purchase", "quantity": "-2", "reason": "x"}, **HX)
    assert negative_purchase.status_code == 400
    product.refresh_from_db()
    assert product.stock_quantity == D("3") and product.movements.count() == 1

    done = owner_client.post(url, {"kind": "adjustment", "quantity": "-0,750", "reason": "Contagem"}, **HX)
    assert done.status_code == 200
    assert 'id="stock-card"' in html(done) and "Contagem" in html(done)
    product.refresh_from_db()
    assert product.stock_quantity == D("2.250")
    movement = product.movements.first()
    assert (movement.kind, movement.quantity, movement.balance_after, movement.reason, movement.user_id) == (
        "adjustment", D("-0.750"), D("2.250"), "Contagem", owner.pk)

    plain = owner_client.post(url, {"kind": "purchase", "quantity": "10", "reason": "Fornecedor"})
    assert plain.status_code == 302
    product.refresh_from_db()
    assert product.stock_quantity == D("12.250")


def test_performance_over_the_period_with_a_sparkline(alpha, owner_client):
    product = make_product("Peito de peru", price="60.00", cost="40.00", unit="kg", stock="50")
    other = make_product("Outro", price="5.00")
    make_order([(product, "1.5"), (other, 1)])
    make_order([(product, 2)], placed_at=timezone.now() - timedelta(days=3))
    canceled = make_order([(product, 10)])
    from apps.store.services.orders import order_cancel

    order_cancel(canceled, reason="teste")
    make_order([(product, 4)], placed_at=timezone.now() - timedelta(days=60))  # outside 30 days

    page = owner_client.get(f"/store/products/{product.pk}/", {"period": "30d"})
    body = html(page)
    assert 'data-testid="perf-units">3,5<' in body or 'data-testid="perf-units">3.5<' in body
    assert "R$ 210,00" in body or "R$ 210.00" in body  # 3.5 x 60
    assert "R$ 70,00" in body or "R$ 70.00" in body  # margin: 210 - 3.5 x 40
    points = body.split('<polyline points="')[1].split('"')[0].split()
    assert len(points) == 30

    fragment = owner_client.get(f"/store/products/{product.pk}/", {"period": "7d"},
                                **{**HX, "HTTP_HX_TARGET": "performance-card"})
    assert "<html" not in html(fragment) and 'id="performance-card"' in html(fragment)
    assert len(html(fragment).split('<polyline points="')[1].split('"')[0].split()) == 7
    assert owner_client.get(f"/store/products/{product.pk}/", {"period": "nonsense"}).status_code == 200


def test_categories_create_edit_and_refuse_duplicates(alpha, owner_client):
    from apps.store.models import Category

    assert owner_client.post("/store/products/categories/", {"name": "Embutidos", "position": "2"}).status_code == 302
    category = Category.objects.get(name="Embutidos")
    duplicate = owner_client.post("/store/products/categories/", {"name": "embutidos"})
    assert duplicate.status_code == 400
    assert shows(duplicate, "There is already a category with this name.")

    edited = owner_client.post(f"/store/products/categories/{category.pk}/", {
        f"c{category.pk}-name": "Embutidos finos", f"c{category.pk}-position": "1"})
    assert edited.status_code == 302
    category.refresh_from_db()
    assert category.name == "Embutidos finos" and category.position == 1 and category.is_active is False

    blank = owner_client.post(f"/store/products/categories/{category.pk}/", {f"c{category.pk}-name": ""})
    assert blank.status_code == 400
    category.refresh_from_db()
    assert category.name == "Embutidos finos"


def test_beta_products_never_show_on_alpha(tenant, other_tenant, owner_client):
    from apps.store.models import Product

    with schema_context(other_tenant.schema_name):
        beta = make_product("Calabresa da Beta", sku="BETA-1")
    with schema_context(tenant.schema_name):
        alpha_has_same_id = Product.objects.filter(pk=beta.pk).exists()
    assert "Calabresa da Beta" not in html(owner_client.get(PRODUCTS, {"state": "all"}))
    assert "Calabresa da Beta" not in owner_client.get("/store/products/export/?format=csv").content.decode("utf-8")
    if not alpha_has_same_id:
        assert owner_client.get(f"/store/products/{beta.pk}/").status_code == 404
        assert owner_client.post(f"/store/products/{beta.pk}/stock/", {"kind": "purchase", "quantity": "1",
                                                                      "reason": "x"}).status_code == 404
    with schema_context(other_tenant.schema_name):
        beta.refresh_from_db()
        assert beta.stock_quantity == D("100")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
