"""Reads of the store shared by pages, the API, the assistant's tools and jobs. Lists are single
queries with annotations (no per-row queries); callers paginate.

Periods are resolved in the tenant's time zone (``tenants.Tenant.timezone`` of the current schema):
``period_range("today")`` is local midnight to the next local midnight, as instants."""
from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (BooleanField, Case, Count, DecimalField, Exists, F, Max, Min, OuterRef, Prefetch, Q,
                              QuerySet, Sum, Value, When)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from apps.crm.models import Contact

from .models import (SALE_STATUSES, Address, Category, CustomerProfile, DeliveryZone, Order, OrderEvent, OrderItem,
                     OrderStatus, Payment, Product, StockMovement, StoreSettings)

ZERO_MONEY = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))
PERIODS = ("today", "yesterday", "7d", "30d", "this_month", "last_month", "custom")


def store_settings() -> StoreSettings:
    """The tenant's store settings (created with the defaults on first use)."""
    row, _created = StoreSettings.objects.get_or_create(pk=1)
    return row


# --- time ---------------------------------------------------------------------------------------


def tenant_tz() -> zoneinfo.ZoneInfo:
    from tenants.models import Tenant

    name = Tenant.objects.filter(schema_name=connection.schema_name).values_list("timezone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name or "America/Sao_Paulo")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("America/Sao_Paulo")


def period_range(period: str, *, start: date | None = None, end: date | None = None, tz=None,
                 now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) instants of a named period in the tenant's zone. "7d" and "30d" end today
    (inclusive); "custom" takes ``start`` and ``end`` dates (both inclusive)."""
    tz = tz or tenant_tz()
    today = (now or timezone.now()).astimezone(tz).date()

    def at(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=tz)

    if period == "today":
        first, last = today, today
    elif period == "yesterday":
        first = last = today - timedelta(days=1)
    elif period == "7d":
        first, last = today - timedelta(days=6), today
    elif period == "30d":
        first, last = today - timedelta(days=29), today
    elif period == "this_month":
        first, last = today.replace(day=1), today
    elif period == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        first = last.replace(day=1)
    elif period == "custom":
        if start is None or end is None:
            raise ValueError("a custom period needs start and end dates")
        first, last = min(start, end), max(start, end)
    else:
        raise ValueError(f"unknown period {period!r}")
    return at(first), at(last + timedelta(days=1))


# --- catalogue ----------------------------------------------------------------------------------


def category_list(*, active_only: bool = False) -> QuerySet[Category]:
    qs = Category.objects.annotate(product_count=Count("products", filter=Q(products__is_active=True)))
    return qs.filter(is_active=True) if active_only else qs


def product_list(*, q: str = "", category=None, active: bool | None = None, low_stock: bool = False
                 ) -> QuerySet[Product]:
    qs = Product.objects.select_related("category").annotate(
        is_low=Case(When(Q(min_stock__gt=0) & Q(stock_quantity__lte=F("min_stock")), then=Value(True)),
                    default=Value(False), output_field=BooleanField()))
    if q := (q or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(sku__icontains=q) | Q(category__name__icontains=q))
    if category:
        qs = qs.filter(category=category)
    if active is not None:
        qs = qs.filter(is_active=active)
    if low_stock:
        qs = qs.filter(is_low=True)
    return qs


def products_low_stock() -> QuerySet[Product]:
    """Active products at or below their minimum stock (those with a minimum), emptiest first."""
    return (product_list(active=True, low_stock=True)
            .order_by(F("stock_quantity") - F("min_stock"), "name"))


def product_movements(product, *, limit: int = 50) -> QuerySet[StockMovement]:
    return StockMovement.objects.filter(product=product).select_related("user", "order")[:limit]


def product_performance(*, start: datetime, end: datetime, product_ids=None) -> dict[int, dict]:
    """Per product over [start, end): units, revenue, cost and margin of sale orders (from the item
    snapshots, so a later price or cost change does not rewrite history)."""
    qs = OrderItem.objects.filter(order__status__in=SALE_STATUSES, order__placed_at__gte=start,
                                  order__placed_at__lt=end, product__isnull=False)
    if product_ids is not None:
        qs = qs.filter(product__in=list(product_ids))
    rows = qs.values("product").annotate(units=Sum("quantity"), revenue=Sum("total"),
                                         cost=Sum(F("quantity") * F("unit_cost"),
                                                  output_field=DecimalField(max_digits=18, decimal_places=5)))
    result = {}
    for row in rows:
        cost = Decimal(row["cost"] or 0).quantize(Decimal("0.01"))
        result[row["product"]] = {"units": row["units"], "revenue": row["revenue"], "cost": cost,
                                  "margin": row["revenue"] - cost}
    return result


def product_daily_revenue(product, *, start: datetime, end: datetime) -> list[tuple[date, Decimal]]:
    """One (local day, revenue) per day of [start, end), zeros included - a sparkline's points."""
    tz = start.tzinfo or tenant_tz()
    rows = dict(OrderItem.objects.filter(product=product, order__status__in=SALE_STATUSES,
                                         order__placed_at__gte=start, order__placed_at__lt=end)
                .annotate(day=TruncDate("order__placed_at", tzinfo=tz)).values("day")
                .annotate(revenue=Sum("total")).values_list("day", "revenue"))
    first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [(day, rows.get(day, Decimal("0.00"))) for day in days]


def zone_list(*, active_only: bool = False) -> QuerySet[DeliveryZone]:
    qs = DeliveryZone.objects.all()
    return qs.filter(is_active=True) if active_only else qs


# --- orders -------------------------------------------------------------------------------------


@dataclass
class OrderFilters:
    period: str = ""  # one of PERIODS ("" = all time)
    start: date | None = None  # for "custom"
    end: date | None = None
    status: str | list[str] = ""  # "" = every placed order (carts only when asked for)
    channel: str = ""
    payment_method: str = ""
    payment_status: str = ""
    q: str = ""  # customer name / phone, or the order number
    contact: int | None = None
    statuses: list[str] = field(default_factory=list)


def order_list(*, filters: OrderFilters | dict | None = None) -> QuerySet[Order]:
    """Orders newest first with the customer; carts only when the status filter asks for them."""
    if isinstance(filters, dict):
        filters = OrderFilters(**{k: v for k, v in filters.items() if k in OrderFilters.__dataclass_fields__})
    filters = filters or OrderFilters()
    qs = Order.objects.select_related("contact", "zone").annotate(item_count=Count("items"))
    statuses = list(filters.statuses) or ([filters.status] if isinstance(filters.status, str) and filters.status
                                          else list(filters.status or []))
    qs = qs.filter(status__in=statuses) if statuses else qs.exclude(status=OrderStatus.CART)
    if filters.period:
        start, end = period_range(filters.period, start=filters.start, end=filters.end)
        qs = qs.filter(placed_at__gte=start, placed_at__lt=end)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.payment_method:
        qs = qs.filter(payment_method=filters.payment_method)
    if filters.payment_status:
        qs = qs.filter(payment_status=filters.payment_status)
    if filters.contact:
        qs = qs.filter(contact_id=filters.contact)
    if q := (filters.q or "").strip():
        match = Q(contact__name__icontains=q) | Q(contact__push_name__icontains=q)
        digits = "".join(ch for ch in q if ch.isdigit())
        if digits:
            match |= Q(contact__phone__contains=digits)
            if digits == q.lstrip("#").strip() and len(digits) < 10:
                match |= Q(number=int(digits))
        qs = qs.filter(match)
    return qs.order_by(F("placed_at").desc(nulls_last=True), "-id")


def order_detail(order_id) -> Order | None:
    """One order with its items, timeline (with who), payments, customer, zone and conversation."""
    return (Order.objects.select_related("contact", "contact__store_profile", "zone", "conversation", "created_by")
            .prefetch_related("items",
                              Prefetch("events", queryset=OrderEvent.objects.select_related("user")),
                              Prefetch("payments", queryset=Payment.objects.all()))
            .filter(pk=order_id).first())


# --- customers ----------------------------------------------------------------------------------

_SALE = Q(orders__status__in=SALE_STATUSES)


def customer_list(*, q: str = "", recurring: bool | None = None) -> QuerySet[Contact]:
    """Contacts who are customers (an order or a store profile), each with ``order_count``,
    ``total_spent``, ``first_order_at``, ``last_order_at`` and ``is_recurring`` (2+ sale orders,
    canceled ones and carts not counted) - one query, most recent buyers first."""
    has_order = Order.objects.filter(contact=OuterRef("pk")).exclude(status=OrderStatus.CART)
    has_profile = CustomerProfile.objects.filter(contact=OuterRef("pk"))
    qs = (Contact.objects.filter(Q(Exists(has_order)) | Q(Exists(has_profile)))
          .select_related("store_profile")
          .annotate(order_count=Count("orders", filter=_SALE),
                    total_spent=Coalesce(Sum("orders__total", filter=_SALE), ZERO_MONEY),
                    first_order_at=Min("orders__placed_at", filter=_SALE),
                    last_order_at=Max("orders__placed_at", filter=_SALE))
          .annotate(is_recurring=Case(When(order_count__gte=2, then=Value(True)), default=Value(False),
                                      output_field=BooleanField())))
    if q := (q or "").strip():
        match = Q(name__icontains=q) | Q(push_name__icontains=q) | Q(email__icontains=q)
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 3:
            match |= Q(phone__contains=digits) | Q(store_profile__document_number__contains=digits)
        qs = qs.filter(match)
    if recurring is not None:
        qs = qs.filter(order_count__gte=2) if recurring else qs.filter(order_count__lt=2)
    return qs.order_by(F("last_order_at").desc(nulls_last=True), "-id")


def customer_detail(contact_id) -> Contact | None:
    """A customer with the same figures as the list, their profile and addresses."""
    return (customer_list().filter(pk=contact_id)
            .prefetch_related(Prefetch("addresses", queryset=Address.objects.all())).first())


def customer_orders(contact, *, limit: int = 50) -> QuerySet[Order]:
    return order_list(filters=OrderFilters(contact=getattr(contact, "pk", contact)))[:limit]


def customer_conversations(contact):
    from apps.inbox.models import Conversation

    return Conversation.objects.filter(contact=contact).select_related("connection").order_by(
        F("last_message_at").desc(nulls_last=True))


def open_cart(*, contact, conversation=None) -> Order | None:
    """The contact's open cart in the conversation, with its items (read-only twin of cart_for)."""
    return (Order.objects.filter(status=OrderStatus.CART, contact=contact, conversation=conversation)
            .prefetch_related("items").order_by("-id").first())
