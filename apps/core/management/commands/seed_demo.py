"""Seed the demo: SaaS owner, the Trial plan, tenant "3A Frios" with an Admin and an Agent.
Running it again changes nothing. Later apps extend it through the ``demo_seeders`` list."""
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.billing.services import plan_ensure_trial
from apps.core.urls_util import base_url
from tenants.models import Tenant
from tenants.services import ensure_public_tenant, provision_tenant

OWNER = ("owner@saas.localhost", "owner12345", "SaaS Owner")
DEMO_SLUG = "3afrios"
DEMO_ADMIN = ("admin@3afrios.com.br", "demo12345", "Ana Admin")
DEMO_AGENT = ("agente@3afrios.com.br", "demo12345", "Bruno Agente")

# callables(tenant) that later apps append to seed their demo data, idempotently
demo_seeders: list = []


class Command(BaseCommand):
    help = "Create (or keep) the demo data and print the logins."

    def handle(self, *args, **options):
        connection.set_schema_to_public()
        plan_ensure_trial()
        ensure_public_tenant()
        if not User.objects.filter(email=OWNER[0]).exists():
            user_create(email=OWNER[0], password=OWNER[1], name=OWNER[2], role=Role.ADMIN,
                        is_staff=True, is_superuser=True)

        tenant = Tenant.objects.filter(schema_name=DEMO_SLUG).first()
        if tenant is None:
            tenant = provision_tenant(name="3A Frios", slug=DEMO_SLUG, owner_email=DEMO_ADMIN[0],
                                      owner_password=DEMO_ADMIN[1], owner_name=DEMO_ADMIN[2])
            tenant.status = "active"
            tenant.save(update_fields=["status"])
        with schema_context(DEMO_SLUG):
            if not User.objects.filter(email=DEMO_AGENT[0]).exists():
                user_create(email=DEMO_AGENT[0], password=DEMO_AGENT[1], name=DEMO_AGENT[2], role=Role.AGENT)
        for seeder in demo_seeders:
            with schema_context(DEMO_SLUG):
                seeder(tenant)
        connection.set_schema_to_public()

        site = base_url(settings.BASE_DOMAIN)
        demo = base_url(tenant.get_primary_domain().domain)
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  Public site ........ {site}/")
        self.stdout.write(f"  SaaS owner admin ... {site}/admin/   {OWNER[0]} / {OWNER[1]}")
        self.stdout.write(f"  3A Frios dashboard . {demo}/   Admin {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}")
        self.stdout.write(f"                                          Agent {DEMO_AGENT[0]} / {DEMO_AGENT[1]}")
