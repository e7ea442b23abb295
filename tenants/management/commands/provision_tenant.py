import secrets

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import TenantError
from tenants.services import provision_tenant


class Command(BaseCommand):
    help = "Create a tenant (schema cloned from the template), its domain and its owner (Admin)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-name", default="")
        parser.add_argument("--owner-password", default=None, help="generated and printed when omitted")
        parser.add_argument("--domain", default=None, help="defaults to <slug>.<BASE_DOMAIN>")

    def handle(self, *args, slug, name, owner_email, owner_name, owner_password, domain, **options):
        password = owner_password or secrets.token_urlsafe(12)
        try:
            tenant = provision_tenant(
                name=name, slug=slug, owner_email=owner_email, owner_name=owner_name,
                owner_password=password, domain=domain,
            )
        except TenantError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(self.style.SUCCESS(f"Tenant {tenant.name} ({tenant.schema_name}) ready at "
                                             f"{tenant.get_primary_domain().domain}"))
        if not owner_password:
            self.stdout.write(f"Owner login: {owner_email} / {password}")
