"""The AI pages as an admin meets them: the assistants list (mode, status, default, active), the
sectioned form and its validation (nothing stored on an error), the tenant's AI settings, each
number's assistant, AI activity with its filters, usage against the plan, and the 403 for staff
without ``assistants.manage``."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.agents.defaults import default_messages
from apps.agents.models import Assistant, Decision, ModelProvider, UsageDaily
from apps.agents.services import assistants as services
from apps.agents.services import providers as provider_services
from apps.inbox.tests.helpers_inbox import make_connection, make_contact, make_conversation
from conftest import as_shown, host_of, make_user
from tests.fakes.openai_server import API_KEY

INDEX = "/ai/"
NEW = "/ai/new/"


def _client(tenant, user) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


def _html(response) -> str:
    return response.content.decode()


def _shows(response, msgid) -> bool:
    return escape(as_shown(response, msgid)) in _html(response)


@pytest.fixture
def roomy_plan(tenant):
    """Alpha's plan without the assistant limit (the Trial plan allows one)."""
    from apps.billing.models import Plan

    Plan.objects.filter(pk=tenant.plan_id).update(max_assistants=None)
    tenant.refresh_from_db()
    return tenant


def _assistant(name="Ana", **fields) -> Assistant:
    with schema_context("alpha"):
        return services.assistant_create(name=name, **fields)


def _form_data(**overrides) -> dict:
    data = {
        "name": "Ana", "description": "Atende a loja", "purpose": "service", "master_prompt": "Seja breve.",
        "tone": "casual", "greeting_message": "", "fallback_message": "", "wait_message": "", "return_message": "",
        "outside_hours_message": "", "confidence_threshold": "0.6", "memory_size": "12", "handoff_team": "",
        "enabled_tools": ["handoff_to_human"], "time_zone": "America/Sao_Paulo", "typing_presence": "on",
        "reply_delay_seconds": "1.5", "provider": "", "is_active": "on",
        "hours_0_open": "08:00", "hours_0_close": "12:00", "hours_0_open2": "14:00", "hours_0_close2": "18:00",
        "hours_5_open": "09:00", "hours_5_close": "13:00",
    }
    data.update(overrides)
    return data


# --- access --------------------------------------------------------------------------------------

