"""The assistant's ordering tools (issue #5): the customer orders over WhatsApp through #4's tool loop.

search_products, add_to_cart, update_cart_item, remove_from_cart, view_cart, set_delivery,
set_payment_method, confirm_order, order_status. None is enabled by default: a tenant turns them on
in its ordering assistant (the demo seeder does it for the demo assistant).

How they behave:
- The cart is the contact's open cart in the turn's conversation (``services.orders.cart_for``).
  Every write goes through the store services, each call in its own savepoint, so a refusal
  changes nothing. Quantity limits, stock, the minimum order and unknown neighbourhoods are the
  services' rules; the tools only translate their refusals for the model.
- A refusal is a result, never an exception: ``{"ok": false, "error": <code>, "message": <English
  for the model>}``; the model tells the customer. (The turn runs in the tenant's language, so the
  services' own messages may be Portuguese: the model gets English written here instead.)
- Prices and stock come from the database in every result (money as strings, "59.90"): the model
  is told never to state a price it did not get from a tool.
- Staff see the cart in the inbox: a tool that changes the cart leaves ``context.order_card`` (the
  card's payload: ``{"order_id", "card": "cart", "order": snapshot}``) for the turn to attach to its
  reply; ``confirm_order`` itself sends the order summary to the customer with the "order" card,
  and with Pix, the QR code (``apps.store.services.payments.pix_for_order``).
"""
from __future__ import annotations

import logging
import unicodedata
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, CharField, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.agents.tools import Tool, ToolContext, register_tool

from .models import (DeliveryZone, Fulfillment, Order, OrderStatus, PaymentMethod, Product, StoreSettings,
                     Unit)

log = logging.getLogger(__name__)

SEARCH_LIMIT = 8
CARD_MAX_ITEMS = 30
CENTS = Decimal("0.01")
# Methods the assistant may offer (boleto is for the counter and the website, not a chat order).
CHAT_PAYMENT_METHODS = ["pix", "credit", "debit", "cash", "voucher"]

PRICE_RULE = ("Prices in results are in BRL and come from the database: quote only prices you got from a tool "
              "result, never state a price you did not get from a tool.")

# What the model reads for each refusal code of apps.store.errors.StoreError (and the tools' own).
REFUSALS = {
    "product_not_found": "There is no such product. Call search_products and use an id from its results.",
    "product_inactive": "This product is not sold at the moment. Offer something else from search_products.",
    "quantity_invalid": "The quantity is not valid: it must be greater than zero{whole}, with at most 3 decimal "
                        "places.",
    "quantity_over_limit": "At most {limit} of one item per order. Tell the customer; for more, a person "
                           "from the team can help (hand off if they insist).",
    "out_of_stock": "Not enough stock{detail}. Tell the customer and offer a smaller quantity or another product.",
    "empty_cart": "The cart is empty. Add products first (search_products, then add_to_cart).",
    "unknown_zone": "We do not deliver to that neighbourhood. Tell the customer; they may choose pickup or "
                    "another address. Only staff can accept other areas: hand off if the customer insists.",
    "below_minimum": "The order is below the minimum for delivery to this neighbourhood{detail}. Tell the "
                     "customer how much is missing or offer pickup.",
    "payment_method_invalid": "That payment method is not accepted. Accepted: " + ", ".join(CHAT_PAYMENT_METHODS)
                              + ".",
    "invalid_transition": "This order can no longer be changed here. Hand off to a person if the customer needs "
                          "a change.",
    "not_a_cart": "The order was already placed and can no longer be changed here. Hand off to a person if the "
                  "customer needs a change.",
    "payment_unavailable": "Online payment is not available right now.",
    "not_in_cart": "This product is not in the cart. Call view_cart to see the cart's product ids.",
    "neighbourhood_required": "For delivery, ask the customer for their neighbourhood and address, then call "
                              "set_delivery again.",
    "fulfillment_missing": "Ask the customer whether the order is for delivery (neighbourhood and address) or "
                           "pickup, then call set_delivery before confirm_order.",
    "payment_method_missing": "Ask the customer how they will pay (" + ", ".join(CHAT_PAYMENT_METHODS)
                              + "), then call set_payment_method before confirm_order.",
    "order_not_found": "This customer has no order with that number.",
    "no_orders": "This customer has no orders yet.",
}

