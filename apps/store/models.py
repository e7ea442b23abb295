"""The store: catalogue, stock ledger, delivery zones, customers' store data, orders and payments.

Money is Decimal (2 places) and every total is computed server-side by the services; quantities are
Decimal (3 places) so weighed goods (kg, g) work. ``Product.stock_quantity`` is the quantity
available to sell, kept in step with the ledger (``StockMovement``) by the services under a row
lock, so two orders for the last unit cannot both succeed."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField

ZERO = Decimal("0")


class StoreSettings(models.Model):
    """One row per tenant (pk=1): the store's rules and its Mercado Pago credentials."""

    allow_negative_stock = models.BooleanField(_("sell without stock"), default=False)
    max_quantity_per_item = models.DecimalField(_("most units of one item per order"), max_digits=8,
                                                decimal_places=3, default=Decimal("10"))
    cart_reminder_minutes = models.PositiveIntegerField(_("remind an abandoned cart after (minutes)"), default=10)
    cart_cancel_minutes = models.PositiveIntegerField(_("cancel an abandoned cart after (minutes)"), default=15)
    rating_delay_minutes = models.PositiveIntegerField(_("ask for a rating after delivery (minutes)"), default=60)
    ordering_reset_minutes = models.PositiveIntegerField(_("forget an idle WhatsApp order after (minutes)"),
                                                         default=120)
    pix_expiration_minutes = models.PositiveIntegerField(_("Pix code valid for (minutes)"), default=30)
    mercadopago_access_token = EncryptedTextField(_("Mercado Pago access token"), blank=True)
    mercadopago_webhook_secret = EncryptedTextField(_("Mercado Pago webhook secret"), blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("store settings")
        verbose_name_plural = _("store settings")


class Category(models.Model):
    name = models.CharField(_("name"), max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Unit(models.TextChoices):
    UNIT = "unit", _("unit")
    KG = "kg", _("kg")
    G = "g", _("g")


def product_image_path(instance, filename):
    return f"store/products/{timezone.now():%Y/%m}/{filename}"


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=160)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products",
                                 verbose_name=_("category"))
    unit = models.CharField(_("unit"), max_length=4, choices=Unit.choices, default=Unit.UNIT)
    price = models.DecimalField(_("price (R$)"), max_digits=10, decimal_places=2)
    cost = models.DecimalField(_("cost (R$)"), max_digits=10, decimal_places=2, default=ZERO)
    is_active = models.BooleanField(_("active"), default=True)
    image = models.ImageField(_("image"), upload_to=product_image_path, blank=True, max_length=300)
    min_stock = models.DecimalField(_("minimum stock"), max_digits=12, decimal_places=3, default=ZERO)
    # Available to sell; written only by apps.store.services.stock (row lock + ledger entry).
    stock_quantity = models.DecimalField(_("stock"), max_digits=12, decimal_places=3, default=ZERO)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        indexes = [models.Index(fields=["category", "name"], name="store_product_cat_name")]

    def __str__(self):
        return self.name


class MovementKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    SALE = "sale", _("Sale")
    ADJUSTMENT = "adjustment", _("Adjustment")
    RESERVATION = "reservation", _("Reservation")
    RELEASE = "release", _("Release")
    RETURN = "return", _("Return")