PAGES = [INDEX, NEW, "/ai/providers/", "/ai/providers/new/", "/ai/activity/", "/ai/usage/"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_render_for_the_admin(owner_client, url):
    response = owner_client.get(url)
    assert response.status_code == 200, url
    # list pages carry the section tabs; the two forms a back link to their list
    marker = 'data-testid="ai-tabs"' if not url.endswith("new/") else "<form"
    assert marker in _html(response)


def test_staff_without_the_capability_get_403(tenant, tenant_client):
    agent = _client(tenant, make_user(tenant, email="agent@alpha.test", role=Role.AGENT))
    analyst = _client(tenant, make_user(tenant, email="analyst@alpha.test", role=Role.ANALYST))
    assistant = _assistant()
    for client in (agent, analyst):
        for url in PAGES + [f"/ai/{assistant.pk}/", f"/ai/{assistant.pk}/delete/"]:
            assert client.get(url).status_code == 403, url
        assert client.post(f"/ai/{assistant.pk}/", _form_data(name="Hacked")).status_code == 403
        assert client.post(f"/ai/{assistant.pk}/delete/").status_code == 403
        assert client.post("/ai/settings/", {"bot_return_hours": 1, "message_retention_days": 5}).status_code == 403
    assert tenant_client.get(INDEX).status_code == 302  # anonymous -> login
    with schema_context("alpha"):
        assert Assistant.objects.get(pk=assistant.pk).name == "Ana"


def test_supervisor_manages_assistants(tenant):
    supervisor = _client(tenant, make_user(tenant, email="sup@alpha.test", role=Role.SUPERVISOR))
    assert supervisor.get(INDEX).status_code == 200


# --- the list ------------------------------------------------------------------------------------

def test_list_labels_retrieval_only_mode_and_explains_how_to_switch(owner_client):
    _assistant()
    response = owner_client.get(INDEX)
    html = _html(response)
    assert 'data-testid="mode-retrieval"' in html
    assert _shows(response, "Retrieval only — no AI key")
    assert 'data-testid="retrieval-help"' in html
    assert 'href="/ai/providers/new/"' in html  # how to switch: add a key


def test_list_shows_generative_mode_once_a_provider_has_a_key(owner_client):
    _assistant()
    with schema_context("alpha"):
        provider_services.provider_create(name="OpenAI", base_url="https://api.openai.com/v1", model="gpt-4o-mini",
                                          api_key=API_KEY)
    response = owner_client.get(INDEX)
    html = _html(response)
    assert 'data-testid="mode-generative"' in html
    assert 'data-testid="retrieval-help"' not in html
    assert API_KEY not in html


def test_list_shows_the_error_state_with_its_reason(owner_client):
    assistant = _assistant()
    with schema_context("alpha"):
        Assistant.objects.filter(pk=assistant.pk).update(status="error", last_error="Incorrect API key provided")
    html = _html(owner_client.get(INDEX))
    assert 'data-testid="status-error"' in html
    assert "Incorrect API key provided" in html


def test_empty_state(owner_client):
    response = owner_client.get(INDEX)
    assert 'data-testid="assistants-empty"' in _html(response)


# --- the form ------------------------------------------------------------------------------------

def test_create_stores_every_section(owner_client, roomy_plan):
    with schema_context("alpha"):
        from apps.accounts.models import Team
        from apps.knowledge.models import Document

        team = Team.objects.create(name="Vendas")
        doc = Document.objects.create(title="Horários", content="Abrimos às 8h.")
    data = _form_data(handoff_team=str(team.pk), documents=[str(doc.pk)], fallback_message="Vou chamar alguém!")
    response = owner_client.post(NEW, data)
    assert response.status_code == 302, _html(response)
    with schema_context("alpha"):
        assistant = Assistant.objects.get(name="Ana")
        assert assistant.confidence_threshold == 0.6
        assert assistant.memory_size == 12
        assert assistant.handoff_team_id == team.pk
        assert assistant.enabled_tools == ["handoff_to_human"]
        assert list(assistant.documents.values_list("pk", flat=True)) == [doc.pk]
        assert assistant.business_hours == {"0": [["08:00", "12:00"], ["14:00", "18:00"]], "5": [["09:00", "13:00"]]}
        assert assistant.reply_delay_seconds == Decimal("1.5")
        assert assistant.fallback_message == "Vou chamar alguém!"
        assert assistant.greeting_message == ""  # blank = the tone's default
        assert assistant.is_default  # the first assistant becomes the default


@pytest.mark.parametrize("overrides, field_error", [
    ({"confidence_threshold": "1.5"}, "confidence_threshold"),
    ({"confidence_threshold": "-0.1"}, "confidence_threshold"),
    ({"memory_size": "51"}, "memory_size"),
    ({"hours_0_open": "25:00"}, "hours"),
    ({"hours_0_open": "9am"}, "hours"),
    ({"hours_0_open": "18:00", "hours_0_close": "08:00"}, "hours"),
    ({"hours_0_open2": "11:00"}, "hours"),  # the second period overlaps the first
    ({"hours_2_open": "08:00"}, "hours"),  # an opening time without a closing time
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"enabled_tools": ["drop_database"]}, "enabled_tools"),
    ({"name": "   "}, "name"),
])
def test_invalid_values_store_nothing(owner_client, overrides, field_error):
    response = owner_client.post(NEW, _form_data(**overrides))
    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="form-errors"' in html
    if field_error == "hours":
        assert 'data-testid="hours-error"' in html
    else:
        assert f'name="{field_error}"' in html and 'aria-invalid="true"' in html
    with schema_context("alpha"):
        assert not Assistant.objects.exists()


def test_invalid_edit_keeps_the_stored_values(owner_client):
    assistant = _assistant(confidence_threshold=0.4)
    response = owner_client.post(f"/ai/{assistant.pk}/", _form_data(name="Bia", confidence_threshold="1.5"))
    assert response.status_code == 400
    with schema_context("alpha"):
        assistant.refresh_from_db()
        assert (assistant.name, assistant.confidence_threshold) == ("Ana", 0.4)


