"""The company profile page (settings/company/): Admin only, validated, per tenant."""
import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_tenants.utils import schema_context
from PIL import Image

from conftest import host_of, make_user

URL = "/settings/company/"


def valid_data(**overrides):
    data = {
        "name": "Alpha Frios & Cia",
        "primary_color": "#112233",
        "accent_color": "#Aa00fF",
        "timezone": "America/Manaus",
        "language": "es",
        "policies": "Delivery from 9h to 18h. Pix or card.",
    }
    data.update(overrides)
    return data


def png(width=64, height=64, noise=False) -> bytes:
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (124, 58, 237))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    # TenantFileSystemStorage caches its root until this setting changes
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    return tmp_path


def snapshot(tenant):
    tenant.refresh_from_db()
    return (tenant.name, tenant.primary_color, tenant.accent_color, tenant.timezone, tenant.language,
            tenant.policies, tenant.logo.name)


def test_url_name_resolves():
    assert reverse("core:company") == URL


def test_admin_sees_the_form_with_current_values(owner_client, tenant):
    response = owner_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="primary_color"' in body and tenant.primary_color in body
    assert '<option value="America/Sao_Paulo" selected>' in body
    assert 'data-nav="company"' in body  # the sidebar entry, marked active
    assert 'aria-current="page"' in body


def test_admin_saves_profile_and_the_dashboard_uses_the_new_colours(owner_client, tenant):
    response = owner_client.post(URL, valid_data())
    assert response.status_code == 302
    assert response["Location"] == URL

    tenant.refresh_from_db()
    assert tenant.name == "Alpha Frios & Cia"
    assert (tenant.primary_color, tenant.accent_color) == ("#112233", "#AA00FF")
    assert (tenant.timezone, tenant.language) == ("America/Manaus", "es")
    assert tenant.policies == "Delivery from 9h to 18h. Pix or card."

    page = owner_client.get(URL).content.decode()
    assert "--color-primary: #112233; --color-accent: #AA00FF;" in page
    assert "Alpha Frios &amp; Cia" in page
    assert "alert-success" in page  # the "saved" message
    home = owner_client.get("/").content.decode()
    assert "--color-primary: #112233" in home


def test_language_is_case_insensitive(owner_client, tenant):
    response = owner_client.post(URL, valid_data(language="pt-BR"))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.language == "pt-br"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("primary_color", "purple"),
        ("primary_color", "#12345"),
        ("accent_color", "#GGGGGG"),
        ("accent_color", "#12345678"),
        ("timezone", "Mars/Olympus_Mons"),
        ("language", "fr"),
        ("name", "   "),
    ],
)
def test_invalid_input_shows_a_form_error_and_changes_nothing(owner_client, tenant, field, value):
    before = snapshot(tenant)
    response = owner_client.post(URL, valid_data(**{field: value}))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="field-error"' in body
    assert snapshot(tenant) == before
    # what the user typed is kept in the form
    assert "Delivery from 9h to 18h. Pix or card." in body
    # the page keeps the saved colours, not the rejected ones
    assert f"--color-primary: {before[1]};" in body


def test_logo_upload_is_stored_per_tenant_and_shown(owner_client, tenant, media_root):
    logo = SimpleUploadedFile("logo.png", png(), content_type="image/png")
    response = owner_client.post(URL, {**valid_data(), "logo": logo})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.logo.name.startswith("branding/")
    stored = media_root / tenant.schema_name / tenant.logo.name
    assert stored.exists()

    page = owner_client.get(URL).content.decode()
    assert f"/media/{tenant.schema_name}/branding/" in page  # top bar and preview

    # saving again without a file keeps the logo; ticking "remove" clears it
    assert owner_client.post(URL, valid_data(name="Again")).status_code == 302
    tenant.refresh_from_db()
    assert tenant.logo.name.startswith("branding/")
    assert owner_client.post(URL, {**valid_data(), "logo-clear": "on"}).status_code == 302
    tenant.refresh_from_db()
    assert not tenant.logo


def test_oversized_logo_is_refused_with_a_clear_message(owner_client, tenant, media_root):
    big = png(1000, 1000, noise=True)
    assert len(big) > 2 * 1024 * 1024
    before = snapshot(tenant)
    response = owner_client.post(URL, {**valid_data(), "logo": SimpleUploadedFile("big.png", big, content_type="image/png")})
    assert response.status_code == 400
    body = response.content.decode()
    assert "2 MB" in body
    assert snapshot(tenant) == before
    assert not any(media_root.rglob("*.png"))


def test_a_file_that_is_not_an_image_is_refused(owner_client, tenant, media_root):
    before = snapshot(tenant)
    fake = SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", content_type="image/png")
    response = owner_client.post(URL, {**valid_data(), "logo": fake})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert snapshot(tenant) == before


@pytest.mark.parametrize("role", ["agent", "supervisor", "analyst"])
def test_only_admin_may_open_or_save_the_company_profile(tenant, role):
    user = make_user(tenant, email=f"{role}@alpha.test", role=role)
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    before = snapshot(tenant)
    assert client.get(URL).status_code == 403
    assert client.post(URL, valid_data()).status_code == 403
    assert snapshot(tenant) == before
    # and the sidebar does not offer it
    assert 'data-nav="company"' not in client.get("/").content.decode()


def test_anonymous_is_sent_to_login(tenant_client):
    response = tenant_client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_alpha_admin_changes_alpha_only(owner_client, tenant, other_tenant):
    beta_before = snapshot(other_tenant)
    assert owner_client.post(URL, valid_data(primary_color="#010203")).status_code == 302
    assert snapshot(other_tenant) == beta_before

    # beta's admin keeps seeing beta's own colours and name
    from apps.accounts.models import User

    with schema_context(other_tenant.schema_name):
        beta_owner = User.objects.get(email="owner@beta.test")
    beta = Client(HTTP_HOST=host_of(other_tenant))
    with schema_context(other_tenant.schema_name):
        beta.force_login(beta_owner)
    page = beta.get(URL).content.decode()
    assert f"--color-primary: {beta_before[1]};" in page
    assert "#010203" not in page
    assert "Beta Pizzaria" in page


def test_alpha_session_cannot_edit_beta(owner_client, tenant, other_tenant):
    """A session cookie from alpha's domain is unknown on beta's domain (sessions live per schema)."""
    beta_before = snapshot(other_tenant)
    beta = Client(HTTP_HOST=host_of(other_tenant))
    beta.cookies = owner_client.cookies
    response = beta.post(URL, valid_data())
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert snapshot(other_tenant) == beta_before