# Order statuses as the model should explain them (English: the model answers in the customer's language).
STATUS_TEXT = {
    OrderStatus.CART: "still a cart (not placed yet)",
    OrderStatus.PLACED: "received, waiting for the store to confirm",
    OrderStatus.CONFIRMED: "confirmed by the store",
    OrderStatus.PREPARING: "being prepared",
    OrderStatus.READY: "ready (for pickup, or waiting for the courier)",
    OrderStatus.OUT_FOR_DELIVERY: "out for delivery",
    OrderStatus.DELIVERED: "delivered",
    OrderStatus.CANCELED: "canceled",
}


# --- small helpers ---------------------------------------------------------------------------------

def refusal(code: str, message: str = "", **extra) -> dict:
    return {"ok": False, "error": code, "message": message or REFUSALS.get(code, "The request was refused."),
            **extra}


def money(value) -> str:
    return str(Decimal(value or 0).quantize(CENTS, rounding=ROUND_HALF_UP))


def qty_text(value) -> str:
    """2.000 -> "2", 0.500 -> "0.5" (never "1E+1")."""
    value = Decimal(value or 0)
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def to_quantity(raw) -> Decimal | None:
    """The model's number as a Decimal (through its text: 0.1 stays 0.1); the services judge it."""
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def fold(text: str) -> str:
    """Lower-case without accents, as ``public.fold_accents`` + lower() does in the database."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


class Folded(Func):
    """lower(public.fold_accents(expr)): accent- and case-insensitive matching in SQL (the embedded
    PostgreSQL has no unaccent extension; see tenants/migrations/0005)."""

    template = "lower(public.fold_accents(COALESCE(%(expressions)s, '')))"
    output_field = CharField()


def settings_row() -> StoreSettings:
    try:
        from .selectors import store_settings
    except ImportError:  # the selector arrives with the store core; the defaults meanwhile
        return StoreSettings.objects.filter(pk=1).first() or StoreSettings()
    return store_settings()


def _code(exc: ValidationError) -> str:
    return getattr(exc, "code", None) or "invalid"


def _attempt(fn, *args, **kwargs):
    """Run one service call in its own savepoint: a refusal leaves nothing behind."""
    with transaction.atomic():
        return fn(*args, **kwargs)


# --- the cart --------------------------------------------------------------------------------------

def _cart(context: ToolContext, *, create: bool) -> Order | None:
    from .services.orders import cart_for

    conversation = context.conversation
    return cart_for(contact=conversation.contact, conversation=conversation, channel="whatsapp", create=create)


def snapshot(order: Order) -> dict:
    """The cart or order as the model and the inbox card see it (money as strings)."""
    items = list(order.items.all().order_by("id"))
    return {
        "order_id": order.pk,
        "number": order.number,
        "status": order.status,
        "items": [{"product_id": i.product_id, "name": i.product_name, "quantity": qty_text(i.quantity),
                   "unit": i.unit, "unit_price": money(i.unit_price), "total": money(i.total)} for i in items],
        "subtotal": money(order.subtotal),
        "discount": money(order.discount),
        "delivery_fee": money(order.delivery_fee),
        "total": money(order.total),
        # a cart's pickup is only the model's default until the customer chooses
        "fulfillment": order.fulfillment if order.status != OrderStatus.CART or _fulfillment_chosen(order) else "",
        "neighbourhood": order.neighbourhood,
        "address": order.delivery_address,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
    }


def _missing(order: Order) -> list[str]:
    missing = []
    if not order.items.exists():
        missing.append("items")
    if not _fulfillment_chosen(order):
        missing.append("delivery_or_pickup")
    if not order.payment_method:
        missing.append("payment_method")
    return missing


def _fulfillment_chosen(order: Order) -> bool:
    """Pickup is the model's default, so a cart says nothing about the customer's choice: the
    assistant's ordering state remembers that set_delivery ran."""
    if order.fulfillment == Fulfillment.DELIVERY and order.neighbourhood:
        return True
    return bool((order.ordering_state or {}).get("fulfillment_set"))


