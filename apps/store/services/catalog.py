"""The catalogue: categories and products. Refusals are ``ValidationError({field: [message]})`` so
forms, the API and the importer show them next to the field. Stock is never edited here: an initial
stock is a ``purchase`` through the ledger (services/stock.py)."""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.store.models import Category, Product, Unit

from .stock import stock_adjust, to_decimal

MONEY = Decimal("0.01")
QTY = Decimal("0.001")
MAX_PRICE = Decimal("100000000")  # max_digits=10, 2 places


# --- categories ---------------------------------------------------------------------------------


def _category_name(name, *, instance=None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": [_("Enter a name.")]})
    if len(name) > 80:
        raise ValidationError({"name": [_("Use at most 80 characters.")]})
    clash = Category.objects.filter(name__iexact=name)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise ValidationError({"name": [_("There is already a category with this name.")]})
    return name


def category_create(*, name: str, position: int = 0) -> Category:
    name = _category_name(name)
    try:
        with transaction.atomic():
            return Category.objects.create(name=name, position=max(0, int(position or 0)))
    except IntegrityError:
        raise ValidationError({"name": [_("There is already a category with this name.")]})


def category_update(category: Category, *, name: str | None = None, position: int | None = None,
                    is_active: bool | None = None) -> Category:
    fields = []
    if name is not None:
        category.name = _category_name(name, instance=category)
        fields.append("name")
    if position is not None:
        category.position = max(0, int(position))
        fields.append("position")
    if is_active is not None:
        category.is_active = bool(is_active)
        fields.append("is_active")
    if fields:
        try:
            with transaction.atomic():
                category.save(update_fields=fields)
        except IntegrityError:
            raise ValidationError({"name": [_("There is already a category with this name.")]})
    return category


def category_deactivate(category: Category) -> Category:
    """Hidden from the catalogue; its products keep their category (and their history)."""
    return category_update(category, is_active=False)


# --- products -----------------------------------------------------------------------------------

_PRODUCT_FIELDS = {"sku", "name", "description", "category", "unit", "price", "cost", "is_active", "image",
                   "min_stock"}


def _money(value, field: str, errors: dict) -> Decimal | None:
    amount = to_decimal(value)
    if amount is None:
        errors[field] = [_("Enter a number.")]
    elif amount < 0:
        errors[field] = [_("Must be zero or more.")]
    elif amount != amount.quantize(MONEY):
        errors[field] = [_("Use at most 2 decimal places.")]
    elif amount >= MAX_PRICE:
        errors[field] = [_("This amount is too large.")]
    else:
        return amount.quantize(MONEY)
    return None


def _clean_product(values: dict, *, instance: Product | None = None) -> dict:
    unknown = set(values) - _PRODUCT_FIELDS
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    if "sku" in values or instance is None:
        sku = (values.get("sku") or "").strip()
        if not sku:
            errors["sku"] = [_("Enter a SKU.")]
        elif len(sku) > 40:
            errors["sku"] = [_("Use at most 40 characters.")]
        else:
            clash = Product.objects.filter(sku__iexact=sku)
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                errors["sku"] = [_("Another product already uses this SKU.")]
        cleaned["sku"] = sku
    if "name" in values or instance is None:
        name = " ".join((values.get("name") or "").split())
        if not name:
            errors["name"] = [_("Enter a name.")]
        elif len(name) > 160:
            errors["name"] = [_("Use at most 160 characters.")]
        cleaned["name"] = name
    if "description" in values:
        cleaned["description"] = (values["description"] or "").strip()
    if "unit" in values:
        if values["unit"] not in Unit.values:
            errors["unit"] = [_("Choose unit, kg or g.")]
    if "price" in values or instance is None:
        cleaned["price"] = _money(values.get("price"), "price", errors)
    if "cost" in values:
        cleaned["cost"] = _money(values["cost"], "cost", errors)
    if "min_stock" in values:
        minimum = to_decimal(values["min_stock"])
        if minimum is None or minimum < 0 or minimum != minimum.quantize(QTY) or minimum >= Decimal("1000000000"):
            errors["min_stock"] = [_("Enter a quantity of zero or more (at most 3 decimal places).")]
        else:
            cleaned["min_stock"] = minimum.quantize(QTY)
    if "category" in values and values["category"] is not None and not isinstance(values["category"], Category):
        category = Category.objects.filter(pk=values["category"]).first() if str(values["category"]).isdigit() else None
        if category is None:
            errors["category"] = [_("Choose an existing category.")]
        cleaned["category"] = category
    if "is_active" in values:
        cleaned["is_active"] = bool(values["is_active"])
    if errors:
        raise ValidationError(errors)
    return cleaned


def product_create(*, sku: str, name: str, price, cost=Decimal("0"), unit: str = Unit.UNIT, category=None,
                   description: str = "", min_stock=Decimal("0"), is_active: bool = True, image=None,
                   initial_stock=Decimal("0"), user=None) -> Product:
    """A new product; ``initial_stock`` (> 0) enters through the ledger as a purchase."""
    values = {"sku": sku, "name": name, "price": price, "cost": cost, "unit": unit, "category": category,
              "description": description, "min_stock": min_stock, "is_active": is_active}
    cleaned = _clean_product(values)
    initial = to_decimal(initial_stock)
    if initial is None or initial < 0:
        raise ValidationError({"initial_stock": [_("Enter a quantity of zero or more.")]})
    try:
        with transaction.atomic():
            product = Product.objects.create(**cleaned, image=image or "")
            if initial > 0:
                try:
                    stock_adjust(product, quantity=initial, kind="purchase", reason=_("Initial stock"), user=user)
                except ValidationError as exc:
                    raise ValidationError({"initial_stock": exc.messages}) from exc
    except IntegrityError:
        raise ValidationError({"sku": [_("Another product already uses this SKU.")]})
    return product


def product_update(product: Product, **fields) -> Product:
    """Change catalogue fields (never ``stock_quantity``: use stock_adjust)."""
    cleaned = _clean_product(fields, instance=product)
    unit = cleaned.get("unit", product.unit)
    fractional = product.stock_quantity != product.stock_quantity.to_integral_value()
    if unit == Unit.UNIT and product.unit != Unit.UNIT and fractional:
        raise ValidationError({"unit": [_("The stock is fractional: adjust it to a whole number first.")]})
    for key, value in cleaned.items():
        setattr(product, key, value)
    product.updated_at = timezone.now()
    try:
        with transaction.atomic():
            product.save(update_fields=[*cleaned, "updated_at"])
    except IntegrityError:
        raise ValidationError({"sku": [_("Another product already uses this SKU.")]})
    return product


def product_deactivate(product: Product) -> Product:
    """No longer sold (carts refuse it); kept for the history of past orders."""
    return product_update(product, is_active=False)