class StockMovement(models.Model):
    """The stock ledger: signed quantity (+ in, - out) and the balance it left."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="movements")
    kind = models.CharField(max_length=12, choices=MovementKind.choices)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    balance_after = models.DecimalField(max_digits=12, decimal_places=3)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    order = models.ForeignKey("Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="movements")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["product", "-created_at"], name="store_movement_product")]


class DeliveryZone(models.Model):
    neighbourhood = models.CharField(_("neighbourhood"), max_length=100)
    city = models.CharField(_("city"), max_length=100, blank=True)
    fee = models.DecimalField(_("delivery fee (R$)"), max_digits=8, decimal_places=2, default=ZERO)
    min_order = models.DecimalField(_("minimum order (R$)"), max_digits=8, decimal_places=2, default=ZERO)
    estimated_minutes = models.PositiveSmallIntegerField(_("estimated time (minutes)"), default=45)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("delivery zone")
        verbose_name_plural = _("delivery zones")
        ordering = ["neighbourhood"]
        constraints = [models.UniqueConstraint(models.functions.Lower("neighbourhood"), "city",
                                               name="store_zone_unique_neighbourhood")]

    def __str__(self):
        return self.neighbourhood


class CustomerProfile(models.Model):
    """What the store adds to a CRM contact."""

    contact = models.OneToOneField("crm.Contact", on_delete=models.CASCADE, related_name="store_profile")
    document_number = models.CharField(_("CPF / CNPJ"), max_length=20, blank=True)
    customer_since = models.DateField(_("customer since"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer profile")
        verbose_name_plural = _("customer profiles")


class Address(models.Model):
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(_("label"), max_length=40, blank=True)  # "Casa", "Trabalho"
    street = models.CharField(_("street"), max_length=160)
    number = models.CharField(_("number"), max_length=20, blank=True)
    complement = models.CharField(_("complement"), max_length=80, blank=True)
    neighbourhood = models.CharField(_("neighbourhood"), max_length=100)
    city = models.CharField(_("city"), max_length=100, blank=True)
    zip_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    reference = models.CharField(_("reference"), max_length=160, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "-created_at"]

    def __str__(self):
        parts = [f"{self.street} {self.number}".strip(), self.complement, self.neighbourhood, self.city]
        return ", ".join(p for p in parts if p)


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", _("WhatsApp")
    COUNTER = "counter", _("Counter")
    PHONE = "phone", _("Phone")
    WEBSITE = "website", _("Website")
    IFOOD = "ifood", _("iFood")
    OTHER = "other", _("Other")


class OrderStatus(models.TextChoices):
    CART = "cart", _("Cart")
    PLACED = "placed", _("Placed")
    CONFIRMED = "confirmed", _("Confirmed")
    PREPARING = "preparing", _("Preparing")
    READY = "ready", _("Ready")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERED = "delivered", _("Delivered")
    CANCELED = "canceled", _("Canceled")


class PaymentMethod(models.TextChoices):
    PIX = "pix", _("Pix")
    CREDIT = "credit", _("Credit card")
    DEBIT = "debit", _("Debit card")
    CASH = "cash", _("Cash")
    BOLETO = "boleto", _("Boleto")
    VOUCHER = "voucher", _("Meal voucher")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    REFUNDED = "refunded", _("Refunded")
    FAILED = "failed", _("Failed")


class Fulfillment(models.TextChoices):
    DELIVERY = "delivery", _("Delivery")
    PICKUP = "pickup", _("Pickup")


# Orders that count as sales in the dashboard (placed and beyond, not canceled, not carts).
SALE_STATUSES = [OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.PREPARING, OrderStatus.READY,
                 OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED]


class Order(models.Model):
    # Sequential per tenant, given when the order is placed (carts have none).
    number = models.PositiveIntegerField(_("number"), null=True, blank=True, unique=True)
    contact = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="orders", verbose_name=_("customer"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.COUNTER)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.CART)
    placed_at = models.DateTimeField(_("placed at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    preparing_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    out_for_delivery_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=200, blank=True)
    payment_method = models.CharField(_("payment method"), max_length=8, choices=PaymentMethod.choices, blank=True)
    payment_status = models.CharField(_("payment"), max_length=8, choices=PaymentStatus.choices,
                                      default=PaymentStatus.PENDING)
    paid_at = models.DateTimeField(null=True, blank=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2, default=ZERO)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=ZERO)
    delivery_fee = models.DecimalField(_("delivery fee"), max_digits=10, decimal_places=2, default=ZERO)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=ZERO)
    # Sum of item cost snapshots: gross margin = total - delivery_fee - cost_total.
    cost_total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    notes = models.TextField(_("notes"), blank=True)
    fulfillment = models.CharField(_("fulfillment"), max_length=8, choices=Fulfillment.choices,
                                   default=Fulfillment.PICKUP)
    delivery_address = models.CharField(_("delivery address"), max_length=300, blank=True)
    neighbourhood = models.CharField(_("neighbourhood"), max_length=100, blank=True)
    zone = models.ForeignKey(DeliveryZone, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    conversation = models.ForeignKey("inbox.Conversation", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="orders")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_ai = models.BooleanField(default=False)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)  # 1..5
    rating_comment = models.CharField(max_length=300, blank=True)
    # Background jobs (stored due times applied by the store sweep; each acts once).
    cart_reminder_due_at = models.DateTimeField(null=True, blank=True)
    cart_cancel_due_at = models.DateTimeField(null=True, blank=True)
    rating_due_at = models.DateTimeField(null=True, blank=True)
    cart_reminded_at = models.DateTimeField(null=True, blank=True)
    rating_asked_at = models.DateTimeField(null=True, blank=True)
    # The assistant's ordering context for a WhatsApp cart (step, pending questions); reset when idle.
    ordering_state = models.JSONField(default=dict, blank=True)
    ordering_reset_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["placed_at"], name="store_order_placed"),
            models.Index(fields=["status", "placed_at"], name="store_order_status_placed"),
            models.Index(fields=["contact", "placed_at"], name="store_order_contact_placed"),
            models.Index(fields=["channel", "placed_at"], name="store_order_channel_placed"),
            models.Index(fields=["conversation"], condition=Q(status="cart"), name="store_order_open_cart"),
            models.Index(fields=["cart_cancel_due_at"], condition=Q(cart_cancel_due_at__isnull=False),
                         name="store_order_cart_due"),
            models.Index(fields=["rating_due_at"], condition=Q(rating_due_at__isnull=False), name="store_order_rating_due"),
        ]

    def __str__(self):
        return f"#{self.number}" if self.number else f"cart {self.pk}"


class OrderItem(models.Model):
    """A line of an order, with the product's name, price and cost as they were (snapshots)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_items")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_name = models.CharField(max_length=160)
    sku = models.CharField(max_length=40, blank=True)
    unit = models.CharField(max_length=4, choices=Unit.choices, default=Unit.UNIT)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    total = models.DecimalField(max_digits=12, decimal_places=2)  # round(quantity * unit_price, 2)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["product", "order"], name="store_item_product")]


class OrderEvent(models.Model):
    """The order's timeline: each status change (and payment events), by whom."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=OrderStatus.choices, blank=True)
    kind = models.CharField(max_length=20, default="status")  # status, payment, note, rating
    note = models.CharField(max_length=300, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    by_ai = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class Payment(models.Model):
    """A Pix charge at Mercado Pago for an order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    provider = models.CharField(max_length=20, default="mercadopago")
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20, default="pending")  # provider's status (pending, approved, ...)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    qr_code = models.TextField(blank=True)  # Pix copy-and-paste
    qr_code_base64 = models.TextField(blank=True)  # PNG
    ticket_url = models.URLField(max_length=500, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
