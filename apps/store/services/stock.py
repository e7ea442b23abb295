"""The stock ledger. ``Product.stock_quantity`` is the quantity available to sell; it changes only
here, under a row lock on the product, and every change writes a ``StockMovement`` with the signed
quantity and the balance it left, so the ledger always explains the current number.

Kinds used by the order services (apps/store/services/orders.py):
- ``reservation`` (-): an order is placed (cart confirmed, phone order) - the goods are promised;
  once the order is delivered the reservation simply stands as the sale (no extra line).
- ``release`` (+): a placed order is canceled - exactly what it still holds is returned.
- ``sale`` (-): a counter sale handed over on the spot (``order_create(status="delivered")``).
- ``purchase`` (+), ``adjustment`` (+/-), ``return`` (+): staff, with a reason.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.store.errors import StoreError
from apps.store.models import MovementKind, Product, StockMovement, StoreSettings, Unit

QTY = Decimal("0.001")


def fmt_qty(quantity: Decimal) -> str:
    """3.000 -> "3", 0.500 -> "0.5" (for messages)."""
    text = format(Decimal(quantity).quantize(QTY), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def to_decimal(value) -> Decimal | None:
    """A finite Decimal from a Decimal/int/str (floats through their text), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def quantity_clean(quantity, *, unit: str, name: str = "", allow_negative: bool = False) -> Decimal:
    """The quantity as a Decimal with 3 places, or StoreError quantity_invalid: zero, negative (unless
    ``allow_negative``), more than 3 decimal places, or fractional for products sold by the unit."""
    number = to_decimal(quantity)
    if number is None or number == 0 or (number < 0 and not allow_negative):
        raise StoreError(_("Enter a quantity greater than zero."), "quantity_invalid", {"product": name})
    if number != number.quantize(QTY):
        raise StoreError(_("A quantity can have at most 3 decimal places."), "quantity_invalid", {"product": name})
    if unit == Unit.UNIT and number != number.to_integral_value():
        raise StoreError(_("%(product)s is sold by the unit: use a whole number."), "quantity_invalid",
                         {"product": name or _("This product")})
    return number.quantize(QTY)


def allows_negative_stock() -> bool:
    return bool(StoreSettings.objects.filter(pk=1).values_list("allow_negative_stock", flat=True).first())


def out_of_stock_error(product, available: Decimal) -> StoreError:
    if available <= 0:
        return StoreError(_("Sorry, %(product)s is out of stock."), "out_of_stock",
                          {"product": product.name, "available": "0", "unit": product.get_unit_display()})
    params = {"product": product.name, "available": fmt_qty(available), "unit": product.get_unit_display()}
    if product.unit == Unit.UNIT:
        return StoreError(_("Only %(available)s of %(product)s left in stock."), "out_of_stock", params)
    return StoreError(_("Only %(available)s %(unit)s of %(product)s left in stock."), "out_of_stock", params)


def stock_adjust(product, *, quantity: Decimal, kind: str = "adjustment", reason: str = "", user=None, order=None,
                 allow_negative: bool | None = None) -> StockMovement:
    """Add ``quantity`` (signed) to the product's stock under a row lock and write the ledger line;
    refuses to go below zero unless the store sells without stock (``allow_negative`` overrides the
    setting). ``product`` is refreshed with the new balance."""
    if kind not in MovementKind.values:
        raise ValueError(f"unknown stock movement kind {kind!r}")
    amount = quantity_clean(quantity, unit=product.unit, name=product.name, allow_negative=True)
    with transaction.atomic():
        locked = Product.objects.select_for_update().only("id", "name", "unit", "stock_quantity").get(pk=product.pk)
        balance = locked.stock_quantity + amount
        if amount < 0 and balance < 0:
            if allow_negative is None:
                allow_negative = allows_negative_stock()
            if not allow_negative:
                raise out_of_stock_error(locked, locked.stock_quantity)
        now = timezone.now()
        Product.objects.filter(pk=locked.pk).update(stock_quantity=balance, updated_at=now)
        movement = StockMovement.objects.create(product_id=locked.pk, kind=kind, quantity=amount, balance_after=balance,
                                                reason=(reason or "")[:200], user=user, order=order, created_at=now)
    product.stock_quantity = balance
    return movement
