"""The store pages: Vendas (orders, the order drawer, the counter sale), Produtos (catalogue,
categories, stock, performance, import/export), Clientes and the store settings (with delivery
zones).

Views parse, check the capability (``store.sell`` for selling, ``store.manage`` for the catalogue
and settings), call one service or selector and render. A service's refusal becomes a form error
(400) with what the user typed still in place. With htmx, fragments come back (the drawer body,
a list, a card); without script every action answers a full page or a redirect."""
from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.permissions import capability_required
from apps.accounts.roles import user_can
from apps.core.crypto import mask

from . import selectors
from .forms import (CancelForm, CategoryForm, CounterSaleForm, ImportForm, OrderFilterForm, PerformanceForm,
                    ProductForm, StockAdjustForm, StoreSettingsForm, ZoneForm, parse_decimal)
from .models import Category, Channel, DeliveryZone, Fulfillment, OrderStatus, PaymentStatus, Product
from .resources import ImportFileError, export_products, import_products
from .services import catalog, customers as customer_services, orders as order_services, zones as zone_services
from .services.settings import store_settings_update
from .services.stock import stock_adjust

SELL = "store.sell"
MANAGE = "store.manage"
PAGE_SIZE = 25


def _fragment(request, target: str | None = None) -> bool:
    if request.GET.get("fragment") == "1":
        return True
    if not request.htmx:
        return False
    return target is None or request.htmx.target == target


def _query(request, *drop: str) -> str:
    query = request.GET.copy()
    for name in ("page", "fragment", *drop):
        query.pop(name, None)
    return query.urlencode()


