"""Shapes of the store API. Money and quantities travel as decimal strings ("59.90", "0.350");
totals are read-only: the server computes them from the items and the catalogue."""
from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from ..models import (Address, Category, Channel, CustomerProfile, DeliveryZone, Fulfillment, MovementKind, Order, OrderEvent,
                      OrderItem, OrderStatus, PaymentMethod, Product, StockMovement)

MONEY = {"max_digits": 12, "decimal_places": 2, "coerce_to_string": True}
QTY = {"max_digits": 12, "decimal_places": 3, "coerce_to_string": True}


class CategorySerializer(serializers.ModelSerializer):
    product_count = serializers.IntegerField(read_only=True, required=False,
                                             help_text="Active products in the category")

    class Meta:
        model = Category
        fields = ["id", "name", "position", "is_active", "product_count"]


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    category_name = serializers.CharField(source="category.name", read_only=True, default="")
    price = serializers.DecimalField(min_value=Decimal("0"), **MONEY)
    cost = serializers.DecimalField(min_value=Decimal("0"), required=False, **MONEY)
    min_stock = serializers.DecimalField(min_value=Decimal("0"), required=False, **QTY)
    stock_quantity = serializers.DecimalField(read_only=True, **QTY,
                                              help_text="Available to sell; change it with the stock action")
    is_low = serializers.SerializerMethodField(help_text="At or below the minimum stock")
    image = serializers.ImageField(read_only=True)
    initial_stock = serializers.DecimalField(write_only=True, required=False, min_value=Decimal("0"), **QTY,
                                             help_text="On create: stock entered as a purchase in the ledger")

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "description", "category", "category_name", "unit", "price", "cost",
                  "min_stock", "stock_quantity", "is_low", "is_active", "image", "initial_stock", "created_at",
                  "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # SKU uniqueness (case-insensitive) is the service's rule; its message comes back as a 400
        extra_kwargs = {"sku": {"validators": []}}

    def to_representation(self, product):
        data = super().to_representation(product)
        request = self.context.get("request")
        if request is not None:
            from apps.accounts.roles import user_can

            if not user_can(request.user, "store.manage"):
                data.pop("cost", None)  # what the shop pays is for those who manage the catalogue
        return data

    def get_is_low(self, product) -> bool:
        return bool(product.min_stock and product.stock_quantity <= product.min_stock)


class StockAdjustSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[MovementKind.PURCHASE, MovementKind.ADJUSTMENT, MovementKind.RETURN],
                                   default=MovementKind.ADJUSTMENT)
    quantity = serializers.DecimalField(help_text="Signed: positive adds, negative (adjustments only) removes",
                                        **QTY)
    reason = serializers.CharField(max_length=200)

    def validate(self, data):
        if data["quantity"] == 0:
            raise serializers.ValidationError({"quantity": ["Enter a quantity other than zero."]})
        if data["quantity"] < 0 and data["kind"] != MovementKind.ADJUSTMENT:
            raise serializers.ValidationError({"quantity": ["Purchases and returns add stock: use a positive "
                                                            "quantity."]})
        return data


class StockMovementSerializer(serializers.ModelSerializer):
    user_name = serializers.SerializerMethodField()
    order_number = serializers.IntegerField(source="order.number", read_only=True, default=None)

    class Meta:
        model = StockMovement
        fields = ["id", "kind", "quantity", "balance_after", "reason", "user", "user_name", "order", "order_number",
                  "created_at"]

    def get_user_name(self, movement) -> str:
        return (movement.user.name or movement.user.email) if movement.user_id else ""


class ZoneSerializer(serializers.ModelSerializer):
    fee = serializers.DecimalField(min_value=Decimal("0"), required=False, max_digits=8, decimal_places=2)
    min_order = serializers.DecimalField(min_value=Decimal("0"), required=False, max_digits=8, decimal_places=2)

    class Meta:
        model = DeliveryZone
        fields = ["id", "neighbourhood", "city", "fee", "min_order", "estimated_minutes", "is_active"]
        validators = []  # the neighbourhood's uniqueness (ignoring case and accents) is the service's rule


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["id", "product", "product_name", "sku", "unit", "quantity", "unit_price", "total"]


class OrderEventSerializer(serializers.ModelSerializer):
    user_name = serializers.SerializerMethodField()

    class Meta:
        model = OrderEvent
        fields = ["status", "kind", "note", "user", "user_name", "by_ai", "created_at"]

    def get_user_name(self, event) -> str:
        return (event.user.name or event.user.email) if event.user_id else ""


class OrderSerializer(serializers.ModelSerializer):
    contact_name = serializers.SerializerMethodField()
    contact_phone = serializers.CharField(source="contact.phone", read_only=True, default="")
    item_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Order
        fields = ["id", "number", "status", "channel", "fulfillment", "payment_method", "payment_status",
                  "subtotal", "discount", "delivery_fee", "total", "contact", "contact_name", "contact_phone",
                  "placed_at", "neighbourhood", "conversation", "created_by_ai", "item_count"]
        read_only_fields = fields

    def get_contact_name(self, order) -> str:
        return order.contact.display_name if order.contact_id else ""


class OrderDetailSerializer(OrderSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "notes", "delivery_address", "zone", "cancel_reason", "paid_at",
                  "confirmed_at", "preparing_at", "ready_at", "out_for_delivery_at", "delivered_at", "canceled_at",
                  "rating", "rating_comment", "items", "events"]
        read_only_fields = fields


class SaleItemSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)


class OrderCreateSerializer(serializers.Serializer):
    """A counter or phone sale in one call. Prices come from the catalogue; a total sent here is
    ignored (it is not a field)."""

    items = SaleItemSerializer(many=True, allow_empty=False)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.COUNTER)
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False, allow_blank=True,
                                             default="")
    paid = serializers.BooleanField(default=False)
    status = serializers.ChoiceField(choices=[OrderStatus.PLACED, OrderStatus.DELIVERED], default=OrderStatus.PLACED,
                                     help_text="delivered = handed over on the spot")
    discount = serializers.DecimalField(min_value=Decimal("0"), default=Decimal("0"), **MONEY)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    fulfillment = serializers.ChoiceField(choices=Fulfillment.choices, default=Fulfillment.PICKUP)
    neighbourhood = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    address = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    contact = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="An existing customer (contact id)")
    customer_phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=30)
    customer_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)


class AdvanceSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=OrderStatus.choices, required=False, allow_null=True, default=None,
                                 help_text="A later status of the order's path; default: the next one")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["id", "label", "street", "number", "complement", "neighbourhood", "city", "zip_code", "reference",
                  "is_default"]


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    order_count = serializers.IntegerField(read_only=True)
    total_spent = serializers.DecimalField(read_only=True, max_digits=14, decimal_places=2)
    first_order_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_order_at = serializers.DateTimeField(read_only=True, allow_null=True)
    is_recurring = serializers.BooleanField(read_only=True)
    document_number = serializers.SerializerMethodField()
    customer_since = serializers.SerializerMethodField()

    def _profile(self, contact):
        try:
            return contact.store_profile
        except CustomerProfile.DoesNotExist:  # a contact with orders but no profile yet
            return None

    def get_document_number(self, contact) -> str:
        profile = self._profile(contact)
        return profile.document_number if profile else ""

    def get_customer_since(self, contact) -> str | None:
        profile = self._profile(contact)
        return profile.customer_since.isoformat() if profile and profile.customer_since else None


class CustomerDetailSerializer(CustomerSerializer):
    addresses = AddressSerializer(many=True, read_only=True)
