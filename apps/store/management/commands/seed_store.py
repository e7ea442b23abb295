"""Seed a tenant's store with the 3A Frios demo data (``apps.store.demo``), e.g. for benchmarks:

    manage.py seed_store --schema 3afrios --scale 40     # ~1,000,000 orders

Idempotent: what is already there stays; a larger ``--scale`` adds the missing chunks."""
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from apps.core.management.commands.seed_demo import DEMO_SLUG
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create the store demo data (catalogue, zones, customers, 12 months of orders) in one tenant's schema."

    def add_arguments(self, parser):
        parser.add_argument("--schema", default=DEMO_SLUG, help="the tenant's schema (default: the demo tenant)")
        parser.add_argument("--scale", type=int, default=1,
                            help="N x the customers and orders (N x ~800 customers and ~25,000 orders)")

    def handle(self, *args, schema, scale, **options):
        from apps.store.demo import seed_demo_store

        if scale < 1:
            raise CommandError("--scale must be 1 or more.")
        if schema == get_public_schema_name():
            raise CommandError("The store lives in a tenant's schema, not in the public one.")
        with schema_context(get_public_schema_name()):
            tenant = Tenant.objects.filter(schema_name=schema).first()
        if tenant is None:
            raise CommandError(f"No tenant with the schema {schema!r}.")
        with schema_context(schema):  # puts back the schema the caller had
            created = seed_demo_store(tenant, scale=scale)
        self.stdout.write(self.style.SUCCESS(
            "Store demo in {schema}: {products} products, {zones} zones, {customers} customers, {orders} orders, "
            "{items} items, {events} events created in {seconds} s.".format(schema=schema, **created)))
