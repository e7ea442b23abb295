"""Signing in on a company's domain: the right company, lock-out after 5 failures."""
import pytest
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import schema_context

from conftest import PASSWORD, TENANTS, host_of

LOGIN = "/accounts/login/"
OWNER = TENANTS["alpha"]["owner"]


def _client(tenant, ip="10.0.0.1"):
    return Client(HTTP_HOST=host_of(tenant), REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_login_page_shows_company_and_reset_link(tenant):
    response = _client(tenant).get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant.name in body
    assert 'href="/accounts/password-reset/"' in body


@pytest.mark.django_db
def test_correct_login_lands_on_dashboard(tenant):
    client = _client(tenant)
    response = client.post(LOGIN, {"username": OWNER, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _signed_in(client)
    home = client.get("/")
    assert home.status_code == 200


@pytest.mark.django_db
def test_wrong_password_shows_error(tenant):
    client = _client(tenant)
    response = client.post(LOGIN, {"username": OWNER, "password": "nope-nope-1"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not _signed_in(client)


@pytest.mark.django_db
def test_alpha_user_cannot_sign_in_on_beta(tenant, other_tenant):
    client = _client(other_tenant)
    response = client.post(LOGIN, {"username": OWNER, "password": PASSWORD})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not _signed_in(client)
    assert client.get("/").status_code == 302  # still anonymous on beta


def _fail(client, times, email=OWNER):
    """``times`` wrong passwords; the fifth one already answers with the lock-out."""
    for attempt in range(1, times + 1):
        response = client.post(LOGIN, {"username": email, "password": "wrong-password-1"})
        assert response.status_code == (429 if attempt >= 5 else 200)


@pytest.mark.django_db
def test_sixth_attempt_is_locked_even_with_right_password(tenant):
    client = _client(tenant)
    _fail(client, 5)
    response = client.post(LOGIN, {"username": OWNER, "password": PASSWORD})
    assert response.status_code == 429
    assert escape(response.context["lockout_message"]) in response.content.decode()
    assert not _signed_in(client)


@pytest.mark.django_db
def test_lockout_is_per_ip(tenant):
    _fail(_client(tenant, ip="10.0.0.1"), 5)
    other_ip = _client(tenant, ip="10.0.0.2")
    response = other_ip.post(LOGIN, {"username": OWNER, "password": PASSWORD})
    assert response.status_code == 302
    assert _signed_in(other_ip)


@pytest.mark.django_db
def test_lockout_is_per_tenant(tenant, other_tenant):
    from conftest import make_user

    email = "shared@example.test"
    make_user(tenant, email=email)
    make_user(other_tenant, email=email)
    _fail(_client(tenant), 5, email=email)
    assert _client(tenant).post(LOGIN, {"username": email, "password": PASSWORD}).status_code == 429

    beta = _client(other_tenant)  # same email, same IP, other company
    response = beta.post(LOGIN, {"username": email, "password": PASSWORD})
    assert response.status_code == 302
    assert _signed_in(beta)
    from axes.models import AccessAttempt

    with schema_context(other_tenant.schema_name):
        assert not AccessAttempt.objects.filter(failures_since_start__gte=5).exists()
