"""The AI API: assistants CRUD (validation -> 400 per field, nothing stored), providers with a
write-only key, decisions (filters; only conversations the user may see), usage; another
company's rows are never reachable by id."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from apps.agents.models import Assistant, Decision, ModelProvider, UsageDaily
from apps.agents.services import assistants as services
from apps.agents.services import providers as provider_services
from apps.inbox.tests.helpers_inbox import make_contact, make_conversation
from conftest import PASSWORD, host_of, make_user
from tests.fakes.openai_server import API_KEY, FakeOpenAI, reply

BASE = "/api/v1/ai"


def _jwt_client(tenant, user) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(tenant))
    response = client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def roomy_plan(tenant):
    from apps.billing.models import Plan

    Plan.objects.filter(pk=tenant.plan_id).update(max_assistants=None)


# --- assistants ----------------------------------------------------------------------------------

def test_assistant_crud(api_client, roomy_plan):
    response = api_client.post(f"{BASE}/assistants/", {
        "name": "Ana", "purpose": "sales", "tone": "formal", "confidence_threshold": 0.7, "memory_size": 20,
        "business_hours": {"0": [["08:00", "18:00"]], "6": []}, "time_zone": "America/Recife",
        "enabled_tools": ["handoff_to_human", "business_hours"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mode"] == "retrieval" and body["provider_info"] is None
    assert body["business_hours"] == {"0": [["08:00", "18:00"]]}
    assert body["enabled_tools"] == ["business_hours", "handoff_to_human"]
    assert body["is_default"] is True
    pk = body["id"]
    response = api_client.patch(f"{BASE}/assistants/{pk}/", {"fallback_message": "Já chamo alguém."}, format="json")
    assert response.status_code == 200 and response.json()["fallback_message"] == "Já chamo alguém."
    assert response.json()["confidence_threshold"] == 0.7  # untouched fields stay
    listed = api_client.get(f"{BASE}/assistants/").json()
    assert [a["name"] for a in listed] == ["Ana"]
    assert api_client.delete(f"{BASE}/assistants/{pk}/").status_code == 204
    with schema_context("alpha"):
        assert not Assistant.objects.exists()


@pytest.mark.parametrize("payload, field", [
    ({"name": "Ana", "confidence_threshold": 1.5}, "confidence_threshold"),
    ({"name": "Ana", "memory_size": 0}, "memory_size"),
    ({"name": "Ana", "business_hours": {"0": [["18:00", "08:00"]]}}, "business_hours"),
    ({"name": "Ana", "business_hours": {"8": [["08:00", "18:00"]]}}, "business_hours"),
    ({"name": "Ana", "business_hours": {"0": [["8h", "18:00"]]}}, "business_hours"),
    ({"name": "Ana", "business_hours": "always"}, "business_hours"),
    ({"name": "Ana", "time_zone": "Nowhere/City"}, "time_zone"),
    ({"name": "Ana", "enabled_tools": ["rm_rf"]}, "enabled_tools"),
    ({"name": "Ana", "purpose": "world_domination"}, "purpose"),
    ({"name": "Ana", "documents": [999999]}, "documents"),
    ({}, "name"),
])
def test_assistant_validation_is_400_and_stores_nothing(api_client, payload, field):
    response = api_client.post(f"{BASE}/assistants/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    with schema_context("alpha"):
        assert not Assistant.objects.exists()


def test_assistant_update_validation_keeps_the_row(api_client):
    with schema_context("alpha"):
        assistant = services.assistant_create(name="Ana")
    response = api_client.patch(f"{BASE}/assistants/{assistant.pk}/", {"name": "Bia", "confidence_threshold": 2},
                                format="json")
    assert response.status_code == 400
    with schema_context("alpha"):
        assistant.refresh_from_db()
        assert (assistant.name, assistant.confidence_threshold) == ("Ana", 0.5)


def test_plan_limit_is_400(api_client):
    assert api_client.post(f"{BASE}/assistants/", {"name": "Ana"}, format="json").status_code == 201
    response = api_client.post(f"{BASE}/assistants/", {"name": "Bia"}, format="json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_make_default_through_the_api(api_client, roomy_plan):
    with schema_context("alpha"):
        services.assistant_create(name="Ana")
        bia = services.assistant_create(name="Bia")
    response = api_client.patch(f"{BASE}/assistants/{bia.pk}/", {"is_default": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_default"] is True
    with schema_context("alpha"):
        assert list(Assistant.objects.filter(is_default=True).values_list("name", flat=True)) == ["Bia"]


def test_assistant_mode_and_provider_never_show_the_key(api_client):
    with schema_context("alpha"):
        services.assistant_create(name="Ana")
        provider_services.provider_create(name="OpenAI", api_key=API_KEY)
    response = api_client.get(f"{BASE}/assistants/")
    [assistant] = response.json()
    assert assistant["mode"] == "generative"
    assert assistant["provider_info"]["has_key"] is True
    assert assistant["provider_info"]["key_masked"].endswith(API_KEY[-4:])
    assert API_KEY not in response.content.decode()


def test_agents_cannot_use_the_assistants_api(tenant):
    agent = make_user(tenant, email="agent@alpha.test", role=Role.AGENT)
    client = _jwt_client(tenant, agent)
    assert client.get(f"{BASE}/assistants/").status_code == 403
    assert client.post(f"{BASE}/assistants/", {"name": "X"}, format="json").status_code == 403
    assert client.get(f"{BASE}/providers/").status_code == 403
    assert client.get(f"{BASE}/usage/").status_code == 403
    assert APIClient(HTTP_HOST=host_of(tenant)).get(f"{BASE}/assistants/").status_code == 401


def test_assistants_isolation(api_client, other_tenant):
    with schema_context(other_tenant.schema_name):
        theirs = Assistant.objects.create(name="Assistente Secreto da Beta")
        provider = ModelProvider.objects.create(name="Beta OpenAI", api_key="sk-beta-only-0000000000")
    listed = api_client.get(f"{BASE}/assistants/").content.decode()
    assert "Assistente Secreto da Beta" not in listed
    response = api_client.get(f"{BASE}/assistants/{theirs.pk}/")
    assert response.status_code == 404 or response.json()["name"] != "Assistente Secreto da Beta"
    assert api_client.delete(f"{BASE}/assistants/{theirs.pk}/").status_code in (404, 204)
    with schema_context(other_tenant.schema_name):
        assert Assistant.objects.filter(pk=theirs.pk).exists()
    providers = api_client.get(f"{BASE}/providers/").content.decode()
    assert "Beta OpenAI" not in providers and "sk-beta" not in providers
    response = api_client.get(f"{BASE}/providers/{provider.pk}/")
    assert response.status_code == 404 or response.json()["name"] != "Beta OpenAI"


# --- providers -----------------------------------------------------------------------------------

def test_provider_key_is_write_only(api_client):
    response = api_client.post(f"{BASE}/providers/", {"name": "Groq", "base_url": "https://api.groq.com/openai/v1",
                                                      "model": "llama-3.1-8b-instant", "api_key": API_KEY},
                               format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "api_key" not in body and API_KEY not in response.content.decode()
    assert body["has_key"] is True and body["key_masked"].endswith(API_KEY[-4:])
    pk = body["id"]
    # omitted key: kept; remove_key: cleared
    assert api_client.patch(f"{BASE}/providers/{pk}/", {"model": "llama-3.3-70b"}, format="json").json()["has_key"]
    response = api_client.patch(f"{BASE}/providers/{pk}/", {"remove_key": True}, format="json")
    assert response.json()["has_key"] is False
    with schema_context("alpha"):
        assert ModelProvider.objects.get(pk=pk).api_key == ""


@pytest.mark.parametrize("payload", [
    {"name": "X", "temperature": "3"}, {"name": "X", "base_url": "file:///etc/passwd"}, {"name": "X", "max_tokens": 0},
    {"name": ""},
])
def test_provider_validation_is_400(api_client, payload):
    response = api_client.post(f"{BASE}/providers/", payload, format="json")
    assert response.status_code == 400, response.content
    with schema_context("alpha"):
        assert not ModelProvider.objects.exists()


def test_provider_test_endpoint(api_client):
    with FakeOpenAI() as fake:
        with schema_context("alpha"):
            provider = provider_services.provider_create(name="Fake", base_url=fake.base_url, api_key=API_KEY)
        fake.script(reply("OK"))
        body = api_client.post(f"{BASE}/providers/{provider.pk}/test/").json()
        assert body["ok"] is True and body["answer"] == "OK"
        with schema_context("alpha"):
            ModelProvider.objects.filter(pk=provider.pk).update(api_key="sk-wrong-000000000000000")
        response = api_client.post(f"{BASE}/providers/{provider.pk}/test/")
        assert response.json()["ok"] is False
        assert "Incorrect API key provided" in response.json()["message"]
        assert "sk-wrong-000000000000000" not in response.content.decode()


# --- decisions -----------------------------------------------------------------------------------

def _decision(conversation, **fields):
    return Decision.objects.create(conversation=conversation, **{"action": "answered", "confidence": 0.9, **fields})


def test_decisions_list_filters_and_detail(api_client):
    with schema_context("alpha"):
        maria = make_conversation(contact=make_contact("Maria Souza"))
        joao = make_conversation(contact=make_contact("João Lima"))
        answered = _decision(maria, prompt_tokens=10, completion_tokens=5, cost=Decimal("0.00001"))
        handed = _decision(joao, action="handed_off", confidence=0.1)
    body = api_client.get(f"{BASE}/decisions/").json()
    assert [d["id"] for d in body["results"]] == [handed.pk, answered.pk]
    assert body["results"][1]["contact"]["name"] == "Maria Souza"
    body = api_client.get(f"{BASE}/decisions/?action=handed_off").json()
    assert [d["id"] for d in body["results"]] == [handed.pk]
    body = api_client.get(f"{BASE}/decisions/?q=maria").json()
    assert [d["id"] for d in body["results"]] == [answered.pk]
    detail = api_client.get(f"{BASE}/decisions/{answered.pk}/").json()
    assert detail["prompt_tokens"] == 10 and detail["conversation"] == maria.pk


@pytest.mark.parametrize("query", ["date_from=yesterday", "action=nope", "date_from=2025-05-10&date_to=2025-05-01",
                                   "assistant=abc"])
def test_decisions_bad_filters_are_400(api_client, query):
    assert api_client.get(f"{BASE}/decisions/?{query}").status_code == 400


def test_decisions_follow_the_inbox_visibility(tenant):
    agent = make_user(tenant, email="agent@alpha.test", role=Role.AGENT)
    other = make_user(tenant, email="other@alpha.test", role=Role.AGENT)
    with schema_context("alpha"):
        mine = _decision(make_conversation(assignee=agent))
        hidden = _decision(make_conversation(assignee=other))
    client = _jwt_client(tenant, agent)
    ids = [d["id"] for d in client.get(f"{BASE}/decisions/").json()["results"]]
    assert mine.pk in ids and hidden.pk not in ids
    assert client.get(f"{BASE}/decisions/{hidden.pk}/").status_code == 404
    assert client.get(f"{BASE}/decisions/{mine.pk}/").status_code == 200
    analyst = _jwt_client(tenant, make_user(tenant, email="analyst@alpha.test", role=Role.ANALYST))
    assert analyst.get(f"{BASE}/decisions/").status_code == 403


def test_decisions_isolation(api_client, other_tenant):
    with schema_context(other_tenant.schema_name):
        theirs = _decision(make_conversation(contact=make_contact("Beta Secreta")), input_text="segredo da beta")
    assert "segredo da beta" not in api_client.get(f"{BASE}/decisions/").content.decode()
    response = api_client.get(f"{BASE}/decisions/{theirs.pk}/")
    assert response.status_code == 404 or "segredo da beta" not in response.content.decode()
    assert api_client.get(f"{BASE}/decisions/abc/").status_code == 404


# --- usage ---------------------------------------------------------------------------------------

def test_usage(api_client, tenant):
    today = services.tenant_today(tenant)
    with schema_context("alpha"):
        UsageDaily.objects.create(date=today, turns=7, prompt_tokens=700, completion_tokens=70,
                                  cost=Decimal("0.0021"), handoffs=2)
        UsageDaily.objects.create(date=today - timedelta(days=1), turns=3)
    body = api_client.get(f"{BASE}/usage/").json()
    month = body["month"]
    expected_turns = 10 if (today - timedelta(days=1)).month == today.month else 7
    assert month["turns"] == expected_turns and month["limit"] == 500
    assert month["remaining"] == 500 - expected_turns
    assert month["handoffs"] == 2 and Decimal(month["cost"]) == Decimal("0.0021")
    assert len(body["days"]) == 30
    assert body["days"][0]["date"] == today.isoformat() and body["days"][0]["turns"] == 7
    assert body["days"][2]["turns"] == 0  # a day without usage is a zero row


def test_usage_isolation(api_client, other_tenant, tenant):
    with schema_context(other_tenant.schema_name):
        UsageDaily.objects.create(date=services.tenant_today(tenant), turns=99)
    assert api_client.get(f"{BASE}/usage/").json()["month"]["turns"] == 0
