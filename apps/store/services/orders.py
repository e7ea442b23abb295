"""Every write to orders. All raise apps.store.errors.StoreError (a ValidationError with a code) on a
refusal, changing nothing (each service is one transaction).

Rules kept here, whoever calls (pages, API, the assistant's tools, jobs):
- Totals are always recomputed from the items on the server: line total =
  round(quantity * unit_price, 2) half-up; subtotal = sum of lines; total = subtotal - discount +
  delivery_fee (discount clamped to 0..subtotal); cost_total = round(sum(quantity * unit_cost), 2).
- A cart holds no stock: adding checks the current ``stock_quantity`` only. Placing locks the
  products in id order (two placements never deadlock), re-checks everything against fresh prices
  and stock, and writes ``reservation`` movements; canceling writes ``release`` movements for
  exactly what the order still holds, once. A counter sale handed over on the spot
  (``order_create(status="delivered")``) writes ``sale`` movements instead.
- Status machine: placed -> confirmed -> preparing -> ready -> out_for_delivery (delivery only) ->
  delivered. ``order_advance`` moves to the next status, or forward to any later one of the
  order's path (staff may skip steps, e.g. a pickup handed over at once); never backwards, never
  from delivered or canceled. Cancel from cart..out_for_delivery. Each change stamps its ``*_at``
  field and writes an OrderEvent with the user or ``by_ai``.
- Carts carry due times for the store sweep (apps/store/services/jobs.py): every cart change sets
  ``cart_cancel_due_at`` (now + StoreSettings.cart_cancel_minutes) and, for carts in a
  conversation, ``cart_reminder_due_at`` and ``ordering_reset_due_at`` (clearing
  ``cart_reminded_at`` so a new lull earns a new reminder); placing or canceling clears them.
  Delivering an order with a conversation sets ``rating_due_at`` (now + rating_delay_minutes).
- ``order.placed`` / ``order.updated`` realtime events (apps/store/events.py) after commit.
"""
from __future__ import annotations

import zoneinfo
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.store import events
from apps.store.errors import StoreError
from apps.store.models import (Channel, Fulfillment, MovementKind, Order, OrderEvent, OrderItem, OrderStatus,
                               PaymentMethod, PaymentStatus, Product, StockMovement, StoreSettings, Unit)

from .customers import customer_mark_ordered
from .stock import fmt_qty, out_of_stock_error, quantity_clean, stock_adjust, to_decimal
from .zones import zone_find

MONEY = Decimal("0.01")
ZERO = Decimal("0")
S = OrderStatus

PATH_DELIVERY = [S.PLACED, S.CONFIRMED, S.PREPARING, S.READY, S.OUT_FOR_DELIVERY, S.DELIVERED]
PATH_PICKUP = [S.PLACED, S.CONFIRMED, S.PREPARING, S.READY, S.DELIVERED]
CANCELABLE = {S.CART, S.PLACED, S.CONFIRMED, S.PREPARING, S.READY, S.OUT_FOR_DELIVERY}
EDITABLE = {S.CART, S.PLACED, S.CONFIRMED, S.PREPARING, S.READY}  # delivery, payment method, discount


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MONEY, rounding=ROUND_HALF_UP)


