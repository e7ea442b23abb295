"""Product import and export (django-import-export) through the page: every bad line is reported with
its line number and message and changes nothing, the good lines are imported through the catalogue
and stock services (ledger lines for the stock), an existing SKU is updated rather than duplicated,
Portuguese headers, ";" separators and XLSX work, an unreadable file is a form error, and the
export (CSV and XLSX) holds the tenant's products and nothing else."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from conftest import as_shown

from .conftest import D, make_category, make_product
from .test_views import html

IMPORT = "/store/products/import/"
EXPORT = "/store/products/export/"


def upload(text: str, name="produtos.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def xlsx(rows: list[list]) -> SimpleUploadedFile:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("produtos.xlsx", buffer.getvalue(),
                              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def error_lines(response) -> dict[int, str]:
    """{line: "messages"} from the report table."""
    body = html(response)
    found = {}
    for chunk in body.split('<tr data-line="')[1:]:
        line, rest = chunk.split('"', 1)
        found[int(line)] = rest.split("</tr>")[0]
    return found


def test_bad_lines_are_reported_and_the_good_ones_imported(alpha, owner_client, owner):
    from apps.store.models import Category, Product

    make_product("Presunto velho", sku="PRES-1", price="30.00", stock="10", unit="kg")
    text = "\n".join([
        "sku;nome;categoria;unidade;preço;custo;estoque_minimo;estoque;ativo",
        "QM-1;Queijo minas;Queijos;kg;34,90;21,50;2;8,5;sim",          # line 2: good, new category
        "QM-2;;Queijos;kg;10,00;5;0;1;sim",                            # line 3: no name
        "QM-3;Queijo prato;Queijos;litro;29,90;18;0;3;sim",            # line 4: unknown unit
        "QM-4;Queijo coalho;Queijos;kg;abc;10;0;3;sim",                # line 5: price not a number
        ";;;;;;;;",                                                    # line 6: blank, skipped
        "PRES-1;Presunto cozido;Frios;kg;42,90;25;1;6;sim",            # line 7: update + stock 10 -> 6
        "QM-5;Requeijão;Laticínios;unit;9,50;5;0;-2;sim",              # line 8: negative initial stock
        "QM-6;Iogurte;Laticínios;unit;4,00;2;0;2,5;talvez",            # line 9: bad active + fractional
        "qm-1;Queijo minas dup;Queijos;kg;1,00;0,50;0;;sim",           # line 10: same SKU again -> update
    ])

    response = owner_client.post(IMPORT, {"file": upload(text)})

    assert response.status_code == 200
    errors = error_lines(response)
    assert sorted(errors) == [3, 4, 5, 8, 9]
    assert as_shown(response, "Enter a name.") in errors[3]
    assert "litro" in errors[4]
    assert "abc" in errors[5]
    assert as_shown(response, "The stock of a new product cannot be negative.") in errors[8]
    assert "talvez" in errors[9]
    assert 'data-testid="created-count">1<' in html(response)
    assert 'data-testid="updated-count">2<' in html(response)

    cheese = Product.objects.get(sku="QM-1")
    assert cheese.name == "Queijo minas dup" and cheese.price == D("1.00")  # line 10 updated line 2's product
    assert cheese.stock_quantity == D("8.5") and cheese.category == Category.objects.get(name="Queijos")
    first = cheese.movements.get()
    assert (first.kind, first.quantity, first.user_id) == ("purchase", D("8.5"), owner.pk)
    ham = Product.objects.get(sku="PRES-1")
    assert ham.name == "Presunto cozido" and ham.price == D("42.90") and ham.stock_quantity == D("6")
    adjustment = ham.movements.first()
    assert adjustment.kind == "adjustment" and adjustment.quantity == D("-4") and "7" in adjustment.reason
    assert not Product.objects.filter(sku__in=["QM-2", "QM-3", "QM-4", "QM-5", "QM-6"]).exists()
    # a bad line leaves nothing behind, not even the category it named
    assert not Category.objects.filter(name="Laticínios").exists()


def test_xlsx_import(alpha, owner_client):
    from apps.store.models import Product

    make_category("Bebidas")
    rows = [["SKU", "Name", "Category", "Unit", "Price", "Cost", "Stock", "Active"],
            [1001, "Refrigerante 2L", "bebidas", "un", 9.9, 6.1, 24, "yes"],
            ["1002", "Suco", "Bebidas", "unit", "nope", 2, 3, "yes"]]

    response = owner_client.post(IMPORT, {"file": xlsx(rows)})

    assert response.status_code == 200
    assert sorted(error_lines(response)) == [3]
    soda = Product.objects.get(sku="1001")
    assert soda.price == D("9.90") and soda.cost == D("6.10") and soda.stock_quantity == D("24")
    assert soda.category.name == "Bebidas"


@pytest.mark.parametrize("name,content", [
    ("produtos.csv", "nome;preço\nQueijo;10\n"),  # no sku column
    ("produtos.xlsx", "this is not a spreadsheet"),
    ("produtos.pdf", "%PDF-1.4"),
])
def test_an_unusable_file_is_a_form_error(alpha, owner_client, name, content):
    from apps.store.models import Product

    response = owner_client.post(IMPORT, {"file": SimpleUploadedFile(name, content.encode())})

    assert response.status_code == 400
    assert 'aria-invalid="true"' in html(response)
    assert not Product.objects.exists()


def test_export_holds_the_products_and_imports_back_unchanged(alpha, owner_client):
    from apps.store.models import Product

    cheeses = make_category("Queijos")
    make_product("Queijo parmesão", sku="PARM-1", price="89.90", cost="55.00", unit="kg", stock="3.250",
                 category=cheeses, min_stock=D("1"))
    make_product("Manteiga", sku="MANT-1", price="15.00", stock="12", is_active=False)

    response = owner_client.get(EXPORT, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;") and ".csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_sku = {row["sku"]: row for row in rows}
    assert set(by_sku) == {"PARM-1", "MANT-1"}
    assert by_sku["PARM-1"] == {"sku": "PARM-1", "name": "Queijo parmesão", "description": "", "category": "Queijos",
                                "unit": "kg", "price": "89.90", "cost": "55.00", "min_stock": "1", "stock": "3.25",
                                "active": "yes"}
    assert by_sku["MANT-1"]["active"] == "no"

    again = owner_client.post(IMPORT, {"file": SimpleUploadedFile("export.csv", response.content)})
    assert again.status_code == 200
    assert 'data-testid="updated-count">2<' in html(again) and 'data-testid="created-count">0<' in html(again)
    assert error_lines(again) == {}
    parmesan = Product.objects.get(sku="PARM-1")
    assert parmesan.stock_quantity == D("3.250") and parmesan.movements.count() == 1  # no needless adjustment


def test_xlsx_export(alpha, owner_client):
    from openpyxl import load_workbook

    make_product("Salame", sku="SAL-1", price="12.00")
    response = owner_client.get(EXPORT, {"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["sku", "name", "description"]
    assert values[1][0] == "SAL-1" and values[1][1] == "Salame"
    assert owner_client.get(EXPORT, {"format": "pdf"}).status_code == 400


def test_import_writes_only_to_the_own_tenant(tenant, other_tenant, owner_client):
    from apps.store.models import Product

    with schema_context(other_tenant.schema_name):
        make_product("Beta", sku="SHARED-1", price="1.00", stock="5")
    response = owner_client.post(IMPORT, {"file": upload("sku,name,price,stock\nSHARED-1,Alpha cheese,20,7\n")})
    assert response.status_code == 200
    with schema_context(tenant.schema_name):
        assert Product.objects.get(sku="SHARED-1").name == "Alpha cheese"
    with schema_context(other_tenant.schema_name):
        beta = Product.objects.get(sku="SHARED-1")
        assert beta.name == "Beta" and beta.stock_quantity == D("5")


def test_import_needs_store_manage(alpha, owner_client):
    from conftest import make_user

    from .test_views import client_for

    agent = client_for(alpha, make_user(alpha, email="agent-import@alpha.test", role="agent"))
    assert agent.post(IMPORT, {"file": upload("sku,name,price\nX-1,Queijo,10\n")}).status_code == 403
    assert agent.get(EXPORT, {"format": "csv"}).status_code == 403
