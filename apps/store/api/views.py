"""Store API: products (CRUD, stock adjustments and ledger), categories, delivery zones, orders (list
with the Vendas filters, detail, counter/phone sale, advance / cancel / pay) and customers.

Reading needs ``store.sell``; changing the catalogue and the zones needs ``store.manage``. Every
write goes through the store services; their refusals answer 400 with the message (and the
refusal's ``code`` for order actions). Ids of another company's rows do not exist here (404)."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from apps.accounts.roles import user_can
from apps.crm.models import Contact

from .. import selectors
from ..forms import OrderFilterForm
from ..models import Category, DeliveryZone, Order, Product
from ..services import catalog, customers as customer_services, orders as order_services, zones as zone_services
from ..services.stock import stock_adjust
from .serializers import (AdvanceSerializer, CancelSerializer, CategorySerializer, CustomerDetailSerializer,
                          CustomerSerializer, OrderCreateSerializer, OrderDetailSerializer, OrderSerializer,
                          ProductSerializer, StockAdjustSerializer, StockMovementSerializer, ZoneSerializer)

SELL = "store.sell"
MANAGE = "store.manage"


class Sells(BasePermission):
    message = "Only staff who sell may use the store."

    def has_permission(self, request, view):
        return user_can(request.user, SELL)


class ReadsOrManagesCatalogue(BasePermission):
    """Sellers read the catalogue (the counter sale needs it); supervisors and admins change it."""

    message = "Only supervisors and admins change the catalogue and the delivery zones."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return user_can(request.user, SELL) or user_can(request.user, MANAGE)
        return user_can(request.user, MANAGE)


def _invalid(exc: DjangoValidationError):
    """A service's refusal as a 400: per field when it names fields, else its messages and code."""
    if hasattr(exc, "error_dict"):
        raise ValidationError(exc.message_dict) from None
    body = {"detail": [str(m) for m in exc.messages]}
    if getattr(exc, "code", None):
        body["code"] = exc.code
    raise ValidationError(body) from None