def cart_result(order: Order, **extra) -> dict:
    cart = snapshot(order)
    for key in ("order_id", "number", "status", "payment_status", "discount"):  # an id is not for the customer
        cart.pop(key, None)
    cart["missing_before_confirm"] = _missing(order)
    return {"ok": True, "cart": cart, **extra}


def _touch(context: ToolContext, order: Order, *, step: str, **state) -> Order:
    """The cart changed: remember the step for the assistant and leave the card for the turn's reply.
    (The cart services themselves push back the idle reset and the abandoned-cart due times.)"""
    order.refresh_from_db()
    order.ordering_state = {**(order.ordering_state or {}), **state, "step": step,
                            "at": timezone.now().isoformat()}
    Order.objects.filter(pk=order.pk).update(ordering_state=order.ordering_state)
    context.order_card = {"order_id": order.pk, "card": "cart", "order": snapshot(order)}
    context.notes.append(f"cart {order.pk}: {step}")
    return order


def _product(product_id) -> Product | None:
    return Product.objects.filter(pk=product_id).select_related("category").first()


def _quantity_refusal(product: Product | None) -> dict:
    whole = " (whole units for this product)" if product is not None and product.unit == Unit.UNIT else ""
    return refusal("quantity_invalid", REFUSALS["quantity_invalid"].format(whole=whole))


def _store_refusal(exc: ValidationError, *, product: Product | None = None, order: Order | None = None) -> dict:
    """A StoreError (or another ValidationError from a service) as the model reads it."""
    code = _code(exc)
    if code == "quantity_invalid":
        return _quantity_refusal(product)
    if code == "quantity_over_limit":
        limit = qty_text(settings_row().max_quantity_per_item)
        return refusal(code, REFUSALS[code].format(limit=limit), limit=limit)
    if code == "out_of_stock":
        detail, extra = "", {}
        if product is not None:
            product.refresh_from_db(fields=["stock_quantity"])
            available = max(product.stock_quantity, Decimal(0))
            detail = f" for {product.name}: {qty_text(available)} {product.get_unit_display()} available"
            extra = {"available": qty_text(available)}
        elif order is not None:
            short = [i.product_name for i in order.items.select_related("product")
                     if i.product is not None and i.product.stock_quantity < i.quantity]
            if short:
                detail = " for " + ", ".join(short)
        return refusal(code, REFUSALS[code].format(detail=detail), **extra)
    if code == "below_minimum":
        detail, extra = "", {}
        zone = order.zone if order is not None else None
        if zone is not None:
            missing = max(zone.min_order - order.subtotal, Decimal(0))
            detail = f" (minimum {money(zone.min_order)}, cart subtotal {money(order.subtotal)}, missing {money(missing)})"
            extra = {"min_order": money(zone.min_order), "missing": money(missing)}
        return refusal(code, REFUSALS[code].format(detail=detail), **extra)
    if code == "unknown_zone":
        areas = list(DeliveryZone.objects.filter(is_active=True).values_list("neighbourhood", flat=True)[:40])
        return refusal(code, delivery_areas=areas)
    if code in REFUSALS:
        return refusal(code)
    # not one of ours: the service's own message (it may be in the tenant's language)
    return refusal(code, "; ".join(exc.messages)[:300] or "The request was refused.")


# --- search_products ---------------------------------------------------------------------------------

STOP_WORDS = {"de", "da", "do", "das", "dos", "com", "sem", "para", "pra", "uma", "um", "the", "and", "with", "a",
              "o", "e", "os", "as", "no", "na", "tem", "quero", "voces"}


def _words(query: str) -> list[str]:
    out = []
    for word in fold(query).replace(",", " ").split():
        word = word.strip(".!?;:()\"'")
        if len(word) < 2 or word in STOP_WORDS:
            continue
        if len(word) > 4 and word.endswith("s"):  # "pizzas" finds "Pizza", "queijos" finds "Queijo"
            word = word[:-1]
        if word not in out:
            out.append(word)
    return out[:8]


