"""Test data for the dashboard, written straight to the models of the *current* schema (call inside
``schema_context``): the numbers under test must not depend on the order services being right.
Times are given as local wall-clock times in America/Sao_Paulo unless a zone is passed."""
from __future__ import annotations

import itertools
import zoneinfo
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

SP = zoneinfo.ZoneInfo("America/Sao_Paulo")
_seq = itertools.count(1)


def D(value) -> Decimal:  # noqa: N802 - reads like a literal
    return value if isinstance(value, Decimal) else Decimal(str(value))


def local(text: str, tz=SP) -> datetime:
    """'2025-03-10 23:30' in ``tz`` as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def make_category(name: str):
    from apps.store.models import Category

    return Category.objects.get_or_create(name=name)[0]


def make_product(name: str, *, price="10.00", cost="6.00", category=None, unit="unit"):
    from apps.store.models import Product

    return Product.objects.create(sku=f"T{next(_seq):05d}", name=name, price=D(price), cost=D(cost),
                                  category=category, unit=unit)


def make_contact(name: str):
    from apps.crm.models import Contact

    return Contact.objects.create(name=name, phone=f"+5541988{next(_seq):06d}")


def make_order(*, at: datetime | None, items, contact=None, channel="whatsapp", status="delivered",
               payment_method="pix", delivery_fee="0", discount="0"):
    """``items`` = [(product, quantity)], priced and costed from the product as it is now (the
    snapshots); totals computed as the store does: total = subtotal - discount + delivery fee."""
    from apps.store.models import Order, OrderItem

    cent = Decimal("0.01")
    lines = []
    for product, quantity in items:
        quantity = D(quantity)
        lines.append((product, quantity, (quantity * product.price).quantize(cent, ROUND_HALF_UP),
                      (quantity * product.cost).quantize(cent, ROUND_HALF_UP)))
    subtotal = sum((line[2] for line in lines), Decimal("0"))
    order = Order.objects.create(
        number=None if status == "cart" else next(_seq) + 100_000, contact=contact, channel=channel,
        status=status, placed_at=at, payment_method=payment_method, subtotal=subtotal, discount=D(discount),
        delivery_fee=D(delivery_fee), total=subtotal - D(discount) + D(delivery_fee),
        cost_total=sum((line[3] for line in lines), Decimal("0")))
    OrderItem.objects.bulk_create([
        OrderItem(order=order, product=product, category=product.category, product_name=product.name, sku=product.sku,
                  unit=product.unit, quantity=quantity, unit_price=product.price, unit_cost=product.cost, total=total)
        for product, quantity, total, _cost in lines])
    return order
