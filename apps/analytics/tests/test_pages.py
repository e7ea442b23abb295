"""The Visão Geral page (/overview/ and "/" for those who may see it) and its JSON twin
(/api/v1/analytics/overview): who may see them, bad filters -> 400 with the form's errors, the
htmx fragment, the empty state, the tenant's time zone, and alpha never seeing beta."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.core.templatetags.money import format_money
from conftest import PASSWORD, host_of, make_user

from .factories import D, local, make_category, make_contact, make_order, make_product

pytestmark = pytest.mark.django_db
RANGE = "?period=custom&start=2025-03-10&end=2025-03-11"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def _client(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


def _user(tenant, role):
    return make_user(tenant, email=f"{role}@alpha.test", role=role)


def _html(response) -> str:
    return response.content.decode()


def _shown_money(response, value) -> str:
    return format_money(value, language=response.headers.get("Content-Language", "pt-br"))


@pytest.fixture
def sales(tenant):
    with schema_context(tenant.schema_name):
        queijos = make_category("Queijos")
        queijo = make_product("Queijo canastra", price="20.00", cost="10.00", category=queijos)
        ana = make_contact("Ana")
        make_order(at=local("2025-03-10 23:30"), contact=ana, items=[(queijo, 3)])  # 60
        make_order(at=local("2025-03-11 00:30"), contact=ana, items=[(queijo, 2)], channel="counter",
                   payment_method="cash")  # 40
        make_order(at=local("2025-03-11 10:00"), contact=ana, items=[(queijo, 9)], status="canceled")
        yield


def test_admin_sees_kpis_charts_heatmap_and_top_products(tenant, owner_client, sales):
    response = owner_client.get("/overview/" + RANGE)
    assert response.status_code == 200
    html = _html(response)
    assert 'data-testid="kpi-revenue"' in html
    assert _shown_money(response, D("100.00")) in html
    for chart in ("series", "channels", "payments", "categories"):
        assert f'data-chart="{chart}"' in html
    assert 'data-testid="heatmap"' in html and 'data-orders="1"' in html
    assert "Queijo canastra" in html
    assert "dist/chart.umd.min.js" in html and "analytics/overview.js" in html
    start = html.index('<script id="overview-charts" type="application/json">') + len(
        '<script id="overview-charts" type="application/json">')
    charts = json.loads(html[start:html.index("</script>", start)])
    assert charts["series"]["revenue"] == [60.0, 40.0]
    assert charts["series"]["orders"] == [1, 1]
    assert sorted(charts["channels"]["orders"]) == [1, 1]
    assert charts["categories"]["labels"] == ["Queijos"]


@pytest.mark.parametrize("role", ["analyst", "supervisor"])
def test_analysts_and_supervisors_see_it(tenant, sales, role):
    client = _client(tenant, _user(tenant, role))
    assert client.get("/overview/" + RANGE).status_code == 200
    home = client.get("/")
    assert home.status_code == 200 and 'data-testid="overview"' in _html(home)


def test_agents_are_refused_and_sent_to_the_inbox_from_home(tenant, sales):
    agent = _client(tenant, _user(tenant, "agent"))
    assert agent.get("/overview/").status_code == 403
    home = agent.get("/")
    assert home.status_code == 302 and home["Location"] == "/inbox/"


def test_admin_home_is_the_overview(tenant, owner_client, sales):
    response = owner_client.get("/")
    assert response.status_code == 200
    assert 'data-testid="overview"' in _html(response)


def test_anonymous_goes_to_the_login(tenant, tenant_client):
    response = tenant_client.get("/overview/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("query, message", [
    ("?period=forever", None),  # Django's "Select a valid choice"
    ("?period=custom", "Choose both dates of the custom range."),
    ("?period=custom&start=2025-03-12&end=2025-03-10", "The end date is before the start date."),
    ("?period=custom&start=yesterday&end=2025-03-10", None),  # Django's "Enter a valid date"
    ("?period=custom&start=2099-01-01&end=2099-01-02", "The start date is in the future."),
    ("?period=custom&start=2020-01-01&end=2025-01-01", "The range can be at most %(days)d days."),
    ("?channel=telegram", None),
    ("?granularity=hour", None),
])
def test_bad_filters_show_the_form_error_never_a_500(tenant, owner_client, query, message):
    from conftest import as_shown

    response = owner_client.get("/overview/" + query)
    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="filters-invalid"' in html and 'class="field-error"' in html
    if message:
        assert as_shown(response, message).replace("%(days)d", "732") in html
    assert 'data-testid="kpi-revenue"' not in html


def test_htmx_gets_the_content_area_only(tenant, owner_client, sales):
    response = owner_client.get("/overview/" + RANGE + "&channel=counter", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = _html(response)
    assert "<html" not in html and html.lstrip().startswith("<div id=\"overview-content\"")
    assert 'data-channel="counter"' in html
    assert _shown_money(response, D("40.00")) in html
    bad = owner_client.get("/overview/?period=custom&start=2025-03-12&end=2025-03-10", HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "<html" not in _html(bad) and 'data-testid="filters-invalid"' in _html(bad)


def test_a_new_store_gets_the_empty_state(tenant, owner_client):
    html = _html(owner_client.get("/overview/"))
    assert 'data-testid="overview-empty"' in html
    assert 'data-testid="conversations"' in html
    assert 'data-testid="kpi-revenue"' not in html


def test_the_tenants_time_zone_is_used(tenant, owner_client, sales):
    tenant.timezone = "Asia/Tokyo"
    tenant.save()
    response = owner_client.get("/overview/?period=custom&start=2025-03-11&end=2025-03-11")
    html = _html(response)
    assert "Asia/Tokyo" in html
    # in Tokyo both orders (02:30 and 03:30 UTC on the 11th) are on the 11th: 60 + 40
    assert _shown_money(response, D("100.00")) in html


def test_alpha_never_sees_betas_sales(tenant, other_tenant, owner_client, sales):
    with schema_context(other_tenant.schema_name):
        pizza = make_product("Pizza só da Beta", price="500.00", cost="100.00")
        make_order(at=local("2025-03-10 20:00"), items=[(pizza, 1)])
    response = owner_client.get("/overview/" + RANGE)
    html = _html(response)
    assert "Pizza só da Beta" not in html
    assert _shown_money(response, D("100.00")) in html
    assert _shown_money(response, D("600.00")) not in html


# --- API -----------------------------------------------------------------------------------------

def _jwt(tenant, email) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(tenant))
    response = client.post("/api/v1/auth/token/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def test_api_gives_the_same_numbers_as_json(tenant, api_client, sales):
    response = api_client.get("/api/v1/analytics/overview" + RANGE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"]["key"] == "custom"
    assert body["period"]["start"] == "2025-03-10T00:00:00-03:00"
    assert body["timezone"] == "America/Sao_Paulo"
    assert body["kpis"]["revenue"] == {"value": "100.00", "previous": "0.00", "change_pct": None, "change_pp": None}
    assert body["kpis"]["orders"]["value"] == 2
    assert body["kpis"]["avg_ticket"]["value"] == "50.00"
    assert body["kpis"]["gross_margin"]["value"] == "50.0"
    assert body["kpis"]["recurring_share"]["value"] == "100.0"
    assert [p["name"] for p in body["top_products_by_revenue"]] == ["Queijo canastra"]
    assert body["top_products_by_revenue"][0]["quantity"] == "5.000"
    assert [r["bucket"] for r in body["revenue_over_time"]] == ["2025-03-10", "2025-03-11"]
    assert len(body["orders_heatmap"]) == 7 and all(len(row) == 24 for row in body["orders_heatmap"])
    assert body["orders_heatmap"][0][23] == 1 and body["orders_heatmap"][1][0] == 1  # Mon 23 h, Tue 0 h
    assert set(body["conversations"]) >= {"open", "waiting_human", "resolved", "resolved_by_ai", "ai_share"}
    counter = api_client.get("/api/v1/analytics/overview" + RANGE + "&channel=counter").json()
    assert counter["channel"] == "counter" and counter["kpis"]["revenue"]["value"] == "40.00"


def test_api_bad_filters_are_400_with_the_errors(tenant, api_client):
    response = api_client.get("/api/v1/analytics/overview?period=custom&start=2025-03-12&end=2025-03-10")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "end" in response.json()["errors"]
    assert api_client.get("/api/v1/analytics/overview?channel=fax").status_code == 400


def test_api_refuses_agents_and_anonymous(tenant):
    make_user(tenant, email="agent@alpha.test", role="agent")
    assert _jwt(tenant, "agent@alpha.test").get("/api/v1/analytics/overview").status_code == 403
    assert APIClient(HTTP_HOST=host_of(tenant)).get("/api/v1/analytics/overview").status_code == 401
    make_user(tenant, email="analyst@alpha.test", role="analyst")
    assert _jwt(tenant, "analyst@alpha.test").get("/api/v1/analytics/overview").status_code == 200


def test_api_alpha_never_reaches_beta(tenant, other_tenant, api_client, sales):
    with schema_context(other_tenant.schema_name):
        pizza = make_product("Pizza só da Beta", price="500.00", cost="100.00")
        make_order(at=local("2025-03-10 20:00"), items=[(pizza, 1)])
    body = api_client.get("/api/v1/analytics/overview" + RANGE).json()
    assert body["kpis"]["revenue"]["value"] == "100.00"
    assert "Pizza só da Beta" not in json.dumps(body)
    # alpha's token on beta's domain is refused
    stolen = APIClient(HTTP_HOST=host_of(other_tenant))
    stolen.credentials(HTTP_AUTHORIZATION=api_client._credentials["HTTP_AUTHORIZATION"])
    assert stolen.get("/api/v1/analytics/overview" + RANGE).status_code == 401
    beta = _jwt(other_tenant, "owner@beta.test").get("/api/v1/analytics/overview" + RANGE).json()
    assert beta["kpis"]["revenue"]["value"] == "500.00"


def test_api_is_in_the_schema(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/analytics/overview" in response.content.decode()
