"""Forms of the store pages. They parse and check the shape of the input (numbers, choices, sizes);
the rules of the business (SKU unique, stock, limits, zones, status moves) live in the services,
whose errors the views put back onto these forms next to the field they concern."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.forms import StyledMixin

from .models import Category, Channel, MovementKind, OrderStatus, PaymentMethod, PaymentStatus, Unit
from .selectors import OrderFilters

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_SALE_LINES = 100


def parse_decimal(value) -> Decimal | None:
    """A number as people type it here: "12,50", "1.234,56", "12.50", "1,234.56", "R$ 9,90"."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    text = re.sub(r"[\sR$\u00a0]", "", str(value))
    if not text:
        return None
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class LocalDecimalField(forms.DecimalField):
    """A decimal field that takes a comma or a point as the decimal separator, whatever the
    language (a "12,50" typed on an English screen must not become 1250)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        kwargs.setdefault("localize", True)  # shown as the reader writes it ("34,90" in pt-BR)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = parse_decimal(value)
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.pop("step", None)  # a text input: no spinner, commas allowed
        return attrs


def _choices(enum, blank_label) -> list[tuple[str, str]]:
    return [("", blank_label), *enum.choices]


PERIOD_CHOICES = [
    ("", _("Any time")),
    ("today", _("Today")),
    ("yesterday", _("Yesterday")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
    ("custom", _("Custom range")),
]

PERFORMANCE_PERIODS = [
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
]


class OrderFilterForm(StyledMixin, forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")),
                                        *[c for c in OrderStatus.choices if c[0] != OrderStatus.CART],
                                        (OrderStatus.CART, _("Open carts (WhatsApp)"))])
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=_choices(Channel, _("Any channel")))
    payment_method = forms.ChoiceField(label=_("Payment"), required=False,
                                       choices=_choices(PaymentMethod, _("Any payment")))
    payment_status = forms.ChoiceField(label=_("Paid?"), required=False,
                                       choices=_choices(PaymentStatus, _("Paid or not")))
    q = forms.CharField(label=_("Customer or number"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, phone or #number"),
                                                      "autocomplete": "off"}))

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            if not data.get("start") or not data.get("end"):
                self.add_error("start", _("Choose both dates of the custom range."))
            elif data["start"] > data["end"]:
                self.add_error("end", _("The end date must be on or after the start date."))
        return data

    def filters(self) -> OrderFilters:
        """The filters that were understood (a wrong one is left out, never guessed)."""
        data = self.cleaned_data if self.is_bound else {}
        period = data.get("period") or ""
        if period == "custom" and (self.has_error("start") or self.has_error("end")):
            period = ""
        return OrderFilters(
            period=period,
            start=data.get("start") if period == "custom" else None,
            end=data.get("end") if period == "custom" else None,
            status=data.get("status") or "",
            channel=data.get("channel") or "",
            payment_method=data.get("payment_method") or "",
            payment_status=data.get("payment_status") or "",
            q=(data.get("q") or "").strip(),
        )


class CounterSaleForm(StyledMixin, forms.Form):
    """A counter sale. The lines come as repeated ``product`` (id) and ``quantity`` fields; prices and
    totals are never taken from the client (the service recomputes them)."""

    payment_method = forms.ChoiceField(label=_("Payment"), choices=PaymentMethod.choices,
                                       widget=forms.RadioSelect, initial=PaymentMethod.PIX)
    paid = forms.BooleanField(label=_("Paid now"), required=False, initial=True)
    handed_over = forms.BooleanField(label=_("Handed over now"), required=False, initial=True,
                                     help_text=_("Off: the order waits in the list to be prepared."))
    customer_phone = forms.CharField(label=_("Customer phone"), required=False, max_length=30,
                                     widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off",
                                                                   "placeholder": _("Optional")}))
    customer_name = forms.CharField(label=_("Customer name"), required=False, max_length=120,
                                    widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                  "placeholder": _("Optional")}))
    discount = LocalDecimalField(label=_("Discount (R$)"), required=False, min_value=0, max_digits=12,
                                 decimal_places=2,
                                 widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                                               "x-model": "discount", "placeholder": "0,00"}))
    notes = forms.CharField(label=_("Notes"), required=False, max_length=500,
                            widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: list[dict] = []  # [{"product": id|raw, "quantity": raw, "error": ""}] as posted
        if self.is_bound:
            products = self.data.getlist("product") if hasattr(self.data, "getlist") else []
            quantities = self.data.getlist("quantity") if hasattr(self.data, "getlist") else []
            for index, raw in enumerate(products[:MAX_SALE_LINES + 1]):
                quantity = quantities[index] if index < len(quantities) else ""
                self.lines.append({"product": str(raw).strip(), "quantity": str(quantity).strip(), "error": ""})

    def clean(self):
        data = super().clean()
        if not self.lines:
            raise ValidationError(_("Add at least one product."), code="empty")
        if len(self.lines) > MAX_SALE_LINES:
            raise ValidationError(_("At most %(n)s lines per sale.") % {"n": MAX_SALE_LINES}, code="too_many")
        items, bad = [], False
        for line in self.lines:
            if not line["product"].isdigit():
                line["error"] = str(_("Choose a product from the search."))
                bad = True
                continue
            quantity = parse_decimal(line["quantity"])
            if quantity is None or quantity <= 0:
                line["error"] = str(_("Enter a quantity greater than zero."))
                bad = True
                continue
            items.append((int(line["product"]), quantity))
        if bad:
            raise ValidationError(_("Some lines need your attention."), code="lines")
        data["items"] = items
        return data

    def mark_line(self, product_name: str, message: str) -> bool:
        """Show a service's refusal next to the line of the product it names."""
        for line in self.lines:
            if line.get("name") and line["name"] == product_name:
                line["error"] = message
                return True
        return False


