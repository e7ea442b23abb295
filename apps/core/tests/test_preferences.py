"""POST /preferences/: the signed-in user's theme and language, persisted on the user."""
import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from conftest import host_of

URL = "/preferences/"


def reload(user, tenant):
    with schema_context(tenant.schema_name):
        user.refresh_from_db()
    return user


def test_theme_persists_and_the_page_renders_with_it(owner_client, owner, tenant):
    response = owner_client.post(URL, {"theme": "light", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert reload(owner, tenant).theme == "light"
    assert 'class="light"' in owner_client.get("/").content.decode()

    owner_client.post(URL, {"theme": "dark", "next": "/"})
    assert reload(owner, tenant).theme == "dark"
    assert 'class="dark"' in owner_client.get("/").content.decode()


def test_language_persists_and_survives_logout(owner_client, owner, tenant):
    response = owner_client.post(URL, {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert reload(owner, tenant).language == "en"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"

    page = owner_client.get("/")
    assert page["Content-Language"] == "en"
    assert '<html lang="en"' in page.content.decode()

    owner_client.post(URL, {"language": "es", "next": "/"})
    assert owner_client.get("/")["Content-Language"] == "es"

    # signed out, the language cookie keeps the choice on the login page
    owner_client.post("/accounts/logout/")
    login = owner_client.get("/accounts/login/")
    assert login.status_code == 200
    assert login["Content-Language"] == "es"


def test_htmx_and_fetch_get_204(owner_client, owner, tenant):
    response = owner_client.post(URL, {"theme": "light"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    response = owner_client.post(URL, {"language": "pt-BR"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 204
    owner = reload(owner, tenant)
    assert (owner.theme, owner.language) == ("light", "pt-br")


@pytest.mark.parametrize("data", [{"theme": "purple"}, {"language": "fr"}, {"theme": "light", "language": "xx"}, {}])
def test_invalid_values_are_refused_with_400(owner_client, owner, tenant, data):
    before = (owner.theme, owner.language)
    response = owner_client.post(URL, data)
    assert response.status_code == 400
    assert response.content.strip()  # a message, not an empty body
    owner = reload(owner, tenant)
    assert (owner.theme, owner.language) == before


def test_unsafe_next_goes_home(owner_client):
    response = owner_client.post(URL, {"theme": "light", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_get_is_not_allowed(owner_client):
    assert owner_client.get(URL).status_code == 405


def test_anonymous_is_redirected_to_login(tenant_client):
    response = tenant_client.post(URL, {"theme": "light"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_session_from_another_tenant_is_not_accepted(owner_client, owner, tenant, other_tenant):
    from apps.accounts.models import User

    with schema_context(other_tenant.schema_name):
        beta_owner = User.objects.get(email="owner@beta.test")
    beta_before = (beta_owner.theme, beta_owner.language)

    beta = Client(HTTP_HOST=host_of(other_tenant))
    beta.cookies = owner_client.cookies  # alpha's session cookie replayed on beta's domain
    response = beta.post(URL, {"theme": "light", "language": "en"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    with schema_context(other_tenant.schema_name):
        beta_owner.refresh_from_db()
    assert (beta_owner.theme, beta_owner.language) == beta_before
    assert reload(owner, tenant).theme == "dark"
