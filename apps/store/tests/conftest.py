"""Shared fixtures and factories for every store test (apps/store/tests/**).

Factories are plain functions: they write to the *current* schema, so call them inside
``with schema_context("alpha"):`` or in a test using the ``alpha`` / ``beta`` fixture. They write
straight to the models (not through the services) so that tests of any module can build data even
when the service under test is the thing that is broken; stock given to ``make_product`` is
recorded as a ``purchase`` ledger line, so the ledger and ``Product.stock_quantity`` agree.

- ``alpha`` / ``beta``: the tenant's schema is active for the whole test (yields the Tenant).
- ``english``: ``translation.override("en")`` for tests asserting English messages
  (``pytestmark = pytest.mark.usefixtures("english")``).
- ``committed``: lets a test write committed rows (no ``db`` fixture!) for thread / subprocess
  tests; the test must delete what it made (see ``cleanup_store``).
- ``make_category(name=None, **fields)``
- ``make_product(name=None, *, price="10.00", cost="6.00", stock="100", unit="unit", category=None, **fields)``
- ``make_zone(neighbourhood="Centro", *, fee="5.00", min_order="0", **fields)``
- ``make_customer(name=None, *, phone=None, since=None, document="", **fields)``: a CRM contact with
  a CustomerProfile.
- ``make_address(contact, *, neighbourhood="Centro", **fields)``
- ``store_settings_set(**fields)``: updates (creating) the StoreSettings row pk=1.
- ``make_order(items, *, contact=None, channel="counter", **kwargs)``: through
  ``apps.store.services.orders.order_create`` (the real path), ``items`` = [(product, qty), ...].
- ``D(x)``: Decimal from str/int.
- ``cleanup_store()``: deletes every store row and the contacts made by ``make_customer`` in the
  current schema (for committed-data tests).
"""
from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone, translation
from django_tenants.utils import schema_context

_seq = itertools.count(1)


def D(value) -> Decimal:  # noqa: N802 - reads like a literal in the tests
    return value if isinstance(value, Decimal) else Decimal(str(value))


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def alpha(tenant):
    with schema_context(tenant.schema_name):
        yield tenant


@pytest.fixture
def beta(other_tenant):
    with schema_context(other_tenant.schema_name):
        yield other_tenant


@pytest.fixture
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Database access without the per-test transaction: what the test writes is committed and seen
    by other connections (threads, subprocesses). Clean up afterwards (``cleanup_store``)."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


# --- factories (current schema) ------------------------------------------------------------------


def make_category(name: str | None = None, **fields):
    from apps.store.models import Category

    return Category.objects.create(name=name or f"Category {next(_seq)}", **fields)


def make_product(name: str | None = None, *, price="10.00", cost="6.00", stock="100", unit="unit",
                 category=None, sku: str | None = None, **fields):
    from apps.store.models import MovementKind, Product, StockMovement

    n = next(_seq)
    product = Product.objects.create(
        sku=sku or f"SKU-{n:05d}", name=name or f"Product {n}", price=D(price), cost=D(cost), unit=unit,
        category=category, stock_quantity=D(stock), **fields)
    if D(stock) != 0:
        StockMovement.objects.create(product=product, kind=MovementKind.PURCHASE, quantity=D(stock),
                                     balance_after=D(stock), reason="test stock")
    return product


def make_zone(neighbourhood: str = "Centro", *, fee="5.00", min_order="0", city: str = "", **fields):
    from apps.store.models import DeliveryZone

    return DeliveryZone.objects.create(neighbourhood=neighbourhood, city=city, fee=D(fee),
                                       min_order=D(min_order), **fields)


def make_customer(name: str | None = None, *, phone: str | None = None, since=None, document: str = "",
                  **fields):
    from apps.crm.models import Contact
    from apps.store.models import CustomerProfile

    n = next(_seq)
    contact = Contact.objects.create(name=name or f"Customer {n}", phone=phone or f"+55219{n:08d}", **fields)
    CustomerProfile.objects.create(contact=contact, customer_since=since, document_number=document)
    return contact


def make_address(contact, *, neighbourhood: str = "Centro", street: str = "Rua das Flores", number: str = "10",
                 **fields):
    from apps.store.models import Address

    return Address.objects.create(contact=contact, neighbourhood=neighbourhood, street=street, number=number,
                                  **fields)


def store_settings_set(**fields):
    from apps.store.models import StoreSettings

    row, _created = StoreSettings.objects.get_or_create(pk=1)
    for key, value in fields.items():
        setattr(row, key, value)
    row.updated_at = timezone.now()
    row.save()
    return row


def make_order(items, *, contact=None, channel: str = "counter", **kwargs):
    """A placed order through the real service (``order_create``)."""
    from apps.store.services.orders import order_create

    items = [(product, D(quantity)) for product, quantity in items]
    return order_create(contact=contact, channel=channel, items=items, **kwargs)


def cleanup_store(contacts=()) -> None:
    """Delete the store's rows in the current schema (committed-data tests), plus ``contacts``."""
    from apps.crm.models import Contact
    from apps.store import models as m

    m.Payment.objects.all().delete()
    m.StockMovement.objects.all().delete()
    m.OrderEvent.objects.all().delete()
    m.OrderItem.objects.all().delete()
    m.Order.objects.all().delete()
    m.Product.objects.all().delete()
    m.Category.objects.all().delete()
    m.DeliveryZone.objects.all().delete()
    m.Address.objects.filter(contact__in=[c.pk for c in contacts]).delete()
    m.CustomerProfile.objects.filter(contact__in=[c.pk for c in contacts]).delete()
    m.StoreSettings.objects.all().delete()
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).delete()