def test_form_error_messages_are_readable(owner_client):
    response = owner_client.post(NEW, _form_data(hours_0_open="18:00", hours_0_close="08:00",
                                                 time_zone="Mars/Olympus_Mons"))
    html = _html(response)
    assert escape(as_shown(response, "Unknown time zone “%(zone)s”. Use a name like America/Sao_Paulo.")
                  % {"zone": "Mars/Olympus_Mons"}) in html
    assert "18:00" in html and "08:00" in html


def test_blank_messages_show_the_tone_default_as_placeholder(owner_client):
    assistant = _assistant(tone="formal")
    response = owner_client.get(f"/ai/{assistant.pk}/")
    from django.utils import translation

    with translation.override(response.headers.get("Content-Language", "pt-br")):
        formal = default_messages("formal")["fallback_message"]
    assert f'placeholder="{escape(formal)}"' in _html(response)
    assert 'id="tone-defaults"' in _html(response)  # the placeholders follow the tone select


def test_edit_saves_the_fallback_message(owner_client):
    assistant = _assistant()
    with schema_context("alpha"):
        data = _form_data(fallback_message="Um momento, vou chamar a equipe.")
    response = owner_client.post(f"/ai/{assistant.pk}/", data)
    assert response.status_code == 302
    with schema_context("alpha"):
        assistant.refresh_from_db()
        assert assistant.fallback_message == "Um momento, vou chamar a equipe."


def test_edit_page_prefills_two_periods(owner_client):
    assistant = _assistant(business_hours={"2": [["08:00", "12:00"], ["13:30", "17:00"]]})
    html = _html(owner_client.get(f"/ai/{assistant.pk}/"))
    assert 'name="hours_2_open2" value="13:30"' in html
    assert 'name="hours_2_close2" value="17:00"' in html


def test_plan_limit_is_a_clear_form_error(owner_client):
    _assistant()
    # the list says so instead of offering the button
    html = _html(owner_client.get(INDEX))
    assert 'data-testid="assistant-limit"' in html and 'data-testid="new-assistant"' not in html
    response = owner_client.post(NEW, _form_data(name="Bia"))
    assert response.status_code == 400
    from django.utils import translation

    with translation.override(response.headers.get("Content-Language", "pt-br")):
        message = translation.ngettext("Your plan allows %(n)s assistant. Delete it or upgrade the plan to add "
                                       "another.", "Your plan allows %(n)s assistants. Delete one or upgrade the "
                                       "plan to add more.", 1) % {"n": 1}
    assert escape(message) in _html(response)
    with schema_context("alpha"):
        assert Assistant.objects.count() == 1


def test_make_default_toggle_and_delete(owner_client, roomy_plan):
    ana, bia = _assistant("Ana"), _assistant("Bia")
    assert owner_client.post(f"/ai/{bia.pk}/default/").status_code == 302
    with schema_context("alpha"):
        assert list(Assistant.objects.filter(is_default=True).values_list("name", flat=True)) == ["Bia"]
    # the default cannot be switched off: a readable message, nothing changes
    response = owner_client.post(f"/ai/{bia.pk}/active/", {"active": "0"}, follow=True)
    assert _shows(response, "The default assistant cannot be switched off. Make another one the default first.")
    owner_client.post(f"/ai/{ana.pk}/active/", {"active": "0"})
    with schema_context("alpha"):
        assert Assistant.objects.get(pk=bia.pk).is_active
        assert not Assistant.objects.get(pk=ana.pk).is_active
    # delete asks first (GET = the confirmation page), then deletes; the default passes on
    assert 'data-testid="confirm-delete"' in _html(owner_client.get(f"/ai/{bia.pk}/delete/"))
    owner_client.post(f"/ai/{ana.pk}/active/", {"active": "1"})
    assert owner_client.post(f"/ai/{bia.pk}/delete/").status_code == 302
    with schema_context("alpha"):
        assert list(Assistant.objects.values_list("name", "is_default")) == [("Ana", True)]


def test_unknown_assistant_is_404(owner_client):
    assert owner_client.get("/ai/999999/").status_code == 404
    assert owner_client.post("/ai/999999/default/").status_code == 404


# --- tenant settings and numbers -----------------------------------------------------------------

def test_tenant_settings_saved(owner_client, tenant):
    response = owner_client.post("/ai/settings/", {"bot_return_hours": "12", "message_retention_days": "60"})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.bot_return_hours, tenant.message_retention_days) == (12, 60)


