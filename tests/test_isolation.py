"""Tenant isolation across the API, sessions, data and cache: what belongs to alpha never works or
shows on beta's domain, even where ids coincide (both owners are user 1 in their own schema)."""
import re
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from conftest import PASSWORD, as_shown, host_of

pytestmark = pytest.mark.django_db

TENANT_URLCONF = "saas.urls_tenant"
SAMPLES = {"int": "1", "slug": "x", "str": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000001"}
METHODS = ("get", "post", "put", "patch", "delete")


def _concrete(pattern) -> str | None:
    """A request path that matches ``pattern`` (sample values for its parameters); None when the
    pattern is too clever to fill in (format-suffix duplicates of DRF routers)."""
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES.get(m.group(1) or "str", "1"), str(pattern._route))
    regex = pattern._regex
    if "(?P<format>" in regex:
        return None
    regex = regex.lstrip("^").rstrip("$").replace("/?", "/")
    regex = re.sub(r"\(\?P<\w+>[^)]*\)", "1", regex).replace("\\.", ".")
    return None if re.search(r"[()\[\]*+?\\|]", regex) else regex


def _api_routes() -> list[tuple[str, str]]:
    """(path, method) for every route of the tenant URLconf under /api/v1/, each method its view
    implements, so routes added later are covered without touching this test."""
    found: list[tuple[str, object]] = []

    def walk(patterns, prefix):
        for entry in patterns:
            part = _concrete(entry.pattern)
            if part is None:
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + part)
            elif isinstance(entry, URLPattern):
                found.append((prefix + part, entry.callback))

    walk(get_resolver(TENANT_URLCONF).url_patterns, "/")
    routes = []
    for path, callback in found:
        if not path.startswith("/api/v1/"):
            continue
        if resolve(path, urlconf=TENANT_URLCONF).func is not callback:
            continue  # shadowed by an earlier pattern for these sample values
        actions = getattr(callback, "actions", None)
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if actions:
            methods = [m for m in actions if m in METHODS]
        elif view_class is not None:
            methods = [m for m in METHODS if hasattr(view_class, m) and m in view_class.http_method_names]
        else:
            methods = ["get", "post"]
        routes += [(path, method) for method in methods]
    return routes


API_ROUTES = _api_routes()


def test_route_discovery_finds_the_known_api():
    paths = {path for path, _ in API_ROUTES}
    assert {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/me/", "/api/v1/notifications/",
            "/api/v1/notifications/read/"} <= paths


@pytest.fixture
def beta_owner(other_tenant):
    from apps.accounts.models import User

    with schema_context(other_tenant.schema_name):
        return User.objects.get(email="owner@beta.test")


def test_both_owners_are_user_one(owner, beta_owner):
    assert owner.pk == beta_owner.pk == 1


@pytest.mark.parametrize("path,method", API_ROUTES, ids=[f"{m.upper()} {p}" for p, m in API_ROUTES])
def test_alphas_jwt_gets_401_on_every_beta_api_route(path, method, api_client, other_tenant, owner, beta_owner):
    assert owner.pk == beta_owner.pk  # a user with the same id exists on beta
    beta = APIClient(HTTP_HOST=host_of(other_tenant))
    beta.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client.tokens['access']}")
    # public routes (token obtain/refresh) get alpha's credentials and refresh token as their body
    payload = {"email": owner.email, "password": PASSWORD, "refresh": api_client.tokens["refresh"]}

    response = getattr(beta, method)(path, payload, format="json") if method != "get" else beta.get(path)

    assert response.status_code == 401, (response.status_code, response.content[:300])


def test_alphas_jwt_works_on_alpha(api_client):
    assert api_client.get("/api/v1/me/").json()["email"] == "owner@alpha.test"


def test_alphas_refresh_token_is_refused_on_beta(api_client, other_tenant):
    beta = APIClient(HTTP_HOST=host_of(other_tenant))
    response = beta.post("/api/v1/auth/token/refresh/", {"refresh": api_client.tokens["refresh"]}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == as_shown(response, "This token belongs to another company.")
    # and it was not spent: it still refreshes on alpha
    alpha = APIClient(HTTP_HOST=api_client.defaults["HTTP_HOST"])
    assert alpha.post("/api/v1/auth/token/refresh/", {"refresh": api_client.tokens["refresh"]},
                      format="json").status_code == 200


def test_alphas_session_cookie_is_not_a_session_on_beta(owner_client, other_tenant, settings):
    session_key = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
    assert owner_client.get("/").status_code == 200  # signed in on alpha
    beta = Client(HTTP_HOST=host_of(other_tenant))
    beta.cookies[settings.SESSION_COOKIE_NAME] = session_key

    page = beta.get("/")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
    assert beta.get("/api/v1/me/").status_code == 401
    assert beta.get("/notifications/count/").status_code == 302


def test_rows_created_in_alpha_are_invisible_in_beta(tenant, other_tenant, owner, api_client):
    from apps.accounts.models import Team
    from apps.accounts.services import team_create
    from apps.notifications.models import Notification
    from apps.notifications.services import notification_send

    with schema_context(tenant.schema_name):
        team_create(name="Alpha kitchen", members=[owner])
        notification_send(user=owner, kind="info", title="Alpha only")
    assert api_client.get("/api/v1/notifications/").json()["count"] == 1
    assert api_client.get("/api/v1/me/").json()["teams"] == ["Alpha kitchen"]

    with schema_context(other_tenant.schema_name):
        assert not Team.objects.filter(name="Alpha kitchen").exists()
        assert not Notification.objects.exists()
    beta = APIClient(HTTP_HOST=host_of(other_tenant))
    tokens = beta.post("/api/v1/auth/token/", {"email": "owner@beta.test", "password": PASSWORD}, format="json").json()
    beta.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert beta.get("/api/v1/notifications/").json()["count"] == 0
    assert beta.get("/api/v1/me/").json()["teams"] == []


def test_same_cache_key_holds_separate_values_per_tenant():
    key = f"isolation-{uuid.uuid4().hex}"
    try:
        with schema_context("alpha"):
            cache.set(key, "alpha value", 60)
        with schema_context("beta"):
            assert cache.get(key) is None
            cache.set(key, "beta value", 60)
        with schema_context("alpha"):
            assert cache.get(key) == "alpha value"
        with schema_context("beta"):
            assert cache.get(key) == "beta value"
            cache.delete(key)
        with schema_context("alpha"):
            assert cache.get(key) == "alpha value"
    finally:
        for schema in ("alpha", "beta"):
            with schema_context(schema):
                cache.delete(key)


def test_openapi_schema_renders_on_a_tenant_domain(tenant_client):
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    response = tenant_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/me/" in schema["paths"] and "/api/v1/notifications/read/" in schema["paths"]
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)
    own = [w for w in GENERATOR_STATS._warn_cache if "apps/accounts/" in w or "apps/notifications/" in w]
    assert not own, own
    assert "tenantJWT" in schema["components"]["securitySchemes"]
    assert tenant_client.get("/api/docs/").status_code == 200