def _messages_of(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


# --- Vendas: the order list -------------------------------------------------------------------------

def _order_page_context(request, form: OrderFilterForm) -> dict:
    page = Paginator(selectors.order_list(filters=form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    return {"form": form, "page": page, "query": _query(request, "order"), "tz": selectors.tenant_tz(),
            "filtered": any(v for k, v in request.GET.items() if k not in ("page", "order", "fragment"))}


@capability_required(SELL)
@require_GET
@never_cache
def orders(request):
    form = OrderFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    context = _order_page_context(request, form)
    if _fragment(request, "orders-results"):
        return render(request, "store/partials/order_results.html", context)
    wanted = request.GET.get("order", "")
    if wanted.isdigit():
        order = selectors.order_detail(int(wanted))
        if order is not None:
            context.update(_drawer_context(request, order))
    return render(request, "store/orders.html", context)


@capability_required(SELL)
@require_GET
@never_cache
def order_row(request, pk: int):
    """One row of the list if the order still matches the list's filters (204: drop it) - what the
    page's script fetches when the socket announces a new or changed order."""
    form = OrderFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    order = selectors.order_list(filters=form.filters()).filter(pk=pk).first()
    if order is None:
        return HttpResponse(status=204)
    return render(request, "store/partials/order_row.html", {"o": order, "tz": selectors.tenant_tz(),
                                                              "query": _query(request)})


# --- the order drawer -------------------------------------------------------------------------------

def _path(order) -> list[str]:
    return order_services.PATH_DELIVERY if order.fulfillment == Fulfillment.DELIVERY else order_services.PATH_PICKUP


def _drawer_context(request, order, *, errors=None, cancel_form=None) -> dict:
    path = _path(order)
    next_status = None
    if order.status in path and order.status != OrderStatus.DELIVERED:
        next_status = path[path.index(order.status) + 1]
    reached = {e.status for e in order.events.all() if e.kind == "status"}
    steps = [{"status": s, "label": OrderStatus(s).label, "done": s in reached or s == order.status,
              "current": s == order.status} for s in path]
    conversation_url = ""
    if order.conversation_id:
        conversation_url = reverse("inbox:conversation-detail", args=[order.conversation_id])
    return {
        "order": order,
        "items": list(order.items.all()),
        "events": list(order.events.all()),
        "payments": list(order.payments.all()),
        "steps": steps if order.status not in (OrderStatus.CART, OrderStatus.CANCELED) else [],
        "next_status": next_status,
        "next_label": OrderStatus(next_status).label if next_status else "",
        "can_cancel": order.status in order_services.CANCELABLE,
        "can_pay": order.status != OrderStatus.CART and order.payment_status != PaymentStatus.PAID,
        "is_cart": order.status == OrderStatus.CART,
        "cancel_form": cancel_form or CancelForm(),
        "cancel_open": bool(cancel_form is not None and cancel_form.errors),
        "errors": errors or [],
        "conversation_url": conversation_url,
        "customer_url": reverse("store:customer-detail", args=[order.contact_id]) if order.contact_id else "",
        "tz": selectors.tenant_tz(),
    }


def _order_or_404(pk: int):
    order = selectors.order_detail(pk)
    if order is None:
        raise Http404(_("Order not found."))
    return order


@capability_required(SELL)
@require_GET
@never_cache
def order_detail(request, pk: int):
    order = _order_or_404(pk)
    context = _drawer_context(request, order)
    if _fragment(request):
        return render(request, "store/partials/order_drawer.html", context)
    return render(request, "store/order_detail.html", context)


def _after_order_action(request, pk: int, *, errors=None, success: str = "", cancel_form=None):
    """Script: the refreshed drawer (with the list row, out of band). Plain form: the list with the
    order open, the outcome as a message."""
    order = _order_or_404(pk)
    form_errors = [str(e) for errs in cancel_form.errors.values() for e in errs] if cancel_form is not None else []
    if request.htmx:
        context = _drawer_context(request, order, errors=errors, cancel_form=cancel_form)
        row = None
        if (request.htmx.current_url_abs_path or "").split("?")[0] == reverse("store:orders"):
            # the list behind the drawer shows the new state at once (the socket may be slower)
            row = selectors.order_list(filters={"statuses": [order.status]}).filter(pk=pk).first()
        context.update({"success": success, "oob_row": row is not None, "row_order": row})
        return render(request, "store/partials/order_drawer.html", context,
                      status=400 if errors or form_errors else 200)
    for message in errors or form_errors:
        messages.error(request, message)
    if success and not errors:
        messages.success(request, success)
    return redirect(f"{reverse('store:orders')}?{urlencode({'order': order.pk})}")


@capability_required(SELL)
@require_POST
def order_advance_view(request, pk: int):
    order = _order_or_404(pk)
    target = request.POST.get("to") or None
    if target is not None and target not in OrderStatus.values:
        return _after_order_action(request, pk, errors=[_("Choose a valid status.")])
    try:
        order = order_services.order_advance(order, to_status=target, user=request.user)
    except ValidationError as exc:
        return _after_order_action(request, pk, errors=_messages_of(exc))
    return _after_order_action(request, pk, success=_("Order #%(number)s is now: %(status)s.") % {
        "number": order.number, "status": order.get_status_display()})


@capability_required(SELL)
@require_POST
def order_cancel_view(request, pk: int):
    order = _order_or_404(pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _after_order_action(request, pk, cancel_form=form)
    try:
        order_services.order_cancel(order, reason=form.cleaned_data["reason"], user=request.user)
    except ValidationError as exc:
        return _after_order_action(request, pk, errors=_messages_of(exc), cancel_form=form)
    return _after_order_action(request, pk, success=_("Order canceled; its stock is back."))


@capability_required(SELL)
@require_POST
def order_pay_view(request, pk: int):
    order = _order_or_404(pk)
    try:
        order_services.order_mark_paid(order, user=request.user)
    except ValidationError as exc:
        return _after_order_action(request, pk, errors=_messages_of(exc))
    return _after_order_action(request, pk, success=_("Marked as paid."))


@capability_required(SELL)
@require_POST
def order_place_view(request, pk: int):
    """Staff confirm a WhatsApp cart for the customer (an unknown neighbourhood is their call)."""
    order = _order_or_404(pk)
    try:
        order = order_services.order_place(order, user=request.user, allow_unknown_zone=True)
    except ValidationError as exc:
        return _after_order_action(request, pk, errors=_messages_of(exc))
    return _after_order_action(request, pk, success=_("Order #%(number)s placed.") % {"number": order.number})


@capability_required(SELL)
@require_POST
def order_item_view(request, pk: int, item_pk: int):
    """Change or remove a line of an open cart (staff helping a WhatsApp customer)."""
    order = _order_or_404(pk)
    item = order.items.filter(pk=item_pk).first()
    if item is None:
        return _after_order_action(request, pk, errors=[_("That item is not in the cart.")])
    try:
        if request.POST.get("remove"):
            order_services.cart_remove_item(order, item=item, user=request.user)
        else:
            number = parse_decimal(request.POST.get("quantity", ""))
            if number is None:
                return _after_order_action(request, pk, errors=[_("Enter a quantity greater than zero.")])
            order_services.cart_update_item(order, item=item, quantity=number, user=request.user)
    except ValidationError as exc:
        return _after_order_action(request, pk, errors=_messages_of(exc))
    return _after_order_action(request, pk, success=_("Cart updated."))


# --- the counter sale -------------------------------------------------------------------------------

def _product_json(product) -> dict:
    return {"id": product.pk, "name": product.name, "sku": product.sku, "unit": product.unit,
            "unit_label": str(product.get_unit_display()), "price": f"{product.price:.2f}",
            "stock": format(product.stock_quantity.normalize(), "f"),
            "available": product.stock_quantity > 0}


def _sale_lines(form: CounterSaleForm) -> list[dict]:
    """The posted lines with what the page shows about their products (to re-draw them as typed)."""
    ids = [int(line["product"]) for line in form.lines if line["product"].isdigit()]
    products = {p.pk: p for p in Product.objects.filter(pk__in=ids)}
    lines = []
    for line in form.lines:
        product = products.get(int(line["product"])) if line["product"].isdigit() else None
        line["name"] = product.name if product else ""
        lines.append({**(_product_json(product) if product else {"id": line["product"], "name": _("Unknown product"),
                                                                   "price": "0.00", "unit": "unit", "unit_label": "",
                                                                   "sku": "", "stock": "0", "available": False}),
                      "quantity": line["quantity"], "error": line["error"]})
    return lines


@capability_required(SELL)
@require_http_methods(["GET", "POST"])
@never_cache
def counter_sale(request):
    if request.method == "GET":
        return render(request, "store/counter_sale.html", {"form": CounterSaleForm(), "lines": []})
    form = CounterSaleForm(request.POST)
    _sale_lines(form)  # names first: a refusal can then point at its line
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # a refused sale leaves no new customer behind
                contact = None
                if data["customer_phone"] or data["customer_name"]:
                    contact = customer_services.customer_find_or_create(name=data["customer_name"],
                                                                        phone=data["customer_phone"])
                order = order_services.order_create(
                    contact=contact, channel=Channel.COUNTER, items=data["items"],
                    payment_method=data["payment_method"], paid=data["paid"],
                    discount=data["discount"] or Decimal("0"), notes=data["notes"], user=request.user,
                    status=OrderStatus.DELIVERED if data["handed_over"] else OrderStatus.PLACED)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                form.add_service_errors(exc, {"phone": "customer_phone", "name": "customer_name"})
            else:
                product = (getattr(exc, "params", None) or {}).get("product", "")
                for message in _messages_of(exc):
                    if not (product and form.mark_line(str(product), message)):
                        form.add_error(None, message)
                if not form.non_field_errors() and any(line["error"] for line in form.lines):
                    form.add_error(None, _("Some lines need your attention."))
        else:
            messages.success(request, _("Sale #%(number)s registered: R$ %(total)s.") % {
                "number": order.number, "total": number_format(order.total, 2)})
            return redirect(f"{reverse('store:orders')}?{urlencode({'order': order.pk})}")
    return render(request, "store/counter_sale.html", {"form": form, "lines": _sale_lines(form)}, status=400)


@capability_required(SELL)
@require_GET
@never_cache
def product_search(request):
    """Active products for the counter sale's search box (name, SKU or category), an exact SKU first."""
    q = request.GET.get("q", "").strip()[:60]
    products = list(selectors.product_list(q=q, active=True).order_by("name")[:8])
    products.sort(key=lambda p: p.sku.lower() != q.lower())
    return JsonResponse({"results": [_product_json(p) for p in products]})


# --- Produtos --------------------------------------------------------------------------------------

def _product_filters(request) -> dict:
    category = request.GET.get("category", "")
    return {"q": request.GET.get("q", "").strip()[:100],
            "category": int(category) if category.isdigit() else None,
            "low": request.GET.get("low") == "1",
            "state": request.GET.get("state", "active") if request.GET.get("state") in ("active", "inactive", "all")
            else "active"}


def _product_queryset(filters: dict):
    active = {"active": True, "inactive": False}.get(filters["state"])
    category = Category.objects.filter(pk=filters["category"]).first() if filters["category"] else None
    if filters["category"] and category is None:
        return Product.objects.none()
    qs = selectors.product_list(q=filters["q"], category=category, active=active, low_stock=filters["low"])
    return qs.order_by("name", "id") if not filters["low"] else qs.order_by("stock_quantity", "name")


@capability_required(MANAGE)
@require_GET
@never_cache
def products(request):
    filters = _product_filters(request)
    page = Paginator(_product_queryset(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "query": _query(request), "tab": "low" if filters["low"] else "list",
               "categories": selectors.category_list().order_by("position", "name"),
               "low_count": selectors.products_low_stock().count()}
    if _fragment(request, "product-results"):
        return render(request, "store/partials/product_results.html", context)
    return render(request, "store/products.html", context)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def product_create(request):
    if request.method == "GET":
        return render(request, "store/product_form.html", {"form": ProductForm(), "tab": "list"})
    form = ProductForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            product = catalog.product_create(**form.values(), image=form.cleaned_data.get("image"),
                                             initial_stock=form.cleaned_data.get("initial_stock") or Decimal("0"),
                                             user=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Product %(name)s created.") % {"name": product.name})
            return redirect("store:product-detail", pk=product.pk)
    return render(request, "store/product_form.html", {"form": form, "tab": "list"}, status=400)


def _performance_context(request, product) -> dict:
    period = PerformanceForm(request.GET).chosen()
    start, end = selectors.period_range(period)
    figures = selectors.product_performance(start=start, end=end, product_ids=[product.pk]).get(product.pk) or {
        "units": Decimal("0"), "revenue": Decimal("0.00"), "cost": Decimal("0.00"), "margin": Decimal("0.00")}
    days = selectors.product_daily_revenue(product, start=start, end=end)
    width, height = 300, 60
    top = max((value for _day, value in days), default=Decimal("0")) or Decimal("1")
    step = width / max(len(days) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 4 - float(value / top) * (height - 8):.1f}"
                      for i, (_day, value) in enumerate(days))
    margin_pct = (figures["margin"] / figures["revenue"] * 100) if figures["revenue"] else None
    return {"perf": figures, "perf_period": period, "points": points, "spark_width": width, "spark_height": height,
            "margin_pct": margin_pct, "days": days, "perf_form": PerformanceForm(initial={"period": period}),
            "best_day": max(days, key=lambda d: d[1]) if days and any(v for _d, v in days) else None}


def _stock_context(product, form=None) -> dict:
    return {"product": product, "stock_form": form or StockAdjustForm(),
            "movements": list(selectors.product_movements(product, limit=30))}


def _product_page(request, product, *, form=None, stock_form=None, status=200):
    context = {"product": product, "form": form or ProductForm(initial=ProductForm.initial_for(product),
                                                               product=product),
               "tab": "list", "tz": selectors.tenant_tz(),
               **_stock_context(product, stock_form), **_performance_context(request, product)}
    return render(request, "store/product_detail.html", context, status=status)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
@never_cache
def product_detail(request, pk: int):
    product = get_object_or_404(Product.objects.select_related("category"), pk=pk)
    if request.method == "GET":
        if _fragment(request, "performance-card"):
            return render(request, "store/partials/performance_card.html",
                          {"product": product, **_performance_context(request, product)})
        return _product_page(request, product)
    form = ProductForm(request.POST, request.FILES, product=product)
    if form.is_valid():
        values = form.values()
        if form.cleaned_data.get("image"):
            values["image"] = form.cleaned_data["image"]
        elif form.cleaned_data.get("remove_image"):
            values["image"] = ""
        try:
            catalog.product_update(product, **values)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Product %(name)s saved.") % {"name": product.name})
            return redirect("store:product-detail", pk=product.pk)
    product.refresh_from_db()
    return _product_page(request, product, form=form, status=400)


@capability_required(MANAGE)
@require_POST
def product_stock(request, pk: int):
    product = get_object_or_404(Product, pk=pk)
    form = StockAdjustForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            stock_adjust(product, quantity=data["quantity"], kind=data["kind"], reason=data["reason"],
                         user=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if request.htmx:
                product.refresh_from_db()
                context = _stock_context(product)
                context["stock_success"] = _("Stock updated.")
                return render(request, "store/partials/stock_card.html", {**context, "tz": selectors.tenant_tz()})
            messages.success(request, _("Stock updated."))
            return redirect("store:product-detail", pk=product.pk)
    product.refresh_from_db()
    if request.htmx:
        return render(request, "store/partials/stock_card.html",
                      {**_stock_context(product, form), "tz": selectors.tenant_tz()}, status=400)
    return _product_page(request, product, stock_form=form, status=400)


def _categories_page(request, *, form=None, edit_forms=None, status=200):
    edit_forms = edit_forms or {}
    rows = []
    for category in selectors.category_list().order_by("position", "name"):
        rows.append({"category": category, "form": edit_forms.get(category.pk) or CategoryForm(
            initial={"name": category.name, "position": category.position, "is_active": category.is_active},
            prefix=f"c{category.pk}")})
    return render(request, "store/categories.html", {"rows": rows, "form": form or CategoryForm(), "tab": "categories",
                                                     "editing": next(iter(edit_forms), None)}, status=status)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def categories(request):
    if request.method == "GET":
        return _categories_page(request)
    form = CategoryForm(request.POST)
    if form.is_valid():
        try:
            category = catalog.category_create(name=form.cleaned_data["name"],
                                               position=form.cleaned_data.get("position") or 0)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Category %(name)s created.") % {"name": category.name})
            return redirect("store:categories")
    return _categories_page(request, form=form, status=400)


@capability_required(MANAGE)
@require_POST
def category_edit(request, pk: int):
    category = get_object_or_404(Category, pk=pk)
    form = CategoryForm(request.POST, prefix=f"c{category.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            catalog.category_update(category, name=data["name"], position=data.get("position") or 0,
                                    is_active=data.get("is_active", False))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Category %(name)s saved.") % {"name": category.name})
            return redirect("store:categories")
    return _categories_page(request, edit_forms={category.pk: form}, status=400)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
def product_import(request):
    if request.method == "GET":
        return render(request, "store/import.html", {"form": ImportForm(), "tab": "import"})
    form = ImportForm(request.POST, request.FILES)
    report = None
    if form.is_valid():
        try:
            report = import_products(form.cleaned_data["file"].read(), form.file_format, user=request.user)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
    status = 400 if form.errors else 200
    return render(request, "store/import.html", {"form": form if form.errors else ImportForm(), "report": report,
                                                 "tab": "import"}, status=status)


@capability_required(MANAGE)
@require_GET
def product_export(request):
    file_format = request.GET.get("format", "csv")
    if file_format not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("Choose CSV or XLSX."))
    filters = _product_filters(request)
    if "state" not in request.GET:
        filters["state"] = "all"
    content = export_products(_product_queryset(filters), file_format)
    stamp = timezone.now().astimezone(selectors.tenant_tz()).strftime("%Y%m%d-%H%M")
    content_type = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if file_format == "xlsx"
                    else "text/csv; charset=utf-8")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="products-{stamp}.{file_format}"'
    return response


# --- Clientes --------------------------------------------------------------------------------------

@capability_required(SELL)
@require_GET
@never_cache
def customers(request):
    q = request.GET.get("q", "").strip()[:100]
    recurring = {"yes": True, "no": False}.get(request.GET.get("recurring", ""))
    page = Paginator(selectors.customer_list(q=q, recurring=recurring), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "q": q, "recurring": request.GET.get("recurring", ""), "query": _query(request),
               "tz": selectors.tenant_tz()}
    if _fragment(request, "customer-results"):
        return render(request, "store/partials/customer_results.html", context)
    return render(request, "store/customers.html", context)


@capability_required(SELL)
@require_GET
@never_cache
def customer_detail(request, pk: int):
    contact = selectors.customer_detail(pk)
    if contact is None:
        raise Http404(_("Customer not found."))
    conversations = list(selectors.customer_conversations(contact)[:20])
    return render(request, "store/customer_detail.html", {
        "contact": contact, "profile": getattr(contact, "store_profile", None),
        "orders": list(selectors.customer_orders(contact, limit=50)),
        "addresses": list(contact.addresses.all()), "conversations": conversations,
        "can_open_inbox": user_can(request.user, "conversations.reply") or user_can(request.user,
                                                                                   "conversations.view_all"),
        "tz": selectors.tenant_tz()})


# --- store settings and delivery zones --------------------------------------------------------------

def _masked(row) -> dict:
    return {name: mask(getattr(row, name) or "") for name in StoreSettingsForm.SECRETS}


def _settings_page(request, *, form=None, zone_form=None, zone_forms=None, status=200):
    row = selectors.store_settings()
    zone_forms = zone_forms or {}
    zones = [{"zone": zone, "form": zone_forms.get(zone.pk) or ZoneForm(initial=ZoneForm.initial_for(zone),
                                                                       prefix=f"z{zone.pk}")}
             for zone in selectors.zone_list().order_by("-is_active", "neighbourhood")]
    context = {"form": form or StoreSettingsForm(initial=StoreSettingsForm.initial_for(row), masked=_masked(row)),
               "zone_form": zone_form or ZoneForm(), "zones": zones, "masked": _masked(row),
               "zone_add_open": bool(zone_form is not None and zone_form.errors),
               "editing_zone": next(iter(zone_forms), None)}
    return render(request, "store/settings.html", context, status=status)


@capability_required(MANAGE)
@require_http_methods(["GET", "POST"])
@never_cache
def store_settings(request):
    if request.method == "GET":
        return _settings_page(request)
    row = selectors.store_settings()
    form = StoreSettingsForm(request.POST, masked=_masked(row))
    if form.is_valid():
        try:
            store_settings_update(user=request.user, **form.values())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Store settings saved."))
            return redirect("store:settings")
    return _settings_page(request, form=form, status=400)


@capability_required(MANAGE)
@require_POST
def zone_create(request):
    form = ZoneForm(request.POST)
    if form.is_valid():
        try:
            zone = zone_services.zone_create(**form.values())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Delivery zone %(name)s added.") % {"name": zone.neighbourhood})
            return redirect(reverse("store:settings") + "#zones")
    return _settings_page(request, zone_form=form, status=400)


@capability_required(MANAGE)
@require_POST
def zone_update(request, pk: int):
    zone = get_object_or_404(DeliveryZone, pk=pk)
    form = ZoneForm(request.POST, prefix=f"z{zone.pk}")
    if form.is_valid():
        try:
            zone_services.zone_update(zone, **form.values())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Delivery zone %(name)s saved.") % {"name": zone.neighbourhood})
            return redirect(reverse("store:settings") + "#zones")
    return _settings_page(request, zone_forms={zone.pk: form}, status=400)


@capability_required(MANAGE)
@require_POST
def zone_delete(request, pk: int):
    """Zones are deactivated, never deleted: past orders keep pointing at theirs."""
    zone = get_object_or_404(DeliveryZone, pk=pk)
    zone_services.zone_deactivate(zone)
    messages.success(request, _("Delivery zone %(name)s deactivated.") % {"name": zone.neighbourhood})
    return redirect(reverse("store:settings") + "#zones")