def availability(product: Product, row: StoreSettings) -> str:
    if row.allow_negative_stock:
        return "in stock"
    stock = product.stock_quantity
    if stock <= 0:
        return "out of stock"
    unit = "" if product.unit == Unit.UNIT else f" {product.unit}"
    # exact numbers only when they matter to an order (no more than one customer may take)
    if stock < row.max_quantity_per_item or (product.min_stock and stock <= product.min_stock):
        return f"only {qty_text(stock)}{unit} left"
    return "in stock"


def search_products_run(context: ToolContext, arguments: dict) -> dict:
    query = " ".join(str(arguments.get("query") or "").split())[:100]
    category = " ".join(str(arguments.get("category") or "").split())[:80]
    products = Product.objects.filter(is_active=True).select_related("category").annotate(
        f_name=Folded(F("name")), f_desc=Folded(F("description")), f_cat=Folded(F("category__name")))
    products = products.filter(Q(category__isnull=True) | Q(category__is_active=True))
    if category:
        products = products.filter(f_cat__contains=fold(category))
    words = _words(query)
    if words:
        score = sum((Case(When(f_name__contains=w, then=Value(3)),
                          When(Q(f_desc__contains=w) | Q(f_cat__contains=w), then=Value(1)),
                          When(sku__iexact=w, then=Value(3)), default=Value(0), output_field=IntegerField())
                     for w in words), Value(0))
        products = products.annotate(score=score).filter(score__gt=0).order_by("-score", "name", "id")
    else:
        products = products.annotate(score=Value(0)).order_by(Coalesce("category__position", Value(0)),
                                                              Lower("name"), "id")
    found = list(products[:SEARCH_LIMIT + 1])
    row = settings_row()
    result = {"ok": True, "products": [{
        "id": p.pk, "name": p.name, "category": p.category.name if p.category else "",
        "unit": p.unit, "price": money(p.price), "availability": availability(p, row),
        **({"description": p.description[:160]} if p.description else {}),
    } for p in found[:SEARCH_LIMIT]], "more_results": len(found) > SEARCH_LIMIT}
    if not found:
        result["message"] = ("Nothing found. Try a shorter or different word, or search with an empty query to list "
                             "the menu. Do not invent products or prices.")
    return result


# --- cart tools ------------------------------------------------------------------------------------

def add_to_cart_run(context: ToolContext, arguments: dict) -> dict:
    from .services.orders import cart_add_item

    product = _product(arguments["product_id"])
    if product is None:
        return refusal("product_not_found")
    if not product.is_active:
        return refusal("product_inactive")
    quantity = to_quantity(arguments["quantity"])
    if quantity is None:
        return _quantity_refusal(product)

    def add():  # a refused first item leaves no empty cart behind
        cart = _cart(context, create=True)
        cart_add_item(cart, product=product, quantity=quantity)
        return cart

    try:
        order = _attempt(add)
    except ValidationError as exc:
        return _store_refusal(exc, product=product)
    order = _touch(context, order, step="cart")
    return cart_result(order, added={"product_id": product.pk, "name": product.name,
                                     "quantity": qty_text(quantity), "unit_price": money(product.price)})


def _line(order: Order, product_id):
    return order.items.filter(product_id=product_id).select_related("product").first()


def update_cart_item_run(context: ToolContext, arguments: dict) -> dict:
    from .services.orders import cart_remove_item, cart_update_item

    order = _cart(context, create=False)
    item = _line(order, arguments["product_id"]) if order is not None else None
    if item is None:
        return refusal("not_in_cart")
    product = item.product
    quantity = to_quantity(arguments["quantity"])
    if quantity is None:
        return _quantity_refusal(product)
    if quantity == 0:  # "make it none" = remove the line
        try:
            _attempt(cart_remove_item, order, item=item)
        except ValidationError as exc:
            return _store_refusal(exc, product=product, order=order)
        return cart_result(_touch(context, order, step="cart"), removed=item.product_name)
    try:
        _attempt(cart_update_item, order, item=item, quantity=quantity)
    except ValidationError as exc:
        return _store_refusal(exc, product=product, order=order)
    return cart_result(_touch(context, order, step="cart"))


def remove_from_cart_run(context: ToolContext, arguments: dict) -> dict:
    from .services.orders import cart_remove_item

    order = _cart(context, create=False)
    item = _line(order, arguments["product_id"]) if order is not None else None
    if item is None:
        return refusal("not_in_cart")
    try:
        _attempt(cart_remove_item, order, item=item)
    except ValidationError as exc:
        return _store_refusal(exc, order=order)
    return cart_result(_touch(context, order, step="cart"), removed=item.product_name)