@pytest.mark.parametrize("data", [
    {"bot_return_hours": "169", "message_retention_days": "30"},
    {"bot_return_hours": "-1", "message_retention_days": "30"},
    {"bot_return_hours": "24", "message_retention_days": "91"},  # over the Trial plan's 90 days
    {"bot_return_hours": "24", "message_retention_days": "0"},  # "keep everything" exceeds the plan too
    {"bot_return_hours": "x", "message_retention_days": "30"},
])
def test_tenant_settings_invalid_store_nothing(owner_client, tenant, data):
    before = (tenant.bot_return_hours, tenant.message_retention_days)
    response = owner_client.post("/ai/settings/", data)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in _html(response)
    tenant.refresh_from_db()
    assert (tenant.bot_return_hours, tenant.message_retention_days) == before


def test_retention_zero_keeps_everything_without_a_plan_cap(owner_client, tenant):
    from apps.billing.models import Plan

    Plan.objects.filter(pk=tenant.plan_id).update(retention_days=None)
    response = owner_client.post("/ai/settings/", {"bot_return_hours": "0", "message_retention_days": "0"})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.bot_return_hours, tenant.message_retention_days) == (0, 0)


def test_index_shows_the_plan_retention_cap(owner_client):
    response = owner_client.get(INDEX)
    assert escape(as_shown(response, "Older message text and files are deleted; orders and metrics are kept. Your "
                                     "plan keeps messages for up to %(cap)s days.") % {"cap": 90}) in _html(response)


def test_number_gets_its_own_assistant(owner_client):
    assistant = _assistant()
    with schema_context("alpha"):
        conn = make_connection("Loja Centro")
    html = _html(owner_client.get(INDEX))
    assert "Loja Centro" in html
    assert owner_client.post(f"/ai/numbers/{conn.pk}/assistant/", {"assistant": assistant.pk}).status_code == 302
    with schema_context("alpha"):
        conn.refresh_from_db()
        assert conn.default_assistant_id == assistant.pk
    owner_client.post(f"/ai/numbers/{conn.pk}/assistant/", {"assistant": ""})
    with schema_context("alpha"):
        conn.refresh_from_db()
        assert conn.default_assistant_id is None
    # an id that is not one of this company's assistants changes nothing
    owner_client.post(f"/ai/numbers/{conn.pk}/assistant/", {"assistant": "999999"})
    with schema_context("alpha"):
        conn.refresh_from_db()
        assert conn.default_assistant_id is None


# --- activity --------------------------------------------------------------------------------------

def _decision(conversation, **fields) -> Decision:
    defaults = {"action": "answered", "confidence": 0.82, "model": "gpt-4o-mini", "prompt_tokens": 120,
                "completion_tokens": 30, "cost": Decimal("0.000036"), "latency_ms": 640,
                "input_text": "Vocês entregam?",
                "reply_text": "Entregamos no centro.",
                "chunks": [{"chunk_id": 1, "document_id": 1, "title": "Entregas", "score": 0.82, "fts_rank": 0.4,
                            "vector_score": None, "text": "Entregamos no centro e na zona sul."}],
                "tool_calls": [{"name": "save_contact_data", "arguments": {"city": "Recife"}, "ok": True,
                                "result": {"saved": ["city"]}},
                               {"name": "delete_everything", "arguments": "{}", "ok": False,
                                "error": "unknown tool"}]}
    defaults.update(fields)
    return Decision.objects.create(conversation=conversation, **defaults)