class CancelForm(StyledMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200,
                             widget=forms.TextInput(attrs={"placeholder": _("e.g. customer gave up"),
                                                           "autocomplete": "off"}),
                             error_messages={"required": _("Say why the order is canceled.")})


def _image_check(image):
    if image and getattr(image, "size", 0) > MAX_IMAGE_BYTES:
        raise ValidationError(_("The image is larger than 5 MB."))
    return image


class ProductForm(StyledMixin, forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=40,
                          widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    name = forms.CharField(label=_("Name"), max_length=160)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.none(), required=False,
                                      empty_label=_("No category"))
    unit = forms.ChoiceField(label=_("Sold by"), choices=Unit.choices, initial=Unit.UNIT)
    price = LocalDecimalField(label=_("Price (R$)"), max_digits=12, decimal_places=2)
    cost = LocalDecimalField(label=_("Cost (R$)"), max_digits=12, decimal_places=2, required=False,
                             help_text=_("What you pay for it: the margin is computed from it."))
    min_stock = LocalDecimalField(label=_("Minimum stock"), max_digits=12, decimal_places=3, required=False,
                                  help_text=_("At or below this, the product shows as low stock."))
    initial_stock = LocalDecimalField(label=_("Initial stock"), max_digits=12, decimal_places=3, required=False,
                                      help_text=_("Recorded in the stock ledger as a purchase."))
    is_active = forms.BooleanField(label=_("Active (for sale)"), required=False, initial=True)
    image = forms.ImageField(label=_("Image"), required=False)
    remove_image = forms.BooleanField(label=_("Remove the image"), required=False)

    def __init__(self, *args, product=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.product = product
        categories = Category.objects.filter(is_active=True)
        if product is not None and product.category_id:
            categories = Category.objects.filter(pk=product.category_id) | categories
        self.fields["category"].queryset = categories.order_by("position", "name").distinct()
        self.fields["image"].widget.attrs["accept"] = "image/png,image/jpeg,image/webp,image/gif"
        if product is None:
            del self.fields["remove_image"]
        else:
            del self.fields["initial_stock"]
            if not product.image:
                del self.fields["remove_image"]

    @classmethod
    def initial_for(cls, product) -> dict:
        return {"sku": product.sku, "name": product.name, "description": product.description,
                "category": product.category_id, "unit": product.unit, "price": product.price,
                "cost": product.cost, "min_stock": product.min_stock.normalize() if product.min_stock else 0,
                "is_active": product.is_active}

    def clean_image(self):
        return _image_check(self.cleaned_data.get("image"))

    def values(self) -> dict:
        data = self.cleaned_data
        values = {key: data[key] for key in ("sku", "name", "description", "category", "unit", "price",
                                             "is_active")}
        values["cost"] = data.get("cost") if data.get("cost") is not None else Decimal("0")
        values["min_stock"] = data.get("min_stock") if data.get("min_stock") is not None else Decimal("0")
        return values


class CategoryForm(StyledMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=32767, required=False, initial=0,
                                  help_text=_("Lower numbers come first."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


STOCK_KINDS = [
    (MovementKind.PURCHASE, _("Purchase (stock in)")),
    (MovementKind.ADJUSTMENT, _("Adjustment (count correction, loss, breakage)")),
    (MovementKind.RETURN, _("Return (back to stock)")),
]


class StockAdjustForm(StyledMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=STOCK_KINDS, initial=MovementKind.ADJUSTMENT)
    quantity = LocalDecimalField(label=_("Quantity"), max_digits=12, decimal_places=3,
                                 help_text=_("Positive adds to the stock; for an adjustment, negative removes."))
    reason = forms.CharField(label=_("Reason"), max_length=200,
                             error_messages={"required": _("Say why the stock changes.")})

    def clean(self):
        data = super().clean()
        quantity, kind = data.get("quantity"), data.get("kind")
        if quantity is not None:
            if quantity == 0:
                self.add_error("quantity", _("Enter a quantity other than zero."))
            elif quantity < 0 and kind != MovementKind.ADJUSTMENT:
                self.add_error("quantity", _("Purchases and returns add stock: enter a positive quantity."))
        return data


class ImportForm(StyledMixin, forms.Form):
    file = forms.FileField(label=_("File (CSV or XLSX)"),
                           help_text=_("One product per line; the first line holds the column names."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = (
            ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not (name.endswith(".csv") or name.endswith(".xlsx")):
            raise ValidationError(_("Send a .csv or .xlsx file."))
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 5 MB."))
        return upload

    @property
    def file_format(self) -> str:
        return "xlsx" if self.cleaned_data["file"].name.lower().endswith(".xlsx") else "csv"


class StoreSettingsForm(StyledMixin, forms.Form):
    """Mercado Pago secrets are write-only: never rendered back; blank keeps the stored one."""

    allow_negative_stock = forms.BooleanField(label=_("Sell without stock"), required=False,
                                              help_text=_("Orders may take the stock below zero."))
    max_quantity_per_item = LocalDecimalField(label=_("Most units of one item per WhatsApp order"),
                                              max_digits=8, decimal_places=3)
    cart_reminder_minutes = forms.IntegerField(label=_("Remind an abandoned cart after (minutes)"), min_value=1)
    cart_cancel_minutes = forms.IntegerField(label=_("Cancel an abandoned cart after (minutes)"), min_value=1)
    rating_delay_minutes = forms.IntegerField(label=_("Ask for a rating after delivery (minutes)"), min_value=1)
    ordering_reset_minutes = forms.IntegerField(label=_("Forget an idle WhatsApp order after (minutes)"),
                                                min_value=1)
    pix_expiration_minutes = forms.IntegerField(label=_("Pix code valid for (minutes)"), min_value=1)
    mercadopago_access_token = forms.CharField(
        label=_("Mercado Pago access token"), required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}))
    mercadopago_webhook_secret = forms.CharField(
        label=_("Mercado Pago webhook secret"), required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}))
    remove_mercadopago = forms.BooleanField(label=_("Remove the Mercado Pago credentials"), required=False)

    SECRETS = ("mercadopago_access_token", "mercadopago_webhook_secret")
    FIELDS = ("allow_negative_stock", "max_quantity_per_item", "cart_reminder_minutes", "cart_cancel_minutes",
              "rating_delay_minutes", "ordering_reset_minutes", "pix_expiration_minutes")

    def __init__(self, *args, masked: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        masked = masked or {}
        for name in self.SECRETS:
            if masked.get(name):
                self.fields[name].help_text = _("Stored: %(masked)s. Leave blank to keep it.") % {
                    "masked": masked[name]}
                self.fields[name].widget.attrs["placeholder"] = _("Leave blank to keep the stored value")
        if not any(masked.get(name) for name in self.SECRETS):
            del self.fields["remove_mercadopago"]

    @classmethod
    def initial_for(cls, row) -> dict:
        return {name: getattr(row, name) for name in cls.FIELDS}

    def values(self) -> dict:
        data = self.cleaned_data
        values = {name: data[name] for name in self.FIELDS}
        if data.get("remove_mercadopago"):
            values.update({name: "" for name in self.SECRETS})
        else:
            # blank keeps the stored secret (None = untouched for the service)
            values.update({name: data[name] or None for name in self.SECRETS})
        return values


class ZoneForm(StyledMixin, forms.Form):
    neighbourhood = forms.CharField(label=_("Neighbourhood"), max_length=100)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    fee = LocalDecimalField(label=_("Delivery fee (R$)"), max_digits=8, decimal_places=2, initial=Decimal("0"))
    min_order = LocalDecimalField(label=_("Minimum order (R$)"), max_digits=8, decimal_places=2, required=False,
                                  initial=Decimal("0"))
    estimated_minutes = forms.IntegerField(label=_("Estimated time (minutes)"), min_value=0, max_value=1440,
                                           initial=45)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    @classmethod
    def initial_for(cls, zone) -> dict:
        return {"neighbourhood": zone.neighbourhood, "city": zone.city, "fee": zone.fee, "min_order": zone.min_order,
                "estimated_minutes": zone.estimated_minutes, "is_active": zone.is_active}

    def values(self) -> dict:
        data = self.cleaned_data
        return {"neighbourhood": data["neighbourhood"], "city": data.get("city") or "", "fee": data["fee"],
                "min_order": data.get("min_order") or Decimal("0"), "estimated_minutes": data["estimated_minutes"],
                "is_active": data.get("is_active", False)}


class PerformanceForm(forms.Form):
    period = forms.ChoiceField(choices=PERFORMANCE_PERIODS, required=False)

    def chosen(self) -> str:
        """The period asked for; "30d" when missing or not understood."""
        if self.is_valid() and self.cleaned_data.get("period"):
            return self.cleaned_data["period"]
        return "30d"