def view_cart_run(context: ToolContext, arguments: dict) -> dict:
    order = _cart(context, create=False)
    if order is None:
        return {"ok": True, "cart": None, "message": "The customer has no open cart."}
    return cart_result(order)


# --- delivery and payment ----------------------------------------------------------------------------

def set_delivery_run(context: ToolContext, arguments: dict) -> dict:
    from .services.orders import order_set_delivery

    fulfillment = arguments["fulfillment"]
    neighbourhood = " ".join(str(arguments.get("neighbourhood") or "").split())[:100]
    address = " ".join(str(arguments.get("address") or "").split())[:250]
    if fulfillment == Fulfillment.DELIVERY and not neighbourhood:
        return refusal("neighbourhood_required")
    order = _cart(context, create=False)
    if order is None or not order.items.exists():
        return refusal("empty_cart")
    try:  # the service matches the neighbourhood ignoring case and accents
        _attempt(order_set_delivery, order, neighbourhood=neighbourhood, address=address, fulfillment=fulfillment)
    except ValidationError as exc:
        return _store_refusal(exc, order=order)
    order = _touch(context, order, step="delivery", fulfillment_set=True)
    extra = {}
    if fulfillment == Fulfillment.DELIVERY and order.zone is not None:
        zone = order.zone
        extra = {"delivery": {"neighbourhood": zone.neighbourhood, "fee": money(zone.fee),
                              "min_order": money(zone.min_order), "estimated_minutes": zone.estimated_minutes}}
        if order.subtotal < zone.min_order:
            extra["warning"] = (f"The cart is below this area's minimum order of {money(zone.min_order)}: "
                                f"{money(zone.min_order - order.subtotal)} missing before it can be confirmed.")
        if not address:
            extra["note"] = "Ask for the street address (street, number, reference) and call set_delivery again."
    return cart_result(order, **extra)


def set_payment_method_run(context: ToolContext, arguments: dict) -> dict:
    from .services.orders import order_set_payment_method

    order = _cart(context, create=False)
    if order is None or not order.items.exists():
        return refusal("empty_cart")
    try:
        _attempt(order_set_payment_method, order, method=arguments["method"])
    except ValidationError as exc:
        return _store_refusal(exc, order=order)
    return cart_result(_touch(context, order, step="payment"))


# --- confirm ---------------------------------------------------------------------------------------

def _quantity_label(quantity, unit: str) -> str:
    from django.utils.formats import number_format

    text = number_format(Decimal(qty_text(quantity)), use_l10n=True)
    return f"{text}×" if unit == Unit.UNIT else f"{text} {unit}"


def summary_text(order: Order) -> str:
    """The order summary the customer reads on WhatsApp (the tenant's language)."""
    from apps.core.templatetags.money import format_money

    lines = [_("Order #%(number)s placed!") % {"number": order.number}, ""]
    for item in order.items.all().order_by("id"):
        lines.append(f"{_quantity_label(item.quantity, item.unit)} {item.product_name}: {format_money(item.total)}")
    lines.append("")
    lines.append(_("Subtotal: %(amount)s") % {"amount": format_money(order.subtotal)})
    if order.discount:
        lines.append(_("Discount: -%(amount)s") % {"amount": format_money(order.discount)})
    if order.fulfillment == Fulfillment.DELIVERY:
        lines.append(_("Delivery fee (%(area)s): %(amount)s") % {"area": order.neighbourhood,
                                                                  "amount": format_money(order.delivery_fee)})
    lines.append(_("Total: %(amount)s") % {"amount": format_money(order.total)})
    if order.payment_method:
        lines.append(_("Payment: %(method)s") % {"method": order.get_payment_method_display()})
    if order.fulfillment == Fulfillment.DELIVERY:
        where = ", ".join(p for p in (order.delivery_address, order.neighbourhood) if p)
        lines.append(_("Delivery to: %(address)s") % {"address": where})
    else:
        lines.append(_("Pickup at the store"))
    return "\n".join(lines).strip()


