"""The dashboard and the login page speak pt-BR (default), English and Spanish."""
from pathlib import Path

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

EXPECTED = {
    # language -> (the Admin's home page title "Overview", login button "Sign in")
    "pt-br": ("Visão geral", "Entrar"),
    "en": ("Overview", "Sign in"),
    "es": ("Resumen", "Iniciar sesión"),
}


def test_every_catalog_is_compiled():
    for language in ("pt_BR", "en", "es"):
        po = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
        assert po.exists() and po.with_suffix(".mo").exists(), f"{language} catalog missing or not compiled"


@pytest.mark.django_db
@pytest.mark.parametrize("language", EXPECTED)
def test_dashboard_renders_in_the_users_language(owner_client, owner, tenant, language):
    response = owner_client.post("/preferences/", {"language": language}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    page = owner_client.get("/").content.decode()
    assert f'lang="{language}"' in page
    assert EXPECTED[language][0] in page
    with schema_context(tenant.schema_name):
        owner.refresh_from_db()
        assert owner.language == language


@pytest.mark.django_db
@pytest.mark.parametrize("language", EXPECTED)
def test_login_page_follows_the_language_cookie(tenant_client, language):
    tenant_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = tenant_client.get("/accounts/login/").content.decode()
    assert EXPECTED[language][1] in page


@pytest.mark.django_db
def test_default_language_is_brazilian_portuguese(tenant_client):
    page = tenant_client.get("/accounts/login/").content.decode()
    assert 'lang="pt-br"' in page and "Entrar" in page