def _int_param(request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    if value in ("", None):
        return None
    if not str(value).isdigit():
        raise ValidationError({name: ["A whole number (an id)."]})
    return int(value)


def _bool_param(request, name: str) -> bool | None:
    value = request.query_params.get(name, "").lower()
    if value == "":
        return None
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ValidationError({name: ["Use true or false."]})


# --- catalogue -----------------------------------------------------------------------------------------

class CategoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Categories; DELETE deactivates (products keep their category and history)."""

    serializer_class = CategorySerializer
    permission_classes = [IsAuthenticated, ReadsOrManagesCatalogue]
    pagination_class = None

    def get_queryset(self):
        return selectors.category_list().order_by("position", "name")

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = catalog.category_create(name=data["name"], position=data.get("position", 0))
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_update(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = catalog.category_update(serializer.instance, name=data.get("name"),
                                                          position=data.get("position"),
                                                          is_active=data.get("is_active"))
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_destroy(self, instance):
        catalog.category_deactivate(instance)


PRODUCT_FILTERS = [
    OpenApiParameter("q", str, description="Search name, SKU or category"),
    OpenApiParameter("category", int, description="Only this category"),
    OpenApiParameter("active", bool, description="true: for sale; false: deactivated (default: both)"),
    OpenApiParameter("low_stock", bool, description="Only products at or below their minimum stock"),
]


@extend_schema(parameters=PRODUCT_FILTERS)
class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Products. ``stock_quantity`` is read-only: POST ``stock`` records a purchase, an adjustment
    or a return in the ledger. DELETE deactivates (past orders keep their product)."""

    serializer_class = ProductSerializer
    permission_classes = [IsAuthenticated, ReadsOrManagesCatalogue]

    def get_queryset(self):
        if self.action != "list":
            return selectors.product_list().order_by("name", "id")
        category_id = _int_param(self.request, "category")
        category = None
        if category_id is not None:
            category = Category.objects.filter(pk=category_id).first()
            if category is None:
                return Product.objects.none()
        return selectors.product_list(q=self.request.query_params.get("q", "")[:100], category=category,
                                      active=_bool_param(self.request, "active"),
                                      low_stock=bool(_bool_param(self.request, "low_stock"))).order_by("name", "id")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        initial = data.pop("initial_stock", None)
        try:
            product = catalog.product_create(**data, **({"initial_stock": initial} if initial is not None else {}),
                                             user=self.request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        serializer.instance = selectors.product_list().get(pk=product.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("initial_stock", None)
        try:
            catalog.product_update(serializer.instance, **data)
        except DjangoValidationError as exc:
            _invalid(exc)
        serializer.instance = selectors.product_list().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance):
        catalog.product_deactivate(instance)

    @extend_schema(request=StockAdjustSerializer, responses=ProductSerializer)
    @action(detail=True, methods=["post"])
    def stock(self, request, pk=None):
        """Record a stock movement with a reason (refused below zero unless the store sells without stock)."""
        product = self.get_object()
        serializer = StockAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            stock_adjust(product, quantity=data["quantity"], kind=data["kind"], reason=data["reason"],
                         user=request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        return Response(ProductSerializer(selectors.product_list().get(pk=product.pk),
                                          context=self.get_serializer_context()).data)

    @extend_schema(parameters=[], responses=StockMovementSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def movements(self, request, pk=None):
        """The product's stock ledger, newest first (last 200)."""
        product = self.get_object()
        return Response(StockMovementSerializer(selectors.product_movements(product, limit=200), many=True).data)


class ZoneViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Delivery zones; DELETE deactivates (past orders keep their zone)."""

    serializer_class = ZoneSerializer
    permission_classes = [IsAuthenticated, ReadsOrManagesCatalogue]
    pagination_class = None

    def get_queryset(self):
        return DeliveryZone.objects.order_by("neighbourhood", "id")

    def perform_create(self, serializer):
        try:
            serializer.instance = zone_services.zone_create(**serializer.validated_data)
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_update(self, serializer):
        try:
            serializer.instance = zone_services.zone_update(serializer.instance, **serializer.validated_data)
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_destroy(self, instance):
        zone_services.zone_deactivate(instance)


# --- orders --------------------------------------------------------------------------------------------

ORDER_FILTERS = [
    OpenApiParameter("period", str, enum=["today", "yesterday", "7d", "30d", "this_month", "last_month", "custom"],
                     description="In the company's time zone; custom needs start and end"),
    OpenApiParameter("start", str, description="custom period: first day (YYYY-MM-DD)"),
    OpenApiParameter("end", str, description="custom period: last day (YYYY-MM-DD)"),
    OpenApiParameter("status", str, description="One status (cart = open WhatsApp carts); default: every "
                                                "placed order"),
    OpenApiParameter("channel", str), OpenApiParameter("payment_method", str),
    OpenApiParameter("payment_status", str),
    OpenApiParameter("q", str, description="Customer name or phone, or the order number"),
    OpenApiParameter("contact", int, description="Only this customer's orders"),
]


@extend_schema(parameters=ORDER_FILTERS)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders, newest first. POST creates a counter or phone sale; ``advance``, ``cancel`` and
    ``pay`` move an order along. Prices and totals always come from the server."""

    permission_classes = [IsAuthenticated, Sells]

    def get_serializer_class(self):
        if self.action == "list":
            return OrderSerializer
        if self.action == "create":
            return OrderCreateSerializer
        return OrderDetailSerializer

    def get_queryset(self):
        if self.action != "list":
            return (Order.objects.select_related("contact").prefetch_related("items", "events__user")
                    .order_by("-id"))
        params = QueryDict(mutable=True)
        params.update({k: v for k, v in self.request.query_params.items() if k != "contact"})
        form = OrderFilterForm(params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        filters = form.filters()
        filters.contact = _int_param(self.request, "contact")
        return selectors.order_list(filters=filters)

    def _answer(self, order, code=status.HTTP_200_OK) -> Response:
        return Response(OrderDetailSerializer(selectors.order_detail(order.pk), context=self.get_serializer_context()).data,
                        status=code)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderDetailSerializer})
    def create(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact = None
        if data["contact"] is not None:
            contact = Contact.objects.filter(pk=data["contact"]).first()
            if contact is None:
                raise ValidationError({"contact": ["No customer with this id."]})
        try:
            with transaction.atomic():  # a refused sale leaves no new customer behind
                if contact is None and (data["customer_phone"] or data["customer_name"]):
                    contact = customer_services.customer_find_or_create(name=data["customer_name"],
                                                                        phone=data["customer_phone"])
                order = order_services.order_create(
                    contact=contact, channel=data["channel"], items=[(i["product"], i["quantity"]) for i in
                                                                     data["items"]],
                    payment_method=data["payment_method"], paid=data["paid"], discount=data["discount"],
                    notes=data["notes"], fulfillment=data["fulfillment"], neighbourhood=data["neighbourhood"],
                    address=data["address"], user=request.user, status=data["status"])
        except DjangoValidationError as exc:
            _invalid(exc)
        return self._answer(order, status.HTTP_201_CREATED)

    def _order(self, pk) -> Order:
        order = Order.objects.filter(pk=pk).first() if str(pk).isdigit() else None
        if order is None:
            raise Http404
        return order

    @extend_schema(request=AdvanceSerializer, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def advance(self, request, pk=None):
        """To the next status of the order's path (or to a later one given in ``to``)."""
        order = self._order(pk)
        serializer = AdvanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            order_services.order_advance(order, to_status=serializer.validated_data["to"], user=request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        return self._answer(order)

    @extend_schema(request=CancelSerializer, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel with a reason; the stock the order held goes back."""
        order = self._order(pk)
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            order_services.order_cancel(order, reason=serializer.validated_data["reason"], user=request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        return self._answer(order)

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        """Mark the order paid (again: no change)."""
        order = self._order(pk)
        try:
            order_services.order_mark_paid(order, user=request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        return self._answer(order)


# --- customers -----------------------------------------------------------------------------------------

@extend_schema(parameters=[OpenApiParameter("q", str, description="Name, phone, e-mail or CPF/CNPJ"),
                           OpenApiParameter("recurring", bool, description="true: 2+ orders; false: fewer")])
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Customers (contacts with an order or a store profile) with their order count, total spent,
    first and last order and the recurring flag (2+ orders, canceled ones not counted)."""

    permission_classes = [IsAuthenticated, Sells]

    def get_serializer_class(self):
        return CustomerDetailSerializer if self.action == "retrieve" else CustomerSerializer

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.customer_list().prefetch_related("addresses")
        return selectors.customer_list(q=self.request.query_params.get("q", "")[:100],
                                       recurring=_bool_param(self.request, "recurring"))