def _send_summary(context: ToolContext, order: Order) -> tuple[bool, str]:
    from apps.inbox.models import SenderKind
    from apps.inbox.services.messages import message_send

    payload = {"order_id": order.pk, "card": "order", "order": snapshot(order)}
    if context.decision is not None:
        payload["decision_id"] = context.decision.pk
    try:
        _attempt(message_send, context.conversation, sender_kind=SenderKind.AI, text=summary_text(order),
                 payload=payload)
    except ValidationError as exc:  # the Cloud API window closed, the number disabled...
        return False, "; ".join(exc.messages)[:200]
    return True, ""


def _pix(order: Order) -> dict:
    """The Pix charge (helper "pay": creates it at Mercado Pago and sends the QR and the copy-and-paste
    code in the chat). The order stays placed when it fails: staff can still take the payment."""
    try:
        from .services.payments import pix_for_order
    except ImportError:
        return {"ok": False, "error": "payment_unavailable",
                "message": "Pix is not set up here: tell the customer the team will send the payment details."}
    failed = {"message": "The Pix charge could not be created. The order is placed anyway: tell the customer the "
                         "team will send the payment details, or they can pay another way on delivery."}
    try:
        payment = _attempt(pix_for_order, order)
    except ValidationError as exc:
        return {"ok": False, "error": _code(exc), **failed}
    except Exception:  # noqa: BLE001 - a payment bug must not undo the placed order and its summary
        log.exception("Pix for order %s failed", order.pk)
        return {"ok": False, "error": "payment_failed", **failed}
    return {"ok": True, "sent_to_customer": True, "amount": money(payment.amount),
            "copy_paste_code": payment.qr_code, "ticket_url": payment.ticket_url,
            "expires_at": payment.expires_at.isoformat() if payment.expires_at else None}


def confirm_order_run(context: ToolContext, arguments: dict) -> dict:
    from .services.orders import order_place

    order = _cart(context, create=False)
    if order is None or not order.items.exists():
        return refusal("empty_cart")
    if not _fulfillment_chosen(order):
        return refusal("fulfillment_missing")
    if not order.payment_method:
        return refusal("payment_method_missing")
    try:
        placed = _attempt(order_place, order, by_ai=True)
    except ValidationError as exc:
        order.refresh_from_db()
        return _store_refusal(exc, order=order)
    placed = Order.objects.get(pk=(placed or order).pk)
    Order.objects.filter(pk=placed.pk).update(ordering_state={"step": "placed", "at": timezone.now().isoformat()})
    context.order_card = None  # the summary below carries the order's card; no cart card on the reply
    context.notes.append(f"order #{placed.number} placed")
    sent, send_error = _send_summary(context, placed)
    data = snapshot(placed)
    data.pop("order_id")  # the customer knows the number
    result = {"ok": True, "order": data, "summary_sent": sent}
    notes = []
    if sent:
        notes.append("The summary with the order number, items and total was already sent to the customer: do "
                     "not repeat it.")
    else:
        notes.append(f"The summary could not be sent ({send_error}): give the customer the order number and "
                     "total.")
    if placed.payment_method == PaymentMethod.PIX:
        result["payment"] = pix = _pix(placed)
        if pix["ok"]:
            notes.append("The Pix QR code and the copy-and-paste code were sent to the customer: ask them to pay "
                         "with it; the order is confirmed when the payment arrives.")
    if placed.fulfillment == Fulfillment.DELIVERY and placed.zone is not None:
        result["estimated_minutes"] = placed.zone.estimated_minutes
    result["note"] = " ".join(notes)
    return result


# --- status ----------------------------------------------------------------------------------------

def order_status_run(context: ToolContext, arguments: dict) -> dict:
    """Only the customer's own orders (a number of someone else's order is "not found")."""
    contact = context.conversation.contact
    orders = Order.objects.filter(contact=contact).exclude(status=OrderStatus.CART).select_related("zone")
    number = arguments.get("number")
    if number is not None:
        order = orders.filter(number=number).first()
        if order is None:
            return refusal("order_not_found")
    else:
        order = orders.order_by("-placed_at", "-id").first()
        if order is None:
            return refusal("no_orders")
    data = snapshot(order)
    data.pop("order_id", None)
    data["status_text"] = STATUS_TEXT.get(order.status, order.status)
    if order.placed_at:
        data["placed_at"] = timezone.localtime(order.placed_at).strftime("%Y-%m-%d %H:%M")
    if order.status == OrderStatus.CANCELED and order.cancel_reason:
        data["cancel_reason"] = order.cancel_reason
    if order.fulfillment == Fulfillment.DELIVERY and order.zone is not None:
        data["estimated_minutes"] = order.zone.estimated_minutes
    return {"ok": True, "order": data}