def line_total(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return money(Decimal(quantity) * Decimal(unit_price))


def _settings() -> StoreSettings:
    row, _created = StoreSettings.objects.get_or_create(pk=1)
    return row


def _local_date(moment):
    from tenants.models import Tenant

    tz_name = Tenant.objects.filter(schema_name=connection.schema_name).values_list("timezone", flat=True).first()
    try:
        return moment.astimezone(zoneinfo.ZoneInfo(tz_name or "America/Sao_Paulo")).date()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.localdate(moment)


def _status_label(status: str) -> str:
    return str(OrderStatus(status).label) if status in OrderStatus.values else status


def _invalid(current: str, target: str) -> StoreError:
    if current == S.CANCELED:
        return StoreError(_("This order is already canceled."), "invalid_transition",
                          {"status": current, "to": target})
    return StoreError(_("An order that is %(current)s cannot become %(target)s."), "invalid_transition",
                      {"current": _status_label(current), "target": _status_label(target), "status": current,
                       "to": target})


def _lock(order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def _lock_cart(order) -> Order:
    locked = _lock(order)
    if locked.status != S.CART:
        raise StoreError(_("This order was already placed: its items can no longer change here."), "not_a_cart",
                         {"status": locked.status})
    return locked


def _done(order: Order) -> Order:
    """The caller's instance brought up to date (services lock and write a fresh copy)."""
    order.refresh_from_db()
    return order


def _check_product(product: Product | None, name: str = "") -> Product:
    if product is None:
        raise StoreError(_("We could not find %(product)s in the catalogue."), "product_not_found",
                         {"product": name or _("this product")})
    if not product.is_active:
        raise StoreError(_("%(product)s is not available any more."), "product_inactive", {"product": product.name})
    return product


def _check_limit(product: Product, quantity: Decimal, limit: Decimal) -> None:
    if quantity > limit:
        params = {"limit": fmt_qty(limit), "unit": product.get_unit_display(), "product": product.name}
        if product.unit == Unit.UNIT:
            raise StoreError(_("You can order at most %(limit)s of %(product)s."), "quantity_over_limit", params)
        raise StoreError(_("You can order at most %(limit)s %(unit)s of %(product)s."), "quantity_over_limit", params)


def _check_stock(product: Product, quantity: Decimal, allow_negative: bool) -> None:
    if not allow_negative and quantity > product.stock_quantity:
        raise out_of_stock_error(product, product.stock_quantity)


def _snapshot(item: OrderItem, product: Product, quantity: Decimal) -> OrderItem:
    item.product, item.category_id = product, product.category_id
    item.product_name, item.sku, item.unit = product.name, product.sku, product.unit
    item.quantity, item.unit_price, item.unit_cost = quantity, product.price, product.cost
    item.total = line_total(quantity, product.price)
    return item


def _recompute(order: Order) -> None:
    """Totals from the items in the database; never from anything a client sent."""
    rows = list(order.items.values_list("quantity", "unit_cost", "total"))
    subtotal = sum((total for _q, _c, total in rows), ZERO)
    cost = money(sum((quantity * unit_cost for quantity, unit_cost, _t in rows), ZERO))
    order.subtotal = money(subtotal)
    order.discount = min(max(order.discount, ZERO), order.subtotal)
    order.cost_total = cost
    order.total = order.subtotal - order.discount + order.delivery_fee
    order.updated_at = timezone.now()
    order.save(update_fields=["subtotal", "discount", "cost_total", "total", "updated_at"])


def _touch_cart(order: Order, settings_row: StoreSettings | None = None) -> None:
    settings_row = settings_row or _settings()
    now = timezone.now()
    order.cart_cancel_due_at = now + timedelta(minutes=settings_row.cart_cancel_minutes)
    in_chat = order.conversation_id is not None
    order.cart_reminder_due_at = now + timedelta(minutes=settings_row.cart_reminder_minutes) if in_chat else None
    order.ordering_reset_due_at = now + timedelta(minutes=settings_row.ordering_reset_minutes) if in_chat else None
    order.cart_reminded_at = None
    order.save(update_fields=["cart_cancel_due_at", "cart_reminder_due_at", "ordering_reset_due_at",
                              "cart_reminded_at"])


def _clear_cart_due(order: Order) -> list[str]:
    order.cart_cancel_due_at = order.cart_reminder_due_at = order.ordering_reset_due_at = None
    return ["cart_cancel_due_at", "cart_reminder_due_at", "ordering_reset_due_at"]


def _event(order: Order, *, status: str = "", kind: str = "status", note: str = "", user=None, by_ai=False,
           at=None) -> OrderEvent:
    return OrderEvent.objects.create(order=order, status=status, kind=kind, note=(note or "")[:300], user=user,
                                     by_ai=by_ai, created_at=at or timezone.now())


def _next_number() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('store_order_number_seq')")
        return cursor.fetchone()[0]


# --- carts --------------------------------------------------------------------------------------


def cart_for(*, contact, conversation=None, channel: str = "whatsapp", create: bool = True) -> Order | None:
    """The contact's open cart in this conversation (or a new one; None when ``create`` is False).
    Creation is serialized on the contact's row, so two turns at once never open two carts."""
    from apps.crm.models import Contact

    carts = Order.objects.filter(status=S.CART, contact=contact, conversation=conversation).order_by("-id")
    found = carts.first()
    if found is not None or not create:
        return found
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    with transaction.atomic():
        list(Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk", flat=True))
        found = carts.first()
        if found is not None:
            return found
        return Order.objects.create(contact=contact, conversation=conversation, channel=channel, status=S.CART)


def cart_add_item(order, *, product, quantity: Decimal, user=None) -> OrderItem:
    """Add (or increase) a line; checks active product, 0 < quantity <= max per item, stock available
    (the current stock: a cart reserves nothing). Returns the line."""
    with transaction.atomic():
        locked = _lock_cart(order)
        fresh = _check_product(Product.objects.filter(pk=getattr(product, "pk", product)).first(),
                               getattr(product, "name", ""))
        amount = quantity_clean(quantity, unit=fresh.unit, name=fresh.name)
        settings_row = _settings()
        item = locked.items.filter(product=fresh).first()
        wanted = amount + (item.quantity if item else ZERO)
        _check_limit(fresh, wanted, settings_row.max_quantity_per_item)
        _check_stock(fresh, wanted, settings_row.allow_negative_stock)
        item = _snapshot(item or OrderItem(order=locked), fresh, wanted)
        item.save()
        _recompute(locked)
        _touch_cart(locked, settings_row)
    _done(order)
    return item


def _cart_item(locked: Order, item) -> OrderItem:
    found = locked.items.select_related("product").filter(pk=getattr(item, "pk", item)).first()
    if found is None:
        raise StoreError(_("That item is not in the cart."), "product_not_found",
                         {"product": getattr(item, "product_name", "")})
    return found


def cart_update_item(order, *, item, quantity: Decimal, user=None) -> OrderItem:
    """Set a line's quantity (> 0; remove the line with cart_remove_item), with the same checks."""
    with transaction.atomic():
        locked = _lock_cart(order)
        line = _cart_item(locked, item)
        product = _check_product(line.product, line.product_name)
        amount = quantity_clean(quantity, unit=product.unit, name=product.name)
        settings_row = _settings()
        _check_limit(product, amount, settings_row.max_quantity_per_item)
        _check_stock(product, amount, settings_row.allow_negative_stock)
        _snapshot(line, product, amount).save()
        _recompute(locked)
        _touch_cart(locked, settings_row)
    _done(order)
    return line


def cart_remove_item(order, *, item, user=None) -> None:
    with transaction.atomic():
        locked = _lock_cart(order)
        _cart_item(locked, item).delete()
        _recompute(locked)
        _touch_cart(locked)
    _done(order)


# --- delivery, payment method, discount ---------------------------------------------------------


def _lock_editable(order) -> Order:
    locked = _lock(order)
    if locked.status not in EDITABLE:
        raise StoreError(_("An order that is %(current)s can no longer be changed."), "invalid_transition",
                         {"current": _status_label(locked.status), "status": locked.status})
    return locked


def order_set_delivery(order, *, neighbourhood: str, address: str = "", fulfillment: str = "delivery",
                       city: str = "", allow_unknown_zone: bool = False):
    """Delivery to a known zone (fee from it) or pickup; unknown neighbourhood -> unknown_zone (staff
    may pass ``allow_unknown_zone`` to keep the neighbourhood without a zone and without a fee)."""
    if fulfillment not in Fulfillment.values:
        raise StoreError(_("Choose delivery or pickup."), "fulfillment_invalid", {"fulfillment": fulfillment})
    neighbourhood = " ".join((neighbourhood or "").split())[:100]
    address = " ".join((address or "").split())[:300]
    with transaction.atomic():
        locked = _lock_editable(order)
        zone = None
        if fulfillment == Fulfillment.DELIVERY:
            if not neighbourhood:
                raise StoreError(_("Tell us the neighbourhood for the delivery."), "unknown_zone",
                                 {"neighbourhood": ""})
            zone = zone_find(neighbourhood, city=city)
            if zone is None and not allow_unknown_zone:
                raise StoreError(_("Sorry, we don't deliver to %(neighbourhood)s yet."), "unknown_zone",
                                 {"neighbourhood": neighbourhood})
        locked.fulfillment = fulfillment
        locked.zone = zone
        locked.neighbourhood = zone.neighbourhood if zone else neighbourhood
        locked.delivery_address = address
        locked.delivery_fee = zone.fee if zone else ZERO
        locked.save(update_fields=["fulfillment", "zone", "neighbourhood", "delivery_address", "delivery_fee"])
        _recompute(locked)
        if locked.status == S.CART:
            _touch_cart(locked)
    return _done(order)


def order_set_payment_method(order, *, method: str):
    if method not in PaymentMethod.values:
        raise StoreError(_("Choose one of: %(methods)s."), "payment_method_invalid",
                         {"methods": ", ".join(str(label) for label in PaymentMethod.labels), "method": method})
    with transaction.atomic():
        locked = _lock_editable(order)
        locked.payment_method = method
        locked.updated_at = timezone.now()
        locked.save(update_fields=["payment_method", "updated_at"])
        if locked.status == S.CART:
            _touch_cart(locked)
    return _done(order)


def _clean_discount(discount, subtotal: Decimal) -> Decimal:
    amount = to_decimal(discount)
    if amount is None or amount < 0 or amount != amount.quantize(MONEY) or amount > subtotal:
        raise StoreError(_("The discount must be between R$ 0.00 and the subtotal (R$ %(subtotal)s)."),
                         "discount_invalid", {"subtotal": f"{subtotal:.2f}"})
    return amount.quantize(MONEY)


def order_set_discount(order, *, discount: Decimal, user=None):
    with transaction.atomic():
        locked = _lock_editable(order)
        locked.discount = _clean_discount(discount, locked.subtotal)
        locked.save(update_fields=["discount"])
        _recompute(locked)
        if discount and locked.status != S.CART:
            _event(locked, kind="note", note=_("Discount: R$ %(amount)s") % {"amount": f"{locked.discount:.2f}"},
                   user=user)
    return _done(order)


# --- placing ------------------------------------------------------------------------------------


def _lock_products(ids) -> dict[int, Product]:
    """Row locks in a stable order (by id), so two placements sharing products never deadlock."""
    return {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")}


def _check_zone(order: Order, allow_unknown_zone: bool) -> None:
    if order.fulfillment != Fulfillment.DELIVERY:
        return
    if order.zone_id is None or not order.zone.is_active:
        if allow_unknown_zone:
            return
        raise StoreError(_("Sorry, we don't deliver to %(neighbourhood)s yet."), "unknown_zone",
                         {"neighbourhood": order.neighbourhood or _("this neighbourhood")})


def _check_minimum(order: Order) -> None:
    zone = order.zone if order.fulfillment == Fulfillment.DELIVERY and order.zone_id else None
    if zone is not None and order.subtotal - order.discount < zone.min_order:
        raise StoreError(
            _("The minimum order for delivery to %(neighbourhood)s is R$ %(minimum)s (this order: R$ %(subtotal)s)."),
            "below_minimum", {"neighbourhood": zone.neighbourhood, "minimum": f"{zone.min_order:.2f}",
                              "subtotal": f"{order.subtotal - order.discount:.2f}"})


def _move_stock(order: Order, products: dict[int, Product], needs: dict[int, Decimal], kind: str, user,
                allow_negative: bool) -> None:
    for pk in sorted(needs):
        stock_adjust(products[pk], quantity=-needs[pk], kind=kind, user=user, order=order,
                     allow_negative=allow_negative, reason=f"#{order.number}" if order.number else "")


def order_place(order, *, user=None, by_ai: bool = False, allow_unknown_zone: bool = False):
    """Cart -> placed: re-checks everything, reserves stock (all lines or none), numbers the order.
    Item snapshots are refreshed from the catalogue (prices always come from the database)."""
    with transaction.atomic():
        locked = _lock(order)
        if locked.status != S.CART:
            raise StoreError(_("This order was already placed."), "not_a_cart", {"status": locked.status})
        items = list(locked.items.all())
        if not items:
            raise StoreError(_("The cart is empty: add a product first."), "empty_cart", {})
        for item in items:
            if item.product_id is None:
                raise StoreError(_("We could not find %(product)s in the catalogue."), "product_not_found",
                                 {"product": item.product_name})
        settings_row = _settings()
        products = _lock_products(item.product_id for item in items)
        needs: dict[int, Decimal] = {}
        for item in items:
            product = _check_product(products.get(item.product_id), item.product_name)
            amount = quantity_clean(item.quantity, unit=product.unit, name=product.name)
            needs[product.pk] = needs.get(product.pk, ZERO) + amount
            _snapshot(item, product, amount)
        for pk, need in needs.items():
            _check_limit(products[pk], need, settings_row.max_quantity_per_item)
            _check_stock(products[pk], need, settings_row.allow_negative_stock)
        _check_zone(locked, allow_unknown_zone)
        OrderItem.objects.bulk_update(items, ["category", "product_name", "sku", "unit", "quantity", "unit_price",
                                              "unit_cost", "total"])
        if locked.fulfillment == Fulfillment.DELIVERY and locked.zone_id:
            locked.delivery_fee = locked.zone.fee
            locked.save(update_fields=["delivery_fee"])
        _recompute(locked)
        _check_minimum(locked)
        now = timezone.now()
        locked.number = _next_number()
        _move_stock(locked, products, needs, MovementKind.RESERVATION, user, settings_row.allow_negative_stock)
        locked.status, locked.placed_at = S.PLACED, now
        if locked.created_by_id is None and user is not None:
            locked.created_by = user
        locked.created_by_ai = locked.created_by_ai or by_ai
        locked.updated_at = now
        locked.save(update_fields=["number", "status", "placed_at", "created_by", "created_by_ai", "updated_at",
                                   *_clear_cart_due(locked)])
        _event(locked, status=S.PLACED, user=user, by_ai=by_ai, at=now)
        if locked.contact_id:
            customer_mark_ordered(locked.contact, _local_date(now))
        events.order_placed(locked, by_ai=by_ai)
    return _done(order)


def _merge_items(items: list[tuple]) -> list[tuple[object, list]]:
    """[(product id, [name, quantity])], one entry per product; ids that are not whole numbers stay
    as given (they are then "not found")."""
    merged: dict[object, list] = {}
    for product, quantity in items:
        pk = getattr(product, "pk", product)
        if not isinstance(pk, int) and str(pk).strip().isdigit():
            pk = int(str(pk).strip())
        if pk in merged:
            first, extra = to_decimal(merged[pk][1]), to_decimal(quantity)
            merged[pk][1] = first + extra if first is not None and extra is not None else quantity
        else:
            merged[pk] = [getattr(product, "name", ""), quantity]
    return list(merged.items())


def order_create(*, contact, channel: str, items: list[tuple], payment_method: str = "", paid: bool = False,
                 discount: Decimal = Decimal("0"), notes: str = "", fulfillment: str = "pickup",
                 neighbourhood: str = "", address: str = "", user=None, placed_at=None, status: str = "placed",
                 conversation=None, by_ai: bool = False, allow_unknown_zone: bool = False,
                 enforce_limit: bool | None = None):
    """A whole order in one step (counter sale, phone order): ``items`` = [(product or id, quantity)];
    the same product twice becomes one line. ``status`` "placed" reserves stock (the order then
    follows the status machine); "delivered" is an immediate counter sale: ``sale`` movements, and
    it is done. ``paid`` marks it paid. The per-item limit guards self-service channels (WhatsApp,
    website) unless ``enforce_limit`` says otherwise; staff at the counter sell what they hand over.
    A delivery address in an unknown neighbourhood is refused unless ``allow_unknown_zone``."""
    if status not in (S.PLACED, S.DELIVERED):
        raise StoreError(_("A new order starts as placed or, at the counter, delivered."), "invalid_transition",
                         {"status": status})
    if channel not in Channel.values:
        raise StoreError(_("Choose a sales channel."), "channel_invalid", {"channel": channel})
    if payment_method and payment_method not in PaymentMethod.values:
        raise StoreError(_("Choose one of: %(methods)s."), "payment_method_invalid",
                         {"methods": ", ".join(str(label) for label in PaymentMethod.labels), "method": payment_method})
    if fulfillment not in Fulfillment.values:
        raise StoreError(_("Choose delivery or pickup."), "fulfillment_invalid", {"fulfillment": fulfillment})
    if not items:
        raise StoreError(_("Add at least one product."), "empty_cart", {})
    if enforce_limit is None:
        enforce_limit = channel in (Channel.WHATSAPP, Channel.WEBSITE)
    lines = _merge_items(items)
    neighbourhood = " ".join((neighbourhood or "").split())[:100]
    with transaction.atomic():
        settings_row = _settings()
        products = _lock_products(pk for pk, _x in lines if isinstance(pk, int))
        needs: dict[int, Decimal] = {}
        for pk, (name, quantity) in lines:
            product = _check_product(products.get(pk) if isinstance(pk, int) else None, name or str(pk))
            needs[product.pk] = quantity_clean(quantity, unit=product.unit, name=product.name)
            if enforce_limit:
                _check_limit(product, needs[product.pk], settings_row.max_quantity_per_item)
            _check_stock(product, needs[product.pk], settings_row.allow_negative_stock)
        zone = None
        if fulfillment == Fulfillment.DELIVERY:
            zone = zone_find(neighbourhood) if neighbourhood else None
            if zone is None and not allow_unknown_zone:
                raise StoreError(_("Sorry, we don't deliver to %(neighbourhood)s yet."), "unknown_zone",
                                 {"neighbourhood": neighbourhood or _("this neighbourhood")})
        now = timezone.now()
        placed = placed_at or now
        order = Order.objects.create(
            contact=contact, channel=channel, status=S.PLACED, payment_method=payment_method,
            notes=(notes or "").strip(), fulfillment=fulfillment,
            neighbourhood=zone.neighbourhood if zone else neighbourhood,
            delivery_address=" ".join((address or "").split())[:300], zone=zone,
            delivery_fee=zone.fee if zone else ZERO, conversation=conversation, created_by=user,
            created_by_ai=by_ai, created_at=placed, updated_at=now)
        OrderItem.objects.bulk_create([_snapshot(OrderItem(order=order), products[pk], need)
                                       for pk, need in needs.items()])
        _recompute(order)
        order.discount = _clean_discount(discount or ZERO, order.subtotal)
        order.save(update_fields=["discount"])
        _recompute(order)
        _check_minimum(order)
        order.number = _next_number()
        kind = MovementKind.SALE if status == S.DELIVERED else MovementKind.RESERVATION
        _move_stock(order, products, needs, kind, user, settings_row.allow_negative_stock)
        order.placed_at = placed
        fields = ["number", "placed_at"]
        if status == S.DELIVERED:
            order.status, order.delivered_at = S.DELIVERED, placed
            fields += ["status", "delivered_at"]
        if paid:
            order.payment_status, order.paid_at = PaymentStatus.PAID, placed
            fields += ["payment_status", "paid_at"]
        order.save(update_fields=fields)
        _event(order, status=S.PLACED, user=user, by_ai=by_ai, at=placed)
        if status == S.DELIVERED:
            _event(order, status=S.DELIVERED, user=user, by_ai=by_ai, at=placed)
        if paid:
            _event(order, kind="payment", note=_("Paid"), user=user, by_ai=by_ai, at=placed)
        if contact is not None:
            customer_mark_ordered(contact, _local_date(placed))
        events.order_placed(order, by_ai=by_ai)
    return order


# --- after placing ------------------------------------------------------------------------------


def order_advance(order, *, to_status: str | None = None, user=None, by_ai: bool = False):
    """Next status (or ``to_status`` when it is later on the order's path); each change timestamped
    in OrderEvent. Canceling is ``order_cancel`` (it needs a reason and returns stock)."""
    with transaction.atomic():
        locked = _lock(order)
        path = PATH_DELIVERY if locked.fulfillment == Fulfillment.DELIVERY else PATH_PICKUP
        current = locked.status
        if current not in path or current == S.DELIVERED:
            raise _invalid(current, to_status or "")
        index = path.index(current)
        target = to_status or path[index + 1]
        if target not in path or path.index(target) <= index:
            raise _invalid(current, target)
        now = timezone.now()
        locked.status = target
        setattr(locked, f"{target}_at", now)
        fields = ["status", f"{target}_at", "updated_at"]
        if target == S.DELIVERED and locked.conversation_id:
            locked.rating_due_at = now + timedelta(minutes=_settings().rating_delay_minutes)
            fields.append("rating_due_at")
        locked.updated_at = now
        locked.save(update_fields=fields)
        _event(locked, status=target, user=user, by_ai=by_ai, at=now)
        events.order_updated(locked, previous_status=current, by_ai=by_ai)
    return _done(order)


def order_held_stock(order) -> dict[int, Decimal]:
    """What the order still holds per product (positive numbers), from the ledger."""
    rows = (StockMovement.objects.filter(order=order, product__isnull=False).values("product")
            .annotate(net=Sum("quantity")))
    return {row["product"]: -row["net"] for row in rows if row["net"] < 0}


def order_cancel(order, *, reason: str, user=None, by_ai: bool = False):
    """Cancel (placed..out_for_delivery, or a cart); reserved stock is returned (``release``), once:
    a second cancel is refused."""
    with transaction.atomic():
        locked = _lock(order)
        current = locked.status
        if current not in CANCELABLE:
            raise _invalid(current, S.CANCELED)
        held = order_held_stock(locked) if current != S.CART else {}
        for pk in sorted(held):
            product = Product.objects.get(pk=pk)
            stock_adjust(product, quantity=held[pk], kind=MovementKind.RELEASE, user=user, order=locked,
                         reason=(reason or _("Order #%(number)s canceled") % {"number": locked.number})[:200])
        now = timezone.now()
        locked.status, locked.canceled_at = S.CANCELED, now
        locked.cancel_reason = (reason or "").strip()[:200]
        locked.rating_due_at = None
        locked.updated_at = now
        locked.save(update_fields=["status", "canceled_at", "cancel_reason", "rating_due_at", "updated_at",
                                   *_clear_cart_due(locked)])
        _event(locked, status=S.CANCELED, note=locked.cancel_reason, user=user, by_ai=by_ai, at=now)
        if current != S.CART:
            events.order_updated(locked, previous_status=current, by_ai=by_ai)
    return _done(order)


def order_mark_paid(order, *, user=None, note: str = ""):
    """Mark a placed order paid (any status after the cart, even canceled: the money did arrive).
    Marking a paid order again changes nothing and writes no event."""
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.CART:
            raise StoreError(_("Place the order before marking it paid."), "not_a_cart", {"status": locked.status})
        if locked.payment_status != PaymentStatus.PAID:
            now = timezone.now()
            locked.payment_status, locked.paid_at, locked.updated_at = PaymentStatus.PAID, now, now
            locked.save(update_fields=["payment_status", "paid_at", "updated_at"])
            _event(locked, kind="payment", note=note or _("Paid"), user=user, at=now)
            events.order_updated(locked, previous_status=locked.status)
    return _done(order)


def order_rate(order, *, rating: int, comment: str = ""):
    """The customer's 1..5 rating of a delivered order (a later answer replaces it)."""
    try:
        value = int(str(rating).strip())
    except (TypeError, ValueError):
        value = 0
    if isinstance(rating, bool) or not 1 <= value <= 5:
        raise StoreError(_("A rating goes from 1 to 5."), "rating_invalid", {"rating": str(rating)})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status != S.DELIVERED:
            raise StoreError(_("Only delivered orders can be rated."), "invalid_transition",
                             {"status": locked.status})
        locked.rating, locked.rating_comment = value, (comment or "").strip()[:300]
        locked.rating_due_at = None
        locked.save(update_fields=["rating", "rating_comment", "rating_due_at"])
        _event(locked, kind="rating", note=f"{value}/5 {locked.rating_comment}".strip())
    return _done(order)
