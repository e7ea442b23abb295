"""The SaaS-owner admin (unfold) on the public domain: tenants list, actions, provisioning form."""
import re

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_create
from conftest import host_of
from tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db

STAFF_EMAIL = "root@saas.test"
STAFF_PASSWORD = "owner-pass-12345"


@pytest.fixture
def staff(db):
    return user_create(email=STAFF_EMAIL, password=STAFF_PASSWORD, name="SaaS Owner", is_staff=True, language="en",
                       is_superuser=True)


@pytest.fixture
def admin_client(staff):
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    client.force_login(staff)
    return client


def test_owner_signs_in_to_the_themed_admin(staff):
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    response = client.post("/admin/login/?next=/admin/", {"username": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"

    html = client.get("/admin/").content.decode()
    assert "SaaS admin" in html  # UNFOLD SITE_HEADER
    assert 'class="dark"' in html  # dark theme
    assert "/admin/tenants/tenant/" in html and "/admin/billing/plan/" in html and "/admin/accounts/user/" in html


def test_admin_refuses_anonymous_and_non_staff(db):
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    assert client.get("/admin/tenants/tenant/").status_code == 302
    plain = user_create(email="plain@saas.test", password=STAFF_PASSWORD)
    client.force_login(plain)
    assert client.get("/admin/tenants/tenant/")["Location"].startswith("/admin/login/")


def test_admin_is_not_served_on_a_tenant_domain(tenant, owner_client):
    assert Client(HTTP_HOST=host_of(tenant)).get("/admin/").status_code == 404
    assert owner_client.get("/admin/login/").status_code == 404


def test_changelist_search_and_status_filter(admin_client, tenant, other_tenant):
    html = admin_client.get("/admin/tenants/tenant/").content.decode()
    assert "Alpha Frios" in html and "Beta Pizzaria" in html
    assert f"{tenant.get_primary_domain().domain}" in html
    assert ">Public<" not in html  # the public tenant routes this very admin; it is not listed

    found = admin_client.get("/admin/tenants/tenant/", {"q": "beta"}).content.decode()
    assert "Beta Pizzaria" in found and "Alpha Frios" not in found

    by_domain = admin_client.get("/admin/tenants/tenant/", {"q": "alpha.localhost"}).content.decode()
    assert "Alpha Frios" in by_domain and "Beta Pizzaria" not in by_domain

    Tenant.objects.filter(pk=other_tenant.pk).update(status="suspended")
    suspended = admin_client.get("/admin/tenants/tenant/", {"status__exact": "suspended"}).content.decode()
    assert "Beta Pizzaria" in suspended and "Alpha Frios" not in suspended


def test_suspend_blocks_the_dashboard_and_reactivate_restores_it(admin_client, tenant, owner, owner_client):
    response = admin_client.post("/admin/tenants/tenant/", {"action": "suspend_tenants",
                                                            "_selected_action": [tenant.pk]}, follow=True)
    assert response.status_code == 200
    assert "1 company suspended" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.status == "suspended"

    assert owner_client.get("/").status_code == 403
    assert Client(HTTP_HOST=host_of(tenant)).get("/accounts/login/").status_code == 403
    with schema_context(tenant.schema_name):  # nothing was deleted
        assert User.objects.filter(pk=owner.pk).exists()

    admin_client.post("/admin/tenants/tenant/", {"action": "reactivate_tenants", "_selected_action": [tenant.pk]})
    tenant.refresh_from_db()
    assert tenant.status == "active"
    assert Client(HTTP_HOST=host_of(tenant)).get("/accounts/login/").status_code == 200


def test_tenants_cannot_be_deleted_from_the_admin(admin_client, tenant):
    html = admin_client.get("/admin/tenants/tenant/").content.decode()
    assert "delete_selected" not in html
    assert admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/delete/").status_code == 403
    admin_client.post("/admin/tenants/tenant/", {"action": "delete_selected",
                                                        "_selected_action": [tenant.pk], "post": "yes"})
    assert Tenant.objects.filter(pk=tenant.pk).exists() and schema_exists(tenant.schema_name)


def test_change_form_keeps_the_slug_read_only(admin_client, tenant):
    html = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert 'name="name"' in html and 'name="status"' in html and 'name="primary_color"' in html
    assert 'name="schema_name"' not in html
    assert "never deleted" in html


def test_change_form_status_change_goes_through(admin_client, tenant):
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    domain = tenant.get_primary_domain()
    data = {
        "name": "Alpha Frios Renamed", "status": "canceled", "status_reason": "asked to leave",
        "plan": tenant.plan_id or "", "primary_color": "#7C3AED", "accent_color": "#EC4899",
        "language": "pt-br", "timezone": "America/Sao_Paulo", "policies": "",
        "domains-TOTAL_FORMS": "1", "domains-INITIAL_FORMS": "1", "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000", "domains-0-id": domain.pk, "domains-0-tenant": tenant.pk,
        "domains-0-domain": domain.domain, "domains-0-is_primary": "on",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    tenant.refresh_from_db()
    assert (tenant.name, tenant.status, tenant.status_reason, tenant.schema_name) == (
        "Alpha Frios Renamed", "canceled", "asked to leave", "alpha")


def test_add_form_provisions_a_tenant(admin_client):
    response = admin_client.post("/admin/tenants/tenant/add/", {
        "name": "Delta Doces", "slug": "delta", "owner_email": "Dona@Delta.test", "owner_name": "Dona Delta",
        "owner_password": "delta-pass-123", "plan": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(schema_name="delta")
    assert response["Location"] == f"/admin/tenants/tenant/{tenant.pk}/change/"
    assert schema_exists("delta")
    assert Domain.objects.get(tenant=tenant, is_primary=True).domain == f"delta.{settings.BASE_DOMAIN}"
    assert tenant.plan is not None  # the default plan
    with schema_context("delta"):
        owner = User.objects.get()
        assert (owner.email, owner.name, owner.role) == ("dona@delta.test", "Dona Delta", Role.ADMIN)
        assert owner.check_password("delta-pass-123")


def test_add_form_generates_and_shows_the_password_once(admin_client):
    response = admin_client.post("/admin/tenants/tenant/add/", {
        "name": "Epsilon Pizza", "slug": "epsilon", "owner_email": "dono@epsilon.test", "owner_password": "",
    })
    assert response.status_code == 200
    html = response.content.decode()
    password = re.search(r'id="owner-password"[^>]*>([^<]+)<', html).group(1)
    assert len(password) >= 12
    assert "shown only now" in html
    assert "http://epsilon.localhost" in html
    with schema_context("epsilon"):
        assert User.objects.get(email="dono@epsilon.test").check_password(password)
    # not kept for a later page
    assert password not in admin_client.get("/admin/").content.decode()


@pytest.mark.parametrize("slug,message", [
    ("alpha", "already exists"),
    ("Bad Slug!", "3 to 30 characters"),
    ("admin", "reserved"),
])
def test_add_form_bad_slug_is_a_form_error(admin_client, slug, message):
    before = Tenant.objects.count()
    response = admin_client.post("/admin/tenants/tenant/add/", {
        "name": "Copy", "slug": slug, "owner_email": "copy@x.test", "owner_password": "copy-pass-123",
    })
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    # the error sits with the slug field
    slug_block = html[html.index('name="slug"') - 3000: html.index('name="slug"') + 3000]
    assert message in slug_block
    assert Tenant.objects.count() == before


def test_add_form_weak_password_and_bad_email_are_form_errors(admin_client):
    response = admin_client.post("/admin/tenants/tenant/add/", {
        "name": "Zeta", "slug": "zeta", "owner_email": "not-an-email", "owner_password": "123",
    })
    assert response.status_code == 200
    assert not Tenant.objects.filter(schema_name="zeta").exists()
    assert not schema_exists("zeta")


def test_sidebar_pages_render(admin_client, tenant):
    for url in ["/admin/tenants/tenant/", "/admin/tenants/domain/", "/admin/billing/plan/",
                "/admin/accounts/user/", "/admin/tenants/tenant/add/", f"/admin/tenants/tenant/{tenant.pk}/change/"]:
        assert admin_client.get(url).status_code == 200, url
