"""Products in and out of spreadsheets (django-import-export).

``ProductResource`` is both the export format and the importer. Importing goes through the
catalogue and stock services (the only writers), one line at a time, each line in its own
savepoint: a bad line is reported with its line number and its messages and changes nothing, the
good lines are imported.

Columns (the first line holds their names; Portuguese names are accepted too):
sku, name, description, category, unit (unit / kg / g), price, cost, min_stock, stock, active.
A line whose SKU exists updates that product; otherwise it creates one. An empty cell keeps the
current value (a new product gets the default). ``stock`` is the counted quantity: a new product
enters it as a purchase, an existing one gets an adjustment for the difference, both in the ledger.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

import tablib
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from import_export import resources, widgets
from import_export.fields import Field
from import_export.instance_loaders import BaseInstanceLoader

from .forms import parse_decimal
from .models import Category, MovementKind, Product, Unit
from .services import catalog
from .services.stock import stock_adjust

MAX_ROWS = 5000
COLUMNS = ["sku", "name", "description", "category", "unit", "price", "cost", "min_stock", "stock", "active"]

# header (lower case, no accents, spaces as "_") -> column
ALIASES = {
    "codigo": "sku", "cod": "sku", "code": "sku", "referencia": "sku",
    "nome": "name", "produto": "name", "product": "name",
    "descricao": "description",
    "categoria": "category",
    "unidade": "unit", "un": "unit",
    "preco": "price", "preco_de_venda": "price", "valor": "price",
    "custo": "cost", "preco_de_custo": "cost",
    "estoque_minimo": "min_stock", "minimo": "min_stock", "minimum_stock": "min_stock",
    "estoque": "stock", "quantidade": "stock", "stock_quantity": "stock",
    "ativo": "active", "is_active": "active",
}

UNIT_WORDS = {"unit": Unit.UNIT, "un": Unit.UNIT, "und": Unit.UNIT, "unid": Unit.UNIT, "unidade": Unit.UNIT,
              "u": Unit.UNIT, "pc": Unit.UNIT, "pct": Unit.UNIT, "kg": Unit.KG, "quilo": Unit.KG, "kilo": Unit.KG,
              "g": Unit.G, "grama": Unit.G, "gramas": Unit.G, "gr": Unit.G}
YES = {"yes", "y", "sim", "s", "true", "1", "x", "ativo", "active"}
NO = {"no", "n", "nao", "false", "0", "inativo", "inactive"}


def _plain(text) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip().lower()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- widgets: a cell -> a value, None for an empty cell, ValueError with a message for a bad one -----

class TextWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a spreadsheet's number cell holding a code such as 1001
        return " ".join(str(value).split()) if "\n" not in str(value) else str(value).strip()

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class DecimalCellWidget(widgets.Widget):
    def __init__(self, places: int):
        super().__init__()
        self.places = places

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        number = parse_decimal(repr(value) if isinstance(value, float) else value)
        if number is None:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": value})
        return number

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        text = format(Decimal(value).quantize(Decimal(1).scaleb(-self.places)), "f")
        if self.places == 3 and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text


class UnitWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        unit = UNIT_WORDS.get(_plain(value).rstrip("."))
        if unit is None:
            raise ValueError(_("Unit “%(value)s” is not one of unit, kg, g.") % {"value": value})
        return unit

    def render(self, value, obj=None, **kwargs):
        return value or ""


class ActiveWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        if isinstance(value, bool):
            return value
        word = _plain(value)
        if isinstance(value, (int, float)):
            word = str(int(value))
        if word in YES:
            return True
        if word in NO:
            return False
        raise ValueError(_("Write yes or no (not “%(value)s”).") % {"value": value})

    def render(self, value, obj=None, **kwargs):
        return "yes" if value else "no"


class CategoryWidget(widgets.Widget):
    """By name, ignoring case; a name not seen yet becomes a new category when the line is saved."""

    def clean(self, value, row=None, **kwargs):
        if _blank(value):
            return None
        name = " ".join(str(value).split())
        return Category.objects.filter(name__iexact=name).first() or name

    def render(self, value, obj=None, **kwargs):
        return value.name if value else ""


class SkuLoader(BaseInstanceLoader):
    """The product with this SKU (ignoring case and spaces around it)."""

    def get_instance(self, row):
        sku = TextWidget().clean(row.get("sku"))
        return Product.objects.filter(sku__iexact=sku).first() if sku else None


# --- the resource -----------------------------------------------------------------------------------

class ProductResource(resources.ModelResource):
    sku = Field(attribute="sku", column_name="sku", widget=TextWidget())
    name = Field(attribute="name", column_name="name", widget=TextWidget())
    description = Field(attribute="description", column_name="description", widget=TextWidget())
    category = Field(attribute="category", column_name="category", widget=CategoryWidget())
    unit = Field(attribute="unit", column_name="unit", widget=UnitWidget())
    price = Field(attribute="price", column_name="price", widget=DecimalCellWidget(2))
    cost = Field(attribute="cost", column_name="cost", widget=DecimalCellWidget(2))
    min_stock = Field(attribute="min_stock", column_name="min_stock", widget=DecimalCellWidget(3))
    stock = Field(attribute="stock_quantity", column_name="stock", widget=DecimalCellWidget(3))
    active = Field(attribute="is_active", column_name="active", widget=ActiveWidget())

    # error keys of the services and widgets -> the column the user sees
    ERROR_COLUMNS = {"stock_quantity": "stock", "initial_stock": "stock", "is_active": "active"}

    class Meta:
        model = Product
        fields = ("sku", "name", "description", "category", "unit", "price", "cost", "min_stock", "stock",
                  "active")
        export_order = fields
        import_id_fields = ("sku",)
        instance_loader_class = SkuLoader
        skip_diff = True
        clean_model_instances = False
        use_transactions = True

    def __init__(self, *, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user

    def get_queryset(self):
        return Product.objects.select_related("category").order_by("name", "id")

    # what the line says: collected, not set on the model (the services write)
    def after_init_instance(self, instance, new, row, **kwargs):
        instance._import_values = {}

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.column_name not in row:
            return
        value = field.clean(row, **kwargs)  # ValueError -> this line's error for this column
        if value is not None:
            instance._import_values[field.attribute] = value

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return all(_blank(value) for value in row.values())

    def save_instance(self, instance, is_create, row, **kwargs):
        values = dict(instance._import_values)
        target = values.pop("stock_quantity", None)
        line = kwargs.get("row_number", 0) + 1
        # one line = one transaction: a refusal half-way (e.g. the stock) undoes the whole line
        with transaction.atomic():
            category = values.get("category")
            if isinstance(category, str):
                values["category"] = (Category.objects.filter(name__iexact=category).first()
                                      or catalog.category_create(name=category))
            if is_create:
                for required in ("sku", "name", "price"):  # missing -> the service says what is needed
                    values.setdefault(required, None if required == "price" else "")
                if target is not None and target < 0:
                    raise ValidationError({"initial_stock": [_("The stock of a new product cannot be negative.")]})
                product = catalog.product_create(**values, initial_stock=target or Decimal("0"), user=self.user)
            else:
                values.pop("sku", None)  # the key that found the product: its stored spelling stays
                product = catalog.product_update(Product.objects.get(pk=instance.pk), **values)
                if target is not None and target != product.stock_quantity:
                    stock_adjust(product, quantity=target - product.stock_quantity, kind=MovementKind.ADJUSTMENT,
                                 reason=_("Import, line %(line)s") % {"line": line}, user=self.user)
        instance.pk, instance.name = product.pk, product.name

    def column_of(self, key: str) -> str:
        if key in self.ERROR_COLUMNS:
            return self.ERROR_COLUMNS[key]
        return self.fields[key].column_name if key in self.fields else key


# --- reading a file and reporting ---------------------------------------------------------------------

class ImportFileError(Exception):
    """The file as a whole cannot be read (format, missing columns, too many lines)."""


@dataclass
class LineError:
    line: int
    messages: list[str]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("The file is not a text (CSV) file."))


def load_dataset(data: bytes, file_format: str) -> tablib.Dataset:
    """The file as a dataset with the known column names (aliases and accents resolved)."""
    try:
        if file_format == "xlsx":
            dataset = tablib.Dataset().load(io.BytesIO(data), format="xlsx")
        else:
            text = _decode(data)
            first = text.splitlines()[0] if text.strip() else ""
            delimiter = ";" if first.count(";") > first.count(",") else ","
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
            dataset = tablib.Dataset()
            if rows:
                width = len(rows[0])
                dataset.headers = rows[0]
                for row in rows[1:]:
                    dataset.append((row + [""] * width)[:width])
    except ImportFileError:
        raise
    except Exception as exc:  # a damaged or foreign file: tell the user, never a 500
        raise ImportFileError(_("The file could not be read: is it a valid CSV or XLSX file?")) from exc
    headers = []
    for header in dataset.headers or []:
        key = _plain(header).replace(" ", "_").replace("-", "_")
        headers.append(ALIASES.get(key, key))
    if "sku" not in headers:
        raise ImportFileError(_("The first line must name the columns, including “sku”. Columns: %(columns)s.")
                              % {"columns": ", ".join(COLUMNS)})
    if len(dataset) > MAX_ROWS:
        raise ImportFileError(_("At most %(n)s lines per file.") % {"n": MAX_ROWS})
    dataset.headers = headers
    return dataset


def _messages(resource: ProductResource, error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        out = []
        for key, messages in error.message_dict.items():
            for message in messages:
                out.append(f"{resource.column_of(key)}: {message}" if key != "__all__" else message)
        return out
    return [str(m) for m in error.messages]


def import_products(data: bytes, file_format: str, *, user=None) -> ImportReport:
    """Import a CSV/XLSX of products; raises ImportFileError when the file itself is unusable."""
    dataset = load_dataset(data, file_format)
    resource = ProductResource(user=user)
    result = resource.import_data(dataset, dry_run=False, raise_errors=False, use_transactions=True,
                                  rollback_on_validation_errors=False)
    if result.has_errors():
        # an unexpected failure: import-export rolled everything back; say where it happened
        lines = ", ".join(str(number + 1) for number, _errors in result.row_errors()) or "-"
        raise ImportFileError(_("Nothing was imported: the import failed at line %(lines)s. "
                                "Check the file and try again.") % {"lines": lines})
    totals = result.totals
    report = ImportReport(created=totals.get("new", 0), updated=totals.get("update", 0),
                          skipped=totals.get("skip", 0))
    for invalid in result.invalid_rows:
        report.errors.append(LineError(line=invalid.number + 1, messages=_messages(resource, invalid.error)))
    report.errors.sort(key=lambda e: e.line)
    return report


def export_products(queryset, file_format: str) -> bytes:
    dataset = ProductResource().export(queryset)
    if file_format == "xlsx":
        return dataset.export("xlsx")
    # a byte-order mark so that Excel opens the accents right; the importer skips it
    return ("\ufeff" + dataset.export("csv")).encode("utf-8")