# --- registration ------------------------------------------------------------------------------------

_ID = {"type": "integer", "minimum": 1, "maximum": 2147483647}
_QUANTITY = {"type": "number", "minimum": 0, "maximum": 100000,
             "description": "How many (whole units), or the weight in the product's unit (kg or g)."}


def _tool(name, description, properties, required, run, label):
    register_tool(Tool(
        name=name, description=f"{description} {PRICE_RULE}",
        parameters={"type": "object", "properties": properties, "required": required,
                    "additionalProperties": False},
        run=run, label=label, default_enabled=False))


_tool("search_products",
      "Search the store's products by name or category. Returns up to 8 active products with id, name, unit, "
      "price and availability. Use an empty query to list the menu. Only products from this tool exist.",
      {"query": {"type": "string", "maxLength": 100, "description": "Words from the product's name, e.g. 'calabresa'."},
       "category": {"type": "string", "maxLength": 80, "description": "Optional category name, e.g. 'bebidas'."}},
      ["query"], search_products_run, gettext_lazy("Orders: search products"))

_tool("add_to_cart",
      "Add a product (id from search_products) to the customer's cart; an existing line is increased by the "
      "quantity. Returns the whole cart with prices and totals.",
      {"product_id": _ID, "quantity": _QUANTITY}, ["product_id", "quantity"], add_to_cart_run,
      gettext_lazy("Orders: add to cart"))

_tool("update_cart_item",
      "Set the exact quantity of a product already in the cart (0 removes it). Returns the whole cart.",
      {"product_id": _ID, "quantity": _QUANTITY}, ["product_id", "quantity"], update_cart_item_run,
      gettext_lazy("Orders: change a cart item"))

_tool("remove_from_cart",
      "Remove a product from the cart. Returns the whole cart.",
      {"product_id": _ID}, ["product_id"], remove_from_cart_run, gettext_lazy("Orders: remove from cart"))

_tool("view_cart",
      "The customer's current cart: items, prices, delivery fee, total, and what is still missing before "
      "confirm_order.",
      {}, [], view_cart_run, gettext_lazy("Orders: view the cart"))

_tool("set_delivery",
      "Choose delivery (with the customer's neighbourhood and street address; returns the delivery fee, or "
      "that we do not deliver there) or pickup at the store.",
      {"fulfillment": {"type": "string", "enum": [Fulfillment.DELIVERY.value, Fulfillment.PICKUP.value]},
       "neighbourhood": {"type": "string", "maxLength": 100},
       "address": {"type": "string", "maxLength": 250, "description": "Street, number, complement, reference."}},
      ["fulfillment"], set_delivery_run, gettext_lazy("Orders: delivery or pickup"))

_tool("set_payment_method",
      "Record how the customer will pay.",
      {"method": {"type": "string", "enum": CHAT_PAYMENT_METHODS}}, ["method"], set_payment_method_run,
      gettext_lazy("Orders: payment method"))

_tool("confirm_order",
      "Place the order once the customer has confirmed the cart, delivery or pickup, and payment: reserves the "
      "stock, sends the customer the summary (and the Pix code when paying by Pix).",
      {}, [], confirm_order_run, gettext_lazy("Orders: confirm the order"))

_tool("order_status",
      "The status of the customer's latest order, or of their order with this number.",
      {"number": {"type": "integer", "minimum": 1, "maximum": 2147483647}}, [], order_status_run,
      gettext_lazy("Orders: order status"))

ORDER_TOOLS = ("search_products", "add_to_cart", "update_cart_item", "remove_from_cart", "view_cart", "set_delivery",
               "set_payment_method", "confirm_order", "order_status")
