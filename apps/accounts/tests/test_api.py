"""The JWT API: tokens bound to the company (schema claim), rotation with blacklist, /me."""
import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from conftest import PASSWORD, as_shown, host_of, make_user

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"


@pytest.fixture
def client(tenant):
    return APIClient(HTTP_HOST=host_of(tenant))


def test_token_pair_carries_the_schema_claim(client, owner):
    response = client.post(TOKEN_URL, {"email": owner.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    with schema_context("alpha"):
        access, refresh = AccessToken(body["access"]), RefreshToken(body["refresh"])
    assert access["schema"] == refresh["schema"] == "alpha"
    assert str(access["user_id"]) == str(owner.pk)


def test_token_email_is_case_insensitive(client, owner):
    response = client.post(TOKEN_URL, {"email": " Owner@Alpha.TEST", "password": PASSWORD}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("email,password", [("owner@alpha.test", "wrong-password"), ("nobody@alpha.test", PASSWORD)])
def test_bad_credentials_are_401_with_a_message(client, email, password):
    response = client.post(TOKEN_URL, {"email": email, "password": password}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_missing_fields_are_400(client):
    response = client.post(TOKEN_URL, {"email": "owner@alpha.test"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()


def test_inactive_user_gets_no_token(tenant, client):
    from apps.accounts.services import user_set_active

    agent = make_user(tenant, email="ana@alpha.test")
    with schema_context(tenant.schema_name):
        user_set_active(user=agent, active=False)
    response = client.post(TOKEN_URL, {"email": "ana@alpha.test", "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_refresh_rotates_and_blacklists_the_old_token(client, api_client):
    old_refresh = api_client.tokens["refresh"]

    response = client.post(REFRESH_URL, {"refresh": old_refresh}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["refresh"] != old_refresh and body["access"]
    with schema_context("alpha"):
        assert AccessToken(body["access"])["schema"] == "alpha"
        assert RefreshToken(body["refresh"])["schema"] == "alpha"
    fresh = APIClient(HTTP_HOST=client.defaults["HTTP_HOST"], HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert fresh.get("/api/v1/me/").status_code == 200

    reused = client.post(REFRESH_URL, {"refresh": old_refresh}, format="json")
    assert reused.status_code == 401
    assert reused.json()["detail"]
    # the rotated one still works once
    assert client.post(REFRESH_URL, {"refresh": body["refresh"]}, format="json").status_code == 200


def test_refresh_of_a_deleted_user_is_401_not_500(tenant, client):
    agent = make_user(tenant, email="ana@alpha.test")
    tokens = client.post(TOKEN_URL, {"email": "ana@alpha.test", "password": PASSWORD}, format="json").json()
    with schema_context(tenant.schema_name):
        agent.delete()
    response = client.post(REFRESH_URL, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401


def test_garbage_refresh_is_401(client):
    assert client.post(REFRESH_URL, {"refresh": "not-a-token"}, format="json").status_code == 401


def test_access_token_without_schema_claim_is_refused(client, owner):
    with schema_context("alpha"):
        unbound = str(AccessToken.for_user(owner))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {unbound}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == as_shown(response, "This token belongs to another company.")


def test_refresh_token_is_not_an_access_token(client, api_client):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client.tokens['refresh']}")
    assert client.get("/api/v1/me/").status_code == 401


def test_me_returns_profile_and_company(api_client, owner):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "owner@alpha.test"
    assert body["role"] == "admin"
    assert body["tenant"] == {"name": "Alpha Frios", "slug": "alpha", "status": body["tenant"]["status"]}


def test_me_patch_updates_name_language_theme(api_client, owner):
    response = api_client.patch("/api/v1/me/", {"name": "Dona Ana", "language": "es", "theme": "light"}, format="json")

    assert response.status_code == 200
    with schema_context("alpha"):
        owner.refresh_from_db()
    assert (owner.name, owner.language, owner.theme) == ("Dona Ana", "es", "light")
    assert api_client.get("/api/v1/me/").json()["language"] == "es"


@pytest.mark.parametrize("payload", [{"language": "klingon"}, {"theme": "neon"}])
def test_me_patch_rejects_bad_values(api_client, owner, payload):
    response = api_client.patch("/api/v1/me/", payload, format="json")
    assert response.status_code == 400
    assert list(payload)[0] in response.json()
    with schema_context("alpha"):
        owner.refresh_from_db()
    assert owner.language != "klingon" and owner.theme != "neon"


def test_me_cannot_change_role_or_email(tenant, client):
    make_user(tenant, email="ana@alpha.test", role="agent")
    tokens = client.post(TOKEN_URL, {"email": "ana@alpha.test", "password": PASSWORD}, format="json").json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    response = client.patch("/api/v1/me/", {"role": "admin", "email": "boss@alpha.test"}, format="json")

    assert response.status_code == 200
    assert (response.json()["role"], response.json()["email"]) == ("agent", "ana@alpha.test")


def test_me_put_is_not_allowed(api_client):
    assert api_client.put("/api/v1/me/", {"name": "x"}, format="json").status_code == 405


def test_me_requires_authentication(client):
    assert client.get("/api/v1/me/").status_code == 401


def test_repeated_failures_lock_that_email_only(tenant, client, owner):
    make_user(tenant, email="ana@alpha.test")
    statuses = [client.post(TOKEN_URL, {"email": owner.email, "password": "wrong"}, format="json").status_code
                for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]  # AXES_FAILURE_LIMIT = 5

    locked = client.post(TOKEN_URL, {"email": owner.email, "password": PASSWORD}, format="json")
    assert locked.status_code == 429
    assert locked.json()["detail"] == as_shown(locked, (
        "Too many failed attempts. For your security this login is locked for 15 minutes; "
        "try again later or reset your password."))
    # a colleague behind the same IP still signs in
    assert client.post(TOKEN_URL, {"email": "ana@alpha.test", "password": PASSWORD}, format="json").status_code == 200
