import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from apps.accounts.models import User
from apps.accounts.roles import Role
from tenants.errors import TenantError
from tenants.models import Domain, Tenant
from tenants.services import provision_tenant


@pytest.mark.django_db
def test_provision_creates_schema_domain_and_owner_quickly():
    started = time.perf_counter()
    tenant = provision_tenant(name="Gamma Pizza", slug="gamma", owner_email="Dono@Gamma.test",
                              owner_password="pw-123456789")
    elapsed = time.perf_counter() - started

    assert schema_exists("gamma")
    assert Domain.objects.get(tenant=tenant).domain == "gamma.localhost"
    assert tenant.plan is not None and tenant.plan.slug == "trial"
    with schema_context("gamma"):
        owner = User.objects.get()
        assert owner.email == "dono@gamma.test"
        assert owner.role == Role.ADMIN
        assert owner.check_password("pw-123456789")
    assert elapsed < 1.5, f"provisioning took {elapsed:.2f}s"


@pytest.mark.django_db
def test_template_schema_holds_no_users_or_sessions():
    with schema_context("tenant_template"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_user")
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT count(*) FROM django_session")
            assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_duplicate_slug_is_refused_and_nothing_changes(tenant):
    before = Tenant.objects.count()
    with pytest.raises(TenantError) as err:
        provision_tenant(name="Copy", slug=tenant.schema_name, owner_email="x@y.test", owner_password="pw-123456789")
    assert err.value.code == "slug_taken"
    assert Tenant.objects.count() == before
    with schema_context(tenant.schema_name):
        assert User.objects.filter(email="x@y.test").count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["", "ab", "Has Space", "-dash", "dash-", "a" * 31, "drop;table", "a\u00e7ougue"])
def test_invalid_slug_gives_clear_error(slug):
    with pytest.raises(TenantError) as err:
        provision_tenant(name="Bad", slug=slug, owner_email="x@y.test", owner_password="pw-123456789")
    assert err.value.code in {"slug_invalid", "slug_reserved"}
    assert str(err.value.message)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["public", "www", "admin"])
def test_reserved_slug_is_refused(slug):
    with pytest.raises(TenantError) as err:
        provision_tenant(name="Bad", slug=slug, owner_email="x@y.test", owner_password="pw-123456789")
    assert err.value.code == "slug_reserved"


@pytest.mark.django_db
def test_failure_midway_leaves_no_half_made_schema():
    # an owner email that cannot be stored fails after the schema was cloned: all of it rolls back
    with pytest.raises(ValueError):
        provision_tenant(name="Half", slug="half", owner_email="", owner_password="pw-123456789")
    connection.set_schema_to_public()
    assert not Tenant.objects.filter(schema_name="half").exists()
    assert not Domain.objects.filter(domain="half.localhost").exists()
    assert not schema_exists("half")


def _shape(schema):
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT count(*) FROM information_schema.columns WHERE table_schema = %(s)s),
                      (SELECT count(*) FROM pg_indexes WHERE schemaname = %(s)s),
                      (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                        WHERE n.nspname = %(s)s),
                      (SELECT count(*) FROM information_schema.tables WHERE table_schema = %(s)s)""",
            {"s": schema},
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_replayed_schema_matches_the_template_exactly():
    from tenants.models import TemplateSnapshot
    from tenants.snapshot import template_fingerprint

    provision_tenant(name="Delta", slug="delta", owner_email="o@delta.test", owner_password="pw-123456789")
    connection.set_schema_to_public()
    # the fast path was used: a snapshot exists for the template's current migration state
    assert TemplateSnapshot.objects.filter(fingerprint=template_fingerprint()).exists()
    assert _shape("delta") == _shape("tenant_template")
    with schema_context("delta"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        migrations_in_tenant = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM django_content_type")
        assert cursor.fetchone()[0] > 0
    with schema_context("tenant_template"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        assert cursor.fetchone()[0] == migrations_in_tenant


@pytest.mark.django_db
def test_stale_snapshot_is_not_used():
    from tenants.models import TemplateSnapshot

    TemplateSnapshot.objects.all().update(fingerprint="stale")  # as if a migration had changed the template
    provision_tenant(name="Eps", slug="eps", owner_email="o@eps.test", owner_password="pw-123456789")
    connection.set_schema_to_public()
    assert _shape("eps") == _shape("tenant_template")