def test_activity_lists_and_filters_decisions(owner_client):
    with schema_context("alpha"):
        assistant = services.assistant_create(name="Ana")
        maria = make_conversation(contact=make_contact("Maria Souza"))
        joao = make_conversation(contact=make_contact("João Lima"))
        answered = _decision(maria, assistant=assistant)
        handed = _decision(joao, action="handed_off", confidence=0.1, reason="low_confidence")
        old = _decision(joao, action="error", error="timeout")
        Decision.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    html = _html(owner_client.get("/ai/activity/"))
    for d in (answered, handed, old):
        assert f'data-decision="{d.pk}"' in html
    html = _html(owner_client.get("/ai/activity/?action=handed_off"))
    assert f'data-decision="{handed.pk}"' in html and f'data-decision="{answered.pk}"' not in html
    html = _html(owner_client.get(f"/ai/activity/?assistant={assistant.pk}"))
    assert f'data-decision="{answered.pk}"' in html and f'data-decision="{handed.pk}"' not in html
    html = _html(owner_client.get("/ai/activity/?q=jo%C3%A3o"))
    assert f'data-decision="{handed.pk}"' in html and f'data-decision="{answered.pk}"' not in html
    html = _html(owner_client.get(f"/ai/activity/?conversation={maria.pk}"))
    assert f'data-decision="{answered.pk}"' in html and f'data-decision="{handed.pk}"' not in html
    since = (date.today() - timedelta(days=7)).isoformat()
    html = _html(owner_client.get(f"/ai/activity/?date_from={since}"))
    assert f'data-decision="{old.pk}"' not in html and f'data-decision="{answered.pk}"' in html
    # htmx asks for the results only
    response = owner_client.get("/ai/activity/?action=error", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="activity-results")
    assert f'data-decision="{old.pk}"' in _html(response) and "<html" not in _html(response)


def test_activity_bad_filters_are_not_a_500(owner_client):
    response = owner_client.get("/ai/activity/?date_from=yesterday&date_to=2020-13-45&assistant=abc&page=-3"
                                "&action=nope&conversation=x")
    assert response.status_code == 200
    response = owner_client.get("/ai/activity/?date_from=2025-05-10&date_to=2025-05-01")
    assert response.status_code == 200
    assert _shows(response, "The end date is before the start date.")


def test_activity_paginates(owner_client):
    with schema_context("alpha"):
        conversation = make_conversation()
        Decision.objects.bulk_create([Decision(conversation=conversation, action="answered") for _ in range(30)])
    first = _html(owner_client.get("/ai/activity/"))
    second = _html(owner_client.get("/ai/activity/?page=2"))
    assert first.count('data-decision="') == 25
    assert second.count('data-decision="') == 5
    assert 'data-testid="next-page"' in first


def test_activity_isolation(owner_client, other_tenant):
    with schema_context(other_tenant.schema_name):
        theirs = _decision(make_conversation(contact=make_contact("Cliente Beta Secreto")))
    html = _html(owner_client.get("/ai/activity/"))
    assert "Cliente Beta Secreto" not in html
    response = owner_client.get(f"/ai/activity/{theirs.pk}/")
    assert response.status_code == 404 or "Cliente Beta Secreto" not in _html(response)


# --- usage -------------------------------------------------------------------------------------------

def test_usage_against_the_plan(owner_client, tenant):
    today = services.tenant_today(tenant)
    with schema_context("alpha"):
        UsageDaily.objects.create(date=today, turns=40, prompt_tokens=9000, completion_tokens=1000,
                                  cost=Decimal("0.012"), handoffs=4)
        UsageDaily.objects.create(date=today - timedelta(days=40), turns=999)  # an older month: not counted
    response = owner_client.get("/ai/usage/")
    html = _html(response)
    assert 'aria-valuenow="40"' in html and 'aria-valuemax="500"' in html  # Trial: 500 turns a month
    assert ">10000<" in html  # tokens this month
    assert "US$ 0.0120" in html or "US$ 0,0120" in html
    assert html.count("<tr") == 31  # header + 30 days


def test_usage_unlimited_plan(owner_client, tenant):
    from apps.billing.models import Plan

    Plan.objects.filter(pk=tenant.plan_id).update(ai_turns_per_month=None)
    response = owner_client.get("/ai/usage/")
    assert _shows(response, "unlimited")
    assert 'role="progressbar"' not in _html(response)


def test_usage_isolation(owner_client, other_tenant, tenant):
    with schema_context(other_tenant.schema_name):
        UsageDaily.objects.create(date=services.tenant_today(tenant), turns=321)
    assert 'aria-valuenow="0"' in _html(owner_client.get("/ai/usage/"))


def test_model_provider_rows_are_per_tenant(owner_client, other_tenant):
    with schema_context(other_tenant.schema_name):
        ModelProvider.objects.create(name="Beta Groq", api_key="gsk-beta-secret-key-000")
    html = _html(owner_client.get("/ai/providers/"))
    assert "Beta Groq" not in html and "gsk-beta" not in html
