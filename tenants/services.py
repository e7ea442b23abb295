"""Writes for tenants: provisioning by cloning the template schema, status changes."""
from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import connection, transaction
from django_tenants.clone import CloneSchema
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from .choices import TenantStatus
from .errors import TenantError
from .models import Domain, Tenant
from .snapshot import replay_into, snapshot_for_current_template

# a DNS label (it becomes <slug>.<BASE_DOMAIN>) and the schema name
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,28}[a-z0-9]$")
RESERVED_SLUGS = {
    "public", "www", "admin", "api", "app", "static", "media", "hooks", "mail", "support",
    "information_schema", settings.TENANT_BASE_SCHEMA,
}


def tenant_domain_for(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def _validate_slug(slug: str) -> None:
    if not SLUG_RE.match(slug or ""):
        raise TenantError("slug_invalid")
    if slug in RESERVED_SLUGS or slug.startswith("pg_"):
        raise TenantError("slug_reserved")
    if Tenant.objects.filter(schema_name=slug).exists() or schema_exists(slug):
        raise TenantError("slug_taken")


def provision_tenant(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str | None = None,
    owner_name: str = "",
    plan=None,
    domain: str | None = None,
    language: str = "pt-br",
    timezone: str = "America/Sao_Paulo",
) -> Tenant:
    """Create a tenant: its schema (a clone of the migrated template), its domain and its owner.

    All of it happens in one transaction (PostgreSQL DDL is transactional), so a failure leaves
    no tenant row, no domain and no half-made schema behind.
    """
    from apps.accounts.roles import Role
    from apps.accounts.services import user_create
    from apps.billing.selectors import default_plan

    slug = (slug or "").strip().lower()
    _validate_slug(slug)
    domain = (domain or tenant_domain_for(slug)).strip().lower()
    if Domain.objects.filter(domain=domain).exists():
        raise TenantError("domain_taken")
    if not schema_exists(settings.TENANT_BASE_SCHEMA):
        raise TenantError("template_missing")

    with transaction.atomic():
        tenant = Tenant.objects.create(
            schema_name=slug,
            name=name.strip() or slug,
            plan=plan or default_plan(),
            language=language,
            timezone=timezone,
        )
        Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
        snapshot = snapshot_for_current_template()
        if snapshot is not None:
            replay_into(snapshot, slug)
        else:
            CloneSchema().clone_schema(settings.TENANT_BASE_SCHEMA, slug, "DATA")
        with schema_context(slug):
            user_create(
                email=owner_email,
                password=owner_password,
                name=owner_name,
                role=Role.ADMIN,
                language=language,
            )
    connection.set_schema_to_public()
    return tenant


def tenant_set_status(*, tenant: Tenant, status: str, reason: str = "") -> Tenant:
    """Change a tenant's status. Suspending or canceling blocks access; nothing is deleted."""
    if status not in TenantStatus.values:
        raise ValueError(status)
    tenant.status = status
    tenant.status_reason = reason
    # the tenants table lives in public; callers may be on any schema (admin, tasks, tests)
    with schema_context(get_public_schema_name()):
        tenant.save(update_fields=["status", "status_reason"])
    return tenant


def tenant_update_profile(*, tenant: Tenant, **fields) -> Tenant:
    """Company profile edits from the dashboard's settings page."""
    allowed = {"name", "logo", "primary_color", "accent_color", "timezone", "language", "policies"}
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(key)
        setattr(tenant, key, value)
    language_changed = "language" in fields and Tenant.objects.filter(pk=tenant.pk).exclude(
        language=fields["language"]).exists()
    tenant.full_clean(exclude=["schema_name", "plan"])
    tenant.save(update_fields=list(fields))
    if language_changed:
        # the knowledge base's full-text vectors are built in the tenant's language
        schema = tenant.schema_name
        transaction.on_commit(lambda: _reindex_knowledge(schema))
    return tenant


def _reindex_knowledge(schema: str) -> None:
    from apps.knowledge.tasks import reindex_language

    try:
        with schema_context(schema):
            reindex_language.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - broker down: the search still works, in the old language
        logging.getLogger(__name__).warning("knowledge reindex for %s not enqueued", schema)


def ensure_public_tenant() -> Tenant:
    """The row django-tenants routes the public domain (BASE_DOMAIN) through; idempotent."""
    public, _ = Tenant.objects.get_or_create(schema_name="public", defaults={"name": "Public", "status": "active"})
    Domain.objects.get_or_create(domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True})
    return public
